//! The `metaquorum` binary: one command-line entry point for every role and tool, with
//! subcommands in the manner of Kafka's scripts (`kafka-storage`, `kafka-dump-log`,
//! `kafka-topics`, `kafka-acls`, `kafka-configs`).

mod acls_cmd;
mod admin;
mod configs_cmd;
#[cfg(test)]
mod fake_controller;
mod local_cluster;
mod log_cmd;
mod metadata_api;
mod quorum_cmd;
mod run_cmd;
mod storage_cmd;
mod topics_cmd;

/// Requests off the wire may claim absurd array lengths; see `ReservingAllocator`.
#[global_allocator]
static ALLOCATOR: metaquorum_controller::alloc::ReservingAllocator =
    metaquorum_controller::alloc::ReservingAllocator;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// metaquorum: a KRaft-style metadata quorum.
#[derive(Debug, Parser)]
#[command(name = "metaquorum", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a node: the roles in `process.roles`, until SIGINT or SIGTERM.
    Run {
        /// The node's configuration file.
        #[arg(short = 'c', long = "config")]
        config: PathBuf,
        /// Override a configuration key (key=value); repeatable.
        #[arg(long = "override", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
    },
    /// Format and start a quorum of controllers on loopback; Ctrl-C stops it.
    LocalCluster(local_cluster::LocalClusterArgs),
    /// Describe the metadata quorum (like kafka-metadata-quorum).
    Quorum {
        /// A controller to ask, host:port.
        #[arg(long = "bootstrap-controller")]
        bootstrap_controller: String,
        #[command(subcommand)]
        command: quorum_cmd::QuorumCommand,
    },
    /// Create, list, describe and delete topics (like kafka-topics).
    Topics(topics_cmd::TopicsArgs),
    /// Add, list and remove ACLs (like kafka-acls).
    Acls(acls_cmd::AclsArgs),
    /// Describe and alter topic and broker configs (like kafka-configs).
    Configs(configs_cmd::ConfigsArgs),
    /// Format and inspect storage directories (like kafka-storage).
    Storage {
        #[command(subcommand)]
        command: storage_cmd::StorageCommand,
    },
    /// Inspect metadata log files.
    Log {
        #[command(subcommand)]
        command: LogCommand,
    },
}

#[derive(Debug, Subcommand)]
enum LogCommand {
    /// Print every batch of a segment (.log), a snapshot (.checkpoint) or every such file in a
    /// directory, checking each CRC, and every record, metadata records as JSON and control
    /// records decoded (like kafka-dump-log --cluster-metadata-decoder). Exits 1 if any batch is
    /// damaged or any record cannot be decoded.
    Dump {
        /// A file or a directory.
        path: PathBuf,
        /// Largest batch considered plausible when framing.
        #[arg(long, default_value_t = metaquorum_log::BATCH_BYTES_MAX_DEFAULT)]
        batch_bytes_max: usize,
        /// Print only each record's payload, not its offset, timestamp and sizes.
        #[arg(long)]
        skip_record_metadata: bool,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("METAQUORUM_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run { config, overrides } => run_cmd::run(&config, &overrides),
        Command::LocalCluster(args) => local_cluster::run(args),
        Command::Quorum {
            bootstrap_controller,
            command,
        } => quorum_cmd::run(&bootstrap_controller, command),
        Command::Topics(args) => topics_cmd::run(args),
        Command::Acls(args) => acls_cmd::run(args),
        Command::Configs(args) => configs_cmd::run(args),
        Command::Storage { command } => storage_cmd::run(command),
        Command::Log {
            command:
                LogCommand::Dump {
                    path,
                    batch_bytes_max,
                    skip_record_metadata,
                },
        } => log_cmd::dump(&path, batch_bytes_max, skip_record_metadata),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}
