//! Real Kafka clients, as the broker tests drive them: `kcat -L -J` parsed into a
//! [`ClusterView`], and the Python drivers in `tests/python/kafka_clients.py` (kafka-python
//! and confluent-kafka), each run with a deadline. `scripts/test.sh` installs them.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// A partition as kcat reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionView {
    /// Partition index.
    pub partition: i32,
    /// Leader (-1: none).
    pub leader: i32,
    /// Replicas.
    pub replicas: Vec<i32>,
    /// In-sync replicas.
    pub isr: Vec<i32>,
}

/// What `kcat -L` shows: brokers, and topics with their partitions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterView {
    /// Broker ids listed.
    pub brokers: Vec<i32>,
    /// The broker kcat asked.
    pub answered_by: i32,
    /// Topics by name.
    pub topics: std::collections::BTreeMap<String, Vec<PartitionView>>,
}

/// Runs `cmd` with a deadline; `None` if it could not start or ran too long (it is killed).
pub fn run_bounded(cmd: &mut Command, within: Duration) -> Option<Output> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?} ({e}); scripts/test.sh installs it"));
    let deadline = std::time::Instant::now() + within;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return child.wait_with_output().ok(),
            Ok(None) if std::time::Instant::now() >= deadline => {
                let _ = child.kill();
                let out = child.wait_with_output().ok();
                eprintln!("{cmd:?} ran longer than {within:?}; killed: {out:?}");
                return None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(_) => return None,
        }
    }
}

fn ids(v: &serde_json::Value) -> Vec<i32> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.get("id").and_then(|i| i.as_i64()).map(|i| i as i32))
                .collect()
        })
        .unwrap_or_default()
}

/// `kcat -b <bootstrap> -L -J`, parsed; `None` when kcat fails or times out.
pub fn kcat_metadata(bootstrap: &str) -> Option<ClusterView> {
    let out = run_bounded(
        Command::new("kcat").args(["-b", bootstrap, "-L", "-J", "-m", "5"]),
        Duration::from_secs(10),
    )?;
    if !out.status.success() {
        return None;
    }
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    let mut view = ClusterView {
        brokers: ids(json.get("brokers")?),
        answered_by: json
            .get("originating_broker")
            .and_then(|b| b.get("id"))
            .and_then(|i| i.as_i64())
            .unwrap_or(-1) as i32,
        ..ClusterView::default()
    };
    view.brokers.sort_unstable();
    for t in json.get("topics")?.as_array()? {
        let name = t.get("topic")?.as_str()?.to_string();
        let mut parts = Vec::new();
        for p in t.get("partitions")?.as_array()? {
            parts.push(PartitionView {
                partition: p.get("partition")?.as_i64()? as i32,
                leader: p.get("leader")?.as_i64()? as i32,
                replicas: ids(p.get("replicas")?),
                isr: ids(p.get("isrs")?),
            });
        }
        parts.sort_by_key(|p| p.partition);
        view.topics.insert(name, parts);
    }
    Some(view)
}

/// `tests/python/kafka_clients.py`.
pub fn python_driver() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python/kafka_clients.py")
}

/// Runs the Python driver with `args`; panics with its output unless it exits 0 in time.
pub fn run_python(args: &[&str], within: Duration) -> String {
    let mut cmd = Command::new("python3");
    cmd.arg(python_driver()).args(args);
    let out = run_bounded(&mut cmd, within)
        .unwrap_or_else(|| panic!("python3 {args:?} did not finish within {within:?}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "python3 {args:?} failed:\n{text}");
    text
}
