//! Runs every transcript in `tests/testdata/raft/`. `REWRITE=1` rewrites them with the actual
//! output (then read the diff).

use std::path::Path;

use metaquorum_tests::transcript::run_transcript;

/// Every transcript, by name: one deleted or renamed fails the test instead of going unnoticed.
const TRANSCRIPTS: &[&str] = &[
    "01_first_election.txt",
    "02_prevote_refused.txt",
    "03_figure8.txt",
    "04_divergence.txt",
    "05_check_quorum.txt",
    "06_graceful_resign.txt",
    "07_snapshot_install.txt",
    "08_dead_leader_fast_failover.txt",
];

#[test]
fn raft_transcripts() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/raft");
    let rewrite = std::env::var_os("REWRITE").is_some();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("testdata/raft")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    let names: Vec<String> = files
        .iter()
        .filter_map(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        TRANSCRIPTS,
        "the transcripts in {} are not the listed ones",
        dir.display()
    );
    let mut failures = Vec::new();
    for file in files {
        let expected = std::fs::read_to_string(&file).expect("read transcript");
        let actual =
            run_transcript(&expected).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        if rewrite {
            std::fs::write(&file, &actual).expect("rewrite");
        } else if actual != expected {
            let first = expected
                .lines()
                .zip(actual.lines())
                .position(|(a, b)| a != b)
                .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
            failures.push(format!(
                "{}: differs at line {}:\n  expected: {:?}\n  actual:   {:?}",
                file.display(),
                first + 1,
                expected.lines().nth(first),
                actual.lines().nth(first)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "transcripts differ (REWRITE=1 to update):\n{}",
        failures.join("\n")
    );
}
