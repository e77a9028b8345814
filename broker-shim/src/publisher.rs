//! The listener API's plumbing: [`MetadataPublisher`] hands every new image from the node
//! thread to the host broker without ever blocking it; [`MetadataSubscription`] is what the
//! host holds to receive [`MetadataUpdate`]s in order.
//!
//! Updates go through a bounded broadcast channel. A subscriber that falls more than
//! [`UPDATES_QUEUED_MAX`] updates behind is not allowed to slow the node down: its next
//! update is a *resync* from the last image it saw to the newest one, with every difference
//! computed (the same shape as loading a snapshot), so nothing is ever silently missed.

use std::sync::Arc;

use metaquorum_controller::metadata::image::MetadataImage;
use tokio::sync::{broadcast, watch};

use crate::events::diff_images;
pub use crate::events::{MetadataUpdate, UpdateSource};

/// Updates queued per subscriber at most before it is resynchronised.
pub const UPDATES_QUEUED_MAX: usize = 1024;

/// The sending side, owned by whoever replays the log. Cheap to clone.
#[derive(Clone)]
pub struct MetadataPublisher {
    latest: Arc<watch::Sender<MetadataImage>>,
    updates: broadcast::Sender<Arc<MetadataUpdate>>,
}

impl Default for MetadataPublisher {
    fn default() -> Self {
        Self::new()
    }
}

impl MetadataPublisher {
    /// A publisher holding the empty image.
    pub fn new() -> Self {
        let (latest, _) = watch::channel(MetadataImage::empty());
        let (updates, _) = broadcast::channel(UPDATES_QUEUED_MAX);
        MetadataPublisher {
            latest: Arc::new(latest),
            updates,
        }
    }

    /// Publishes a new image; never blocks.
    pub fn publish(&self, update: MetadataUpdate) {
        self.latest.send_replace(update.image.clone());
        // No subscriber is not an error: the update is simply not kept.
        let _ = self.updates.send(Arc::new(update));
    }

    /// The newest image.
    pub fn latest(&self) -> MetadataImage {
        self.latest.borrow().clone()
    }

    /// A receiver that sees the newest image whenever it changes (intermediate images may be
    /// skipped), for readers that only need the current state.
    pub fn watch(&self) -> watch::Receiver<MetadataImage> {
        self.latest.subscribe()
    }

    /// A subscription to every update from now on, starting after the newest image.
    pub fn subscribe(&self) -> MetadataSubscription {
        // Subscribe first, then read the image: an update published in between is both in
        // the queue and (possibly) in `last_seen`; `next` skips what it has already seen.
        let updates = self.updates.subscribe();
        let last_seen = self.latest();
        MetadataSubscription {
            updates,
            latest: self.latest.subscribe(),
            last_seen,
        }
    }
}

/// The host broker's end of the listener API; see the module documentation.
pub struct MetadataSubscription {
    updates: broadcast::Receiver<Arc<MetadataUpdate>>,
    latest: watch::Receiver<MetadataImage>,
    /// The newest image this subscriber has been given.
    last_seen: MetadataImage,
}

impl MetadataSubscription {
    /// The image the subscription has delivered up to (the newest at subscription time before
    /// the first update).
    pub fn current(&self) -> &MetadataImage {
        &self.last_seen
    }

    /// The next update, in log order. `None` once the publisher is gone (the shim stopped).
    pub async fn next(&mut self) -> Option<Arc<MetadataUpdate>> {
        loop {
            match self.updates.recv().await {
                Ok(update) => {
                    if update.image.provenance.offset <= self.last_seen.provenance.offset
                        && update.source == UpdateSource::Log
                    {
                        continue;
                    }
                    let update = if update.previous.provenance == self.last_seen.provenance {
                        update
                    } else {
                        // A gap (e.g. subscribed between two publishes): bridge it.
                        Arc::new(self.resync_to(update.image.clone(), update.source))
                    };
                    self.last_seen = update.image.clone();
                    return Some(update);
                }
                Err(broadcast::error::RecvError::Lagged(skipped)) => {
                    tracing::warn!(
                        "a metadata subscriber fell {skipped} updates behind; resynchronising"
                    );
                    let newest = self.latest.borrow().clone();
                    // Drop what is still queued: the resync covers it.
                    self.updates = self.updates.resubscribe();
                    let update = Arc::new(self.resync_to(newest, UpdateSource::Resync));
                    self.last_seen = update.image.clone();
                    return Some(update);
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }

    fn resync_to(&self, image: MetadataImage, source: UpdateSource) -> MetadataUpdate {
        let source = if source == UpdateSource::Log {
            UpdateSource::Resync
        } else {
            source
        };
        MetadataUpdate {
            changes: diff_images(&self.last_seen, &image),
            previous: self.last_seen.clone(),
            image,
            source,
        }
    }
}
