//! Snapshots of the metadata image for any node that replays the log (controller or broker):
//! when one is due (`metadata.log.max.record.bytes.between.snapshots` bytes of committed
//! records, or `metadata.log.max.snapshot.interval.ms`), writing it, recording it in the log
//! with retention afterwards, and loading the newest one at start.
//!
//! Every node takes its own snapshots, as in Kafka (`SnapshotGenerator` on each node): a
//! restart loads the newest snapshot and replays only the tail. Where snapshots live is the
//! store's business ([`SnapshotStore`]): the segmented log writes them as `.checkpoint` files on
//! a thread of its own, so the node goes on while the image is encoded and fsynced; the
//! simulator's [`MemStore`] encodes the same bytes in memory at once, so a seed replays exactly.

use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::time::Instant;

use bytes::Bytes;
use metaquorum_log::batch::{BatchIter, RecordData};
use metaquorum_log::{verify_snapshot_bytes, Retention, SnapshotEncoder, SnapshotId};

use crate::metadata::image::{MetadataImage, MetadataProvenance};
use crate::metadata::loader::MetadataLoader;
use crate::raft::segmented::{decode_batch, SegmentedStore};
use crate::raft::{FlushStore, LogStore, MemStore, Millis, Offset};

/// Records per batch of a generated snapshot.
const SNAPSHOT_RECORDS_PER_BATCH: usize = 1_000;

/// When snapshots are taken and what retention keeps afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotPolicy {
    /// `metadata.log.max.record.bytes.between.snapshots`.
    pub bytes_max: u64,
    /// `metadata.log.max.snapshot.interval.ms`; 0 disables the time trigger.
    pub interval_ms: u64,
    /// `metadata.max.retention.bytes` / `.ms`.
    pub retention: Retention,
}

/// Why a snapshot could not be read, loaded or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    /// The store lists the snapshot but cannot open or read it.
    #[error("opening snapshot {id}: {reason}")]
    Open {
        /// The snapshot.
        id: SnapshotId,
        /// What failed.
        reason: String,
    },
    /// A batch, the framing, the header or the footer is damaged.
    #[error("snapshot {id} is damaged: {reason}")]
    Damaged {
        /// The snapshot.
        id: SnapshotId,
        /// What is wrong.
        reason: String,
    },
    /// Its records do not replay into an image.
    #[error("loading snapshot {id}: {reason}")]
    Load {
        /// The snapshot.
        id: SnapshotId,
        /// The replay error.
        reason: String,
    },
    /// Writing it failed; the log is unchanged (only replay gets longer).
    #[error("writing snapshot {id}: {reason}")]
    Write {
        /// The snapshot.
        id: SnapshotId,
        /// What failed.
        reason: String,
    },
    /// Retention after it failed.
    #[error("retention after snapshot {id}: {reason}")]
    Retention {
        /// The snapshot.
        id: SnapshotId,
        /// What failed.
        reason: String,
    },
}

/// How a snapshot's writing ended.
#[derive(Debug)]
pub struct SnapshotOutcome {
    /// The snapshot written, or why it could not be.
    pub result: Result<SnapshotId, SnapshotError>,
    /// Records it holds.
    pub records: usize,
    /// Time spent encoding and writing it.
    pub elapsed_ms: u128,
}

/// Produces a snapshot's records; runs wherever the store writes the snapshot.
pub type SnapshotRecords = Box<dyn FnOnce() -> Vec<RecordData> + Send>;

/// A log store that also keeps the state machine's snapshots.
///
/// Contract: a snapshot started with [`SnapshotStore::start_snapshot`] reports its outcome
/// once on the returned channel; [`SnapshotStore::finish_snapshot`] then makes it the newest
/// snapshot (if it is not already) and applies retention, which never deletes what the newest
/// snapshot does not cover. [`SnapshotStore::snapshot_values`] checks a snapshot whole before
/// it returns anything from it.
pub trait SnapshotStore: FlushStore {
    /// The values of the data records of snapshot `id`, in order, after checking every batch.
    fn snapshot_values(&self, id: SnapshotId) -> Result<Vec<Bytes>, SnapshotError>;
    /// Starts writing snapshot `id` of the records `records` produces, stamped with the
    /// append time of its last record.
    fn start_snapshot(
        &mut self,
        id: SnapshotId,
        last_contained_timestamp_ms: i64,
        records: SnapshotRecords,
    ) -> Result<Receiver<SnapshotOutcome>, SnapshotError>;
    /// Records a written snapshot and applies retention at wall time `wall_ms`; returns what
    /// retention did, for the log line.
    fn finish_snapshot(
        &mut self,
        id: SnapshotId,
        wall_ms: i64,
        retention: Retention,
    ) -> Result<String, SnapshotError>;
}

/// The data records' values of a snapshot's bytes (header and footer control batches skipped).
fn values_of(
    bytes: &[u8],
    id: SnapshotId,
    batch_bytes_max: usize,
) -> Result<Vec<Bytes>, SnapshotError> {
    let mut values = Vec::new();
    for (_, header, bytes) in BatchIter::new(bytes, batch_bytes_max, true) {
        if header.is_control() {
            continue;
        }
        let batch = decode_batch(bytes).map_err(|e| SnapshotError::Damaged {
            id,
            reason: e.to_string(),
        })?;
        values.extend(batch.records.iter().filter_map(|r| r.value.clone()));
    }
    Ok(values)
}

/// A RecordBatch v2 header, and the most one record adds besides its key and value (attributes,
/// length, timestamp and offset deltas, key and value lengths, header count, as varints).
const BATCH_OVERHEAD_BYTES: usize = 61;
const RECORD_OVERHEAD_BYTES_MAX: usize = 36;

/// Encodes records in batches of at most [`SNAPSHOT_RECORDS_PER_BATCH`] records and
/// `batch_bytes_max` bytes through `append`. A record that cannot fit a batch on its own still
/// gets one, and the writer refuses it with a clear error.
fn append_in_batches<E>(
    records: &[RecordData],
    batch_bytes_max: usize,
    mut append: impl FnMut(&[RecordData]) -> Result<(), E>,
) -> Result<(), E> {
    let size = |r: &RecordData| {
        RECORD_OVERHEAD_BYTES_MAX
            + r.key.as_ref().map_or(0, |k| k.len())
            + r.value.as_ref().map_or(0, |v| v.len())
    };
    let mut start = 0;
    let mut bytes = BATCH_OVERHEAD_BYTES;
    for (i, r) in records.iter().enumerate() {
        let n = size(r);
        let full = i - start == SNAPSHOT_RECORDS_PER_BATCH
            || (i > start && bytes.saturating_add(n) > batch_bytes_max);
        if full {
            append(&records[start..i])?;
            start = i;
            bytes = BATCH_OVERHEAD_BYTES;
        }
        bytes = bytes.saturating_add(n);
    }
    if start < records.len() {
        append(&records[start..])?;
    }
    Ok(())
}

impl SnapshotStore for SegmentedStore {
    fn snapshot_values(&self, id: SnapshotId) -> Result<Vec<Bytes>, SnapshotError> {
        let reader = self
            .log()
            .open_snapshot(id)
            .map_err(|e| SnapshotError::Open {
                id,
                reason: e.to_string(),
            })?;
        reader.verify().map_err(|e| SnapshotError::Damaged {
            id,
            reason: e.to_string(),
        })?;
        values_of(reader.bytes(), id, self.log().config().batch_bytes_max)
    }

    /// The file is created here; encoding, writing and fsync run on a thread of their own.
    fn start_snapshot(
        &mut self,
        id: SnapshotId,
        last_contained_timestamp_ms: i64,
        records: SnapshotRecords,
    ) -> Result<Receiver<SnapshotOutcome>, SnapshotError> {
        let write = |reason: String| SnapshotError::Write { id, reason };
        // The voter set (KIP-853) travels from snapshot to snapshot, so retention can delete
        // the bootstrap snapshot that first held it.
        if self.voters_control.is_none() {
            let found = crate::storage::voters_control_records(self.log().dir())
                .map_err(|e| write(format!("reading the voter set: {e}")))?;
            self.voters_control = Some(found.map(|f| f.control_records).unwrap_or_default());
        }
        let carried = self.voters_control.clone().unwrap_or_default();
        let mut writer = self
            .log_mut()
            .create_snapshot(id, last_contained_timestamp_ms)
            .map_err(|e| write(format!("starting it: {e}")))?;
        if !carried.is_empty() {
            writer
                .append_control_records(&carried)
                .map_err(|e| write(format!("writing the voter set: {e}")))?;
        }
        let batch_bytes_max = self.log().config().batch_bytes_max;
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("metaquorum-snapshot".into())
            .spawn(move || {
                let started = Instant::now();
                let records = records();
                let result = append_in_batches(&records, batch_bytes_max, |chunk| {
                    writer.append_records(chunk)
                })
                .and_then(|()| writer.finish())
                .map_err(|e| SnapshotError::Write {
                    id,
                    reason: e.to_string(),
                });
                let _ = tx.send(SnapshotOutcome {
                    result,
                    records: records.len(),
                    elapsed_ms: started.elapsed().as_millis(),
                });
            })
            .map_err(|e| write(format!("starting the snapshot thread: {e}")))?;
        Ok(rx)
    }

    fn finish_snapshot(
        &mut self,
        id: SnapshotId,
        wall_ms: i64,
        retention: Retention,
    ) -> Result<String, SnapshotError> {
        let log = self.log_mut();
        log.add_finished_snapshot(id)
            .map_err(|e| SnapshotError::Write {
                id,
                reason: e.to_string(),
            })?;
        let report = log
            .clean(wall_ms, retention)
            .map_err(|e| SnapshotError::Retention {
                id,
                reason: e.to_string(),
            })?;
        Ok(format!(
            "retention deleted {} segment(s), {} snapshot(s); log starts at {}",
            report.segments_deleted, report.snapshots_deleted, report.log_start_offset
        ))
    }
}

/// Snapshots the in-memory store keeps besides its newest (a follower may be downloading one).
const MEM_SNAPSHOTS_KEPT: usize = 3;

impl SnapshotStore for MemStore {
    fn snapshot_values(&self, id: SnapshotId) -> Result<Vec<Bytes>, SnapshotError> {
        let bytes = self.snapshot(id).ok_or_else(|| SnapshotError::Open {
            id,
            reason: "not in the store".into(),
        })?;
        let name = std::path::PathBuf::from(id.file_name());
        verify_snapshot_bytes(bytes, usize::MAX, &name).map_err(|e| SnapshotError::Damaged {
            id,
            reason: e.to_string(),
        })?;
        values_of(bytes, id, usize::MAX)
    }

    /// Encoded at once, in memory: the outcome is waiting when the caller next looks.
    fn start_snapshot(
        &mut self,
        id: SnapshotId,
        last_contained_timestamp_ms: i64,
        records: SnapshotRecords,
    ) -> Result<Receiver<SnapshotOutcome>, SnapshotError> {
        let records = records();
        let encoded = SnapshotEncoder::new(id, last_contained_timestamp_ms, usize::MAX)
            .and_then(|mut e| {
                append_in_batches(&records, usize::MAX, |chunk| e.append_records(chunk))?;
                e.finish()
            })
            .map_err(|e| SnapshotError::Write {
                id,
                reason: e.to_string(),
            });
        let result = encoded.map(|bytes| {
            self.create_snapshot(id, bytes);
            id
        });
        let (tx, rx) = mpsc::channel();
        let _ = tx.send(SnapshotOutcome {
            result,
            records: records.len(),
            elapsed_ms: 0,
        });
        Ok(rx)
    }

    fn finish_snapshot(
        &mut self,
        id: SnapshotId,
        _wall_ms: i64,
        _retention: Retention,
    ) -> Result<String, SnapshotError> {
        if self.snapshot(id).is_none() {
            return Err(SnapshotError::Write {
                id,
                reason: "not in the store".into(),
            });
        }
        self.delete_before_latest_snapshot(MEM_SNAPSHOTS_KEPT);
        Ok(format!("log starts at {}", self.log_start_offset()))
    }
}

/// Decides when to snapshot and runs one snapshot at a time; see the module documentation.
pub struct Snapshotter {
    policy: SnapshotPolicy,
    /// Committed record bytes not yet covered by a snapshot.
    bytes_since: u64,
    /// Driver time of the last snapshot (or of the first check).
    last_ms: Option<Millis>,
    /// A snapshot being written; its outcome arrives here.
    in_flight: Option<(SnapshotId, Receiver<SnapshotOutcome>)>,
}

impl Snapshotter {
    /// A snapshotter with nothing applied yet.
    pub fn new(policy: SnapshotPolicy) -> Self {
        Snapshotter {
            policy,
            bytes_since: 0,
            last_ms: None,
            in_flight: None,
        }
    }

    /// Counts applied record bytes towards the next snapshot.
    pub fn record_applied(&mut self, bytes: u64) {
        self.bytes_since = self.bytes_since.saturating_add(bytes);
    }

    /// The state was just loaded from a snapshot: nothing is outstanding.
    pub fn reset(&mut self) {
        self.bytes_since = 0;
    }

    /// When the time trigger fires next, if it can.
    pub fn next_deadline_ms(&self) -> Option<Millis> {
        if self.policy.interval_ms == 0 {
            return None;
        }
        self.last_ms.map(|t| t + self.policy.interval_ms)
    }

    /// Starts writing a snapshot of `image` if one is due and none is running. The image is
    /// immutable, so the store encodes and writes it wherever it writes snapshots (a thread of
    /// its own for the segmented log) while the caller goes on; [`Self::maybe_finish`] records
    /// it. `in_transaction` holds the snapshot back: a snapshot never contains part of a
    /// metadata transaction.
    pub fn maybe_start<L: SnapshotStore>(
        &mut self,
        image: &MetadataImage,
        in_transaction: bool,
        now: Millis,
        store: &mut L,
    ) {
        let since = *self.last_ms.get_or_insert(now);
        let by_bytes = self.bytes_since >= self.policy.bytes_max;
        let by_time = self.policy.interval_ms > 0
            && self.bytes_since > 0
            && now.saturating_sub(since) >= self.policy.interval_ms;
        if !(by_bytes || by_time) || in_transaction || self.in_flight.is_some() {
            return;
        }
        if image.provenance.offset < Offset(0) {
            return;
        }
        let id = SnapshotId {
            end_offset: Offset((image.provenance.offset + 1).into()),
            epoch: image.provenance.epoch,
        };
        self.last_ms = Some(now);
        self.bytes_since = 0;
        if store
            .latest_snapshot()
            .is_some_and(|s| s.end_offset >= id.end_offset)
        {
            return;
        }
        let timestamp_ms = image.provenance.last_contained_timestamp_ms;
        let image = image.clone();
        let records: SnapshotRecords = Box::new(move || {
            image
                .to_records()
                .iter()
                .map(|r| RecordData {
                    key: None,
                    value: Some(r.encode()),
                })
                .collect()
        });
        match store.start_snapshot(id, timestamp_ms, records) {
            Ok(rx) => self.in_flight = Some((id, rx)),
            Err(e) => tracing::error!("{e}"),
        }
    }

    /// Records a finished snapshot in the store and applies retention at wall time `wall_ms`. A
    /// failed snapshot is logged and costs replay time, never data: the log stays as it was.
    pub fn maybe_finish<L: SnapshotStore>(&mut self, store: &mut L, wall_ms: i64) {
        let Some((id, rx)) = &self.in_flight else {
            return;
        };
        let outcome = match rx.try_recv() {
            Ok(o) => o,
            Err(TryRecvError::Empty) => return,
            Err(TryRecvError::Disconnected) => SnapshotOutcome {
                result: Err(SnapshotError::Write {
                    id: *id,
                    reason: "the snapshot writer died".into(),
                }),
                records: 0,
                elapsed_ms: 0,
            },
        };
        self.in_flight = None;
        let retention = self.policy.retention;
        let finished = outcome.result.and_then(|id| {
            let report = store.finish_snapshot(id, wall_ms, retention)?;
            Ok((id, report))
        });
        match finished {
            Ok((id, report)) => tracing::info!(
                "wrote snapshot {id} ({} records) in {} ms; {report}",
                outcome.records,
                outcome.elapsed_ms,
            ),
            Err(e) => tracing::error!("writing a snapshot failed: {e}"),
        }
    }
}

/// Loads the newest snapshot of `store` into `loader`. Returns the snapshot's id, or `None`
/// (and an empty loader) when there is none. A damaged snapshot is an error naming it.
pub fn load_latest<L: SnapshotStore>(
    store: &L,
    loader: &mut MetadataLoader,
) -> Result<Option<SnapshotId>, SnapshotError> {
    let Some(id) = store.latest_snapshot() else {
        *loader = MetadataLoader::new();
        return Ok(None);
    };
    let values = store.snapshot_values(id)?;
    let provenance = MetadataProvenance {
        offset: (id.end_offset - 1),
        epoch: id.epoch,
        last_contained_timestamp_ms: -1,
    };
    loader
        .load_snapshot(provenance, &values)
        .map_err(|e| SnapshotError::Load {
            id,
            reason: e.to_string(),
        })?;
    let image = loader.image();
    tracing::info!(
        "loaded snapshot {id}: {} topics, {} partitions, {} brokers",
        image.topic_count(),
        image.partition_count(),
        image.cluster.brokers.len()
    );
    Ok(Some(id))
}

#[cfg(test)]
mod tests {
    use crate::raft::Epoch;
    use bytes::Bytes;
    use metaquorum_log::batch::RecordData;
    use metaquorum_log::{SnapshotEncoder, SnapshotId};

    use super::*;

    fn record(len: usize) -> RecordData {
        RecordData {
            key: None,
            value: Some(Bytes::from(vec![7u8; len])),
        }
    }

    // Snapshot batches stay within the log's batch limit however many records an image has:
    // every batch encodes below it, every record is written once, in order.
    #[test]
    fn snapshot_batches_respect_the_batch_byte_limit() {
        let records: Vec<RecordData> = (0..500).map(|i| record(50 + i % 200)).collect();
        let limit = 4_096;
        let mut chunks: Vec<usize> = Vec::new();
        let mut encoder = SnapshotEncoder::new(
            SnapshotId {
                end_offset: Offset(10),
                epoch: Epoch(1),
            },
            0,
            limit,
        )
        .unwrap();
        append_in_batches(&records, limit, |chunk| {
            chunks.push(chunk.len());
            encoder.append_records(chunk)
        })
        .expect("every batch fits");
        assert!(chunks.len() > 1, "{chunks:?}");
        assert_eq!(chunks.iter().sum::<usize>(), records.len());
        encoder.finish().expect("a whole snapshot");
        // The record-count cap holds too.
        let small: Vec<RecordData> = (0..2_500).map(|_| record(1)).collect();
        let mut counts = Vec::new();
        append_in_batches(&small, usize::MAX, |c| {
            counts.push(c.len());
            Ok::<(), ()>(())
        })
        .unwrap();
        assert_eq!(counts, vec![1_000, 1_000, 500]);
    }
}
