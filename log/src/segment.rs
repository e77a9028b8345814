//! One log segment: `<base offset, 20 digits>.log` holding contiguous RecordBatch v2 batches, with
//! its `.index`. Appends use positional `write`; reads borrow from a read-only memory map.
//!
//! The active segment is mapped once at its maximum size (mapping past the end of a file is
//! allowed; only touching pages past it faults, and reads never go past the written size), so
//! appends never remap. Nothing is written through the mapping.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use memmap2::Mmap;

use crate::batch::{find_valid_batch_after, BatchHeader, BatchIter};
use crate::error::{io_err, LogError};
use crate::ids::Offset;
use crate::index::OffsetIndex;

/// Digits in segment and snapshot file names (Kafka pads offsets to 20).
pub const OFFSET_DIGITS: usize = 20;

/// The segment file name for a base offset.
pub fn segment_file_name(base_offset: Offset) -> String {
    format!("{base_offset:0width$}.log", width = OFFSET_DIGITS)
}

/// The index file name for a base offset.
pub fn index_file_name(base_offset: Offset) -> String {
    format!("{base_offset:0width$}.index", width = OFFSET_DIGITS)
}

/// Parses `<20 digits>.<ext>` into its base offset.
pub fn parse_offset_file_name(name: &str, ext: &str) -> Option<Offset> {
    let stem = name.strip_suffix(ext)?.strip_suffix('.')?;
    if stem.len() != OFFSET_DIGITS || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

/// Sizes that bound a segment.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SegmentLimits {
    pub segment_bytes_max: u64,
    pub batch_bytes_max: usize,
    pub index_interval_bytes: u64,
}

impl SegmentLimits {
    fn index_entries_max(&self) -> usize {
        (self.segment_bytes_max / self.index_interval_bytes.max(1)) as usize + 2
    }
}

/// Called for every batch found while opening a segment: (position, header).
pub(crate) type BatchVisitor<'a> = &'a mut dyn FnMut(u64, &BatchHeader);

/// What opening the last segment did to it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TailRecovery {
    /// Bytes cut off a torn or corrupt tail.
    pub truncated_bytes: u64,
    /// Byte position the tail was cut at, if it was.
    pub truncated_at: Option<u64>,
    /// Why the tail was cut.
    pub reason: Option<String>,
}

/// A segment file and its index.
#[derive(Debug)]
pub(crate) struct Segment {
    pub base_offset: Offset,
    pub path: PathBuf,
    pub file: Arc<File>,
    /// Bytes of valid batches. Invariant: size <= map length when mapped.
    pub size: u64,
    /// Offset after the last batch. Invariant: base_offset <= next_offset.
    pub next_offset: Offset,
    map: Option<Mmap>,
    map_len: usize,
    pub index: OffsetIndex,
    bytes_since_index_entry: u64,
    /// Largest batch max-timestamp seen, for time-based retention (-1 if none).
    pub max_timestamp_ms: i64,
    pub sealed: bool,
}

impl Segment {
    /// Creates a new, empty, active segment.
    pub fn create(
        dir: &Path,
        base_offset: Offset,
        limits: SegmentLimits,
    ) -> Result<Segment, LogError> {
        let path = dir.join(segment_file_name(base_offset));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(io_err("create segment", &path))?;
        let index = OffsetIndex::create(
            &dir.join(index_file_name(base_offset)),
            base_offset,
            limits.index_entries_max(),
        )?;
        let map_len = limits.segment_bytes_max as usize;
        let map = crate::fsutil::map_read_only(&file, &path, map_len)?;
        Ok(Segment {
            base_offset,
            path,
            file: Arc::new(file),
            size: 0,
            next_offset: base_offset,
            map,
            map_len,
            index,
            bytes_since_index_entry: 0,
            max_timestamp_ms: -1,
            sealed: false,
        })
    }

    /// Opens an existing segment.
    ///
    /// A sealed segment (`is_last == false`) is walked header by header (CRCs too when
    /// `verify_crc`); any damage is [`LogError::Corrupt`]. The last segment is always CRC-checked;
    /// a torn tail — damage with no valid batch after it — is truncated, while damage followed by
    /// valid batches is corruption and an error. `visit` sees every batch kept.
    pub fn open(
        dir: &Path,
        base_offset: Offset,
        limits: SegmentLimits,
        is_last: bool,
        verify_crc: bool,
        visit: BatchVisitor<'_>,
    ) -> Result<(Segment, TailRecovery), LogError> {
        let path = dir.join(segment_file_name(base_offset));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io_err("open segment", &path))?;
        let file_len = file
            .metadata()
            .map_err(io_err("stat segment", &path))?
            .len();
        if file_len > u32::MAX as u64 {
            return Err(LogError::Corrupt {
                path,
                position: u32::MAX as u64,
                reason: format!(
                    "segment is {file_len} bytes, more than the 4 GiB a segment may hold"
                ),
            });
        }
        let map_len = if is_last {
            (limits.segment_bytes_max).max(file_len) as usize
        } else {
            file_len as usize
        };
        let map = crate::fsutil::map_read_only(&file, &path, map_len)?;
        let data: &[u8] = match &map {
            Some(m) => &m[..file_len as usize],
            None => &[],
        };

        // A sealed segment keeps its on-disk index when that is sane; otherwise, and always for
        // the last segment (whose index may be stale after a crash), the index is rebuilt during
        // the scan below, into a side file renamed into place at the end.
        let index_path = dir.join(index_file_name(base_offset));
        let existing = if is_last {
            None
        } else {
            OffsetIndex::open_sealed(&index_path, base_offset, file_len)?
        };
        let (existing, mut rebuilt) = match existing {
            Some(index) => (Some(index), None),
            None => (
                None,
                Some(OffsetIndex::create(
                    &index_path.with_extension("index.rebuild"),
                    base_offset,
                    limits.index_entries_max(),
                )?),
            ),
        };
        let mut iter = BatchIter::new(data, limits.batch_bytes_max, verify_crc || is_last);
        let mut expected = base_offset;
        let mut max_ts = -1i64;
        let mut since_index = 0u64;
        let mut end = 0u64;
        let mut gap: Option<(u64, String)> = None;
        for (pos, header, bytes) in iter.by_ref() {
            if header.base_offset != expected {
                gap = Some((
                    pos as u64,
                    format!(
                        "batch base offset {} where {} was expected",
                        header.base_offset, expected
                    ),
                ));
                break;
            }
            if let Some(index) = rebuilt.as_mut() {
                index.maybe_append(
                    &mut since_index,
                    limits.index_interval_bytes,
                    header.base_offset,
                    pos as u64,
                    bytes.len() as u64,
                )?;
            }
            visit(pos as u64, &header);
            expected = header.next_offset();
            max_ts = max_ts.max(header.max_timestamp);
            end = (pos + bytes.len()) as u64;
        }
        let damage = match (gap, iter.stop()) {
            (Some(g), _) => Some(g),
            (None, Some(stop)) => stop
                .error
                .as_ref()
                .map(|e| (stop.position as u64, e.to_string())),
            (None, None) => None,
        };
        let mut recovery = TailRecovery::default();
        if let Some((position, reason)) = damage {
            let valid_after = find_valid_batch_after(
                data,
                position as usize + 1,
                expected,
                limits.batch_bytes_max,
            );
            if !is_last || valid_after.is_some() {
                let reason = match valid_after {
                    Some(at) => format!(
                        "{reason}; valid batches follow at byte {at}, so this is not a torn tail"
                    ),
                    None => reason,
                };
                if let Some(index) = &rebuilt {
                    let _ = std::fs::remove_file(index.path());
                }
                return Err(LogError::Corrupt {
                    path,
                    position,
                    reason,
                });
            }
            tracing::warn!(
                segment = %path.display(),
                position,
                bytes = file_len - position,
                %reason,
                "truncating torn tail of the last segment"
            );
            file.set_len(position)
                .map_err(io_err("truncate torn tail", &path))?;
            file.sync_data().map_err(io_err("fdatasync", &path))?;
            recovery = TailRecovery {
                truncated_bytes: file_len - position,
                truncated_at: Some(position),
                reason: Some(reason),
            };
        }
        debug_assert!(recovery.truncated_at.is_none_or(|p| p == end));

        let index = match rebuilt {
            Some(mut index) => {
                if !is_last {
                    tracing::info!(index = %index_path.display(), "rebuilt offset index");
                    index.seal()?;
                }
                std::fs::rename(index.path(), &index_path)
                    .map_err(io_err("rename index", &index_path))?;
                OffsetIndex::create_from_existing(index, &index_path)
            }
            None => existing.ok_or_else(|| {
                LogError::InvalidArgument("segment opened without an index".into())
            })?,
        };
        Ok((
            Segment {
                base_offset,
                path,
                file: Arc::new(file),
                size: end,
                next_offset: expected,
                map,
                map_len,
                index,
                bytes_since_index_entry: since_index,
                max_timestamp_ms: max_ts,
                sealed: !is_last,
            },
            recovery,
        ))
    }

    /// Appends already validated, contiguous batches. `batches` lists (position in `bytes`, header).
    pub fn append(
        &mut self,
        bytes: &[u8],
        batches: &[(usize, BatchHeader)],
        limits: SegmentLimits,
    ) -> Result<(), LogError> {
        debug_assert!(!self.sealed);
        let end = self.size + bytes.len() as u64;
        if end as usize > self.map_len {
            // Only reachable if one batch is larger than the segment size; map it all.
            self.map = None;
            self.map_len = end as usize;
            self.map = crate::fsutil::map_read_only(&self.file, &self.path, self.map_len)?;
        }
        self.file
            .write_all_at(bytes, self.size)
            .map_err(io_err("write segment", &self.path))?;
        for (pos, header) in batches {
            let at = self.size + *pos as u64;
            self.index.maybe_append(
                &mut self.bytes_since_index_entry,
                limits.index_interval_bytes,
                header.base_offset,
                at,
                header.total_bytes() as u64,
            )?;
            self.max_timestamp_ms = self.max_timestamp_ms.max(header.max_timestamp);
            self.next_offset = header.next_offset();
        }
        self.size = end;
        Ok(())
    }

    /// The written bytes, borrowed from the mapping.
    pub fn data(&self) -> &[u8] {
        match &self.map {
            Some(m) => &m[..self.size as usize],
            None => &[],
        }
    }

    /// Byte position and header of the batch containing `offset` (which must be in this segment).
    pub fn locate(
        &self,
        offset: Offset,
        batch_bytes_max: usize,
    ) -> Result<(u64, BatchHeader), LogError> {
        let (_, start) = self.index.lookup(offset);
        let data = self.data();
        let mut pos = start as usize;
        loop {
            let header = BatchHeader::parse(data.get(pos..).unwrap_or(&[]), batch_bytes_max)
                .map_err(|e| LogError::Corrupt {
                    path: self.path.clone(),
                    position: pos as u64,
                    reason: e.to_string(),
                })?;
            if header.last_offset() >= offset {
                return Ok((pos as u64, header));
            }
            pos += header.total_bytes();
        }
    }

    /// Cuts the segment at a batch boundary `position`, whose first dropped batch starts at
    /// `new_next_offset`, and makes it the active segment again.
    pub fn truncate_at(
        &mut self,
        position: u64,
        new_next_offset: Offset,
        limits: SegmentLimits,
        dir: &Path,
    ) -> Result<(), LogError> {
        self.file
            .set_len(position)
            .map_err(io_err("truncate segment", &self.path))?;
        self.file
            .sync_data()
            .map_err(io_err("fdatasync segment", &self.path))?;
        self.size = position;
        self.next_offset = new_next_offset;
        if self.sealed {
            // Reopen as the active segment: full-size mapping and a growable index.
            self.map = None;
            self.map_len = (limits.segment_bytes_max).max(position) as usize;
            self.map = crate::fsutil::map_read_only(&self.file, &self.path, self.map_len)?;
            let index_path = dir.join(index_file_name(self.base_offset));
            let mut index =
                OffsetIndex::create(&index_path, self.base_offset, limits.index_entries_max())?;
            let mut since = 0u64;
            for (pos, header, bytes) in BatchIter::new(self.data(), limits.batch_bytes_max, false) {
                index.maybe_append(
                    &mut since,
                    limits.index_interval_bytes,
                    header.base_offset,
                    pos as u64,
                    bytes.len() as u64,
                )?;
            }
            self.index = index;
            self.bytes_since_index_entry = since;
            self.sealed = false;
        } else {
            self.index.truncate_to_position(position);
            self.bytes_since_index_entry = self.index_gap_to_end(limits);
        }
        Ok(())
    }

    fn index_gap_to_end(&self, limits: SegmentLimits) -> u64 {
        let (_, last_pos) = self.index.lookup(Offset(i64::MAX));
        (self.size - last_pos.min(self.size)).min(limits.index_interval_bytes)
    }

    /// Flushes data and index and maps the file at its final size; the segment becomes read-only.
    pub fn seal(&mut self) -> Result<(), LogError> {
        self.file
            .sync_data()
            .map_err(io_err("fdatasync segment", &self.path))?;
        self.index.seal()?;
        self.map = None;
        self.map_len = self.size as usize;
        self.map = crate::fsutil::map_read_only(&self.file, &self.path, self.map_len)?;
        self.sealed = true;
        Ok(())
    }

    /// Deletes the segment's files.
    pub fn delete_files(self) -> Result<(), LogError> {
        let index_path = self.index.path().to_path_buf();
        let path = self.path.clone();
        drop(self);
        std::fs::remove_file(&path).map_err(io_err("delete segment", &path))?;
        match std::fs::remove_file(&index_path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err("delete index", &index_path)(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_twenty_digits() {
        assert_eq!(segment_file_name(Offset(4096)), "00000000000000004096.log");
        assert_eq!(
            parse_offset_file_name("00000000000000004096.log", "log"),
            Some(Offset(4096))
        );
        assert_eq!(parse_offset_file_name("4096.log", "log"), None);
        assert_eq!(
            parse_offset_file_name("0000000000000000409x.log", "log"),
            None
        );
        assert_eq!(
            parse_offset_file_name("00000000000000004096.index", "log"),
            None
        );
    }
}
