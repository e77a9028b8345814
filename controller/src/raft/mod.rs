//! The KRaft consensus core, with no I/O: no async, no clock, no file system, no global RNG.
//!
//! Inputs are [`RaftCore::step`] (a message from a peer), [`RaftCore::tick`] (the time now),
//! [`RaftCore::propose`] (records to replicate) and [`RaftCore::handle_log_flushed`] (an fsync
//! finished). After any of them the node (`crate::node`) takes a [`Ready`] and performs it in order: the log
//! operations (written, not yet durable), then the election state (durably), then the messages,
//! then a log flush if asked. Time and the election-jitter seed are inputs, so the same inputs
//! replay the same run. Semantics follow KIP-595 (KRaft), KIP-630 (snapshots), KIP-996 (pre-vote)
//! and check-quorum; see `reference/kraft.md` §1.

mod config;
mod core;
mod message;
mod rng;
mod role;
pub mod segmented;
mod store;
#[cfg(test)]
mod tests;

pub use self::config::RaftConfig;
pub use self::core::{
    ProposalId, ProposalOutcome, ProposeError, QuorumInfo, RaftCore, Ready, ReplicaInfo,
};
pub use self::message::{ErrorCode, Message};
pub use self::role::{ElectionState, RoleKind};
pub use self::store::{
    Batch, EpochEndOffset, FlushStore, LogOp, LogStore, MemFlush, MemStore, StoreError,
};

pub use metaquorum_log::{Epoch, NodeId, Offset};
/// Milliseconds of the driver's clock (monotonic; the simulator's is virtual).
pub type Millis = u64;

pub use metaquorum_log::SnapshotId;
