//! Fuzz target: batch framing and CRC checking on arbitrary bytes, and Kafka's record decoder on
//! whatever passes the check. Neither may panic. A CRC-valid batch may still hold records that do
//! not decode (bad varints): that must be an error. Whatever does decode must encode again and
//! decode to the same records.
#![no_main]

use libfuzzer_sys::fuzz_target;
use kafka_protocol::records::{
    Compression, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions,
};
use metaquorum_log::batch::{check_batch, BatchIter};

fuzz_target!(|data: &[u8]| {
    let mut end = 0;
    let mut iter = BatchIter::new(data, 1 << 20, true);
    for (pos, header, bytes) in iter.by_ref() {
        assert_eq!(pos, end);
        assert_eq!(bytes.len(), header.total_bytes());
        end = pos + bytes.len();
        let mut buf = bytes::Bytes::copy_from_slice(bytes);
        let Ok(set) = RecordBatchDecoder::decode(&mut buf) else {
            continue;
        };
        let options = RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        };
        let mut again = bytes::BytesMut::new();
        if RecordBatchEncoder::encode(&mut again, &set.records, &options).is_ok() {
            let decoded = RecordBatchDecoder::decode(&mut again.freeze())
                .expect("a batch the encoder wrote decodes");
            assert_eq!(decoded.records, set.records, "records changed in a round trip");
        }
    }
    let stop = iter.stop().expect("iteration ended");
    assert_eq!(stop.position, end);
    let _ = check_batch(data, usize::MAX);
});
