//! [`Log`]: the segmented metadata log of one directory (`__cluster_metadata-0`): append with
//! group commit, zero-copy reads, truncation, recovery on open, snapshots and retention.
//!
//! Durability contract: bytes handed to [`Log::append`] are in the page cache when it returns and
//! readable by [`Log::read`]; they are durable only once a flush covering them completes, which
//! [`Log::durable_end_offset`] reports. One `fdatasync` covers every append before it (group
//! commit). A crash may lose any suffix above the durable end offset, never anything below it.

use crate::ids::{Epoch, Offset};
use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::batch::{BatchHeader, BatchIter};
use crate::error::{io_err, LogError};
use crate::fsutil::{fsync_dir, DirLock};
use crate::segment::{parse_offset_file_name, Segment, SegmentLimits, TailRecovery};
use crate::snapshot::{SnapshotId, SnapshotReader, SnapshotWriter};

/// Kafka's largest metadata batch (`MAX_BATCH_SIZE_BYTES`, 8 MiB).
pub const BATCH_BYTES_MAX_DEFAULT: usize = 8 * 1024 * 1024;
/// Kafka's default `index.interval.bytes`.
pub const INDEX_INTERVAL_BYTES_DEFAULT: u64 = 4096;

/// Limits and policies of a [`Log`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogConfig {
    /// Roll to a new segment before a segment would exceed this (`metadata.log.segment.bytes`).
    pub segment_bytes_max: u64,
    /// Largest batch accepted (Kafka: 8 MiB). Must not exceed `segment_bytes_max`.
    pub batch_bytes_max: usize,
    /// Bytes of log between two offset-index entries.
    pub index_interval_bytes: u64,
    /// Verify the CRC of every batch of every segment on open, not only of the last segment.
    pub verify_all_on_open: bool,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            segment_bytes_max: 1024 * 1024 * 1024,
            batch_bytes_max: BATCH_BYTES_MAX_DEFAULT,
            index_interval_bytes: INDEX_INTERVAL_BYTES_DEFAULT,
            verify_all_on_open: false,
        }
    }
}

impl LogConfig {
    fn validate(&self) -> Result<(), LogError> {
        if self.segment_bytes_max < 1024 || self.segment_bytes_max > i32::MAX as u64 {
            return Err(LogError::InvalidArgument(format!(
                "segment_bytes_max {} must be in 1024..={}",
                self.segment_bytes_max,
                i32::MAX
            )));
        }
        if self.batch_bytes_max < crate::batch::BATCH_HEADER_BYTES
            || self.batch_bytes_max as u64 > self.segment_bytes_max
        {
            return Err(LogError::InvalidArgument(format!(
                "batch_bytes_max {} must be between {} and segment_bytes_max {}",
                self.batch_bytes_max,
                crate::batch::BATCH_HEADER_BYTES,
                self.segment_bytes_max
            )));
        }
        if self.index_interval_bytes == 0 {
            return Err(LogError::InvalidArgument(
                "index_interval_bytes must be > 0".into(),
            ));
        }
        Ok(())
    }

    fn limits(&self) -> SegmentLimits {
        SegmentLimits {
            segment_bytes_max: self.segment_bytes_max,
            batch_bytes_max: self.batch_bytes_max,
            index_interval_bytes: self.index_interval_bytes,
        }
    }
}

/// The first offset of each epoch present in the log (Kafka's leader-epoch cache).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochStart {
    /// Leader epoch.
    pub epoch: Epoch,
    /// Offset of the first batch written in that epoch.
    pub start_offset: Offset,
}

/// What [`Log::open`] found and repaired.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// Segments found.
    pub segments: usize,
    /// What happened to the tail of the last segment.
    pub tail: TailRecovery,
    /// Leftover files removed (`.part`, `.tmp`, orphan indexes).
    pub removed_files: Vec<PathBuf>,
    /// The log ended before (or diverged from) the newest snapshot, so it was emptied and
    /// restarted at the snapshot's end: a crash fell between the two steps of a snapshot
    /// install (the snapshot finished, the log not yet restarted).
    pub truncated_to_snapshot: Option<SnapshotId>,
}

/// Result of an append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendInfo {
    /// Offset of the first appended record.
    pub first_offset: Offset,
    /// Offset of the last appended record.
    pub last_offset: Offset,
    /// Batches appended.
    pub batches: usize,
}

/// Whole batches read from one segment, borrowed from its memory map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogSlice<'a> {
    /// The batch bytes, ready to send.
    pub bytes: &'a [u8],
    /// Base offset of the first batch (may be below the requested offset).
    pub first_offset: Offset,
    /// Offset after the last batch; where the next read continues.
    pub next_offset: Offset,
}

impl<'a> LogSlice<'a> {
    /// The batches of the slice (already verified when appended or recovered).
    pub fn batches(&self) -> impl Iterator<Item = (BatchHeader, &'a [u8])> {
        BatchIter::new(self.bytes, usize::MAX, false).map(|(_, h, b)| (h, b))
    }
}

/// A flush started with [`Log::begin_flush`], to be synced on any thread.
#[derive(Debug)]
pub struct PendingFlush {
    file: Arc<File>,
    path: PathBuf,
    end_offset: Offset,
    generation: u64,
}

impl PendingFlush {
    /// The offset this flush makes durable everything below.
    pub fn end_offset(&self) -> Offset {
        self.end_offset
    }

    /// Runs the `fdatasync`. Blocking; call it off the async threads.
    pub fn sync(self) -> Result<FlushDone, LogError> {
        self.file
            .sync_data()
            .map_err(io_err("fdatasync segment", &self.path))?;
        Ok(FlushDone {
            end_offset: self.end_offset,
            generation: self.generation,
        })
    }
}

/// A completed flush, to hand back to [`Log::complete_flush`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlushDone {
    end_offset: Offset,
    generation: u64,
}

/// Retention settings for [`Log::clean`] (`metadata.max.retention.bytes` / `.ms`; -1 = unlimited).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Keep at most this many bytes of log (segments covered by a snapshot go first).
    pub bytes_max: i64,
    /// Delete covered segments whose newest record is older than this.
    pub ms: i64,
}

/// What [`Log::clean`] deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CleanReport {
    /// Segments deleted.
    pub segments_deleted: usize,
    /// Snapshots deleted.
    pub snapshots_deleted: usize,
    /// The new log start offset.
    pub log_start_offset: Offset,
}

/// The segmented metadata log of one directory.
#[derive(Debug)]
pub struct Log {
    dir: PathBuf,
    config: LogConfig,
    /// Invariant: non-empty, sorted, contiguous (each base = previous next_offset); only the last
    /// is unsealed.
    segments: Vec<Segment>,
    /// Invariant: log_start_offset <= durable_end_offset <= end_offset().
    durable_end_offset: Offset,
    /// Bumped by every truncation so flushes started before it are not trusted after it.
    generation: u64,
    /// Invariant: strictly increasing epochs and start offsets, all below end_offset().
    epochs: Vec<EpochStart>,
    snapshots: BTreeSet<SnapshotId>,
    _lock: DirLock,
}

impl Log {
    /// Opens (creating if needed) the log in `dir`, recovering the tail of the last segment.
    pub fn open(dir: &Path, config: LogConfig) -> Result<(Log, OpenReport), LogError> {
        config.validate()?;
        std::fs::create_dir_all(dir).map_err(io_err("create log directory", dir))?;
        let lock = DirLock::acquire(dir)?;
        let mut report = OpenReport::default();
        let mut bases = Vec::new();
        let mut snapshots = BTreeSet::new();
        let mut index_files = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io_err("list log directory", dir))? {
            let entry = entry.map_err(io_err("list log directory", dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(base) = parse_offset_file_name(&name, "log") {
                bases.push(base);
            } else if let Some(base) = parse_offset_file_name(&name, "index") {
                index_files.push((base, entry.path()));
            } else if let Some(id) = SnapshotId::parse_file_name(&name) {
                snapshots.insert(id);
            } else if name.ends_with(".part")
                || name.ends_with(".index.rebuild")
                || name.ends_with(".deleted")
            {
                std::fs::remove_file(entry.path())
                    .map_err(io_err("remove leftover", &entry.path()))?;
                report.removed_files.push(entry.path());
            }
        }
        bases.sort_unstable();
        for (base, path) in index_files {
            if bases.binary_search(&base).is_err() {
                std::fs::remove_file(&path).map_err(io_err("remove orphan index", &path))?;
                report.removed_files.push(path);
            }
        }
        let limits = config.limits();
        let mut segments: Vec<Segment> = Vec::with_capacity(bases.len().max(1));
        let mut epochs: Vec<EpochStart> = Vec::new();
        for (i, &base) in bases.iter().enumerate() {
            let is_last = i + 1 == bases.len();
            if let Some(prev) = segments.last() {
                if prev.next_offset != base {
                    return Err(LogError::Corrupt {
                        path: prev.path.clone(),
                        position: prev.size,
                        reason: format!(
                            "segment ends at offset {} but the next segment starts at {base}",
                            prev.next_offset
                        ),
                    });
                }
            }
            let mut epoch_error = None;
            let mut visit = |pos: u64, h: &BatchHeader| match epochs.last() {
                Some(last) if h.partition_leader_epoch < last.epoch => {
                    epoch_error.get_or_insert((pos, last.epoch, h.partition_leader_epoch));
                }
                Some(last) if h.partition_leader_epoch == last.epoch => {}
                _ => epochs.push(EpochStart {
                    epoch: h.partition_leader_epoch,
                    start_offset: h.base_offset,
                }),
            };
            let (segment, tail) = Segment::open(
                dir,
                base,
                limits,
                is_last,
                config.verify_all_on_open,
                &mut visit,
            )?;
            if let Some((position, last, got)) = epoch_error {
                return Err(LogError::Corrupt {
                    path: segment.path.clone(),
                    position,
                    reason: format!("batch epoch {got} is lower than the preceding epoch {last}"),
                });
            }
            if is_last {
                report.tail = tail;
            }
            segments.push(segment);
        }
        if segments.is_empty() {
            segments.push(Segment::create(dir, Offset::ZERO, limits)?);
            fsync_dir(dir)?;
        }
        report.segments = segments.len();
        // Whatever recovery kept may still sit only in the page cache of a crashed process: make
        // it durable before claiming it is.
        let last = segments.last().expect("at least one segment");
        last.file
            .sync_data()
            .map_err(io_err("fdatasync segment", &last.path))?;
        let end = last.next_offset;
        let mut log = Log {
            dir: dir.to_path_buf(),
            config,
            segments,
            durable_end_offset: end,
            generation: 0,
            epochs,
            snapshots,
            _lock: lock,
        };
        report.truncated_to_snapshot = log.truncate_to_latest_snapshot()?;
        Ok((log, report))
    }

    /// Recovery after a crash inside a snapshot install: a log that ends before the newest
    /// snapshot, or whose last epoch is older than the snapshot's, cannot continue from it, so
    /// it is emptied and restarted at the snapshot's end (Kafka's `truncateToLatestSnapshot`).
    /// Returns the snapshot if it did so.
    fn truncate_to_latest_snapshot(&mut self) -> Result<Option<SnapshotId>, LogError> {
        let Some(latest) = self.latest_snapshot() else {
            return Ok(None);
        };
        let behind = latest.end_offset > self.end_offset();
        let older = self.last_epoch().is_some_and(|e| e < latest.epoch);
        if !behind && !older {
            return Ok(None);
        }
        self.truncate_fully_and_start_at(latest.end_offset)?;
        Ok(Some(latest))
    }

    /// The directory of this log.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The log's limits.
    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    /// First offset held by the log.
    pub fn log_start_offset(&self) -> Offset {
        self.segments[0].base_offset
    }

    /// Offset the next appended record gets (the log end offset, LEO).
    pub fn end_offset(&self) -> Offset {
        self.active().next_offset
    }

    /// Everything below this offset is on disk (fdatasync'd).
    pub fn durable_end_offset(&self) -> Offset {
        self.durable_end_offset
    }

    /// Epoch of the last batch, if the log holds any.
    pub fn last_epoch(&self) -> Option<Epoch> {
        self.epochs.last().map(|e| e.epoch)
    }

    /// The epochs present in the log, with the offset each starts at.
    pub fn epochs(&self) -> &[EpochStart] {
        &self.epochs
    }

    /// For Raft's divergence check: the largest epoch `<= epoch` in the log and the offset where
    /// it ends (the start of the next epoch, or the log end). `None` if the log has no such epoch.
    pub fn end_offset_for_epoch(&self, epoch: Epoch) -> Option<(Epoch, Offset)> {
        let i = self.epochs.partition_point(|e| e.epoch <= epoch);
        if i == 0 {
            return None;
        }
        let found = self.epochs[i - 1];
        let end = self
            .epochs
            .get(i)
            .map_or(self.end_offset(), |next| next.start_offset);
        Some((found.epoch, end))
    }

    /// Total bytes of all segments.
    pub fn size_bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.size).sum()
    }

    /// Number of segments.
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    fn active(&self) -> &Segment {
        self.segments
            .last()
            .expect("a log always has an active segment")
    }

    /// Appends one or more whole batches. Every batch is validated (magic, length, CRC, size
    /// limit); the first must start at [`Log::end_offset`] and the rest follow contiguously; epochs
    /// may not go down. Nothing is written unless all of it is valid. Rolls segments as needed.
    pub fn append(&mut self, bytes: &[u8]) -> Result<AppendInfo, LogError> {
        if bytes.is_empty() {
            return Err(LogError::InvalidArgument("append of zero bytes".into()));
        }
        let mut batches: Vec<(usize, BatchHeader)> = Vec::new();
        let mut expected = self.end_offset();
        let mut last_epoch = self.last_epoch();
        let mut iter = BatchIter::new(bytes, self.config.batch_bytes_max, true);
        for (pos, header, _) in iter.by_ref() {
            if header.base_offset != expected {
                return Err(LogError::OffsetMismatch {
                    expected,
                    got: header.base_offset,
                });
            }
            if let Some(last) = last_epoch {
                if header.partition_leader_epoch < last {
                    return Err(LogError::EpochRegression {
                        last_epoch: last,
                        batch_epoch: header.partition_leader_epoch,
                    });
                }
            }
            last_epoch = Some(header.partition_leader_epoch);
            expected = header.next_offset();
            batches.push((pos, header));
        }
        if let Some(stop) = iter.stop() {
            if let Some(error) = &stop.error {
                return Err(LogError::InvalidBatch {
                    position: stop.position,
                    source: error.clone(),
                });
            }
        }
        let first_offset = self.end_offset();
        // Write runs of batches that fit the active segment, rolling between runs.
        let limits = self.config.limits();
        let mut run_start = 0usize;
        while run_start < batches.len() {
            let active_size = self.active().size;
            let mut run_end = run_start;
            let mut run_bytes = 0u64;
            while run_end < batches.len() {
                let len = batches[run_end].1.total_bytes() as u64;
                if active_size + run_bytes + len > self.config.segment_bytes_max
                    && (active_size + run_bytes) > 0
                {
                    break;
                }
                run_bytes += len;
                run_end += 1;
            }
            if run_end == run_start {
                self.roll()?;
                continue;
            }
            let from = batches[run_start].0;
            let to = from + run_bytes as usize;
            let rel: Vec<(usize, BatchHeader)> = batches[run_start..run_end]
                .iter()
                .map(|(p, h)| (p - from, *h))
                .collect();
            self.segments.last_mut().expect("active segment").append(
                &bytes[from..to],
                &rel,
                limits,
            )?;
            for (_, h) in &rel {
                if self
                    .epochs
                    .last()
                    .is_none_or(|e| e.epoch < h.partition_leader_epoch)
                {
                    self.epochs.push(EpochStart {
                        epoch: h.partition_leader_epoch,
                        start_offset: h.base_offset,
                    });
                }
            }
            run_start = run_end;
        }
        Ok(AppendInfo {
            first_offset,
            last_offset: expected - 1,
            batches: batches.len(),
        })
    }

    /// Seals the active segment (fdatasync'd) and starts a new one at the log end.
    pub fn roll(&mut self) -> Result<(), LogError> {
        let end = self.end_offset();
        if self.active().size == 0 {
            return Ok(());
        }
        self.segments.last_mut().expect("active segment").seal()?;
        self.durable_end_offset = self.durable_end_offset.max(end);
        let segment = Segment::create(&self.dir, end, self.config.limits())?;
        fsync_dir(&self.dir)?;
        self.segments.push(segment);
        Ok(())
    }

    /// Starts a flush of everything appended so far. Sync it with [`PendingFlush::sync`] on any
    /// thread (appends may continue meanwhile), then hand the result to [`Log::complete_flush`].
    pub fn begin_flush(&self) -> PendingFlush {
        let active = self.active();
        PendingFlush {
            file: Arc::clone(&active.file),
            path: active.path.clone(),
            end_offset: active.next_offset,
            generation: self.generation,
        }
    }

    /// Records a completed flush; returns the durable end offset. A flush begun before a
    /// truncation is ignored, since it may not cover what was written after.
    pub fn complete_flush(&mut self, done: FlushDone) -> Offset {
        if done.generation == self.generation {
            debug_assert!(done.end_offset <= self.end_offset());
            self.durable_end_offset = self.durable_end_offset.max(done.end_offset);
        }
        self.durable_end_offset
    }

    /// Makes every append so far durable with one `fdatasync`; returns the durable end offset.
    pub fn flush(&mut self) -> Result<Offset, LogError> {
        if self.durable_end_offset == self.end_offset() {
            return Ok(self.durable_end_offset);
        }
        let done = self.begin_flush().sync()?;
        Ok(self.complete_flush(done))
    }

    /// Reads whole batches starting with the one containing `from`, up to `bytes_max` bytes (at
    /// least one batch, however large), from one segment. Empty at the log end.
    pub fn read(&self, from: Offset, bytes_max: usize) -> Result<LogSlice<'_>, LogError> {
        let (start, end) = (self.log_start_offset(), self.end_offset());
        if from < start || from > end {
            return Err(LogError::OffsetOutOfRange {
                offset: from,
                start,
                end,
            });
        }
        if from == end {
            return Ok(LogSlice {
                bytes: &[],
                first_offset: end,
                next_offset: end,
            });
        }
        let segment = self.segment_for(from);
        let (pos, first) = segment.locate(from, self.config.batch_bytes_max)?;
        let data = segment.data();
        let mut to = pos as usize + first.total_bytes();
        let mut next = first.next_offset();
        while next < segment.next_offset {
            let header = crate::batch::BatchHeader::parse(&data[to..], self.config.batch_bytes_max)
                .map_err(|e| LogError::Corrupt {
                    path: segment.path.clone(),
                    position: to as u64,
                    reason: e.to_string(),
                })?;
            if to - pos as usize + header.total_bytes() > bytes_max {
                break;
            }
            to += header.total_bytes();
            next = header.next_offset();
        }
        if to > data.len() {
            return Err(LogError::Corrupt {
                path: segment.path.clone(),
                position: pos,
                reason: "batch extends past the end of the segment".into(),
            });
        }
        Ok(LogSlice {
            bytes: &data[pos as usize..to],
            first_offset: first.base_offset,
            next_offset: next,
        })
    }

    fn segment_for(&self, offset: Offset) -> &Segment {
        let i = self.segments.partition_point(|s| s.base_offset <= offset);
        &self.segments[i.saturating_sub(1)]
    }

    /// Removes every record at or above `offset` (Raft divergence). If `offset` falls inside a
    /// batch, that whole batch goes: the new end offset is returned and may be below `offset`.
    /// Durable before it returns.
    pub fn truncate_to(&mut self, offset: Offset) -> Result<Offset, LogError> {
        let (start, end) = (self.log_start_offset(), self.end_offset());
        if offset >= end {
            return Ok(end);
        }
        if offset < start {
            return Err(LogError::OffsetOutOfRange { offset, start, end });
        }
        let keep = self
            .segments
            .partition_point(|s| s.base_offset <= offset)
            .max(1);
        let mut deleted = false;
        while self.segments.len() > keep {
            let s = self.segments.pop().expect("segment");
            s.delete_files()?;
            deleted = true;
        }
        if deleted {
            fsync_dir(&self.dir)?;
        }
        let limits = self.config.limits();
        let segment = self.segments.last_mut().expect("segment");
        let (position, new_end) = if offset <= segment.base_offset {
            (0, segment.base_offset)
        } else if offset >= segment.next_offset {
            (segment.size, segment.next_offset)
        } else {
            let (pos, header) = segment.locate(offset, limits.batch_bytes_max)?;
            (pos, header.base_offset)
        };
        segment.truncate_at(position, new_end, limits, &self.dir)?;
        self.epochs.retain(|e| e.start_offset < new_end);
        self.durable_end_offset = self.durable_end_offset.min(new_end);
        self.generation += 1;
        Ok(new_end)
    }

    /// Deletes the whole log and starts it empty at `offset` (a follower installing a snapshot
    /// that is ahead of its log). Durable before it returns.
    pub fn truncate_fully_and_start_at(&mut self, offset: Offset) -> Result<(), LogError> {
        if offset < Offset::ZERO {
            return Err(LogError::InvalidArgument(format!(
                "negative start offset {offset}"
            )));
        }
        for s in std::mem::take(&mut self.segments) {
            s.delete_files()?;
        }
        self.segments
            .push(Segment::create(&self.dir, offset, self.config.limits())?);
        fsync_dir(&self.dir)?;
        self.epochs.clear();
        self.durable_end_offset = offset;
        self.generation += 1;
        Ok(())
    }

    /// The snapshots in the directory, oldest first.
    pub fn snapshots(&self) -> impl Iterator<Item = SnapshotId> + '_ {
        self.snapshots.iter().copied()
    }

    /// The newest snapshot.
    pub fn latest_snapshot(&self) -> Option<SnapshotId> {
        self.snapshots.iter().next_back().copied()
    }

    /// Starts writing snapshot `id` (to `<id>.checkpoint.part`).
    pub fn create_snapshot(
        &self,
        id: SnapshotId,
        last_contained_log_timestamp_ms: i64,
    ) -> Result<SnapshotWriter, LogError> {
        SnapshotWriter::create(
            &self.dir,
            id,
            last_contained_log_timestamp_ms,
            self.config.batch_bytes_max,
        )
    }

    /// Starts receiving snapshot `id` as raw chunks (FetchSnapshot).
    pub fn receive_snapshot(&self, id: SnapshotId) -> Result<SnapshotWriter, LogError> {
        SnapshotWriter::create_raw(&self.dir, id, self.config.batch_bytes_max)
    }

    /// Finishes a snapshot (footer, fsync, rename, directory fsync) and records it.
    pub fn finish_snapshot(&mut self, writer: SnapshotWriter) -> Result<SnapshotId, LogError> {
        let id = writer.finish()?;
        self.snapshots.insert(id);
        Ok(id)
    }

    /// Records a snapshot that a [`SnapshotWriter`] from [`Log::create_snapshot`] finished on
    /// another thread ([`SnapshotWriter::finish`]: fsynced and renamed into place).
    pub fn add_finished_snapshot(&mut self, id: SnapshotId) -> Result<(), LogError> {
        let path = self.dir.join(id.file_name());
        if !path.is_file() {
            return Err(LogError::InvalidArgument(format!(
                "snapshot {id} is not in {}",
                self.dir.display()
            )));
        }
        self.snapshots.insert(id);
        Ok(())
    }

    /// Opens snapshot `id` for reading.
    pub fn open_snapshot(&self, id: SnapshotId) -> Result<SnapshotReader, LogError> {
        if !self.snapshots.contains(&id) {
            return Err(LogError::InvalidArgument(format!("no snapshot {id}")));
        }
        SnapshotReader::open(&self.dir.join(id.file_name()), self.config.batch_bytes_max)
    }

    /// Retention: deletes sealed segments wholly below the newest snapshot while the log is over
    /// `retention.bytes_max` or their newest record is older than `retention.ms`, then snapshots
    /// older than the newest that the log no longer reaches. Never deletes the active segment or
    /// anything not covered by a snapshot.
    pub fn clean(&mut self, now_ms: i64, retention: Retention) -> Result<CleanReport, LogError> {
        let mut report = CleanReport::default();
        let Some(latest) = self.latest_snapshot() else {
            report.log_start_offset = self.log_start_offset();
            return Ok(report);
        };
        let mut total = self.size_bytes() as i64;
        while self.segments.len() > 1 {
            let s = &self.segments[0];
            let covered = s.next_offset <= latest.end_offset;
            let over_size = retention.bytes_max >= 0 && total > retention.bytes_max;
            let too_old = retention.ms >= 0
                && s.max_timestamp_ms >= 0
                && s.max_timestamp_ms < now_ms - retention.ms;
            if !(covered && (over_size || too_old)) {
                break;
            }
            total -= s.size as i64;
            let s = self.segments.remove(0);
            s.delete_files()?;
            report.segments_deleted += 1;
        }
        let start = self.log_start_offset();
        let stale: Vec<SnapshotId> = self
            .snapshots
            .iter()
            .copied()
            .filter(|id| *id != latest && id.end_offset < start)
            .collect();
        for id in stale {
            let path = self.dir.join(id.file_name());
            std::fs::remove_file(&path).map_err(io_err("delete snapshot", &path))?;
            self.snapshots.remove(&id);
            report.snapshots_deleted += 1;
        }
        if report.segments_deleted + report.snapshots_deleted > 0 {
            fsync_dir(&self.dir)?;
        }
        // Epochs that end at or below the new start are gone; the first kept one starts at it.
        while self.epochs.len() > 1 && self.epochs[1].start_offset <= start {
            self.epochs.remove(0);
        }
        if let Some(first) = self.epochs.first_mut() {
            first.start_offset = first.start_offset.max(start);
        }
        report.log_start_offset = start;
        Ok(report)
    }
}
