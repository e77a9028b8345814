//! Metadata (API 3): brokers, topics, partitions, leaders and ISRs from a committed image. The
//! active controller answers it (a standby's image may lag, and a tool reading after a write
//! must see it); a broker answers its clients from its own image.

use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{
    ApiKey, BrokerId, MetadataRequest, MetadataResponse, RequestKind, ResponseKind, TopicName,
};

use super::{kind_conversions, Handled, Handling, MetadataApi, OnBroker};
use crate::control::errors::ErrorCode;
use crate::control::outcome::wire_str;
use crate::control::topic_name::is_internal_topic;
use crate::metadata::cluster::BrokerRegistration;
use crate::metadata::image::MetadataImage;
use crate::metadata::record::Endpoint;
use crate::raft::NodeId;

/// See the module documentation.
pub struct Metadata;

impl MetadataApi for Metadata {
    type Request = MetadataRequest;
    type Response = MetadataResponse;
    const KEY: ApiKey = ApiKey::Metadata;
    const NAME: &'static str = "MetadataRequest";
    const VERSIONS: (i16, i16) = (0, 13);
    const BROKER_VERSION_MAX: Option<i16> = Some(12);
    const ON_BROKER: OnBroker = OnBroker::Local;
    kind_conversions!(Metadata);

    fn normalize(r: &mut Self::Request, version: i16) {
        // Metadata v0 has no null list: an empty one means every topic.
        if version == 0 && r.topics.as_ref().is_some_and(|t| t.is_empty()) {
            r.topics = None;
        }
    }

    fn handle(r: &Self::Request, h: &mut Handling<'_>) -> Handled<Self::Response> {
        Handled::Read(metadata_response(
            h.committed,
            h.cluster_id,
            Some(h.node_id),
            r,
            None,
        ))
    }

    fn error_response(_: &Self::Request, code: ErrorCode, _: &str) -> Self::Response {
        // Metadata carries no per-call error before v13; callers add the controller id.
        MetadataResponse::default()
            .with_error_code(code.code())
            .with_cluster_id(None)
            .with_controller_id(BrokerId(-1))
    }

    fn fail(r: &mut Self::Response, code: ErrorCode, _: &str) {
        r.error_code = code.code();
    }

    fn error_codes(r: &Self::Response) -> Vec<(i16, Option<&str>)> {
        vec![(r.error_code, None)]
    }
}

/// The endpoint of broker `b` clients on `listener` should use: the one of that name, or the
/// first when no name is given. `None` when the broker has no such listener.
pub(super) fn endpoint<'a>(
    b: &'a BrokerRegistration,
    listener: Option<&str>,
) -> Option<&'a Endpoint> {
    match listener {
        Some(name) => b.listeners.iter().find(|l| l.name == name),
        None => b.listeners.first(),
    }
}

/// A Metadata response from a committed image: the registered unfenced brokers (their
/// endpoint on `listener`, as Kafka answers with the listener the request came on; the first
/// when `None`), `controller_id`, and the topics asked for (all when `topics` is null).
pub fn metadata_response(
    image: &MetadataImage,
    cluster_id: &str,
    controller_id: Option<NodeId>,
    request: &MetadataRequest,
    listener: Option<&str>,
) -> MetadataResponse {
    let brokers = image
        .cluster
        .brokers
        .values()
        .filter(|b| !b.fenced)
        .filter_map(|b| {
            let l = endpoint(b, listener)?;
            Some(
                MetadataResponseBroker::default()
                    .with_node_id(b.id.into())
                    .with_host(wire_str(l.host.clone()))
                    .with_port(i32::from(l.port))
                    .with_rack(b.rack.clone().map(wire_str)),
            )
        })
        .collect();
    let topic = |t: &crate::metadata::topics::TopicImage| {
        MetadataResponseTopic::default()
            .with_name(Some(TopicName(wire_str(t.name.clone()))))
            .with_topic_id(t.id)
            .with_is_internal(is_internal_topic(&t.name))
            .with_partitions(
                t.partitions
                    .iter()
                    .map(|(id, p)| {
                        let offline: Vec<BrokerId> = p
                            .replicas
                            .iter()
                            .filter(|r| image.broker(**r).is_none_or(|b| b.fenced))
                            .map(|r| BrokerId((*r).into()))
                            .collect();
                        MetadataResponsePartition::default()
                            .with_error_code(if p.leader < NodeId(0) {
                                ErrorCode::LeaderNotAvailable.code()
                            } else {
                                0
                            })
                            .with_partition_index(*id)
                            .with_leader_id(p.leader.into())
                            .with_leader_epoch(p.leader_epoch.into())
                            .with_replica_nodes(
                                p.replicas.iter().map(|r| BrokerId((*r).into())).collect(),
                            )
                            .with_isr_nodes(p.isr.iter().map(|r| BrokerId((*r).into())).collect())
                            .with_offline_replicas(offline)
                    })
                    .collect(),
            )
    };
    let topics = match &request.topics {
        None => image.topics.by_id.values().map(topic).collect(),
        Some(wanted) => wanted
            .iter()
            .map(|w| {
                let found = match &w.name {
                    Some(n) => image.topic_by_name(n.0.as_str()),
                    None => image.topic(&w.topic_id),
                };
                match found {
                    Some(t) => topic(t),
                    None => MetadataResponseTopic::default()
                        .with_name(w.name.clone())
                        .with_topic_id(w.topic_id)
                        .with_error_code(if w.name.is_some() {
                            ErrorCode::UnknownTopicOrPartition.code()
                        } else {
                            ErrorCode::UnknownTopicId.code()
                        }),
                }
            })
            .collect(),
    };
    MetadataResponse::default()
        .with_brokers(brokers)
        .with_cluster_id(Some(wire_str(cluster_id)))
        .with_controller_id(controller_id.unwrap_or(NodeId::NONE).into())
        .with_topics(topics)
}
