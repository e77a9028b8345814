//! [`QuorumController`]: the metadata state machine every controller runs, and the active
//! controller on the leader.
//!
//! Every node replays committed batches through a [`MetadataLoader`] into the committed image,
//! writes snapshots of it (every `metadata.log.max.record.bytes.between.snapshots` bytes or
//! `metadata.log.max.snapshot.interval.ms`) and loads the newest one at start, so standbys are
//! always ready to take over. The leader becomes the *active* controller once it has applied
//! everything before its own epoch (its LeaderChange batch is committed); from then on it
//! validates requests against the latest image (the committed image plus its own records not
//! yet committed), proposes their records as one batch, and answers once that batch is
//! committed and applied. Losing leadership answers everything pending with NOT_CONTROLLER and
//! drops the uncommitted state. The active controller also fences brokers whose sessions
//! expire and writes a NoOp record when idle for `metadata.max.idle.interval.ms`.
//!
//! Requests come in two kinds ([`ControllerRequest`]): Kafka's metadata APIs, and the asks of
//! the ZooKeeper front ([`super::zk`]: open a session, a write, session liveness), which the
//! active controller turns into ZooKeeper transactions the same way and whose sessions it
//! expires.

use std::collections::{BTreeMap, VecDeque};

use kafka_protocol::messages::{RequestKind, ResponseKind};
use metaquorum_log::batch::RecordData;
use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::sync::oneshot;

use super::brokers::{balance_leaders, BrokerLifecycle};
use super::errors::ErrorCode;
use super::outcome::ControlResult;
use super::topics::TopicDefaults;
use super::zk::{self as zk_control, SessionLiveness, ZkCall, ZkOp, ZkOutcome, ZkSettings};
use crate::apis::{
    error_response, metadata_api_of, outcome_unknown, AnyMetadataApi, ControllerCall, Handled,
    Handling, OnController,
};
use crate::config::HostPort;
use crate::metadata::delta::{MetadataChanges, MetadataDelta, ReplayError};
use crate::metadata::image::{MetadataImage, MetadataProvenance};
use crate::metadata::loader::{CommittedBatch, LoadedImage, MetadataLoader};
use crate::metadata::record::{
    AbortTransactionRecord, BeginTransactionRecord, EndTransactionRecord, FeatureLevelRecord,
    MetadataRecord, NoOpRecord,
};
use crate::metrics::{publish_controller, ControllerGauges};
use crate::node::{Ctx, ExitCode, StateMachine};
use crate::raft::{
    Batch, Epoch, Millis, NodeId, Offset, ProposalId, ProposalOutcome, ProposeError, RoleKind,
};
use crate::snapshots::{load_latest, SnapshotError, SnapshotPolicy, SnapshotStore, Snapshotter};
use crate::zk::feed::ZkFeed;

/// Requests queued on a leader that is not yet active, at most.
const WAITING_MAX: usize = 10_000;
/// Preferred-leader elections per balancing round at most (Kafka's
/// `MAX_ELECTIONS_PER_IMBALANCE`).
const LEADER_BALANCE_ELECTIONS_MAX: usize = 1_000;
/// Controller gauges are published at most this often.
const PUBLISH_EVERY_MS: Millis = 500;

/// What the controller needs to know from the configuration.
#[derive(Debug, Clone)]
pub struct ControllerSettings {
    /// The cluster id from `meta.properties`.
    pub cluster_id: String,
    /// The voters and their controller listeners.
    pub voters: BTreeMap<NodeId, HostPort>,
    /// The `metadata.version` level to bootstrap an empty log with (`bootstrap.checkpoint`).
    pub bootstrap_metadata_version: i16,
    /// `broker.session.timeout.ms`.
    pub broker_session_timeout_ms: u64,
    /// `metadata.max.idle.interval.ms`; 0 disables NoOp records.
    pub idle_interval_ms: u64,
    /// When snapshots are taken, and retention after them.
    pub snapshots: SnapshotPolicy,
    /// Defaults for CreateTopics with -1.
    pub topic_defaults: TopicDefaults,
    /// `leader.imbalance.check.interval.seconds` in ms when `auto.leader.rebalance.enable`;
    /// `None` turns preferred-leader balancing off.
    pub leader_balance_interval_ms: Option<u64>,
}

/// Why the active controller could not propose a write's records. Each is logged and the
/// request answered UNKNOWN_SERVER_ERROR; none changes the image.
#[derive(Debug, thiserror::Error)]
pub enum ProposalError {
    /// This controller is not (or no longer) the active one.
    #[error("not the active controller")]
    NotActive,
    /// A handler built a record that its own latest image refuses: a controller bug.
    #[error("the controller built a record that does not apply: {source} ({record})")]
    RecordDoesNotApply {
        /// The record, as debug text.
        record: String,
        /// Why replay refused it.
        source: ReplayError,
    },
    /// The Raft core refused the proposal (not leader, too large, too much pending).
    #[error(transparent)]
    Propose(#[from] ProposeError),
}

/// A request for the controller's state machine.
#[derive(Debug)]
pub enum ControllerRequest {
    /// A Kafka metadata API request.
    Kafka(ControllerCall),
    /// An ask of the ZooKeeper front.
    Zk(ZkCall),
}

impl From<ControllerCall> for ControllerRequest {
    fn from(call: ControllerCall) -> Self {
        ControllerRequest::Kafka(call)
    }
}

impl From<ZkCall> for ControllerRequest {
    fn from(call: ZkCall) -> Self {
        ControllerRequest::Zk(call)
    }
}

/// An answer waiting for the records it rests on to be applied.
enum Waiting {
    /// A Kafka response (boxed: most are large).
    Kafka(oneshot::Sender<ResponseKind>, Box<ResponseKind>),
    /// A ZooKeeper outcome.
    Zk(oneshot::Sender<ZkOutcome>, ZkOutcome),
}

impl Waiting {
    fn send(self) {
        match self {
            Waiting::Kafka(tx, r) => {
                let _ = tx.send(*r);
            }
            Waiting::Zk(tx, o) => {
                let _ = tx.send(o);
            }
        }
    }

    /// The answer when leadership is lost before the records committed: they may still
    /// commit under the next leader.
    fn send_unknown(self) {
        match self {
            Waiting::Kafka(tx, r) => {
                let _ = tx.send(outcome_unknown(*r));
            }
            Waiting::Zk(tx, _) => {
                let _ = tx.send(ZkOutcome::Unknown);
            }
        }
    }
}

/// The leader's state while it is the active controller.
struct Active {
    epoch: Epoch,
    /// The committed image plus every record this controller proposed since.
    latest: MetadataImage,
    /// Answers waiting for their records: sent once the offset is applied.
    replies: BTreeMap<Offset, Vec<Waiting>>,
    /// When each ZooKeeper session expires unless heard from.
    sessions: SessionLiveness,
    /// Offset of the last record proposed (-1 if none this epoch).
    last_proposed: Offset,
    /// The latest image after each proposal, by the proposal's last offset: when that batch
    /// commits, the committed image *is* this one, so the leader adopts it instead of replaying
    /// the same records a second time (Kafka keeps one in-memory state the same way).
    images: VecDeque<(Offset, MetadataImage, MetadataChanges)>,
    /// When a record was last proposed (node ms).
    last_write_ms: Millis,
    /// When leaders are next moved back to their preferred replicas (node ms).
    next_balance_ms: Millis,
    /// When empty containers and expired TTL nodes are next deleted (node ms).
    next_reap_ms: Millis,
}

/// The metadata state machine; see the module documentation.
pub struct QuorumController {
    settings: ControllerSettings,
    loader: MetadataLoader,
    /// Next offset to be applied.
    applied: Offset,
    /// Append time of the last applied batch (wall ms; -1 before any).
    applied_timestamp_ms: i64,
    active: Option<Active>,
    /// Requests that reached the leader before it became active.
    waiting: VecDeque<ControllerRequest>,
    /// What the ZooKeeper front's writes may do.
    zk: ZkSettings,
    /// Where committed images go to the ZooKeeper front's connections, if it is on.
    zk_feed: Option<ZkFeed>,
    lifecycle: BrokerLifecycle,
    rng: StdRng,
    snapshots: Snapshotter,
    new_active_controllers: u64,
    metadata_errors: u64,
    published_at_ms: Option<Millis>,
    /// Whether committed images are kept for [`Self::take_published`] (combined mode).
    publishing: bool,
    /// Images committed since the last [`Self::take_published`], with their changes.
    published: Vec<LoadedImage>,
}

impl QuorumController {
    /// A controller that will load its state from the log; `seed` drives its random choices
    /// (replica placement, ACL ids), so a seeded run replays exactly.
    pub fn new(settings: ControllerSettings, seed: u64) -> Self {
        QuorumController {
            snapshots: Snapshotter::new(settings.snapshots),
            settings,
            loader: MetadataLoader::new(),
            applied: Offset(0),
            applied_timestamp_ms: -1,
            active: None,
            waiting: VecDeque::new(),
            zk: ZkSettings::default(),
            zk_feed: None,
            lifecycle: BrokerLifecycle::default(),
            rng: StdRng::seed_from_u64(seed),
            new_active_controllers: 0,
            metadata_errors: 0,
            published_at_ms: None,
            publishing: false,
            published: Vec::new(),
        }
    }

    /// The committed image.
    pub fn image(&self) -> &MetadataImage {
        self.loader.image()
    }

    /// Keeps every committed image with its changes for [`Self::take_published`]: the one
    /// loader of a combined node, whose broker half publishes them (Kafka's `MetadataLoader`
    /// with several `MetadataPublisher`s) instead of decoding every batch a second time.
    pub fn publish_images(mut self) -> Self {
        self.publishing = true;
        self
    }

    /// Sets what the ZooKeeper front's writes may do.
    pub fn with_zk(mut self, settings: ZkSettings) -> Self {
        self.zk = settings;
        self
    }

    /// Publishes every committed image to the ZooKeeper front's connections through `feed`.
    pub fn with_zk_feed(mut self, feed: ZkFeed) -> Self {
        feed.reset(self.loader.image());
        self.zk_feed = Some(feed);
        self
    }

    /// The images committed since the last call, in order (empty unless
    /// [`Self::publish_images`]).
    pub fn take_published(&mut self) -> Vec<LoadedImage> {
        std::mem::take(&mut self.published)
    }

    fn not_controller<L: SnapshotStore>(request: ControllerRequest, ctx: &Ctx<'_, L>) {
        let call = match request {
            ControllerRequest::Kafka(call) => call,
            ControllerRequest::Zk(call) => {
                let _ = call.reply.send(ZkOutcome::NotActive);
                return;
            }
        };
        let leader = ctx.leader_id().filter(|l| *l != ctx.node_id());
        let message = match leader {
            Some(l) => format!("The active controller is node {l}."),
            None => "No controller is active right now; retry.".to_string(),
        };
        let mut response = error_response(&call.request, ErrorCode::NotController, &message);
        if let Some(ResponseKind::Metadata(m)) = &mut response {
            // The controller id points a Metadata client the way.
            m.controller_id = leader.unwrap_or(NodeId::NONE).into();
        }
        if let Some(r) = response {
            let _ = call.reply.send(r);
        }
    }

    /// Drops the active state: everything pending gets NOT_CONTROLLER.
    fn deactivate<L: SnapshotStore>(&mut self, ctx: &Ctx<'_, L>) {
        let Some(active) = self.active.take() else {
            return;
        };
        tracing::info!(
            "node {} is no longer the active controller (epoch {})",
            ctx.node_id(),
            active.epoch
        );
        self.lifecycle.deactivate();
        if let Some(feed) = &self.zk_feed {
            feed.set_mode("follower");
        }
        for (_, replies) in active.replies {
            for waiting in replies {
                waiting.send_unknown();
            }
        }
    }

    /// Deactivates if leadership is gone; fails queued requests if this node stopped leading.
    fn check_leadership<L: SnapshotStore>(&mut self, ctx: &Ctx<'_, L>) {
        let leading = ctx.role() == RoleKind::Leader;
        if self
            .active
            .as_ref()
            .is_some_and(|a| !leading || a.epoch != ctx.epoch())
        {
            self.deactivate(ctx);
        }
        if !leading {
            while let Some(call) = self.waiting.pop_front() {
                Self::not_controller(call, ctx);
            }
        }
    }

    fn activate<L: SnapshotStore>(&mut self, ctx: &mut Ctx<'_, L>) {
        let epoch = ctx.epoch();
        tracing::info!(
            "node {} is the active controller in epoch {epoch}, at offset {}",
            ctx.node_id(),
            self.applied
        );
        self.new_active_controllers += 1;
        if let Some(feed) = &self.zk_feed {
            feed.set_mode("leader");
        }
        self.lifecycle.activate(self.loader.image(), ctx.now_ms());
        self.active = Some(Active {
            epoch,
            latest: self.loader.image().clone(),
            replies: BTreeMap::new(),
            sessions: SessionLiveness::activate(&self.loader.image().zk, ctx.now_ms()),
            last_proposed: Offset(-1),
            images: VecDeque::new(),
            last_write_ms: ctx.now_ms(),
            next_balance_ms: ctx.now_ms() + self.settings.leader_balance_interval_ms.unwrap_or(0),
            next_reap_ms: ctx.now_ms() + self.zk.container_check_interval_ms,
        });
        let mut records = Vec::new();
        if self.loader.in_transaction() {
            // KIP-868: the previous leader died inside a transaction.
            records.push(MetadataRecord::AbortTransaction(AbortTransactionRecord {
                reason: Some("Controller failover".into()),
            }));
        }
        if self.loader.image().metadata_version().is_none() {
            records.push(MetadataRecord::BeginTransaction(BeginTransactionRecord {
                name: Some("Bootstrap records".into()),
            }));
            records.push(MetadataRecord::FeatureLevel(FeatureLevelRecord {
                name: "metadata.version".into(),
                feature_level: self.settings.bootstrap_metadata_version,
            }));
            records.push(MetadataRecord::EndTransaction(EndTransactionRecord {}));
        }
        if !records.is_empty() {
            if let Err(e) = self.propose(records, ctx) {
                tracing::error!("could not write the activation records: {e}");
            }
        }
        while let Some(request) = self.waiting.pop_front() {
            match request {
                ControllerRequest::Kafka(call) => self.dispatch(call, ctx),
                ControllerRequest::Zk(call) => self.dispatch_zk(call, ctx),
            }
        }
    }

    /// Replays `records` on the latest image and proposes them; returns the last offset.
    fn propose<L: SnapshotStore>(
        &mut self,
        records: Vec<MetadataRecord>,
        ctx: &mut Ctx<'_, L>,
    ) -> Result<Offset, ProposalError> {
        let active = self.active.as_mut().ok_or(ProposalError::NotActive)?;
        let mut delta = MetadataDelta::new(&active.latest);
        // Replayed at the offsets they will have: a ZooKeeper transaction's zxid is its offset.
        let first = ctx.next_offset();
        for (i, r) in records.iter().enumerate() {
            delta.replay_at(first + i as i64, r).map_err(|source| {
                ProposalError::RecordDoesNotApply {
                    record: format!("{r:?}"),
                    source,
                }
            })?;
        }
        let data: Vec<RecordData> = records
            .iter()
            .map(|r| RecordData {
                key: None,
                value: Some(r.encode()),
            })
            .collect();
        let n = data.len() as i64;
        let (_, proposed_at) = ctx.propose(data)?;
        debug_assert_eq!(
            proposed_at, first,
            "the offsets the records were replayed at"
        );
        let last = first + (n - 1);
        active.latest = delta.apply(MetadataProvenance {
            offset: last,
            epoch: active.epoch,
            last_contained_timestamp_ms: ctx.wall_ms(),
        });
        active.last_proposed = last;
        active.last_write_ms = ctx.now_ms();
        active
            .images
            .push_back((last, active.latest.clone(), delta.changes().clone()));
        Ok(last)
    }

    /// Proposes a write's records and queues its response behind them.
    fn complete<L: SnapshotStore>(
        &mut self,
        result: ControlResult<ResponseKind>,
        api: &dyn AnyMetadataApi,
        call_request: &RequestKind,
        reply: oneshot::Sender<ResponseKind>,
        ctx: &mut Ctx<'_, L>,
    ) {
        let response = result.response;
        let wait_for = if result.records.is_empty() {
            // Nothing to write, but the answer may rest on records not yet committed.
            self.active.as_ref().map_or(Offset(-1), |a| a.last_proposed)
        } else {
            match self.propose(result.records, ctx) {
                Ok(last) => last,
                Err(e) => {
                    tracing::error!("{e}");
                    let r = api
                        .error_response(call_request, ErrorCode::UnknownServerError, &e.to_string())
                        .unwrap_or(response);
                    let _ = reply.send(r);
                    return;
                }
            }
        };
        if wait_for < self.applied {
            let _ = reply.send(response);
        } else if let Some(a) = self.active.as_mut() {
            a.replies
                .entry(wait_for)
                .or_default()
                .push(Waiting::Kafka(reply, Box::new(response)));
        }
    }

    /// Answers an ask of the ZooKeeper front on the active controller: one transaction
    /// proposed and answered once applied, a refusal answered at once with the offset it rests
    /// on, or a touch.
    fn dispatch_zk<L: SnapshotStore>(&mut self, call: ZkCall, ctx: &mut Ctx<'_, L>) {
        let (now, wall_ms) = (ctx.now_ms(), ctx.wall_ms());
        let Some(active) = self.active.as_mut() else {
            return Self::not_controller(ControllerRequest::Zk(call), ctx);
        };
        let tree = &active.latest.zk;
        let record = match &call.op {
            ZkOp::Touch { session_ids } => {
                active.sessions.touch(tree, session_ids, now);
                let _ = call.reply.send(ZkOutcome::Touched);
                return;
            }
            ZkOp::Sync => {
                let after_zxid = active.latest.provenance.offset.into();
                let code = metaquorum_zk::proto::ErrorCode::Ok;
                let _ = call.reply.send(ZkOutcome::Answer { code, after_zxid });
                return;
            }
            ZkOp::OpenSession { timeout_ms } => Ok(zk_control::open_session_record(
                &mut active.sessions,
                tree,
                *timeout_ms,
                &mut self.rng,
                wall_ms,
                now,
            )),
            ZkOp::Write {
                session_id,
                ids,
                request,
            } => zk_control::write_record(
                &mut active.sessions,
                tree,
                *session_id,
                ids,
                request,
                self.zk,
                wall_ms,
                now,
            ),
        };
        let record = match record {
            Ok(r) => r,
            Err(code) => {
                let after_zxid = active.latest.provenance.offset.into();
                let _ = call.reply.send(ZkOutcome::Answer { code, after_zxid });
                return;
            }
        };
        match self.propose(vec![record], ctx) {
            Ok(zxid) => {
                if let Some(a) = self.active.as_mut() {
                    let outcome = ZkOutcome::Committed { zxid: zxid.into() };
                    a.replies
                        .entry(zxid)
                        .or_default()
                        .push(Waiting::Zk(call.reply, outcome));
                }
            }
            Err(e) => {
                // Nothing was appended (the core refused it, or this controller lost its
                // active state): the node closes the connection and the client retries.
                tracing::warn!("a ZooKeeper write was not proposed: {e}");
                let _ = call.reply.send(ZkOutcome::NotActive);
            }
        }
    }

    /// Deletes empty containers and expired TTL nodes when the check is due; returns when the
    /// next check is.
    fn reap_zk_nodes<L: SnapshotStore>(&mut self, ctx: &mut Ctx<'_, L>) -> Option<Millis> {
        let interval = self.zk.container_check_interval_ms;
        let now = ctx.now_ms();
        let active = self.active.as_mut()?;
        if interval == 0 {
            return None;
        }
        if now < active.next_reap_ms {
            return Some(active.next_reap_ms);
        }
        active.next_reap_ms = now + interval;
        let next = active.next_reap_ms;
        let records =
            zk_control::reap_records(&active.latest.zk, ctx.wall_ms(), self.zk.reap_per_check());
        if !records.is_empty() {
            tracing::info!(
                "deleting {} empty ZooKeeper containers or expired TTL nodes",
                records.len()
            );
            if let Err(e) = self.propose(records, ctx) {
                tracing::error!("deleting ZooKeeper containers: {e}");
            }
        }
        Some(next)
    }

    /// Proposes the expiry of every ZooKeeper session whose deadline passed; returns the next
    /// deadline.
    fn expire_zk_sessions<L: SnapshotStore>(&mut self, ctx: &mut Ctx<'_, L>) -> Option<Millis> {
        let now = ctx.now_ms();
        let active = self.active.as_mut()?;
        let expired = active.sessions.expire(&active.latest.zk, now);
        for id in expired {
            tracing::info!("ZooKeeper session 0x{id:x} expired");
            let record = zk_control::expiry_record(id, ctx.wall_ms());
            if let Err(e) = self.propose(vec![record], ctx) {
                tracing::error!("expiring ZooKeeper session 0x{id:x}: {e}");
            }
        }
        self.active.as_ref()?.sessions.next_deadline()
    }

    /// Runs a request's handler: on the active controller against its latest image, or (for
    /// the APIs any controller answers) against the committed image.
    fn dispatch<L: SnapshotStore>(&mut self, call: ControllerCall, ctx: &mut Ctx<'_, L>) {
        let Some(api) = metadata_api_of(&call.request) else {
            tracing::warn!("dropping a request the controller does not serve");
            return;
        };
        let latest = match self.active.as_ref() {
            Some(a) => a.latest.clone(),
            None if api.on_controller() == OnController::Any => self.loader.image().clone(),
            None => return Self::not_controller(call.into(), ctx),
        };
        let ControllerCall {
            request,
            version,
            reply,
        } = call;
        let mut handling = Handling {
            version,
            committed: self.loader.image(),
            latest: &latest,
            cluster_id: &self.settings.cluster_id,
            node_id: ctx.node_id(),
            leader_id: ctx.leader_id(),
            voters: &self.settings.voters,
            topic_defaults: self.settings.topic_defaults,
            broker_session_timeout_ms: self.settings.broker_session_timeout_ms,
            rng: &mut self.rng,
            lifecycle: &mut self.lifecycle,
            now_ms: ctx.now_ms(),
            next_offset: ctx.next_offset(),
        };
        match api.handle(&request, &mut handling) {
            Some(Handled::Read(response)) => {
                let _ = reply.send(response);
            }
            Some(Handled::Write(result)) => self.complete(result, api, &request, reply, ctx),
            None => {
                if let Some(r) =
                    api.error_response(&request, ErrorCode::InvalidRequest, "not a controller API")
                {
                    let _ = reply.send(r);
                }
            }
        }
    }

    /// Answers every reply waiting for an offset below `self.applied`.
    fn release_replies(&mut self) {
        let Some(active) = self.active.as_mut() else {
            return;
        };
        let later = active.replies.split_off(&self.applied);
        for (_, replies) in std::mem::replace(&mut active.replies, later) {
            for waiting in replies {
                waiting.send();
            }
        }
    }

    /// On the active controller, a committed batch that ends exactly where one of its own
    /// proposals ended is already replayed in that proposal's image: take the image instead of
    /// replaying the batch, and return it. Returns `None` (replay it) otherwise.
    fn adopt_latest(&mut self, batch: &Batch) -> Option<LoadedImage> {
        let active = self.active.as_mut()?;
        let last = batch.next_offset() - 1;
        let mut adopted = None;
        // Several proposals may share one batch: their changes chain into the batch's.
        let mut changes: Option<MetadataChanges> = None;
        while active.images.front().is_some_and(|(o, _, _)| *o <= last) {
            if let Some((offset, image, ch)) = active.images.pop_front() {
                changes = Some(match changes {
                    Some(before) => before.then(&ch),
                    None => ch,
                });
                adopted = Some((offset, image));
            }
        }
        match adopted {
            Some((offset, image)) if offset == last && !self.loader.in_transaction() => {
                let provenance = MetadataProvenance {
                    offset: last,
                    epoch: batch.epoch,
                    last_contained_timestamp_ms: image.provenance.last_contained_timestamp_ms,
                };
                let image = MetadataImage {
                    provenance,
                    ..image
                };
                // Only bootstrap-complete images are adopted; anything else replays.
                image.metadata_version()?;
                self.loader = MetadataLoader::from_image(image.clone());
                Some(LoadedImage {
                    image,
                    changes: changes.unwrap_or_default(),
                })
            }
            _ => None,
        }
    }

    /// Hands newly committed images to whoever follows them: the broker half of a combined
    /// node, and the ZooKeeper front's connections.
    fn emit(&mut self, loaded: Vec<LoadedImage>) {
        if let Some(feed) = &self.zk_feed {
            for l in &loaded {
                feed.publish(l);
            }
        }
        if self.publishing {
            self.published.extend(loaded);
        }
    }

    /// A committed batch that does not replay: the image cannot be trusted, so the node stops
    /// (exit code 4) rather than serve or lead from it.
    fn fatal<L: SnapshotStore>(
        &mut self,
        what: &str,
        e: impl std::fmt::Display,
        ctx: &mut Ctx<'_, L>,
    ) {
        self.metadata_errors += 1;
        tracing::error!("fatal metadata error while {what}: {e}; stopping");
        ctx.exit(
            ExitCode::Metadata,
            format!("metadata error while {what}: {e}"),
        );
    }

    /// Starts a snapshot of the committed image if one is due.
    fn maybe_snapshot<L: SnapshotStore>(&mut self, ctx: &mut Ctx<'_, L>) {
        let now = ctx.now_ms();
        let in_transaction = self.loader.in_transaction();
        self.snapshots
            .maybe_start(self.loader.image(), in_transaction, now, ctx.store_mut());
    }

    fn publish<L: SnapshotStore>(&mut self, ctx: &Ctx<'_, L>) {
        let now = ctx.now_ms();
        if self
            .published_at_ms
            .is_some_and(|t| now.saturating_sub(t) < PUBLISH_EVERY_MS)
        {
            return;
        }
        self.published_at_ms = Some(now);
        let image = self.loader.image();
        let last_applied = image.provenance.offset;
        publish_controller(&ControllerGauges {
            active: self.active.is_some(),
            active_brokers: image.active_broker_count(),
            fenced_brokers: image.fenced_broker_count(),
            topics: image.topic_count(),
            partitions: image.partition_count(),
            offline_partitions: image.offline_partition_count(),
            last_applied_offset: last_applied.into(),
            last_committed_offset: (ctx.high_watermark() - 1).into(),
            last_applied_lag_ms: if self.active.is_some() || self.applied_timestamp_ms < 0 {
                0
            } else {
                (ctx.wall_ms() - self.applied_timestamp_ms).max(0)
            },
            last_applied_timestamp_ms: self.applied_timestamp_ms,
            new_active_controllers: self.new_active_controllers,
            timed_out_broker_heartbeats: self.lifecycle.timed_out_heartbeats,
            metadata_errors: self.metadata_errors,
        });
    }
}

impl<L: SnapshotStore> StateMachine<L> for QuorumController {
    type Request = ControllerRequest;

    fn load(&mut self, store: &L) -> Result<Offset, SnapshotError> {
        // A loaded snapshot replaces everything; its image is published by whoever loads it.
        self.published.clear();
        self.applied = load_latest(store, &mut self.loader)?.map_or(Offset(0), |id| id.end_offset);
        self.snapshots.reset();
        if let Some(feed) = &self.zk_feed {
            feed.reset(self.loader.image());
        }
        Ok(self.applied)
    }

    fn apply(&mut self, batch: &Batch, ctx: &mut Ctx<'_, L>) {
        self.applied = batch.next_offset();
        if !batch.control {
            let committed = match CommittedBatch::from_log_batch(batch, ctx.wall_ms()) {
                Ok(c) => c,
                Err(e) => return self.fatal("applying committed records", e, ctx),
            };
            let loaded = match self.adopt_latest(batch) {
                Some(adopted) => vec![adopted],
                None => match self.loader.handle_batch(&committed) {
                    Ok(loaded) => loaded,
                    Err(e) => return self.fatal("applying committed records", e, ctx),
                },
            };
            self.emit(loaded);
            self.applied_timestamp_ms = committed.append_timestamp_ms;
            self.snapshots.record_applied(batch.size_bytes() as u64);
        }
        self.check_leadership(ctx);
        self.release_replies();
        if batch.control
            && self.active.is_none()
            && ctx.role() == RoleKind::Leader
            && batch.epoch == Epoch(ctx.epoch().into())
        {
            // Everything before this epoch is applied: take over.
            self.activate(ctx);
        }
        self.maybe_snapshot(ctx);
    }

    fn handle(&mut self, request: ControllerRequest, ctx: &mut Ctx<'_, L>) {
        self.check_leadership(ctx);
        match request {
            // The APIs any controller answers need no active state.
            ControllerRequest::Kafka(call)
                if self.active.is_some()
                    || metadata_api_of(&call.request)
                        .is_some_and(|a| a.on_controller() == OnController::Any) =>
            {
                self.dispatch(call, ctx)
            }
            ControllerRequest::Zk(call) if self.active.is_some() => self.dispatch_zk(call, ctx),
            request if ctx.role() == RoleKind::Leader && self.waiting.len() < WAITING_MAX => {
                self.waiting.push_back(request);
            }
            request => Self::not_controller(request, ctx),
        }
    }

    fn proposal_done(&mut self, _id: ProposalId, outcome: ProposalOutcome, ctx: &mut Ctx<'_, L>) {
        if !matches!(outcome, ProposalOutcome::Committed { .. }) {
            // Leadership is lost (or being lost): nothing uncommitted can be trusted.
            let still_leading = self
                .active
                .as_ref()
                .is_some_and(|a| ctx.role() == RoleKind::Leader && a.epoch == ctx.epoch());
            self.deactivate(ctx);
            if still_leading {
                // Not expected from the core; start over from the committed image rather than
                // stay inactive for the rest of the epoch.
                tracing::warn!("a proposal failed ({outcome:?}) while still leading; reactivating");
                self.activate(ctx);
            }
        }
        self.check_leadership(ctx);
    }

    fn tick(&mut self, ctx: &mut Ctx<'_, L>) -> Option<Millis> {
        self.check_leadership(ctx);
        let wall_ms = ctx.wall_ms();
        self.snapshots.maybe_finish(ctx.store_mut(), wall_ms);
        self.maybe_snapshot(ctx);
        self.publish(ctx);
        let now = ctx.now_ms();
        let mut next = now + PUBLISH_EVERY_MS;
        if let Some(t) = self.snapshots.next_deadline_ms() {
            next = next.min(t);
        }
        if self.active.is_none() {
            return Some(next);
        }
        let session = self.settings.broker_session_timeout_ms;
        let latest = self
            .active
            .as_ref()
            .map(|a| a.latest.clone())
            .unwrap_or_default();
        if let Some((broker, records)) = self.lifecycle.fence_one_stale(&latest, now, session) {
            if let Err(e) = self.propose(records, ctx) {
                tracing::error!("fencing broker {broker}: {e}");
            }
        }
        if let Some(interval) = self.settings.leader_balance_interval_ms {
            let due = self.active.as_ref().map_or(u64::MAX, |a| a.next_balance_ms);
            if now >= due {
                if let Some(a) = self.active.as_mut() {
                    a.next_balance_ms = now + interval;
                }
                let records = balance_leaders(&latest, LEADER_BALANCE_ELECTIONS_MAX);
                if !records.is_empty() {
                    tracing::info!(
                        "moving {} partition leaderships back to their preferred replicas",
                        records.len()
                    );
                    if let Err(e) = self.propose(records, ctx) {
                        tracing::error!("preferred leader election: {e}");
                    }
                }
            }
            if let Some(a) = self.active.as_ref() {
                next = next.min(a.next_balance_ms);
            }
        }
        let idle = self.settings.idle_interval_ms;
        if idle > 0 {
            let last = self.active.as_ref().map_or(now, |a| a.last_write_ms);
            if now.saturating_sub(last) >= idle {
                if let Err(e) = self.propose(vec![MetadataRecord::NoOp(NoOpRecord {})], ctx) {
                    tracing::debug!("writing a NoOp record: {e}");
                }
            }
            let last = self.active.as_ref().map_or(now, |a| a.last_write_ms);
            next = next.min(last + idle);
        }
        if let Some(a) = self.active.as_ref() {
            if let Some(expiry) = self.lifecycle.next_expiry_ms(&a.latest, session) {
                next = next.min(expiry);
            }
        }
        if let Some(expiry) = self.expire_zk_sessions(ctx) {
            next = next.min(expiry);
        }
        if let Some(reap) = self.reap_zk_nodes(ctx) {
            next = next.min(reap);
        }
        Some(next.max(now + 1))
    }
}
