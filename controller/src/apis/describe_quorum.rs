//! The DescribeQuorum answer (KIP-595, KIP-836) built from one node's view of the quorum.

use std::collections::BTreeMap;

use kafka_protocol::messages::describe_quorum_response::{
    self as dq, DescribeQuorumResponse, ReplicaState,
};
use kafka_protocol::messages::{ApiKey, TopicName};
use kafka_protocol::protocol::StrBytes;

use super::{ApiSpec, Route};
use crate::config::HostPort;
use crate::net::raft_wire::METADATA_TOPIC;
use crate::node::QuorumView;
use crate::raft::{NodeId, Offset, RoleKind};

/// Builds a DescribeQuorum response from a node's view. Every node answers; only the leader
/// knows its followers' offsets and fetch times (others report -1).
pub fn describe_quorum_response(
    view: &QuorumView,
    voters: &BTreeMap<NodeId, HostPort>,
) -> DescribeQuorumResponse {
    let ts = |ms: Option<u64>| ms.map_or(-1, |m| view.wall_ms_at_zero + m as i64);
    let replica = |r: &crate::raft::ReplicaInfo| {
        ReplicaState::default()
            .with_replica_id(r.replica_id.into())
            .with_log_end_offset(r.log_end_offset.unwrap_or(Offset(-1)).into())
            .with_last_fetch_timestamp(ts(r.last_fetch_ms))
            .with_last_caught_up_timestamp(ts(r.last_caught_up_ms))
    };
    let p = dq::PartitionData::default()
        .with_partition_index(0)
        .with_leader_id(view.info.leader_id.unwrap_or(NodeId::NONE).into())
        .with_leader_epoch(view.info.leader_epoch.into())
        .with_high_watermark(
            if view.role == RoleKind::Leader || view.info.leader_id.is_some() {
                view.info.high_watermark.into()
            } else {
                -1
            },
        )
        .with_current_voters(view.info.voters.iter().map(replica).collect())
        .with_observers(view.info.observers.iter().map(replica).collect());
    let nodes = voters
        .iter()
        .map(|(id, hp)| {
            dq::Node::default()
                .with_node_id((*id).into())
                .with_listeners(vec![dq::Listener::default()
                    .with_name(StrBytes::from_static_str("CONTROLLER"))
                    .with_host(StrBytes::from_string(hp.host.clone()))
                    .with_port(hp.port)])
        })
        .collect();
    DescribeQuorumResponse::default()
        .with_topics(vec![dq::TopicData::default()
            .with_topic_name(TopicName(StrBytes::from_static_str(METADATA_TOPIC)))
            .with_partitions(vec![p])])
        .with_nodes(nodes)
}

/// DescribeQuorum (KIP-595, KIP-836): every controller answers from its view of the quorum.
pub fn spec() -> ApiSpec {
    ApiSpec {
        key: ApiKey::DescribeQuorum,
        controller: Some((0, 2)),
        broker: None,
        route: Route::DescribeQuorum,
    }
}
