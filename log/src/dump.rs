//! The batch listing behind `metaquorum log dump`: every batch of a segment or snapshot file, in
//! the manner of `kafka-dump-log`, with its CRC checked, and optionally every record after its
//! batch's line (Kafka's `--deep-iteration`), control records decoded and data record values
//! rendered by a caller's [`PayloadFormatter`] (the metadata decoder lives in the controller
//! crate, which this crate may not depend on). Reads files with plain `read`, without the
//! directory lock, so it is safe on a live node's directory.

use std::io::Write;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use kafka_protocol::records::{Record, RecordBatchDecoder, TimestampType};

use crate::batch::{compute_crc, BatchError, BatchHeader, LOG_OVERHEAD_BYTES};
use crate::control_text::describe_control_record;
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
    /// Records listed.
    pub records: usize,
    /// Records (or whole batches of records) that could not be decoded, with the offset (of the
    /// record, or of the batch's first record) and why. Each also has an error line in the
    /// listing.
    pub undecodable: Vec<(PathBuf, i64, String)>,
}

impl DumpSummary {
    /// Whether everything read was valid.
    pub fn is_clean(&self) -> bool {
        self.bad_crc == 0 && self.unreadable.is_empty() && self.undecodable.is_empty()
    }
}

/// Renders a data record's value as the text after ` payload: `, or says why it cannot.
pub type PayloadFormatter = dyn Fn(&Bytes) -> Result<String, String>;

/// What a dump prints besides the batch lines. The default lists batches only.
#[derive(Clone, Copy, Default)]
pub struct DumpOptions<'a> {
    /// Print a line per record after its batch's line.
    pub records: bool,
    /// With `records`: renders data record values; without one, data records show no payload.
    pub payload: Option<&'a PayloadFormatter>,
    /// With `records`: leave out each record's offset, timestamp, sizes, sequence and header
    /// keys, printing only its payload (Kafka's `--skip-record-metadata`).
    pub skip_record_metadata: bool,
}

impl std::fmt::Debug for DumpOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DumpOptions")
            .field("records", &self.records)
            .field("payload", &self.payload.is_some())
            .field("skip_record_metadata", &self.skip_record_metadata)
            .finish()
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

/// Lists every batch of `file` to `out`, and its records as `options` asks; `batch_bytes_max`
/// bounds a plausible batch.
pub fn dump_file(
    file: &Path,
    batch_bytes_max: usize,
    options: &DumpOptions<'_>,
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
        if options.records && valid {
            let lines = record_lines(&data[pos..pos + total], &header, options);
            for line in lines {
                writeln!(out, "{}", line.text).map_err(w)?;
                summary.records += 1;
                if let Some((offset, why)) = line.error {
                    summary.undecodable.push((file.to_path_buf(), offset, why));
                }
            }
        }
        pos += total.max(LOG_OVERHEAD_BYTES);
    }
    Ok(())
}

/// One printed record line, and the offset and reason if the record could not be decoded.
struct RecordLine {
    text: String,
    error: Option<(i64, String)>,
}

/// The lines for the records of one whole, CRC-valid batch.
fn record_lines(batch: &[u8], header: &BatchHeader, options: &DumpOptions<'_>) -> Vec<RecordLine> {
    let records = match decode_records(batch, header) {
        Ok(r) => r,
        Err(why) => {
            let why = format!("cannot read the records of the batch: {why}");
            return vec![RecordLine {
                text: format!("| offset: {} error: {why}", header.base_offset),
                error: Some((header.base_offset.get(), why)),
            }];
        }
    };
    records
        .iter()
        .map(|r| record_line(r, header, options))
        .collect()
}

/// Decodes a batch's records with Kafka's record layout. The record count is checked against
/// the batch size first (a record takes at least 7 bytes), so a damaged count cannot make the
/// decoder reserve room for billions of records.
fn decode_records(batch: &[u8], header: &BatchHeader) -> Result<Vec<Record>, String> {
    const RECORD_BYTES_MIN: usize = 7;
    let count = usize::try_from(header.records_count).map_err(|_| "a negative record count")?;
    if count.saturating_mul(RECORD_BYTES_MIN) > batch.len() {
        return Err(format!(
            "{count} records cannot fit in a batch of {} bytes",
            batch.len()
        ));
    }
    let mut buf = Bytes::copy_from_slice(batch);
    let set = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        RecordBatchDecoder::decode(&mut buf)
    }))
    .map_err(|_| "a length in the batch is impossible".to_string())?
    .map_err(|e| e.to_string())?;
    Ok(set.records)
}

fn record_line(r: &Record, header: &BatchHeader, options: &DumpOptions<'_>) -> RecordLine {
    let mut text = String::new();
    if !options.skip_record_metadata {
        // Kafka prints -1 for every record of a batch without a base sequence, and the batch's
        // max timestamp for LogAppendTime batches.
        let (ts_name, ts) = match r.timestamp_type {
            TimestampType::Creation => ("CreateTime", r.timestamp),
            TimestampType::LogAppend => ("LogAppendTime", header.max_timestamp),
        };
        let sequence = if header.base_sequence < 0 {
            -1
        } else {
            r.sequence
        };
        let header_keys: Vec<&str> = r.headers.keys().map(|k| k.as_str()).collect();
        text = format!(
            "| offset: {} {ts_name}: {ts} keySize: {} valueSize: {} sequence: {sequence} headerKeys: [{}]",
            r.offset,
            size_of(&r.key),
            size_of(&r.value),
            header_keys.join(",")
        );
    }
    let described = if header.is_control() {
        describe_control_record(r.key.as_ref(), r.value.as_ref()).map(Some)
    } else if let Some(format) = options.payload {
        match &r.value {
            Some(v) => format(v).map(|p| Some(format!("payload: {p}"))),
            None => Err("the record has no value".to_string()),
        }
    } else {
        Ok(None)
    };
    let error = match described {
        Ok(Some(s)) => {
            text.push(' ');
            text.push_str(&s);
            None
        }
        Ok(None) => None,
        Err(why) => {
            text.push_str(&format!(
                " error: cannot decode the record at offset {}: {why}",
                r.offset
            ));
            Some((r.offset, why))
        }
    };
    RecordLine { text, error }
}

fn size_of(b: &Option<Bytes>) -> i64 {
    b.as_ref().map_or(-1, |b| b.len() as i64)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::{encode_batch, BatchSpec, RecordData};
    use crate::control::{control_record, ControlRecordType};
    use crate::ids::{Epoch, Offset};
    use bytes::BytesMut;
    use kafka_protocol::messages::SnapshotFooterRecord;

    /// A segment with a data batch of two records (the second without a value) and a control
    /// batch holding a SnapshotFooter.
    fn segment(dir: &Path) -> PathBuf {
        let mut buf = BytesMut::new();
        let data = |v: Option<&'static [u8]>| RecordData {
            key: None,
            value: v.map(Bytes::from_static),
        };
        let spec = |base_offset, control| BatchSpec {
            base_offset,
            epoch: Epoch(3),
            timestamp_ms: 1_000,
            control,
        };
        encode_batch(
            &mut buf,
            spec(Offset(0), false),
            &[data(Some(b"ok")), data(None)],
        )
        .unwrap();
        let footer = control_record(
            ControlRecordType::SnapshotFooter,
            &SnapshotFooterRecord::default(),
            0,
        )
        .unwrap();
        encode_batch(&mut buf, spec(Offset(2), true), &[footer]).unwrap();
        let path = dir.join("00000000000000000000.log");
        std::fs::write(&path, &buf).unwrap();
        path
    }

    fn dump(path: &Path, options: &DumpOptions<'_>) -> (String, DumpSummary) {
        let mut out = Vec::new();
        let mut summary = DumpSummary::default();
        dump_file(path, 1 << 20, options, &mut out, &mut summary).unwrap();
        (String::from_utf8(out).unwrap(), summary)
    }

    /// Records listed, data values rendered by [`upper`].
    fn with_records(skip_record_metadata: bool) -> DumpOptions<'static> {
        DumpOptions {
            records: true,
            payload: Some(&upper),
            skip_record_metadata,
        }
    }

    fn upper(v: &Bytes) -> Result<String, String> {
        std::str::from_utf8(v)
            .map(|s| format!("\"{}\"", s.to_uppercase()))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn batches_only_by_default() {
        let tmp = tempfile::tempdir().unwrap();
        let (text, summary) = dump(&segment(tmp.path()), &DumpOptions::default());
        assert_eq!(text.lines().count(), 3, "{text}");
        assert!(summary.is_clean());
        assert_eq!(summary.records, 0);
    }

    // kafka-dump-log --deep-iteration --cluster-metadata-decoder: one line per record after its
    // batch; a record that cannot be decoded is an error line naming its offset, never skipped.
    #[test]
    fn records_follow_their_batch_and_undecodable_ones_are_reported() {
        let tmp = tempfile::tempdir().unwrap();
        let options = with_records(false);
        let (text, summary) = dump(&segment(tmp.path()), &options);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 6, "{text}");
        assert!(
            lines[1].starts_with("baseOffset: 0 lastOffset: 1"),
            "{text}"
        );
        assert_eq!(
            lines[2],
            "| offset: 0 CreateTime: 1000 keySize: -1 valueSize: 2 sequence: -1 headerKeys: [] payload: \"OK\""
        );
        assert_eq!(
            lines[3],
            "| offset: 1 CreateTime: 1000 keySize: -1 valueSize: -1 sequence: -1 headerKeys: [] error: cannot decode the record at offset 1: the record has no value"
        );
        assert!(
            lines[4].starts_with("baseOffset: 2 lastOffset: 2"),
            "{text}"
        );
        assert_eq!(
            lines[5],
            "| offset: 2 CreateTime: 1000 keySize: 4 valueSize: 3 sequence: -1 headerKeys: [] SnapshotFooter {\"version\":0}"
        );
        assert_eq!(summary.records, 3);
        assert!(!summary.is_clean());
        assert_eq!(summary.undecodable.len(), 1);
        assert_eq!(summary.undecodable[0].1, 1);
    }

    #[test]
    fn skip_record_metadata_prints_only_payloads() {
        let tmp = tempfile::tempdir().unwrap();
        let options = with_records(true);
        let (text, _) = dump(&segment(tmp.path()), &options);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[2], " payload: \"OK\"");
        assert_eq!(
            lines[3],
            " error: cannot decode the record at offset 1: the record has no value"
        );
        assert_eq!(lines[5], " SnapshotFooter {\"version\":0}");
    }

    #[test]
    fn a_record_count_larger_than_the_batch_is_an_error_line() {
        let tmp = tempfile::tempdir().unwrap();
        let path = segment(tmp.path());
        let mut bytes = std::fs::read(&path).unwrap();
        // recordsCount sits at byte 57 of the first batch; make it huge and fix the CRC so only
        // the count is wrong.
        bytes[57..61].copy_from_slice(&1_000_000i32.to_be_bytes());
        let first = BatchHeader::parse(&bytes, 1 << 20).unwrap().total_bytes();
        let crc = compute_crc(&bytes[..first]).unwrap();
        bytes[17..21].copy_from_slice(&crc.to_be_bytes());
        std::fs::write(&path, &bytes).unwrap();
        let options = with_records(false);
        let (text, summary) = dump(&path, &options);
        assert!(
            text.contains("| offset: 0 error: cannot read the records of the batch: 1000000 records cannot fit"),
            "{text}"
        );
        assert_eq!(summary.undecodable[0].1, 0);
    }
}
