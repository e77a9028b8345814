//! metaquorum-log: the metadata log on disk, and nothing else — no async, no networking.
//!
//! - [`batch`]: Kafka RecordBatch v2 validation and encoding (CRC-32C).
//! - [`Log`]: segments `<base offset>.log` with memory-mapped sparse `.index` files, group-commit
//!   durability, zero-copy reads, truncation, tail recovery on open, snapshots and retention.
//! - [`snapshot`]: `<end offset>-<epoch>.checkpoint` files.
//! - [`QuorumStateStore`]: the `quorum-state` election file, replaced atomically.
//! - [`MetaProperties`]: `meta.properties`, the identity of a formatted directory.
//! - [`dump`]: the batch and record listing behind `metaquorum log dump`; [`control_text`]: how
//!   it prints control records.

pub mod batch;
pub mod clock;
pub mod control;
pub mod control_text;
pub mod dump;
mod error;
pub mod fsutil;
pub mod ids;
pub mod index;
pub mod kafka_uuid;
mod log;
pub mod meta_properties;
pub mod quorum_state;
pub mod segment;
pub mod snapshot;

pub use crate::error::LogError;
pub use crate::ids::{Epoch, NodeId, Offset};
pub use crate::log::{
    AppendInfo, CleanReport, EpochStart, FlushDone, Log, LogConfig, LogSlice, OpenReport,
    PendingFlush, Retention, BATCH_BYTES_MAX_DEFAULT, INDEX_INTERVAL_BYTES_DEFAULT,
};
pub use crate::meta_properties::MetaProperties;
pub use crate::quorum_state::{ElectionState, QuorumStateStore};
pub use crate::snapshot::{
    verify_snapshot_bytes, SnapshotEncoder, SnapshotId, SnapshotReader, SnapshotWriter,
};

/// Name of the metadata log's directory under `metadata.log.dir` (topic `__cluster_metadata`,
/// partition 0).
pub const METADATA_LOG_DIR_NAME: &str = "__cluster_metadata-0";
