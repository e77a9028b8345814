//! The requests the network hands to the controller state machine ([`ControllerCall`]), the
//! APIs and versions served for them, and the responses every node can build without the active
//! controller: errors for every API (NOT_CONTROLLER and friends), Metadata and DescribeCluster
//! from a committed image.

use std::collections::BTreeMap;

use kafka_protocol::messages::create_acls_response::{AclCreationResult, CreateAclsResponse};
use kafka_protocol::messages::create_partitions_response::{
    CreatePartitionsResponse, CreatePartitionsTopicResult,
};
use kafka_protocol::messages::create_topics_response::{
    CreatableTopicResult, CreateTopicsResponse,
};
use kafka_protocol::messages::delete_acls_response::{DeleteAclsFilterResult, DeleteAclsResponse};
use kafka_protocol::messages::delete_topics_response::{
    DeletableTopicResult, DeleteTopicsResponse,
};
use kafka_protocol::messages::describe_acls_response::DescribeAclsResponse;
use kafka_protocol::messages::describe_cluster_response::{
    DescribeClusterBroker, DescribeClusterResponse,
};
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResponse, DescribeConfigsResult,
};
use kafka_protocol::messages::incremental_alter_configs_response::{
    AlterConfigsResourceResponse, IncrementalAlterConfigsResponse,
};
use kafka_protocol::messages::metadata_response::{
    MetadataResponse, MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{
    ApiKey, BrokerHeartbeatResponse, BrokerId, BrokerRegistrationResponse, DescribeClusterRequest,
    MetadataRequest, RequestKind, ResponseKind, TopicName, UnregisterBrokerResponse,
};
use tokio::sync::oneshot;

use super::errors::ErrorCode;
use super::outcome::{wire_message, wire_str};
use super::topic_name::is_internal_topic;
use crate::config::HostPort;
use crate::metadata::image::MetadataImage;
use crate::raft::NodeId;

/// The APIs the controller state machine serves, with the versions accepted (capped later by
/// what the `kafka-protocol` crate knows).
pub const STATE_MACHINE_APIS: &[(ApiKey, i16, i16)] = &[
    (ApiKey::Metadata, 0, 13),
    (ApiKey::CreateTopics, 2, 7),
    (ApiKey::DeleteTopics, 1, 6),
    (ApiKey::CreatePartitions, 0, 3),
    (ApiKey::CreateAcls, 1, 3),
    (ApiKey::DescribeAcls, 1, 3),
    (ApiKey::DeleteAcls, 1, 3),
    (ApiKey::DescribeConfigs, 1, 4),
    (ApiKey::IncrementalAlterConfigs, 0, 1),
    (ApiKey::BrokerRegistration, 0, 4),
    (ApiKey::BrokerHeartbeat, 0, 1),
    (ApiKey::UnregisterBroker, 0, 0),
    (ApiKey::DescribeCluster, 0, 1),
    (ApiKey::AlterPartition, 2, 3),
];

/// The message of a NOT_CONTROLLER answer to a write whose batch was proposed but whose
/// leader lost leadership before it committed: the write may or may not have happened, so a
/// forwarding broker must not retry it on its own (any other NOT_CONTROLLER means nothing was
/// done and the request can go to the new active controller).
pub const OUTCOME_UNKNOWN_MESSAGE: &str =
    "The controller lost leadership before the change committed; its outcome is unknown.";

/// A decoded request for the controller, and where its response goes.
pub struct ControllerCall {
    /// The request.
    pub request: RequestKind,
    /// Its version (the response is encoded at the same one).
    pub version: i16,
    /// Receives the response.
    pub reply: oneshot::Sender<ResponseKind>,
}

impl std::fmt::Debug for ControllerCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ControllerCall(v{} {:?})",
            self.version,
            api_of(&self.request)
        )
    }
}

/// The API of a request.
pub fn api_of(request: &RequestKind) -> Option<ApiKey> {
    Some(match request {
        RequestKind::Metadata(_) => ApiKey::Metadata,
        RequestKind::CreateTopics(_) => ApiKey::CreateTopics,
        RequestKind::DeleteTopics(_) => ApiKey::DeleteTopics,
        RequestKind::CreatePartitions(_) => ApiKey::CreatePartitions,
        RequestKind::CreateAcls(_) => ApiKey::CreateAcls,
        RequestKind::DescribeAcls(_) => ApiKey::DescribeAcls,
        RequestKind::DeleteAcls(_) => ApiKey::DeleteAcls,
        RequestKind::DescribeConfigs(_) => ApiKey::DescribeConfigs,
        RequestKind::IncrementalAlterConfigs(_) => ApiKey::IncrementalAlterConfigs,
        RequestKind::BrokerRegistration(_) => ApiKey::BrokerRegistration,
        RequestKind::BrokerHeartbeat(_) => ApiKey::BrokerHeartbeat,
        RequestKind::UnregisterBroker(_) => ApiKey::UnregisterBroker,
        RequestKind::DescribeCluster(_) => ApiKey::DescribeCluster,
        RequestKind::AlterPartition(_) => ApiKey::AlterPartition,
        _ => return None,
    })
}

/// The response failing every part of `request` with `code` (and `message` where the API
/// carries one). `None` for an API the state machine does not serve.
pub fn error_response(
    request: &RequestKind,
    code: ErrorCode,
    message: &str,
) -> Option<ResponseKind> {
    let c = code.code();
    let msg = || wire_message(message);
    Some(match request {
        RequestKind::CreateTopics(r) => ResponseKind::CreateTopics(
            CreateTopicsResponse::default().with_topics(
                r.topics
                    .iter()
                    .map(|t| {
                        CreatableTopicResult::default()
                            .with_name(t.name.clone())
                            .with_error_code(c)
                            .with_error_message(msg())
                            .with_num_partitions(-1)
                            .with_replication_factor(-1)
                    })
                    .collect(),
            ),
        ),
        RequestKind::DeleteTopics(r) => {
            let mut out: Vec<DeletableTopicResult> = r
                .topic_names
                .iter()
                .map(|n| {
                    DeletableTopicResult::default()
                        .with_name(Some(n.clone()))
                        .with_error_code(c)
                        .with_error_message(msg())
                })
                .collect();
            out.extend(r.topics.iter().map(|t| {
                DeletableTopicResult::default()
                    .with_name(t.name.clone())
                    .with_topic_id(t.topic_id)
                    .with_error_code(c)
                    .with_error_message(msg())
            }));
            ResponseKind::DeleteTopics(DeleteTopicsResponse::default().with_responses(out))
        }
        RequestKind::CreatePartitions(r) => ResponseKind::CreatePartitions(
            CreatePartitionsResponse::default().with_results(
                r.topics
                    .iter()
                    .map(|t| {
                        CreatePartitionsTopicResult::default()
                            .with_name(t.name.clone())
                            .with_error_code(c)
                            .with_error_message(msg())
                    })
                    .collect(),
            ),
        ),
        RequestKind::CreateAcls(r) => ResponseKind::CreateAcls(
            CreateAclsResponse::default().with_results(
                r.creations
                    .iter()
                    .map(|_| {
                        AclCreationResult::default()
                            .with_error_code(c)
                            .with_error_message(msg())
                    })
                    .collect(),
            ),
        ),
        RequestKind::DescribeAcls(_) => ResponseKind::DescribeAcls(
            DescribeAclsResponse::default()
                .with_error_code(c)
                .with_error_message(msg()),
        ),
        RequestKind::DeleteAcls(r) => ResponseKind::DeleteAcls(
            DeleteAclsResponse::default().with_filter_results(
                r.filters
                    .iter()
                    .map(|_| {
                        DeleteAclsFilterResult::default()
                            .with_error_code(c)
                            .with_error_message(msg())
                    })
                    .collect(),
            ),
        ),
        RequestKind::DescribeConfigs(r) => ResponseKind::DescribeConfigs(
            DescribeConfigsResponse::default().with_results(
                r.resources
                    .iter()
                    .map(|res| {
                        DescribeConfigsResult::default()
                            .with_resource_type(res.resource_type)
                            .with_resource_name(res.resource_name.clone())
                            .with_error_code(c)
                            .with_error_message(msg())
                    })
                    .collect(),
            ),
        ),
        RequestKind::IncrementalAlterConfigs(r) => ResponseKind::IncrementalAlterConfigs(
            IncrementalAlterConfigsResponse::default().with_responses(
                r.resources
                    .iter()
                    .map(|res| {
                        AlterConfigsResourceResponse::default()
                            .with_resource_type(res.resource_type)
                            .with_resource_name(res.resource_name.clone())
                            .with_error_code(c)
                            .with_error_message(msg())
                    })
                    .collect(),
            ),
        ),
        RequestKind::BrokerRegistration(_) => ResponseKind::BrokerRegistration(
            BrokerRegistrationResponse::default()
                .with_error_code(c)
                .with_broker_epoch(-1),
        ),
        RequestKind::BrokerHeartbeat(_) => ResponseKind::BrokerHeartbeat(
            BrokerHeartbeatResponse::default()
                .with_error_code(c)
                .with_is_fenced(true),
        ),
        RequestKind::UnregisterBroker(_) => ResponseKind::UnregisterBroker(
            UnregisterBrokerResponse::default()
                .with_error_code(c)
                .with_error_message(msg()),
        ),
        RequestKind::DescribeCluster(_) => ResponseKind::DescribeCluster(
            DescribeClusterResponse::default()
                .with_error_code(c)
                .with_error_message(msg())
                .with_controller_id(BrokerId(-1)),
        ),
        // Metadata carries no per-call error before v13; callers add the controller id.
        RequestKind::Metadata(_) => ResponseKind::Metadata(
            MetadataResponse::default()
                .with_error_code(c)
                .with_cluster_id(None)
                .with_controller_id(BrokerId(-1)),
        ),
        RequestKind::AlterPartition(_) => ResponseKind::AlterPartition(
            kafka_protocol::messages::AlterPartitionResponse::default().with_error_code(c),
        ),
        _ => return None,
    })
}

/// The endpoint of broker `b` clients on `listener` should use: the one of that name, or the
/// first when no name is given. `None` when the broker has no such listener.
fn endpoint<'a>(
    b: &'a crate::metadata::cluster::BrokerRegistration,
    listener: Option<&str>,
) -> Option<&'a crate::metadata::record::Endpoint> {
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
                    .with_node_id(BrokerId(b.id))
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
                            .map(|r| BrokerId(*r))
                            .collect();
                        MetadataResponsePartition::default()
                            .with_error_code(if p.leader < 0 {
                                ErrorCode::LeaderNotAvailable.code()
                            } else {
                                0
                            })
                            .with_partition_index(*id)
                            .with_leader_id(BrokerId(p.leader))
                            .with_leader_epoch(p.leader_epoch)
                            .with_replica_nodes(p.replicas.iter().map(|r| BrokerId(*r)).collect())
                            .with_isr_nodes(p.isr.iter().map(|r| BrokerId(*r)).collect())
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
        .with_controller_id(BrokerId(controller_id.unwrap_or(-1)))
        .with_topics(topics)
}

/// DescribeCluster: brokers (endpoint type 1, their endpoint on `listener` as in
/// [`metadata_response`]) from the image, or the controllers (type 2, KIP-919) from the voter
/// set.
pub fn describe_cluster_response(
    image: &MetadataImage,
    cluster_id: &str,
    controller_id: Option<NodeId>,
    voters: &BTreeMap<NodeId, HostPort>,
    request: &DescribeClusterRequest,
    listener: Option<&str>,
) -> DescribeClusterResponse {
    let mut response = DescribeClusterResponse::default()
        .with_cluster_id(wire_str(cluster_id))
        .with_controller_id(BrokerId(controller_id.unwrap_or(-1)))
        .with_endpoint_type(request.endpoint_type);
    match request.endpoint_type {
        1 => {
            response.brokers = image
                .cluster
                .brokers
                .values()
                .filter(|b| !b.fenced)
                .filter_map(|b| {
                    let l = endpoint(b, listener)?;
                    Some(
                        DescribeClusterBroker::default()
                            .with_broker_id(BrokerId(b.id))
                            .with_host(wire_str(l.host.clone()))
                            .with_port(i32::from(l.port))
                            .with_rack(b.rack.clone().map(wire_str)),
                    )
                })
                .collect();
        }
        2 => {
            response.brokers = voters
                .iter()
                .map(|(id, hp)| {
                    DescribeClusterBroker::default()
                        .with_broker_id(BrokerId(*id))
                        .with_host(wire_str(hp.host.clone()))
                        .with_port(i32::from(hp.port))
                })
                .collect();
        }
        other => {
            response.error_code = ErrorCode::UnsupportedEndpointType.code();
            response.error_message = wire_message(format!("unsupported endpoint type {other}"));
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;
    use kafka_protocol::messages::*;

    use super::*;

    fn request_of(api: ApiKey) -> RequestKind {
        match api {
            ApiKey::Metadata => RequestKind::Metadata(MetadataRequest::default()),
            ApiKey::CreateTopics => RequestKind::CreateTopics(CreateTopicsRequest::default()),
            ApiKey::DeleteTopics => RequestKind::DeleteTopics(DeleteTopicsRequest::default()),
            ApiKey::CreatePartitions => {
                RequestKind::CreatePartitions(CreatePartitionsRequest::default())
            }
            ApiKey::CreateAcls => RequestKind::CreateAcls(CreateAclsRequest::default()),
            ApiKey::DescribeAcls => RequestKind::DescribeAcls(DescribeAclsRequest::default()),
            ApiKey::DeleteAcls => RequestKind::DeleteAcls(DeleteAclsRequest::default()),
            ApiKey::DescribeConfigs => {
                RequestKind::DescribeConfigs(DescribeConfigsRequest::default())
            }
            ApiKey::IncrementalAlterConfigs => {
                RequestKind::IncrementalAlterConfigs(IncrementalAlterConfigsRequest::default())
            }
            ApiKey::BrokerRegistration => {
                RequestKind::BrokerRegistration(BrokerRegistrationRequest::default())
            }
            ApiKey::BrokerHeartbeat => {
                RequestKind::BrokerHeartbeat(BrokerHeartbeatRequest::default())
            }
            ApiKey::UnregisterBroker => {
                RequestKind::UnregisterBroker(UnregisterBrokerRequest::default())
            }
            ApiKey::DescribeCluster => {
                RequestKind::DescribeCluster(DescribeClusterRequest::default())
            }
            ApiKey::AlterPartition => RequestKind::AlterPartition(AlterPartitionRequest::default()),
            other => panic!("no sample request for {other:?}"),
        }
    }

    // Some response fields refuse to encode at versions without them; every error response
    // must encode at every version the controller advertises.
    #[test]
    fn every_error_response_encodes_at_every_served_version() {
        for (api, min, max) in STATE_MACHINE_APIS {
            let request = request_of(*api);
            assert_eq!(api_of(&request), Some(*api));
            let response = error_response(&request, ErrorCode::NotController, "moved")
                .unwrap_or_else(|| panic!("{api:?} has an error response"));
            for version in *min..=(*max).min(api.valid_versions().max) {
                let mut out = BytesMut::new();
                response
                    .encode(&mut out, version)
                    .unwrap_or_else(|e| panic!("{api:?} v{version}: {e}"));
            }
        }
    }
}
