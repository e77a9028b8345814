//! metaquorum-benches: criterion benchmarks live in `benches/benches/`; this library holds the
//! inputs they share.

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
