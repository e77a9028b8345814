//! control/ — the active controller: its rules as pure functions over plain values (no I/O, no
//! clock, randomness only through an RNG the caller passes), the request handlers built on them,
//! and the state machine that runs them on the leader.
//!
//! - [`errors`]: the Kafka error codes the controller answers with;
//! - [`topic_name`]: topic name validity, '.'/'_' collisions, internal topics;
//! - [`placement`]: rack-aware replica placement for new partitions;
//! - [`config_defs`]: the topic and dynamic broker config catalogues and their validation;
//! - [`partition_change`]: leader election and ISR changes, and AlterPartition validation;
//! - [`topics`], [`acls`], [`configs`], [`brokers`], [`alter_partition`]: the write handlers,
//!   each turning a request and the latest image into records and a response ([`outcome`]);
//!   the Kafka APIs that call them, and the read-only views, are in [`crate::apis`];
//! - [`zk`]: the ZooKeeper front's asks turned into ZooKeeper transactions, and session
//!   liveness and expiry;
//! - [`controller`]: the metadata state machine and the active controller around them.

pub mod acls;
pub mod alter_partition;
pub mod brokers;
pub mod config_defs;
pub mod configs;
pub mod controller;
pub mod errors;
pub mod outcome;
pub mod partition_change;
pub mod placement;
pub mod topic_name;
pub mod topics;
pub mod zk;
