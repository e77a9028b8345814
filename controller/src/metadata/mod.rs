//! Metadata records in Kafka's encoding ([`record`], [`records`]), the immutable metadata image
//! ([`image`] and its parts) and the delta that replays records into the next image
//! ([`delta`]), the whole difference between two images ([`diff`]), the loader that feeds committed batches through it ([`loader`]), ACLs and their
//! filters ([`acl`]), the `metadata.version` ladder ([`version`]), the metadata's epochs
//! ([`ids`]) and the ZooKeeper front's records and replay ([`zk`]).

pub mod acl;
pub mod cluster;
pub(crate) mod codec;
pub mod configs;
pub mod delta;
pub mod diff;
pub mod features;
pub mod ids;
pub mod image;
pub(crate) mod json;
pub mod loader;
pub mod partition;
pub mod record;
pub mod records;
pub mod replay_error;
pub mod topics;
pub mod version;
pub mod zk;

pub use self::ids::{node_ids, raw_node_ids, BrokerEpoch, LeaderEpoch, PartitionEpoch};

#[cfg(test)]
mod image_tests;
#[cfg(test)]
mod record_tests;
