//! `metaquorum local-cluster`: a working quorum on loopback in one command. It writes one
//! configuration per controller, formats each node's storage with one cluster id, starts the
//! controllers as child processes, prints their endpoints and directories, and on Ctrl-C (or
//! SIGTERM) stops them gracefully: SIGTERM, then SIGKILL after a grace period.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use metaquorum_controller::config::LoopbackController;

/// Options of `local-cluster`.
#[derive(Debug, clap::Args)]
pub struct LocalClusterArgs {
    /// Directory for configurations, data and logs (created; default: a fresh temporary one).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Number of controllers.
    #[arg(long, default_value_t = 3)]
    pub controllers: u16,
    /// First controller port; the others follow. 0 picks free ports.
    #[arg(long, default_value_t = 0)]
    pub base_port: u16,
    /// Extra configuration for every node (key=value); repeatable.
    #[arg(long = "override", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
}

/// Seconds a controller gets to stop after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);

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
    let count = usize::from(args.controllers);
    let mut free = metaquorum_controller::config::free_loopback_ports(2 * count)
        .map_err(|e| format!("finding free ports: {e}"))?;
    let metrics_ports = free.split_off(count);
    let ports: Vec<u16> = if args.base_port == 0 {
        free
    } else {
        (0..args.controllers).map(|i| args.base_port + i).collect()
    };
    let ids: Vec<u16> = (1..=args.controllers).collect();
    let voters: Vec<String> = ids
        .iter()
        .zip(&ports)
        .map(|(id, p)| format!("{id}@127.0.0.1:{p}"))
        .collect();
    let cluster_id = output(Command::new(&exe).args(["storage", "random-uuid"]))?;
    let cluster_id = cluster_id.trim().to_string();
    let mut nodes = Vec::new();
    for ((id, port), metrics_port) in ids.iter().zip(&ports).zip(&metrics_ports) {
        let node_dir = dir.join(format!("controller-{id}"));
        let data = node_dir.join("data");
        std::fs::create_dir_all(&node_dir)
            .map_err(|e| format!("creating {}: {e}", node_dir.display()))?;
        let config = node_dir.join("controller.properties");
        let extra: Vec<&str> = args.overrides.iter().map(String::as_str).collect();
        let text = format!(
            "# Written by `metaquorum local-cluster`.\n{}",
            LoopbackController {
                id: i32::from(*id),
                voters: &voters,
                port: *port,
                metrics_port: *metrics_port,
                data_dir: &data,
            }
            .properties(&extra)
        );
        std::fs::write(&config, text).map_err(|e| format!("writing {}: {e}", config.display()))?;
        let formatted = data.join("meta.properties").exists();
        if !formatted {
            output(Command::new(&exe).args([
                "storage",
                "format",
                "-c",
                &config.display().to_string(),
                "-t",
                &cluster_id,
            ]))?;
        }
        nodes.push((*id, *port, *metrics_port, node_dir, config));
    }
    let mut children: Vec<(u16, Child)> = Vec::new();
    for (id, _, _, node_dir, config) in &nodes {
        match start(&exe, node_dir, config) {
            Ok(c) => children.push((*id, c)),
            Err(e) => {
                stop_all(&mut children);
                return Err(e);
            }
        }
    }
    println!("metaquorum local cluster: {} controllers", nodes.len());
    println!("  directory:            {}", dir.display());
    println!(
        "  bootstrap controllers: {}",
        ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",")
    );
    for (id, port, metrics_port, node_dir, _) in &nodes {
        println!(
            "  controller {id}: CONTROLLER://127.0.0.1:{port}  metrics http://127.0.0.1:{metrics_port}/metrics  data {}  log {}",
            node_dir.join("data").display(),
            node_dir.join("controller.log").display()
        );
    }
    println!(
        "Try: metaquorum quorum --bootstrap-controller 127.0.0.1:{} describe --status",
        ports[0]
    );
    println!("Press Ctrl-C to stop.");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let signalled = runtime.block_on(async {
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        let signal = crate::run_cmd::wait_for_signal();
        tokio::pin!(signal);
        loop {
            tokio::select! {
                r = &mut signal => return r,
                _ = tick.tick() => {
                    for (id, child) in children.iter_mut() {
                        if let Ok(Some(status)) = child.try_wait() {
                            eprintln!("controller {id} exited ({status}); see its controller.log");
                        }
                    }
                    children.retain_mut(|(_, c)| matches!(c.try_wait(), Ok(None)));
                    if children.is_empty() {
                        return Err("every controller has exited".to_string());
                    }
                }
            }
        }
    });
    println!("Stopping the controllers...");
    stop_all(&mut children);
    println!("Stopped. Data is kept in {}", dir.display());
    signalled.map(|_| ExitCode::SUCCESS)
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

fn start(exe: &Path, node_dir: &Path, config: &Path) -> Result<Child, String> {
    let log_path = node_dir.join("controller.log");
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

fn stop_all(children: &mut [(u16, Child)]) {
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
                Ok(Some(_)) | Err(_) => break,
                Ok(None) if Instant::now() >= deadline => {
                    eprintln!("controller {id} did not stop within {STOP_GRACE:?}; killing it");
                    let _ = c.kill();
                    let _ = c.wait();
                    break;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }
}
