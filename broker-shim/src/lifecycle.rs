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
//!
//! The decisions live in [`LifecycleCore`], a deterministic value (time, the applied offset and
//! the answers are its inputs; the next request is its output) that the simulator drives as it
//! drives the node; [`Lifecycle`] is its async shell over the controller channel.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use metaquorum_controller::metadata::BrokerEpoch;
use metaquorum_controller::raft::{Millis, NodeId, Offset};

use kafka_protocol::messages::broker_registration_request::{Feature, Listener};
use kafka_protocol::messages::{
    ApiKey, BrokerHeartbeatRequest, BrokerRegistrationRequest, RequestKind, ResponseKind,
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
    pub broker_id: NodeId,
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
#[derive(Debug, Clone, thiserror::Error)]
pub enum LifecycleError {
    /// The first registration did not succeed in time.
    #[error(
        "the broker could not register within initial.broker.registration.timeout.ms ({0} ms): {1}"
    )]
    RegistrationTimeout(u64, String),
    /// The controller refused the registration for good.
    #[error("the controller refused the registration: {0}")]
    Refused(String),
    /// The task running the lifecycle panicked or was cancelled.
    #[error("the lifecycle task failed: {0}")]
    TaskFailed(String),
}

/// Why a request of the lifecycle got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallFailure {
    /// No active controller answered in time.
    NoController(String),
    /// Anything else (a connection closed, an outcome unknown).
    Other(String),
}

impl From<&ChannelError> for CallFailure {
    fn from(e: &ChannelError) -> Self {
        match e {
            ChannelError::NoController(_) => CallFailure::NoController(e.to_string()),
            ChannelError::OutcomeUnknown(_) => CallFailure::Other(e.to_string()),
        }
    }
}

/// A request the lifecycle wants sent to the active controller.
#[derive(Debug, Clone)]
pub struct LifecycleRequest {
    /// The API.
    pub api: ApiKey,
    /// The version to send.
    pub version: i16,
    /// The request.
    pub request: RequestKind,
}

/// Where the lifecycle is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Registering; `deadline` bounds the first registration only.
    Registering { deadline: Option<Millis> },
    /// Registered: heartbeating.
    Heartbeating,
    /// Finished (see [`LifecycleCore::finished`]).
    Done,
}

/// The lifecycle's decisions as a deterministic value; see the module documentation.
#[derive(Debug)]
pub struct LifecycleCore {
    settings: LifecycleSettings,
    state: BrokerState,
    phase: Phase,
    /// The epoch the controller gave this broker ([`BrokerEpoch::NONE`] before registration).
    epoch: BrokerEpoch,
    /// A request is out; its answer comes through [`LifecycleCore::answered`].
    waiting: bool,
    /// When the next request is due.
    next_at: Millis,
    /// Heartbeats in a row that found no active controller while shutting down.
    unanswered_while_stopping: u32,
    /// Why the last registration attempt failed.
    last_failure: String,
    finished: Option<Result<(), LifecycleError>>,
}

impl LifecycleCore {
    /// A lifecycle starting at `now`: STARTING, registering within
    /// `initial.broker.registration.timeout.ms`.
    pub fn new(settings: LifecycleSettings, now: Millis) -> Self {
        let deadline = Some(now.saturating_add(settings.initial_registration_timeout_ms));
        LifecycleCore {
            settings,
            state: BrokerState::Starting,
            phase: Phase::Registering { deadline },
            epoch: BrokerEpoch::NONE,
            waiting: false,
            next_at: now,
            unanswered_while_stopping: 0,
            last_failure: "no controller answered".into(),
            finished: None,
        }
    }

    /// The broker's state.
    pub fn state(&self) -> BrokerState {
        self.state
    }

    /// The broker epoch ([`BrokerEpoch::NONE`] before registration).
    pub fn epoch(&self) -> BrokerEpoch {
        self.epoch
    }

    /// How the lifecycle ended, once it has: a completed controlled shutdown, or a
    /// registration that failed for good.
    pub fn finished(&self) -> Option<&Result<(), LifecycleError>> {
        self.finished.as_ref()
    }

    /// When [`LifecycleCore::poll`] should be called next at the latest.
    pub fn next_deadline(&self) -> Millis {
        if self.waiting || self.finished.is_some() {
            Millis::MAX
        } else {
            self.next_at
        }
    }

    fn set_state(&mut self, next: BrokerState) {
        if self.state != next {
            tracing::info!(
                "broker {}: {} -> {next}",
                self.settings.broker_id,
                self.state
            );
            publish_broker_state(next.value());
            self.state = next;
        }
    }

    fn finish(&mut self, result: Result<(), LifecycleError>) {
        self.phase = Phase::Done;
        self.finished = Some(result);
    }

    /// The registration this broker sends.
    pub fn registration(&self) -> BrokerRegistrationRequest {
        let s = &self.settings;
        let (min, max) = (
            METADATA_VERSIONS.first().map_or(1, |v| v.0),
            METADATA_VERSIONS.last().map_or(1, |v| v.0),
        );
        BrokerRegistrationRequest::default()
            .with_broker_id(s.broker_id.into())
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
            .with_previous_broker_epoch(self.epoch.into())
    }

    /// Time passes. Returns the request to send now, if one is due: a registration, or a
    /// heartbeat carrying `applied_offset`, `want_fence` (the broker's metadata stopped) and
    /// `want_shut_down` (a controlled shutdown is asked for).
    pub fn poll(
        &mut self,
        now: Millis,
        applied_offset: Offset,
        want_fence: bool,
        want_shut_down: bool,
    ) -> Option<LifecycleRequest> {
        if self.waiting || self.finished.is_some() || now < self.next_at {
            return None;
        }
        match self.phase {
            Phase::Done => None,
            Phase::Registering { deadline } => {
                if deadline.is_some_and(|d| now >= d) {
                    let why = LifecycleError::RegistrationTimeout(
                        self.settings.initial_registration_timeout_ms,
                        self.last_failure.clone(),
                    );
                    self.finish(Err(why));
                    return None;
                }
                self.waiting = true;
                Some(LifecycleRequest {
                    api: ApiKey::BrokerRegistration,
                    version: REGISTRATION_VERSION,
                    request: RequestKind::BrokerRegistration(self.registration()),
                })
            }
            Phase::Heartbeating => {
                if want_shut_down && self.state != BrokerState::ShuttingDown {
                    self.set_state(BrokerState::PendingControlledShutdown);
                }
                self.waiting = true;
                Some(LifecycleRequest {
                    api: ApiKey::BrokerHeartbeat,
                    version: HEARTBEAT_VERSION,
                    request: RequestKind::BrokerHeartbeat(
                        BrokerHeartbeatRequest::default()
                            .with_broker_id(self.settings.broker_id.into())
                            .with_broker_epoch(self.epoch.into())
                            .with_current_metadata_offset(applied_offset.into())
                            .with_want_fence(want_fence)
                            .with_want_shut_down(want_shut_down),
                    ),
                })
            }
        }
    }

    /// The answer to the request [`LifecycleCore::poll`] returned (with the controlled
    /// shutdown wish it was sent with).
    pub fn answered(
        &mut self,
        now: Millis,
        answer: Result<ResponseKind, CallFailure>,
        want_shut_down: bool,
    ) {
        if !self.waiting {
            return;
        }
        self.waiting = false;
        match self.phase {
            Phase::Done => {}
            Phase::Registering { .. } => self.registration_answered(now, answer),
            Phase::Heartbeating => self.heartbeat_answered(now, answer, want_shut_down),
        }
    }

    fn registration_answered(&mut self, now: Millis, answer: Result<ResponseKind, CallFailure>) {
        match answer {
            Ok(ResponseKind::BrokerRegistration(r)) if r.error_code == 0 => {
                self.epoch = BrokerEpoch(r.broker_epoch);
                self.phase = Phase::Heartbeating;
                self.next_at = now;
                return;
            }
            Ok(ResponseKind::BrokerRegistration(r)) => {
                let code = ErrorCode::from_code(r.error_code);
                self.last_failure = format!("{code:?}");
                match code {
                    Some(ErrorCode::InconsistentClusterId)
                    | Some(ErrorCode::UnsupportedVersion)
                    | Some(ErrorCode::InvalidRequest) => {
                        let why = LifecycleError::Refused(self.last_failure.clone());
                        self.finish(Err(why));
                        return;
                    }
                    // DUPLICATE_BROKER_REGISTRATION: the old incarnation's session has not
                    // expired yet; keep trying.
                    _ => tracing::info!(
                        "broker {} registration: {}; retrying",
                        self.settings.broker_id,
                        self.last_failure
                    ),
                }
            }
            Ok(other) => self.last_failure = format!("unexpected answer {other:?}"),
            Err(CallFailure::NoController(e) | CallFailure::Other(e)) => self.last_failure = e,
        }
        self.next_at = now + TRANSITION_HEARTBEAT_MS * 2;
    }

    fn heartbeat_answered(
        &mut self,
        now: Millis,
        answer: Result<ResponseKind, CallFailure>,
        want_shut_down: bool,
    ) {
        match answer {
            Ok(ResponseKind::BrokerHeartbeat(r)) if r.error_code == 0 => {
                if want_shut_down {
                    if r.should_shut_down {
                        self.set_state(BrokerState::ShuttingDown);
                        self.finish(Ok(()));
                        return;
                    }
                } else if !r.is_fenced {
                    if self.state == BrokerState::Starting {
                        // Caught up and unfenced by the same heartbeat.
                        self.set_state(BrokerState::Recovery);
                    }
                    self.set_state(BrokerState::Running);
                } else if r.is_caught_up {
                    self.set_state(BrokerState::Recovery);
                } else if self.state == BrokerState::Running {
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
                if self.state == BrokerState::Running {
                    self.set_state(BrokerState::Starting);
                }
                self.phase = Phase::Registering { deadline: None };
                self.next_at = now;
                return;
            }
            Ok(other) => tracing::warn!(
                "broker {} heartbeat: unexpected answer {other:?}",
                self.settings.broker_id
            ),
            Err(e) => {
                tracing::info!("broker {} heartbeat: {e:?}", self.settings.broker_id);
                if want_shut_down && matches!(e, CallFailure::NoController(_)) {
                    self.unanswered_while_stopping += 1;
                    if self.unanswered_while_stopping >= SHUTDOWN_UNANSWERED_MAX {
                        // No quorum left to move leaderships (e.g. the last combined node of
                        // a cluster being stopped): stop without it.
                        tracing::warn!(
                            "broker {}: no active controller; shutting down without a controlled shutdown",
                            self.settings.broker_id
                        );
                        self.set_state(BrokerState::ShuttingDown);
                        self.finish(Ok(()));
                        return;
                    }
                }
            }
        }
        self.next_at = now
            + if self.state == BrokerState::Running {
                self.settings.heartbeat_interval_ms
            } else {
                self.settings
                    .heartbeat_interval_ms
                    .min(TRANSITION_HEARTBEAT_MS)
            };
    }
}

/// The async shell of one broker's lifecycle: runs [`LifecycleCore`] over the controller
/// channel, with the process's clock.
pub struct Lifecycle {
    core: LifecycleCore,
    channel: ControllerChannel,
    image: watch::Receiver<MetadataImage>,
    health: Arc<Mutex<MetadataHealth>>,
    state: watch::Sender<BrokerState>,
    /// Set to ask for a controlled shutdown.
    shutdown: watch::Receiver<bool>,
    /// The clock's zero.
    base: Instant,
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
            core: LifecycleCore::new(settings, 0),
            channel,
            image,
            health,
            state,
            shutdown,
            base: Instant::now(),
        }
    }

    fn now(&self) -> Millis {
        self.base.elapsed().as_millis() as Millis
    }

    /// Runs until a controlled shutdown completes (Ok) or registration fails for good.
    pub async fn run(mut self) -> Result<(), LifecycleError> {
        publish_broker_state(BrokerState::Starting.value());
        self.state.send_replace(BrokerState::Starting);
        let wait = Duration::from_millis(self.core.settings.request_timeout_ms);
        loop {
            let want_shut_down = *self.shutdown.borrow();
            let want_fence = self
                .health
                .lock()
                .map(|h| h.failed.is_some())
                .unwrap_or(true);
            let offset = self.image.borrow().provenance.offset;
            let now = self.now();
            if let Some(r) = self.core.poll(now, offset, want_fence, want_shut_down) {
                let answer = self
                    .channel
                    .call(r.api, r.version, &r.request, wait)
                    .await
                    .map_err(|e| CallFailure::from(&e));
                let now = self.now();
                let epoch = self.core.epoch();
                self.core.answered(now, answer, want_shut_down);
                if self.core.epoch() != epoch {
                    tracing::info!(
                        "broker {} registered with controller {:?}: epoch {}",
                        self.core.settings.broker_id,
                        self.channel.controller_id(),
                        self.core.epoch()
                    );
                }
            }
            self.state.send_if_modified(|s| {
                let changed = *s != self.core.state();
                *s = self.core.state();
                changed
            });
            if let Some(done) = self.core.finished.take() {
                return done;
            }
            let due = self.core.next_deadline().saturating_sub(self.now());
            if due == 0 {
                continue;
            }
            let sleep = tokio::time::sleep(Duration::from_millis(due));
            tokio::pin!(sleep);
            tokio::select! {
                _ = &mut sleep => {}
                _ = self.shutdown.changed() => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! The lifecycle's decisions, driven by hand (KIP-631, KIP-841).

    use kafka_protocol::messages::{BrokerHeartbeatResponse, BrokerRegistrationResponse};

    use super::*;

    fn settings() -> LifecycleSettings {
        LifecycleSettings {
            broker_id: NodeId(4),
            cluster_id: "c".into(),
            incarnation_id: uuid::Uuid::from_u64_pair(1, 2),
            listeners: vec![("PLAINTEXT".into(), "h".into(), 9092, 0)],
            rack: None,
            heartbeat_interval_ms: 2_000,
            initial_registration_timeout_ms: 60_000,
            request_timeout_ms: 1_000,
        }
    }

    fn registered(epoch: i64) -> Result<ResponseKind, CallFailure> {
        Ok(ResponseKind::BrokerRegistration(
            BrokerRegistrationResponse::default().with_broker_epoch(epoch),
        ))
    }

    fn heartbeat(r: BrokerHeartbeatResponse) -> Result<ResponseKind, CallFailure> {
        Ok(ResponseKind::BrokerHeartbeat(r))
    }

    fn heartbeat_request(r: &LifecycleRequest) -> &BrokerHeartbeatRequest {
        match &r.request {
            RequestKind::BrokerHeartbeat(h) => h,
            other => panic!("expected a heartbeat, got {other:?}"),
        }
    }

    /// Registers with epoch 7 at time 0.
    fn running_core() -> LifecycleCore {
        let mut core = LifecycleCore::new(settings(), 0);
        let r = core
            .poll(0, Offset(-1), false, false)
            .expect("registration");
        assert_eq!(r.api, ApiKey::BrokerRegistration);
        core.answered(1, registered(7), false);
        core
    }

    #[test]
    fn registers_then_heartbeats_its_applied_offset_until_unfenced() {
        let mut core = running_core();
        assert_eq!(core.epoch(), BrokerEpoch(7));
        let r = core
            .poll(1, Offset(42), false, false)
            .expect("a heartbeat at once");
        let h = heartbeat_request(&r);
        assert_eq!((h.broker_epoch, h.current_metadata_offset), (7, 42));
        assert!(
            core.poll(1, Offset(42), false, false).is_none(),
            "one request at a time"
        );
        core.answered(
            2,
            heartbeat(
                BrokerHeartbeatResponse::default()
                    .with_is_fenced(true)
                    .with_is_caught_up(true),
            ),
            false,
        );
        assert_eq!(core.state(), BrokerState::Recovery);
        // Joining: the next heartbeat comes within the transition period, not the interval.
        assert_eq!(core.next_deadline(), 2 + TRANSITION_HEARTBEAT_MS);
        core.poll(core.next_deadline(), Offset(50), false, false)
            .expect("heartbeat");
        let unfenced = BrokerHeartbeatResponse::default().with_is_fenced(false);
        core.answered(60, heartbeat(unfenced), false);
        assert_eq!(core.state(), BrokerState::Running);
        assert_eq!(core.next_deadline(), 60 + 2_000);
    }

    #[test]
    fn a_stale_epoch_registers_again() {
        let mut core = running_core();
        core.poll(1, Offset(0), false, false).expect("heartbeat");
        core.answered(2, heartbeat(BrokerHeartbeatResponse::default()), false);
        core.poll(core.next_deadline(), Offset(0), false, false)
            .expect("heartbeat");
        let stale =
            BrokerHeartbeatResponse::default().with_error_code(ErrorCode::StaleBrokerEpoch.code());
        core.answered(3_000, heartbeat(stale), false);
        assert_eq!(core.state(), BrokerState::Starting);
        let r = core
            .poll(3_000, Offset(0), false, false)
            .expect("registration");
        assert_eq!(r.api, ApiKey::BrokerRegistration);
        match r.request {
            RequestKind::BrokerRegistration(reg) => assert_eq!(reg.previous_broker_epoch, 7),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn controlled_shutdown_waits_for_should_shut_down() {
        // KIP-841.
        let mut core = running_core();
        core.poll(1, Offset(0), false, false).expect("heartbeat");
        core.answered(2, heartbeat(BrokerHeartbeatResponse::default()), false);
        let r = core
            .poll(core.next_deadline(), Offset(9), false, true)
            .expect("heartbeat");
        assert!(heartbeat_request(&r).want_shut_down);
        assert_eq!(core.state(), BrokerState::PendingControlledShutdown);
        core.answered(2_100, heartbeat(BrokerHeartbeatResponse::default()), true);
        assert!(core.finished().is_none(), "leaderships are still moving");
        core.poll(core.next_deadline(), Offset(9), false, true)
            .expect("heartbeat");
        core.answered(
            2_200,
            heartbeat(BrokerHeartbeatResponse::default().with_should_shut_down(true)),
            true,
        );
        assert_eq!(core.state(), BrokerState::ShuttingDown);
        assert!(matches!(core.finished(), Some(Ok(()))));
        assert_eq!(core.next_deadline(), Millis::MAX);
    }

    #[test]
    fn shutdown_without_a_controller_gives_up_after_two_tries() {
        let mut core = running_core();
        for t in [10, 200] {
            core.poll(t, Offset(0), false, true).expect("heartbeat");
            core.answered(t + 1, Err(CallFailure::NoController("none".into())), true);
        }
        assert!(matches!(core.finished(), Some(Ok(()))));
        assert_eq!(core.state(), BrokerState::ShuttingDown);
    }

    #[test]
    fn registration_is_refused_for_good_or_times_out() {
        let mut core = LifecycleCore::new(settings(), 0);
        core.poll(0, Offset(-1), false, false)
            .expect("registration");
        let refused = BrokerRegistrationResponse::default()
            .with_error_code(ErrorCode::InconsistentClusterId.code());
        core.answered(1, Ok(ResponseKind::BrokerRegistration(refused)), false);
        assert!(matches!(
            core.finished(),
            Some(Err(LifecycleError::Refused(_)))
        ));

        let mut core = LifecycleCore::new(settings(), 0);
        let mut t = 0;
        while core.finished().is_none() {
            if core.poll(t, Offset(-1), false, false).is_some() {
                let duplicate = BrokerRegistrationResponse::default()
                    .with_error_code(ErrorCode::DuplicateBrokerRegistration.code());
                core.answered(t, Ok(ResponseKind::BrokerRegistration(duplicate)), false);
            }
            if core.finished().is_some() {
                break;
            }
            t = core.next_deadline();
            assert!(
                t <= 60_000 + TRANSITION_HEARTBEAT_MS * 2,
                "no timeout by {t}"
            );
        }
        match core.finished() {
            Some(Err(LifecycleError::RegistrationTimeout(60_000, why))) => {
                assert!(why.contains("DuplicateBrokerRegistration"), "{why}")
            }
            other => panic!("{other:?}"),
        }
    }
}
