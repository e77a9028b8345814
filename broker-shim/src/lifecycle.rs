//! The broker's lifecycle with the active controller (KIP-631, KIP-841): registration,
//! heartbeats every `broker.heartbeat.interval.ms` carrying the offset the broker has applied,
//! the broker states ([`BrokerState`]) that follow from the answers, and controlled shutdown.
//!
//! - **STARTING** until the controller says the broker has caught up to its own registration,
//!   then **RECOVERY** until it is unfenced, then **RUNNING**.
//! - A heartbeat answered STALE_BROKER_EPOCH (the registration is gone, e.g. unregistered by
//!   an operator) registers again; a controller failover or a network cut needs nothing more
//!   than heartbeats reaching the new controller, which unfences the broker once caught up.
//! - Controlled shutdown: **PENDING_CONTROLLED_SHUTDOWN** with WantShutDown set until the
//!   controller has moved the broker's leaderships and answers ShouldShutDown, then
//!   **SHUTTING_DOWN**.
//! - A broker whose metadata stopped applying asks to be fenced (WantFence).
//!
//! Until the broker is RUNNING, heartbeats go out every [`TRANSITION_HEARTBEAT_MS`] at most
//! rather than every interval, so joining and leaving take milliseconds, not seconds.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kafka_protocol::messages::broker_registration_request::{Feature, Listener};
use kafka_protocol::messages::{
    ApiKey, BrokerHeartbeatRequest, BrokerId, BrokerRegistrationRequest, RequestKind, ResponseKind,
};
use kafka_protocol::protocol::StrBytes;
use metaquorum_controller::control::errors::ErrorCode;
use metaquorum_controller::metadata::image::MetadataImage;
use metaquorum_controller::metadata::version::METADATA_VERSIONS;
use tokio::sync::watch;

use crate::channel::{ChannelError, ControllerChannel};
use crate::follower::MetadataHealth;
use crate::metrics::publish_broker_state;

/// Heartbeat period while the broker is joining or leaving.
pub const TRANSITION_HEARTBEAT_MS: u64 = 50;
/// Heartbeats in a row without an active controller after which a controlled shutdown gives
/// up (each waits `controller.quorum.request.timeout.ms`).
const SHUTDOWN_UNANSWERED_MAX: u32 = 2;
/// BrokerRegistration version sent.
const REGISTRATION_VERSION: i16 = 3;
/// BrokerHeartbeat version sent.
const HEARTBEAT_VERSION: i16 = 1;

/// Kafka's broker states (`org.apache.kafka.metadata.BrokerState`), with their numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BrokerState {
    /// Not started.
    NotRunning,
    /// Registering and catching up.
    Starting,
    /// Caught up with its registration, waiting to be unfenced.
    Recovery,
    /// Unfenced and serving.
    Running,
    /// Waiting for the controller to move its leaderships away.
    PendingControlledShutdown,
    /// Stopping.
    ShuttingDown,
}

impl BrokerState {
    /// Kafka's number for the state (`BrokerState.value()`).
    pub fn value(self) -> i8 {
        match self {
            BrokerState::NotRunning => 0,
            BrokerState::Starting => 1,
            BrokerState::Recovery => 2,
            BrokerState::Running => 3,
            BrokerState::PendingControlledShutdown => 6,
            BrokerState::ShuttingDown => 7,
        }
    }

    /// Kafka's name for the state.
    pub fn name(self) -> &'static str {
        match self {
            BrokerState::NotRunning => "NOT_RUNNING",
            BrokerState::Starting => "STARTING",
            BrokerState::Recovery => "RECOVERY",
            BrokerState::Running => "RUNNING",
            BrokerState::PendingControlledShutdown => "PENDING_CONTROLLED_SHUTDOWN",
            BrokerState::ShuttingDown => "SHUTTING_DOWN",
        }
    }
}

impl std::fmt::Display for BrokerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What the lifecycle sends about this broker.
#[derive(Debug, Clone)]
pub struct LifecycleSettings {
    /// `node.id`.
    pub broker_id: i32,
    /// The cluster id from `meta.properties`.
    pub cluster_id: String,
    /// This process's incarnation.
    pub incarnation_id: uuid::Uuid,
    /// Advertised client listeners: (name, host, port, security protocol id).
    pub listeners: Vec<(String, String, u16, i16)>,
    /// `broker.rack`.
    pub rack: Option<String>,
    /// `broker.heartbeat.interval.ms`.
    pub heartbeat_interval_ms: u64,
    /// `initial.broker.registration.timeout.ms`.
    pub initial_registration_timeout_ms: u64,
    /// Wait for one controller answer at most.
    pub request_timeout_ms: u64,
}

/// Why the lifecycle ended without a controlled shutdown.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    /// The first registration did not succeed in time.
    #[error(
        "the broker could not register within initial.broker.registration.timeout.ms ({0} ms): {1}"
    )]
    RegistrationTimeout(u64, String),
    /// The controller refused the registration for good.
    #[error("the controller refused the registration: {0}")]
    Refused(String),
}

/// The shared state of one broker's lifecycle.
pub struct Lifecycle {
    settings: LifecycleSettings,
    channel: ControllerChannel,
    image: watch::Receiver<MetadataImage>,
    health: Arc<Mutex<MetadataHealth>>,
    state: watch::Sender<BrokerState>,
    /// Set to ask for a controlled shutdown.
    shutdown: watch::Receiver<bool>,
    epoch: i64,
}

impl Lifecycle {
    /// A lifecycle in STARTING.
    pub fn new(
        settings: LifecycleSettings,
        channel: ControllerChannel,
        image: watch::Receiver<MetadataImage>,
        health: Arc<Mutex<MetadataHealth>>,
        state: watch::Sender<BrokerState>,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        Lifecycle {
            settings,
            channel,
            image,
            health,
            state,
            shutdown,
            epoch: -1,
        }
    }

    fn set_state(&self, next: BrokerState) {
        let prev = *self.state.borrow();
        if prev != next {
            tracing::info!("broker {}: {prev} -> {next}", self.settings.broker_id);
            publish_broker_state(next.value());
            self.state.send_replace(next);
        }
    }

    fn registration(&self) -> BrokerRegistrationRequest {
        let s = &self.settings;
        let (min, max) = (
            METADATA_VERSIONS.first().map_or(1, |v| v.0),
            METADATA_VERSIONS.last().map_or(1, |v| v.0),
        );
        BrokerRegistrationRequest::default()
            .with_broker_id(BrokerId(s.broker_id))
            .with_cluster_id(StrBytes::from_string(s.cluster_id.clone()))
            .with_incarnation_id(s.incarnation_id)
            .with_listeners(
                s.listeners
                    .iter()
                    .map(|(name, host, port, protocol)| {
                        Listener::default()
                            .with_name(StrBytes::from_string(name.clone()))
                            .with_host(StrBytes::from_string(host.clone()))
                            .with_port(*port)
                            .with_security_protocol(*protocol)
                    })
                    .collect(),
            )
            .with_features(vec![Feature::default()
                .with_name(StrBytes::from_static_str("metadata.version"))
                .with_min_supported_version(min)
                .with_max_supported_version(max)])
            .with_rack(s.rack.clone().map(StrBytes::from_string))
            .with_previous_broker_epoch(self.epoch)
    }

    /// Registers, retrying until `deadline` (None: forever).
    async fn register(&mut self, deadline: Option<Instant>) -> Result<(), LifecycleError> {
        let request = RequestKind::BrokerRegistration(self.registration());
        let wait = Duration::from_millis(self.settings.request_timeout_ms);
        let mut last = String::from("no controller answered");
        loop {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(LifecycleError::RegistrationTimeout(
                    self.settings.initial_registration_timeout_ms,
                    last,
                ));
            }
            match self
                .channel
                .call(
                    ApiKey::BrokerRegistration,
                    REGISTRATION_VERSION,
                    &request,
                    wait,
                )
                .await
            {
                Ok(ResponseKind::BrokerRegistration(r)) if r.error_code == 0 => {
                    tracing::info!(
                        "broker {} registered with controller {:?}: epoch {}",
                        self.settings.broker_id,
                        self.channel.controller_id(),
                        r.broker_epoch
                    );
                    self.epoch = r.broker_epoch;
                    return Ok(());
                }
                Ok(ResponseKind::BrokerRegistration(r)) => {
                    let code = ErrorCode::from_code(r.error_code);
                    last = format!("{code:?}");
                    match code {
                        Some(ErrorCode::InconsistentClusterId)
                        | Some(ErrorCode::UnsupportedVersion)
                        | Some(ErrorCode::InvalidRequest) => {
                            return Err(LifecycleError::Refused(last))
                        }
                        // DUPLICATE_BROKER_REGISTRATION: the old incarnation's session has
                        // not expired yet; keep trying.
                        _ => tracing::info!(
                            "broker {} registration: {last}; retrying",
                            self.settings.broker_id
                        ),
                    }
                }
                Ok(other) => last = format!("unexpected answer {other:?}"),
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(TRANSITION_HEARTBEAT_MS * 2)).await;
        }
    }

    /// Runs until a controlled shutdown completes (Ok) or registration fails for good.
    pub async fn run(mut self) -> Result<(), LifecycleError> {
        self.set_state(BrokerState::Starting);
        let deadline =
            Instant::now() + Duration::from_millis(self.settings.initial_registration_timeout_ms);
        self.register(Some(deadline)).await?;
        let wait = Duration::from_millis(self.settings.request_timeout_ms);
        // Heartbeats in a row that found no active controller while shutting down.
        let mut unanswered_while_stopping = 0;
        loop {
            let want_shut_down = *self.shutdown.borrow();
            if want_shut_down && *self.state.borrow() != BrokerState::ShuttingDown {
                self.set_state(BrokerState::PendingControlledShutdown);
            }
            let want_fence = self
                .health
                .lock()
                .map(|h| h.failed.is_some())
                .unwrap_or(true);
            let offset = self.image.borrow().provenance.offset;
            let request = RequestKind::BrokerHeartbeat(
                BrokerHeartbeatRequest::default()
                    .with_broker_id(BrokerId(self.settings.broker_id))
                    .with_broker_epoch(self.epoch)
                    .with_current_metadata_offset(offset)
                    .with_want_fence(want_fence)
                    .with_want_shut_down(want_shut_down),
            );
            match self
                .channel
                .call(ApiKey::BrokerHeartbeat, HEARTBEAT_VERSION, &request, wait)
                .await
            {
                Ok(ResponseKind::BrokerHeartbeat(r)) if r.error_code == 0 => {
                    if want_shut_down {
                        if r.should_shut_down {
                            self.set_state(BrokerState::ShuttingDown);
                            return Ok(());
                        }
                    } else if !r.is_fenced {
                        if *self.state.borrow() == BrokerState::Starting {
                            // Caught up and unfenced by the same heartbeat.
                            self.set_state(BrokerState::Recovery);
                        }
                        self.set_state(BrokerState::Running);
                    } else if r.is_caught_up {
                        self.set_state(BrokerState::Recovery);
                    } else if *self.state.borrow() == BrokerState::Running {
                        // Fenced behind our back (session expired after a network cut).
                        self.set_state(BrokerState::Recovery);
                    }
                }
                Ok(ResponseKind::BrokerHeartbeat(r))
                    if ErrorCode::from_code(r.error_code) == Some(ErrorCode::StaleBrokerEpoch) =>
                {
                    tracing::warn!(
                        "broker {}: the controller no longer knows epoch {}; registering again",
                        self.settings.broker_id,
                        self.epoch
                    );
                    if *self.state.borrow() == BrokerState::Running {
                        self.set_state(BrokerState::Starting);
                    }
                    self.register(None).await?;
                    continue;
                }
                Ok(other) => tracing::warn!(
                    "broker {} heartbeat: unexpected answer {other:?}",
                    self.settings.broker_id
                ),
                Err(e) => {
                    tracing::info!("broker {} heartbeat: {e}", self.settings.broker_id);
                    if want_shut_down && matches!(e, ChannelError::NoController(_)) {
                        unanswered_while_stopping += 1;
                        if unanswered_while_stopping >= SHUTDOWN_UNANSWERED_MAX {
                            // No quorum left to move leaderships (e.g. the last combined
                            // node of a cluster being stopped): stop without it.
                            tracing::warn!(
                                "broker {}: no active controller; shutting down without a controlled shutdown",
                                self.settings.broker_id
                            );
                            self.set_state(BrokerState::ShuttingDown);
                            return Ok(());
                        }
                    }
                }
            }
            let every = if *self.state.borrow() == BrokerState::Running {
                self.settings.heartbeat_interval_ms
            } else {
                self.settings
                    .heartbeat_interval_ms
                    .min(TRANSITION_HEARTBEAT_MS)
            };
            let sleep = tokio::time::sleep(Duration::from_millis(every));
            tokio::pin!(sleep);
            tokio::select! {
                _ = &mut sleep => {}
                _ = self.shutdown.changed() => {}
            }
        }
    }
}
