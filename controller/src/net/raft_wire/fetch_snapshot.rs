//! FetchSnapshot (KIP-630): a follower or observer sent to a snapshot by a Fetch answer
//! downloads it in chunks from a byte position. Sent at v0, served at v0-1.

use bytes::Bytes;
use kafka_protocol::messages::fetch_snapshot_request::{
    FetchSnapshotRequest, PartitionSnapshot, SnapshotId as WireSnapshotId, TopicSnapshot,
};
use kafka_protocol::messages::fetch_snapshot_response::{self, FetchSnapshotResponse};
use kafka_protocol::messages::ApiKey;

use super::{
    cluster, code_of, leader_option, malformed, not_a, only_partition, size_i32, topic_name,
    InboundRaftRequest, SentRequest,
};
use crate::net::wire::{self, WireError};
use crate::raft::{Epoch, Message, NodeId, Offset, SnapshotId};

/// The version this node sends.
pub const VERSION: i16 = 0;
/// The versions this node serves.
pub const VERSIONS_SERVED: (i16, i16) = (0, 1);

pub(super) fn encode_request(
    message: &Message,
    cluster_id: &str,
    correlation_id: i32,
    client_id: &str,
) -> Result<(SentRequest, Bytes), WireError> {
    let Message::FetchSnapshotRequest {
        replica_id,
        current_leader_epoch,
        snapshot_id,
        position,
        max_bytes,
    } = message
    else {
        return Err(not_a(message, "FetchSnapshotRequest"));
    };
    let p = PartitionSnapshot::default()
        .with_partition(0)
        .with_current_leader_epoch(current_leader_epoch.get())
        .with_snapshot_id(
            WireSnapshotId::default()
                .with_end_offset(snapshot_id.end_offset.into())
                .with_epoch(snapshot_id.epoch.into()),
        )
        .with_position(*position as i64);
    let r = FetchSnapshotRequest::default()
        .with_cluster_id(cluster(cluster_id))
        .with_replica_id((*replica_id).into())
        .with_max_bytes(size_i32(*max_bytes))
        .with_topics(vec![TopicSnapshot::default()
            .with_name(topic_name())
            .with_partitions(vec![p])]);
    let api = ApiKey::FetchSnapshot;
    let sent = SentRequest {
        snapshot_id: Some(*snapshot_id),
        ..SentRequest::new(api, VERSION)
    };
    Ok((
        sent,
        wire::encode_request(api, VERSION, correlation_id, client_id, &r)?,
    ))
}

pub(super) fn decode_response(sent: SentRequest, frame: Bytes) -> Result<Message, WireError> {
    const WHAT: &str = "FetchSnapshotResponse";
    let r: FetchSnapshotResponse = wire::decode_response(WHAT, frame, sent.version)?;
    if r.error_code != 0 {
        return Err(WireError::ErrorAnswer {
            what: WHAT.into(),
            code: r.error_code,
        });
    }
    let p = only_partition(WHAT, r.topics, |t| (t.name.0.to_string(), t.partitions))?;
    if p.size < 0 || p.position < 0 {
        return Err(malformed(WHAT, "negative size or position"));
    }
    let answered = SnapshotId {
        end_offset: Offset(p.snapshot_id.end_offset),
        epoch: Epoch(p.snapshot_id.epoch),
    };
    Ok(Message::FetchSnapshotResponse {
        error: code_of(p.error_code, WHAT)?,
        leader_epoch: Epoch(p.current_leader.leader_epoch),
        leader_id: leader_option(p.current_leader.leader_id.0),
        // An error answer need not echo the snapshot: it is about the one asked for.
        snapshot_id: if p.error_code == 0 {
            answered
        } else {
            sent.snapshot_id.unwrap_or(answered)
        },
        size: p.size as u64,
        position: p.position as u64,
        bytes: p.unaligned_records,
    })
}

pub(super) fn decode_request(
    version: i16,
    body: &mut Bytes,
) -> Result<InboundRaftRequest, WireError> {
    const WHAT: &str = "FetchSnapshotRequest";
    let r: FetchSnapshotRequest = wire::decode_body(WHAT, body, version)?;
    let p = only_partition(WHAT, r.topics, |t| (t.name.0.to_string(), t.partitions))?;
    if p.position < 0 || r.max_bytes < 0 {
        return Err(malformed(WHAT, "negative position or size"));
    }
    Ok(InboundRaftRequest {
        from: NodeId::from(r.replica_id),
        cluster_id: r.cluster_id.map(|s| s.to_string()),
        message: Message::FetchSnapshotRequest {
            replica_id: NodeId::from(r.replica_id),
            current_leader_epoch: Epoch(p.current_leader_epoch),
            snapshot_id: SnapshotId {
                end_offset: Offset(p.snapshot_id.end_offset),
                epoch: Epoch(p.snapshot_id.epoch),
            },
            position: p.position as u64,
            max_bytes: r.max_bytes as usize,
        },
    })
}

pub(super) fn encode_response(
    version: i16,
    correlation_id: i32,
    message: &Message,
) -> Result<Bytes, WireError> {
    let Message::FetchSnapshotResponse {
        error,
        leader_epoch,
        leader_id,
        snapshot_id,
        size,
        position,
        bytes,
    } = message
    else {
        return Err(not_a(message, "FetchSnapshotResponse"));
    };
    let p = fetch_snapshot_response::PartitionSnapshot::default()
        .with_index(0)
        .with_error_code(super::error_code(*error))
        .with_snapshot_id(
            fetch_snapshot_response::SnapshotId::default()
                .with_end_offset(snapshot_id.end_offset.into())
                .with_epoch(snapshot_id.epoch.into()),
        )
        .with_current_leader(
            fetch_snapshot_response::LeaderIdAndEpoch::default()
                .with_leader_id(leader_id.unwrap_or(NodeId::NONE).into())
                .with_leader_epoch(leader_epoch.get()),
        )
        .with_size(*size as i64)
        .with_position(*position as i64)
        .with_unaligned_records(bytes.clone());
    let r = FetchSnapshotResponse::default().with_topics(vec![
        fetch_snapshot_response::TopicSnapshot::default()
            .with_name(topic_name())
            .with_partitions(vec![p]),
    ]);
    wire::encode_response("FetchSnapshotResponse", correlation_id, version, &r)
}

pub(super) fn error_response(
    version: i16,
    correlation_id: i32,
    code: i16,
) -> Result<Bytes, WireError> {
    let r = FetchSnapshotResponse::default().with_error_code(code);
    wire::encode_response("FetchSnapshotResponse", correlation_id, version, &r)
}
