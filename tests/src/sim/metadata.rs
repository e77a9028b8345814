//! The simulator's metadata workload: voters run the real [`QuorumController`] and observers
//! the real broker metadata follower ([`BrokerMetadata`]), each inside the real node over a
//! [`MemStore`] that keeps Kafka-format snapshots. Each observer's broker runs the shim's own
//! lifecycle ([`LifecycleCore`]: registration, heartbeats from the observer's applied offset,
//! controlled shutdown) against the active controller; simulated admin clients create and
//! delete topics, create ACLs and alter configs, and every answer is recorded.
//!
//! What it checks, beside the simulator's Raft invariants:
//! - every replica's image after applying `[0, n)` is the same image (controllers replaying or
//!   adopting their own proposals, brokers, snapshot loads and installs alike);
//! - an acknowledged write is in the answering controller's committed image, and in every image
//!   of every replica from then on (until the client itself deletes it);
//! - a write answered with a definite error (anything but NOT_CONTROLLER's "outcome unknown")
//!   changed nothing: its topic or ACL never appears;
//! - in every image a partition leader is a registered, unfenced broker in the ISR, and the ISR
//!   is a subset of the replicas (KIP-631 fencing moves leadership in the same batch);
//! - a broker told it may shut down (KIP-841) is fenced and leads nothing in the answering
//!   controller's committed image.

use std::collections::{BTreeMap, BTreeSet};

use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::{
    CreateAclsRequest, DeleteTopicsRequest, IncrementalAlterConfigsRequest, RequestKind,
    ResponseKind, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use metaquorum_broker_shim::follower::BrokerMetadata;
use metaquorum_broker_shim::lifecycle::{LifecycleCore, LifecycleSettings};
use metaquorum_broker_shim::publisher::MetadataPublisher;
use metaquorum_controller::apis::{ControllerCall, OUTCOME_UNKNOWN_MESSAGE};
use metaquorum_controller::config::HostPort;
use metaquorum_controller::control::controller::{ControllerSettings, QuorumController};
use metaquorum_controller::control::errors::ErrorCode;
use metaquorum_controller::control::topics::TopicDefaults;
use metaquorum_controller::metadata::image::{MetadataImage, MetadataProvenance};
use metaquorum_controller::node::{Ctx, StateMachine};
use metaquorum_controller::raft::{
    Batch, MemStore, Millis, NodeId, Offset, ProposalId, ProposalOutcome,
};
use metaquorum_controller::snapshots::SnapshotPolicy;
use metaquorum_log::batch::RecordData;
use metaquorum_log::Retention;
use tokio::sync::oneshot;

use super::SimRng;
use crate::values::ValueLog;

/// The cluster id every simulated node and broker uses.
pub const SIM_CLUSTER_ID: &str = "sim-cluster-0000000000";
/// `broker.session.timeout.ms` of the simulated controllers.
pub const BROKER_SESSION_MS: u64 = 1_500;
/// `broker.heartbeat.interval.ms` of the simulated brokers.
pub const BROKER_HEARTBEAT_MS: Millis = 100;
/// A client gives up on an answer after this long (the outcome is then unknown).
const CALL_TIMEOUT_MS: Millis = 5_000;

/// The state machine a simulated node runs: the value log of the Raft workload, or the real
/// metadata state machines.
pub enum SimMachine {
    /// The Raft workload's [`ValueLog`].
    Values(ValueLog),
    /// A controller (voter).
    Controller(Box<QuorumController>),
    /// A broker's metadata follower (observer).
    Broker(Box<BrokerMetadata>),
}

/// A request for a simulated node's state machine.
pub enum SimRequest {
    /// Records to propose (the value log).
    Values(Vec<RecordData>),
    /// A metadata API call (controllers).
    Call(Box<ControllerCall>),
}

impl SimMachine {
    /// A controller with the simulator's settings.
    pub fn controller(voters: &BTreeSet<NodeId>, snapshot_bytes: u64, seed: u64) -> Self {
        let settings = ControllerSettings {
            cluster_id: SIM_CLUSTER_ID.into(),
            voters: voters
                .iter()
                .map(|id| {
                    let hp = HostPort {
                        host: format!("controller-{id}"),
                        port: 9093,
                    };
                    (*id, hp)
                })
                .collect(),
            bootstrap_metadata_version: metaquorum_controller::metadata::version::LATEST_PRODUCTION
                .0,
            broker_session_timeout_ms: BROKER_SESSION_MS,
            idle_interval_ms: 500,
            snapshots: snapshot_policy(snapshot_bytes),
            topic_defaults: TopicDefaults::default(),
            leader_balance_interval_ms: Some(2_000),
        };
        SimMachine::Controller(Box::new(QuorumController::new(settings, seed)))
    }

    /// A broker's metadata follower with the simulator's snapshot policy.
    pub fn broker(snapshot_bytes: u64) -> Self {
        SimMachine::Broker(Box::new(BrokerMetadata::new(
            MetadataPublisher::new(),
            Some(snapshot_policy(snapshot_bytes)),
        )))
    }

    /// The value log, in the Raft workload.
    pub fn values(&self) -> Option<&ValueLog> {
        match self {
            SimMachine::Values(v) => Some(v),
            _ => None,
        }
    }

    /// The committed metadata image, in the metadata workload.
    pub fn image(&self) -> Option<&MetadataImage> {
        match self {
            SimMachine::Values(_) => None,
            SimMachine::Controller(c) => Some(c.image()),
            SimMachine::Broker(b) => Some(b.image()),
        }
    }

    /// Why a broker's metadata stopped applying, if it did.
    pub fn failure(&self) -> Option<String> {
        match self {
            SimMachine::Broker(b) => b.health().lock().ok().and_then(|h| h.failed.clone()),
            _ => None,
        }
    }
}

fn snapshot_policy(bytes_max: u64) -> SnapshotPolicy {
    SnapshotPolicy {
        bytes_max,
        interval_ms: 0,
        retention: Retention {
            bytes_max: -1,
            ms: -1,
        },
    }
}

impl StateMachine<MemStore> for SimMachine {
    type Request = SimRequest;

    fn load(
        &mut self,
        store: &MemStore,
    ) -> Result<Offset, metaquorum_controller::snapshots::SnapshotError> {
        match self {
            SimMachine::Values(v) => v.load(store),
            SimMachine::Controller(c) => c.load(store),
            SimMachine::Broker(b) => b.load(store),
        }
    }

    fn apply(&mut self, batch: &Batch, ctx: &mut Ctx<'_, MemStore>) {
        match self {
            SimMachine::Values(v) => v.apply(batch, ctx),
            SimMachine::Controller(c) => c.apply(batch, ctx),
            SimMachine::Broker(b) => b.apply(batch, ctx),
        }
    }

    fn handle(&mut self, request: SimRequest, ctx: &mut Ctx<'_, MemStore>) {
        match (self, request) {
            (SimMachine::Values(v), SimRequest::Values(r)) => v.handle(r, ctx),
            (SimMachine::Controller(c), SimRequest::Call(call)) => c.handle((*call).into(), ctx),
            // Anything else is dropped: its caller sees the reply channel close.
            _ => {}
        }
    }

    fn proposal_done(
        &mut self,
        id: ProposalId,
        outcome: ProposalOutcome,
        ctx: &mut Ctx<'_, MemStore>,
    ) {
        match self {
            SimMachine::Values(v) => v.proposal_done(id, outcome, ctx),
            SimMachine::Controller(c) => c.proposal_done(id, outcome, ctx),
            SimMachine::Broker(b) => b.proposal_done(id, outcome, ctx),
        }
    }

    fn tick(&mut self, ctx: &mut Ctx<'_, MemStore>) -> Option<Millis> {
        match self {
            SimMachine::Values(v) => v.tick(ctx),
            SimMachine::Controller(c) => c.tick(ctx),
            SimMachine::Broker(b) => b.tick(ctx),
        }
    }
}

/// What a call was for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallKind {
    /// Create a topic that must succeed when the cluster can place it.
    CreateTopic(String),
    /// Create a topic with an impossible replication factor: always a definite error.
    CreateInvalidTopic(String),
    /// Delete a topic whose creation was acknowledged.
    DeleteTopic(String),
    /// Allow a principal to read a topic.
    CreateAcl(String),
    /// Set a topic's `retention.ms`.
    AlterConfig(String, String),
    /// A broker's lifecycle request (registration or heartbeat), sent with its controlled
    /// shutdown wish, by the broker process of that incarnation.
    Lifecycle(NodeId, bool, u32),
}

/// A call a controller holds: its answer is polled after every event.
pub struct Waiting {
    /// What it was for.
    pub kind: CallKind,
    /// The controller it went to.
    pub node: NodeId,
    /// When it was sent.
    pub sent_at: Millis,
    /// The answer.
    pub rx: oneshot::Receiver<ResponseKind>,
}

/// A simulated broker: the shim's lifecycle, and whether it wants to stop.
#[derive(Debug)]
pub struct BrokerSim {
    /// The shim's lifecycle decisions.
    pub lifecycle: LifecycleCore,
    /// A controlled shutdown is asked for.
    pub want_shut_down: bool,
}

impl BrokerSim {
    /// A broker process starting at `now` with a new incarnation.
    pub fn new(id: NodeId, incarnation_id: uuid::Uuid, now: Millis) -> Self {
        let settings = LifecycleSettings {
            broker_id: id,
            cluster_id: SIM_CLUSTER_ID.into(),
            incarnation_id,
            listeners: vec![("PLAINTEXT".into(), format!("broker-{id}"), 9092, 0)],
            rack: Some(format!("rack-{}", id.get() % 2)),
            heartbeat_interval_ms: BROKER_HEARTBEAT_MS,
            // Registration is retried for as long as a run lasts.
            initial_registration_timeout_ms: 10 * 60 * 1000,
            request_timeout_ms: CALL_TIMEOUT_MS,
        };
        BrokerSim {
            lifecycle: LifecycleCore::new(settings, now),
            want_shut_down: false,
        }
    }
}

/// A topic the clients created.
#[derive(Debug, Clone, Default)]
pub struct TopicModel {
    /// Its id and the applied offset at which the creation was acknowledged.
    pub acked: Option<(uuid::Uuid, Offset)>,
    /// A delete was sent: it may be gone from then on.
    pub delete_sent: bool,
    /// A config write was sent.
    pub config_sent: bool,
    /// `retention.ms` acknowledged, with the offset it was acknowledged at.
    pub config_acked: Option<(String, Offset)>,
}

/// The clients' and brokers' view of the metadata workload, and what was acknowledged.
#[derive(Default)]
pub struct Workload {
    /// Calls on their way to a controller, by id.
    pub in_transit: BTreeMap<u64, (NodeId, ControllerCall, CallKind)>,
    /// Calls a controller holds.
    pub waiting: Vec<Waiting>,
    /// Next call id.
    pub next_call: u64,
    /// Next topic / principal number.
    pub next_name: u64,
    /// Topics by name.
    pub topics: BTreeMap<String, TopicModel>,
    /// Topics whose creation got a definite error: they must never exist.
    pub never_topics: BTreeSet<String>,
    /// Topics whose deletion was acknowledged: their id never comes back (name, offset).
    pub deleted: BTreeMap<uuid::Uuid, (String, Offset)>,
    /// Principals whose ACL creation was acknowledged, with the offset.
    pub acls: BTreeMap<String, Offset>,
    /// Principals whose ACL creation got a definite error: never granted.
    pub never_acls: BTreeSet<String>,
    /// The simulated brokers, by node id.
    pub brokers: BTreeMap<NodeId, BrokerSim>,
}

/// The request an admin call sends (a broker's lifecycle makes its own).
pub fn request_for(kind: &CallKind, rng: &mut SimRng) -> Option<(RequestKind, i16)> {
    Some(match kind {
        CallKind::CreateTopic(name) | CallKind::CreateInvalidTopic(name) => {
            let rf = if matches!(kind, CallKind::CreateInvalidTopic(_)) {
                100
            } else {
                rng.range(1, 3) as i16
            };
            let partitions = rng.range(1, 4) as i32;
            (
                RequestKind::CreateTopics(crate::admin::create_topic(name, partitions, rf, &[])),
                7,
            )
        }
        CallKind::DeleteTopic(name) => (
            RequestKind::DeleteTopics(
                DeleteTopicsRequest::default()
                    .with_topic_names(vec![TopicName(StrBytes::from_string(name.clone()))])
                    .with_timeout_ms(30_000),
            ),
            5,
        ),
        CallKind::CreateAcl(principal) => (
            RequestKind::CreateAcls(CreateAclsRequest::default().with_creations(
                vec![AclCreation::default()
                    .with_resource_type(2)
                    .with_resource_name(StrBytes::from_string(format!("topic-of-{principal}")))
                    .with_resource_pattern_type(3)
                    .with_principal(StrBytes::from_string(principal.clone()))
                    .with_host(StrBytes::from_static_str("*"))
                    .with_operation(3)
                    .with_permission_type(3)],
            )),
            3,
        ),
        CallKind::AlterConfig(topic, value) => (
            RequestKind::IncrementalAlterConfigs(
                IncrementalAlterConfigsRequest::default().with_resources(vec![
                    AlterConfigsResource::default()
                        .with_resource_type(2)
                        .with_resource_name(StrBytes::from_string(topic.clone()))
                        .with_configs(vec![AlterableConfig::default()
                            .with_name(StrBytes::from_static_str("retention.ms"))
                            .with_config_operation(0)
                            .with_value(Some(StrBytes::from_string(value.clone())))]),
                ]),
            ),
            1,
        ),
        CallKind::Lifecycle(..) => return None,
    })
}

/// How an answer to a write turned out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Done.
    Acked,
    /// Certainly not done.
    Refused(i16),
    /// Maybe done.
    Unknown,
}

/// The error code and message of a write's answer.
fn code_and_message(response: &ResponseKind) -> Option<(i16, Option<String>)> {
    let msg = |m: &Option<StrBytes>| m.as_ref().map(|s| s.to_string());
    Some(match response {
        ResponseKind::CreateTopics(r) => {
            let t = r.topics.first()?;
            (t.error_code, msg(&t.error_message))
        }
        ResponseKind::DeleteTopics(r) => {
            let t = r.responses.first()?;
            (t.error_code, msg(&t.error_message))
        }
        ResponseKind::CreateAcls(r) => {
            let t = r.results.first()?;
            (t.error_code, msg(&t.error_message))
        }
        ResponseKind::IncrementalAlterConfigs(r) => {
            let t = r.responses.first()?;
            (t.error_code, msg(&t.error_message))
        }
        ResponseKind::BrokerRegistration(r) => (r.error_code, None),
        ResponseKind::BrokerHeartbeat(r) => (r.error_code, None),
        _ => return None,
    })
}

/// Classifies an answer: NOT_CONTROLLER with the "outcome unknown" message is the only error
/// that may have changed something.
pub fn outcome_of(response: &ResponseKind) -> Outcome {
    match code_and_message(response) {
        None => Outcome::Unknown,
        Some((0, _)) => Outcome::Acked,
        Some((code, message)) => {
            let not_controller = ErrorCode::NotController.code();
            if code == not_controller && message.as_deref() == Some(OUTCOME_UNKNOWN_MESSAGE) {
                Outcome::Unknown
            } else {
                Outcome::Refused(code)
            }
        }
    }
}

/// Whether a call has waited too long for its answer.
pub fn timed_out(w: &Waiting, now: Millis) -> bool {
    now.saturating_sub(w.sent_at) > CALL_TIMEOUT_MS
}

/// The image with its provenance cleared, for comparing replicas' images at the same offset
/// (the provenance names the last data record and its time, which a snapshot load does not
/// know).
pub fn comparable(image: &MetadataImage) -> MetadataImage {
    MetadataImage {
        provenance: MetadataProvenance::EMPTY,
        ..image.clone()
    }
}

/// The structural invariants every committed image keeps (KIP-631): a partition's leader is
/// in its ISR and is a registered, unfenced broker; the ISR is made of replicas.
pub fn check_image(image: &MetadataImage) -> Result<(), String> {
    for topic in image.topics.by_id.values() {
        for (index, p) in topic.partitions.iter() {
            let name = format!("{}-{index}", topic.name);
            if let Some(x) = p.isr.iter().find(|b| !p.replicas.contains(b)) {
                return Err(format!(
                    "{name}: ISR {:?} holds {x}, not a replica of {:?}",
                    p.isr, p.replicas
                ));
            }
            if p.leader >= NodeId(0) {
                if !p.isr.contains(&p.leader) {
                    return Err(format!(
                        "{name}: leader {} is not in the ISR {:?}",
                        p.leader, p.isr
                    ));
                }
                match image.broker(p.leader) {
                    None => return Err(format!("{name}: leader {} is not registered", p.leader)),
                    Some(b) if b.fenced => {
                        return Err(format!("{name}: leader {} is fenced", p.leader))
                    }
                    Some(_) => {}
                }
            }
        }
    }
    Ok(())
}

/// The acknowledged writes hold in `image` (a replica's image after applying `[0, applied)`),
/// and writes refused for certain left nothing.
pub fn check_acknowledged(
    workload: &Workload,
    image: &MetadataImage,
    applied: Offset,
) -> Result<(), String> {
    for (name, t) in &workload.topics {
        if t.delete_sent {
            continue;
        }
        if let Some((id, at)) = t.acked {
            if applied >= at {
                match image.topic_by_name(name) {
                    Some(found) if found.id == id => {}
                    Some(found) => {
                        return Err(format!(
                            "topic {name} was acknowledged with id {id} at {at}, the image at {applied} has id {}",
                            found.id
                        ))
                    }
                    None => {
                        return Err(format!(
                            "topic {name} was acknowledged at {at} and is missing from the image at {applied}"
                        ))
                    }
                }
                if let Some((value, at)) = &t.config_acked {
                    if applied >= *at {
                        let got = image
                            .configs
                            .get(2, name)
                            .and_then(|c| c.get("retention.ms"))
                            .cloned();
                        if got.as_deref() != Some(value.as_str()) {
                            return Err(format!(
                                "retention.ms={value} of {name} was acknowledged at {at}; the image at {applied} has {got:?}"
                            ));
                        }
                    }
                }
            }
        }
    }
    for (id, (name, at)) in &workload.deleted {
        if applied >= *at && image.topics.by_id.contains_key(id) {
            return Err(format!(
                "topic {name} ({id}) was deleted with an acknowledgement at {at} and is back at {applied}"
            ));
        }
    }
    for name in &workload.never_topics {
        if image.topic_by_name(name).is_some() {
            return Err(format!(
                "topic {name} exists at {applied}, though its creation was refused"
            ));
        }
    }
    for (principal, at) in &workload.acls {
        if applied >= *at && !image.acls.values().any(|a| &a.principal == principal) {
            return Err(format!(
                "the ACL of {principal} was acknowledged at {at} and is missing at {applied}"
            ));
        }
    }
    for principal in &workload.never_acls {
        if image.acls.values().any(|a| &a.principal == principal) {
            return Err(format!(
                "an ACL of {principal} exists at {applied}, though its creation was refused"
            ));
        }
    }
    Ok(())
}
