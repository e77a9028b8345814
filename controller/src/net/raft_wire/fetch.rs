//! Fetch of `__cluster_metadata-0` (KIP-595 pull replication): a follower or observer asks for
//! records from an offset, naming the epoch of the last one it holds; the answer carries
//! records, a diverging epoch to truncate to, or the snapshot to load. Sent at v13, served at
//! v12-17 (v12 is the first with `LastFetchedEpoch`; from v13 the topic is named by id; from
//! v15 the replica id moves into `ReplicaState`).
//!
//! Records travel as RecordBatch v2 bytes. Received batches are CRC-checked before the core
//! sees them; a bad batch makes the whole response malformed (the core retries the fetch).

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchRequest, FetchTopic};
use kafka_protocol::messages::fetch_response::{
    EpochEndOffset as WireEpochEndOffset, FetchResponse, FetchableTopicResponse, LeaderIdAndEpoch,
    PartitionData, SnapshotId as WireSnapshotId,
};
use kafka_protocol::messages::ApiKey;
use metaquorum_log::batch::{encode_batch, BatchIter, BatchSpec};
use metaquorum_log::clock::wall_clock_ms;

use super::{
    cluster, code_of, leader_option, malformed, not_a, only_partition, size_i32, topic_name,
    InboundRaftRequest, SentRequest, METADATA_TOPIC, METADATA_TOPIC_ID,
};
use crate::net::wire::{self, WireError};
use crate::raft::segmented::decode_batch;
use crate::raft::{Batch, Epoch, EpochEndOffset, Message, NodeId, Offset, SnapshotId};

/// The version this node sends.
pub const VERSION: i16 = 13;
/// The versions this node serves: from the first with `LastFetchedEpoch`.
pub const VERSIONS_SERVED: (i16, i16) = (12, 17);
/// How long the leader may park a fetch that finds nothing new (`MaxWaitMs`).
const MAX_WAIT_MS: i32 = 500;
/// Largest batch accepted from a peer (Kafka's `MAX_BATCH_SIZE_BYTES`).
pub const BATCH_BYTES_MAX: usize = 8 * 1024 * 1024;

/// Encodes batches as concatenated RecordBatch v2; a batch not yet stamped gets `timestamp_ms`.
pub fn encode_batches(batches: &[Batch], timestamp_ms: i64) -> Result<Bytes, WireError> {
    let mut out = BytesMut::new();
    for b in batches {
        let spec = BatchSpec {
            base_offset: b.base_offset,
            epoch: b.epoch,
            timestamp_ms: b.timestamp_or(timestamp_ms),
            control: b.control,
        };
        encode_batch(&mut out, spec, &b.records).map_err(|e| WireError::Encode {
            what: "record batch".into(),
            reason: e.to_string(),
        })?;
    }
    Ok(out.freeze())
}

/// Decodes concatenated batches, checking every CRC; any damage rejects the whole set.
pub fn decode_batches(bytes: &[u8]) -> Result<Vec<Batch>, WireError> {
    let mut iter = BatchIter::new(bytes, BATCH_BYTES_MAX, true);
    let mut out = Vec::new();
    for (_, _, b) in iter.by_ref() {
        out.push(decode_batch(b).map_err(|e| malformed("record batch", e.to_string()))?);
    }
    if let Some(stop) = iter.stop() {
        if let Some(e) = &stop.error {
            return Err(malformed(
                "record batch",
                format!("at byte {}: {e}", stop.position),
            ));
        }
    }
    Ok(out)
}

pub(super) fn encode_request(
    message: &Message,
    cluster_id: &str,
    correlation_id: i32,
    client_id: &str,
) -> Result<(SentRequest, Bytes), WireError> {
    let Message::FetchRequest {
        replica_id,
        current_leader_epoch,
        fetch_offset,
        last_fetched_epoch,
        max_bytes,
    } = message
    else {
        return Err(not_a(message, "FetchRequest"));
    };
    let p = FetchPartition::default()
        .with_partition(0)
        .with_current_leader_epoch(current_leader_epoch.get())
        .with_fetch_offset(fetch_offset.get())
        .with_last_fetched_epoch(last_fetched_epoch.get())
        .with_log_start_offset(-1)
        .with_partition_max_bytes(size_i32(*max_bytes));
    let r = FetchRequest::default()
        .with_cluster_id(cluster(cluster_id))
        .with_replica_id((*replica_id).into())
        .with_max_wait_ms(MAX_WAIT_MS)
        .with_min_bytes(0)
        .with_max_bytes(size_i32(*max_bytes))
        .with_topics(vec![FetchTopic::default()
            .with_topic_id(METADATA_TOPIC_ID)
            .with_partitions(vec![p])]);
    Ok((
        SentRequest::new(ApiKey::Fetch, VERSION),
        wire::encode_request(ApiKey::Fetch, VERSION, correlation_id, client_id, &r)?,
    ))
}

pub(super) fn decode_response(sent: SentRequest, frame: Bytes) -> Result<Message, WireError> {
    const WHAT: &str = "FetchResponse";
    let r: FetchResponse = wire::decode_response(WHAT, frame, sent.version)?;
    if r.error_code != 0 {
        return Err(WireError::ErrorAnswer {
            what: WHAT.into(),
            code: r.error_code,
        });
    }
    let p = only_partition(WHAT, r.responses, |t| (t.topic.0.to_string(), t.partitions))?;
    let records = match &p.records {
        Some(b) if !b.is_empty() => decode_batches(b)?,
        _ => Vec::new(),
    };
    let diverging = (p.diverging_epoch.epoch >= 0).then_some(EpochEndOffset {
        epoch: Epoch(p.diverging_epoch.epoch),
        end_offset: Offset(p.diverging_epoch.end_offset),
    });
    let snapshot =
        (p.snapshot_id.epoch >= 0 && p.snapshot_id.end_offset >= 0).then_some(SnapshotId {
            end_offset: Offset(p.snapshot_id.end_offset),
            epoch: Epoch(p.snapshot_id.epoch),
        });
    Ok(Message::FetchResponse {
        error: code_of(p.error_code, WHAT)?,
        leader_epoch: Epoch(p.current_leader.leader_epoch),
        leader_id: leader_option(p.current_leader.leader_id.0),
        high_watermark: Offset(p.high_watermark),
        log_start_offset: Offset(p.log_start_offset),
        records,
        diverging_epoch: diverging,
        snapshot_id: snapshot,
    })
}

pub(super) fn decode_request(
    version: i16,
    body: &mut Bytes,
) -> Result<InboundRaftRequest, WireError> {
    const WHAT: &str = "FetchRequest";
    let r: FetchRequest = wire::decode_body(WHAT, body, version)?;
    let replica_id = if version >= 15 {
        r.replica_state.replica_id.0
    } else {
        r.replica_id.0
    };
    let p = only_partition(WHAT, r.topics, |t| {
        let name = if version < 13 {
            t.topic.0.to_string()
        } else if t.topic_id == METADATA_TOPIC_ID {
            METADATA_TOPIC.to_string()
        } else {
            format!("topic id {}", t.topic_id)
        };
        (name, t.partitions)
    })?;
    if p.fetch_offset < 0 || p.partition_max_bytes < 0 {
        return Err(malformed(WHAT, "negative offset or size"));
    }
    Ok(InboundRaftRequest {
        from: NodeId(replica_id),
        cluster_id: r.cluster_id.map(|s| s.to_string()),
        message: Message::FetchRequest {
            replica_id: NodeId(replica_id),
            current_leader_epoch: Epoch(p.current_leader_epoch),
            fetch_offset: Offset(p.fetch_offset),
            last_fetched_epoch: Epoch(p.last_fetched_epoch),
            max_bytes: p.partition_max_bytes as usize,
        },
    })
}

pub(super) fn encode_response(
    version: i16,
    correlation_id: i32,
    message: &Message,
) -> Result<Bytes, WireError> {
    let Message::FetchResponse {
        error,
        leader_epoch,
        leader_id,
        high_watermark,
        log_start_offset,
        records,
        diverging_epoch,
        snapshot_id,
    } = message
    else {
        return Err(not_a(message, "FetchResponse"));
    };
    let mut p = PartitionData::default()
        .with_partition_index(0)
        .with_error_code(super::error_code(*error))
        .with_high_watermark(high_watermark.get())
        .with_last_stable_offset(high_watermark.get())
        .with_log_start_offset(log_start_offset.get())
        .with_current_leader(
            LeaderIdAndEpoch::default()
                .with_leader_id(leader_id.unwrap_or(NodeId::NONE).into())
                .with_leader_epoch(leader_epoch.get()),
        )
        .with_records(Some(encode_batches(records, wall_clock_ms())?));
    if let Some(d) = diverging_epoch {
        p = p.with_diverging_epoch(
            WireEpochEndOffset::default()
                .with_epoch(d.epoch.into())
                .with_end_offset(d.end_offset.into()),
        );
    }
    if let Some(s) = snapshot_id {
        p = p.with_snapshot_id(
            WireSnapshotId::default()
                .with_end_offset(s.end_offset.into())
                .with_epoch(s.epoch.into()),
        );
    }
    let t = FetchableTopicResponse::default()
        .with_topic(topic_name())
        .with_topic_id(METADATA_TOPIC_ID)
        .with_partitions(vec![p]);
    let r = FetchResponse::default().with_responses(vec![t]);
    wire::encode_response("FetchResponse", correlation_id, version, &r)
}

pub(super) fn error_response(
    version: i16,
    correlation_id: i32,
    code: i16,
) -> Result<Bytes, WireError> {
    let r = FetchResponse::default().with_error_code(code);
    wire::encode_response("FetchResponse", correlation_id, version, &r)
}
