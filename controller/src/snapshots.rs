//! Snapshots of the metadata image for any node that replays the log (controller or broker):
//! when one is due (`metadata.log.max.record.bytes.between.snapshots` bytes of committed
//! records, or `metadata.log.max.snapshot.interval.ms`), writing it on a thread of its own,
//! recording it in the log with retention afterwards, and loading the newest one at start.
//!
//! Every node takes its own snapshots, as in Kafka (`SnapshotGenerator` on each node): a
//! restart loads the newest snapshot and replays only the tail.

use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::time::Instant;

use bytes::Bytes;
use metaquorum_log::batch::RecordData;
use metaquorum_log::{Log, Retention, SnapshotId};

use crate::metadata::image::{MetadataImage, MetadataProvenance};
use crate::metadata::loader::MetadataLoader;
use crate::raft::segmented::{decode_batch, SegmentedStore};
use crate::raft::{LogStore, Millis};

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

/// What the snapshot thread reports back.
struct Outcome {
    result: Result<SnapshotId, String>,
    records: usize,
    elapsed_ms: u128,
}

/// Decides when to snapshot and runs one snapshot at a time; see the module documentation.
pub struct Snapshotter {
    policy: SnapshotPolicy,
    /// Committed record bytes not yet covered by a snapshot.
    bytes_since: u64,
    /// Driver time of the last snapshot (or of the first check).
    last_ms: Option<Millis>,
    /// A snapshot being written; its outcome arrives here.
    in_flight: Option<Receiver<Outcome>>,
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
    /// immutable, so a thread of its own encodes, writes, fsyncs and renames it while the
    /// caller goes on; [`Self::maybe_finish`] records it in the log. `in_transaction` holds the
    /// snapshot back: a snapshot never contains part of a metadata transaction.
    pub fn maybe_start(
        &mut self,
        image: &MetadataImage,
        in_transaction: bool,
        now: Millis,
        log: &mut Log,
    ) {
        let since = *self.last_ms.get_or_insert(now);
        let by_bytes = self.bytes_since >= self.policy.bytes_max;
        let by_time = self.policy.interval_ms > 0
            && self.bytes_since > 0
            && now.saturating_sub(since) >= self.policy.interval_ms;
        if !(by_bytes || by_time) || in_transaction || self.in_flight.is_some() {
            return;
        }
        if image.provenance.offset < 0 {
            return;
        }
        let id = SnapshotId {
            end_offset: image.provenance.offset + 1,
            epoch: image.provenance.epoch,
        };
        self.last_ms = Some(now);
        self.bytes_since = 0;
        if log
            .latest_snapshot()
            .is_some_and(|s| s.end_offset >= id.end_offset)
        {
            return;
        }
        let mut writer = match log.create_snapshot(id, image.provenance.last_contained_timestamp_ms)
        {
            Ok(w) => w,
            Err(e) => {
                tracing::error!("starting snapshot {id}: {e}");
                return;
            }
        };
        let image = image.clone();
        let (tx, rx) = mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("metaquorum-snapshot".into())
            .spawn(move || {
                let started = Instant::now();
                let records = image.to_records();
                let result = (|| {
                    for chunk in records.chunks(SNAPSHOT_RECORDS_PER_BATCH) {
                        let data: Vec<RecordData> = chunk
                            .iter()
                            .map(|r| RecordData {
                                key: None,
                                value: Some(r.encode()),
                            })
                            .collect();
                        writer.append_records(&data)?;
                    }
                    writer.finish()
                })();
                let _ = tx.send(Outcome {
                    result: result.map_err(|e| e.to_string()),
                    records: records.len(),
                    elapsed_ms: started.elapsed().as_millis(),
                });
            });
        match spawned {
            Ok(_) => self.in_flight = Some(rx),
            Err(e) => tracing::error!("starting the snapshot thread: {e}"),
        }
    }

    /// Records a finished snapshot in the log and applies retention. A failed snapshot is
    /// logged and costs replay time, never data: the log stays as it was.
    pub fn maybe_finish(&mut self, log: &mut Log) {
        let Some(rx) = &self.in_flight else {
            return;
        };
        let outcome = match rx.try_recv() {
            Ok(o) => o,
            Err(TryRecvError::Empty) => return,
            Err(TryRecvError::Disconnected) => Outcome {
                result: Err("the snapshot thread died".into()),
                records: 0,
                elapsed_ms: 0,
            },
        };
        self.in_flight = None;
        let retention = self.policy.retention;
        let finished = outcome.result.and_then(|id| {
            log.add_finished_snapshot(id).map_err(|e| e.to_string())?;
            let report = log
                .clean(metaquorum_log::clock::wall_clock_ms(), retention)
                .map_err(|e| format!("retention after snapshot {id}: {e}"))?;
            Ok((id, report))
        });
        match finished {
            Ok((id, report)) => tracing::info!(
                "wrote snapshot {id} ({} records) in {} ms; retention deleted {} segment(s), {} snapshot(s); log starts at {}",
                outcome.records,
                outcome.elapsed_ms,
                report.segments_deleted,
                report.snapshots_deleted,
                report.log_start_offset
            ),
            Err(e) => tracing::error!("writing a snapshot failed: {e}"),
        }
    }
}

/// Loads the newest snapshot of `store` into `loader`. Returns the snapshot's id, or `None`
/// (and an empty loader) when there is none. A damaged snapshot is an error naming it.
pub fn load_latest(
    store: &SegmentedStore,
    loader: &mut MetadataLoader,
) -> Result<Option<SnapshotId>, String> {
    let Some(id) = store.latest_snapshot() else {
        *loader = MetadataLoader::new();
        return Ok(None);
    };
    let reader = store
        .log()
        .open_snapshot(id)
        .map_err(|e| format!("opening snapshot {id}: {e}"))?;
    reader
        .verify()
        .map_err(|e| format!("snapshot {id} is damaged: {e}"))?;
    let mut values: Vec<Bytes> = Vec::new();
    for (_, header, bytes) in reader.batches() {
        if header.is_control() {
            continue;
        }
        let batch = decode_batch(bytes).map_err(|e| format!("snapshot {id}: {e}"))?;
        values.extend(batch.records.iter().filter_map(|r| r.value.clone()));
    }
    let provenance = MetadataProvenance {
        offset: id.end_offset - 1,
        epoch: id.epoch,
        last_contained_timestamp_ms: -1,
    };
    loader
        .load_snapshot(provenance, &values)
        .map_err(|e| format!("loading snapshot {id}: {e}"))?;
    let image = loader.image();
    tracing::info!(
        "loaded snapshot {id}: {} topics, {} partitions, {} brokers",
        image.topic_count(),
        image.partition_count(),
        image.cluster.brokers.len()
    );
    Ok(Some(id))
}
