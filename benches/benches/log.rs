//! Criterion benchmarks of the metadata log (numbers in `docs/benchmarks.md`):
//!
//! - `append_fsync/<N>`: append one batch of N 100-byte records and `fdatasync` it (one group
//!   commit), for N = 1, 64, 1024, 16384. Throughput in records; bytes per group are printed.
//! - `recovery_scan`: open a log whose 256 MiB segment must be CRC-verified batch by batch
//!   (page cache warm, so this is the scan's CPU cost). Throughput in bytes.
//!
//! Runs in `$METAQUORUM_BENCH_DIR` (default: the system temp dir), which must be on the disk to
//! measure; compare with `scripts/bench-disk.sh` (fio) on the same directory.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use metaquorum_benches::encode_batch_of;
use metaquorum_log::batch::set_base_offset;
use metaquorum_log::segment::segment_file_name;
use metaquorum_log::{Log, LogConfig, Offset};

fn bench_dir() -> PathBuf {
    std::env::var_os("METAQUORUM_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
}

/// Untimed reset once the log passes this size, to bound disk use.
const LOG_BYTES_RESET: u64 = 512 * 1024 * 1024;

fn append_fsync(c: &mut Criterion) {
    let mut group = c.benchmark_group("append_fsync");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(8));
    for records in [1usize, 64, 1024, 16384] {
        let dir = tempfile::tempdir_in(bench_dir()).expect("bench dir");
        let (mut log, _) = Log::open(dir.path(), LogConfig::default()).expect("open");
        let mut batch = encode_batch_of(0, 1, records, 100);
        println!(
            "append_fsync/{records}: {} bytes per group ({:.1} bytes per record)",
            batch.len(),
            batch.len() as f64 / records as f64
        );
        group.throughput(Throughput::Elements(records as u64));
        group.bench_with_input(BenchmarkId::from_parameter(records), &records, |b, _| {
            b.iter_custom(|iters| {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    if log.size_bytes() > LOG_BYTES_RESET {
                        log.truncate_fully_and_start_at(log.end_offset())
                            .expect("reset");
                    }
                    set_base_offset(&mut batch, log.end_offset()).expect("offset");
                    let start = Instant::now();
                    log.append(&batch).expect("append");
                    log.flush().expect("flush");
                    spent += start.elapsed();
                }
                spent
            })
        });
    }
    group.finish();
}

fn recovery_scan(c: &mut Criterion) {
    const SEGMENT_BYTES: usize = 256 * 1024 * 1024;
    let dir = tempfile::tempdir_in(bench_dir()).expect("bench dir");
    let mut data = Vec::with_capacity(SEGMENT_BYTES);
    let mut offset = 0i64;
    let template = encode_batch_of(0, 1, 64, 100);
    while data.len() + template.len() <= SEGMENT_BYTES {
        let mut b = template.clone();
        set_base_offset(&mut b, Offset(offset)).expect("offset");
        data.extend_from_slice(&b);
        offset += 64;
    }
    std::fs::write(dir.path().join(segment_file_name(Offset(0))), &data).expect("write segment");
    let config = LogConfig {
        verify_all_on_open: true,
        ..LogConfig::default()
    };
    let mut group = c.benchmark_group("recovery_scan");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.bench_function("open_verify_256MiB", |b| {
        b.iter(|| {
            let (log, report) = Log::open(dir.path(), config).expect("open");
            assert_eq!(report.tail.truncated_bytes, 0);
            assert_eq!(log.end_offset(), Offset(offset));
        })
    });
    group.finish();
}

criterion_group!(benches, append_fsync, recovery_scan);
criterion_main!(benches);
