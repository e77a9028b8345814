//! metaquorum-benches: criterion benchmarks live in `benches/benches/`; this library holds the
//! inputs they share and what the benchmark binaries measure with.

use bytes::{Bytes, BytesMut};
use metaquorum_log::batch::{encode_batch, BatchSpec, RecordData};
use metaquorum_log::{Epoch, Offset};

/// One encoded batch of `records` records, each with a `value_bytes`-byte value.
pub fn encode_batch_of(
    base_offset: i64,
    epoch: i32,
    records: usize,
    value_bytes: usize,
) -> Vec<u8> {
    let value = Bytes::from(vec![0x5a; value_bytes]);
    let records: Vec<RecordData> = (0..records)
        .map(|_| RecordData {
            key: None,
            value: Some(value.clone()),
        })
        .collect();
    let mut out = BytesMut::new();
    encode_batch(
        &mut out,
        BatchSpec {
            base_offset: Offset(base_offset),
            epoch: Epoch(epoch),
            timestamp_ms: 1_700_000_000_000,
            control: false,
        },
        &records,
    )
    .expect("encoding a benchmark batch");
    out.to_vec()
}

/// This process's anonymous resident memory (`RssAnon` in `/proc/self/status`), in KiB; 0 where
/// it cannot be read. Memory benchmarks report its growth.
pub fn rss_anon_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("RssAnon:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}
