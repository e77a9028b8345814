//! Fuzz target: recovery of a log whose only segment holds arbitrary bytes. Opening must not
//! panic; if it succeeds, every offset it claims must be readable and appending must work.
#![no_main]

use libfuzzer_sys::fuzz_target;
use metaquorum_log::segment::segment_file_name;
use metaquorum_log::{Log, LogConfig};

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join(segment_file_name(metaquorum_log::Offset::ZERO)), data).expect("write");
    let config = LogConfig {
        segment_bytes_max: 1 << 20,
        batch_bytes_max: 64 * 1024,
        index_interval_bytes: 128,
        verify_all_on_open: true,
    };
    if let Ok((log, report)) = Log::open(dir.path(), config) {
        assert!(report.tail.truncated_bytes as usize <= data.len());
        let mut at = log.log_start_offset();
        while at < log.end_offset() {
            let slice = log.read(at, 4096).expect("recovered data is readable");
            assert!(slice.next_offset > at);
            at = slice.next_offset;
        }
    }
});
