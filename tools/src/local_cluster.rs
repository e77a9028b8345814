//! `metaquorum local-cluster`: a working cluster on loopback in one command: a quorum of
//! controllers plus broker shims (or combined nodes with `--combined`). It writes one
//! configuration per node, formats each node's storage with one cluster id, starts the nodes as
//! child processes, prints their endpoints, directories and the bootstrap servers for Kafka
//! clients, and on Ctrl-C (or SIGTERM) stops them gracefully: brokers first (controlled
//! shutdown), then controllers; SIGKILL after a grace period.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use metaquorum_controller::config::{LoopbackBroker, LoopbackController};

/// Options of `local-cluster`.
#[derive(Debug, clap::Args)]
pub struct LocalClusterArgs {
    /// Directory for configurations, data and logs (created; default: a fresh temporary one).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Number of controllers.
    #[arg(long, default_value_t = 3)]
    pub controllers: u16,
    /// Number of brokers. Broker ids start at 101; with --combined the controllers are
    /// brokers too and only brokers beyond their number are started on their own.
    #[arg(long, default_value_t = 3)]
    pub brokers: u16,
    /// Run the controllers in combined mode (`process.roles=broker,controller`).
    #[arg(long)]
    pub combined: bool,
    /// First controller port; the others follow. 0 picks free ports.
    #[arg(long, default_value_t = 0)]
    pub base_port: u16,
    /// Extra configuration for every node (key=value); repeatable.
    #[arg(long = "override", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
}

/// Time a node gets to stop after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Id of the first broker-only node.
const FIRST_BROKER_ID: u16 = 101;

/// One node to start.
struct NodeSpec {
    id: u16,
    /// "controller", "broker" or "combined".
    role: &'static str,
    controller_port: Option<u16>,
    broker_port: Option<u16>,
    /// The ZooKeeper front's port (controllers).
    zk_port: Option<u16>,
    metrics_port: u16,
    dir: PathBuf,
    config: PathBuf,
}

/// Runs the local cluster until a signal arrives.
pub fn run(args: LocalClusterArgs) -> Result<ExitCode, String> {
    if args.controllers == 0 {
        return Err("--controllers must be at least 1".into());
    }
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("metaquorum-local-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let exe = std::env::current_exe().map_err(|e| format!("locating the binary: {e}"))?;
    let controllers = usize::from(args.controllers);
    let combined = if args.combined { controllers } else { 0 };
    let broker_only = usize::from(args.brokers).saturating_sub(combined);
    let total = controllers + broker_only;
    let mut free =
        metaquorum_controller::config::free_loopback_ports(2 * total + combined + controllers)
            .map_err(|e| format!("finding free ports: {e}"))?;
    let mut zk_ports = free.split_off(2 * total + combined);
    let metrics_ports = free.split_off(controllers + broker_only + combined);
    let mut broker_ports = free.split_off(controllers);
    let ports: Vec<u16> = if args.base_port == 0 {
        free
    } else {
        (0..args.controllers).map(|i| args.base_port + i).collect()
    };
    let voters: Vec<String> = ports
        .iter()
        .enumerate()
        .map(|(i, p)| format!("{}@127.0.0.1:{p}", i + 1))
        .collect();
    let cluster_id = output(Command::new(&exe).args(["storage", "random-uuid"]))?;
    let cluster_id = cluster_id.trim().to_string();
    let extra: Vec<&str> = args.overrides.iter().map(String::as_str).collect();
    let mut nodes = Vec::new();
    let mut metrics = metrics_ports.into_iter();
    for (i, port) in ports.iter().enumerate() {
        let id = i as u16 + 1;
        let broker_port = args.combined.then(|| broker_ports.remove(0));
        nodes.push(NodeSpec {
            id,
            role: if args.combined {
                "combined"
            } else {
                "controller"
            },
            controller_port: Some(*port),
            broker_port,
            zk_port: Some(zk_ports.remove(0)),
            metrics_port: metrics.next().unwrap_or(0),
            dir: dir.join(format!(
                "{}-{id}",
                if args.combined {
                    "combined"
                } else {
                    "controller"
                }
            )),
            config: PathBuf::new(),
        });
    }
    for i in 0..broker_only {
        let id = FIRST_BROKER_ID + i as u16;
        nodes.push(NodeSpec {
            id,
            role: "broker",
            controller_port: None,
            broker_port: Some(broker_ports.remove(0)),
            zk_port: None,
            metrics_port: metrics.next().unwrap_or(0),
            dir: dir.join(format!("broker-{id}")),
            config: PathBuf::new(),
        });
    }
    for node in &mut nodes {
        let data = node.dir.join("data");
        std::fs::create_dir_all(&node.dir)
            .map_err(|e| format!("creating {}: {e}", node.dir.display()))?;
        node.config = node.dir.join(format!("{}.properties", node.role));
        // The ZooKeeper front on every controller, with ZooKeeper's sample tickTime.
        let zk_line = node
            .zk_port
            .map(|p| format!("zookeeper.front.listener=127.0.0.1:{p}"));
        let mut extra = extra.clone();
        if let Some(line) = &zk_line {
            extra.insert(0, line.as_str());
            extra.insert(1, "zookeeper.front.tickTime=2000");
        }
        let text = match node.broker_port {
            None => LoopbackController {
                id: i32::from(node.id),
                voters: &voters,
                port: node.controller_port.unwrap_or(0),
                metrics_port: node.metrics_port,
                data_dir: &data,
            }
            .properties(&extra),
            Some(bp) => LoopbackBroker {
                id: i32::from(node.id),
                voters: &voters,
                port: bp,
                controller_port: node.controller_port,
                metrics_port: node.metrics_port,
                data_dir: &data,
            }
            .properties(&extra),
        };
        let text = format!("# Written by `metaquorum local-cluster`.\n{text}");
        std::fs::write(&node.config, text)
            .map_err(|e| format!("writing {}: {e}", node.config.display()))?;
        if !data.join("meta.properties").exists() {
            output(Command::new(&exe).args([
                "storage",
                "format",
                "-c",
                &node.config.display().to_string(),
                "-t",
                &cluster_id,
            ]))?;
        }
    }
    let mut children: Vec<(String, Child)> = Vec::new();
    for node in &nodes {
        match start(&exe, &node.dir, &node.config, node.role) {
            Ok(c) => children.push((format!("{} {}", node.role, node.id), c)),
            Err(e) => {
                let _ = stop_all(&mut children);
                return Err(e);
            }
        }
    }
    let brokers: Vec<&NodeSpec> = nodes.iter().filter(|n| n.broker_port.is_some()).collect();
    println!(
        "metaquorum local cluster: {} controllers, {} brokers{}",
        controllers,
        brokers.len(),
        if args.combined {
            " (combined mode)"
        } else {
            ""
        }
    );
    println!("  directory:             {}", dir.display());
    println!(
        "  bootstrap controllers: {}",
        ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",")
    );
    let bootstrap = brokers
        .iter()
        .filter_map(|n| n.broker_port.map(|p| format!("127.0.0.1:{p}")))
        .collect::<Vec<_>>()
        .join(",");
    if !bootstrap.is_empty() {
        println!("  bootstrap servers:     {bootstrap}");
    }
    let zk_connect = nodes
        .iter()
        .filter_map(|n| n.zk_port.map(|p| format!("127.0.0.1:{p}")))
        .collect::<Vec<_>>()
        .join(",");
    println!("  zookeeper connect:     {zk_connect}");
    for (n, (_, child)) in nodes.iter().zip(&children) {
        let mut endpoints = Vec::new();
        if let Some(p) = n.controller_port {
            endpoints.push(format!("CONTROLLER://127.0.0.1:{p}"));
        }
        if let Some(p) = n.broker_port {
            endpoints.push(format!("PLAINTEXT://127.0.0.1:{p}"));
        }
        if let Some(p) = n.zk_port {
            endpoints.push(format!("zookeeper 127.0.0.1:{p}"));
        }
        println!(
            "  {} {}: {}  metrics http://127.0.0.1:{}/metrics  data {}  log {}  pid {}",
            n.role,
            n.id,
            endpoints.join(" "),
            n.metrics_port,
            n.dir.join("data").display(),
            n.dir.join(format!("{}.log", n.role)).display(),
            child.id()
        );
    }
    println!(
        "Try: metaquorum quorum --bootstrap-controller 127.0.0.1:{} describe --status",
        ports[0]
    );
    if !bootstrap.is_empty() {
        println!("     kcat -b {bootstrap} -L");
    }
    println!("     zkCli.sh -server {zk_connect}   (or kazoo, Curator: any ZooKeeper client)");
    println!("Press Ctrl-C to stop.");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    // Nodes that did not stop cleanly: exited on their own while running, failed their stop,
    // or had to be killed.
    let mut unclean: Vec<String> = Vec::new();
    let signalled = runtime.block_on(async {
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        let signal = crate::run_cmd::wait_for_signal();
        tokio::pin!(signal);
        loop {
            tokio::select! {
                r = &mut signal => return r,
                _ = tick.tick() => {
                    for (name, child) in children.iter_mut() {
                        if let Ok(Some(status)) = child.try_wait() {
                            eprintln!("{name} exited ({status}); see its log");
                            unclean.push(format!("{name} exited while running ({status})"));
                        }
                    }
                    children.retain_mut(|(_, c)| matches!(c.try_wait(), Ok(None)));
                    if children.is_empty() {
                        return Err("every node has exited".to_string());
                    }
                }
            }
        }
    });
    println!("Stopping the nodes...");
    // Brokers first, so their controlled shutdowns find a controller; combined nodes one at a
    // time for the same reason (the last one finds no quorum and stops without).
    let (mut first, rest): (Vec<_>, Vec<_>) = children
        .into_iter()
        .partition(|(name, _)| name.starts_with("broker"));
    unclean.extend(stop_all(&mut first));
    let (combined, mut controllers): (Vec<_>, Vec<_>) = rest
        .into_iter()
        .partition(|(name, _)| name.starts_with("combined"));
    for node in combined {
        unclean.extend(stop_all(&mut [node]));
    }
    unclean.extend(stop_all(&mut controllers));
    signalled?;
    if unclean.is_empty() {
        println!("Stopped. Data is kept in {}", dir.display());
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "Stopped, but {} node(s) did not stop cleanly (see their logs in {}):",
        unclean.len(),
        dir.display()
    );
    for u in &unclean {
        println!("  {u}");
    }
    Ok(ExitCode::FAILURE)
}

fn output(cmd: &mut Command) -> Result<String, String> {
    let out = cmd.output().map_err(|e| format!("running {cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn start(exe: &Path, node_dir: &Path, config: &Path, role: &str) -> Result<Child, String> {
    let log_path = node_dir.join(format!("{role}.log"));
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| format!("opening {}: {e}", log_path.display()))?;
    let err = log.try_clone().map_err(|e| e.to_string())?;
    let mut cmd = Command::new(exe);
    cmd.args(["run", "-c", &config.display().to_string()])
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err);
    if std::env::var_os("METAQUORUM_LOG").is_none() {
        cmd.env("METAQUORUM_LOG", "info");
    }
    // Own process group, so a terminal's Ctrl-C reaches local-cluster only and the stop is
    // orderly.
    use std::os::unix::process::CommandExt;
    cmd.process_group(0);
    cmd.spawn()
        .map_err(|e| format!("starting {}: {e}", exe.display()))
}

/// SIGTERM to every node, then waits up to [`STOP_GRACE`] for each; returns what did not stop
/// cleanly (a failed exit status, or killed after the grace period).
fn stop_all(children: &mut [(String, Child)]) -> Vec<String> {
    let mut unclean = Vec::new();
    for (_, c) in children.iter() {
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(c.id() as i32, libc::SIGTERM);
        }
    }
    let deadline = Instant::now() + STOP_GRACE;
    for (id, c) in children.iter_mut() {
        loop {
            match c.try_wait() {
                Ok(Some(status)) => {
                    if !status.success() {
                        unclean.push(format!("{id} stopped with {status}"));
                    }
                    break;
                }
                Err(e) => {
                    unclean.push(format!("{id}: cannot tell how it stopped: {e}"));
                    break;
                }
                Ok(None) if Instant::now() >= deadline => {
                    eprintln!("{id} did not stop within {STOP_GRACE:?}; killing it");
                    let _ = c.kill();
                    let _ = c.wait();
                    unclean.push(format!(
                        "{id} did not stop within {STOP_GRACE:?} and was killed"
                    ));
                    break;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }
    unclean
}
