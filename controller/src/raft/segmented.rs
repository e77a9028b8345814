//! [`SegmentedStore`]: the core's [`LogStore`] over the on-disk segmented log of
//! `metaquorum-log`. Batches are encoded as Kafka RecordBatch v2 on append and decoded on read;
//! snapshots received from the leader are written through a `.checkpoint.part` and installed by
//! restarting the log at the snapshot's end offset.

use bytes::{Bytes, BytesMut};
use metaquorum_log::batch::{encode_batch, BatchHeader, BatchSpec, RecordData};
use metaquorum_log::clock::wall_clock_ms;
use metaquorum_log::{FlushDone, Log, LogError, PendingFlush, SnapshotWriter};

use super::store::{
    end_offset_for_epoch, Batch, EpochEndOffset, FlushStore, LogOp, LogStore, StoreError,
};
use super::{Epoch, Offset, SnapshotId};

impl From<LogError> for StoreError {
    fn from(e: LogError) -> Self {
        match e {
            LogError::Io { .. } => StoreError::Io(e.to_string()),
            other => StoreError::Invalid(other.to_string()),
        }
    }
}

/// The segmented on-disk log as a [`LogStore`].
#[derive(Debug)]
pub struct SegmentedStore {
    log: Log,
    /// The snapshot being received from the leader, if any.
    receiving: Option<SnapshotWriter>,
    /// The control records carrying the voter set (KRaftVersion, Voters) that every snapshot
    /// this node writes repeats; read from the newest snapshot holding them on first use.
    pub(crate) voters_control: Option<Vec<metaquorum_log::batch::RecordData>>,
}

impl SegmentedStore {
    /// Wraps an open log.
    pub fn new(log: Log) -> Self {
        SegmentedStore {
            log,
            receiving: None,
            voters_control: None,
        }
    }

    /// The underlying log.
    pub fn log(&self) -> &Log {
        &self.log
    }

    /// The underlying log, for snapshot generation and retention by the state machine.
    pub fn log_mut(&mut self) -> &mut Log {
        &mut self.log
    }

    fn epochs(&self) -> Vec<(Epoch, Offset)> {
        self.log
            .epochs()
            .iter()
            .map(|e| (e.epoch, e.start_offset))
            .collect()
    }
}

impl FlushStore for SegmentedStore {
    type Flush = PendingFlush;
    type Flushed = FlushDone;

    fn begin_flush(&self) -> PendingFlush {
        self.log.begin_flush()
    }

    fn complete_flush(&mut self, done: FlushDone) {
        self.log.complete_flush(done);
    }
}

/// Decodes one RecordBatch v2 into the core's form, verifying its CRC: a batch damaged in a
/// segment that was not scanned at open is refused here, before it is replayed or served.
pub fn decode_batch(bytes: &[u8]) -> Result<Batch, StoreError> {
    let header =
        BatchHeader::parse(bytes, usize::MAX).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let mut buf = Bytes::copy_from_slice(bytes);
    let set = kafka_protocol::records::RecordBatchDecoder::decode(&mut buf).map_err(|e| {
        StoreError::Invalid(format!(
            "decoding batch at offset {}: {e}",
            header.base_offset
        ))
    })?;
    let records = set
        .records
        .into_iter()
        .map(|r| RecordData {
            key: r.key,
            value: r.value,
        })
        .collect();
    Ok(Batch::new(
        header.base_offset,
        header.partition_leader_epoch,
        header.is_control(),
        records,
    )
    .with_timestamp_ms(header.max_timestamp))
}

impl LogStore for SegmentedStore {
    fn log_start_offset(&self) -> Offset {
        self.log.log_start_offset()
    }

    fn end_offset(&self) -> Offset {
        self.log.end_offset()
    }

    fn durable_end_offset(&self) -> Offset {
        self.log.durable_end_offset()
    }

    fn last_epoch(&self) -> Epoch {
        match (self.log.last_epoch(), self.log.latest_snapshot()) {
            (Some(e), _) => e,
            (None, Some(s)) => s.epoch,
            (None, None) => Epoch(0),
        }
    }

    fn end_offset_for_epoch(&self, epoch: Epoch) -> Option<EpochEndOffset> {
        end_offset_for_epoch(
            &self.epochs(),
            self.log.end_offset(),
            self.log.log_start_offset(),
            self.log.latest_snapshot(),
            epoch,
        )
    }

    fn read(&self, from: Offset, max_bytes: usize) -> Result<Vec<Batch>, StoreError> {
        if from > self.log.end_offset() || from < self.log.log_start_offset() {
            return Err(StoreError::Invalid(format!(
                "read at {from} outside the log"
            )));
        }
        let mut out = Vec::new();
        let mut at = from;
        let mut bytes = 0usize;
        while at < self.log.end_offset() {
            let slice = self.log.read(at, max_bytes.saturating_sub(bytes).max(1))?;
            for (_, b) in slice.batches() {
                if !out.is_empty() && bytes + b.len() > max_bytes {
                    return Ok(out);
                }
                bytes += b.len();
                out.push(decode_batch(b)?);
            }
            at = slice.next_offset;
            if bytes >= max_bytes {
                break;
            }
        }
        Ok(out)
    }

    fn latest_snapshot(&self) -> Option<SnapshotId> {
        self.log.latest_snapshot()
    }

    fn snapshot_size(&self, id: SnapshotId) -> Option<u64> {
        self.log.open_snapshot(id).ok().map(|r| r.size())
    }

    fn read_snapshot_chunk(
        &self,
        id: SnapshotId,
        position: u64,
        max_bytes: usize,
    ) -> Result<Bytes, StoreError> {
        let reader = self.log.open_snapshot(id)?;
        Ok(Bytes::from(reader.read_chunk(position, max_bytes)?))
    }

    fn apply(&mut self, op: LogOp) -> Result<(), StoreError> {
        match op {
            LogOp::Append(batch) => {
                let mut buf = BytesMut::with_capacity(batch.size_bytes() + 64);
                encode_batch(
                    &mut buf,
                    BatchSpec {
                        base_offset: batch.base_offset,
                        epoch: batch.epoch,
                        timestamp_ms: batch.timestamp_or(wall_clock_ms()),
                        control: batch.control,
                    },
                    &batch.records,
                )
                .map_err(|e| StoreError::Invalid(e.to_string()))?;
                self.log.append(&buf)?;
            }
            LogOp::Truncate(offset) => {
                self.log.truncate_to(offset)?;
            }
            LogOp::SnapshotChunk {
                id,
                position,
                bytes,
            } => {
                if position == 0 {
                    // Drop an abandoned download first: it removes its own `.part` file, which
                    // may have the same name as the new one.
                    self.receiving = None;
                    self.receiving = Some(self.log.receive_snapshot(id)?);
                }
                match &mut self.receiving {
                    Some(w) if w.id() == id => w.write_chunk(position, &bytes)?,
                    _ => {
                        return Err(StoreError::Invalid(format!(
                            "snapshot chunk for {id} without its start"
                        )))
                    }
                }
            }
            LogOp::InstallSnapshot(id) => {
                let writer = match self.receiving.take() {
                    Some(w) if w.id() == id => w,
                    _ => return Err(StoreError::Invalid(format!("no received snapshot {id}"))),
                };
                self.log.finish_snapshot(writer)?;
                self.log.truncate_fully_and_start_at(id.end_offset)?;
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<Offset, StoreError> {
        Ok(self.log.flush()?)
    }
}

#[cfg(test)]
mod conformance {
    //! One suite for the LogStore contract, run against both implementations.

    use super::*;
    use crate::raft::store::MemStore;
    use crate::raft::NodeId;
    use metaquorum_log::LogConfig;

    fn rec(v: &str) -> RecordData {
        RecordData {
            key: None,
            value: Some(Bytes::from(v.to_string())),
        }
    }

    fn batch(base: Offset, epoch: Epoch, n: usize) -> Batch {
        Batch::new(
            base,
            epoch,
            false,
            (0..n).map(|i| rec(&format!("{base}.{i}"))).collect(),
        )
    }

    fn suite<S: LogStore>(store: &mut S, snapshot_bytes: Bytes) {
        assert_eq!(
            (
                store.log_start_offset(),
                store.end_offset(),
                store.last_epoch()
            ),
            (Offset(0), Offset(0), Epoch(0))
        );
        // Appends: readable at once, durable after flush.
        store
            .apply(LogOp::Append(batch(Offset(0), Epoch(1), 3)))
            .unwrap();
        store
            .apply(LogOp::Append(batch(Offset(3), Epoch(1), 2)))
            .unwrap();
        store
            .apply(LogOp::Append(batch(Offset(5), Epoch(3), 4)))
            .unwrap();
        assert_eq!(store.end_offset(), Offset(9));
        assert!(store.durable_end_offset() < Offset(9));
        assert_eq!(store.flush().unwrap(), Offset(9));
        assert_eq!(store.durable_end_offset(), Offset(9));
        assert_eq!(store.last_epoch(), Epoch(3));
        // Reads: whole batches from the one holding the offset, bounded, at least one.
        let r = store.read(Offset(4), 1).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!((r[0].base_offset, r[0].records.len()), (Offset(3), 2));
        assert_eq!(r[0].records[1].value.as_deref(), Some(&b"3.1"[..]));
        assert_eq!(store.read(Offset(0), 1 << 20).unwrap().len(), 3);
        assert!(store.read(Offset(9), 100).unwrap().is_empty());
        assert!(store.read(Offset(10), 100).is_err());
        // Out-of-order and epoch-regressing appends are refused.
        assert!(store
            .apply(LogOp::Append(batch(Offset(10), Epoch(3), 1)))
            .is_err());
        assert!(store
            .apply(LogOp::Append(batch(Offset(9), Epoch(2), 1)))
            .is_err());
        // Epoch lookups.
        let e = |s: &S, epoch| {
            s.end_offset_for_epoch(epoch)
                .map(|e| (e.epoch, e.end_offset))
        };
        assert_eq!(e(store, Epoch(1)), Some((Epoch(1), Offset(5))));
        assert_eq!(e(store, Epoch(2)), Some((Epoch(1), Offset(5))));
        assert_eq!(e(store, Epoch(3)), Some((Epoch(3), Offset(9))));
        assert_eq!(e(store, Epoch(7)), Some((Epoch(3), Offset(9))));
        assert_eq!(e(store, Epoch(0)), Some((Epoch(0), Offset(0))));
        // Truncation inside a batch removes the whole batch, durably.
        store.apply(LogOp::Truncate(Offset(6))).unwrap();
        assert_eq!(store.end_offset(), Offset(5));
        assert!(store.durable_end_offset() <= Offset(5));
        assert_eq!(store.last_epoch(), Epoch(1));
        assert_eq!(e(store, Epoch(3)), Some((Epoch(1), Offset(5))));
        // A received snapshot restarts the log at its end offset.
        let id = SnapshotId {
            end_offset: Offset(20),
            epoch: Epoch(4),
        };
        let (a, b) = snapshot_bytes.split_at(snapshot_bytes.len() / 2);
        store
            .apply(LogOp::SnapshotChunk {
                id,
                position: 0,
                bytes: Bytes::copy_from_slice(a),
            })
            .unwrap();
        assert!(store
            .apply(LogOp::SnapshotChunk {
                id,
                position: 1,
                bytes: Bytes::copy_from_slice(b)
            })
            .is_err());
        // Position 0 starts over.
        store
            .apply(LogOp::SnapshotChunk {
                id,
                position: 0,
                bytes: Bytes::copy_from_slice(a),
            })
            .unwrap();
        store
            .apply(LogOp::SnapshotChunk {
                id,
                position: a.len() as u64,
                bytes: Bytes::copy_from_slice(b),
            })
            .unwrap();
        store.apply(LogOp::InstallSnapshot(id)).unwrap();
        assert_eq!(store.latest_snapshot(), Some(id));
        assert_eq!(
            (
                store.log_start_offset(),
                store.end_offset(),
                store.last_epoch()
            ),
            (Offset(20), Offset(20), Epoch(4))
        );
        assert_eq!(store.snapshot_size(id), Some(snapshot_bytes.len() as u64));
        assert_eq!(
            store.read_snapshot_chunk(id, 0, 1 << 20).unwrap(),
            snapshot_bytes
        );
        assert_eq!(e(store, Epoch(4)), Some((Epoch(4), Offset(20))));
        assert_eq!(e(store, Epoch(3)), None);
        store
            .apply(LogOp::Append(batch(Offset(20), Epoch(5), 1)))
            .unwrap();
        assert_eq!(e(store, Epoch(4)), Some((Epoch(4), Offset(20))));
        assert_eq!(e(store, Epoch(5)), Some((Epoch(5), Offset(21))));
    }

    /// A valid Kafka-format snapshot, as a leader would send it.
    fn kafka_snapshot() -> Bytes {
        let dir = tempfile::tempdir().unwrap();
        let id = SnapshotId {
            end_offset: Offset(20),
            epoch: Epoch(4),
        };
        let mut w = SnapshotWriter::create(dir.path(), id, 0, 1 << 20).unwrap();
        w.append_records(&[rec("image")]).unwrap();
        w.finish().unwrap();
        Bytes::from(std::fs::read(dir.path().join(id.file_name())).unwrap())
    }

    #[test]
    fn mem_store_meets_the_contract() {
        suite(&mut MemStore::new(), kafka_snapshot());
    }

    #[test]
    fn segmented_store_meets_the_contract() {
        let dir = tempfile::tempdir().unwrap();
        let (log, _) = Log::open(dir.path(), LogConfig::default()).unwrap();
        suite(&mut SegmentedStore::new(log), kafka_snapshot());
    }

    #[test]
    fn mem_store_crash_loses_exactly_the_unflushed_suffix() {
        let mut s = MemStore::new();
        s.apply(LogOp::Append(batch(Offset(0), Epoch(1), 2)))
            .unwrap();
        s.flush().unwrap();
        s.apply(LogOp::Append(batch(Offset(2), Epoch(1), 2)))
            .unwrap();
        let pending = s.begin_flush();
        s.apply(LogOp::Append(batch(Offset(4), Epoch(1), 2)))
            .unwrap();
        s.complete_flush(pending);
        assert_eq!(s.durable_end_offset(), Offset(4));
        s.crash();
        assert_eq!(s.end_offset(), Offset(4));
        // A flush begun before a truncation does not count after it.
        let pending = s.begin_flush();
        s.apply(LogOp::Truncate(Offset(2))).unwrap();
        s.apply(LogOp::Append(batch(Offset(2), Epoch(2), 3)))
            .unwrap();
        s.complete_flush(pending);
        assert_eq!(s.durable_end_offset(), Offset(2));
    }

    #[test]
    fn a_crash_inside_a_snapshot_install_leaves_the_log_at_the_snapshot() {
        // Installing a received snapshot is two durable steps: finish the snapshot, then restart
        // the log at its end. After a crash between them the log ends before the newest
        // snapshot; recovery must restart it there, or the core starts with its high watermark
        // (the snapshot's end) beyond its log end.
        let dir = tempfile::tempdir().unwrap();
        let bytes = kafka_snapshot();
        let id = SnapshotId {
            end_offset: Offset(20),
            epoch: Epoch(4),
        };
        {
            let (log, _) = Log::open(dir.path(), LogConfig::default()).unwrap();
            let mut s = SegmentedStore::new(log);
            s.apply(LogOp::Append(batch(Offset(0), Epoch(1), 3)))
                .unwrap();
            s.flush().unwrap();
            // The first step of `LogOp::InstallSnapshot`, then the crash.
            let mut w = s.log_mut().receive_snapshot(id).unwrap();
            w.write_chunk(0, &bytes).unwrap();
            s.log_mut().finish_snapshot(w).unwrap();
        }
        let (log, report) = Log::open(dir.path(), LogConfig::default()).unwrap();
        assert_eq!(report.truncated_to_snapshot, Some(id));
        let store = SegmentedStore::new(log);
        assert_eq!(
            (
                store.log_start_offset(),
                store.end_offset(),
                store.last_epoch()
            ),
            (Offset(20), Offset(20), Epoch(4))
        );
        let voters = std::collections::BTreeSet::from([1, 2, 3].map(NodeId));
        let core = crate::raft::RaftCore::new(
            crate::raft::RaftConfig::new(NodeId(1)),
            store,
            voters,
            None,
            0,
            1,
        );
        assert_eq!(core.high_watermark(), Offset(20));
        assert!(core.high_watermark() <= core.store().end_offset());
        // A leader's own snapshot, below its log end, leaves the log alone.
        drop(core);
        let (log, report) = Log::open(dir.path(), LogConfig::default()).unwrap();
        assert_eq!(report.truncated_to_snapshot, None);
        assert_eq!(log.end_offset(), Offset(20));
    }

    #[test]
    fn segmented_store_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (log, _) = Log::open(dir.path(), LogConfig::default()).unwrap();
            let mut s = SegmentedStore::new(log);
            s.apply(LogOp::Append(batch(Offset(0), Epoch(1), 2)))
                .unwrap();
            s.apply(LogOp::Append(Batch::new(
                Offset(2),
                Epoch(2),
                true,
                vec![rec("leader-change")],
            )))
            .unwrap();
            s.flush().unwrap();
        }
        let (log, _) = Log::open(dir.path(), LogConfig::default()).unwrap();
        let s = SegmentedStore::new(log);
        assert_eq!((s.end_offset(), s.last_epoch()), (Offset(3), Epoch(2)));
        let b = s.read(Offset(2), 100).unwrap();
        assert!(b[0].control);
        assert_eq!(b[0].epoch, Epoch(2));
    }
}
