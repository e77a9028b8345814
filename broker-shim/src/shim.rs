//! [`BrokerShim`]: a broker's membership in a metaquorum cluster, assembled. `start` reads the
//! node's configuration and, by `process.roles`, either follows the metadata log as a Raft
//! observer with its own log directory and snapshots (`broker`), or shares the controller's
//! Raft shell (`broker,controller`, combined mode). Either way it then binds the client
//! listeners, serves `/metrics` and runs the lifecycle with the active controller.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use metaquorum_controller::config::Config;
use metaquorum_controller::metadata::image::MetadataImage;
use metaquorum_controller::net::server::{self, ServerLimits};
use metaquorum_controller::server::setup::{
    bind_listener, serve_metrics, snapshot_policy, start_node, voters, StartError,
};
use metaquorum_controller::server::ControllerServer;
use metaquorum_controller::shell::ShellHandle;
use metaquorum_controller::storage;
use tokio::sync::{watch, Mutex};
use tokio::task::JoinHandle;

use crate::channel::ControllerChannel;
use crate::follower::{BrokerMetadata, Combined};
use crate::isr::IsrExpander;
use crate::lifecycle::{BrokerState, Lifecycle, LifecycleError, LifecycleSettings};
use crate::listener::{BrokerApis, ClientListener};
use crate::publisher::{MetadataPublisher, MetadataSubscription};
use metaquorum_log::NodeId;

/// How long a controlled shutdown may wait for the controller to move leaderships away.
pub const CONTROLLED_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// Choices a host broker makes when it links the shim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShimOptions {
    /// Take every serving replica back into the ISR of the partitions this broker leads
    /// ([`crate::isr`]): right for a broker without a data plane (the `metaquorum` binary);
    /// a host broker with real replication turns it off and sends AlterPartition itself.
    pub metadata_only_isr: bool,
}

impl Default for ShimOptions {
    fn default() -> Self {
        ShimOptions {
            metadata_only_isr: true,
        }
    }
}

/// Why a broker could not start.
#[derive(Debug, thiserror::Error)]
pub enum ShimError {
    /// Storage, log, listener or shell trouble (shared with controllers).
    #[error(transparent)]
    Node(#[from] StartError),
    /// The configuration cannot run a broker.
    #[error("configuration: {0}")]
    Config(String),
}

/// What runs the Raft side of this broker.
enum Raft {
    /// A broker-only node: an observer core of its own.
    Observer {
        shell: ShellHandle<std::convert::Infallible>,
        thread: Option<std::thread::JoinHandle<()>>,
    },
    /// A combined node: the controller's shell.
    Combined(ControllerServer),
}

/// A running broker shim; see the module documentation.
pub struct BrokerShim {
    /// This broker's id.
    pub broker_id: NodeId,
    /// The client listeners' bound addresses, with their names.
    pub listeners: Vec<(String, SocketAddr)>,
    /// Where `/metrics` is served, if configured.
    pub metrics: Option<SocketAddr>,
    /// The controller listeners (combined mode only).
    pub controller_listeners: Vec<SocketAddr>,
    publisher: MetadataPublisher,
    state: watch::Receiver<BrokerState>,
    shutdown_request: watch::Sender<bool>,
    lifecycle: Option<JoinHandle<Result<(), LifecycleError>>>,
    isr: Option<JoinHandle<()>>,
    stop_listeners: watch::Sender<bool>,
    raft: Option<Raft>,
}

impl BrokerShim {
    /// Starts a broker (or combined) node from its configuration, with default options.
    pub async fn start(config: &Config) -> Result<Self, ShimError> {
        Self::start_with(config, ShimOptions::default()).await
    }

    /// Starts a broker (or combined) node from its configuration.
    pub async fn start_with(config: &Config, options: ShimOptions) -> Result<Self, ShimError> {
        if !config.process_roles.broker {
            return Err(ShimError::Config(format!(
                "process.roles={} has no broker role",
                config.process_roles
            )));
        }
        let identity = storage::check_formatted(config).map_err(StartError::from)?;
        let voters = voters(config)?;
        let publisher = MetadataPublisher::new();
        // Client listeners are bound first: a broker that cannot listen must not register.
        let mut bound = Vec::new();
        for l in &config.listeners {
            if config.controller_listener_names.contains(&l.name) {
                continue;
            }
            bound.push((l.name.clone(), bind_listener(l).await?));
        }
        if bound.is_empty() {
            return Err(ShimError::Config(
                "no client listener: `listeners` names only controller listeners".into(),
            ));
        }
        let (raft, health, metrics, controller_listeners) = if config.process_roles.controller {
            let broker = BrokerMetadata::new(publisher.clone(), None);
            let health = broker.health();
            let node = ControllerServer::start_with(config, move |controller| {
                Combined::new(controller, broker)
            })
            .await?;
            let metrics = node.metrics;
            let listeners = node.listeners.clone();
            (Raft::Combined(node), health, metrics, listeners)
        } else {
            let broker = BrokerMetadata::new(publisher.clone(), Some(snapshot_policy(config)));
            let health = broker.health();
            let metrics = serve_metrics(config).await?;
            let (shell, thread) = start_node(config, &identity.cluster_id, &voters, broker)?;
            (
                Raft::Observer {
                    shell,
                    thread: Some(thread),
                },
                health,
                metrics,
                Vec::new(),
            )
        };
        let request_timeout_ms = config.controller_quorum_request_timeout_ms;
        // One connection to the active controller per purpose, named in its client id.
        let channel = |purpose: &str| {
            ControllerChannel::new(
                voters.clone(),
                format!("broker-{}-{purpose}", config.node_id),
                request_timeout_ms,
            )
        };
        let forward = Arc::new(Mutex::new(channel("forwarding")));
        let (stop_listeners, stop_rx) = watch::channel(false);
        let mut listeners = Vec::new();
        for (name, l) in bound {
            let addr = l.local_addr().map_err(|e| StartError::Bind {
                addr: name.clone(),
                source: e,
            })?;
            listeners.push((name.clone(), addr));
            let apis = Arc::new(BrokerApis {
                broker_id: config.node_id,
                cluster_id: identity.cluster_id.clone(),
                listener_name: name,
                image: publisher.watch(),
                forward: Arc::clone(&forward),
            });
            tokio::spawn(server::serve(
                l,
                Arc::new(ClientListener(apis)),
                ServerLimits::default(),
                stop_rx.clone(),
            ));
        }
        let advertised = config
            .advertised_broker_listeners()
            .into_iter()
            .map(|l| {
                let host = if l.host.is_empty() {
                    "127.0.0.1".to_string()
                } else {
                    l.host.clone()
                };
                let protocol = config
                    .listener_security_protocol_map
                    .get(&l.name)
                    .map_or(0, |p| *p as i16);
                (l.name.clone(), host, l.port, protocol)
            })
            .collect();
        let (state_tx, state) = watch::channel(BrokerState::NotRunning);
        let (shutdown_request, shutdown_rx) = watch::channel(false);
        let lifecycle = Lifecycle::new(
            LifecycleSettings {
                broker_id: config.node_id,
                cluster_id: identity.cluster_id.clone(),
                incarnation_id: uuid::Uuid::new_v4(),
                listeners: advertised,
                rack: config.broker_rack.clone(),
                heartbeat_interval_ms: config.broker_heartbeat_interval_ms,
                initial_registration_timeout_ms: config.initial_broker_registration_timeout_ms,
                request_timeout_ms,
            },
            channel("lifecycle"),
            publisher.watch(),
            health,
            state_tx,
            shutdown_rx,
        );
        let lifecycle = tokio::spawn(lifecycle.run());
        let isr = options.metadata_only_isr.then(|| {
            tokio::spawn(
                IsrExpander::new(
                    config.node_id.into(),
                    channel("alter-partition"),
                    publisher.watch(),
                )
                .run(),
            )
        });
        Ok(BrokerShim {
            broker_id: config.node_id,
            listeners,
            metrics,
            controller_listeners,
            publisher,
            state,
            shutdown_request,
            lifecycle: Some(lifecycle),
            isr,
            stop_listeners,
            raft: Some(raft),
        })
    }

    /// A subscription to every metadata update from now on (the listener API).
    pub fn subscribe(&self) -> MetadataSubscription {
        self.publisher.subscribe()
    }

    /// The newest image.
    pub fn image(&self) -> MetadataImage {
        self.publisher.latest()
    }

    /// A receiver of the newest image.
    pub fn image_watch(&self) -> watch::Receiver<MetadataImage> {
        self.publisher.watch()
    }

    /// The broker's state now.
    pub fn state(&self) -> BrokerState {
        *self.state.borrow()
    }

    /// A receiver of the broker's state.
    pub fn state_watch(&self) -> watch::Receiver<BrokerState> {
        self.state.clone()
    }

    /// Resolves when the lifecycle ends on its own: `Err` when registration failed for good.
    pub async fn lifecycle_ended(&mut self) -> Result<(), LifecycleError> {
        match self.lifecycle.as_mut() {
            Some(task) => match task.await {
                Ok(r) => {
                    self.lifecycle = None;
                    r
                }
                Err(e) => {
                    self.lifecycle = None;
                    Err(LifecycleError::TaskFailed(e.to_string()))
                }
            },
            None => std::future::pending().await,
        }
    }

    /// Controlled shutdown (KIP-841): asks the controller to move this broker's leaderships
    /// away and waits for ShouldShutDown (at most [`CONTROLLED_SHUTDOWN_TIMEOUT`]), then stops
    /// the listeners and the Raft side (a combined node's controller resigns).
    pub async fn shutdown(mut self) {
        let _ = self.shutdown_request.send(true);
        if let Some(task) = self.lifecycle.take() {
            match tokio::time::timeout(CONTROLLED_SHUTDOWN_TIMEOUT, task).await {
                Ok(Ok(Ok(()))) => {
                    tracing::info!("broker {}: controlled shutdown complete", self.broker_id)
                }
                Ok(Ok(Err(e))) => tracing::warn!("broker {}: {e}", self.broker_id),
                Ok(Err(e)) => tracing::warn!("broker {}: lifecycle task: {e}", self.broker_id),
                Err(_) => tracing::warn!(
                    "broker {}: the controller did not complete the controlled shutdown within {:?}; stopping anyway",
                    self.broker_id,
                    CONTROLLED_SHUTDOWN_TIMEOUT
                ),
            }
        }
        self.stop().await;
    }

    /// Stops at once, without a controlled shutdown (the controller fences the broker when
    /// its session expires).
    pub async fn stop(mut self) {
        if let Some(task) = self.lifecycle.take() {
            task.abort();
        }
        if let Some(task) = self.isr.take() {
            task.abort();
        }
        let _ = self.stop_listeners.send(true);
        match self.raft.take() {
            Some(Raft::Observer { shell, thread }) => {
                shell.shutdown().await;
                if let Some(t) = thread {
                    let _ = tokio::task::spawn_blocking(move || t.join()).await;
                }
            }
            Some(Raft::Combined(node)) => node.shutdown().await,
            None => {}
        }
    }
}
