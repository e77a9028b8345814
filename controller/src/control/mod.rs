//! control/ — the rules of the active controller, as pure functions over plain values: no I/O,
//! no clock, randomness only through an RNG the caller passes. The request handlers turn their
//! results into records and responses.
//!
//! - [`errors`]: the Kafka error codes the controller answers with;
//! - [`topic_name`]: topic name validity, '.'/'_' collisions, internal topics;
//! - [`placement`]: rack-aware replica placement for new partitions;
//! - [`config_defs`]: the topic and dynamic broker config catalogues and their validation;
//! - [`partition_change`]: leader election and ISR changes, and AlterPartition validation.

pub mod config_defs;
pub mod errors;
pub mod partition_change;
pub mod placement;
pub mod topic_name;
