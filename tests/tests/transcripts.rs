//! Runs every transcript in `tests/testdata/raft/`. `REWRITE=1` rewrites them with the actual
//! output (then read the diff).

use std::path::Path;

use metaquorum_tests::transcript::run_transcript;

/// The scenarios the consensus issue asks for (first election, pre-vote, Figure 8, divergence,
/// check-quorum, graceful resign, snapshot install).
const TRANSCRIPTS_MIN: usize = 7;

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
    assert!(
        files.len() >= TRANSCRIPTS_MIN,
        "expected the transcripts, found {files:?}"
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
