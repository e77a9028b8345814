//! The broker's Kafka client listener: what kcat, kafka-python and librdkafka talk to.
//!
//! Answered from the broker's own image, as a Kafka broker answers them: ApiVersions,
//! Metadata (unfenced brokers on this listener, a broker as controller id, topics, partitions,
//! leaders, ISR, topic ids), DescribeCluster, DescribeConfigs and DescribeAcls. Forwarded to
//! the active controller (Kafka's request forwarding, KIP-590): CreateTopics, DeleteTopics,
//! CreatePartitions, CreateAcls, DeleteAcls and IncrementalAlterConfigs, at the client's
//! version, with the controller's answer (and Kafka's error codes) passed back.
//!
//! As in Kafka's KRaft mode, clients never see the controllers: Metadata and DescribeCluster
//! name a broker as the "controller" (this one when it is unfenced), and that broker forwards.

use metaquorum_log::NodeId;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::{RequestKind, ResponseKind};
use metaquorum_controller::apis::describe_acls::describe_acls;
use metaquorum_controller::apis::describe_cluster::describe_cluster_response;
use metaquorum_controller::apis::describe_configs::describe_configs;
use metaquorum_controller::apis::metadata::metadata_response;
use metaquorum_controller::apis::{
    decode_metadata_request, metadata_api, OnBroker, BROKER_API_TABLE,
};
use metaquorum_controller::control::errors::ErrorCode;
use metaquorum_controller::control::outcome::wire_message;
use metaquorum_controller::metadata::image::MetadataImage;
use metaquorum_controller::net::server::{Handler, HandlerFuture, Reply};
use metaquorum_controller::net::wire::{encode_response_kind, RawRequest};
use tokio::sync::{watch, Mutex};

use crate::channel::{forwarding_error, ControllerChannel};

/// Bits of the ACL operations a topic supports (READ 3, WRITE 4, CREATE 5, DELETE 6,
/// ALTER 7, DESCRIBE 8, DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11): what a broker without an
/// authorizer reports as allowed.
const TOPIC_OPERATIONS_ALL: i32 =
    (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 10) | (1 << 11);
/// The same for the cluster resource (CREATE 5, ALTER 7, DESCRIBE 8, CLUSTER_ACTION 9,
/// DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11, IDEMPOTENT_WRITE 12, CREATE_TOKENS 13,
/// DESCRIBE_TOKENS 14).
const CLUSTER_OPERATIONS_ALL: i32 = (1 << 5)
    | (1 << 7)
    | (1 << 8)
    | (1 << 9)
    | (1 << 10)
    | (1 << 11)
    | (1 << 12)
    | (1 << 13)
    | (1 << 14);

/// A forwarded request waits this long for the active controller at most (Kafka's default
/// `request.timeout.ms` for admin clients is 30 s).
const FORWARD_TIMEOUT: Duration = Duration::from_secs(30);

/// The handlers of one client listener.
pub struct BrokerApis {
    /// This broker's id.
    pub broker_id: NodeId,
    /// The cluster id.
    pub cluster_id: String,
    /// The listener name (brokers are described by their endpoint of this name).
    pub listener_name: String,
    /// The newest image.
    pub image: watch::Receiver<MetadataImage>,
    /// The connection admin requests are forwarded over.
    pub forward: Arc<Mutex<ControllerChannel>>,
}

impl BrokerApis {
    /// The broker clients are told is the controller: this one when unfenced, else the lowest
    /// unfenced broker (-1 if none).
    fn controller_id(&self, image: &MetadataImage) -> NodeId {
        match image.broker(self.broker_id) {
            Some(b) if !b.fenced => self.broker_id,
            _ => image
                .unfenced_brokers()
                .map(|b| b.id)
                .min()
                .unwrap_or(NodeId::NONE),
        }
    }

    fn local(&self, request: &RequestKind) -> Option<ResponseKind> {
        let image = self.image.borrow().clone();
        Some(match request {
            RequestKind::Metadata(r) => {
                let mut m = metadata_response(
                    &image,
                    &self.cluster_id,
                    Some(self.controller_id(&image)),
                    r,
                    Some(&self.listener_name),
                );
                if r.include_topic_authorized_operations {
                    // No authorizer: everything a topic offers is allowed, as in Kafka.
                    for t in &mut m.topics {
                        t.topic_authorized_operations = TOPIC_OPERATIONS_ALL;
                    }
                }
                if r.include_cluster_authorized_operations {
                    m.cluster_authorized_operations = CLUSTER_OPERATIONS_ALL;
                }
                ResponseKind::Metadata(m)
            }
            RequestKind::DescribeCluster(r) => {
                let mut d = describe_cluster_response(
                    &image,
                    &self.cluster_id,
                    Some(self.controller_id(&image)),
                    &Default::default(),
                    r,
                    Some(&self.listener_name),
                );
                if r.endpoint_type == 2 {
                    // KIP-919: a broker does not describe the controllers.
                    d.error_code = ErrorCode::UnsupportedEndpointType.code();
                    d.error_message = wire_message("The broker does not serve controller endpoints; use --bootstrap-controller.");
                    d.brokers.clear();
                }
                ResponseKind::DescribeCluster(d)
            }
            RequestKind::DescribeConfigs(r) => {
                ResponseKind::DescribeConfigs(describe_configs(&image, r))
            }
            RequestKind::DescribeAcls(r) => ResponseKind::DescribeAcls(describe_acls(&image, r)),
            _ => return None,
        })
    }
}

fn respond(bytes: Result<Bytes, metaquorum_controller::net::wire::WireError>) -> Reply {
    match bytes {
        Ok(b) => Reply::Respond(b),
        Err(e) => Reply::Close(format!("cannot encode the response: {e}")),
    }
}

/// Handles one client listener's requests.
pub struct ClientListener(pub Arc<BrokerApis>);

impl Handler for ClientListener {
    fn handle(&self, request: RawRequest, peer: SocketAddr) -> HandlerFuture {
        if let Some(reply) = BROKER_API_TABLE.gate(&request, peer) {
            return Box::pin(async move { reply });
        }
        let api = request.api;
        let (version, cid) = (request.version, request.correlation_id);
        let decoded = match decode_metadata_request(request) {
            Ok(r) => r,
            Err(e) => {
                let why = format!("{peer}: {e}");
                return Box::pin(async move { Reply::Close(why) });
            }
        };
        if metadata_api(api).is_some_and(|m| m.on_broker() == OnBroker::Local) {
            let reply = match self.0.local(&decoded) {
                Some(response) => respond(encode_response_kind(api, cid, version, &response)),
                None => Reply::Close(format!("{peer}: {api:?} has no local handler")),
            };
            return Box::pin(async move { reply });
        }
        let apis = Arc::clone(&self.0);
        Box::pin(async move {
            let answer = {
                let mut channel = apis.forward.lock().await;
                channel.call(api, version, &decoded, FORWARD_TIMEOUT).await
            };
            let response = match answer {
                Ok(r) => Some(r),
                Err(e) => {
                    tracing::info!("forwarding {api:?} from {peer}: {e}");
                    forwarding_error(&decoded, &e)
                }
            };
            match response {
                Some(r) => respond(encode_response_kind(api, cid, version, &r)),
                None => Reply::Close(format!("{peer}: {api:?} cannot be forwarded")),
            }
        })
    }
}
