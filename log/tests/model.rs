//! Property test: the segmented log against a plain in-memory model (a Vec of batches), over
//! random sequences of append, flush, read, truncate, roll, clean reopen and crash-reopen (the
//! unflushed suffix of the active segment cut at a random byte).

mod common;

use std::path::Path;

use metaquorum_log::segment::segment_file_name;
use metaquorum_log::{Epoch, Log, LogConfig, Offset};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Append {
        records: usize,
        payload: usize,
        bump_epoch: bool,
    },
    Flush,
    Read {
        from_permille: u32,
        bytes_max: usize,
    },
    Truncate {
        to_permille: u32,
    },
    Roll,
    Reopen,
    Crash {
        cut_permille: u32,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (1usize..4, 0usize..150, proptest::bool::weighted(0.1))
            .prop_map(|(records, payload, bump_epoch)| Op::Append { records, payload, bump_epoch }),
        2 => Just(Op::Flush),
        3 => (0u32..=1000, 1usize..3000).prop_map(|(from_permille, bytes_max)| Op::Read { from_permille, bytes_max }),
        1 => (0u32..=1000).prop_map(|to_permille| Op::Truncate { to_permille }),
        1 => Just(Op::Roll),
        1 => Just(Op::Reopen),
        1 => (0u32..=1000).prop_map(|cut_permille| Op::Crash { cut_permille }),
    ]
}

/// One batch as the model keeps it.
#[derive(Debug, Clone, PartialEq)]
struct ModelBatch {
    base: i64,
    count: i64,
    epoch: i32,
    bytes: Vec<u8>,
}

fn config() -> LogConfig {
    LogConfig {
        segment_bytes_max: 2048,
        batch_bytes_max: 1024,
        index_interval_bytes: 256,
        verify_all_on_open: true,
    }
}

fn pick(len: usize, permille: u32) -> usize {
    (len * permille as usize) / 1000
}

/// Everything in the log, batch by batch, read through the public read path.
fn contents(log: &Log) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = log.log_start_offset();
    while at < log.end_offset() {
        let slice = log.read(at, 1).expect("read");
        for (_, b) in slice.batches() {
            out.push(b.to_vec());
        }
        at = slice.next_offset;
    }
    out
}

fn check(log: &Log, model: &[ModelBatch]) {
    let expected: Vec<Vec<u8>> = model.iter().map(|b| b.bytes.clone()).collect();
    assert_eq!(
        contents(log),
        expected,
        "log contents differ from the model"
    );
    let end = model.last().map_or(0, |b| b.base + b.count);
    assert_eq!(log.end_offset(), Offset(end));
    assert!(log.durable_end_offset() <= log.end_offset());
    // The epoch cache: first offset of every epoch.
    let mut epochs: Vec<(i32, i64)> = Vec::new();
    for b in model {
        if epochs.last().is_none_or(|e| e.0 < b.epoch) {
            epochs.push((b.epoch, b.base));
        }
    }
    let got: Vec<(i32, i64)> = log
        .epochs()
        .iter()
        .map(|e| (e.epoch.get(), e.start_offset.get()))
        .collect();
    assert_eq!(got, epochs, "epoch cache differs");
    if let Some(&(e, _)) = epochs.last() {
        assert_eq!(
            log.end_offset_for_epoch(Epoch(e)),
            Some((Epoch(e), Offset(end)))
        );
    }
}

/// Cuts the active segment file at a byte between the durable end and the file end.
fn crash_cut(dir: &Path, log: &Log, model: &[ModelBatch], permille: u32) -> usize {
    let durable = log.durable_end_offset();
    let active_base = {
        // The active segment is the newest file.
        let mut bases: Vec<i64> = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| {
                let n = e.unwrap().file_name().to_string_lossy().into_owned();
                metaquorum_log::segment::parse_offset_file_name(&n, "log").map(Offset::get)
            })
            .collect();
        bases.sort();
        *bases.last().unwrap()
    };
    let path = dir.join(segment_file_name(Offset(active_base)));
    let len = std::fs::metadata(&path).unwrap().len() as usize;
    // Byte position of the first batch not yet durable, within the active segment.
    let mut pos = 0usize;
    for b in model.iter().filter(|b| b.base >= active_base) {
        if b.base >= durable.into() {
            break;
        }
        pos += b.bytes.len();
    }
    let cut = pos + pick(len - pos, permille);
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(cut as u64).unwrap();
    // Batches of the active segment that survive whole.
    let mut kept = 0usize;
    let mut at = 0usize;
    for (i, b) in model.iter().enumerate() {
        if b.base < active_base {
            kept = i + 1;
            continue;
        }
        if at + b.bytes.len() <= cut {
            at += b.bytes.len();
            kept = i + 1;
        } else {
            break;
        }
    }
    kept
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn log_matches_model(ops in proptest::collection::vec(op(), 1..60)) {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _) = Log::open(dir.path(), config()).unwrap();
        let mut model: Vec<ModelBatch> = Vec::new();
        let mut epoch = 1;
        let mut seed = 0u64;
        for op in ops {
            match op {
                Op::Append { records, payload, bump_epoch } => {
                    if bump_epoch { epoch += 1; }
                    seed += 1;
                    let base = log.end_offset();
                    let bytes = common::batch(base.into(), epoch, records, payload, seed);
                    let info = log.append(&bytes).unwrap();
                    prop_assert_eq!(info.first_offset, base);
                    prop_assert_eq!(info.last_offset, base + records as i64 - 1);
                    model.push(ModelBatch { base: base.into(), count: records as i64, epoch, bytes });
                }
                Op::Flush => {
                    let durable = log.flush().unwrap();
                    prop_assert_eq!(durable, log.end_offset());
                }
                Op::Read { from_permille, bytes_max } => {
                    if model.is_empty() { continue; }
                    let end = log.end_offset().get();
                    let from = pick(end as usize + 1, from_permille).min(end as usize) as i64;
                    let slice = log.read(Offset(from), bytes_max).unwrap();
                    if from == end {
                        prop_assert!(slice.bytes.is_empty());
                        continue;
                    }
                    // The first batch returned contains `from`; whole batches; bounded unless one batch.
                    let i = model.iter().position(|b| b.base <= from && from < b.base + b.count).unwrap();
                    prop_assert_eq!(slice.first_offset, Offset(model[i].base));
                    let mut expected = Vec::new();
                    for b in &model[i..] {
                        if !expected.is_empty() && expected.len() + b.bytes.len() > bytes_max { break; }
                        expected.extend_from_slice(&b.bytes);
                        if slice.bytes.len() == expected.len() { break; }
                    }
                    prop_assert_eq!(slice.bytes, &expected[..]);
                }
                Op::Truncate { to_permille } => {
                    let end = log.end_offset().get();
                    let to = pick(end as usize + 1, to_permille) as i64;
                    let new_end = log.truncate_to(Offset(to)).unwrap();
                    model.retain(|b| b.base + b.count <= to);
                    let model_end = model.last().map_or(0, |b| b.base + b.count);
                    prop_assert_eq!(new_end.get(), model_end.max(log.log_start_offset().get()));
                    prop_assert!(log.durable_end_offset() <= new_end);
                    if model.is_empty() { epoch = 1; } else { epoch = epoch.max(1); }
                }
                Op::Roll => log.roll().unwrap(),
                Op::Reopen => {
                    log.flush().unwrap();
                    drop(log);
                    let (l, report) = Log::open(dir.path(), config()).unwrap();
                    prop_assert_eq!(report.tail.truncated_bytes, 0);
                    log = l;
                }
                Op::Crash { cut_permille } => {
                    let kept = crash_cut(dir.path(), &log, &model, cut_permille);
                    let durable = log.durable_end_offset();
                    drop(log);
                    model.truncate(kept);
                    let (l, _) = Log::open(dir.path(), config()).unwrap();
                    log = l;
                    // Nothing durable was lost.
                    prop_assert!(log.end_offset() >= durable);
                }
            }
            check(&log, &model);
        }
    }
}
