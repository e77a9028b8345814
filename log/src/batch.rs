//! Kafka RecordBatch v2: the header layout, validation (magic, length, CRC-32C) and encoding.
//!
//! Everything that reads batch bytes from disk or from the network goes through [`BatchHeader::parse`]
//! and [`check_batch`]; neither panics on any input. Encoding uses `kafka-protocol`'s
//! `RecordBatchEncoder`, so the bytes are exactly what a Kafka broker writes.

use crate::ids::{Epoch, Offset};
use bytes::{Bytes, BytesMut};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType, NO_PRODUCER_EPOCH,
    NO_PRODUCER_ID, NO_SEQUENCE,
};

/// Bytes before `batchLength`'s payload starts: baseOffset (8) + batchLength (4). Kafka's `LOG_OVERHEAD`.
pub const LOG_OVERHEAD_BYTES: usize = 12;
/// Size of the fixed RecordBatch v2 header, up to and including `recordsCount`.
pub const BATCH_HEADER_BYTES: usize = 61;
/// The only record-batch format this log stores.
pub const MAGIC_V2: i8 = 2;
/// Byte offset of the CRC field within a batch.
const CRC_POSITION: usize = 17;
/// Byte offset where the CRC-covered region (attributes..end) starts.
const CRC_COVERED_FROM: usize = 21;
/// Attribute bit: the batch holds control records.
const ATTR_CONTROL: i16 = 0x20;
/// Attribute bit: the batch is transactional.
const ATTR_TRANSACTIONAL: i16 = 0x10;
/// Attribute bits: compression codec.
const ATTR_COMPRESSION_MASK: i16 = 0x07;

/// Why a byte range is not a valid RecordBatch v2.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// Fewer bytes remain than the header or the declared length needs.
    #[error("truncated batch: {needed} bytes needed, {available} available")]
    Truncated {
        /// Bytes the batch needs.
        needed: usize,
        /// Bytes present.
        available: usize,
    },
    /// The magic byte is not 2.
    #[error("unsupported magic byte {0} (only RecordBatch v2 is stored)")]
    BadMagic(i8),
    /// The length field is impossible or larger than allowed.
    #[error("invalid batch length {length} (allowed {min}..={max})")]
    BadLength {
        /// Declared `batchLength`.
        length: i32,
        /// Smallest possible length.
        min: usize,
        /// Largest allowed length.
        max: usize,
    },
    /// The stored CRC-32C does not match the bytes.
    #[error("CRC mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    CrcMismatch {
        /// CRC in the header.
        stored: u32,
        /// CRC of the bytes.
        computed: u32,
    },
    /// The header's counts or offsets are inconsistent.
    #[error("invalid batch header: {0}")]
    BadHeader(&'static str),
    /// Encoding through `kafka-protocol` failed.
    #[error("encoding record batch failed: {0}")]
    Encode(String),
}

/// The fixed fields of a RecordBatch v2 header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    /// Offset of the first record.
    pub base_offset: Offset,
    /// Bytes after the `batchLength` field.
    pub batch_length: i32,
    /// Epoch of the leader that wrote the batch (the Raft epoch).
    pub partition_leader_epoch: Epoch,
    /// Format version; always 2 once parsed.
    pub magic: i8,
    /// Stored CRC-32C of attributes..end.
    pub crc: u32,
    /// Compression, timestamp type, transactional and control bits.
    pub attributes: i16,
    /// `lastOffset - baseOffset`.
    pub last_offset_delta: i32,
    /// Timestamp of the first record (ms).
    pub base_timestamp: i64,
    /// Largest record timestamp (ms).
    pub max_timestamp: i64,
    /// Producer id, -1 for none.
    pub producer_id: i64,
    /// Producer epoch, -1 for none.
    pub producer_epoch: i16,
    /// Base sequence, -1 for none.
    pub base_sequence: i32,
    /// Number of records in the batch.
    pub records_count: i32,
}

fn be_i64(b: &[u8], at: usize) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    i64::from_be_bytes(a)
}
fn be_i32(b: &[u8], at: usize) -> i32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    i32::from_be_bytes(a)
}
fn be_i16(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([b[at], b[at + 1]])
}

impl BatchHeader {
    /// Parses the header at the start of `buf` and checks that the declared length is plausible
    /// and fits in `batch_bytes_max`. Does not check that the whole batch is present or its CRC.
    pub fn parse(buf: &[u8], batch_bytes_max: usize) -> Result<BatchHeader, BatchError> {
        if buf.len() < BATCH_HEADER_BYTES {
            // Report the declared size when it is readable, so a torn tail says how much is missing.
            let needed = if buf.len() >= LOG_OVERHEAD_BYTES {
                (be_i32(buf, 8).max(0) as usize).saturating_add(LOG_OVERHEAD_BYTES)
            } else {
                BATCH_HEADER_BYTES
            };
            return Err(BatchError::Truncated {
                needed: needed.max(BATCH_HEADER_BYTES),
                available: buf.len(),
            });
        }
        let header = BatchHeader {
            base_offset: Offset(be_i64(buf, 0)),
            batch_length: be_i32(buf, 8),
            partition_leader_epoch: Epoch(be_i32(buf, 12)),
            magic: buf[16] as i8,
            crc: be_i32(buf, CRC_POSITION) as u32,
            attributes: be_i16(buf, 21),
            last_offset_delta: be_i32(buf, 23),
            base_timestamp: be_i64(buf, 27),
            max_timestamp: be_i64(buf, 35),
            producer_id: be_i64(buf, 43),
            producer_epoch: be_i16(buf, 51),
            base_sequence: be_i32(buf, 53),
            records_count: be_i32(buf, 57),
        };
        let min = BATCH_HEADER_BYTES - LOG_OVERHEAD_BYTES;
        let max = batch_bytes_max.saturating_sub(LOG_OVERHEAD_BYTES).max(min);
        if header.batch_length < 0
            || (header.batch_length as usize) < min
            || header.batch_length as usize > max
        {
            return Err(BatchError::BadLength {
                length: header.batch_length,
                min,
                max,
            });
        }
        if header.magic != MAGIC_V2 {
            return Err(BatchError::BadMagic(header.magic));
        }
        if header.base_offset < Offset::ZERO {
            return Err(BatchError::BadHeader("negative base offset"));
        }
        if header.last_offset_delta < 0 {
            return Err(BatchError::BadHeader("negative last offset delta"));
        }
        if header.records_count < 0 {
            return Err(BatchError::BadHeader("negative record count"));
        }
        if header
            .base_offset
            .0
            .checked_add(header.last_offset_delta as i64)
            .is_none()
        {
            return Err(BatchError::BadHeader("last offset overflows"));
        }
        Ok(header)
    }

    /// Total bytes of the batch on disk, header included.
    pub fn total_bytes(&self) -> usize {
        self.batch_length as usize + LOG_OVERHEAD_BYTES
    }

    /// Offset of the last record in the batch.
    pub fn last_offset(&self) -> Offset {
        self.base_offset + self.last_offset_delta as i64
    }

    /// Offset just past the batch.
    pub fn next_offset(&self) -> Offset {
        self.last_offset().next()
    }

    /// Whether the batch holds control records (LeaderChange, SnapshotHeader, Voters, ...).
    pub fn is_control(&self) -> bool {
        self.attributes & ATTR_CONTROL != 0
    }

    /// Whether the batch is transactional.
    pub fn is_transactional(&self) -> bool {
        self.attributes & ATTR_TRANSACTIONAL != 0
    }

    /// Compression codec id (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd).
    pub fn compression_id(&self) -> i16 {
        self.attributes & ATTR_COMPRESSION_MASK
    }
}

/// Computes the CRC-32C a batch should carry (over attributes..end).
pub fn compute_crc(batch: &[u8]) -> Option<u32> {
    batch.get(CRC_COVERED_FROM..).map(crc32c::crc32c)
}

/// Validates one whole batch at the start of `buf`: header, presence of every declared byte, CRC.
/// Returns the header; `header.total_bytes()` is the batch's size.
pub fn check_batch(buf: &[u8], batch_bytes_max: usize) -> Result<BatchHeader, BatchError> {
    let header = BatchHeader::parse(buf, batch_bytes_max)?;
    let total = header.total_bytes();
    if buf.len() < total {
        return Err(BatchError::Truncated {
            needed: total,
            available: buf.len(),
        });
    }
    let computed = crc32c::crc32c(&buf[CRC_COVERED_FROM..total]);
    if computed != header.crc {
        return Err(BatchError::CrcMismatch {
            stored: header.crc,
            computed,
        });
    }
    Ok(header)
}

/// Rewrites the base offset of the batch at the start of `batch`. The CRC does not cover the base
/// offset, so the batch stays valid; a leader uses this to place a pre-encoded batch at its log end.
pub fn set_base_offset(batch: &mut [u8], base_offset: Offset) -> Result<(), BatchError> {
    let field = batch.get_mut(0..8).ok_or(BatchError::Truncated {
        needed: 8,
        available: 0,
    })?;
    field.copy_from_slice(&base_offset.0.to_be_bytes());
    Ok(())
}

/// One record to encode: key, value and headers are opaque bytes to the log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordData {
    /// Record key (control records use it for the control type).
    pub key: Option<Bytes>,
    /// Record value.
    pub value: Option<Bytes>,
}

/// What goes into one encoded batch besides its records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchSpec {
    /// Offset of the first record.
    pub base_offset: Offset,
    /// Leader epoch to stamp on the batch.
    pub epoch: Epoch,
    /// Append time in ms since the epoch, for every record.
    pub timestamp_ms: i64,
    /// Whether the records are control records.
    pub control: bool,
}

/// Encodes `records` as one uncompressed RecordBatch v2 with Kafka's own encoder, appending to `out`.
pub fn encode_batch(
    out: &mut BytesMut,
    spec: BatchSpec,
    records: &[RecordData],
) -> Result<(), BatchError> {
    if records.is_empty() {
        return Err(BatchError::BadHeader("a batch needs at least one record"));
    }
    let records: Vec<Record> = records
        .iter()
        .enumerate()
        .map(|(i, r)| Record {
            transactional: false,
            control: spec.control,
            delete_horizon: false,
            partition_leader_epoch: spec.epoch.0,
            producer_id: NO_PRODUCER_ID,
            producer_epoch: NO_PRODUCER_EPOCH,
            timestamp_type: TimestampType::Creation,
            offset: spec.base_offset.0 + i as i64,
            // kafka-protocol groups records into one batch while offset - sequence stays constant;
            // counting up from NO_SEQUENCE keeps one batch and a header baseSequence of -1.
            sequence: NO_SEQUENCE.wrapping_add(i as i32),
            timestamp: spec.timestamp_ms,
            key: r.key.clone(),
            value: r.value.clone(),
            headers: IndexMap::new(),
        })
        .collect();
    let options = RecordEncodeOptions {
        version: MAGIC_V2,
        compression: Compression::None,
    };
    RecordBatchEncoder::encode(out, &records, &options)
        .map_err(|e| BatchError::Encode(e.to_string()))
}

/// Where a scan over concatenated batches stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanStop {
    /// Byte position of the first byte that is not part of a valid batch.
    pub position: usize,
    /// Why the bytes at `position` are not a valid batch; `None` if the scan reached the end cleanly.
    pub error: Option<BatchError>,
}

/// Iterates the valid batches of a byte buffer in order, stopping at the first invalid one.
///
/// With `verify_crc` false only headers are checked (used to walk sealed, already verified segments).
pub struct BatchIter<'a> {
    buf: &'a [u8],
    position: usize,
    batch_bytes_max: usize,
    verify_crc: bool,
    stop: Option<ScanStop>,
}

impl<'a> BatchIter<'a> {
    /// Starts iterating at byte 0 of `buf`.
    pub fn new(buf: &'a [u8], batch_bytes_max: usize, verify_crc: bool) -> Self {
        BatchIter {
            buf,
            position: 0,
            batch_bytes_max,
            verify_crc,
            stop: None,
        }
    }

    /// Where and why iteration ended; `None` until the iterator has returned `None`.
    pub fn stop(&self) -> Option<&ScanStop> {
        self.stop.as_ref()
    }
}

impl<'a> Iterator for BatchIter<'a> {
    /// The batch's byte position in the buffer, its header and its bytes.
    type Item = (usize, BatchHeader, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.stop.is_some() {
            return None;
        }
        let rest = &self.buf[self.position..];
        if rest.is_empty() {
            self.stop = Some(ScanStop {
                position: self.position,
                error: None,
            });
            return None;
        }
        let checked = if self.verify_crc {
            check_batch(rest, self.batch_bytes_max)
        } else {
            BatchHeader::parse(rest, self.batch_bytes_max).and_then(|h| {
                if rest.len() < h.total_bytes() {
                    Err(BatchError::Truncated {
                        needed: h.total_bytes(),
                        available: rest.len(),
                    })
                } else {
                    Ok(h)
                }
            })
        };
        match checked {
            Ok(header) => {
                let at = self.position;
                let bytes = &rest[..header.total_bytes()];
                self.position += header.total_bytes();
                Some((at, header, bytes))
            }
            Err(error) => {
                self.stop = Some(ScanStop {
                    position: self.position,
                    error: Some(error),
                });
                None
            }
        }
    }
}

/// Finds the first position at or after `from` where a CRC-valid batch with a base offset of at
/// least `min_base_offset` starts. Recovery uses it to tell a torn tail (nothing valid after the
/// damage) from corruption in the middle of data (valid batches after the damage).
pub fn find_valid_batch_after(
    buf: &[u8],
    from: usize,
    min_base_offset: Offset,
    batch_bytes_max: usize,
) -> Option<usize> {
    let mut at = from;
    while at + BATCH_HEADER_BYTES <= buf.len() {
        // Cheap filter first: the magic byte sits 16 bytes into a batch.
        if buf[at + 16] as i8 == MAGIC_V2 {
            if let Ok(h) = check_batch(&buf[at..], batch_bytes_max) {
                if h.base_offset >= min_base_offset {
                    return Some(at);
                }
            }
        }
        at += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(base: i64, n: usize) -> BytesMut {
        let mut out = BytesMut::new();
        let recs: Vec<RecordData> = (0..n)
            .map(|i| RecordData {
                key: None,
                value: Some(Bytes::from(format!("value-{i}"))),
            })
            .collect();
        encode_batch(
            &mut out,
            BatchSpec {
                base_offset: Offset(base),
                epoch: Epoch(7),
                timestamp_ms: 1_700_000_000_000,
                control: false,
            },
            &recs,
        )
        .unwrap();
        out
    }

    #[test]
    fn encoded_batch_parses_with_kafka_fields() {
        let b = sample(42, 3);
        let h = check_batch(&b, 1 << 20).unwrap();
        assert_eq!(h.base_offset, Offset(42));
        assert_eq!(h.last_offset(), Offset(44));
        assert_eq!(h.records_count, 3);
        assert_eq!(h.partition_leader_epoch, Epoch(7));
        assert_eq!(h.total_bytes(), b.len());
        assert!(!h.is_control());
        assert_eq!(h.base_timestamp, 1_700_000_000_000);
    }

    #[test]
    fn kafka_decoder_accepts_our_batches() {
        let b = sample(0, 5);
        let mut bytes = b.freeze();
        let set = kafka_protocol::records::RecordBatchDecoder::decode(&mut bytes).unwrap();
        assert_eq!(set.records.len(), 5);
        assert_eq!(set.records[4].offset, 4);
        assert_eq!(set.records[2].value.as_deref(), Some(&b"value-2"[..]));
    }

    #[test]
    fn crc_covers_payload_but_not_base_offset() {
        let mut b = sample(0, 2).to_vec();
        set_base_offset(&mut b, Offset(1000)).unwrap();
        assert_eq!(check_batch(&b, 1 << 20).unwrap().base_offset, Offset(1000));
        let last = b.len() - 1;
        b[last] ^= 1;
        assert!(matches!(
            check_batch(&b, 1 << 20),
            Err(BatchError::CrcMismatch { .. })
        ));
    }

    #[test]
    fn every_prefix_is_truncated_never_panics() {
        let b = sample(0, 4);
        for cut in 0..b.len() {
            let r = check_batch(&b[..cut], 1 << 20);
            assert!(
                matches!(r, Err(BatchError::Truncated { .. })),
                "cut {cut}: {r:?}"
            );
        }
    }

    #[test]
    fn oversized_length_is_rejected() {
        let b = sample(0, 50);
        assert!(matches!(
            check_batch(&b, 100),
            Err(BatchError::BadLength { .. })
        ));
    }

    #[test]
    fn finds_valid_batch_after_damage() {
        let mut buf = sample(0, 2).to_vec();
        let first_len = buf.len();
        buf.extend_from_slice(&sample(2, 2));
        buf[30] ^= 0xff;
        assert_eq!(
            find_valid_batch_after(&buf, 1, Offset(1), 1 << 20),
            Some(first_len)
        );
        assert_eq!(
            find_valid_batch_after(&buf, first_len + 1, Offset(1), 1 << 20),
            None
        );
    }
}
