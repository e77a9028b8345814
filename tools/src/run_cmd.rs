//! `metaquorum run -c <config>`: runs a node in the roles `process.roles` names, until SIGINT or
//! SIGTERM, then shuts down gracefully (a leader resigns with EndQuorumEpoch first).

use std::path::Path;
use std::process::ExitCode;

use metaquorum_controller::config::Config;
use metaquorum_controller::node::ControllerNode;

/// Runs the node described by the configuration file.
pub fn run(config_path: &Path, overrides: &[String]) -> Result<ExitCode, String> {
    let config = crate::storage_cmd::load_config(config_path, overrides)?;
    if !config.process_roles.is_controller_only() {
        return Err(format!(
            "process.roles={} : only process.roles=controller runs today; the broker role arrives with the broker shim",
            config.process_roles
        ));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("metaquorum-io")
        .build()
        .map_err(|e| format!("starting the async runtime: {e}"))?;
    runtime.block_on(serve(config))
}

async fn serve(config: Config) -> Result<ExitCode, String> {
    let node = ControllerNode::start(&config)
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
    wait_for_signal().await?;
    eprintln!("metaquorum controller {}: shutting down", config.node_id);
    node.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

/// Waits for SIGINT or SIGTERM.
pub async fn wait_for_signal() -> Result<(), String> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
}
