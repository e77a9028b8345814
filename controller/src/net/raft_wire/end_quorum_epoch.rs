//! EndQuorumEpoch (KIP-595): a resigning leader tells the voters to elect a successor, naming
//! the ones it prefers. Sent at v0 (`PreferredSuccessors`), served at v0-1 (v1 names them as
//! `PreferredCandidates`, KIP-853).

use bytes::Bytes;
use kafka_protocol::messages::end_quorum_epoch_request::{
    EndQuorumEpochRequest, PartitionData, TopicData,
};
use kafka_protocol::messages::end_quorum_epoch_response::{self, EndQuorumEpochResponse};
use kafka_protocol::messages::ApiKey;

use super::{
    cluster, code_of, leader_option, not_a, only_partition, outranking, topic_name,
    InboundRaftRequest, SentRequest,
};
use crate::net::wire::{self, WireError};
use crate::raft::{Epoch, Message, NodeId};

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
    let Message::EndQuorumEpochRequest {
        leader_epoch,
        leader_id,
        preferred_successors,
    } = message
    else {
        return Err(not_a(message, "EndQuorumEpochRequest"));
    };
    let p = PartitionData::default()
        .with_partition_index(0)
        .with_leader_id((*leader_id).into())
        .with_leader_epoch(leader_epoch.get())
        .with_preferred_successors(preferred_successors.iter().map(|id| id.get()).collect());
    let r = EndQuorumEpochRequest::default()
        .with_cluster_id(cluster(cluster_id))
        .with_topics(vec![TopicData::default()
            .with_topic_name(topic_name())
            .with_partitions(vec![p])]);
    let api = ApiKey::EndQuorumEpoch;
    Ok((
        SentRequest::new(api, VERSION),
        wire::encode_request(api, VERSION, correlation_id, client_id, &r)?,
    ))
}

pub(super) fn decode_response(sent: SentRequest, frame: Bytes) -> Result<Message, WireError> {
    const WHAT: &str = "EndQuorumEpochResponse";
    let r: EndQuorumEpochResponse = wire::decode_response(WHAT, frame, sent.version)?;
    let p = only_partition(WHAT, r.topics, |t| {
        (t.topic_name.0.to_string(), t.partitions)
    })?;
    let error = outranking(r.error_code, p.error_code);
    Ok(Message::EndQuorumEpochResponse {
        error: code_of(error, WHAT)?,
        leader_epoch: Epoch(p.leader_epoch),
        leader_id: leader_option(p.leader_id.0),
    })
}

pub(super) fn decode_request(
    version: i16,
    body: &mut Bytes,
) -> Result<InboundRaftRequest, WireError> {
    const WHAT: &str = "EndQuorumEpochRequest";
    let r: EndQuorumEpochRequest = wire::decode_body(WHAT, body, version)?;
    let p = only_partition(WHAT, r.topics, |t| {
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

pub(super) fn encode_response(
    version: i16,
    correlation_id: i32,
    message: &Message,
) -> Result<Bytes, WireError> {
    let Message::EndQuorumEpochResponse {
        error,
        leader_epoch,
        leader_id,
    } = message
    else {
        return Err(not_a(message, "EndQuorumEpochResponse"));
    };
    let p = end_quorum_epoch_response::PartitionData::default()
        .with_error_code(super::error_code(*error))
        .with_leader_id(leader_id.unwrap_or(NodeId::NONE).into())
        .with_leader_epoch(leader_epoch.get());
    let r = EndQuorumEpochResponse::default().with_topics(vec![
        end_quorum_epoch_response::TopicData::default()
            .with_topic_name(topic_name())
            .with_partitions(vec![p]),
    ]);
    wire::encode_response("EndQuorumEpochResponse", correlation_id, version, &r)
}

pub(super) fn error_response(
    version: i16,
    correlation_id: i32,
    code: i16,
) -> Result<Bytes, WireError> {
    let r = EndQuorumEpochResponse::default().with_error_code(code);
    wire::encode_response("EndQuorumEpochResponse", correlation_id, version, &r)
}
