//! Node configuration: a Kafka-style `.properties` file, `METAQUORUM_*` environment variables and
//! `--override key=value` arguments, mapped into one typed, validated [`Config`].
//!
//! This module owns the key table ([`Config::known_keys`]): every key's Kafka name, default and
//! meaning. The parser reads keys only through that table, and a test checks
//! `docs/configuration.md` against it, so the key names exist once. Values come from, in increasing
//! priority, the file, the environment and `--override` arguments. A bad value or a broken
//! cross-key rule (those of Kafka's `KafkaConfig.validateValues`) is a [`ConfigError`]; an unknown
//! key is a warning returned in [`Loaded`]. Nothing here panics on any input, and nothing here logs:
//! the caller logs the warnings.

use crate::raft::NodeId;
use std::collections::BTreeMap;
use std::fmt;
use std::num::IntErrorKind;
use std::path::{Path, PathBuf};

mod env;
mod error;
mod keys;
mod loopback;
#[cfg(test)]
mod tests;
mod values;

pub use env::{env_key_to_property, parse_override, ENV_PREFIX, NON_CONFIG_ENV_VARS};
pub use error::ConfigError;
pub use keys::{KeySpec, METADATA_LOG_SEGMENT_MIN_BYTES_FLOOR};
pub use loopback::{free_loopback_ports, LoopbackBroker, LoopbackController};
pub use values::{AddressError, HostPort, Listener, ProcessRoles, QuorumVoter, SecurityProtocol};

use error::{inconsistent, invalid};
use keys::*;
use values::*;

/// A node's validated configuration. Field names are the keys with dots replaced by underscores;
/// durations are in milliseconds, sizes in bytes. See [`Config::known_keys`] for each key's
/// meaning and default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// `node.id`: this node's id, >= 0.
    pub node_id: NodeId,
    /// `process.roles`.
    pub process_roles: ProcessRoles,
    /// `controller.quorum.voters`: static voters with unique ids; may be empty.
    pub controller_quorum_voters: Vec<QuorumVoter>,
    /// `controller.quorum.bootstrap.servers`; may be empty.
    /// Invariant: this or `controller_quorum_voters` is non-empty.
    pub controller_quorum_bootstrap_servers: Vec<HostPort>,
    /// `listeners`, with unique names.
    pub listeners: Vec<Listener>,
    /// `advertised.listeners`; a copy of `listeners` when the key is not set.
    pub advertised_listeners: Vec<Listener>,
    /// `controller.listener.names`: upper-case, unique, non-empty.
    pub controller_listener_names: Vec<String>,
    /// `listener.security.protocol.map`, upper-case names, including Kafka's implicit
    /// `PLAINTEXT` entries for controller listeners.
    pub listener_security_protocol_map: BTreeMap<String, SecurityProtocol>,
    /// `log.dirs`, or `log.dir` when it is not set. Invariant: non-empty, no duplicates.
    pub log_dirs: Vec<PathBuf>,
    /// `metadata.log.dir` as set; use [`Config::metadata_log_dir()`] for the effective one.
    pub metadata_log_dir: Option<PathBuf>,
    /// `metadata.log.segment.bytes`. Invariant: in `metadata_log_segment_min_bytes..=i32::MAX`.
    pub metadata_log_segment_bytes: u64,
    /// `metadata.log.segment.min.bytes` (internal). Invariant: >= 1024.
    pub metadata_log_segment_min_bytes: u64,
    /// `metadata.log.segment.ms`, >= 1.
    pub metadata_log_segment_ms: u64,
    /// `metadata.max.retention.bytes`; -1 means unlimited. Invariant: >= -1.
    pub metadata_max_retention_bytes: i64,
    /// `metadata.max.retention.ms`; -1 means unlimited. Invariant: >= -1.
    pub metadata_max_retention_ms: i64,
    /// `metadata.log.max.record.bytes.between.snapshots`, >= 1.
    pub metadata_log_max_record_bytes_between_snapshots: u64,
    /// `metadata.log.max.snapshot.interval.ms`; 0 disables the time trigger.
    pub metadata_log_max_snapshot_interval_ms: u64,
    /// `metadata.max.idle.interval.ms`; 0 disables the idle `NoOpRecord`.
    pub metadata_max_idle_interval_ms: u64,
    /// `metrics.prometheus.listener`: where `/metrics` is served (`host:port`), if anywhere.
    pub metrics_prometheus_listener: Option<std::net::SocketAddr>,
    /// `controller.quorum.election.timeout.ms`, >= 1.
    pub controller_quorum_election_timeout_ms: u64,
    /// `controller.quorum.fetch.timeout.ms`, >= 1.
    pub controller_quorum_fetch_timeout_ms: u64,
    /// `controller.quorum.election.backoff.max.ms`.
    pub controller_quorum_election_backoff_max_ms: u64,
    /// `controller.quorum.append.linger.ms`.
    pub controller_quorum_append_linger_ms: u64,
    /// `controller.quorum.request.timeout.ms`, >= 1.
    pub controller_quorum_request_timeout_ms: u64,
    /// `controller.quorum.retry.backoff.ms`.
    pub controller_quorum_retry_backoff_ms: u64,
    /// `broker.heartbeat.interval.ms`. Invariant: 1 <= this < `broker_session_timeout_ms`.
    pub broker_heartbeat_interval_ms: u64,
    /// `broker.session.timeout.ms`, >= 1.
    pub broker_session_timeout_ms: u64,
    /// `initial.broker.registration.timeout.ms`, >= 1.
    pub initial_broker_registration_timeout_ms: u64,
    /// `broker.rack` (`None` when empty).
    pub broker_rack: Option<String>,
    /// `auto.leader.rebalance.enable`.
    pub auto_leader_rebalance_enable: bool,
    /// `leader.imbalance.check.interval.seconds`, >= 1.
    pub leader_imbalance_check_interval_seconds: u64,
    /// The ZooKeeper front (`zookeeper.front.*`), if `zookeeper.front.listener` is set.
    pub zookeeper_front: Option<ZkFrontConfig>,
}

/// The ZooKeeper front's keys (`zookeeper.front.*`, ZooKeeper's names after the prefix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZkFrontConfig {
    /// `zookeeper.front.listener`.
    pub listener: std::net::SocketAddr,
    /// `tickTime` and the session timeout bounds it implies (defaults applied).
    pub limits: metaquorum_zk::handshake::SessionLimits,
    /// `maxClientCnxns`; 0 for no limit.
    pub max_client_cnxns: u64,
    /// `jute.maxbuffer`, >= 1024.
    pub jute_maxbuffer: u64,
    /// `4lw.commands.whitelist`, split.
    pub four_letter_words: Vec<String>,
    /// `superDigest`, if set.
    pub super_digest: Option<String>,
    /// `extendedTypesEnabled`.
    pub extended_types: bool,
    /// `znode.container.checkIntervalMs`; 0 never.
    pub container_check_interval_ms: u64,
    /// `znode.container.maxPerMinute`, >= 1.
    pub container_max_per_minute: u64,
}

/// Where configuration values come from, in increasing priority: `file`, `env`, `overrides`.
#[derive(Clone, Debug, Default)]
pub struct ConfigSources<'a> {
    /// The properties file, if any.
    pub file: Option<&'a Path>,
    /// Environment variables; only `METAQUORUM_*` ones are used (see [`env_key_to_property`]).
    pub env: Vec<(String, String)>,
    /// `--override` arguments, each `key=value`; a later one wins.
    pub overrides: &'a [String],
}

impl ConfigSources<'_> {
    /// This process's `METAQUORUM_*` variables, for [`ConfigSources::env`]. A name or value that
    /// is not valid Unicode is converted lossily (and is then reported as unknown or invalid).
    pub fn process_env() -> Vec<(String, String)> {
        std::env::vars_os()
            .map(|(k, v)| {
                (
                    k.to_string_lossy().into_owned(),
                    v.to_string_lossy().into_owned(),
                )
            })
            .filter(|(k, _)| k.starts_with(ENV_PREFIX))
            .collect()
    }
}

/// A loaded configuration and the warnings met on the way.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The validated configuration.
    pub config: Config,
    /// Human-readable warnings, e.g. unknown keys naming where they came from. The caller logs
    /// them.
    pub warnings: Vec<String>,
}

/// Where a raw value came from, for warnings.
#[derive(Clone, Debug)]
enum Source {
    File(PathBuf),
    Env(String),
    Override,
    Properties,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::File(path) => write!(f, "file {}", path.display()),
            Source::Env(var) => write!(f, "environment {var}"),
            Source::Override => f.write_str("--override"),
            Source::Properties => f.write_str("properties"),
        }
    }
}

/// Raw key/value pairs from all sources, the highest-priority value per key.
struct Props {
    values: BTreeMap<String, (String, Source)>,
}

impl Props {
    /// The value set for `spec`, trimmed (Kafka trims every value), if it was set.
    fn get(&self, spec: &KeySpec) -> Option<&str> {
        debug_assert!(
            KNOWN_KEYS.iter().any(|k| k.name == spec.name),
            "{} is read but missing from KNOWN_KEYS",
            spec.name
        );
        self.values.get(spec.name).map(|(v, _)| v.trim())
    }

    /// The value set for `spec`, else its default, else a missing-key error.
    fn value(&self, spec: &KeySpec) -> Result<&str, ConfigError> {
        match self.get(spec) {
            Some(v) => Ok(v),
            None => spec.default.ok_or(ConfigError::Missing { key: spec.name }),
        }
    }
}

/// Kafka's `INT` keys stop at `i32::MAX`.
const INT_MAX: i64 = i32::MAX as i64;

/// Parses an integer in `min..=max`.
fn parse_int(spec: &KeySpec, value: &str, min: i64, max: i64) -> Result<i64, ConfigError> {
    match value.parse::<i64>() {
        Ok(n) if n > max => Err(invalid(
            spec,
            value,
            format!("expected an integer <= {max}"),
        )),
        Ok(n) if n >= min => Ok(n),
        Err(e) if *e.kind() == IntErrorKind::PosOverflow => Err(invalid(
            spec,
            value,
            format!("expected an integer <= {max}"),
        )),
        _ => Err(invalid(
            spec,
            value,
            format!("expected an integer >= {min}"),
        )),
    }
}

/// A Kafka `INT` key as u64, in `min..=i32::MAX`; `min` >= 0.
fn int_key(props: &Props, spec: &KeySpec, min: i64) -> Result<u64, ConfigError> {
    debug_assert!(min >= 0);
    let n = parse_int(spec, props.value(spec)?, min, INT_MAX)?;
    Ok(n.unsigned_abs())
}

/// A Kafka `LONG` key as u64, in `min..=i64::MAX`; `min` >= 0.
fn long_key(props: &Props, spec: &KeySpec, min: i64) -> Result<u64, ConfigError> {
    debug_assert!(min >= 0);
    let n = parse_int(spec, props.value(spec)?, min, i64::MAX)?;
    Ok(n.unsigned_abs())
}

/// An optional `ip:port` (empty = unset).
fn socket_addr_key(
    props: &Props,
    spec: &KeySpec,
) -> Result<Option<std::net::SocketAddr>, ConfigError> {
    let value = props.value(spec)?.trim();
    if value.is_empty() {
        return Ok(None);
    }
    value.parse().map(Some).map_err(|_| {
        invalid(
            spec,
            value,
            "expected ip:port, e.g. 127.0.0.1:9404, or empty",
        )
    })
}

/// The `zookeeper.front.*` keys; `None` without a listener. Every key is checked either way,
/// so a mistake shows when the listener is turned off too.
fn parse_zk_front(props: &Props) -> Result<Option<ZkFrontConfig>, ConfigError> {
    let listener = socket_addr_key(props, &ZK_FRONT_LISTENER)?;
    let tick = int_key(props, &ZK_FRONT_TICK_TIME, 1)?;
    let tick = i32::try_from(tick).unwrap_or(i32::MAX);
    let mut limits = metaquorum_zk::handshake::SessionLimits::from_tick(tick);
    let bound = |spec: &KeySpec| -> Result<Option<i32>, ConfigError> {
        let n = parse_int(spec, props.value(spec)?, -1, INT_MAX)?;
        Ok((n >= 0).then(|| i32::try_from(n).unwrap_or(i32::MAX)))
    };
    if let Some(min) = bound(&ZK_FRONT_MIN_SESSION_TIMEOUT)? {
        limits.min_session_timeout_ms = min;
    }
    if let Some(max) = bound(&ZK_FRONT_MAX_SESSION_TIMEOUT)? {
        limits.max_session_timeout_ms = max;
    }
    if limits.max_session_timeout_ms < limits.min_session_timeout_ms {
        return Err(invalid(
            &ZK_FRONT_MAX_SESSION_TIMEOUT,
            &limits.max_session_timeout_ms.to_string(),
            format!(
                "expected at least the minimum session timeout, {} ms",
                limits.min_session_timeout_ms
            ),
        ));
    }
    let whitelist = props.value(&ZK_FRONT_4LW_WHITELIST)?;
    let four_letter_words: Vec<String> = whitelist
        .split(',')
        .map(|w| w.trim().to_string())
        .filter(|w| !w.is_empty())
        .collect();
    let known = metaquorum_zk::proto::frame::FOUR_LETTER_WORDS;
    if let Some(bad) = four_letter_words
        .iter()
        .find(|w| *w != "*" && !known.contains(&w.as_str()))
    {
        return Err(invalid(
            &ZK_FRONT_4LW_WHITELIST,
            whitelist,
            format!("{bad} is not a four-letter word; expected some of {known:?} or *"),
        ));
    }
    let super_digest = props.value(&ZK_FRONT_SUPER_DIGEST)?.trim();
    if !super_digest.is_empty() && !super_digest.contains(':') {
        return Err(invalid(
            &ZK_FRONT_SUPER_DIGEST,
            super_digest,
            "expected user:base64(sha1(user:password))",
        ));
    }
    let config = ZkFrontConfig {
        listener: listener.unwrap_or_else(|| ([127, 0, 0, 1], 0).into()),
        limits,
        max_client_cnxns: int_key(props, &ZK_FRONT_MAX_CLIENT_CNXNS, 0)?,
        jute_maxbuffer: int_key(props, &ZK_FRONT_JUTE_MAXBUFFER, 1024)?,
        four_letter_words,
        super_digest: (!super_digest.is_empty()).then(|| super_digest.to_string()),
        extended_types: bool_key(props, &ZK_FRONT_EXTENDED_TYPES)?,
        container_check_interval_ms: long_key(props, &ZK_FRONT_CONTAINER_CHECK_INTERVAL_MS, 0)?,
        container_max_per_minute: int_key(props, &ZK_FRONT_CONTAINER_MAX_PER_MINUTE, 1)?,
    };
    Ok(listener.map(|_| config))
}

/// A retention limit: -1 (unlimited) or >= 0.
fn bool_key(props: &Props, spec: &KeySpec) -> Result<bool, ConfigError> {
    let value = props.value(spec)?;
    match value.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(invalid(spec, value, "expected true or false")),
    }
}

fn retention_key(props: &Props, spec: &KeySpec) -> Result<i64, ConfigError> {
    let value = props.value(spec)?;
    parse_int(spec, value, -1, i64::MAX)
        .map_err(|_| invalid(spec, value, "expected -1 (unlimited) or an integer >= 0"))
}

fn parse_log_dirs(props: &Props) -> Result<Vec<PathBuf>, ConfigError> {
    let (spec, value) = match props.get(&LOG_DIRS) {
        Some(value) => (&LOG_DIRS, value),
        None => (&LOG_DIR, props.value(&LOG_DIR)?),
    };
    let mut dirs: Vec<PathBuf> = Vec::new();
    for item in list_items(value) {
        let dir = PathBuf::from(item);
        if dirs.contains(&dir) {
            return Err(invalid(
                spec,
                value,
                format!("log directory '{item}' appears more than once"),
            ));
        }
        dirs.push(dir);
    }
    if dirs.is_empty() {
        return Err(invalid(
            spec,
            value,
            "at least one log directory must be defined via log.dirs or log.dir",
        ));
    }
    Ok(dirs)
}

impl Config {
    /// Every configuration key with its default and meaning: the one table that the parser and
    /// `docs/configuration.md` both follow.
    pub fn known_keys() -> &'static [KeySpec] {
        KNOWN_KEYS
    }

    /// Reads the file (if any), applies the environment and the overrides on top, and maps and
    /// validates the result as [`Config::from_properties`] does. The file is read as ISO-8859-1,
    /// like Java's `Properties.load(InputStream)`; other characters need `\uXXXX` escapes.
    pub fn load(src: ConfigSources<'_>) -> Result<Loaded, ConfigError> {
        let mut values = BTreeMap::new();
        if let Some(path) = src.file {
            let bytes = std::fs::read(path).map_err(|source| ConfigError::ReadFile {
                path: path.to_path_buf(),
                source,
            })?;
            java_properties::PropertiesIter::new(bytes.as_slice())
                .read_into(|k, v| {
                    values.insert(k, (v, Source::File(path.to_path_buf())));
                })
                .map_err(|source| ConfigError::ParseFile {
                    path: path.to_path_buf(),
                    source,
                })?;
        }
        for (name, value) in src.env {
            if let Some(key) = env_key_to_property(&name) {
                values.insert(key, (value, Source::Env(name)));
            }
        }
        for arg in src.overrides {
            let (key, value) = parse_override(arg)?;
            values.insert(key, (value, Source::Override));
        }
        Self::from_props(Props { values })
    }

    /// Maps raw key/value pairs into a [`Config`] and checks Kafka's rules. Unknown keys become
    /// warnings; the first bad value or broken rule is the error.
    pub fn from_properties(props: BTreeMap<String, String>) -> Result<Loaded, ConfigError> {
        let values = props
            .into_iter()
            .map(|(k, v)| (k, (v, Source::Properties)))
            .collect();
        Self::from_props(Props { values })
    }

    /// The directory of the metadata log: `metadata.log.dir`, else the first of `log.dirs`.
    pub fn metadata_log_dir(&self) -> &Path {
        match (&self.metadata_log_dir, self.log_dirs.first()) {
            (Some(dir), _) | (None, Some(dir)) => dir,
            // Not reachable for a parsed config: `log_dirs` is non-empty.
            (None, None) => Path::new(""),
        }
    }

    /// The listeners named in `controller.listener.names`, in that order.
    pub fn controller_listeners(&self) -> Vec<&Listener> {
        self.controller_listener_names
            .iter()
            .filter_map(|name| self.listeners.iter().find(|l| &l.name == name))
            .collect()
    }

    /// The advertised listeners that serve brokers' clients: `advertised_listeners` without the
    /// controller listeners.
    pub fn advertised_broker_listeners(&self) -> Vec<&Listener> {
        self.advertised_listeners
            .iter()
            .filter(|l| !self.controller_listener_names.contains(&l.name))
            .collect()
    }

    /// For each controller listener name, its advertised address, falling back to its entry in
    /// `listeners` (whose host may then be empty or a wildcard), as Kafka 3.9 does.
    pub fn advertised_controller_listeners(&self) -> Vec<&Listener> {
        self.controller_listener_names
            .iter()
            .filter_map(|name| {
                let advertised = self.advertised_listeners.iter().find(|l| &l.name == name);
                advertised.or_else(|| self.listeners.iter().find(|l| &l.name == name))
            })
            .collect()
    }

    fn from_props(props: Props) -> Result<Loaded, ConfigError> {
        let mut warnings: Vec<String> = props
            .values
            .iter()
            .filter(|(key, _)| !KNOWN_KEYS.iter().any(|k| k.name == key.as_str()))
            .map(|(key, (_, source))| {
                format!("Unknown configuration '{key}' (from {source}) was ignored")
            })
            .collect();

        let node_id = int_key(&props, &NODE_ID, 0)?;
        let process_roles = parse_process_roles(props.value(&PROCESS_ROLES)?)?;
        let controller_quorum_voters = parse_voters(props.value(&QUORUM_VOTERS)?)?;
        let controller_quorum_bootstrap_servers =
            parse_bootstrap_servers(props.value(&QUORUM_BOOTSTRAP_SERVERS)?)?;

        let listeners = parse_endpoints(&LISTENERS, props.value(&LISTENERS)?)?;
        let advertised = match props.get(&ADVERTISED_LISTENERS) {
            Some(value) => Some(parse_endpoints(&ADVERTISED_LISTENERS, value)?),
            None => None,
        };
        let controller_listener_names =
            parse_controller_listener_names(props.value(&CONTROLLER_LISTENER_NAMES)?)?;
        let mut protocol_map = parse_protocol_map(props.value(&LISTENER_SECURITY_PROTOCOL_MAP)?)?;
        // Kafka's `effectiveListenerSecurityProtocolMap`: with the map left at its default and no
        // SSL or SASL listener in sight, controller listeners default to PLAINTEXT.
        let is_secure = |name: &str| matches!(name, "SSL" | "SASL_PLAINTEXT" | "SASL_SSL");
        if props.get(&LISTENER_SECURITY_PROTOCOL_MAP).is_none()
            && !controller_listener_names.iter().any(|n| is_secure(n))
            && !listeners.iter().any(|l| is_secure(&l.name))
        {
            for name in &controller_listener_names {
                protocol_map
                    .entry(name.clone())
                    .or_insert(SecurityProtocol::Plaintext);
            }
        }
        if let Some(name) = controller_listener_names
            .iter()
            .find(|n| !protocol_map.contains_key(*n))
        {
            return Err(ConfigError::UnmappedListener {
                listener: name.clone(),
                key: CONTROLLER_LISTENER_NAMES.name,
            });
        }
        let listeners = resolve_listeners(&LISTENERS, listeners, &protocol_map)?;
        let advertised_explicit = advertised.is_some();
        let advertised_listeners = match advertised {
            Some(endpoints) => resolve_listeners(&ADVERTISED_LISTENERS, endpoints, &protocol_map)?,
            None => listeners.clone(),
        };

        let log_dirs = parse_log_dirs(&props)?;
        let metadata_log_dir = match props.get(&METADATA_LOG_DIR) {
            Some("") => return Err(invalid(&METADATA_LOG_DIR, "", "expected a directory path")),
            Some(dir) => Some(PathBuf::from(dir)),
            None => None,
        };

        let min_segment = i64::try_from(METADATA_LOG_SEGMENT_MIN_BYTES_FLOOR).unwrap_or(INT_MAX);
        let config = Config {
            node_id: NodeId(i32::try_from(node_id).unwrap_or(i32::MAX)),
            process_roles,
            controller_quorum_voters,
            controller_quorum_bootstrap_servers,
            listeners,
            advertised_listeners,
            controller_listener_names,
            listener_security_protocol_map: protocol_map,
            log_dirs,
            metadata_log_dir,
            metadata_log_segment_bytes: int_key(&props, &METADATA_LOG_SEGMENT_BYTES, 1)?,
            metadata_log_segment_min_bytes: int_key(
                &props,
                &METADATA_LOG_SEGMENT_MIN_BYTES,
                min_segment,
            )?,
            metadata_log_segment_ms: long_key(&props, &METADATA_LOG_SEGMENT_MS, 1)?,
            metadata_max_retention_bytes: retention_key(&props, &METADATA_MAX_RETENTION_BYTES)?,
            metadata_max_retention_ms: retention_key(&props, &METADATA_MAX_RETENTION_MS)?,
            metadata_log_max_record_bytes_between_snapshots: long_key(
                &props,
                &METADATA_LOG_MAX_RECORD_BYTES_BETWEEN_SNAPSHOTS,
                1,
            )?,
            metadata_log_max_snapshot_interval_ms: long_key(
                &props,
                &METADATA_LOG_MAX_SNAPSHOT_INTERVAL_MS,
                0,
            )?,
            metadata_max_idle_interval_ms: int_key(&props, &METADATA_MAX_IDLE_INTERVAL_MS, 0)?,
            metrics_prometheus_listener: socket_addr_key(&props, &METRICS_PROMETHEUS_LISTENER)?,
            controller_quorum_election_timeout_ms: int_key(&props, &QUORUM_ELECTION_TIMEOUT_MS, 1)?,
            controller_quorum_fetch_timeout_ms: int_key(&props, &QUORUM_FETCH_TIMEOUT_MS, 1)?,
            controller_quorum_election_backoff_max_ms: int_key(
                &props,
                &QUORUM_ELECTION_BACKOFF_MAX_MS,
                0,
            )?,
            controller_quorum_append_linger_ms: int_key(&props, &QUORUM_APPEND_LINGER_MS, 0)?,
            controller_quorum_request_timeout_ms: int_key(&props, &QUORUM_REQUEST_TIMEOUT_MS, 1)?,
            controller_quorum_retry_backoff_ms: int_key(&props, &QUORUM_RETRY_BACKOFF_MS, 0)?,
            broker_heartbeat_interval_ms: int_key(&props, &BROKER_HEARTBEAT_INTERVAL_MS, 1)?,
            broker_session_timeout_ms: int_key(&props, &BROKER_SESSION_TIMEOUT_MS, 1)?,
            initial_broker_registration_timeout_ms: int_key(
                &props,
                &INITIAL_BROKER_REGISTRATION_TIMEOUT_MS,
                1,
            )?,
            broker_rack: props
                .get(&BROKER_RACK)
                .filter(|r| !r.is_empty())
                .map(str::to_string),
            auto_leader_rebalance_enable: bool_key(&props, &AUTO_LEADER_REBALANCE_ENABLE)?,
            leader_imbalance_check_interval_seconds: long_key(
                &props,
                &LEADER_IMBALANCE_CHECK_INTERVAL_SECONDS,
                1,
            )?,
            zookeeper_front: parse_zk_front(&props)?,
        };
        config.validate(advertised_explicit, &mut warnings)?;
        Ok(Loaded { config, warnings })
    }

    /// Kafka's cross-key rules (`KafkaConfig.validateValues`, `KafkaMetadataLog`).
    fn validate(
        &self,
        advertised_explicit: bool,
        warnings: &mut Vec<String>,
    ) -> Result<(), ConfigError> {
        if self.metadata_log_segment_bytes < self.metadata_log_segment_min_bytes {
            return Err(invalid(
                &METADATA_LOG_SEGMENT_BYTES,
                &self.metadata_log_segment_bytes.to_string(),
                format!(
                    "expected an integer >= {} ({})",
                    self.metadata_log_segment_min_bytes, METADATA_LOG_SEGMENT_MIN_BYTES.name
                ),
            ));
        }

        let (heartbeat, session) = (
            self.broker_heartbeat_interval_ms,
            self.broker_session_timeout_ms,
        );
        let (heartbeat_key, session_key) = (
            BROKER_HEARTBEAT_INTERVAL_MS.name,
            BROKER_SESSION_TIMEOUT_MS.name,
        );
        if heartbeat >= session {
            return Err(inconsistent(format!(
                "{heartbeat_key} ({heartbeat} ms) must be less than {session_key} ({session} ms), \
                 or brokers are fenced between two heartbeats"
            )));
        }
        if heartbeat.saturating_mul(2) > session {
            warnings.push(format!(
                "{heartbeat_key} ({heartbeat} ms) should be at most half of {session_key} \
                 ({session} ms): a broker that misses one heartbeat loses its session"
            ));
        }

        let roles = self.process_roles;
        let voters = &self.controller_quorum_voters;
        let (roles_key, voters_key) = (PROCESS_ROLES.name, QUORUM_VOTERS.name);
        if voters.is_empty() && self.controller_quorum_bootstrap_servers.is_empty() {
            return Err(inconsistent(format!(
                "If using {roles_key}, either {} must contain the set of bootstrap controllers or \
                 {voters_key} must contain a parseable set of controllers.",
                QUORUM_BOOTSTRAP_SERVERS.name
            )));
        }
        let ids: Vec<String> = voters.iter().map(|v| v.id.to_string()).collect();
        let ids = format!("{{{}}}", ids.join(", "));
        let is_voter = voters.iter().any(|v| v.id == self.node_id);
        if roles.controller && !voters.is_empty() && !is_voter {
            return Err(inconsistent(format!(
                "If {roles_key} contains the 'controller' role, the node id {} must be included \
                 in the set of voters {voters_key}={ids}",
                self.node_id
            )));
        }
        if roles.is_broker_only() && is_voter {
            return Err(inconsistent(format!(
                "If {roles_key} contains just the 'broker' role, the node id {} must not be \
                 included in the set of voters {voters_key}={ids}",
                self.node_id
            )));
        }

        let names_key = CONTROLLER_LISTENER_NAMES.name;
        let is_controller_listener =
            |l: &&Listener| self.controller_listener_names.contains(&l.name);
        let listed = |ls: &[Listener]| {
            ls.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",")
        };
        if roles.controller {
            if let Some(name) = self
                .controller_listener_names
                .iter()
                .find(|name| !self.listeners.iter().any(|l| &&l.name == name))
            {
                return Err(inconsistent(format!(
                    "{names_key} must only contain values appearing in the 'listeners' \
                     configuration when running the KRaft controller role: '{name}' is not in \
                     listeners={}",
                    listed(&self.listeners)
                )));
            }
        }
        if roles.is_controller_only() {
            if let Some(l) = self.listeners.iter().find(|l| !is_controller_listener(l)) {
                return Err(inconsistent(format!(
                    "The listeners config must only contain KRaft controller listeners from \
                     {names_key} when {roles_key}=controller: '{l}' is not a controller listener"
                )));
            }
        }
        if roles.is_broker_only() {
            if let Some(l) = self.listeners.iter().find(is_controller_listener) {
                return Err(inconsistent(format!(
                    "{names_key} must not contain a value appearing in the 'listeners' \
                     configuration when running KRaft with just the broker role: '{l}'"
                )));
            }
            if let Some(l) = self
                .advertised_listeners
                .iter()
                .find(is_controller_listener)
            {
                return Err(inconsistent(format!(
                    "The advertised.listeners config must not contain KRaft controller listeners \
                     from {names_key} when {roles_key} contains just the broker role: '{l}'"
                )));
            }
            if self.controller_listener_names.len() > 1 {
                warnings.push(format!(
                    "{names_key} has multiple entries; only the first will be used since \
                     {roles_key}=broker: {}",
                    self.controller_listener_names.join(",")
                ));
            }
        }
        if roles.broker {
            let advertised = self.advertised_broker_listeners();
            if advertised.is_empty() {
                return Err(inconsistent(format!(
                    "There must be at least one broker advertised listener. Perhaps all \
                     listeners appear in {names_key}?"
                )));
            }
            if let Some(l) = advertised
                .iter()
                .find(|a| !self.listeners.iter().any(|l| l.name == a.name))
            {
                return Err(inconsistent(format!(
                    "advertised.listeners listener names must be equal to or a subset of the ones \
                     defined in listeners: '{}' is not in listeners={}",
                    l.name,
                    listed(&self.listeners)
                )));
            }
        }

        // A wildcard address is useless to whoever is given it. Controller listeners that merely
        // default to `listeners` are exempt, as in Kafka 3.9.
        let advertised: Vec<&Listener> = if advertised_explicit {
            self.advertised_listeners.iter().collect()
        } else if roles.broker {
            self.advertised_broker_listeners()
        } else {
            Vec::new()
        };
        if let Some(l) = advertised
            .iter()
            .find(|l| l.host == "0.0.0.0" || l.host == "::")
        {
            let how = if advertised_explicit {
                ""
            } else {
                " (advertised.listeners defaults to listeners; set it)"
            };
            return Err(inconsistent(format!(
                "advertised.listeners cannot use the nonroutable meta-address {} in '{l}'{how}. \
                 Use a routable IP address.",
                l.host
            )));
        }
        Ok(())
    }
}
