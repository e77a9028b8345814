//! A controller server, assembled: storage checks, the log, the node's shell, the Kafka listener.
//! `metaquorum run` calls [`ControllerServer::start`] and [`ControllerServer::shutdown`]; the
//! broker shim's combined mode starts it with [`ControllerServer::start_with`].
//!
//! - [`setup`]: the start-up steps a broker shares (log, listeners, metrics, Raft settings);
//! - [`handlers`]: the controller listener's handler, routing each request by the API
//!   registry ([`crate::apis`]) to the node.

pub mod handlers;
pub mod setup;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::watch;

use crate::config::Config;
use crate::control::controller::{ControllerRequest, ControllerSettings, QuorumController};
use crate::control::topics::TopicDefaults;
use crate::control::zk::ZkSettings;
use crate::net::server::{self, ServerLimits};
use crate::shell::ShellHandle;
use crate::storage;
use crate::zk::feed::ZkFeed;
use crate::zk::{ZkFrontSettings, ZkSink};

use handlers::ControllerApis;
use setup::{
    bind_listener, random_seed, serve_metrics, snapshot_policy, start_node, voters, StartError,
};

/// A running controller server.
pub struct ControllerServer {
    /// The addresses the listeners are bound to.
    pub listeners: Vec<SocketAddr>,
    /// Where `/metrics` is served, if configured.
    pub metrics: Option<SocketAddr>,
    /// Where ZooKeeper clients connect, if the front is on.
    pub zookeeper: Option<SocketAddr>,
    shell: ShellHandle<ControllerRequest>,
    shutdown_tx: watch::Sender<bool>,
    shell_thread: Option<std::thread::JoinHandle<()>>,
}

impl ControllerServer {
    /// Checks storage, opens the log, starts the shell and binds the controller listeners.
    pub async fn start(config: &Config) -> Result<Self, StartError> {
        Self::start_with(config, |controller| controller).await
    }

    /// [`Self::start`], with the controller's state machine wrapped by `wrap` before the shell
    /// takes it: combined mode (`process.roles=broker,controller`) hands the same committed
    /// batches to the broker's metadata this way, as Kafka shares one Raft client.
    pub async fn start_with<S, F>(config: &Config, wrap: F) -> Result<Self, StartError>
    where
        S: crate::node::StateMachine<Request = ControllerRequest> + Send,
        F: FnOnce(QuorumController) -> S,
    {
        let identity = storage::check_formatted(config)?;
        let voters = voters(config)?;
        if !voters.contains_key(&config.node_id) {
            return Err(StartError::Config(format!(
                "node.id {} is not one of the voters {:?}; a node that only follows the log is a broker (process.roles=broker)",
                config.node_id,
                voters.keys().collect::<Vec<_>>()
            )));
        }
        // Bind first: a node that cannot listen must not start voting.
        let mut bound = Vec::new();
        for l in config.controller_listeners() {
            bound.push(bind_listener(l).await?);
        }
        if bound.is_empty() {
            return Err(StartError::Config(
                "no listener is named in controller.listener.names".into(),
            ));
        }
        let zk_listener =
            match &config.zookeeper_front {
                Some(zk) => Some(tokio::net::TcpListener::bind(zk.listener).await.map_err(
                    |e| StartError::Bind {
                        addr: format!("zookeeper.front.listener {}", zk.listener),
                        source: e,
                    },
                )?),
                None => None,
            };
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
        let state_machine = QuorumController::new(
            ControllerSettings {
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
            },
            random_seed(),
        );
        let zk_feed = ZkFeed::new();
        let state_machine = match &config.zookeeper_front {
            Some(zk) => state_machine
                .with_zk(ZkSettings {
                    extended_types: zk.extended_types,
                    container_check_interval_ms: zk.container_check_interval_ms,
                    container_max_per_minute: zk.container_max_per_minute,
                })
                .with_zk_feed(zk_feed.clone()),
            None => state_machine,
        };
        let (shell, thread) =
            start_node(config, &identity.cluster_id, &voters, wrap(state_machine))?;
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let mut zookeeper = None;
        if let (Some(listener), Some(zk)) = (zk_listener, &config.zookeeper_front) {
            zookeeper = Some(listener.local_addr().map_err(|e| StartError::Bind {
                addr: "zookeeper.front.listener".into(),
                source: e,
            })?);
            let settings = ZkFrontSettings {
                listener: zookeeper.unwrap_or(zk.listener),
                limits: zk.limits,
                max_client_cnxns: usize::try_from(zk.max_client_cnxns).unwrap_or(usize::MAX),
                frame_bytes_max: usize::try_from(zk.jute_maxbuffer).unwrap_or(usize::MAX),
                four_letter_words: zk.four_letter_words.clone(),
                super_digest: zk.super_digest.clone(),
                node_id: config.node_id.into(),
            };
            let sink_shell = shell.clone();
            let sink: ZkSink = Arc::new(move |call| {
                sink_shell
                    .state_machine(ControllerRequest::Zk(call))
                    .map_err(|e| e.to_string())
            });
            tokio::spawn(crate::zk::listener::serve(
                listener,
                settings,
                zk_feed,
                sink,
                shutdown_rx.clone(),
            ));
        }
        let apis = Arc::new(ControllerApis {
            shell: shell.clone(),
            cluster_id: identity.cluster_id,
            voters,
        });
        let mut listeners = Vec::new();
        for l in bound {
            listeners.push(l.local_addr().map_err(|e| StartError::Bind {
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
        Ok(ControllerServer {
            listeners,
            metrics,
            zookeeper,
            shell,
            shutdown_tx,
            shell_thread: Some(thread),
        })
    }

    /// The shell, to hand requests to the state machine.
    pub fn shell(&self) -> &ShellHandle<ControllerRequest> {
        &self.shell
    }

    /// Resigns leadership (EndQuorumEpoch), stops the listeners and the shell.
    pub async fn shutdown(mut self) {
        self.shell.shutdown().await;
        let _ = self.shutdown_tx.send(true);
        if let Some(t) = self.shell_thread.take() {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
    }
}
