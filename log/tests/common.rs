//! Helpers shared by the log crate's integration tests.
#![allow(dead_code)]

use bytes::{Bytes, BytesMut};
use metaquorum_log::batch::{encode_batch, BatchSpec, RecordData};
use metaquorum_log::{Epoch, Offset};

/// Encodes a batch of `n` records with `payload_len`-byte values derived from `seed`.
pub fn batch(base_offset: i64, epoch: i32, n: usize, payload_len: usize, seed: u64) -> Vec<u8> {
    let records: Vec<RecordData> = (0..n)
        .map(|i| {
            let v: Vec<u8> = (0..payload_len)
                .map(|j| (seed as usize).wrapping_mul(31).wrapping_add(i * 7 + j) as u8)
                .collect();
            RecordData {
                key: None,
                value: Some(Bytes::from(v)),
            }
        })
        .collect();
    let mut out = BytesMut::new();
    encode_batch(
        &mut out,
        BatchSpec {
            base_offset: Offset(base_offset),
            epoch: Epoch(epoch),
            timestamp_ms: 1_700_000_000_000 + seed as i64,
            control: false,
        },
        &records,
    )
    .expect("encode");
    out.to_vec()
}
