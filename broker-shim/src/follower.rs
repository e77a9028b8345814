//! [`BrokerMetadata`]: the broker's side of the metadata log. It replays committed batches
//! into the broker's image with its own [`MetadataLoader`], publishes every image to the host
//! broker ([`MetadataPublisher`]), takes its own snapshots so a restart does not refetch the
//! log, and keeps the `kafka_server_brokermetadatametrics_*` gauges.
//!
//! A broker-only node runs it as the node's state machine over an observer core; a combined
//! node runs it beside the controller's ([`Combined`]) as a publisher of the images the
//! controller's loader produces, as Kafka's broker and controller share one Raft client and
//! one `MetadataLoader`.
//!
//! Error policy: a batch that does not replay is never skipped. The broker stops applying at
//! the batch before it, counts `metadata-apply-error-count`, logs the error, and asks the
//! controller to fence it ([`BrokerMetadata::health`]), so it serves no partitions from a
//! stale image while the process stays up for diagnosis.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use metaquorum_controller::control::controller::ControllerRequest;
use metaquorum_controller::control::controller::QuorumController;
use metaquorum_controller::metadata::image::MetadataImage;
use metaquorum_controller::metadata::loader::{CommittedBatch, LoadedImage, MetadataLoader};
use metaquorum_controller::node::{Ctx, StateMachine};
use metaquorum_controller::raft::{Batch, Millis, Offset, ProposalId, ProposalOutcome};
use metaquorum_controller::snapshots::{
    load_latest, SnapshotError, SnapshotPolicy, SnapshotStore, Snapshotter,
};

use crate::events::diff_images;
use crate::metrics::{publish_broker_metadata, record_apply_lag, BrokerMetadataGauges};
use crate::publisher::{MetadataPublisher, MetadataUpdate, UpdateSource};

/// Broker gauges are published at most this often.
const PUBLISH_EVERY_MS: Millis = 200;

/// Whether the broker's metadata can be trusted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetadataHealth {
    /// The replay error that stopped the broker's metadata, if any.
    pub failed: Option<String>,
}

/// The broker's metadata state machine; see the module documentation.
pub struct BrokerMetadata {
    loader: MetadataLoader,
    publisher: MetadataPublisher,
    /// `None` in combined mode: the controller side snapshots the shared log.
    snapshots: Option<Snapshotter>,
    health: Arc<Mutex<MetadataHealth>>,
    load_errors: u64,
    apply_errors: u64,
    published_at_ms: Option<Millis>,
}

impl BrokerMetadata {
    /// A broker metadata follower publishing to `publisher`; `snapshots` is `None` when
    /// another state machine snapshots the same log (combined mode).
    pub fn new(publisher: MetadataPublisher, snapshots: Option<SnapshotPolicy>) -> Self {
        BrokerMetadata {
            loader: MetadataLoader::new(),
            publisher,
            snapshots: snapshots.map(Snapshotter::new),
            health: Arc::new(Mutex::new(MetadataHealth::default())),
            load_errors: 0,
            apply_errors: 0,
            published_at_ms: None,
        }
    }

    /// A handle to the health flag, read by the lifecycle to ask for fencing.
    pub fn health(&self) -> Arc<Mutex<MetadataHealth>> {
        Arc::clone(&self.health)
    }

    fn failed(&self) -> bool {
        self.health
            .lock()
            .map(|h| h.failed.is_some())
            .unwrap_or(true)
    }

    fn fail(&mut self, why: String) {
        tracing::error!(
            "broker metadata stopped: {why}; asking the controller to fence this broker"
        );
        if let Ok(mut h) = self.health.lock() {
            h.failed = Some(why);
        }
    }

    /// Loads the newest snapshot of `store` and publishes it.
    fn load_snapshot<L: SnapshotStore>(&mut self, store: &L) -> Result<Offset, SnapshotError> {
        let previous = self.loader.image().clone();
        let loaded = match load_latest(store, &mut self.loader) {
            Ok(id) => id,
            Err(e) => {
                self.load_errors += 1;
                return Err(e);
            }
        };
        self.publish_loaded(previous);
        Ok(loaded.map_or(Offset(0), |id| id.end_offset))
    }

    /// Continues from `image`, an image of a snapshot someone else has just loaded (the
    /// controller half of a combined node), and publishes it.
    fn adopt_snapshot_image(&mut self, image: MetadataImage) {
        let previous = std::mem::replace(&mut self.loader, MetadataLoader::from_image(image))
            .image()
            .clone();
        self.publish_loaded(previous);
    }

    /// Publishes the image a snapshot load produced, as one update from `previous`.
    fn publish_loaded(&mut self, previous: MetadataImage) {
        if let Some(s) = &mut self.snapshots {
            s.reset();
        }
        let image = self.loader.image().clone();
        self.publisher.publish(MetadataUpdate {
            changes: diff_images(&previous, &image),
            previous,
            image,
            source: UpdateSource::Snapshot,
        });
    }

    /// Replays one committed batch and publishes the images it produces.
    fn apply_batch(&mut self, batch: &Batch, wall_ms: i64) {
        if batch.control || self.failed() {
            return;
        }
        let committed = match CommittedBatch::from_log_batch(batch, wall_ms) {
            Ok(c) => c,
            Err(e) => {
                self.apply_errors += 1;
                self.fail(e.to_string());
                return;
            }
        };
        if batch.timestamp_ms >= 0 {
            record_apply_lag((wall_ms - batch.timestamp_ms).max(0) as f64);
        }
        let previous = self.loader.image().clone();
        match self.loader.handle_batch(&committed) {
            Ok(loaded) => self.publish_log_images(previous, loaded),
            Err(e) => {
                self.apply_errors += 1;
                self.fail(e.to_string());
                return;
            }
        }
        if let Some(s) = &mut self.snapshots {
            s.record_applied(batch.size_bytes() as u64);
        }
    }

    /// Publishes the images a committed batch produced, each as one update from the one
    /// before.
    fn publish_log_images(&mut self, mut previous: MetadataImage, loaded: Vec<LoadedImage>) {
        for l in loaded {
            let image = l.image;
            self.publisher.publish(MetadataUpdate {
                previous: std::mem::replace(&mut previous, image.clone()),
                image,
                changes: l.changes,
                source: UpdateSource::Log,
            });
        }
    }

    /// Publishes the images another loader produced from `batch` (the controller half of a
    /// combined node, which decodes and replays every batch once for both halves) as if this
    /// broker had replayed it, and continues from the last of them.
    fn adopt_batch_images(&mut self, batch: &Batch, loaded: Vec<LoadedImage>, wall_ms: i64) {
        if batch.control || self.failed() {
            return;
        }
        if batch.timestamp_ms >= 0 {
            record_apply_lag((wall_ms - batch.timestamp_ms).max(0) as f64);
        }
        let Some(last) = loaded.last().map(|l| l.image.clone()) else {
            return;
        };
        let previous = self.loader.image().clone();
        self.publish_log_images(previous, loaded);
        self.loader = MetadataLoader::from_image(last);
    }

    fn maybe_publish_gauges(&mut self, now: Millis, wall_ms: i64) {
        if self
            .published_at_ms
            .is_some_and(|t| now.saturating_sub(t) < PUBLISH_EVERY_MS)
        {
            return;
        }
        self.published_at_ms = Some(now);
        let p = self.loader.image().provenance;
        publish_broker_metadata(&BrokerMetadataGauges {
            last_applied_offset: p.offset.into(),
            last_applied_timestamp_ms: p.last_contained_timestamp_ms,
            last_applied_lag_ms: if p.last_contained_timestamp_ms < 0 {
                0
            } else {
                (wall_ms - p.last_contained_timestamp_ms).max(0)
            },
            load_errors: self.load_errors,
            apply_errors: self.apply_errors,
        });
    }

    /// The image replayed so far.
    pub fn image(&self) -> &MetadataImage {
        self.loader.image()
    }

    fn after_apply<L: SnapshotStore>(&mut self, ctx: &mut Ctx<'_, L>) {
        if let Some(s) = &mut self.snapshots {
            let in_transaction = self.loader.in_transaction();
            let now = ctx.now_ms();
            s.maybe_start(self.loader.image(), in_transaction, now, ctx.store_mut());
        }
        self.maybe_publish_gauges(ctx.now_ms(), ctx.wall_ms());
    }

    fn on_tick<L: SnapshotStore>(&mut self, ctx: &mut Ctx<'_, L>) -> Option<Millis> {
        let now = ctx.now_ms();
        if let Some(s) = &mut self.snapshots {
            let wall_ms = ctx.wall_ms();
            s.maybe_finish(ctx.store_mut(), wall_ms);
        }
        self.after_apply(ctx);
        let mut next = now + PUBLISH_EVERY_MS;
        if let Some(t) = self
            .snapshots
            .as_ref()
            .and_then(Snapshotter::next_deadline_ms)
        {
            next = next.min(t);
        }
        Some(next.max(now + 1))
    }
}

impl<L: SnapshotStore> StateMachine<L> for BrokerMetadata {
    /// An observer takes no requests through the node: the shim reads the published image.
    type Request = Infallible;

    fn load(&mut self, store: &L) -> Result<Offset, SnapshotError> {
        self.load_snapshot(store)
    }

    fn apply(&mut self, batch: &Batch, ctx: &mut Ctx<'_, L>) {
        self.apply_batch(batch, ctx.wall_ms());
        self.after_apply(ctx);
    }

    fn handle(&mut self, request: Infallible, _ctx: &mut Ctx<'_, L>) {
        match request {}
    }

    fn proposal_done(&mut self, _id: ProposalId, _outcome: ProposalOutcome, _ctx: &mut Ctx<'_, L>) {
    }

    fn tick(&mut self, ctx: &mut Ctx<'_, L>) -> Option<Millis> {
        self.on_tick(ctx)
    }
}

/// Combined mode (`process.roles=broker,controller`): the controller's state machine and the
/// broker's, fed the same committed batches by one node. The controller's loader decodes and
/// replays each batch once; the broker half publishes the images it produced (one loader,
/// many publishers, as in Kafka). Requests go to the controller.
pub struct Combined {
    controller: QuorumController,
    broker: BrokerMetadata,
}

impl Combined {
    /// Both halves; the broker half must not snapshot (the controller does).
    pub fn new(controller: QuorumController, broker: BrokerMetadata) -> Self {
        Combined {
            controller: controller.publish_images(),
            broker,
        }
    }

    /// The controller half's committed image.
    pub fn controller_image(&self) -> &MetadataImage {
        self.controller.image()
    }

    /// The broker half's image (the last one it published).
    pub fn broker_image(&self) -> &MetadataImage {
        self.broker.image()
    }
}

impl<L: SnapshotStore> StateMachine<L> for Combined {
    type Request = ControllerRequest;

    fn load(&mut self, store: &L) -> Result<Offset, SnapshotError> {
        // The snapshot is read and decoded once: the broker half continues from the image
        // the controller half loaded.
        let next = self.controller.load(store)?;
        self.broker
            .adopt_snapshot_image(self.controller.image().clone());
        Ok(next)
    }

    fn apply(&mut self, batch: &Batch, ctx: &mut Ctx<'_, L>) {
        self.controller.apply(batch, ctx);
        let loaded = self.controller.take_published();
        self.broker.adopt_batch_images(batch, loaded, ctx.wall_ms());
        self.broker.after_apply(ctx);
    }

    fn handle(&mut self, request: ControllerRequest, ctx: &mut Ctx<'_, L>) {
        self.controller.handle(request, ctx);
    }

    fn proposal_done(&mut self, id: ProposalId, outcome: ProposalOutcome, ctx: &mut Ctx<'_, L>) {
        self.controller.proposal_done(id, outcome, ctx);
    }

    fn tick(&mut self, ctx: &mut Ctx<'_, L>) -> Option<Millis> {
        let a = self.controller.tick(ctx);
        let b = self.broker.on_tick(ctx);
        match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}
