//! Snapshots in the log directory, retention, split flushes and whole-log reset.

mod common;

use bytes::Bytes;
use metaquorum_log::batch::RecordData;
use metaquorum_log::{Epoch, Log, LogConfig, Offset, Retention, SnapshotId};

fn config() -> LogConfig {
    LogConfig {
        segment_bytes_max: 4096,
        batch_bytes_max: 2048,
        index_interval_bytes: 512,
        verify_all_on_open: true,
    }
}

fn fill(log: &mut Log, batches: usize, epoch: i32) {
    for i in 0..batches {
        let end = log.end_offset();
        log.append(&common::batch(end.into(), epoch, 3, 200, i as u64))
            .unwrap();
    }
    log.flush().unwrap();
}

fn snapshot(log: &mut Log, end_offset: i64, epoch: i32) -> SnapshotId {
    let id = SnapshotId {
        end_offset: Offset(end_offset),
        epoch: Epoch(epoch),
    };
    let mut w = log.create_snapshot(id, 1_700_000_000_000).unwrap();
    w.append_records(&[RecordData {
        key: None,
        value: Some(Bytes::from_static(b"image")),
    }])
    .unwrap();
    log.finish_snapshot(w).unwrap()
}

const NO_TIME_LIMIT: i64 = -1;

#[test]
fn retention_deletes_only_segments_wholly_below_the_newest_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _) = Log::open(dir.path(), config()).unwrap();
    fill(&mut log, 60, 1);
    let segments = log.segment_count();
    assert!(segments >= 6, "{segments}");

    // No snapshot: nothing may go, whatever the size limit says.
    let r = log
        .clean(
            0,
            Retention {
                bytes_max: 0,
                ms: NO_TIME_LIMIT,
            },
        )
        .unwrap();
    assert_eq!((r.segments_deleted, r.log_start_offset), (0, Offset(0)));

    let old = snapshot(&mut log, 30, 1);
    let mid = Offset(log.end_offset().get() / 2);
    let newest = snapshot(&mut log, mid.into(), 1);
    assert_eq!(log.latest_snapshot(), Some(newest));
    // Unlimited retention keeps everything.
    let r = log
        .clean(
            0,
            Retention {
                bytes_max: -1,
                ms: NO_TIME_LIMIT,
            },
        )
        .unwrap();
    assert_eq!(r.segments_deleted, 0);

    let r = log
        .clean(
            0,
            Retention {
                bytes_max: 0,
                ms: NO_TIME_LIMIT,
            },
        )
        .unwrap();
    assert!(r.segments_deleted > 0);
    let start = log.log_start_offset();
    assert_eq!(r.log_start_offset, start);
    assert!(
        start <= newest.end_offset,
        "never past the snapshot: {start} > {}",
        newest.end_offset
    );
    // The segment holding the snapshot's end offset is kept, and everything from it reads back.
    assert!(log.read(newest.end_offset, 1).is_ok());
    assert!(log.read(start - 1, 1).is_err());
    // The older snapshot is unreachable (below the log start) and gone; the newest stays.
    assert!(old.end_offset < start);
    assert_eq!(log.snapshots().collect::<Vec<_>>(), vec![newest]);
    assert!(!dir.path().join(old.file_name()).exists());

    // Survives reopening.
    drop(log);
    let (log, _) = Log::open(dir.path(), config()).unwrap();
    assert_eq!(log.log_start_offset(), start);
    assert_eq!(log.latest_snapshot(), Some(newest));
    log.open_snapshot(newest).unwrap().verify().unwrap();
}

#[test]
fn time_retention_uses_record_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _) = Log::open(dir.path(), config()).unwrap();
    fill(&mut log, 40, 1);
    let end = log.end_offset();
    snapshot(&mut log, end.into(), 1);
    // Batches carry timestamps 1_700_000_000_000 + i: a "now" just after keeps everything...
    let r = log
        .clean(
            1_700_000_000_100,
            Retention {
                bytes_max: -1,
                ms: 1_000,
            },
        )
        .unwrap();
    assert_eq!(r.segments_deleted, 0);
    // ...and a "now" an hour later deletes every covered segment but the active one.
    let r = log
        .clean(
            1_700_003_600_000,
            Retention {
                bytes_max: -1,
                ms: 1_000,
            },
        )
        .unwrap();
    assert_eq!(log.segment_count(), 1);
    assert!(r.segments_deleted > 0);
}

#[test]
fn leftover_part_files_are_removed_on_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (log, _) = Log::open(dir.path(), config()).unwrap();
        let w = log
            .create_snapshot(
                SnapshotId {
                    end_offset: Offset(5),
                    epoch: Epoch(1),
                },
                0,
            )
            .unwrap();
        std::mem::forget(w); // a crash mid-write: the .part stays behind
    }
    let part = dir
        .path()
        .join("00000000000000000005-0000000001.checkpoint.generating.part");
    assert!(part.exists());
    let (log, report) = Log::open(dir.path(), config()).unwrap();
    assert!(!part.exists());
    assert_eq!(report.removed_files, vec![part]);
    assert_eq!(log.latest_snapshot(), None);
}

#[test]
fn a_flush_begun_before_a_truncation_does_not_count_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _) = Log::open(dir.path(), config()).unwrap();
    fill(&mut log, 2, 1);
    let durable = log.durable_end_offset();
    log.append(&common::batch(log.end_offset().into(), 1, 3, 10, 7))
        .unwrap();
    assert_eq!(
        log.durable_end_offset(),
        durable,
        "append alone is not durable"
    );
    let pending = log.begin_flush();
    assert_eq!(pending.end_offset(), log.end_offset());
    // Meanwhile the log is truncated and rewritten (a follower's divergence).
    log.truncate_to(durable).unwrap();
    log.append(&common::batch(log.end_offset().into(), 2, 5, 10, 8))
        .unwrap();
    let done = pending.sync().unwrap();
    assert_eq!(log.complete_flush(done), durable, "stale flush ignored");
    // A flush taken now covers the new data; it may complete on another thread.
    let pending = log.begin_flush();
    let done = std::thread::spawn(move || pending.sync().unwrap())
        .join()
        .unwrap();
    assert_eq!(log.complete_flush(done), log.end_offset());
}

#[test]
fn truncate_fully_and_start_at_resets_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _) = Log::open(dir.path(), config()).unwrap();
    fill(&mut log, 30, 1);
    log.truncate_fully_and_start_at(Offset(1000)).unwrap();
    assert_eq!(
        (
            log.log_start_offset(),
            log.end_offset(),
            log.segment_count()
        ),
        (Offset(1000), Offset(1000), 1)
    );
    assert_eq!(log.last_epoch(), None);
    log.append(&common::batch(1000, 4, 2, 10, 1)).unwrap();
    log.flush().unwrap();
    drop(log);
    let (log, _) = Log::open(dir.path(), config()).unwrap();
    assert_eq!(
        (log.log_start_offset(), log.end_offset()),
        (Offset(1000), Offset(1002))
    );
    assert_eq!(
        log.end_offset_for_epoch(Epoch(4)),
        Some((Epoch(4), Offset(1002)))
    );
    assert_eq!(log.end_offset_for_epoch(Epoch(3)), None);
}

#[test]
fn bad_appends_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _) = Log::open(dir.path(), config()).unwrap();
    fill(&mut log, 3, 5);
    let end = log.end_offset();
    let size = log.size_bytes();
    use metaquorum_log::LogError::*;
    assert!(matches!(
        log.append(&common::batch((end + 1).into(), 5, 1, 10, 0)),
        Err(OffsetMismatch { .. })
    ));
    assert!(matches!(
        log.append(&common::batch(end.into(), 4, 1, 10, 0)),
        Err(EpochRegression { .. })
    ));
    let mut corrupt = common::batch(end.into(), 5, 1, 10, 0);
    let n = corrupt.len();
    corrupt[n - 1] ^= 1;
    assert!(matches!(log.append(&corrupt), Err(InvalidBatch { .. })));
    // A valid batch followed by garbage: nothing of it is written.
    let mut mixed = common::batch(end.into(), 5, 1, 10, 0);
    mixed.extend_from_slice(b"garbage");
    assert!(matches!(log.append(&mixed), Err(InvalidBatch { .. })));
    let big = common::batch(end.into(), 5, 20, 200, 0);
    assert!(matches!(log.append(&big), Err(InvalidBatch { .. })));
    assert!(log.append(&[]).is_err());
    assert_eq!((log.end_offset(), log.size_bytes()), (end, size));
    assert!(matches!(
        log.read(end + 1, 100),
        Err(OffsetOutOfRange { .. })
    ));
}

#[test]
fn a_damaged_or_missing_index_is_rebuilt_from_the_segment() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _) = Log::open(dir.path(), config()).unwrap();
    fill(&mut log, 40, 1);
    let expected: Vec<Vec<u8>> = (0..log.end_offset().into())
        .map(|o| log.read(Offset(o), 1).unwrap().bytes.to_vec())
        .collect();
    drop(log);
    let first = dir.path().join("00000000000000000000.index");
    assert!(std::fs::metadata(&first).unwrap().len() > 8);
    std::fs::write(&first, [0xffu8; 24]).unwrap();
    let second = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "index") && *p != first)
        .min()
        .unwrap();
    std::fs::remove_file(&second).unwrap();
    let (log, _) = Log::open(dir.path(), config()).unwrap();
    for (o, bytes) in expected.iter().enumerate() {
        assert_eq!(
            &log.read(Offset(o as i64), 1).unwrap().bytes.to_vec(),
            bytes,
            "offset {o}"
        );
    }
    assert!(second.exists(), "missing index written again");
    assert_ne!(std::fs::read(&first).unwrap(), vec![0xffu8; 24]);
}
