//! The quick start works: `metaquorum local-cluster` (3 controllers and 3 brokers, and again
//! with `--combined`) prints bootstrap servers that kcat can list and a ZooKeeper connect string
//! a ZooKeeper client can write through, and SIGTERM stops every node cleanly.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use metaquorum_tests::cluster::{binary, wait_for};
use metaquorum_tests::kafka_tools::kcat_metadata;
use metaquorum_tests::zk_wire::ZkWire;
use metaquorum_zk::proto::request::{CreateRequest, WatchRequest};
use metaquorum_zk::proto::{Acl, Request, Response};

/// A running `metaquorum local-cluster`, its directory, and the lines it has printed.
struct LocalCluster {
    child: std::process::Child,
    dir: tempfile::TempDir,
    lines: mpsc::Receiver<String>,
    printed: Vec<String>,
}

impl LocalCluster {
    /// Starts it and reads its output up to the bootstrap servers line.
    fn start(extra: &[&str]) -> (LocalCluster, String) {
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
        let mut lc = LocalCluster {
            child,
            dir,
            lines: rx,
            printed: Vec::new(),
        };
        let bootstrap = lc.read_until(|l| {
            l.trim()
                .strip_prefix("bootstrap servers:")
                .map(|b| b.trim().to_string())
        });
        (lc, bootstrap)
    }

    /// Reads printed lines (30 s at most) until `find` picks one.
    fn read_until<T>(&mut self, mut find: impl FnMut(&str) -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("not printed; so far: {:?}", self.printed));
            self.printed.push(line.clone());
            if let Some(t) = find(&line) {
                return t;
            }
        }
    }

    /// SIGTERM, and its exit status (bounded wait).
    fn stop(&mut self) -> std::process::ExitStatus {
        // SAFETY: kill(2) on our own child.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            if let Some(s) = self.child.try_wait().expect("wait") {
                return s;
            }
            assert!(Instant::now() < deadline, "local-cluster did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Everything printed until the process closed its output.
    fn rest_of_output(&mut self) -> String {
        while let Ok(l) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.printed.push(l);
        }
        self.printed.join("\n")
    }
}

/// Waits (30 s at most) until kcat lists exactly `want` through `bootstrap`.
fn wait_for_brokers(bootstrap: &str, want: Vec<i32>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(wait_for(
        "kcat to list every broker of the local cluster",
        Duration::from_secs(30),
        || {
            let v = kcat_metadata(bootstrap);
            let want = want.clone();
            async move { v.filter(|v| v.brokers == want) }
        },
    ));
}

/// Opens a session on whichever node of `connect` takes it (the active controller opens
/// sessions; the others close the connection, and a ZooKeeper client moves on, as this does),
/// then writes and reads a znode. Bounded by 30 s.
fn use_the_zookeeper_front(connect: &str) {
    let hosts: Vec<&str> = connect.split(',').collect();
    assert_eq!(
        hosts.len(),
        3,
        "one ZooKeeper port per controller: {connect}"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut attempt = 0;
    let mut zk = loop {
        let host = hosts[attempt % hosts.len()];
        attempt += 1;
        match ZkWire::connect(host, 10_000) {
            Ok(c) if c.session.session_id != 0 => break c,
            _ if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            other => panic!(
                "no ZooKeeper session from {connect}: {:?}",
                other.map(|c| c.session)
            ),
        }
    };
    let create = Request::Create(CreateRequest {
        path: "/quickstart".into(),
        data: Some(bytes::Bytes::from_static(b"hello")),
        acl: Acl::open_unsafe(),
        flags: 0,
        ttl_ms: None,
    });
    assert_eq!(zk.call(&create).unwrap().err, 0);
    let get = Request::GetData(WatchRequest {
        path: "/quickstart".into(),
        watch: false,
    });
    match zk.call(&get).unwrap().body {
        Some(Response::GetData { data, .. }) => assert_eq!(data.as_deref(), Some(&b"hello"[..])),
        other => panic!("{other:?}"),
    }
}

fn run_local_cluster(extra: &[&str], want_brokers: Vec<i32>) {
    let (mut lc, bootstrap) = LocalCluster::start(extra);
    let connect = lc.read_until(|l| {
        l.trim()
            .strip_prefix("zookeeper connect:")
            .map(|b| b.trim().to_string())
    });
    wait_for_brokers(&bootstrap, want_brokers.clone());
    use_the_zookeeper_front(&connect);
    let status = lc.stop();
    let out = lc.rest_of_output();
    assert!(
        status.success(),
        "local-cluster exited with {status}:\n{out}"
    );
    assert!(out.contains("Stopped. Data is kept in"), "{out}");
    let dir = &lc.dir;
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

// A node that dies while the cluster runs (here SIGKILL) is reported when local-cluster stops,
// which then exits non-zero: an operator never reads "Stopped" over a node that crashed.
#[test]
fn a_node_that_died_is_reported_and_local_cluster_exits_non_zero() {
    let (mut lc, bootstrap) = LocalCluster::start(&[]);
    let pid: i32 = lc.read_until(|l| {
        let l = l.trim();
        l.starts_with("broker 102:")
            .then(|| l.rsplit("pid ").next()?.trim().parse().ok())
            .flatten()
    });
    // Up and serving first: a node signalled in the middle of its start-up dies of it, which
    // would be reported too.
    wait_for_brokers(&bootstrap, vec![101, 102, 103]);
    // SAFETY: kill(2) on a grandchild we were told the pid of.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    let status = lc.stop();
    let out = lc.rest_of_output();
    assert_eq!(status.code(), Some(1), "{out}");
    assert!(out.contains("1 node(s) did not stop cleanly"), "{out}");
    assert!(out.contains("broker 102"), "{out}");
    assert!(!out.contains("Stopped. Data is kept in"), "{out}");
}
