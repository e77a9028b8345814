//! [`ZkFeed`]: committed images on their way from the node's state machine to the ZooKeeper
//! front's connections, with the ZooKeeper transactions each applied, in log order.
//!
//! Every connection needs every transaction (its watches fire on them, its writes are answered
//! from them), so updates go through a bounded broadcast channel: a connection that falls more
//! than [`FEED_UPDATES_MAX`] updates behind has missed events and is closed (its client
//! reconnects and re-registers its watches with the last zxid it saw, which fires what it
//! missed). The latest image is also kept on its own, for connections that start.

use std::sync::Arc;

use imbl::Vector;
use tokio::sync::{broadcast, watch};

use crate::metadata::image::MetadataImage;
use crate::metadata::loader::LoadedImage;
use crate::metadata::zk::ZkApplied;

/// Updates a connection may be behind before it is closed.
pub const FEED_UPDATES_MAX: usize = 4_096;

/// One committed image and the ZooKeeper transactions applied to reach it.
#[derive(Debug)]
pub struct ZkUpdate {
    /// The image.
    pub image: MetadataImage,
    /// The transactions, in log order.
    pub txns: Vector<ZkApplied>,
    /// The image replaced the previous one wholesale (a snapshot was loaded): transactions
    /// were skipped.
    pub reset: bool,
}

impl ZkUpdate {
    /// The zxid the image is at: its last record's offset.
    pub fn zxid(&self) -> i64 {
        self.image.provenance.offset.into()
    }
}

/// The sending side, held by the state machine; clone it to subscribe.
#[derive(Debug, Clone)]
pub struct ZkFeed {
    updates: broadcast::Sender<Arc<ZkUpdate>>,
    latest: Arc<watch::Sender<Arc<ZkUpdate>>>,
    /// ZooKeeper's name for the node's part, as `srvr` reports it: `leader` for the active
    /// controller, `follower` for the others.
    mode: Arc<watch::Sender<&'static str>>,
}

impl Default for ZkFeed {
    fn default() -> Self {
        ZkFeed::new()
    }
}

impl ZkFeed {
    /// A feed at the empty image.
    pub fn new() -> ZkFeed {
        let (updates, _) = broadcast::channel(FEED_UPDATES_MAX);
        let (latest, _) = watch::channel(Arc::new(ZkUpdate {
            image: MetadataImage::empty(),
            txns: Vector::new(),
            reset: true,
        }));
        let (mode, _) = watch::channel("follower");
        ZkFeed {
            updates,
            latest: Arc::new(latest),
            mode: Arc::new(mode),
        }
    }

    /// Publishes a committed image (never blocks: with nobody listening it is only kept as
    /// the latest).
    pub fn publish(&self, loaded: &LoadedImage) {
        self.send(ZkUpdate {
            image: loaded.image.clone(),
            txns: loaded.changes.zk_txns.clone(),
            reset: false,
        });
    }

    /// Publishes an image that replaced the previous one (a snapshot load).
    pub fn reset(&self, image: &MetadataImage) {
        self.send(ZkUpdate {
            image: image.clone(),
            txns: Vector::new(),
            reset: true,
        });
    }

    fn send(&self, update: ZkUpdate) {
        let update = Arc::new(update);
        self.latest.send_replace(Arc::clone(&update));
        let _ = self.updates.send(update);
    }

    /// Updates from now on, and the latest image (which may already include some of them:
    /// skip updates at or below its zxid).
    pub fn subscribe(&self) -> (broadcast::Receiver<Arc<ZkUpdate>>, Arc<ZkUpdate>) {
        let rx = self.updates.subscribe();
        (rx, self.latest())
    }

    /// Sets the node's mode (`leader`, `follower`).
    pub fn set_mode(&self, mode: &'static str) {
        self.mode.send_replace(mode);
    }

    /// The node's mode.
    pub fn mode(&self) -> &'static str {
        *self.mode.borrow()
    }

    /// The latest update.
    pub fn latest(&self) -> Arc<ZkUpdate> {
        Arc::clone(&self.latest.borrow())
    }
}
