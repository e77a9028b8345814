//! The log-store seam of the core: what it reads ([`LogStore`]) and the operations a driver
//! applies from a [`Ready`](super::Ready) ([`LogOp`]), with [`MemStore`], the in-memory store the
//! simulator uses, which forgets its unflushed suffix on a simulated crash.
//!
//! Contract of every implementation (checked by the conformance tests):
//! - the log is contiguous from `log_start_offset()` to `end_offset()`, in batches;
//! - `apply(Append)` requires the batch to start at `end_offset()` with an epoch no lower than
//!   `last_epoch()`; it is readable at once and durable only after `flush()`;
//! - `apply(Truncate(o))` removes everything at or above `o`, durably;
//! - `durable_end_offset() <= end_offset()`, and a crash loses at most what is above it;
//! - `apply(SnapshotChunk)` at position 0 starts receiving a snapshot afresh; later chunks
//!   must continue where the last ended;
//! - `apply(InstallSnapshot(id))` makes the snapshot received through `SnapshotChunk`s the
//!   newest one and restarts the log, empty, at `id.end_offset`.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use metaquorum_log::batch::RecordData;

use super::{Epoch, Offset, SnapshotId};

/// Where a follower's log stops matching: the end offset of the largest epoch <= its last
/// fetched epoch on the leader (Fetch's `DivergingEpoch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochEndOffset {
    /// The epoch.
    pub epoch: Epoch,
    /// Its end offset on the leader.
    pub end_offset: Offset,
}

/// Bytes a batch costs beyond its records, for size accounting (Kafka's v2 header).
pub const BATCH_OVERHEAD_BYTES: usize = 61;
/// Bytes a record costs beyond its key and value, for size accounting.
pub const RECORD_OVERHEAD_BYTES: usize = 8;

/// One log batch as the core sees it: records of one epoch at consecutive offsets.
///
/// Equality ignores `timestamp_ms`: two batches with the same offsets, epoch and records are
/// the same batch whenever they were stamped.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Offset of the first record.
    pub base_offset: Offset,
    /// The leader epoch that wrote it.
    pub epoch: Epoch,
    /// Control records (LeaderChange, ...) rather than data.
    pub control: bool,
    /// The records; shared, so batches are cheap to copy into messages.
    pub records: Arc<Vec<RecordData>>,
    /// Wall-clock ms when the leader appended the batch; -1 until it is first stored (the
    /// log stamps it then, and replication carries the leader's stamp to every replica).
    pub timestamp_ms: i64,
}

impl PartialEq for Batch {
    fn eq(&self, other: &Self) -> bool {
        self.base_offset == other.base_offset
            && self.epoch == other.epoch
            && self.control == other.control
            && self.records == other.records
    }
}

impl Batch {
    /// Builds a batch.
    pub fn new(base_offset: Offset, epoch: Epoch, control: bool, records: Vec<RecordData>) -> Self {
        Batch {
            base_offset,
            epoch,
            control,
            records: Arc::new(records),
            timestamp_ms: -1,
        }
    }

    /// The leader's append time, or `fallback` for a batch not yet stamped.
    pub fn timestamp_or(&self, fallback: i64) -> i64 {
        if self.timestamp_ms >= 0 {
            self.timestamp_ms
        } else {
            fallback
        }
    }

    /// The same batch with the leader's append time.
    pub fn with_timestamp_ms(mut self, timestamp_ms: i64) -> Self {
        self.timestamp_ms = timestamp_ms;
        self
    }

    /// Offset after the last record.
    pub fn next_offset(&self) -> Offset {
        self.base_offset + self.records.len() as i64
    }

    /// Approximate encoded size.
    pub fn size_bytes(&self) -> usize {
        BATCH_OVERHEAD_BYTES + self.records.iter().map(record_size_bytes).sum::<usize>()
    }
}

/// Approximate encoded size of one record.
pub fn record_size_bytes(r: &RecordData) -> usize {
    RECORD_OVERHEAD_BYTES
        + r.key.as_ref().map_or(0, |k| k.len())
        + r.value.as_ref().map_or(0, |v| v.len())
}

/// A change to the log a driver applies from a `Ready`, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum LogOp {
    /// Remove every record at or above the offset (durably).
    Truncate(Offset),
    /// Write a batch at the log end (not yet durable).
    Append(Batch),
    /// Write a received snapshot chunk at `position`.
    SnapshotChunk {
        /// The snapshot being received.
        id: SnapshotId,
        /// Where the chunk goes.
        position: u64,
        /// The bytes.
        bytes: Bytes,
    },
    /// The snapshot is complete: make it the newest and restart the log at its end offset.
    InstallSnapshot(SnapshotId),
}

/// A store failure. The core treats any as fatal to the operation that needed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The store refused an operation that breaks its contract.
    #[error("log store: {0}")]
    Invalid(String),
    /// The underlying storage failed.
    #[error("log store I/O: {0}")]
    Io(String),
}

/// What the core reads from its log, and what a driver applies to it.
pub trait LogStore {
    /// First offset held in the log.
    fn log_start_offset(&self) -> Offset;
    /// Offset after the last batch written (durable or not).
    fn end_offset(&self) -> Offset;
    /// Everything below this offset survives a crash.
    fn durable_end_offset(&self) -> Offset;
    /// Epoch of the last batch; of the newest snapshot when the log is empty; else 0.
    fn last_epoch(&self) -> Epoch;
    /// The largest epoch `<= epoch` the log (or its newest snapshot) holds, and where it ends.
    /// `None` if `epoch` is older than everything held.
    fn end_offset_for_epoch(&self, epoch: Epoch) -> Option<EpochEndOffset>;
    /// Whole batches from the one containing `from`, up to `max_bytes` (at least one batch).
    fn read(&self, from: Offset, max_bytes: usize) -> Result<Vec<Batch>, StoreError>;
    /// The newest snapshot.
    fn latest_snapshot(&self) -> Option<SnapshotId>;
    /// Size of a snapshot in bytes, if it exists.
    fn snapshot_size(&self, id: SnapshotId) -> Option<u64>;
    /// Up to `max_bytes` of snapshot `id` from `position`.
    fn read_snapshot_chunk(
        &self,
        id: SnapshotId,
        position: u64,
        max_bytes: usize,
    ) -> Result<Bytes, StoreError>;
    /// Applies one operation of a `Ready`.
    fn apply(&mut self, op: LogOp) -> Result<(), StoreError>;
    /// Makes everything written durable; returns the durable end offset.
    fn flush(&mut self) -> Result<Offset, StoreError>;
}

/// A store whose flushes run off the node's thread (group commit): the node begins a flush,
/// the shell makes it durable (`fdatasync` on a thread of its own, or the simulator's latency),
/// and the node completes it.
///
/// Contract: `complete_flush` raises the durable end to at most what was written when the
/// flush began, and not at all if the log was truncated since (a flush of the old suffix).
pub trait FlushStore: LogStore {
    /// A begun flush, for the shell to make durable.
    type Flush: Send + 'static;
    /// A finished flush, handed back to the node.
    type Flushed: Send + 'static;
    /// Starts a flush of everything written so far.
    fn begin_flush(&self) -> Self::Flush;
    /// Completes a flush the shell made durable.
    fn complete_flush(&mut self, done: Self::Flushed);
}

/// A started flush of a [`MemStore`], completed later by the simulator (flush latency).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemFlush {
    target: Offset,
    generation: u64,
}

/// The in-memory log store: batches in a `Vec`, snapshots in a map, a durable mark that a
/// simulated crash falls back to.
#[derive(Debug, Clone, Default)]
pub struct MemStore {
    log_start: Offset,
    /// Invariant: contiguous from `log_start`.
    batches: Vec<Batch>,
    /// Invariant: at a batch boundary, <= end.
    durable_end: Offset,
    /// Bumped by truncation, so flushes begun before it do not count after it.
    generation: u64,
    /// First offset of each epoch in `batches`.
    epochs: Vec<(Epoch, Offset)>,
    snapshots: BTreeMap<SnapshotId, Bytes>,
    receiving: Option<(SnapshotId, Vec<u8>)>,
}

impl MemStore {
    /// An empty store.
    pub fn new() -> Self {
        MemStore::default()
    }

    /// Starts a flush of everything written so far (completed with [`MemStore::complete_flush`]).
    pub fn begin_flush(&self) -> MemFlush {
        MemFlush {
            target: self.end_offset(),
            generation: self.generation,
        }
    }

    /// Completes a flush; ignored if the log was truncated since it began.
    pub fn complete_flush(&mut self, flush: MemFlush) {
        if flush.generation == self.generation {
            self.durable_end = self.durable_end.max(flush.target.min(self.end_offset()));
        }
    }

    /// A crash: everything above the durable end is lost, as is a half-received snapshot.
    /// Then recovery as the segmented log does it at open: a log that ends before the newest
    /// snapshot (a snapshot written from committed state this node had not yet flushed, or a
    /// crash inside an install), or whose last epoch is older than the snapshot's, restarts
    /// empty at the snapshot's end.
    pub fn crash(&mut self) {
        let keep = self
            .batches
            .partition_point(|b| b.next_offset() <= self.durable_end);
        self.batches.truncate(keep);
        self.rebuild_epochs();
        self.receiving = None;
        self.generation += 1;
        if let Some(latest) = self.latest_snapshot() {
            let behind = latest.end_offset > self.end_offset();
            let older = self.batches.last().is_some_and(|b| b.epoch < latest.epoch);
            if behind || older {
                self.batches.clear();
                self.epochs.clear();
                self.log_start = latest.end_offset;
                self.durable_end = latest.end_offset;
            }
        }
    }

    /// Stores a snapshot this node generated (from its state machine).
    pub fn create_snapshot(&mut self, id: SnapshotId, bytes: Bytes) {
        self.snapshots.insert(id, bytes);
    }

    /// The bytes of a snapshot.
    pub fn snapshot(&self, id: SnapshotId) -> Option<&Bytes> {
        self.snapshots.get(&id)
    }

    /// Retention: drops batches wholly below the newest snapshot, and snapshots older than the
    /// newest `keep_snapshots` (a follower may still be downloading one of those).
    pub fn delete_before_latest_snapshot(&mut self, keep_snapshots: usize) {
        let Some(latest) = self.latest_snapshot() else {
            return;
        };
        let drop = self
            .batches
            .partition_point(|b| b.next_offset() <= latest.end_offset);
        if drop > 0 {
            self.log_start = self.batches[drop - 1].next_offset();
            self.batches.drain(..drop);
            self.rebuild_epochs();
        }
        self.durable_end = self.durable_end.max(self.log_start);
        while self.snapshots.len() > keep_snapshots.max(1) {
            self.snapshots.pop_first();
        }
    }

    /// Every batch held (for invariant checks).
    pub fn batches(&self) -> &[Batch] {
        &self.batches
    }

    fn rebuild_epochs(&mut self) {
        self.epochs.clear();
        for b in &self.batches {
            if self.epochs.last().is_none_or(|e| e.0 < b.epoch) {
                self.epochs.push((b.epoch, b.base_offset));
            }
        }
    }

    fn index_of(&self, offset: Offset) -> usize {
        self.batches.partition_point(|b| b.next_offset() <= offset)
    }
}

impl FlushStore for MemStore {
    type Flush = MemFlush;
    type Flushed = MemFlush;

    fn begin_flush(&self) -> MemFlush {
        MemStore::begin_flush(self)
    }

    fn complete_flush(&mut self, done: MemFlush) {
        MemStore::complete_flush(self, done)
    }
}

impl LogStore for MemStore {
    fn log_start_offset(&self) -> Offset {
        self.log_start
    }

    fn end_offset(&self) -> Offset {
        self.batches
            .last()
            .map_or(self.log_start, Batch::next_offset)
    }

    fn durable_end_offset(&self) -> Offset {
        self.durable_end
    }

    fn last_epoch(&self) -> Epoch {
        match (self.batches.last(), self.latest_snapshot()) {
            (Some(b), _) => b.epoch,
            (None, Some(s)) => s.epoch,
            (None, None) => Epoch(0),
        }
    }

    fn end_offset_for_epoch(&self, epoch: Epoch) -> Option<EpochEndOffset> {
        end_offset_for_epoch(
            &self.epochs,
            self.end_offset(),
            self.log_start,
            self.latest_snapshot(),
            epoch,
        )
    }

    fn read(&self, from: Offset, max_bytes: usize) -> Result<Vec<Batch>, StoreError> {
        if from < self.log_start || from > self.end_offset() {
            return Err(StoreError::Invalid(format!(
                "read at {from} outside [{}, {}]",
                self.log_start,
                self.end_offset()
            )));
        }
        let mut out = Vec::new();
        let mut bytes = 0;
        for b in &self.batches[self.index_of(from)..] {
            let size = b.size_bytes();
            if !out.is_empty() && bytes + size > max_bytes {
                break;
            }
            bytes += size;
            out.push(b.clone());
        }
        Ok(out)
    }

    fn latest_snapshot(&self) -> Option<SnapshotId> {
        self.snapshots.keys().next_back().copied()
    }

    fn snapshot_size(&self, id: SnapshotId) -> Option<u64> {
        self.snapshots.get(&id).map(|b| b.len() as u64)
    }

    fn read_snapshot_chunk(
        &self,
        id: SnapshotId,
        position: u64,
        max_bytes: usize,
    ) -> Result<Bytes, StoreError> {
        let data = self
            .snapshots
            .get(&id)
            .ok_or_else(|| StoreError::Invalid(format!("no snapshot {id}")))?;
        let start = usize::try_from(position).unwrap_or(usize::MAX);
        if start > data.len() {
            return Err(StoreError::Invalid(format!(
                "position {position} past snapshot {id}"
            )));
        }
        Ok(data.slice(start..(start + max_bytes).min(data.len())))
    }

    fn apply(&mut self, op: LogOp) -> Result<(), StoreError> {
        match op {
            LogOp::Append(batch) => {
                if batch.base_offset != self.end_offset() || batch.records.is_empty() {
                    return Err(StoreError::Invalid(format!(
                        "append at {} to a log ending at {}",
                        batch.base_offset,
                        self.end_offset()
                    )));
                }
                if batch.epoch < self.last_epoch() && !self.batches.is_empty() {
                    return Err(StoreError::Invalid(format!(
                        "append of epoch {} after epoch {}",
                        batch.epoch,
                        self.last_epoch()
                    )));
                }
                if self.epochs.last().is_none_or(|e| e.0 < batch.epoch) {
                    self.epochs.push((batch.epoch, batch.base_offset));
                }
                self.batches.push(batch);
            }
            LogOp::Truncate(offset) => {
                if offset < self.end_offset() {
                    if offset < self.log_start {
                        return Err(StoreError::Invalid(format!(
                            "truncate to {offset} below the log start {}",
                            self.log_start
                        )));
                    }
                    let keep = self.index_of(offset);
                    self.batches.truncate(keep);
                    self.rebuild_epochs();
                    self.durable_end = self.durable_end.min(self.end_offset());
                    self.generation += 1;
                }
            }
            LogOp::SnapshotChunk {
                id,
                position,
                bytes,
            } => {
                let buf = match &mut self.receiving {
                    Some((rid, buf)) if *rid == id && position > 0 => buf,
                    _ => {
                        self.receiving = Some((id, Vec::new()));
                        &mut self.receiving.as_mut().expect("just set").1
                    }
                };
                if position != buf.len() as u64 {
                    return Err(StoreError::Invalid(format!(
                        "snapshot chunk at {position}, expected {}",
                        buf.len()
                    )));
                }
                buf.extend_from_slice(&bytes);
            }
            LogOp::InstallSnapshot(id) => {
                let data = match self.receiving.take() {
                    Some((rid, buf)) if rid == id => Bytes::from(buf),
                    _ => return Err(StoreError::Invalid(format!("no received snapshot {id}"))),
                };
                self.snapshots.insert(id, data);
                self.snapshots.retain(|s, _| *s == id);
                self.batches.clear();
                self.epochs.clear();
                self.log_start = id.end_offset;
                self.durable_end = id.end_offset;
                self.generation += 1;
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<Offset, StoreError> {
        let f = self.begin_flush();
        self.complete_flush(f);
        Ok(self.durable_end)
    }
}

/// Shared epoch lookup over (epoch, start offset) pairs of a log, falling back to its snapshot.
pub(crate) fn end_offset_for_epoch(
    epochs: &[(Epoch, Offset)],
    log_end: Offset,
    log_start: Offset,
    snapshot: Option<SnapshotId>,
    epoch: Epoch,
) -> Option<EpochEndOffset> {
    let i = epochs.partition_point(|e| e.0 <= epoch);
    if i > 0 {
        let end = epochs.get(i).map_or(log_end, |next| next.1);
        return Some(EpochEndOffset {
            epoch: epochs[i - 1].0,
            end_offset: end,
        });
    }
    // Nothing in the log is at or below `epoch`: the snapshot, or the start of an empty history.
    let first_log_offset = epochs.first().map_or(log_end, |e| e.1);
    match snapshot {
        Some(s) if s.epoch <= epoch => Some(EpochEndOffset {
            epoch: s.epoch,
            end_offset: s.end_offset.min(first_log_offset),
        }),
        Some(_) => None,
        // An empty history: epoch 0 ends where the log starts.
        None if log_start == Offset(0) => Some(EpochEndOffset {
            epoch: Epoch(0),
            end_offset: Offset(0),
        }),
        None => None,
    }
}
