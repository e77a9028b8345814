//! `metaquorum run -c <config>`: runs a node in the roles `process.roles` names (controller,
//! broker, or both), until SIGINT or SIGTERM, then shuts down gracefully: a broker with a
//! controlled shutdown, a leader by resigning with EndQuorumEpoch.

use std::path::Path;
use std::process::ExitCode;

use metaquorum_broker_shim::BrokerShim;
use metaquorum_controller::config::Config;
use metaquorum_controller::server::ControllerServer;

/// Runs the node described by the configuration file.
pub fn run(config_path: &Path, overrides: &[String]) -> Result<ExitCode, String> {
    let config = crate::storage_cmd::load_config(config_path, overrides)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("metaquorum-io")
        .build()
        .map_err(|e| format!("starting the async runtime: {e}"))?;
    runtime.block_on(async {
        // Listened for before anything starts: a SIGTERM that arrives while the node is still
        // starting stops it cleanly once it has started, instead of killing it mid-way.
        let signals = Signals::new()?;
        let role = config.process_roles;
        eprintln!("metaquorum node {}: starting ({role})", config.node_id);
        if role.broker {
            serve_broker(config, signals).await
        } else {
            serve_controller(config, signals).await
        }
    })
}

async fn serve_controller(config: Config, mut signals: Signals) -> Result<ExitCode, String> {
    let node = ControllerServer::start(&config)
        .await
        .map_err(|e| e.to_string())?;
    for addr in &node.listeners {
        println!(
            "metaquorum controller {} listening on {addr} (metadata in {})",
            config.node_id,
            config.metadata_log_dir().display()
        );
    }
    if let Some(m) = node.metrics {
        println!(
            "metaquorum controller {}: metrics at http://{m}/metrics",
            config.node_id
        );
    }
    signals.recv().await;
    eprintln!("metaquorum controller {}: shutting down", config.node_id);
    node.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

/// A broker (or combined) node: runs until a signal (controlled shutdown) or until its
/// registration fails for good (exit code 5).
async fn serve_broker(config: Config, mut signals: Signals) -> Result<ExitCode, String> {
    let role = if config.process_roles.controller {
        "combined node"
    } else {
        "broker"
    };
    let mut shim = BrokerShim::start(&config)
        .await
        .map_err(|e| e.to_string())?;
    for addr in &shim.controller_listeners {
        println!(
            "metaquorum {role} {}: controller listener on {addr}",
            config.node_id
        );
    }
    for (name, addr) in &shim.listeners {
        println!(
            "metaquorum {role} {}: {name} listener on {addr} (metadata in {})",
            config.node_id,
            config.metadata_log_dir().display()
        );
    }
    if let Some(m) = shim.metrics {
        println!(
            "metaquorum {role} {}: metrics at http://{m}/metrics",
            config.node_id
        );
    }
    tokio::select! {
        _ = signals.recv() => {
            eprintln!("metaquorum {role} {}: controlled shutdown", config.node_id);
            shim.shutdown().await;
            Ok(ExitCode::SUCCESS)
        }
        r = shim.lifecycle_ended() => {
            let why = match r {
                Ok(()) => "the lifecycle ended".to_string(),
                Err(e) => e.to_string(),
            };
            eprintln!("metaquorum {role} {}: {why}; stopping", config.node_id);
            shim.stop().await;
            Ok(ExitCode::from(5))
        }
    }
}

/// SIGINT and SIGTERM, listened for from the moment the value is made: a signal that arrives
/// before [`Signals::recv`] is kept, not lost and not fatal.
pub struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    /// Starts listening (inside a Tokio runtime).
    pub fn new() -> Result<Self, String> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            term: signal(SignalKind::terminate()).map_err(|e| format!("SIGTERM handler: {e}"))?,
            int: signal(SignalKind::interrupt()).map_err(|e| format!("SIGINT handler: {e}"))?,
        })
    }

    /// Waits for the next SIGINT or SIGTERM (returns at once for one already received).
    pub async fn recv(&mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
    }
}

/// Waits for SIGINT or SIGTERM.
pub async fn wait_for_signal() -> Result<(), String> {
    Signals::new()?.recv().await;
    Ok(())
}
