//! The start-up steps of a node that a controller and a broker share: opening the metadata
//! log, binding listeners and `/metrics`, and the Raft and peer settings from the configuration.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use metaquorum_log::{Log, LogConfig};
use tokio::net::TcpListener;

use crate::config::{Config, HostPort};
use crate::net::peer::PeerSettings;
use crate::net::raft_wire::METADATA_TOPIC;
use crate::raft::segmented::SegmentedStore;
use crate::raft::{NodeId, RaftConfig};
use crate::snapshots::SnapshotPolicy;
use crate::storage;

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
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
    /// The node or its shell could not start (snapshot load, quorum-state read, threads).
    #[error("starting the node: {0}")]
    Node(String),
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
pub async fn bind_listener(l: &crate::config::Listener) -> Result<TcpListener, StartError> {
    let host = if l.host.is_empty() {
        "0.0.0.0"
    } else {
        &l.host
    };
    let addr = format!("{host}:{}", l.port);
    TcpListener::bind(&addr)
        .await
        .map_err(|e| StartError::Bind { addr, source: e })
}

/// Serves `/metrics` on `metrics.prometheus.listener`, if set; returns the bound address.
pub async fn serve_metrics(config: &Config) -> Result<Option<SocketAddr>, StartError> {
    let Some(addr) = config.metrics_prometheus_listener else {
        return Ok(None);
    };
    crate::metrics::serve(addr, crate::metrics::install())
        .await
        .map(Some)
        .map_err(|e| StartError::Bind {
            addr: addr.to_string(),
            source: e,
        })
}

/// Opens `<metadata.log.dir>/__cluster_metadata-0` with the configured segment size; returns
/// the store and the partition directory.
fn open_metadata_log(config: &Config) -> Result<(SegmentedStore, std::path::PathBuf), StartError> {
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
    let (log, report) = Log::open(&partition_dir, log_config).map_err(|e| StartError::Log {
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

/// Everything the shell needs besides the store and the state machine, from the
/// configuration: the Raft settings for a log whose batches are at most `batch_bytes_max`, the
/// voters' addresses, the peer settings and a fresh seed (used by [`start_node`]).
fn shell_config(
    config: &Config,
    cluster_id: &str,
    voters: &BTreeMap<NodeId, HostPort>,
    partition_dir: std::path::PathBuf,
    batch_bytes_max: usize,
) -> crate::shell::ShellConfig {
    crate::shell::ShellConfig {
        raft: raft_config(config, batch_bytes_max),
        voters: voters
            .iter()
            .map(|(id, hp)| (*id, hp.to_string()))
            .collect(),
        peer: peer_settings(config, cluster_id),
        partition_dir,
        seed: random_seed(),
    }
}

/// The one start-up of every node's Raft side (controller, broker-only or combined): opens the
/// metadata log (recovering its tail) and starts the shell over it, driving `state_machine`.
/// Returns the shell's handle and thread.
pub fn start_node<S>(
    config: &Config,
    cluster_id: &str,
    voters: &BTreeMap<NodeId, HostPort>,
    state_machine: S,
) -> Result<
    (
        crate::shell::ShellHandle<S::Request>,
        std::thread::JoinHandle<()>,
    ),
    StartError,
>
where
    S: crate::node::StateMachine + Send,
    S::Request: Send,
{
    let (store, partition_dir) = open_metadata_log(config)?;
    let batch_bytes_max = store.log().config().batch_bytes_max;
    let settings = shell_config(config, cluster_id, voters, partition_dir, batch_bytes_max);
    crate::shell::start(
        settings,
        store,
        state_machine,
        tokio::runtime::Handle::current(),
    )
    .map_err(StartError::Node)
}

/// A seed for the core's election jitter.
pub fn random_seed() -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&uuid::Uuid::new_v4().as_bytes()[..8]);
    u64::from_le_bytes(b)
}

/// The voters and their addresses: `controller.quorum.voters`, else the VotersRecord written by
/// `storage format --standalone/--initial-controllers`.
pub fn voters(config: &Config) -> Result<BTreeMap<NodeId, HostPort>, StartError> {
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
    let voters = storage::read_bootstrap_voters(config.metadata_log_dir())?;
    let mut out = BTreeMap::new();
    for v in voters {
        let endpoint = v.endpoints.first().ok_or_else(|| {
            StartError::Config(format!(
                "voter {} has no endpoint in the VotersRecord",
                v.id
            ))
        })?;
        let addr = endpoint
            .split_once("://")
            .map_or(endpoint.as_str(), |(_, a)| a);
        let hp = HostPort::parse(addr)
            .map_err(|e| StartError::Config(format!("voter {} endpoint {endpoint}: {e}", v.id)))?;
        out.insert(NodeId(v.id), hp);
    }
    if out.is_empty() {
        return Err(StartError::Config(
            "no voters: set controller.quorum.voters or format with --standalone / --initial-controllers".into(),
        ));
    }
    Ok(out)
}
