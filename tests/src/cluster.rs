//! A cluster of real `metaquorum` processes on loopback for multi-process tests: configuration,
//! formatting, start, SIGKILL, SIGSTOP/SIGCONT, restart, and condition waits with deadlines.
//!
//! The binary is `target/<profile>/metaquorum` beside the test executable (`scripts/test.sh`
//! builds it first), or the path in `METAQUORUM_BIN`. Every child is killed when the cluster is
//! dropped, so a failing test leaves no process behind.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kafka_protocol::messages::describe_quorum_request::{PartitionData, TopicData};
use kafka_protocol::messages::describe_quorum_response::DescribeQuorumResponse;
use kafka_protocol::messages::{DescribeQuorumRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use metaquorum_controller::config::{free_loopback_ports, LoopbackBroker, LoopbackController};
use metaquorum_controller::net::client::KafkaClient;

/// The `metaquorum` binary under test.
pub fn binary() -> PathBuf {
    if let Some(p) = std::env::var_os("METAQUORUM_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> or target/<profile>/<binary> → target/<profile>/metaquorum
    let beside = exe.parent().map(|d| d.join("metaquorum"));
    let bin = match beside {
        Some(b) if b.exists() => b,
        _ => exe
            .parent()
            .and_then(Path::parent)
            .expect("target profile directory")
            .join("metaquorum"),
    };
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p metaquorum-tools` first (scripts/test.sh does)",
        bin.display()
    );
    bin
}

/// Id of the first broker-only node.
pub const FIRST_BROKER_ID: i32 = 101;

/// One node's process (controller, broker, or both).
pub struct Node {
    /// `node.id`.
    pub id: i32,
    /// Its controller listener port (0 for a broker-only node).
    pub port: u16,
    /// Its client (PLAINTEXT) listener port, if it runs the broker role.
    pub broker_port: Option<u16>,
    /// Its `/metrics` port.
    pub metrics_port: u16,
    /// Its directory (configuration, data, output).
    pub dir: PathBuf,
    child: Option<Child>,
    stopped: bool,
}

impl Node {
    /// `127.0.0.1:port`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `127.0.0.1:port` of the client listener, if the node is a broker.
    pub fn broker_addr(&self) -> Option<String> {
        self.broker_port.map(|p| format!("127.0.0.1:{p}"))
    }

    /// The configuration file.
    pub fn config(&self) -> PathBuf {
        self.dir.join("node.properties")
    }

    /// Whether the process is running (not killed, maybe stopped).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }
}

/// A cluster of node processes.
pub struct Cluster {
    /// Keeps the directory alive for the cluster's lifetime.
    _dir: tempfile::TempDir,
    /// The nodes, by position (`id` = position + 1).
    pub nodes: Vec<Node>,
    /// The cluster id.
    pub cluster_id: String,
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run metaquorum");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl Cluster {
    /// Formats and starts `n` controllers with `extra` configuration lines for each.
    pub fn start(n: usize, extra: &[&str]) -> Cluster {
        Self::start_with(n, 0, false, extra)
    }

    /// Formats and starts `controllers` controllers (ids 1..) and `brokers` broker shims (ids
    /// from [`FIRST_BROKER_ID`]); with `combined`, the controllers run the broker role too
    /// (`process.roles=broker,controller`) and `brokers` counts them.
    pub fn start_with(
        controllers: usize,
        brokers: usize,
        combined: bool,
        extra: &[&str],
    ) -> Cluster {
        Self::start_inner(controllers, brokers, combined, extra, false)
    }

    /// Formats and starts `n` controllers as a dynamic quorum (KIP-853): no
    /// `controller.quorum.voters`; every node is formatted with the same
    /// `--initial-controllers`, finds its voters in the bootstrap snapshot, and reaches them
    /// through `controller.quorum.bootstrap.servers`.
    pub fn start_dynamic(n: usize, extra: &[&str]) -> Cluster {
        Self::start_inner(n, 0, false, extra, true)
    }

    fn start_inner(
        controllers: usize,
        brokers: usize,
        combined: bool,
        extra: &[&str],
        dynamic: bool,
    ) -> Cluster {
        let dir = tempfile::tempdir().expect("tempdir");
        let bin = binary();
        let cluster_id = run_ok(Command::new(&bin).args(["storage", "random-uuid"]))
            .trim()
            .to_string();
        let combined_count = if combined { controllers } else { 0 };
        let broker_only = brokers.saturating_sub(combined_count);
        let total = controllers + broker_only;
        let mut ports =
            free_loopback_ports(2 * total + combined_count).expect("free loopback ports");
        let metrics_ports = ports.split_off(total + combined_count);
        let mut broker_ports = ports.split_off(controllers);
        let voters: Vec<String> = ports
            .iter()
            .enumerate()
            .map(|(i, p)| format!("{}@127.0.0.1:{p}", i + 1))
            .collect();
        // A dynamic quorum: each controller's metadata directory id, as --initial-controllers
        // lists them.
        let initial_controllers: Vec<String> = ports
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let dir_id = run_ok(Command::new(&bin).args(["storage", "random-uuid"]));
                format!("{}@127.0.0.1:{p}:{}", i + 1, dir_id.trim())
            })
            .collect();
        let bootstrap_servers: Vec<String> =
            ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let mut nodes = Vec::new();
        for i in 0..total {
            let is_controller = i < controllers;
            let id = if is_controller {
                i as i32 + 1
            } else {
                FIRST_BROKER_ID + (i - controllers) as i32
            };
            let port = if is_controller { ports[i] } else { 0 };
            let broker_port = (!is_controller || combined).then(|| broker_ports.remove(0));
            let metrics_port = metrics_ports[i];
            let node_dir = dir.path().join(format!("node-{id}"));
            std::fs::create_dir_all(&node_dir).expect("node dir");
            let data = node_dir.join("data");
            let text = match broker_port {
                None => LoopbackController {
                    id,
                    voters: &voters,
                    port,
                    metrics_port,
                    data_dir: &data,
                }
                .properties(extra),
                Some(bp) => LoopbackBroker {
                    id,
                    voters: &voters,
                    port: bp,
                    controller_port: is_controller.then_some(port),
                    metrics_port,
                    data_dir: &data,
                }
                .properties(extra),
            };
            let node = Node {
                id,
                port,
                broker_port,
                metrics_port,
                dir: node_dir,
                child: None,
                stopped: false,
            };
            let text = if dynamic {
                let without: Vec<&str> = text
                    .lines()
                    .filter(|l| !l.starts_with("controller.quorum.voters="))
                    .collect();
                format!(
                    "{}\ncontroller.quorum.bootstrap.servers={}\n",
                    without.join("\n"),
                    bootstrap_servers.join(",")
                )
            } else {
                text
            };
            std::fs::write(node.config(), text).expect("write config");
            let config = node.config().display().to_string();
            let mut format = vec!["storage", "format", "-c", &config, "-t", &cluster_id];
            let initial = initial_controllers.join(",");
            if dynamic {
                format.extend(["--initial-controllers", initial.as_str()]);
            }
            run_ok(Command::new(&bin).args(format));
            nodes.push(node);
        }
        let mut cluster = Cluster {
            _dir: dir,
            nodes,
            cluster_id,
        };
        let ids: Vec<i32> = cluster.nodes.iter().map(|n| n.id).collect();
        for id in ids {
            cluster.launch(id);
        }
        cluster
    }

    /// The controller listeners, `host:port` each.
    pub fn controller_addrs(&self) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|n| n.port != 0)
            .map(Node::addr)
            .collect()
    }

    /// The brokers: (id, client listener `host:port`).
    pub fn brokers(&self) -> Vec<(i32, String)> {
        self.nodes
            .iter()
            .filter_map(|n| n.broker_addr().map(|a| (n.id, a)))
            .collect()
    }

    /// Every broker's client listener, comma-separated (Kafka's `bootstrap.servers`).
    pub fn bootstrap(&self) -> String {
        self.brokers()
            .into_iter()
            .map(|(_, a)| a)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The node with this id.
    pub fn node(&mut self, id: i32) -> &mut Node {
        self.nodes
            .iter_mut()
            .find(|n| n.id == id)
            .unwrap_or_else(|| panic!("no node {id}"))
    }

    /// Starts (or restarts) a node's process; its output goes to `output.log` in its directory.
    pub fn launch(&mut self, id: i32) {
        let bin = binary();
        let node = self.node(id);
        assert!(!node.is_running(), "node {id} is already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(node.dir.join("output.log"))
            .expect("output log");
        let err = log.try_clone().expect("clone log");
        let child = Command::new(bin)
            .args(["run", "-c", &node.config().display().to_string()])
            .env("METAQUORUM_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .expect("start metaquorum run");
        node.child = Some(child);
        node.stopped = false;
    }

    fn signal(&mut self, id: i32, sig: i32) {
        let node = self.node(id);
        let pid = node.child.as_ref().expect("node has a process").id() as i32;
        // SAFETY: kill(2) on our own child.
        let r = unsafe { libc::kill(pid, sig) };
        assert_eq!(r, 0, "kill({pid}, {sig})");
    }

    /// SIGKILL, and reap.
    pub fn kill(&mut self, id: i32) {
        self.signal(id, libc::SIGKILL);
        let node = self.node(id);
        if let Some(mut c) = node.child.take() {
            let _ = c.wait();
        }
    }

    /// SIGSTOP: the process freezes, its sockets stay open.
    pub fn pause(&mut self, id: i32) {
        self.signal(id, libc::SIGSTOP);
        self.node(id).stopped = true;
    }

    /// SIGCONT.
    pub fn resume(&mut self, id: i32) {
        self.signal(id, libc::SIGCONT);
        self.node(id).stopped = false;
    }

    /// SIGTERM and wait (bounded) for a clean exit; returns whether it exited successfully (a
    /// process still running at the deadline is killed).
    pub fn terminate(&mut self, id: i32, within: Duration) -> bool {
        self.signal(id, libc::SIGTERM);
        self.wait_exit(id, within).is_some_and(|s| s.success())
    }

    /// Waits (bounded) for the node's process to exit on its own; its exit status, or `None`
    /// if it was still running at the deadline (it is then killed).
    pub fn wait_exit(&mut self, id: i32, within: Duration) -> Option<std::process::ExitStatus> {
        let node = self.node(id);
        let mut child = node.child.take().expect("process");
        let deadline = Instant::now() + within;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Formats a node's directories again, for another cluster id (`storage format
    /// --ignore-formatted` refuses a different id, so the data directory is removed first).
    pub fn reformat(&mut self, id: i32, cluster_id: &str) {
        let bin = binary();
        let node = self.node(id);
        assert!(!node.is_running(), "node {id} is running");
        std::fs::remove_dir_all(node.dir.join("data")).expect("remove the data directory");
        run_ok(Command::new(bin).args([
            "storage",
            "format",
            "-c",
            &node.config().display().to_string(),
            "-t",
            cluster_id,
        ]));
    }

    /// The node's output so far, for failure messages.
    pub fn output(&self, id: i32) -> String {
        self.nodes
            .iter()
            .find(|n| n.id == id)
            .and_then(|n| std::fs::read_to_string(n.dir.join("output.log")).ok())
            .unwrap_or_default()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // A failed test shows what each node said last.
            for n in &self.nodes {
                let out = std::fs::read_to_string(n.dir.join("output.log")).unwrap_or_default();
                let lines: Vec<&str> = out.lines().collect();
                eprintln!("--- node {} output (last 40 lines):", n.id);
                for l in &lines[lines.len().saturating_sub(40)..] {
                    eprintln!("{l}");
                }
            }
        }
        for n in &mut self.nodes {
            if let Some(mut c) = n.child.take() {
                if n.stopped {
                    // SAFETY: kill(2) on our own child.
                    unsafe {
                        libc::kill(c.id() as i32, libc::SIGCONT);
                    }
                }
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}

/// The body of `GET /metrics` from a node, if it answers.
pub fn scrape(metrics_port: u16) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", metrics_port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let (head, body) = out.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then(|| body.to_string())
}

/// A DescribeQuorum request for the metadata partition.
pub fn describe_quorum_request() -> DescribeQuorumRequest {
    DescribeQuorumRequest::default().with_topics(vec![TopicData::default()
        .with_topic_name(TopicName(StrBytes::from_static_str("__cluster_metadata")))
        .with_partitions(vec![PartitionData::default().with_partition_index(0)])])
}

/// What one node says of the quorum: (leader id, epoch, high watermark).
pub async fn quorum_of(addr: &str) -> Option<(i32, i32, i64, DescribeQuorumResponse)> {
    let mut c = KafkaClient::connect(addr, 1_000).await.ok()?;
    let (_, r) = c.send(&describe_quorum_request()).await.ok()?;
    let p = r.topics.first()?.partitions.first()?;
    Some((p.leader_id.0, p.leader_epoch, p.high_watermark, r.clone()))
}

/// Polls `check` every 20 ms until it returns `Some`, or panics with `what` after `within`.
pub async fn wait_for<T, F, Fut>(what: &str, within: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {within:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The (leader, epoch) every listed node names right now, if they all name the same one.
pub async fn agreed_leader(addrs: &[String]) -> Option<(i32, i32)> {
    let mut seen = None;
    for a in addrs {
        let (leader, epoch, _, _) = quorum_of(a).await?;
        if leader < 0 {
            return None;
        }
        match seen {
            None => seen = Some((leader, epoch)),
            Some(s) if s != (leader, epoch) => return None,
            Some(_) => {}
        }
    }
    seen
}

/// Waits until every listed node names the same leader in the same epoch; returns (leader,
/// epoch).
pub async fn wait_for_agreed_leader(addrs: &[String], within: Duration) -> (i32, i32) {
    wait_for("every node to agree on one leader", within, || {
        agreed_leader(addrs)
    })
    .await
}
