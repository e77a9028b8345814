//! The KRaft RPCs on the wire: the core's [`Message`]s to and from Kafka's `Vote` (v0-2, v2 with
//! `PreVote`), `BeginQuorumEpoch`, `EndQuorumEpoch`, `Fetch` (v12-17 served, v13 sent) and
//! `FetchSnapshot` schemas, for the one partition `__cluster_metadata-0`.
//!
//! Records travel as RecordBatch v2 bytes. Received batches are CRC-checked before the core sees
//! them; a bad batch makes the whole response malformed (the core retries the fetch).

use bytes::{Bytes, BytesMut};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{
    begin_quorum_epoch_request as bqe_req, begin_quorum_epoch_response as bqe_resp,
    end_quorum_epoch_request as eqe_req, end_quorum_epoch_response as eqe_resp,
    fetch_request as fetch_req, fetch_response as fetch_resp, fetch_snapshot_request as snap_req,
    fetch_snapshot_response as snap_resp, vote_request as vote_req, vote_response as vote_resp,
    ApiKey, BrokerId, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use metaquorum_log::batch::{encode_batch, BatchIter, BatchSpec};
use metaquorum_log::clock::wall_clock_ms;

use super::wire::{decode_body, decode_response, encode_request, encode_response, WireError};
use crate::control::errors::ErrorCode as KafkaError;
use crate::raft::segmented::decode_batch;
use crate::raft::{Batch, Epoch, EpochEndOffset, ErrorCode, Message, NodeId, Offset, SnapshotId};

/// The metadata log's topic.
pub const METADATA_TOPIC: &str = "__cluster_metadata";
/// The metadata log's topic id (`Uuid.ONE_UUID`).
pub const METADATA_TOPIC_ID: uuid::Uuid = uuid::Uuid::from_u128(1);
/// Largest batch accepted from a peer (Kafka's `MAX_BATCH_SIZE_BYTES`).
pub const BATCH_BYTES_MAX: usize = 8 * 1024 * 1024;

/// Versions this node sends.
pub const VOTE_VERSION: i16 = 2;
/// Versions this node sends.
pub const BEGIN_QUORUM_EPOCH_VERSION: i16 = 0;
/// Versions this node sends.
pub const END_QUORUM_EPOCH_VERSION: i16 = 0;
/// Versions this node sends.
pub const FETCH_VERSION: i16 = 13;
/// Versions this node sends.
pub const FETCH_SNAPSHOT_VERSION: i16 = 0;
/// Lowest Fetch version served (the first with `LastFetchedEpoch`).
pub const FETCH_VERSION_MIN: i16 = 12;

/// The Kafka error of a core error: the core's closed set is a subset of the one Kafka error
/// table ([`KafkaError`]), which alone holds the numbers.
pub fn kafka_error(e: ErrorCode) -> KafkaError {
    match e {
        ErrorCode::None => KafkaError::None,
        ErrorCode::FencedLeaderEpoch => KafkaError::FencedLeaderEpoch,
        ErrorCode::NotLeaderOrFollower => KafkaError::NotLeaderOrFollower,
        ErrorCode::UnknownLeaderEpoch => KafkaError::UnknownLeaderEpoch,
        ErrorCode::InconsistentVoterSet => KafkaError::InconsistentVoterSet,
        ErrorCode::PositionOutOfRange => KafkaError::PositionOutOfRange,
        ErrorCode::SnapshotNotFound => KafkaError::SnapshotNotFound,
        ErrorCode::InvalidRequest => KafkaError::InvalidRequest,
    }
}

/// The Kafka error code of a core error.
pub fn error_code(e: ErrorCode) -> i16 {
    kafka_error(e).code()
}

/// The core error of a Kafka error code (`None` for codes the KRaft RPCs do not carry).
pub fn from_error_code(code: i16) -> Option<ErrorCode> {
    Some(match KafkaError::from_code(code)? {
        KafkaError::None => ErrorCode::None,
        KafkaError::FencedLeaderEpoch => ErrorCode::FencedLeaderEpoch,
        KafkaError::NotLeaderOrFollower => ErrorCode::NotLeaderOrFollower,
        KafkaError::UnknownLeaderEpoch => ErrorCode::UnknownLeaderEpoch,
        KafkaError::InconsistentVoterSet => ErrorCode::InconsistentVoterSet,
        KafkaError::PositionOutOfRange => ErrorCode::PositionOutOfRange,
        KafkaError::SnapshotNotFound => ErrorCode::SnapshotNotFound,
        KafkaError::InvalidRequest => ErrorCode::InvalidRequest,
        _ => return None,
    })
}

fn leader_option(id: i32) -> Option<NodeId> {
    (id >= 0).then_some(NodeId(id))
}

fn malformed(what: &str, reason: impl Into<String>) -> WireError {
    WireError::Malformed {
        what: what.to_string(),
        reason: reason.into(),
    }
}

fn cluster(cluster_id: &str) -> Option<StrBytes> {
    Some(StrBytes::from_string(cluster_id.to_string()))
}

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

/// What a peer client must remember of a request to read its response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SentRequest {
    /// The API.
    pub api: ApiKey,
    /// The version sent.
    pub version: i16,
    /// Whether a Vote request was a pre-vote (the response does not say).
    pub pre_vote: bool,
    /// For FetchSnapshot, the snapshot asked for.
    pub snapshot_id: Option<SnapshotId>,
}

/// Encodes a core request as a Kafka request frame body.
pub fn encode_raft_request(
    message: &Message,
    cluster_id: &str,
    correlation_id: i32,
    client_id: &str,
) -> Result<(SentRequest, Bytes), WireError> {
    let sent = |api, version| SentRequest {
        api,
        version,
        pre_vote: false,
        snapshot_id: None,
    };
    match message {
        Message::VoteRequest {
            replica_epoch,
            replica_id,
            last_offset_epoch,
            last_offset,
            pre_vote,
        } => {
            let p = vote_req::PartitionData::default()
                .with_partition_index(0)
                .with_replica_epoch(replica_epoch.get())
                .with_replica_id((*replica_id).into())
                .with_last_offset_epoch(last_offset_epoch.get())
                .with_last_offset(last_offset.get())
                .with_pre_vote(*pre_vote);
            let t = vote_req::TopicData::default()
                .with_topic_name(TopicName(StrBytes::from_static_str(METADATA_TOPIC)))
                .with_partitions(vec![p]);
            let r = vote_req::VoteRequest::default()
                .with_cluster_id(cluster(cluster_id))
                .with_voter_id(BrokerId(-1))
                .with_topics(vec![t]);
            let mut s = sent(ApiKey::Vote, VOTE_VERSION);
            s.pre_vote = *pre_vote;
            Ok((
                s,
                encode_request(ApiKey::Vote, VOTE_VERSION, correlation_id, client_id, &r)?,
            ))
        }
        Message::BeginQuorumEpochRequest {
            leader_epoch,
            leader_id,
        } => {
            let p = bqe_req::PartitionData::default()
                .with_partition_index(0)
                .with_leader_id((*leader_id).into())
                .with_leader_epoch(leader_epoch.get());
            let t = bqe_req::TopicData::default()
                .with_topic_name(TopicName(StrBytes::from_static_str(METADATA_TOPIC)))
                .with_partitions(vec![p]);
            let r = bqe_req::BeginQuorumEpochRequest::default()
                .with_cluster_id(cluster(cluster_id))
                .with_topics(vec![t]);
            let v = BEGIN_QUORUM_EPOCH_VERSION;
            Ok((
                sent(ApiKey::BeginQuorumEpoch, v),
                encode_request(ApiKey::BeginQuorumEpoch, v, correlation_id, client_id, &r)?,
            ))
        }
        Message::EndQuorumEpochRequest {
            leader_epoch,
            leader_id,
            preferred_successors,
        } => {
            let p = eqe_req::PartitionData::default()
                .with_partition_index(0)
                .with_leader_id((*leader_id).into())
                .with_leader_epoch(leader_epoch.get())
                .with_preferred_successors(
                    preferred_successors.iter().map(|id| id.get()).collect(),
                );
            let t = eqe_req::TopicData::default()
                .with_topic_name(TopicName(StrBytes::from_static_str(METADATA_TOPIC)))
                .with_partitions(vec![p]);
            let r = eqe_req::EndQuorumEpochRequest::default()
                .with_cluster_id(cluster(cluster_id))
                .with_topics(vec![t]);
            let v = END_QUORUM_EPOCH_VERSION;
            Ok((
                sent(ApiKey::EndQuorumEpoch, v),
                encode_request(ApiKey::EndQuorumEpoch, v, correlation_id, client_id, &r)?,
            ))
        }
        Message::FetchRequest {
            replica_id,
            current_leader_epoch,
            fetch_offset,
            last_fetched_epoch,
            max_bytes,
        } => {
            let max_bytes = (*max_bytes).min(i32::MAX as usize) as i32;
            let p = fetch_req::FetchPartition::default()
                .with_partition(0)
                .with_current_leader_epoch(current_leader_epoch.get())
                .with_fetch_offset(fetch_offset.get())
                .with_last_fetched_epoch(last_fetched_epoch.get())
                .with_log_start_offset(-1)
                .with_partition_max_bytes(max_bytes);
            let t = fetch_req::FetchTopic::default()
                .with_topic_id(METADATA_TOPIC_ID)
                .with_partitions(vec![p]);
            let r = fetch_req::FetchRequest::default()
                .with_cluster_id(cluster(cluster_id))
                .with_replica_id((*replica_id).into())
                .with_max_wait_ms(500)
                .with_min_bytes(0)
                .with_max_bytes(max_bytes)
                .with_topics(vec![t]);
            Ok((
                sent(ApiKey::Fetch, FETCH_VERSION),
                encode_request(ApiKey::Fetch, FETCH_VERSION, correlation_id, client_id, &r)?,
            ))
        }
        Message::FetchSnapshotRequest {
            replica_id,
            current_leader_epoch,
            snapshot_id,
            position,
            max_bytes,
        } => {
            let p = snap_req::PartitionSnapshot::default()
                .with_partition(0)
                .with_current_leader_epoch(current_leader_epoch.get())
                .with_snapshot_id(
                    snap_req::SnapshotId::default()
                        .with_end_offset(snapshot_id.end_offset.into())
                        .with_epoch(snapshot_id.epoch.into()),
                )
                .with_position(*position as i64);
            let t = snap_req::TopicSnapshot::default()
                .with_name(TopicName(StrBytes::from_static_str(METADATA_TOPIC)))
                .with_partitions(vec![p]);
            let r = snap_req::FetchSnapshotRequest::default()
                .with_cluster_id(cluster(cluster_id))
                .with_replica_id((*replica_id).into())
                .with_max_bytes((*max_bytes).min(i32::MAX as usize) as i32)
                .with_topics(vec![t]);
            let v = FETCH_SNAPSHOT_VERSION;
            let mut s = sent(ApiKey::FetchSnapshot, v);
            s.snapshot_id = Some(*snapshot_id);
            Ok((
                s,
                encode_request(ApiKey::FetchSnapshot, v, correlation_id, client_id, &r)?,
            ))
        }
        other => Err(WireError::Encode {
            what: other.name().to_string(),
            reason: "not a request".into(),
        }),
    }
}

/// The one partition of `__cluster_metadata` a Raft request or response must carry; `split`
/// gives a topic's name and partitions.
fn only_partition<T, P>(
    what: &str,
    topics: Vec<T>,
    split: impl Fn(T) -> (String, Vec<P>),
) -> Result<P, WireError> {
    if topics.len() != 1 {
        return Err(malformed(
            what,
            format!("{} topics, expected 1", topics.len()),
        ));
    }
    let (name, mut parts) = topics.into_iter().map(split).next().expect("one topic");
    if !name.is_empty() && name != METADATA_TOPIC {
        return Err(malformed(
            what,
            format!("topic {name:?} is not {METADATA_TOPIC}"),
        ));
    }
    if parts.len() != 1 {
        return Err(malformed(
            what,
            format!("{} partitions, expected 1", parts.len()),
        ));
    }
    Ok(parts.pop().expect("one partition"))
}

/// Decodes a peer's response into the core's message.
pub fn decode_raft_response(sent: SentRequest, frame: Bytes) -> Result<Message, WireError> {
    let code = |c: i16, what: &str| {
        from_error_code(c).ok_or_else(|| malformed(what, format!("unexpected error code {c}")))
    };
    match sent.api {
        ApiKey::Vote => {
            let r: vote_resp::VoteResponse = decode_response("VoteResponse", frame, sent.version)?;
            if r.error_code != 0 {
                return Err(WireError::ErrorAnswer {
                    what: "VoteResponse".into(),
                    code: r.error_code,
                });
            }
            let p = only_partition("VoteResponse", r.topics, |t| {
                (t.topic_name.0.to_string(), t.partitions)
            })?;
            Ok(Message::VoteResponse {
                error: code(p.error_code, "VoteResponse")?,
                leader_epoch: Epoch(p.leader_epoch),
                leader_id: leader_option(p.leader_id.0),
                vote_granted: p.vote_granted,
                pre_vote: sent.pre_vote,
            })
        }
        ApiKey::BeginQuorumEpoch => {
            let r: bqe_resp::BeginQuorumEpochResponse =
                decode_response("BeginQuorumEpochResponse", frame, sent.version)?;
            let p = only_partition("BeginQuorumEpochResponse", r.topics, |t| {
                (t.topic_name.0.to_string(), t.partitions)
            })?;
            let e = if r.error_code != 0 {
                r.error_code
            } else {
                p.error_code
            };
            Ok(Message::BeginQuorumEpochResponse {
                error: code(e, "BeginQuorumEpochResponse")?,
                leader_epoch: Epoch(p.leader_epoch),
                leader_id: leader_option(p.leader_id.0),
            })
        }
        ApiKey::EndQuorumEpoch => {
            let r: eqe_resp::EndQuorumEpochResponse =
                decode_response("EndQuorumEpochResponse", frame, sent.version)?;
            let p = only_partition("EndQuorumEpochResponse", r.topics, |t| {
                (t.topic_name.0.to_string(), t.partitions)
            })?;
            let e = if r.error_code != 0 {
                r.error_code
            } else {
                p.error_code
            };
            Ok(Message::EndQuorumEpochResponse {
                error: code(e, "EndQuorumEpochResponse")?,
                leader_epoch: Epoch(p.leader_epoch),
                leader_id: leader_option(p.leader_id.0),
            })
        }
        ApiKey::Fetch => {
            let r: fetch_resp::FetchResponse =
                decode_response("FetchResponse", frame, sent.version)?;
            if r.error_code != 0 {
                return Err(WireError::ErrorAnswer {
                    what: "FetchResponse".into(),
                    code: r.error_code,
                });
            }
            let p = only_partition("FetchResponse", r.responses, |t| {
                (t.topic.0.to_string(), t.partitions)
            })?;
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
                error: code(p.error_code, "FetchResponse")?,
                leader_epoch: Epoch(p.current_leader.leader_epoch),
                leader_id: leader_option(p.current_leader.leader_id.0),
                high_watermark: Offset(p.high_watermark),
                log_start_offset: Offset(p.log_start_offset),
                records,
                diverging_epoch: diverging,
                snapshot_id: snapshot,
            })
        }
        ApiKey::FetchSnapshot => {
            let r: snap_resp::FetchSnapshotResponse =
                decode_response("FetchSnapshotResponse", frame, sent.version)?;
            if r.error_code != 0 {
                return Err(WireError::ErrorAnswer {
                    what: "FetchSnapshotResponse".into(),
                    code: r.error_code,
                });
            }
            let p = only_partition("FetchSnapshotResponse", r.topics, |t| {
                (t.name.0.to_string(), t.partitions)
            })?;
            let asked = sent.snapshot_id.unwrap_or(SnapshotId {
                end_offset: Offset(p.snapshot_id.end_offset),
                epoch: Epoch(p.snapshot_id.epoch),
            });
            if p.size < 0 || p.position < 0 {
                return Err(malformed(
                    "FetchSnapshotResponse",
                    "negative size or position",
                ));
            }
            Ok(Message::FetchSnapshotResponse {
                error: code(p.error_code, "FetchSnapshotResponse")?,
                leader_epoch: Epoch(p.current_leader.leader_epoch),
                leader_id: leader_option(p.current_leader.leader_id.0),
                snapshot_id: if p.error_code == 0 {
                    SnapshotId {
                        end_offset: Offset(p.snapshot_id.end_offset),
                        epoch: Epoch(p.snapshot_id.epoch),
                    }
                } else {
                    asked
                },
                size: p.size as u64,
                position: p.position as u64,
                bytes: p.unaligned_records,
            })
        }
        other => Err(malformed(
            "response",
            format!("{other:?} is not a Raft RPC"),
        )),
    }
}

/// A Raft request read off the wire: who sent it and what the core should see.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundRaftRequest {
    /// The sender, as the request names it.
    pub from: NodeId,
    /// The cluster id the request carries, if any.
    pub cluster_id: Option<String>,
    /// The core's message.
    pub message: Message,
}

/// Decodes a Raft request body of `api` at `version`.
pub fn decode_raft_request(
    api: ApiKey,
    version: i16,
    mut body: Bytes,
) -> Result<InboundRaftRequest, WireError> {
    let body = &mut body;
    match api {
        ApiKey::Vote => {
            let r: vote_req::VoteRequest = decode_body("VoteRequest", body, version)?;
            let p = only_partition("VoteRequest", r.topics, |t| {
                (t.topic_name.0.to_string(), t.partitions)
            })?;
            Ok(InboundRaftRequest {
                from: NodeId::from(p.replica_id),
                cluster_id: r.cluster_id.map(|s| s.to_string()),
                message: Message::VoteRequest {
                    replica_epoch: Epoch(p.replica_epoch),
                    replica_id: NodeId::from(p.replica_id),
                    last_offset_epoch: Epoch(p.last_offset_epoch),
                    last_offset: Offset(p.last_offset),
                    pre_vote: p.pre_vote,
                },
            })
        }
        ApiKey::BeginQuorumEpoch => {
            let r: bqe_req::BeginQuorumEpochRequest =
                decode_body("BeginQuorumEpochRequest", body, version)?;
            let p = only_partition("BeginQuorumEpochRequest", r.topics, |t| {
                (t.topic_name.0.to_string(), t.partitions)
            })?;
            Ok(InboundRaftRequest {
                from: NodeId::from(p.leader_id),
                cluster_id: r.cluster_id.map(|s| s.to_string()),
                message: Message::BeginQuorumEpochRequest {
                    leader_epoch: Epoch(p.leader_epoch),
                    leader_id: NodeId::from(p.leader_id),
                },
            })
        }
        ApiKey::EndQuorumEpoch => {
            let r: eqe_req::EndQuorumEpochRequest =
                decode_body("EndQuorumEpochRequest", body, version)?;
            let p = only_partition("EndQuorumEpochRequest", r.topics, |t| {
                (t.topic_name.0.to_string(), t.partitions)
            })?;
            let successors: Vec<NodeId> = if version >= 1 {
                p.preferred_candidates
                    .iter()
                    .map(|c| NodeId::from(c.candidate_id))
                    .collect()
            } else {
                p.preferred_successors
                    .iter()
                    .map(|&id| NodeId(id))
                    .collect()
            };
            Ok(InboundRaftRequest {
                from: NodeId::from(p.leader_id),
                cluster_id: r.cluster_id.map(|s| s.to_string()),
                message: Message::EndQuorumEpochRequest {
                    leader_epoch: Epoch(p.leader_epoch),
                    leader_id: NodeId::from(p.leader_id),
                    preferred_successors: successors,
                },
            })
        }
        ApiKey::Fetch => {
            let r: fetch_req::FetchRequest = decode_body("FetchRequest", body, version)?;
            let replica_id = if version >= 15 {
                r.replica_state.replica_id.0
            } else {
                r.replica_id.0
            };
            let p = only_partition("FetchRequest", r.topics, |t| {
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
                return Err(malformed("FetchRequest", "negative offset or size"));
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
        ApiKey::FetchSnapshot => {
            let r: snap_req::FetchSnapshotRequest =
                decode_body("FetchSnapshotRequest", body, version)?;
            let p = only_partition("FetchSnapshotRequest", r.topics, |t| {
                (t.name.0.to_string(), t.partitions)
            })?;
            if p.position < 0 || r.max_bytes < 0 {
                return Err(malformed(
                    "FetchSnapshotRequest",
                    "negative position or size",
                ));
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
        other => Err(malformed("request", format!("{other:?} is not a Raft RPC"))),
    }
}

/// Encodes the core's response to a Raft request of `api` at `version`.
pub fn encode_raft_response(
    api: ApiKey,
    version: i16,
    correlation_id: i32,
    message: &Message,
) -> Result<Bytes, WireError> {
    let topic = || TopicName(StrBytes::from_static_str(METADATA_TOPIC));
    match message {
        Message::VoteResponse {
            error,
            leader_epoch,
            leader_id,
            vote_granted,
            ..
        } => {
            let p = vote_resp::PartitionData::default()
                .with_error_code(error_code(*error))
                .with_leader_id(leader_id.unwrap_or(NodeId::NONE).into())
                .with_leader_epoch(leader_epoch.get())
                .with_vote_granted(*vote_granted);
            let r = vote_resp::VoteResponse::default().with_topics(vec![
                vote_resp::TopicData::default()
                    .with_topic_name(topic())
                    .with_partitions(vec![p]),
            ]);
            encode_response("VoteResponse", correlation_id, version, &r)
        }
        Message::BeginQuorumEpochResponse {
            error,
            leader_epoch,
            leader_id,
        } => {
            let p = bqe_resp::PartitionData::default()
                .with_error_code(error_code(*error))
                .with_leader_id(leader_id.unwrap_or(NodeId::NONE).into())
                .with_leader_epoch(leader_epoch.get());
            let r = bqe_resp::BeginQuorumEpochResponse::default().with_topics(vec![
                bqe_resp::TopicData::default()
                    .with_topic_name(topic())
                    .with_partitions(vec![p]),
            ]);
            encode_response("BeginQuorumEpochResponse", correlation_id, version, &r)
        }
        Message::EndQuorumEpochResponse {
            error,
            leader_epoch,
            leader_id,
        } => {
            let p = eqe_resp::PartitionData::default()
                .with_error_code(error_code(*error))
                .with_leader_id(leader_id.unwrap_or(NodeId::NONE).into())
                .with_leader_epoch(leader_epoch.get());
            let r = eqe_resp::EndQuorumEpochResponse::default().with_topics(vec![
                eqe_resp::TopicData::default()
                    .with_topic_name(topic())
                    .with_partitions(vec![p]),
            ]);
            encode_response("EndQuorumEpochResponse", correlation_id, version, &r)
        }
        Message::FetchResponse {
            error,
            leader_epoch,
            leader_id,
            high_watermark,
            log_start_offset,
            records,
            diverging_epoch,
            snapshot_id,
        } => {
            let mut p = fetch_resp::PartitionData::default()
                .with_partition_index(0)
                .with_error_code(error_code(*error))
                .with_high_watermark(high_watermark.get())
                .with_last_stable_offset(high_watermark.get())
                .with_log_start_offset(log_start_offset.get())
                .with_current_leader(
                    fetch_resp::LeaderIdAndEpoch::default()
                        .with_leader_id(leader_id.unwrap_or(NodeId::NONE).into())
                        .with_leader_epoch(leader_epoch.get()),
                )
                .with_records(Some(encode_batches(records, wall_clock_ms())?));
            if let Some(d) = diverging_epoch {
                p = p.with_diverging_epoch(
                    fetch_resp::EpochEndOffset::default()
                        .with_epoch(d.epoch.into())
                        .with_end_offset(d.end_offset.into()),
                );
            }
            if let Some(s) = snapshot_id {
                p = p.with_snapshot_id(
                    fetch_resp::SnapshotId::default()
                        .with_end_offset(s.end_offset.into())
                        .with_epoch(s.epoch.into()),
                );
            }
            let t = fetch_resp::FetchableTopicResponse::default()
                .with_topic(topic())
                .with_topic_id(METADATA_TOPIC_ID)
                .with_partitions(vec![p]);
            let r = fetch_resp::FetchResponse::default().with_responses(vec![t]);
            encode_response("FetchResponse", correlation_id, version, &r)
        }
        Message::FetchSnapshotResponse {
            error,
            leader_epoch,
            leader_id,
            snapshot_id,
            size,
            position,
            bytes,
        } => {
            let p = snap_resp::PartitionSnapshot::default()
                .with_index(0)
                .with_error_code(error_code(*error))
                .with_snapshot_id(
                    snap_resp::SnapshotId::default()
                        .with_end_offset(snapshot_id.end_offset.into())
                        .with_epoch(snapshot_id.epoch.into()),
                )
                .with_current_leader(
                    snap_resp::LeaderIdAndEpoch::default()
                        .with_leader_id(leader_id.unwrap_or(NodeId::NONE).into())
                        .with_leader_epoch(leader_epoch.get()),
                )
                .with_size(*size as i64)
                .with_position(*position as i64)
                .with_unaligned_records(bytes.clone());
            let r = snap_resp::FetchSnapshotResponse::default().with_topics(vec![
                snap_resp::TopicSnapshot::default()
                    .with_name(topic())
                    .with_partitions(vec![p]),
            ]);
            encode_response("FetchSnapshotResponse", correlation_id, version, &r)
        }
        other => Err(WireError::Encode {
            what: other.name().to_string(),
            reason: format!("not a response to {api:?}"),
        }),
    }
}

/// A top-level error response to a Raft request that could not reach the core (wrong cluster
/// id, a node that is shutting down).
pub fn raft_error_response(
    api: ApiKey,
    version: i16,
    correlation_id: i32,
    error: ResponseError,
) -> Result<Bytes, WireError> {
    let code = error.code();
    match api {
        ApiKey::Vote => encode_response(
            "VoteResponse",
            correlation_id,
            version,
            &vote_resp::VoteResponse::default().with_error_code(code),
        ),
        ApiKey::BeginQuorumEpoch => encode_response(
            "BeginQuorumEpochResponse",
            correlation_id,
            version,
            &bqe_resp::BeginQuorumEpochResponse::default().with_error_code(code),
        ),
        ApiKey::EndQuorumEpoch => encode_response(
            "EndQuorumEpochResponse",
            correlation_id,
            version,
            &eqe_resp::EndQuorumEpochResponse::default().with_error_code(code),
        ),
        ApiKey::Fetch => encode_response(
            "FetchResponse",
            correlation_id,
            version,
            &fetch_resp::FetchResponse::default().with_error_code(code),
        ),
        ApiKey::FetchSnapshot => encode_response(
            "FetchSnapshotResponse",
            correlation_id,
            version,
            &snap_resp::FetchSnapshotResponse::default().with_error_code(code),
        ),
        other => Err(WireError::Encode {
            what: format!("{other:?}"),
            reason: "not a Raft RPC".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::wire::read_request;
    use metaquorum_log::batch::RecordData;

    fn round_trip_request(m: Message) {
        let (sent, bytes) = encode_raft_request(&m, "cid", 7, "t").unwrap();
        let raw = read_request(bytes).unwrap();
        assert_eq!(raw.api, sent.api);
        let back = decode_raft_request(raw.api, raw.version, raw.body).unwrap();
        assert_eq!(back.message, m);
        assert_eq!(back.cluster_id.as_deref(), Some("cid"));
    }

    fn round_trip_response(request: &Message, response: Message) {
        let (sent, _) = encode_raft_request(request, "cid", 7, "t").unwrap();
        let bytes = encode_raft_response(sent.api, sent.version, 7, &response).unwrap();
        assert_eq!(decode_raft_response(sent, bytes).unwrap(), response);
    }

    #[test]
    fn every_raft_rpc_round_trips() {
        let vote = Message::VoteRequest {
            replica_epoch: Epoch(3),
            replica_id: NodeId(2),
            last_offset_epoch: Epoch(2),
            last_offset: Offset(17),
            pre_vote: true,
        };
        round_trip_request(vote.clone());
        round_trip_response(
            &vote,
            Message::VoteResponse {
                error: ErrorCode::None,
                leader_epoch: Epoch(2),
                leader_id: None,
                vote_granted: true,
                pre_vote: true,
            },
        );
        let bqe = Message::BeginQuorumEpochRequest {
            leader_epoch: Epoch(4),
            leader_id: NodeId(1),
        };
        round_trip_request(bqe.clone());
        round_trip_response(
            &bqe,
            Message::BeginQuorumEpochResponse {
                error: ErrorCode::FencedLeaderEpoch,
                leader_epoch: Epoch(5),
                leader_id: Some(NodeId(3)),
            },
        );
        let eqe = Message::EndQuorumEpochRequest {
            leader_epoch: Epoch(4),
            leader_id: NodeId(1),
            preferred_successors: vec![NodeId(3), NodeId(2)],
        };
        round_trip_request(eqe.clone());
        let fetch = Message::FetchRequest {
            replica_id: NodeId(2),
            current_leader_epoch: Epoch(4),
            fetch_offset: Offset(10),
            last_fetched_epoch: Epoch(3),
            max_bytes: 1 << 20,
        };
        round_trip_request(fetch.clone());
        let rec = |v: &'static str| RecordData {
            key: None,
            value: Some(Bytes::from_static(v.as_bytes())),
        };
        round_trip_response(
            &fetch,
            Message::FetchResponse {
                error: ErrorCode::None,
                leader_epoch: Epoch(4),
                leader_id: Some(NodeId(1)),
                high_watermark: Offset(11),
                log_start_offset: Offset(0),
                records: vec![
                    Batch::new(Offset(10), Epoch(4), false, vec![rec("a"), rec("b")]),
                    Batch::new(Offset(12), Epoch(4), true, vec![rec("c")]),
                ],
                diverging_epoch: None,
                snapshot_id: None,
            },
        );
        round_trip_response(
            &fetch,
            Message::FetchResponse {
                error: ErrorCode::None,
                leader_epoch: Epoch(4),
                leader_id: Some(NodeId(1)),
                high_watermark: Offset(11),
                log_start_offset: Offset(0),
                records: vec![],
                diverging_epoch: Some(EpochEndOffset {
                    epoch: Epoch(2),
                    end_offset: Offset(8),
                }),
                snapshot_id: Some(SnapshotId {
                    end_offset: Offset(5),
                    epoch: Epoch(1),
                }),
            },
        );
        let snap = Message::FetchSnapshotRequest {
            replica_id: NodeId(3),
            current_leader_epoch: Epoch(4),
            snapshot_id: SnapshotId {
                end_offset: Offset(100),
                epoch: Epoch(2),
            },
            position: 4096,
            max_bytes: 1 << 20,
        };
        round_trip_request(snap.clone());
        round_trip_response(
            &snap,
            Message::FetchSnapshotResponse {
                error: ErrorCode::None,
                leader_epoch: Epoch(4),
                leader_id: Some(NodeId(1)),
                snapshot_id: SnapshotId {
                    end_offset: Offset(100),
                    epoch: Epoch(2),
                },
                size: 9000,
                position: 4096,
                bytes: Bytes::from_static(b"chunk"),
            },
        );
    }

    #[test]
    fn a_damaged_batch_rejects_the_fetch_response() {
        let rec = RecordData {
            key: None,
            value: Some(Bytes::from_static(b"v")),
        };
        let good = encode_batches(&[Batch::new(Offset(0), Epoch(1), false, vec![rec])], 0).unwrap();
        let mut bad = good.to_vec();
        let last = bad.len() - 1;
        bad[last] ^= 0xff;
        assert!(decode_batches(&good).is_ok());
        assert!(decode_batches(&bad).is_err());
    }
}
