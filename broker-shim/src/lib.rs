//! metaquorum-broker-shim: what a broker links (this library) or runs (`process.roles=broker`)
//! to be a member of a metaquorum cluster.
//!
//! - [`BrokerShim::start`] registers the broker with the active controller and heartbeats
//!   (KIP-631 states in [`BrokerState`]; unfenced once caught up to its own registration;
//!   controlled shutdown with [`BrokerShim::shutdown`]), follows the metadata log as a Raft
//!   observer with its own log directory and snapshots ([`follower`]), and serves Kafka clients
//!   on its `listeners` ([`listener`]).
//! - **The listener API** for the host broker: [`BrokerShim::subscribe`] returns a
//!   [`MetadataSubscription`]; each [`MetadataUpdate`] carries the image before and after and
//!   what changed, and [`MetadataUpdate::events`] tells it as [`MetadataEvent`]s (topics and
//!   partitions created, changed, deleted; this broker's leaderships and followerships; brokers
//!   fenced and unfenced; ACL and config changes). Updates arrive in log order; a subscriber
//!   that falls far behind gets one resync update instead of blocking the broker.
//!   `examples/print_changes.rs` prints every change as it arrives.
//! - **Combined mode** (`process.roles=broker,controller`): the broker's metadata is fed by the
//!   controller's node ([`follower::Combined`]).
//!
//! ```no_run
//! # async fn demo(config: metaquorum_controller::config::Config) -> Result<(), Box<dyn std::error::Error>> {
//! let shim = metaquorum_broker_shim::BrokerShim::start(&config).await?;
//! let mut updates = shim.subscribe();
//! while let Some(update) = updates.next().await {
//!     for event in update.events(shim.broker_id) {
//!         println!("{event:?}");
//!     }
//! }
//! # Ok(()) }
//! ```

pub mod channel;
pub mod events;
pub mod follower;
pub mod isr;
pub mod lifecycle;
pub mod listener;
pub mod metrics;
pub mod publisher;
pub mod shim;

pub use events::MetadataEvent;
pub use lifecycle::BrokerState;
pub use publisher::{MetadataSubscription, MetadataUpdate, UpdateSource};
pub use shim::{BrokerShim, ShimError, ShimOptions};

#[cfg(test)]
mod tests;
