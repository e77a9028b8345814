//! The batch listing behind `metaquorum log dump`: every batch of a segment or snapshot file, in
//! the manner of `kafka-dump-log`, with its CRC checked. Reads files with plain `read`, without
//! the directory lock, so it is safe on a live node's directory.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::batch::{compute_crc, BatchError, BatchHeader, LOG_OVERHEAD_BYTES};
use crate::error::{io_err, LogError};
use crate::segment::parse_offset_file_name;
use crate::snapshot::SnapshotId;

/// Totals of a dump.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DumpSummary {
    /// Files dumped.
    pub files: usize,
    /// Batches listed.
    pub batches: usize,
    /// Batches whose CRC does not match.
    pub bad_crc: usize,
    /// Files where a batch could not be framed at all (listing stopped there), with the position.
    pub unreadable: Vec<(PathBuf, u64, String)>,
}

impl DumpSummary {
    /// Whether everything read was valid.
    pub fn is_clean(&self) -> bool {
        self.bad_crc == 0 && self.unreadable.is_empty()
    }
}

/// The segment and snapshot files a path names: the file itself, or those in a directory,
/// segments then snapshots, in offset order.
pub fn files_to_dump(path: &Path) -> Result<Vec<PathBuf>, LogError> {
    let meta = std::fs::metadata(path).map_err(io_err("stat", path))?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut segments = Vec::new();
    let mut snapshots = Vec::new();
    for entry in std::fs::read_dir(path).map_err(io_err("list", path))? {
        let entry = entry.map_err(io_err("list", path))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(base) = parse_offset_file_name(&name, "log") {
            segments.push((base, entry.path()));
        } else if let Some(id) = SnapshotId::parse_file_name(&name) {
            snapshots.push((id, entry.path()));
        }
    }
    segments.sort();
    snapshots.sort();
    Ok(segments
        .into_iter()
        .map(|(_, p)| p)
        .chain(snapshots.into_iter().map(|(_, p)| p))
        .collect())
}

/// Lists every batch of `file` to `out`; `batch_bytes_max` bounds a plausible batch.
pub fn dump_file(
    file: &Path,
    batch_bytes_max: usize,
    out: &mut dyn Write,
    summary: &mut DumpSummary,
) -> Result<(), LogError> {
    let data = std::fs::read(file).map_err(io_err("read", file))?;
    let w = |e: std::io::Error| io_err("write output", Path::new("<stdout>"))(e);
    writeln!(out, "Dumping {}", file.display()).map_err(w)?;
    summary.files += 1;
    let mut pos = 0usize;
    while pos < data.len() {
        let header = match BatchHeader::parse(&data[pos..], batch_bytes_max) {
            Ok(h) => h,
            Err(e) => {
                writeln!(out, "position: {pos} error: cannot frame a batch: {e}").map_err(w)?;
                summary
                    .unreadable
                    .push((file.to_path_buf(), pos as u64, e.to_string()));
                return Ok(());
            }
        };
        let total = header.total_bytes();
        let available = data.len() - pos;
        let (valid, note) = if available < total {
            (
                false,
                format!(
                    " error: {}",
                    BatchError::Truncated {
                        needed: total,
                        available
                    }
                ),
            )
        } else {
            let computed = compute_crc(&data[pos..pos + total]).unwrap_or(0);
            (computed == header.crc, String::new())
        };
        writeln!(
            out,
            "baseOffset: {} lastOffset: {} count: {} baseSequence: {} producerId: {} producerEpoch: {} partitionLeaderEpoch: {} isTransactional: {} isControl: {} position: {} CreateTime: {} maxTimestamp: {} size: {} magic: {} compresscodec: {} crc: {} isvalid: {}{}",
            header.base_offset,
            header.last_offset(),
            header.records_count,
            header.base_sequence,
            header.producer_id,
            header.producer_epoch,
            header.partition_leader_epoch,
            header.is_transactional(),
            header.is_control(),
            pos,
            header.base_timestamp,
            header.max_timestamp,
            total,
            header.magic,
            codec_name(header.compression_id()),
            header.crc,
            valid,
            note
        )
        .map_err(w)?;
        summary.batches += 1;
        if !valid {
            summary.bad_crc += 1;
        }
        if available < total {
            summary.unreadable.push((
                file.to_path_buf(),
                pos as u64,
                "file ends inside a batch".into(),
            ));
            return Ok(());
        }
        pos += total.max(LOG_OVERHEAD_BYTES);
    }
    Ok(())
}

fn codec_name(id: i16) -> &'static str {
    match id {
        0 => "none",
        1 => "gzip",
        2 => "snappy",
        3 => "lz4",
        4 => "zstd",
        _ => "unknown",
    }
}
