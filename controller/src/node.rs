//! A controller node, assembled: storage checks, the log, the driver, the Kafka listener and the
//! request handlers that sit between them. `metaquorum run` calls [`ControllerNode::start`] and
//! [`ControllerNode::shutdown`].

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_quorum_response::{
    self as dq, DescribeQuorumResponse, ReplicaState,
};
use kafka_protocol::messages::{ApiKey, BrokerId, DescribeQuorumRequest, RequestKind, TopicName};
use kafka_protocol::protocol::StrBytes;
use metaquorum_log::{Log, LogConfig};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::{Config, HostPort};
use crate::control::api::{ControllerCall, STATE_MACHINE_APIS};
use crate::control::controller::{ControllerSettings, QuorumController};
use crate::control::topics::TopicDefaults;
use crate::driver::{self, DriverConfig, DriverHandle, QuorumView};
use crate::net::peer::PeerSettings;
use crate::net::raft_wire::{
    decode_raft_request, encode_raft_response, raft_error_response, FETCH_VERSION_MIN,
    METADATA_TOPIC,
};
use crate::net::server::{self, ApiTable, Handler, HandlerFuture, Reply, ServerLimits};
use crate::net::wire::{decode_body, encode_response, encode_response_kind, RawRequest, WireError};
use crate::raft::segmented::SegmentedStore;
use crate::raft::{NodeId, RaftConfig, RoleKind};
use crate::snapshots::SnapshotPolicy;
use crate::storage;

/// The APIs a controller serves itself (the Raft RPCs and the quorum's own), with the versions
/// it accepts; the metadata APIs of the state machine are in [`STATE_MACHINE_APIS`].
pub const CONTROLLER_APIS: &[(ApiKey, i16, i16)] = &[
    (ApiKey::Fetch, FETCH_VERSION_MIN, 17),
    (ApiKey::ApiVersions, 0, 3),
    (ApiKey::Vote, 0, 2),
    (ApiKey::BeginQuorumEpoch, 0, 1),
    (ApiKey::EndQuorumEpoch, 0, 1),
    (ApiKey::DescribeQuorum, 0, 2),
    (ApiKey::FetchSnapshot, 0, 1),
];

/// Every API a controller serves, in ApiVersions order.
pub const CONTROLLER_API_TABLE: ApiTable = ApiTable {
    groups: &[CONTROLLER_APIS, STATE_MACHINE_APIS],
    served_by: "a controller",
};

/// The versions of `api` this node serves (capped by what the `kafka-protocol` crate knows).
pub fn served_versions(api: ApiKey) -> Option<(i16, i16)> {
    CONTROLLER_API_TABLE.versions(api)
}

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The directories are not formatted for this node.
    #[error(transparent)]
    Storage(#[from] storage::StorageError),
    /// The log could not be opened.
    #[error("opening the metadata log in {dir}: {source}")]
    Log {
        /// The directory.
        dir: String,
        /// Why.
        source: metaquorum_log::LogError,
    },
    /// The configuration cannot run a controller.
    #[error("configuration: {0}")]
    Config(String),
    /// A listener could not bind.
    #[error("binding {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// The driver could not start.
    #[error("starting the driver: {0}")]
    Driver(String),
}

/// A running controller node.
pub struct ControllerNode {
    /// The addresses the listeners are bound to.
    pub listeners: Vec<SocketAddr>,
    /// Where `/metrics` is served, if configured.
    pub metrics: Option<SocketAddr>,
    driver: DriverHandle<ControllerCall>,
    shutdown_tx: watch::Sender<bool>,
    driver_thread: Option<std::thread::JoinHandle<()>>,
}

impl ControllerNode {
    /// Checks storage, opens the log, starts the driver and binds the controller listeners.
    pub async fn start(config: &Config) -> Result<Self, NodeError> {
        Self::start_with(config, |controller| controller).await
    }

    /// [`Self::start`], with the controller's state machine wrapped by `wrap` before the driver
    /// takes it: combined mode (`process.roles=broker,controller`) hands the same committed
    /// batches to the broker's metadata this way, as Kafka shares one Raft client.
    pub async fn start_with<S, F>(config: &Config, wrap: F) -> Result<Self, NodeError>
    where
        S: driver::StateMachine<Request = ControllerCall>,
        F: FnOnce(QuorumController) -> S,
    {
        let identity = storage::check_formatted(config)?;
        let voters = voters(config)?;
        if !voters.contains_key(&config.node_id) {
            return Err(NodeError::Config(format!(
                "node.id {} is not one of the voters {:?}; a node that only follows the log is a broker (process.roles=broker)",
                config.node_id,
                voters.keys().collect::<Vec<_>>()
            )));
        }
        let (store, partition_dir) = open_metadata_log(config)?;
        let raft = raft_config(config, store.log().config().batch_bytes_max);
        let peer = peer_settings(config, &identity.cluster_id);
        let seed = random_seed();
        // Bind first: a node that cannot listen must not start voting.
        let mut bound = Vec::new();
        for l in config.controller_listeners() {
            bound.push(bind_listener(l).await?);
        }
        if bound.is_empty() {
            return Err(NodeError::Config(
                "no listener is named in controller.listener.names".into(),
            ));
        }
        let metrics = serve_metrics(config).await?;
        let bootstrap_metadata_version = match storage::read_bootstrap_metadata_version(
            config.metadata_log_dir(),
        ) {
            Ok(level) => level,
            Err(e) => {
                let (level, name) = crate::metadata::version::LATEST_PRODUCTION;
                tracing::warn!("no usable bootstrap.checkpoint ({e}); a new cluster starts at metadata.version {name}");
                level
            }
        };
        let state_machine = QuorumController::new(ControllerSettings {
            cluster_id: identity.cluster_id.clone(),
            voters: voters.clone(),
            bootstrap_metadata_version,
            broker_session_timeout_ms: config.broker_session_timeout_ms,
            idle_interval_ms: config.metadata_max_idle_interval_ms,
            snapshots: snapshot_policy(config),
            topic_defaults: TopicDefaults::default(),
            leader_balance_interval_ms: config.auto_leader_rebalance_enable.then(|| {
                config
                    .leader_imbalance_check_interval_seconds
                    .saturating_mul(1000)
            }),
        });
        let (driver, thread) = driver::start(
            DriverConfig {
                raft,
                voters: voters
                    .iter()
                    .map(|(id, hp)| (*id, hp.to_string()))
                    .collect(),
                peer,
                partition_dir,
                seed,
            },
            store,
            wrap(state_machine),
            tokio::runtime::Handle::current(),
        )
        .map_err(NodeError::Driver)?;
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let apis = Arc::new(ControllerApis {
            driver: driver.clone(),
            cluster_id: identity.cluster_id,
            voters,
        });
        let mut listeners = Vec::new();
        for l in bound {
            listeners.push(l.local_addr().map_err(|e| NodeError::Bind {
                addr: "listener".into(),
                source: e,
            })?);
            tokio::spawn(server::serve(
                l,
                Arc::clone(&apis),
                ServerLimits::default(),
                shutdown_rx.clone(),
            ));
        }
        Ok(ControllerNode {
            listeners,
            metrics,
            driver,
            shutdown_tx,
            driver_thread: Some(thread),
        })
    }

    /// The driver, to hand requests to the state machine.
    pub fn driver(&self) -> &DriverHandle<ControllerCall> {
        &self.driver
    }

    /// Resigns leadership (EndQuorumEpoch), stops the listeners and the driver.
    pub async fn shutdown(mut self) {
        self.driver.shutdown().await;
        let _ = self.shutdown_tx.send(true);
        if let Some(t) = self.driver_thread.take() {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
    }
}

/// When this node snapshots its image, and what retention keeps: the
/// `metadata.log.max.*` and `metadata.max.retention.*` keys.
pub fn snapshot_policy(config: &Config) -> SnapshotPolicy {
    SnapshotPolicy {
        bytes_max: config.metadata_log_max_record_bytes_between_snapshots,
        interval_ms: config.metadata_log_max_snapshot_interval_ms,
        retention: metaquorum_log::Retention {
            bytes_max: config.metadata_max_retention_bytes,
            ms: config.metadata_max_retention_ms,
        },
    }
}

/// Binds a listener (`host` empty: every interface).
pub async fn bind_listener(l: &crate::config::Listener) -> Result<TcpListener, NodeError> {
    let host = if l.host.is_empty() {
        "0.0.0.0"
    } else {
        &l.host
    };
    let addr = format!("{host}:{}", l.port);
    TcpListener::bind(&addr)
        .await
        .map_err(|e| NodeError::Bind { addr, source: e })
}

/// Serves `/metrics` on `metrics.prometheus.listener`, if set; returns the bound address.
pub async fn serve_metrics(config: &Config) -> Result<Option<SocketAddr>, NodeError> {
    let Some(addr) = config.metrics_prometheus_listener else {
        return Ok(None);
    };
    crate::metrics::serve(addr, crate::metrics::install())
        .await
        .map(Some)
        .map_err(|e| NodeError::Bind {
            addr: addr.to_string(),
            source: e,
        })
}

/// Opens `<metadata.log.dir>/__cluster_metadata-0` with the configured segment size; returns
/// the store and the partition directory.
pub fn open_metadata_log(
    config: &Config,
) -> Result<(SegmentedStore, std::path::PathBuf), NodeError> {
    let partition_dir = config
        .metadata_log_dir()
        .join(format!("{METADATA_TOPIC}-0"));
    // A batch must fit in a segment; tests run with tiny segments.
    let batch_bytes_max = LogConfig::default()
        .batch_bytes_max
        .min(usize::try_from(config.metadata_log_segment_bytes).unwrap_or(usize::MAX));
    let log_config = LogConfig {
        segment_bytes_max: config.metadata_log_segment_bytes,
        batch_bytes_max,
        ..LogConfig::default()
    };
    let (log, report) = Log::open(&partition_dir, log_config).map_err(|e| NodeError::Log {
        dir: partition_dir.display().to_string(),
        source: e,
    })?;
    tracing::info!(
        "opened the metadata log in {}: offsets {}..{} ({:?})",
        partition_dir.display(),
        log.log_start_offset(),
        log.end_offset(),
        report.tail
    );
    Ok((SegmentedStore::new(log), partition_dir))
}

/// The Raft core's settings from the `controller.quorum.*` keys.
pub fn raft_config(config: &Config, batch_bytes_max: usize) -> RaftConfig {
    let mut raft = RaftConfig::new(config.node_id);
    raft.batch_bytes_max = raft.batch_bytes_max.min(batch_bytes_max);
    raft.election_timeout_ms = config.controller_quorum_election_timeout_ms;
    raft.fetch_timeout_ms = config.controller_quorum_fetch_timeout_ms;
    raft.election_backoff_max_ms = config.controller_quorum_election_backoff_max_ms;
    raft.request_timeout_ms = config.controller_quorum_request_timeout_ms;
    raft.retry_backoff_ms = config.controller_quorum_retry_backoff_ms;
    raft
}

/// Settings of this node's connections to the voters.
pub fn peer_settings(config: &Config, cluster_id: &str) -> PeerSettings {
    PeerSettings {
        cluster_id: cluster_id.to_string(),
        client_id: format!("raft-client-{}", config.node_id),
        connect_timeout_ms: config.controller_quorum_request_timeout_ms,
        retry_backoff_ms: config.controller_quorum_retry_backoff_ms,
        response_timeout_ms: raft_config(config, usize::MAX).fetch_request_timeout_ms(),
    }
}

/// A seed for the core's election jitter.
pub fn random_seed() -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&uuid::Uuid::new_v4().as_bytes()[..8]);
    u64::from_le_bytes(b)
}

/// The voters and their addresses: `controller.quorum.voters`, else the VotersRecord written by
/// `storage format --standalone/--initial-controllers`.
pub fn voters(config: &Config) -> Result<BTreeMap<NodeId, HostPort>, NodeError> {
    if !config.controller_quorum_voters.is_empty() {
        return Ok(config
            .controller_quorum_voters
            .iter()
            .map(|v| {
                let hp = HostPort {
                    host: v.host.clone(),
                    port: v.port,
                };
                (v.id, hp)
            })
            .collect());
    }
    let dir = config
        .metadata_log_dir()
        .join(format!("{METADATA_TOPIC}-0"));
    let voters = storage::read_bootstrap_voters(&dir)?;
    let mut out = BTreeMap::new();
    for v in voters {
        let endpoint = v.endpoints.first().ok_or_else(|| {
            NodeError::Config(format!(
                "voter {} has no endpoint in the VotersRecord",
                v.id
            ))
        })?;
        let addr = endpoint
            .split_once("://")
            .map_or(endpoint.as_str(), |(_, a)| a);
        let hp = HostPort::parse(addr)
            .map_err(|e| NodeError::Config(format!("voter {} endpoint {endpoint}: {e}", v.id)))?;
        out.insert(v.id, hp);
    }
    if out.is_empty() {
        return Err(NodeError::Config(
            "no voters: set controller.quorum.voters or format with --standalone / --initial-controllers".into(),
        ));
    }
    Ok(out)
}

/// The request handlers of a controller listener.
struct ControllerApis {
    driver: DriverHandle<ControllerCall>,
    cluster_id: String,
    voters: BTreeMap<NodeId, HostPort>,
}

impl Handler for ControllerApis {
    fn handle(&self, request: RawRequest, peer: SocketAddr) -> HandlerFuture {
        if let Some(reply) = CONTROLLER_API_TABLE.gate(&request, peer) {
            return Box::pin(async move { reply });
        }
        let api = request.api;
        match api {
            ApiKey::DescribeQuorum => {
                let driver = self.driver.clone();
                let voters = self.voters.clone();
                Box::pin(async move { describe_quorum(driver, voters, request, peer).await })
            }
            _ if STATE_MACHINE_APIS.iter().any(|(k, _, _)| *k == api) => {
                let driver = self.driver.clone();
                Box::pin(async move { state_machine_rpc(driver, request, peer).await })
            }
            _ => {
                let driver = self.driver.clone();
                let cluster_id = self.cluster_id.clone();
                Box::pin(async move { raft_rpc(driver, cluster_id, request, peer).await })
            }
        }
    }
}

fn respond(bytes: Result<Bytes, WireError>) -> Reply {
    match bytes {
        Ok(b) => Reply::Respond(b),
        Err(e) => Reply::Close(format!("cannot encode the response: {e}")),
    }
}

async fn raft_rpc(
    driver: DriverHandle<ControllerCall>,
    cluster_id: String,
    request: RawRequest,
    peer: SocketAddr,
) -> Reply {
    let (api, version, cid) = (request.api, request.version, request.correlation_id);
    let inbound = match decode_raft_request(api, version, request.body) {
        Ok(r) => r,
        Err(e) => return Reply::Close(format!("{peer}: {e}")),
    };
    if inbound
        .cluster_id
        .as_deref()
        .is_some_and(|c| c != cluster_id)
    {
        tracing::warn!(
            "{peer} (node {}) sent {api:?} for cluster {:?}; this is {cluster_id}",
            inbound.from,
            inbound.cluster_id
        );
        return respond(raft_error_response(
            api,
            version,
            cid,
            ResponseError::InconsistentClusterId,
        ));
    }
    match driver.raft_request(inbound.from, inbound.message).await {
        Ok(message) => respond(encode_raft_response(api, version, cid, &message)),
        Err(e) => {
            tracing::debug!("{api:?} from {peer}: {e}");
            respond(raft_error_response(
                api,
                version,
                cid,
                ResponseError::NotLeaderOrFollower,
            ))
        }
    }
}

async fn describe_quorum(
    driver: DriverHandle<ControllerCall>,
    voters: BTreeMap<NodeId, HostPort>,
    request: RawRequest,
    peer: SocketAddr,
) -> Reply {
    let (version, cid) = (request.version, request.correlation_id);
    let mut body = request.body;
    let req: DescribeQuorumRequest = match decode_body("DescribeQuorumRequest", &mut body, version)
    {
        Ok(r) => r,
        Err(e) => return Reply::Close(format!("{peer}: {e}")),
    };
    let asks_metadata = req.topics.iter().any(|t| {
        t.topic_name.0.as_str() == METADATA_TOPIC
            && t.partitions.iter().any(|p| p.partition_index == 0)
    });
    let response = match driver.describe_quorum().await {
        Ok(view) if asks_metadata => describe_quorum_response(&view, &voters),
        Ok(_) => DescribeQuorumResponse::default()
            .with_error_code(ResponseError::UnknownTopicOrPartition.code()),
        Err(_) => DescribeQuorumResponse::default()
            .with_error_code(ResponseError::NotLeaderOrFollower.code()),
    };
    respond(encode_response(
        "DescribeQuorumResponse",
        cid,
        version,
        &response,
    ))
}

/// Decodes a metadata API request into the state machine's form.
pub fn decode_state_machine_request(request: RawRequest) -> Result<RequestKind, WireError> {
    let (api, version, mut b) = (request.api, request.version, request.body);
    let b = &mut b;
    Ok(match api {
        ApiKey::Metadata => {
            let mut r: kafka_protocol::messages::MetadataRequest =
                decode_body("MetadataRequest", b, version)?;
            // Metadata v0 has no null list: an empty one means every topic.
            if version == 0 && r.topics.as_ref().is_some_and(|t| t.is_empty()) {
                r.topics = None;
            }
            RequestKind::Metadata(r)
        }
        ApiKey::CreateTopics => {
            RequestKind::CreateTopics(decode_body("CreateTopicsRequest", b, version)?)
        }
        ApiKey::DeleteTopics => {
            RequestKind::DeleteTopics(decode_body("DeleteTopicsRequest", b, version)?)
        }
        ApiKey::CreatePartitions => {
            RequestKind::CreatePartitions(decode_body("CreatePartitionsRequest", b, version)?)
        }
        ApiKey::CreateAcls => {
            RequestKind::CreateAcls(decode_body("CreateAclsRequest", b, version)?)
        }
        ApiKey::DescribeAcls => {
            RequestKind::DescribeAcls(decode_body("DescribeAclsRequest", b, version)?)
        }
        ApiKey::DeleteAcls => {
            RequestKind::DeleteAcls(decode_body("DeleteAclsRequest", b, version)?)
        }
        ApiKey::DescribeConfigs => {
            RequestKind::DescribeConfigs(decode_body("DescribeConfigsRequest", b, version)?)
        }
        ApiKey::IncrementalAlterConfigs => RequestKind::IncrementalAlterConfigs(decode_body(
            "IncrementalAlterConfigsRequest",
            b,
            version,
        )?),
        ApiKey::BrokerRegistration => {
            RequestKind::BrokerRegistration(decode_body("BrokerRegistrationRequest", b, version)?)
        }
        ApiKey::BrokerHeartbeat => {
            RequestKind::BrokerHeartbeat(decode_body("BrokerHeartbeatRequest", b, version)?)
        }
        ApiKey::UnregisterBroker => {
            RequestKind::UnregisterBroker(decode_body("UnregisterBrokerRequest", b, version)?)
        }
        ApiKey::DescribeCluster => {
            RequestKind::DescribeCluster(decode_body("DescribeClusterRequest", b, version)?)
        }
        ApiKey::AlterPartition => {
            RequestKind::AlterPartition(decode_body("AlterPartitionRequest", b, version)?)
        }
        other => return Err(WireError::UnknownApiKey(other as i16)),
    })
}

/// Hands a metadata API request to the state machine and encodes its answer.
async fn state_machine_rpc(
    driver: DriverHandle<ControllerCall>,
    request: RawRequest,
    peer: SocketAddr,
) -> Reply {
    let (api, version, cid) = (request.api, request.version, request.correlation_id);
    let decoded = match decode_state_machine_request(request) {
        Ok(r) => r,
        Err(e) => return Reply::Close(format!("{peer}: {e}")),
    };
    let (reply, rx) = tokio::sync::oneshot::channel();
    let call = ControllerCall {
        request: decoded,
        version,
        reply,
    };
    let response = match driver.state_machine(call) {
        Ok(()) => rx.await.ok(),
        Err(e) => {
            tracing::debug!("{api:?} from {peer}: {e}");
            None
        }
    };
    match response {
        Some(r) => respond(encode_response_kind(api, cid, version, &r)),
        None => Reply::Close(format!(
            "{peer}: the controller is shutting down or overloaded"
        )),
    }
}

/// Builds a DescribeQuorum response from a node's view. Every node answers; only the leader
/// knows its followers' offsets and fetch times (others report -1).
pub fn describe_quorum_response(
    view: &QuorumView,
    voters: &BTreeMap<NodeId, HostPort>,
) -> DescribeQuorumResponse {
    let ts = |ms: Option<u64>| ms.map_or(-1, |m| view.wall_ms_at_zero + m as i64);
    let replica = |r: &crate::raft::ReplicaInfo| {
        ReplicaState::default()
            .with_replica_id(BrokerId(r.replica_id))
            .with_log_end_offset(r.log_end_offset.unwrap_or(-1))
            .with_last_fetch_timestamp(ts(r.last_fetch_ms))
            .with_last_caught_up_timestamp(ts(r.last_caught_up_ms))
    };
    let p = dq::PartitionData::default()
        .with_partition_index(0)
        .with_leader_id(BrokerId(view.info.leader_id.unwrap_or(-1)))
        .with_leader_epoch(view.info.leader_epoch)
        .with_high_watermark(
            if view.role == RoleKind::Leader || view.info.leader_id.is_some() {
                view.info.high_watermark
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
                .with_node_id(BrokerId(*id))
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
