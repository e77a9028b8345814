//! The quick start works: `metaquorum local-cluster` (3 controllers and 3 brokers, and again
//! with `--combined`) prints bootstrap servers that kcat can list, and SIGTERM stops every node
//! cleanly.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use metaquorum_tests::cluster::{binary, wait_for};
use metaquorum_tests::kafka_tools::kcat_metadata;

fn run_local_cluster(extra: &[&str], want_brokers: Vec<i32>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(binary())
        .arg("local-cluster")
        .arg("--dir")
        .arg(dir.path())
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start local-cluster");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut printed = Vec::new();
    let bootstrap = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no bootstrap servers printed: {printed:?}"));
        printed.push(line.clone());
        if let Some(b) = line.trim().strip_prefix("bootstrap servers:") {
            break b.trim().to_string();
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(wait_for(
        "kcat to list every broker of the local cluster",
        Duration::from_secs(30),
        || {
            let v = kcat_metadata(&bootstrap);
            let want = want_brokers.clone();
            async move { v.filter(|v| v.brokers == want) }
        },
    ));
    // SAFETY: kill(2) on our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(40);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        assert!(Instant::now() < deadline, "local-cluster did not stop");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "local-cluster exited with {status}");
    // Every broker stopped with a controlled shutdown; combined nodes stop one at a time, and
    // the last finds no quorum left to move its leaderships, so it stops without.
    let mut completed = 0;
    for id in &want_brokers {
        let name = if *id < 100 {
            format!("combined-{id}/combined.log")
        } else {
            format!("broker-{id}/broker.log")
        };
        let log = std::fs::read_to_string(dir.path().join(&name)).unwrap_or_default();
        assert!(log.contains("controlled shutdown"), "{name}:\n{log}");
        if log.contains("controlled shutdown complete") {
            completed += 1;
        }
    }
    let combined = want_brokers.iter().all(|id| *id < 100);
    let expected = if combined {
        want_brokers.len() - 1
    } else {
        want_brokers.len()
    };
    assert!(
        completed >= expected,
        "{completed} controlled shutdowns completed"
    );
}

#[test]
fn local_cluster_serves_kafka_clients_and_stops_cleanly() {
    run_local_cluster(&[], vec![101, 102, 103]);
}

#[test]
fn local_cluster_in_combined_mode() {
    run_local_cluster(&["--combined"], vec![1, 2, 3]);
}
