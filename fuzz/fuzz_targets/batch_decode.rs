//! Fuzz target: batch framing and CRC checking on arbitrary bytes, and Kafka's record decoder on
//! whatever passes the check. Neither may panic; a checked batch must decode.
#![no_main]

use libfuzzer_sys::fuzz_target;
use metaquorum_log::batch::{check_batch, BatchIter};

fuzz_target!(|data: &[u8]| {
    let mut end = 0;
    let mut iter = BatchIter::new(data, 1 << 20, true);
    for (pos, header, bytes) in iter.by_ref() {
        assert_eq!(pos, end);
        assert_eq!(bytes.len(), header.total_bytes());
        end = pos + bytes.len();
        // Decoding a CRC-valid batch may fail (bad varints), but must not panic.
        let mut buf = bytes::Bytes::copy_from_slice(bytes);
        let _ = kafka_protocol::records::RecordBatchDecoder::decode(&mut buf);
    }
    let stop = iter.stop().expect("iteration ended");
    assert_eq!(stop.position, end);
    let _ = check_batch(data, usize::MAX);
});
