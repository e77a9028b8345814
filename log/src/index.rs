//! The sparse offset index of one segment, in Kafka's `.index` format: 8-byte entries of
//! (offset relative to the segment base: u32 big-endian, byte position: u32 big-endian), one entry
//! per `index_interval_bytes` of log data.
//!
//! The file is preallocated (sparse) to its maximum size while the segment is active and trimmed
//! when the segment is sealed, as Kafka does. Entries are written with `pwrite` and looked up
//! through a read-only memory map: nothing is ever written through the mapping, so a full disk is
//! an `ENOSPC` error rather than a `SIGBUS`. The index is derived data: recovery validates it and
//! rebuilds it from the segment when it does not match.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use crate::error::{io_err, LogError};
use crate::ids::Offset;

/// Bytes per index entry.
pub const INDEX_ENTRY_BYTES: usize = 8;

/// A segment's offset index.
#[derive(Debug)]
pub struct OffsetIndex {
    path: PathBuf,
    file: File,
    base_offset: Offset,
    /// Read-only mapping of the whole file (its preallocated size while active).
    map: Option<Mmap>,
    /// Number of valid entries. Invariant: entries * 8 <= mapped length.
    entries: usize,
    /// Capacity in entries.
    entries_max: usize,
    /// Last entry, cached: (relative offset, position).
    last: Option<(u32, u32)>,
}

impl OffsetIndex {
    /// Creates an empty index for a new or rebuilt segment, preallocated to `entries_max` entries.
    pub fn create(
        path: &Path,
        base_offset: Offset,
        entries_max: usize,
    ) -> Result<OffsetIndex, LogError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .map_err(io_err("create index", path))?;
        let bytes = (entries_max.max(1) * INDEX_ENTRY_BYTES) as u64;
        file.set_len(bytes)
            .map_err(io_err("preallocate index", path))?;
        let map = crate::fsutil::map_read_only(&file, path, bytes as usize)?;
        Ok(OffsetIndex {
            path: path.to_path_buf(),
            file,
            base_offset,
            map,
            entries: 0,
            entries_max: entries_max.max(1),
            last: None,
        })
    }

    /// Opens the index of a sealed segment and checks it against the segment: entry count, strictly
    /// increasing offsets and positions, positions inside `segment_bytes`. Returns `None` when the
    /// file is missing or does not pass, so the caller rebuilds it.
    pub fn open_sealed(
        path: &Path,
        base_offset: Offset,
        segment_bytes: u64,
    ) -> Result<Option<OffsetIndex>, LogError> {
        let file = match OpenOptions::new().read(true).write(true).open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err("open index", path)(e)),
        };
        let len = file.metadata().map_err(io_err("stat index", path))?.len();
        if len % INDEX_ENTRY_BYTES as u64 != 0 {
            return Ok(None);
        }
        let entries = (len / INDEX_ENTRY_BYTES as u64) as usize;
        let map = crate::fsutil::map_read_only(&file, path, len as usize)?;
        let index = OffsetIndex {
            path: path.to_path_buf(),
            file,
            base_offset,
            map,
            entries,
            entries_max: entries,
            last: None,
        };
        let mut prev: Option<(u32, u32)> = None;
        for i in 0..entries {
            let (rel, pos) = index.entry(i);
            if pos as u64 >= segment_bytes {
                return Ok(None);
            }
            if let Some((prel, ppos)) = prev {
                if rel <= prel || pos <= ppos {
                    return Ok(None);
                }
            }
            prev = Some((rel, pos));
        }
        Ok(Some(OffsetIndex {
            last: prev,
            ..index
        }))
    }

    /// Adds an entry; offsets and positions must increase. Does nothing when the index is full
    /// (the index is sparse; lookups stay correct, just walk further).
    pub fn append(&mut self, offset: Offset, position: u64) -> Result<(), LogError> {
        let rel = offset - self.base_offset;
        if rel < 0 || rel > u32::MAX as i64 || position > u32::MAX as u64 {
            return Err(LogError::InvalidArgument(format!(
                "index entry ({offset}, {position}) out of range for base offset {}",
                self.base_offset
            )));
        }
        let (rel, pos) = (rel as u32, position as u32);
        if let Some((lrel, lpos)) = self.last {
            if rel <= lrel || pos <= lpos {
                return Ok(());
            }
        }
        if self.entries >= self.entries_max {
            return Ok(());
        }
        let mut entry = [0u8; INDEX_ENTRY_BYTES];
        entry[..4].copy_from_slice(&rel.to_be_bytes());
        entry[4..].copy_from_slice(&pos.to_be_bytes());
        self.file
            .write_all_at(&entry, (self.entries * INDEX_ENTRY_BYTES) as u64)
            .map_err(io_err("write index", &self.path))?;
        self.entries += 1;
        self.last = Some((rel, pos));
        Ok(())
    }

    /// Indexes the batch at `position` if `interval_bytes` of log have passed since the last
    /// entry (or it is the segment's first batch), then counts its bytes. The one place the
    /// sparse-index cadence is decided, for appends, recovery and rebuilds alike.
    pub fn maybe_append(
        &mut self,
        bytes_since_entry: &mut u64,
        interval_bytes: u64,
        offset: Offset,
        position: u64,
        batch_bytes: u64,
    ) -> Result<(), LogError> {
        if *bytes_since_entry >= interval_bytes || position == 0 {
            self.append(offset, position)?;
            *bytes_since_entry = 0;
        }
        *bytes_since_entry += batch_bytes;
        Ok(())
    }

    /// The byte position to start scanning from for `offset`: the entry with the largest offset
    /// not above it, or (base offset, 0).
    pub fn lookup(&self, offset: Offset) -> (Offset, u64) {
        let rel = offset - self.base_offset;
        if rel <= 0 || self.entries == 0 {
            return (self.base_offset, 0);
        }
        let rel = rel.min(u32::MAX as i64) as u32;
        // Binary search for the last entry with relative offset <= rel.
        let (mut lo, mut hi) = (0usize, self.entries);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.entry(mid).0 <= rel {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        if lo == 0 {
            (self.base_offset, 0)
        } else {
            let (r, p) = self.entry(lo - 1);
            (self.base_offset + r as i64, p as u64)
        }
    }

    /// Drops every entry at or above `position` in the segment (after a segment truncation).
    pub fn truncate_to_position(&mut self, position: u64) {
        while self.entries > 0 && self.entry(self.entries - 1).1 as u64 >= position {
            self.entries -= 1;
        }
        self.last = if self.entries == 0 {
            None
        } else {
            Some(self.entry(self.entries - 1))
        };
    }

    /// Trims the file to its entries, flushes it and maps it at its final size. Called when the
    /// segment rolls.
    pub fn seal(&mut self) -> Result<(), LogError> {
        let bytes = (self.entries * INDEX_ENTRY_BYTES) as u64;
        self.map = None;
        self.file
            .set_len(bytes)
            .map_err(io_err("trim index", &self.path))?;
        self.file
            .sync_data()
            .map_err(io_err("fdatasync index", &self.path))?;
        self.map = crate::fsutil::map_read_only(&self.file, &self.path, bytes as usize)?;
        self.entries_max = self.entries;
        Ok(())
    }

    /// The same index after its file was renamed to `path`.
    pub fn create_from_existing(mut index: OffsetIndex, path: &Path) -> OffsetIndex {
        index.path = path.to_path_buf();
        index
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries
    }

    /// Whether the index has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// Path of the index file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Entry `i` as (relative offset, position). Caller guarantees `i < entries`.
    fn entry(&self, i: usize) -> (u32, u32) {
        debug_assert!(i < self.entries);
        let map = match &self.map {
            Some(m) => m,
            None => return (0, 0),
        };
        let at = i * INDEX_ENTRY_BYTES;
        let b = &map[at..at + INDEX_ENTRY_BYTES];
        (
            u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
            u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_finds_floor_entry() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("00000000000000000100.index");
        let mut idx = OffsetIndex::create(&p, Offset(100), 16).unwrap();
        idx.append(Offset(110), 4096).unwrap();
        idx.append(Offset(120), 8192).unwrap();
        idx.append(Offset(130), 12288).unwrap();
        assert_eq!(idx.lookup(Offset(100)), (Offset(100), 0));
        assert_eq!(idx.lookup(Offset(109)), (Offset(100), 0));
        assert_eq!(idx.lookup(Offset(110)), (Offset(110), 4096));
        assert_eq!(idx.lookup(Offset(125)), (Offset(120), 8192));
        assert_eq!(idx.lookup(Offset(10_000)), (Offset(130), 12288));
        idx.truncate_to_position(8192);
        assert_eq!(idx.len(), 1);
        assert_eq!(idx.lookup(Offset(125)), (Offset(110), 4096));
        idx.seal().unwrap();
        assert_eq!(std::fs::metadata(&p).unwrap().len(), 8);
        let reopened = OffsetIndex::open_sealed(&p, Offset(100), 100_000)
            .unwrap()
            .unwrap();
        assert_eq!(reopened.lookup(Offset(125)), (Offset(110), 4096));
    }

    #[test]
    fn insane_index_is_rejected_for_rebuild() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.index");
        std::fs::write(&p, [0u8, 0, 0, 5, 0, 0, 1, 0, 0, 0, 0, 4, 0, 0, 2, 0]).unwrap();
        assert!(OffsetIndex::open_sealed(&p, Offset(0), 100_000)
            .unwrap()
            .is_none());
        std::fs::write(&p, [0u8; 7]).unwrap();
        assert!(OffsetIndex::open_sealed(&p, Offset(0), 100_000)
            .unwrap()
            .is_none());
        std::fs::write(&p, [0u8, 0, 0, 5, 0, 1, 0, 0]).unwrap();
        assert!(OffsetIndex::open_sealed(&p, Offset(0), 100)
            .unwrap()
            .is_none());
    }
}
