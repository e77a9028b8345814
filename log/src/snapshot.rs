//! Snapshot files: `<end offset, 20 digits>-<epoch, 10 digits>.checkpoint`, each a sequence of
//! RecordBatch v2 batches that starts with a `SnapshotHeaderRecord` control batch and ends with a
//! `SnapshotFooterRecord` one (KIP-630). Written to `.checkpoint.part`, fsynced, renamed, and the
//! directory fsynced; read back whole through a memory map or in bounded chunks for FetchSnapshot.

use crate::ids::{Epoch, Offset};
use std::fmt;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::{SnapshotFooterRecord, SnapshotHeaderRecord};
use kafka_protocol::records::RecordBatchDecoder;
use memmap2::Mmap;

use crate::batch::{encode_batch, BatchIter, BatchSpec, RecordData};
use crate::control::{control_record, control_type_id, ControlRecordType};
use crate::error::{io_err, LogError};
use crate::fsutil::fsync_dir;

/// Identifies a snapshot: it holds the state of every record below `end_offset`, and the record
/// at `end_offset - 1` has epoch `epoch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SnapshotId {
    /// Offset after the last record the snapshot covers.
    pub end_offset: Offset,
    /// Epoch of that last record.
    pub epoch: Epoch,
}

impl SnapshotId {
    /// `<end offset 20>-<epoch 10>.checkpoint`.
    pub fn file_name(&self) -> String {
        format!("{:020}-{:010}.checkpoint", self.end_offset, self.epoch)
    }

    /// Parses a finished snapshot's file name.
    pub fn parse_file_name(name: &str) -> Option<SnapshotId> {
        let stem = name.strip_suffix(".checkpoint")?;
        let (off, epoch) = stem.split_once('-')?;
        if off.len() != 20 || epoch.len() != 10 {
            return None;
        }
        if !off.bytes().chain(epoch.bytes()).all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(SnapshotId {
            end_offset: off.parse().ok()?,
            epoch: epoch.parse().ok()?,
        })
    }
}

impl fmt::Display for SnapshotId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "(endOffset={}, epoch={})", self.end_offset, self.epoch)
    }
}

/// The SnapshotHeader control record that opens every generated snapshot.
fn header_record(last_contained_log_timestamp_ms: i64) -> Result<RecordData, LogError> {
    let header = SnapshotHeaderRecord::default()
        .with_version(0)
        .with_last_contained_log_timestamp(last_contained_log_timestamp_ms);
    control_record(ControlRecordType::SnapshotHeader, &header, 0)
        .map_err(|e| LogError::InvalidArgument(e.to_string()))
}

/// The SnapshotFooter control record that closes every generated snapshot.
fn footer_record() -> Result<RecordData, LogError> {
    let footer = SnapshotFooterRecord::default().with_version(0);
    control_record(ControlRecordType::SnapshotFooter, &footer, 0)
        .map_err(|e| LogError::InvalidArgument(e.to_string()))
}

/// Encodes one batch of snapshot `id` whose first record is the snapshot's `base_offset`-th
/// (records are numbered from 0 within a snapshot), refusing one above `batch_bytes_max`.
fn encode_snapshot_batch(
    id: SnapshotId,
    base_offset: Offset,
    timestamp_ms: i64,
    control: bool,
    records: &[RecordData],
    batch_bytes_max: usize,
) -> Result<BytesMut, LogError> {
    let mut buf = BytesMut::new();
    encode_batch(
        &mut buf,
        BatchSpec {
            base_offset,
            epoch: id.epoch,
            timestamp_ms,
            control,
        },
        records,
    )
    .map_err(|e| LogError::InvalidArgument(e.to_string()))?;
    if buf.len() > batch_bytes_max {
        return Err(LogError::InvalidArgument(format!(
            "snapshot batch of {} bytes exceeds the {batch_bytes_max} byte limit",
            buf.len()
        )));
    }
    Ok(buf)
}

/// A snapshot encoded in memory: exactly the bytes a [`SnapshotWriter`] writes to a file
/// (header, data batches, footer), for a store that keeps its snapshots in memory (the
/// simulator's). [`SnapshotEncoder::finish`] checks the result as [`SnapshotReader::verify`]
/// checks a file.
#[derive(Debug)]
pub struct SnapshotEncoder {
    id: SnapshotId,
    next_offset: Offset,
    timestamp_ms: i64,
    batch_bytes_max: usize,
    buf: BytesMut,
}

impl SnapshotEncoder {
    /// Starts snapshot `id` with its SnapshotHeader batch.
    pub fn new(
        id: SnapshotId,
        last_contained_log_timestamp_ms: i64,
        batch_bytes_max: usize,
    ) -> Result<Self, LogError> {
        let mut e = SnapshotEncoder {
            id,
            next_offset: Offset::ZERO,
            timestamp_ms: last_contained_log_timestamp_ms,
            batch_bytes_max,
            buf: BytesMut::new(),
        };
        e.push(&[header_record(last_contained_log_timestamp_ms)?], true)?;
        Ok(e)
    }

    fn push(&mut self, records: &[RecordData], control: bool) -> Result<(), LogError> {
        let batch = encode_snapshot_batch(
            self.id,
            self.next_offset,
            self.timestamp_ms,
            control,
            records,
            self.batch_bytes_max,
        )?;
        self.next_offset += records.len() as i64;
        self.buf.extend_from_slice(&batch);
        Ok(())
    }

    /// Encodes `records` as one data batch.
    pub fn append_records(&mut self, records: &[RecordData]) -> Result<(), LogError> {
        self.push(records, false)
    }

    /// Adds the SnapshotFooter batch, checks the whole snapshot and returns its bytes.
    pub fn finish(mut self) -> Result<Bytes, LogError> {
        self.push(&[footer_record()?], true)?;
        let bytes = self.buf.freeze();
        let name = PathBuf::from(self.id.file_name());
        verify_snapshot_bytes(&bytes, self.batch_bytes_max, &name)?;
        Ok(bytes)
    }
}

/// Checks a snapshot's bytes: every batch's CRC, nothing trailing the last batch, a
/// SnapshotHeader control record first and a SnapshotFooter one last. `path` names the
/// snapshot in the error.
pub fn verify_snapshot_bytes(
    bytes: &[u8],
    batch_bytes_max: usize,
    path: &Path,
) -> Result<(), LogError> {
    let corrupt = |position: u64, reason: String| LogError::Corrupt {
        path: path.to_path_buf(),
        position,
        reason,
    };
    let mut iter = BatchIter::new(bytes, batch_bytes_max, true);
    let mut first: Option<&[u8]> = None;
    let mut last: Option<(usize, &[u8])> = None;
    for (pos, _, bytes) in iter.by_ref() {
        first.get_or_insert(bytes);
        last = Some((pos, bytes));
    }
    if let Some(stop) = iter.stop() {
        if let Some(e) = &stop.error {
            return Err(corrupt(stop.position as u64, e.to_string()));
        }
    }
    let (Some(first), Some((last_pos, last))) = (first, last) else {
        return Err(corrupt(0, "snapshot holds no batches".into()));
    };
    if control_type_of_single(first) != Some(ControlRecordType::SnapshotHeader as i16) {
        return Err(corrupt(
            0,
            "snapshot does not start with a SnapshotHeader record".into(),
        ));
    }
    if control_type_of_single(last) != Some(ControlRecordType::SnapshotFooter as i16) {
        return Err(corrupt(
            last_pos as u64,
            "snapshot does not end with a SnapshotFooter record".into(),
        ));
    }
    Ok(())
}

/// Writes one snapshot. Dropping it unfinished removes the `.part` file.
#[derive(Debug)]
pub struct SnapshotWriter {
    id: SnapshotId,
    dir: PathBuf,
    /// Final file name.
    name: String,
    part: PathBuf,
    file: Option<File>,
    /// Bytes written so far.
    position: u64,
    /// Offset of the next record within the snapshot (records are numbered from 0).
    next_offset: Offset,
    /// Whether this writer encodes (header/footer added) or receives raw chunks.
    generated: bool,
    last_contained_log_timestamp_ms: i64,
    batch_bytes_max: usize,
}

impl SnapshotWriter {
    /// Starts a snapshot this node generates; writes the SnapshotHeader batch.
    pub fn create(
        dir: &Path,
        id: SnapshotId,
        last_contained_log_timestamp_ms: i64,
        batch_bytes_max: usize,
    ) -> Result<Self, LogError> {
        Self::create_named(
            dir,
            &id.file_name(),
            id,
            last_contained_log_timestamp_ms,
            batch_bytes_max,
        )
    }

    /// Like [`SnapshotWriter::create`], for a snapshot-format file with another name in `dir`
    /// (such as `bootstrap.checkpoint`).
    pub fn create_named(
        dir: &Path,
        file_name: &str,
        id: SnapshotId,
        last_contained_log_timestamp_ms: i64,
        batch_bytes_max: usize,
    ) -> Result<Self, LogError> {
        let mut w = Self::open_part(dir, file_name, id, batch_bytes_max, true)?;
        w.last_contained_log_timestamp_ms = last_contained_log_timestamp_ms;
        w.write_records(&[header_record(last_contained_log_timestamp_ms)?], true)?;
        Ok(w)
    }

    /// Starts receiving a snapshot from the leader as raw chunks ([`SnapshotWriter::write_chunk`]).
    pub fn create_raw(
        dir: &Path,
        id: SnapshotId,
        batch_bytes_max: usize,
    ) -> Result<Self, LogError> {
        Self::open_part(dir, &id.file_name(), id, batch_bytes_max, false)
    }

    fn open_part(
        dir: &Path,
        file_name: &str,
        id: SnapshotId,
        batch_bytes_max: usize,
        generated: bool,
    ) -> Result<Self, LogError> {
        if id.end_offset < Offset::ZERO || id.epoch < Epoch::ZERO {
            return Err(LogError::InvalidArgument(format!(
                "invalid snapshot id {id}"
            )));
        }
        // A snapshot this node generates (on a background thread) and one it receives from the
        // leader may briefly share an id: distinct `.part` names keep them apart.
        let part = if generated {
            dir.join(format!("{file_name}.generating.part"))
        } else {
            dir.join(format!("{file_name}.part"))
        };
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&part)
            .map_err(io_err("create snapshot", &part))?;
        Ok(SnapshotWriter {
            id,
            dir: dir.to_path_buf(),
            name: file_name.to_string(),
            part,
            file: Some(file),
            position: 0,
            next_offset: Offset::ZERO,
            generated,
            last_contained_log_timestamp_ms: -1,
            batch_bytes_max,
        })
    }

    /// The snapshot being written.
    pub fn id(&self) -> SnapshotId {
        self.id
    }

    /// Bytes written so far.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Encodes `records` as one data batch of the snapshot.
    pub fn append_records(&mut self, records: &[RecordData]) -> Result<(), LogError> {
        if !self.generated {
            return Err(LogError::InvalidArgument(
                "append_records on a received snapshot".into(),
            ));
        }
        self.write_records(records, false)
    }

    /// Encodes control `records` (KRaftVersion, Voters) as one control batch of the snapshot.
    pub fn append_control_records(&mut self, records: &[RecordData]) -> Result<(), LogError> {
        if !self.generated {
            return Err(LogError::InvalidArgument(
                "append_control_records on a received snapshot".into(),
            ));
        }
        self.write_records(records, true)
    }

    fn write_records(&mut self, records: &[RecordData], control: bool) -> Result<(), LogError> {
        let buf = encode_snapshot_batch(
            self.id,
            self.next_offset,
            self.last_contained_log_timestamp_ms,
            control,
            records,
            self.batch_bytes_max,
        )?;
        self.next_offset += records.len() as i64;
        self.write_bytes(&buf)
    }

    /// Writes a chunk received at byte `position`, which must be where the last chunk ended.
    pub fn write_chunk(&mut self, position: u64, bytes: &[u8]) -> Result<(), LogError> {
        if position != self.position {
            return Err(LogError::InvalidArgument(format!(
                "snapshot chunk at byte {position}, expected {}",
                self.position
            )));
        }
        self.write_bytes(bytes)
    }

    fn write_bytes(&mut self, bytes: &[u8]) -> Result<(), LogError> {
        let file = self
            .file
            .as_ref()
            .ok_or_else(|| LogError::InvalidArgument("snapshot already finished".into()))?;
        file.write_all_at(bytes, self.position)
            .map_err(io_err("write snapshot", &self.part))?;
        self.position += bytes.len() as u64;
        Ok(())
    }

    /// Completes the snapshot: adds the footer (if generated), checks the whole file, fsyncs it,
    /// renames it into place and fsyncs the directory.
    pub fn finish(mut self) -> Result<SnapshotId, LogError> {
        if self.generated {
            self.write_records(&[footer_record()?], true)?;
        }
        let file = self.file.take().expect("unfinished writer has a file");
        file.sync_all()
            .map_err(io_err("fsync snapshot", &self.part))?;
        drop(file);
        let reader = SnapshotReader::open(&self.part, self.batch_bytes_max)?;
        reader.verify()?;
        drop(reader);
        let path = self.dir.join(&self.name);
        std::fs::rename(&self.part, &path).map_err(io_err("rename snapshot", &self.part))?;
        fsync_dir(&self.dir)?;
        self.part = PathBuf::new();
        Ok(self.id)
    }
}

impl Drop for SnapshotWriter {
    fn drop(&mut self) {
        if !self.part.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.part);
        }
    }
}

/// Reads a finished snapshot.
#[derive(Debug)]
pub struct SnapshotReader {
    path: PathBuf,
    file: File,
    map: Option<Mmap>,
    size: u64,
    batch_bytes_max: usize,
}

impl SnapshotReader {
    /// Opens a snapshot file.
    pub fn open(path: &Path, batch_bytes_max: usize) -> Result<SnapshotReader, LogError> {
        let file = File::open(path).map_err(io_err("open snapshot", path))?;
        let size = file
            .metadata()
            .map_err(io_err("stat snapshot", path))?
            .len();
        let map = if size == 0 {
            None
        } else {
            // SAFETY: finished snapshots are immutable; they are only ever deleted whole.
            Some(unsafe { Mmap::map(&file) }.map_err(io_err("mmap snapshot", path))?)
        };
        Ok(SnapshotReader {
            path: path.to_path_buf(),
            file,
            map,
            size,
            batch_bytes_max,
        })
    }

    /// Size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The whole file, borrowed from its mapping.
    pub fn bytes(&self) -> &[u8] {
        self.map.as_deref().unwrap_or(&[])
    }

    /// Reads up to `bytes_max` bytes at `position` (a FetchSnapshot chunk).
    pub fn read_chunk(&self, position: u64, bytes_max: usize) -> Result<Vec<u8>, LogError> {
        if position > self.size {
            return Err(LogError::InvalidArgument(format!(
                "snapshot position {position} is past its size {}",
                self.size
            )));
        }
        let len = (self.size - position).min(bytes_max as u64) as usize;
        let mut buf = vec![0u8; len];
        self.file
            .read_exact_at(&mut buf, position)
            .map_err(io_err("read snapshot", &self.path))?;
        Ok(buf)
    }

    /// The snapshot's batches, CRC-checked; iteration stops at the first invalid one.
    pub fn batches(&self) -> BatchIter<'_> {
        BatchIter::new(self.bytes(), self.batch_bytes_max, true)
    }

    /// Checks every batch's CRC, that nothing trails the last batch, and that the snapshot opens
    /// with a SnapshotHeader and closes with a SnapshotFooter control record.
    pub fn verify(&self) -> Result<(), LogError> {
        verify_snapshot_bytes(self.bytes(), self.batch_bytes_max, &self.path)
    }
}

/// The control type of a batch made of one control record, or `None`.
fn control_type_of_single(batch: &[u8]) -> Option<i16> {
    let mut bytes = bytes::Bytes::copy_from_slice(batch);
    let set = RecordBatchDecoder::decode(&mut bytes).ok()?;
    let record = set.records.first()?;
    if !record.control {
        return None;
    }
    control_type_id(record.key.as_deref()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn names_round_trip() {
        let id = SnapshotId {
            end_offset: Offset(4096),
            epoch: Epoch(3),
        };
        assert_eq!(id.file_name(), "00000000000000004096-0000000003.checkpoint");
        assert_eq!(SnapshotId::parse_file_name(&id.file_name()), Some(id));
        assert_eq!(
            SnapshotId::parse_file_name("00000000000000004096-0000000003.checkpoint.part"),
            None
        );
        assert_eq!(SnapshotId::parse_file_name("4096-3.checkpoint"), None);
    }

    #[test]
    fn write_finish_read_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let id = SnapshotId {
            end_offset: Offset(10),
            epoch: Epoch(2),
        };
        let mut w = SnapshotWriter::create(dir.path(), id, 1234, 1 << 20).unwrap();
        w.append_records(&[RecordData {
            key: None,
            value: Some(Bytes::from_static(b"state")),
        }])
        .unwrap();
        assert!(dir
            .path()
            .join(format!("{}.generating.part", id.file_name()))
            .exists());
        assert_eq!(w.finish().unwrap(), id);
        let path = dir.path().join(id.file_name());
        assert!(path.exists());
        let r = SnapshotReader::open(&path, 1 << 20).unwrap();
        r.verify().unwrap();
        assert_eq!(r.batches().count(), 3);
        // Chunked read reassembles the file.
        let mut all = Vec::new();
        while (all.len() as u64) < r.size() {
            all.extend(r.read_chunk(all.len() as u64, 7).unwrap());
        }
        assert_eq!(all, r.bytes());
        // A receiver rebuilds an identical snapshot from the chunks.
        let dir2 = tempfile::tempdir().unwrap();
        let mut rx = SnapshotWriter::create_raw(dir2.path(), id, 1 << 20).unwrap();
        assert!(rx.write_chunk(5, &all[..5]).is_err());
        rx.write_chunk(0, &all[..5]).unwrap();
        rx.write_chunk(5, &all[5..]).unwrap();
        rx.finish().unwrap();
        assert_eq!(
            std::fs::read(dir2.path().join(id.file_name())).unwrap(),
            all
        );
    }

    #[test]
    fn abandoned_writer_leaves_nothing_and_bad_chunks_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let id = SnapshotId {
            end_offset: Offset(1),
            epoch: Epoch(1),
        };
        drop(SnapshotWriter::create(dir.path(), id, 0, 1 << 20).unwrap());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        let mut rx = SnapshotWriter::create_raw(dir.path(), id, 1 << 20).unwrap();
        rx.write_chunk(0, b"garbage that is not a batch").unwrap();
        assert!(matches!(rx.finish(), Err(LogError::Corrupt { .. })));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
