//! The KRaft RPCs on the wire: the core's [`Message`]s to and from Kafka's schemas, for the one
//! partition `__cluster_metadata-0`. One file per RPC ([`vote`], [`begin_quorum_epoch`],
//! [`end_quorum_epoch`], [`fetch`], [`fetch_snapshot`]) owns the versions it sends and serves,
//! its request and response in both directions, and its top-level error response; this file
//! routes a message or an API key to its RPC and holds what they share.

pub mod begin_quorum_epoch;
pub mod end_quorum_epoch;
pub mod fetch;
pub mod fetch_snapshot;
pub mod vote;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{ApiKey, TopicName};
use kafka_protocol::protocol::StrBytes;

pub use fetch::{decode_batches, encode_batches, BATCH_BYTES_MAX};

use super::wire::WireError;
use crate::control::errors::ErrorCode as KafkaError;
use crate::raft::{ErrorCode, Message, NodeId, SnapshotId};

/// The metadata log's topic.
pub const METADATA_TOPIC: &str = "__cluster_metadata";
/// The metadata log's topic id (`Uuid.ONE_UUID`).
pub const METADATA_TOPIC_ID: uuid::Uuid = uuid::Uuid::from_u128(1);

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

impl SentRequest {
    fn new(api: ApiKey, version: i16) -> SentRequest {
        SentRequest {
            api,
            version,
            pre_vote: false,
            snapshot_id: None,
        }
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

/// Encodes a core request as a Kafka request frame body.
pub fn encode_raft_request(
    message: &Message,
    cluster_id: &str,
    correlation_id: i32,
    client_id: &str,
) -> Result<(SentRequest, Bytes), WireError> {
    let encode = match message {
        Message::VoteRequest { .. } => vote::encode_request,
        Message::BeginQuorumEpochRequest { .. } => begin_quorum_epoch::encode_request,
        Message::EndQuorumEpochRequest { .. } => end_quorum_epoch::encode_request,
        Message::FetchRequest { .. } => fetch::encode_request,
        Message::FetchSnapshotRequest { .. } => fetch_snapshot::encode_request,
        other => return Err(not_a(other, "request")),
    };
    encode(message, cluster_id, correlation_id, client_id)
}

/// Decodes a peer's response into the core's message.
pub fn decode_raft_response(sent: SentRequest, frame: Bytes) -> Result<Message, WireError> {
    match sent.api {
        ApiKey::Vote => vote::decode_response(sent, frame),
        ApiKey::BeginQuorumEpoch => begin_quorum_epoch::decode_response(sent, frame),
        ApiKey::EndQuorumEpoch => end_quorum_epoch::decode_response(sent, frame),
        ApiKey::Fetch => fetch::decode_response(sent, frame),
        ApiKey::FetchSnapshot => fetch_snapshot::decode_response(sent, frame),
        other => Err(malformed(
            "response",
            format!("{other:?} is not a Raft RPC"),
        )),
    }
}

/// Decodes a Raft request body of `api` at `version`.
pub fn decode_raft_request(
    api: ApiKey,
    version: i16,
    mut body: Bytes,
) -> Result<InboundRaftRequest, WireError> {
    let body = &mut body;
    match api {
        ApiKey::Vote => vote::decode_request(version, body),
        ApiKey::BeginQuorumEpoch => begin_quorum_epoch::decode_request(version, body),
        ApiKey::EndQuorumEpoch => end_quorum_epoch::decode_request(version, body),
        ApiKey::Fetch => fetch::decode_request(version, body),
        ApiKey::FetchSnapshot => fetch_snapshot::decode_request(version, body),
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
    let encode = match message {
        Message::VoteResponse { .. } => vote::encode_response,
        Message::BeginQuorumEpochResponse { .. } => begin_quorum_epoch::encode_response,
        Message::EndQuorumEpochResponse { .. } => end_quorum_epoch::encode_response,
        Message::FetchResponse { .. } => fetch::encode_response,
        Message::FetchSnapshotResponse { .. } => fetch_snapshot::encode_response,
        other => {
            return Err(WireError::Encode {
                what: other.name().to_string(),
                reason: format!("not a response to {api:?}"),
            })
        }
    };
    encode(version, correlation_id, message)
}

/// A top-level error response to a Raft request that could not reach the core (wrong cluster
/// id, a node that is shutting down).
pub fn raft_error_response(
    api: ApiKey,
    version: i16,
    correlation_id: i32,
    error: ResponseError,
) -> Result<Bytes, WireError> {
    let encode = match api {
        ApiKey::Vote => vote::error_response,
        ApiKey::BeginQuorumEpoch => begin_quorum_epoch::error_response,
        ApiKey::EndQuorumEpoch => end_quorum_epoch::error_response,
        ApiKey::Fetch => fetch::error_response,
        ApiKey::FetchSnapshot => fetch_snapshot::error_response,
        other => {
            return Err(WireError::Encode {
                what: format!("{other:?}"),
                reason: "not a Raft RPC".into(),
            })
        }
    };
    encode(version, correlation_id, error.code())
}

/// The core error a response carries, or a malformed-response error for a code the KRaft RPCs
/// do not use.
fn code_of(code: i16, what: &str) -> Result<ErrorCode, WireError> {
    from_error_code(code).ok_or_else(|| malformed(what, format!("unexpected error code {code}")))
}

/// The error a quorum-epoch response carries: a top-level one (a wrong cluster id) outranks the
/// partition's.
fn outranking(top_level: i16, partition: i16) -> i16 {
    if top_level != 0 {
        top_level
    } else {
        partition
    }
}

/// The leader a response names; a negative id means none is known.
fn leader_option(id: i32) -> Option<NodeId> {
    (id >= 0).then_some(NodeId(id))
}

fn malformed(what: &str, reason: impl Into<String>) -> WireError {
    WireError::Malformed {
        what: what.to_string(),
        reason: reason.into(),
    }
}

/// The error for a message handed to the codec of another RPC (a caller's bug, reported, not a
/// panic).
fn not_a(message: &Message, expected: &str) -> WireError {
    WireError::Encode {
        what: message.name().to_string(),
        reason: format!("not a {expected}"),
    }
}

fn cluster(cluster_id: &str) -> Option<StrBytes> {
    Some(StrBytes::from_string(cluster_id.to_string()))
}

fn topic_name() -> TopicName {
    TopicName(StrBytes::from_static_str(METADATA_TOPIC))
}

/// A Kafka `i32` size from the core's `usize`, saturating.
fn size_i32(bytes: usize) -> i32 {
    bytes.min(i32::MAX as usize) as i32
}

/// The one partition of `__cluster_metadata` a Raft request or response must carry; `split`
/// gives a topic's name and partitions.
fn only_partition<T, P>(
    what: &str,
    topics: Vec<T>,
    split: impl Fn(T) -> (String, Vec<P>),
) -> Result<P, WireError> {
    let [topic]: [T; 1] = topics
        .try_into()
        .map_err(|t: Vec<T>| malformed(what, format!("{} topics, expected 1", t.len())))?;
    let (name, parts) = split(topic);
    if !name.is_empty() && name != METADATA_TOPIC {
        return Err(malformed(
            what,
            format!("topic {name:?} is not {METADATA_TOPIC}"),
        ));
    }
    let [partition]: [P; 1] = parts
        .try_into()
        .map_err(|p: Vec<P>| malformed(what, format!("{} partitions, expected 1", p.len())))?;
    Ok(partition)
}

#[cfg(test)]
mod tests;
