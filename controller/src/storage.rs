//! Storage formatting and checks, as `kafka-storage` does them: `format` writes `meta.properties`
//! into every log directory plus the bootstrap files of the metadata directory; `info` reports
//! what it finds; [`check_formatted`] is what a node runs before it opens anything.
//!
//! Formatting is all-or-nothing per run: every directory is checked before any is written, and
//! `meta.properties` is written last in each, so a crash leaves a directory unformatted, never
//! half-formatted-but-accepted.

use crate::raft::{Epoch, NodeId, Offset};
use std::io::Write;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use kafka_protocol::messages::k_raft_version_record::KRaftVersionRecord;
use kafka_protocol::messages::voters_record::{Endpoint, KRaftVersionFeature, Voter, VotersRecord};
use kafka_protocol::protocol::StrBytes;
use metaquorum_log::batch::RecordData;
use metaquorum_log::clock::wall_clock_ms;
use metaquorum_log::control::{control_record, ControlRecordType};
use metaquorum_log::kafka_uuid::{parse_kafka_uuid, random_kafka_uuid, to_kafka_string};
use metaquorum_log::{
    MetaProperties, SnapshotId, SnapshotWriter, BATCH_BYTES_MAX_DEFAULT, METADATA_LOG_DIR_NAME,
};
use uuid::Uuid;

use crate::config::Config;
use crate::metadata::record::FeatureLevelRecord;
use crate::metadata::version::{parse_metadata_version, LATEST_PRODUCTION};

/// Name of the bootstrap feature file in the metadata directory.
pub const BOOTSTRAP_CHECKPOINT: &str = "bootstrap.checkpoint";

/// Why formatting or a storage check failed. Messages follow `kafka-storage`'s.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// A caller-facing problem with the request or the directories.
    #[error("{0}")]
    Refused(String),
    /// Reading or writing a file failed.
    #[error(transparent)]
    Log(#[from] metaquorum_log::LogError),
    /// Writing the output failed.
    #[error("writing output: {0}")]
    Output(#[from] std::io::Error),
}

fn refused(msg: impl Into<String>) -> StorageError {
    StorageError::Refused(msg.into())
}

/// One entry of `--initial-controllers`: `id@host:port:directoryId`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitialController {
    /// Node id.
    pub id: NodeId,
    /// Controller listener host.
    pub host: String,
    /// Controller listener port.
    pub port: u16,
    /// Directory id of its metadata directory.
    pub directory_id: Uuid,
}

/// How the initial voter set of a dynamic quorum is given.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum InitialControllers {
    /// No flag given.
    #[default]
    Unspecified,
    /// `--standalone`: this controller is the only initial voter.
    Standalone,
    /// `--initial-controllers`.
    List(Vec<InitialController>),
    /// `--no-initial-controllers`: the node joins later as an observer.
    None,
}

/// Parses `--initial-controllers` (`0@host:port:dirId,1@...`).
pub fn parse_initial_controllers(s: &str) -> Result<Vec<InitialController>, StorageError> {
    let mut out: Vec<InitialController> = Vec::new();
    for item in s.split(',').map(str::trim).filter(|x| !x.is_empty()) {
        let bad = |why: &str| {
            refused(format!("Invalid --initial-controllers entry '{item}': {why} (expected id@host:port:directoryId)"))
        };
        let (id, rest) = item.split_once('@').ok_or_else(|| bad("missing '@'"))?;
        let id: i32 = id.parse().map_err(|_| bad("node id is not an integer"))?;
        let (hostport, dir) = rest
            .rsplit_once(':')
            .ok_or_else(|| bad("missing directory id"))?;
        let (host, port) = hostport
            .rsplit_once(':')
            .ok_or_else(|| bad("missing port"))?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port: u16 = port
            .parse()
            .map_err(|_| bad("port is not a number 0..65535"))?;
        let directory_id = parse_kafka_uuid(dir).map_err(|e| bad(&e.to_string()))?;
        if host.is_empty() || id < 0 {
            return Err(bad("empty host or negative id"));
        }
        if out.iter().any(|c| c.id == NodeId(id)) {
            return Err(bad("duplicate node id"));
        }
        out.push(InitialController {
            id: NodeId(id),
            host,
            port,
            directory_id,
        });
    }
    if out.is_empty() {
        return Err(refused("--initial-controllers is empty"));
    }
    Ok(out)
}

/// Options of `storage format`.
#[derive(Debug, Clone, Default)]
pub struct FormatOptions {
    /// `-t`: the cluster id.
    pub cluster_id: String,
    /// `-r`: metadata.version release (`3.9` or `3.9-IV0`); default 3.9-IV0.
    pub release_version: Option<String>,
    /// `-g`: skip directories that are already formatted.
    pub ignore_formatted: bool,
    /// `--standalone` / `--initial-controllers` / `--no-initial-controllers`.
    pub initial_controllers: InitialControllers,
}

/// Every log directory of a node: `log.dirs` then `metadata.log.dir` if separate.
pub fn all_directories(config: &Config) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = config.log_dirs.clone();
    let meta = config.metadata_log_dir().to_path_buf();
    if !dirs.contains(&meta) {
        dirs.push(meta);
    }
    dirs
}

/// The voters to bootstrap, and the kraft.version they imply.
struct VoterPlan {
    voters: Vec<InitialController>,
    kraft_version: i16,
    description: &'static str,
}

fn plan_voters(
    config: &Config,
    opts: &FormatOptions,
    metadata_dir_id: Uuid,
) -> Result<Option<VoterPlan>, StorageError> {
    let controller = config.process_roles.controller;
    let static_voters = !config.controller_quorum_voters.is_empty();
    match (&opts.initial_controllers, controller, static_voters) {
        (InitialControllers::Standalone | InitialControllers::List(_), false, _) => Err(refused(
            "--standalone and --initial-controllers can only be used when formatting a controller (process.roles contains controller).",
        )),
        (InitialControllers::Standalone | InitialControllers::List(_) | InitialControllers::None, true, true) => Err(refused(
            "You cannot use --standalone, --initial-controllers or --no-initial-controllers when controller.quorum.voters is set: a static quorum takes its voters from the configuration.",
        )),
        (InitialControllers::Unspecified, true, false) => Err(refused(
            "Because controller.quorum.voters is not set on this controller, you must specify one of the following: --standalone, --initial-controllers, or --no-initial-controllers.",
        )),
        (_, false, _) | (InitialControllers::None, true, false) => Ok(None),
        (InitialControllers::Unspecified, true, true) => {
            let voters = config
                .controller_quorum_voters
                .iter()
                .map(|v| InitialController {
                    id: v.id,
                    host: v.host.clone(),
                    port: v.port,
                    directory_id: if v.id == config.node_id { metadata_dir_id } else { Uuid::nil() },
                })
                .collect();
            Ok(Some(VoterPlan {
                voters,
                kraft_version: 0,
                description: "metadata directory",
            }))
        }
        (InitialControllers::Standalone, true, false) => {
            let l = config
                .advertised_controller_listeners()
                .first()
                .map(|l| (*l).clone())
                .ok_or_else(|| refused("--standalone needs a controller listener in listeners"))?;
            let host = if l.host.is_empty() || l.host == "0.0.0.0" || l.host == "::" {
                "localhost".to_string()
            } else {
                l.host.clone()
            };
            Ok(Some(VoterPlan {
                voters: vec![InitialController {
                    id: config.node_id,
                    host,
                    port: l.port,
                    directory_id: metadata_dir_id,
                }],
                kraft_version: 1,
                description: "dynamic metadata voter directory",
            }))
        }
        (InitialControllers::List(list), true, false) => {
            if !list.iter().any(|c| c.id == config.node_id) {
                return Err(refused(format!(
                    "--initial-controllers does not contain this node's id {}; a controller must format with its own entry.",
                    config.node_id
                )));
            }
            Ok(Some(VoterPlan {
                voters: list.clone(),
                kraft_version: 1,
                description: "dynamic metadata voter directory",
            }))
        }
    }
}

/// Formats every directory of the node. Prints one line per directory formatted, as
/// `kafka-storage format` does.
pub fn format(
    config: &Config,
    opts: &FormatOptions,
    out: &mut dyn Write,
) -> Result<(), StorageError> {
    let cluster_uuid = parse_kafka_uuid(&opts.cluster_id).map_err(|e| {
        refused(format!(
            "Cluster ID string {} does not appear to be a valid UUID: {e}",
            opts.cluster_id
        ))
    })?;
    let cluster_id = to_kafka_string(cluster_uuid);
    let (mv_level, mv_name) = match &opts.release_version {
        Some(r) => parse_metadata_version(r).map_err(|e| refused(e.to_string()))?,
        None => LATEST_PRODUCTION,
    };
    let metadata_dir = config.metadata_log_dir().to_path_buf();
    // The metadata directory's id is the one --initial-controllers assigns this node, if any.
    let metadata_dir_id = match &opts.initial_controllers {
        InitialControllers::List(list) => list
            .iter()
            .find(|c| c.id == config.node_id)
            .map(|c| c.directory_id)
            .unwrap_or_else(random_kafka_uuid),
        _ => random_kafka_uuid(),
    };
    let plan = plan_voters(config, opts, metadata_dir_id)?;

    // Check every directory before writing any.
    let mut to_format = Vec::new();
    for dir in all_directories(config) {
        if MetaProperties::read(&dir)?.is_some() {
            if opts.ignore_formatted {
                continue;
            }
            return Err(refused(format!(
                "Log directory {} is already formatted. Use --ignore-formatted to ignore this directory and format the others.",
                dir.display()
            )));
        }
        to_format.push(dir);
    }
    if to_format.is_empty() {
        writeln!(out, "All of the log directories are already formatted.")?;
        return Ok(());
    }
    for dir in to_format {
        std::fs::create_dir_all(&dir)
            .map_err(|e| refused(format!("Unable to create {}: {e}", dir.display())))?;
        let is_metadata = dir == metadata_dir;
        let kind = match (&plan, is_metadata, &opts.initial_controllers) {
            (Some(p), true, _) => p.description,
            (None, true, InitialControllers::None) => "dynamic metadata directory",
            (None, true, _) => "metadata directory",
            (_, false, _) => "data directory",
        };
        writeln!(
            out,
            "Formatting {kind} {} with metadata.version {mv_name}.",
            dir.display()
        )?;
        if is_metadata {
            write_bootstrap_checkpoint(&dir, mv_level)?;
            if let Some(plan) = &plan {
                write_voters_snapshot(&dir.join(METADATA_LOG_DIR_NAME), config, plan)?;
            }
        }
        MetaProperties {
            version: 1,
            cluster_id: cluster_id.clone(),
            node_id: config.node_id,
            directory_id: Some(if is_metadata {
                metadata_dir_id
            } else {
                random_kafka_uuid()
            }),
        }
        .write(&dir)?;
    }
    Ok(())
}

/// `bootstrap.checkpoint`: the finalized features the cluster starts with (metadata.version).
fn write_bootstrap_checkpoint(dir: &Path, metadata_version: i16) -> Result<(), StorageError> {
    let id = SnapshotId {
        end_offset: Offset(0),
        epoch: Epoch(0),
    };
    let mut w = SnapshotWriter::create_named(
        dir,
        BOOTSTRAP_CHECKPOINT,
        id,
        wall_clock_ms(),
        BATCH_BYTES_MAX_DEFAULT,
    )?;
    let record = FeatureLevelRecord {
        name: "metadata.version".into(),
        feature_level: metadata_version,
    };
    w.append_records(&[RecordData {
        key: None,
        value: Some(record.encode()),
    }])?;
    w.finish()?;
    Ok(())
}

/// The bootstrap snapshot `00000000000000000000-0000000000.checkpoint` holding KRaftVersion and
/// Voters control records: the voter set as data (KIP-853).
fn write_voters_snapshot(
    log_dir: &Path,
    config: &Config,
    plan: &VoterPlan,
) -> Result<(), StorageError> {
    std::fs::create_dir_all(log_dir)
        .map_err(|e| refused(format!("Unable to create {}: {e}", log_dir.display())))?;
    let listener = config
        .controller_listener_names
        .first()
        .cloned()
        .unwrap_or_else(|| "CONTROLLER".into());
    let voters = VotersRecord::default().with_version(0).with_voters(
        plan.voters
            .iter()
            .map(|v| {
                Voter::default()
                    .with_voter_id(v.id.into())
                    .with_voter_directory_id(v.directory_id)
                    .with_endpoints(vec![Endpoint::default()
                        .with_name(StrBytes::from_string(listener.clone()))
                        .with_host(StrBytes::from_string(v.host.clone()))
                        .with_port(v.port)])
                    .with_k_raft_version_feature(
                        KRaftVersionFeature::default()
                            .with_min_supported_version(0)
                            .with_max_supported_version(1),
                    )
            })
            .collect(),
    );
    let kraft = KRaftVersionRecord::default()
        .with_version(0)
        .with_k_raft_version(plan.kraft_version);
    let to_log =
        |e: metaquorum_log::batch::BatchError| refused(format!("encoding bootstrap records: {e}"));
    let records = vec![
        control_record(ControlRecordType::KRaftVersion, &kraft, 0).map_err(to_log)?,
        control_record(ControlRecordType::KRaftVoters, &voters, 0).map_err(to_log)?,
    ];
    let id = SnapshotId {
        end_offset: Offset(0),
        epoch: Epoch(0),
    };
    let mut w = SnapshotWriter::create(log_dir, id, wall_clock_ms(), BATCH_BYTES_MAX_DEFAULT)?;
    w.append_control_records(&records)?;
    w.finish()?;
    Ok(())
}

/// What `storage info` found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InfoReport {
    /// Directories examined.
    pub directories: Vec<PathBuf>,
    /// The metadata found (from the first formatted directory).
    pub metadata: Option<MetaProperties>,
    /// Problems, one sentence each.
    pub problems: Vec<String>,
}

impl InfoReport {
    /// Renders the report the way `kafka-storage info` prints it.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let plural = |n: usize, one: &str, many: &str| {
            if n == 1 {
                one.to_string()
            } else {
                many.to_string()
            }
        };
        s.push_str(&format!(
            "{}\n",
            plural(
                self.directories.len(),
                "Found log directory:",
                "Found log directories:"
            )
        ));
        for d in &self.directories {
            s.push_str(&format!("  {}\n", d.display()));
        }
        s.push('\n');
        if let Some(m) = &self.metadata {
            s.push_str(&format!("Found metadata: {}\n\n", m.describe()));
        }
        if !self.problems.is_empty() {
            s.push_str(&format!(
                "{}\n",
                plural(self.problems.len(), "Found problem:", "Found problems:")
            ));
            for p in &self.problems {
                s.push_str(&format!("  {p}\n"));
            }
            s.push('\n');
        }
        s
    }
}

/// Examines every directory of the node (`storage info`).
pub fn info(config: &Config) -> InfoReport {
    let mut report = InfoReport::default();
    let mut found: Vec<(PathBuf, MetaProperties)> = Vec::new();
    for dir in all_directories(config) {
        report.directories.push(dir.clone());
        if !dir.is_dir() {
            report
                .problems
                .push(format!("{} does not exist.", dir.display()));
            continue;
        }
        match MetaProperties::read(&dir) {
            Ok(Some(m)) => found.push((dir, m)),
            Ok(None) => report
                .problems
                .push(format!("{} is not formatted.", dir.display())),
            Err(e) => report.problems.push(format!(
                "{} contains an invalid meta.properties: {e}",
                dir.display()
            )),
        }
    }
    if let Some((_, first)) = found.first() {
        if found.iter().any(|(_, m)| m.cluster_id != first.cluster_id) {
            report
                .problems
                .push("Mismatched cluster IDs between storage directories.".into());
        }
        if found.iter().any(|(_, m)| m.node_id != first.node_id) {
            report
                .problems
                .push("Mismatched node IDs between storage directories.".into());
        }
        if first.node_id != config.node_id {
            report.problems.push(format!(
                "node.id {} in the configuration does not match node.id {} in the storage directories.",
                config.node_id, first.node_id
            ));
        }
        report.metadata = Some(first.clone());
    }
    report
}

/// The identity a node runs with, read from its formatted directories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeIdentity {
    /// The cluster id all directories agree on.
    pub cluster_id: String,
    /// The node id (equal to `node.id`).
    pub node_id: i32,
    /// Directory id of the metadata directory.
    pub metadata_directory_id: Option<Uuid>,
}

/// Refuses to go on unless every directory is formatted, for this node, in one cluster. A node
/// never formats itself: a leader elected with missing committed data would lose it (KIP-631).
pub fn check_formatted(config: &Config) -> Result<NodeIdentity, StorageError> {
    let meta_dir = config.metadata_log_dir().to_path_buf();
    let mut identity: Option<NodeIdentity> = None;
    for dir in all_directories(config) {
        let m = MetaProperties::read(&dir)?.ok_or_else(|| {
            refused(format!(
                "No meta.properties found in {} (have you run `metaquorum storage format` to format the directory?)",
                dir.display()
            ))
        })?;
        if m.node_id != config.node_id {
            return Err(refused(format!(
                "Stored node id {} in {} doesn't match the configured node.id {}",
                m.node_id,
                dir.display(),
                config.node_id
            )));
        }
        match &mut identity {
            Some(id) if id.cluster_id != m.cluster_id => {
                return Err(refused(format!(
                    "Mismatched cluster IDs between storage directories: {} in {} and {} elsewhere",
                    m.cluster_id,
                    dir.display(),
                    id.cluster_id
                )));
            }
            Some(id) => {
                if dir == meta_dir {
                    id.metadata_directory_id = m.directory_id;
                }
            }
            None => {
                identity = Some(NodeIdentity {
                    cluster_id: m.cluster_id.clone(),
                    node_id: m.node_id.into(),
                    metadata_directory_id: if dir == meta_dir {
                        m.directory_id
                    } else {
                        None
                    },
                })
            }
        }
    }
    identity.ok_or_else(|| refused("no log directories are configured"))
}

/// Decodes the metadata.version level from a `bootstrap.checkpoint` file.
pub fn read_bootstrap_metadata_version(dir: &Path) -> Result<i16, StorageError> {
    let reader = metaquorum_log::SnapshotReader::open(
        &dir.join(BOOTSTRAP_CHECKPOINT),
        BATCH_BYTES_MAX_DEFAULT,
    )?;
    reader.verify()?;
    for (_, header, bytes) in reader.batches() {
        if header.is_control() {
            continue;
        }
        let mut buf = Bytes::copy_from_slice(bytes);
        let set = kafka_protocol::records::RecordBatchDecoder::decode(&mut buf)
            .map_err(|e| refused(format!("bootstrap.checkpoint: {e}")))?;
        for r in set.records {
            if let Some(v) = r.value {
                if let Ok(f) = FeatureLevelRecord::decode(v) {
                    if f.name == "metadata.version" {
                        return Ok(f.feature_level);
                    }
                }
            }
        }
    }
    Err(refused(format!(
        "{} holds no metadata.version",
        dir.join(BOOTSTRAP_CHECKPOINT).display()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigSources;

    fn config(dirs: &str, node_id: i32) -> Config {
        let overrides = vec![
            format!("node.id={node_id}"),
            "process.roles=controller".to_string(),
            format!("controller.quorum.voters={node_id}@127.0.0.1:19093"),
            "listeners=CONTROLLER://127.0.0.1:19093".to_string(),
            "controller.listener.names=CONTROLLER".to_string(),
            format!("log.dirs={dirs}"),
        ];
        Config::load(ConfigSources {
            file: None,
            env: Vec::new(),
            overrides: &overrides,
        })
        .expect("valid config")
        .config
    }

    fn format_with(cfg: &Config, cluster_id: &str) {
        let opts = FormatOptions {
            cluster_id: cluster_id.into(),
            ..FormatOptions::default()
        };
        format(cfg, &opts, &mut Vec::new()).expect("format");
    }

    #[test]
    fn a_node_refuses_unformatted_and_mismatched_directories() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        let both = format!("{},{}", a.display(), b.display());
        let err = check_formatted(&config(&both, 1)).unwrap_err().to_string();
        assert!(err.contains("No meta.properties found in"), "{err}");

        let c1 = to_kafka_string(random_kafka_uuid());
        format_with(&config(&both, 1), &c1);
        let id = check_formatted(&config(&both, 1)).unwrap();
        assert_eq!((id.cluster_id.as_str(), id.node_id), (c1.as_str(), 1));
        assert_eq!(
            id.metadata_directory_id,
            MetaProperties::read(&a).unwrap().unwrap().directory_id
        );

        let err = check_formatted(&config(&both, 2)).unwrap_err().to_string();
        assert!(
            err.contains("doesn't match the configured node.id 2"),
            "{err}"
        );

        // b reformatted into another cluster.
        std::fs::remove_file(b.join("meta.properties")).unwrap();
        let c = tmp.path().join("c");
        format_with(
            &config(c.to_str().unwrap(), 1),
            &to_kafka_string(random_kafka_uuid()),
        );
        std::fs::copy(c.join("meta.properties"), b.join("meta.properties")).unwrap();
        let err = check_formatted(&config(&both, 1)).unwrap_err().to_string();
        assert!(err.contains("Mismatched cluster IDs"), "{err}");
    }

    #[test]
    fn format_checks_every_directory_before_writing_any() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        format_with(
            &config(b.to_str().unwrap(), 1),
            &to_kafka_string(random_kafka_uuid()),
        );
        let both = format!("{},{}", a.display(), b.display());
        let opts = FormatOptions {
            cluster_id: to_kafka_string(random_kafka_uuid()),
            ..FormatOptions::default()
        };
        let err = format(&config(&both, 1), &opts, &mut Vec::new())
            .unwrap_err()
            .to_string();
        assert!(err.contains("already formatted"), "{err}");
        assert!(
            !a.join("meta.properties").exists(),
            "nothing written when one directory is refused"
        );
        let mut out = Vec::new();
        let opts = FormatOptions {
            ignore_formatted: true,
            ..opts
        };
        format(&config(&both, 1), &opts, &mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(
            out.contains(&format!("Formatting metadata directory {}", a.display())),
            "{out}"
        );
        assert!(!out.contains(&b.display().to_string()), "{out}");
    }

    #[test]
    fn the_voter_set_is_read_back_from_the_bootstrap_snapshot() {
        let tmp = tempfile::tempdir().unwrap();
        let a = tmp.path().join("a");
        let cfg = config(a.to_str().unwrap(), 1);
        format_with(&cfg, &to_kafka_string(random_kafka_uuid()));
        let voters = read_bootstrap_voters(&a).unwrap();
        assert_eq!(voters.len(), 1);
        assert_eq!(voters[0].id, 1);
        assert_eq!(
            voters[0].endpoints,
            vec!["CONTROLLER://127.0.0.1:19093".to_string()]
        );
        assert_eq!(
            Some(voters[0].directory_id),
            MetaProperties::read(&a).unwrap().unwrap().directory_id
        );
        assert!(read_bootstrap_voters(tmp.path()).is_err());
    }

    #[test]
    fn initial_controllers_parse_and_reject_garbage() {
        let d = to_kafka_string(random_kafka_uuid());
        let list = parse_initial_controllers(&format!("0@[::1]:9093:{d},1@h:9094:{d}")).unwrap();
        assert_eq!(list[0].host, "::1");
        assert_eq!(list[1].port, 9094);
        for bad in [
            "",
            "x@h:1:AAAAAAAAAAAAAAAAAAAAAA",
            "0@h:1",
            "0@h:99999:AAAAAAAAAAAAAAAAAAAAAA",
            "0h:1:x",
        ] {
            assert!(parse_initial_controllers(bad).is_err(), "{bad}");
        }
        let dup = format!("0@h:1:{d},0@h:2:{d}");
        assert!(parse_initial_controllers(&dup)
            .unwrap_err()
            .to_string()
            .contains("duplicate"));
    }
}

/// One voter of the bootstrap voter set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootstrapVoter {
    /// Node id.
    pub id: i32,
    /// Directory id of its metadata directory (nil when formatted with static voters).
    pub directory_id: Uuid,
    /// Controller endpoints as `NAME://host:port`.
    pub endpoints: Vec<String>,
}

/// A voter set as a snapshot holds it.
#[derive(Debug, Clone)]
pub struct SnapshotVoters {
    /// The voters.
    pub voters: Vec<BootstrapVoter>,
    /// The control records that carry them (KRaftVersion, Voters), to copy into later
    /// snapshots.
    pub control_records: Vec<RecordData>,
}

/// The voter set of one snapshot file; `None` if it holds no VotersRecord. Only the control
/// batches at the start of the file are read, each CRC-checked.
fn voters_of_snapshot(path: &Path) -> Result<Option<SnapshotVoters>, StorageError> {
    use kafka_protocol::messages::VotersRecord;
    let reader = metaquorum_log::SnapshotReader::open(path, BATCH_BYTES_MAX_DEFAULT)?;
    let bad = |e: &dyn std::fmt::Display| refused(format!("{}: {e}", path.display()));
    for (_, header, bytes) in reader.batches() {
        if !header.is_control() {
            break;
        }
        let mut buf = Bytes::copy_from_slice(bytes);
        let set =
            kafka_protocol::records::RecordBatchDecoder::decode(&mut buf).map_err(|e| bad(&e))?;
        let mut carried = Vec::new();
        let mut voters = None;
        for r in set.records {
            let (Some(key), Some(value)) = (r.key, r.value) else {
                continue;
            };
            let kind = metaquorum_log::control::control_type_id(&key);
            if kind == Some(ControlRecordType::KRaftVoters as i16) {
                let record: VotersRecord =
                    metaquorum_log::control::decode_control(&value, 0).map_err(|e| bad(&e))?;
                voters = Some(
                    record
                        .voters
                        .into_iter()
                        .map(|v| BootstrapVoter {
                            id: v.voter_id.0,
                            directory_id: v.voter_directory_id,
                            endpoints: v
                                .endpoints
                                .iter()
                                .map(|e| {
                                    format!("{}://{}:{}", e.name.as_str(), e.host.as_str(), e.port)
                                })
                                .collect(),
                        })
                        .collect(),
                );
            }
            if kind == Some(ControlRecordType::KRaftVoters as i16)
                || kind == Some(ControlRecordType::KRaftVersion as i16)
            {
                carried.push(RecordData {
                    key: Some(key),
                    value: Some(value),
                });
            }
        }
        if let Some(voters) = voters {
            return Ok(Some(SnapshotVoters {
                voters,
                control_records: carried,
            }));
        }
    }
    Ok(None)
}

/// The snapshots of a metadata log partition directory, newest first.
fn snapshots_newest_first(partition_dir: &Path) -> Result<Vec<PathBuf>, StorageError> {
    let entries = std::fs::read_dir(partition_dir)
        .map_err(|e| refused(format!("reading {}: {e}", partition_dir.display())))?;
    let mut out: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "checkpoint"))
        .collect();
    // The names are zero-padded end offsets and epochs: their order is the snapshots' order.
    out.sort();
    out.reverse();
    Ok(out)
}

/// The voter set and the control records carrying it, from the newest snapshot of the metadata
/// log partition directory (`__cluster_metadata-0`) that holds a VotersRecord. The bootstrap
/// snapshot `format` wrote holds the first; every snapshot a controller writes carries them
/// forward, so retention may delete the bootstrap snapshot.
pub fn voters_control_records(
    partition_dir: &Path,
) -> Result<Option<SnapshotVoters>, StorageError> {
    for path in snapshots_newest_first(partition_dir)? {
        if let Some(found) = voters_of_snapshot(&path)? {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

/// Reads the voter set of a dynamic quorum (KIP-853) from the metadata log directory: the
/// VotersRecord of the newest snapshot that has one (see [`voters_control_records`]). The
/// consensus core takes its voters from here, so the voter set is data, not configuration.
pub fn read_bootstrap_voters(metadata_dir: &Path) -> Result<Vec<BootstrapVoter>, StorageError> {
    let dir = metadata_dir.join(METADATA_LOG_DIR_NAME);
    match voters_control_records(&dir)? {
        Some(found) => Ok(found.voters),
        None => Err(refused(format!(
            "no snapshot in {} holds a VotersRecord",
            dir.display()
        ))),
    }
}
