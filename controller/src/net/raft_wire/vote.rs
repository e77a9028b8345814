//! Vote (KIP-595; `PreVote` from v2, KIP-996): a candidate asks for a vote, or a prospective
//! voter asks whether it would get one. Sent at v2, served at v0-2.

use bytes::Bytes;
use kafka_protocol::messages::vote_request::{PartitionData, TopicData, VoteRequest};
use kafka_protocol::messages::vote_response::{self, VoteResponse};
use kafka_protocol::messages::{ApiKey, BrokerId};

use super::{
    cluster, code_of, leader_option, not_a, only_partition, topic_name, InboundRaftRequest,
    SentRequest,
};
use crate::net::wire::{self, WireError};
use crate::raft::{Epoch, Message, NodeId, Offset};

/// The version this node sends.
pub const VERSION: i16 = 2;
/// The versions this node serves.
pub const VERSIONS_SERVED: (i16, i16) = (0, 2);

pub(super) fn encode_request(
    message: &Message,
    cluster_id: &str,
    correlation_id: i32,
    client_id: &str,
) -> Result<(SentRequest, Bytes), WireError> {
    let Message::VoteRequest {
        replica_epoch,
        replica_id,
        last_offset_epoch,
        last_offset,
        pre_vote,
    } = message
    else {
        return Err(not_a(message, "VoteRequest"));
    };
    let p = PartitionData::default()
        .with_partition_index(0)
        .with_replica_epoch(replica_epoch.get())
        .with_replica_id((*replica_id).into())
        .with_last_offset_epoch(last_offset_epoch.get())
        .with_last_offset(last_offset.get())
        .with_pre_vote(*pre_vote);
    let r = VoteRequest::default()
        .with_cluster_id(cluster(cluster_id))
        .with_voter_id(BrokerId(-1))
        .with_topics(vec![TopicData::default()
            .with_topic_name(topic_name())
            .with_partitions(vec![p])]);
    let sent = SentRequest {
        pre_vote: *pre_vote,
        ..SentRequest::new(ApiKey::Vote, VERSION)
    };
    Ok((
        sent,
        wire::encode_request(ApiKey::Vote, VERSION, correlation_id, client_id, &r)?,
    ))
}

pub(super) fn decode_response(sent: SentRequest, frame: Bytes) -> Result<Message, WireError> {
    const WHAT: &str = "VoteResponse";
    let r: VoteResponse = wire::decode_response(WHAT, frame, sent.version)?;
    if r.error_code != 0 {
        return Err(WireError::ErrorAnswer {
            what: WHAT.into(),
            code: r.error_code,
        });
    }
    let p = only_partition(WHAT, r.topics, |t| {
        (t.topic_name.0.to_string(), t.partitions)
    })?;
    Ok(Message::VoteResponse {
        error: code_of(p.error_code, WHAT)?,
        leader_epoch: Epoch(p.leader_epoch),
        leader_id: leader_option(p.leader_id.0),
        vote_granted: p.vote_granted,
        // The response does not say; the request did.
        pre_vote: sent.pre_vote,
    })
}

pub(super) fn decode_request(
    version: i16,
    body: &mut Bytes,
) -> Result<InboundRaftRequest, WireError> {
    const WHAT: &str = "VoteRequest";
    let r: VoteRequest = wire::decode_body(WHAT, body, version)?;
    let p = only_partition(WHAT, r.topics, |t| {
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

pub(super) fn encode_response(
    version: i16,
    correlation_id: i32,
    message: &Message,
) -> Result<Bytes, WireError> {
    let Message::VoteResponse {
        error,
        leader_epoch,
        leader_id,
        vote_granted,
        ..
    } = message
    else {
        return Err(not_a(message, "VoteResponse"));
    };
    let p = vote_response::PartitionData::default()
        .with_error_code(super::error_code(*error))
        .with_leader_id(leader_id.unwrap_or(NodeId::NONE).into())
        .with_leader_epoch(leader_epoch.get())
        .with_vote_granted(*vote_granted);
    let r = VoteResponse::default().with_topics(vec![vote_response::TopicData::default()
        .with_topic_name(topic_name())
        .with_partitions(vec![p])]);
    wire::encode_response("VoteResponse", correlation_id, version, &r)
}

pub(super) fn error_response(
    version: i16,
    correlation_id: i32,
    code: i16,
) -> Result<Bytes, WireError> {
    let r = VoteResponse::default().with_error_code(code);
    wire::encode_response("VoteResponse", correlation_id, version, &r)
}
