//! `metaquorum storage random-uuid | format | info`, with `kafka-storage`'s options, wording and
//! exit codes (0 success, 1 failure or problems found).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgGroup, Subcommand};
use metaquorum_controller::config::{Config, ConfigSources};
use metaquorum_controller::storage::{self, FormatOptions, InitialControllers};
use metaquorum_log::kafka_uuid::{random_kafka_uuid, to_kafka_string};

/// The `storage` subcommands.
#[derive(Debug, Subcommand)]
pub enum StorageCommand {
    /// Print a new random cluster or directory id.
    RandomUuid,
    /// Format the node's log directories.
    #[command(group(ArgGroup::new("voters").args(["standalone", "initial_controllers", "no_initial_controllers"])))]
    Format {
        /// The node's configuration file.
        #[arg(short = 'c', long = "config")]
        config: PathBuf,
        /// The cluster id (from `random-uuid`).
        #[arg(short = 't', long = "cluster-id")]
        cluster_id: String,
        /// metadata.version to bootstrap, as a release (3.9) or full name (3.9-IV0).
        #[arg(short = 'r', long = "release-version")]
        release_version: Option<String>,
        /// Skip directories that are already formatted instead of failing.
        #[arg(short = 'g', long = "ignore-formatted")]
        ignore_formatted: bool,
        /// Bootstrap a dynamic quorum with this controller as the only voter.
        #[arg(short = 's', long)]
        standalone: bool,
        /// Bootstrap a dynamic quorum with these voters: id@host:port:directoryId,...
        #[arg(short = 'I', long = "initial-controllers")]
        initial_controllers: Option<String>,
        /// Format a controller of a dynamic quorum that joins later as an observer.
        #[arg(short = 'N', long = "no-initial-controllers")]
        no_initial_controllers: bool,
        /// Override a configuration key (key=value); repeatable.
        #[arg(long = "override", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
    },
    /// Report on the node's log directories; exits 1 if there are problems.
    Info {
        /// The node's configuration file.
        #[arg(short = 'c', long = "config")]
        config: PathBuf,
        /// Override a configuration key (key=value); repeatable.
        #[arg(long = "override", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
    },
}

pub fn load_config(path: &std::path::Path, overrides: &[String]) -> Result<Config, String> {
    let loaded = Config::load(ConfigSources {
        file: Some(path),
        env: ConfigSources::process_env(),
        overrides,
    })
    .map_err(|e| e.to_string())?;
    for w in &loaded.warnings {
        eprintln!("WARN {w}");
    }
    Ok(loaded.config)
}

/// Runs one `storage` subcommand.
pub fn run(command: StorageCommand) -> Result<ExitCode, String> {
    match command {
        StorageCommand::RandomUuid => {
            println!("{}", to_kafka_string(random_kafka_uuid()));
            Ok(ExitCode::SUCCESS)
        }
        StorageCommand::Format {
            config,
            cluster_id,
            release_version,
            ignore_formatted,
            standalone,
            initial_controllers,
            no_initial_controllers,
            overrides,
        } => {
            let config = load_config(&config, &overrides)?;
            let initial_controllers =
                match (standalone, initial_controllers, no_initial_controllers) {
                    (true, _, _) => InitialControllers::Standalone,
                    (_, Some(list), _) => InitialControllers::List(
                        storage::parse_initial_controllers(&list).map_err(|e| e.to_string())?,
                    ),
                    (_, _, true) => InitialControllers::None,
                    _ => InitialControllers::Unspecified,
                };
            let opts = FormatOptions {
                cluster_id,
                release_version,
                ignore_formatted,
                initial_controllers,
            };
            let stdout = std::io::stdout();
            storage::format(&config, &opts, &mut stdout.lock()).map_err(|e| e.to_string())?;
            Ok(ExitCode::SUCCESS)
        }
        StorageCommand::Info { config, overrides } => {
            let config = load_config(&config, &overrides)?;
            let report = storage::info(&config);
            print!("{}", report.render());
            Ok(if report.problems.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}
