//! The config catalogues the controller validates against: every topic-level config key of
//! Kafka 3.9 (`LogConfig`/`TopicConfig`) and a documented subset of the broker keys Kafka lets
//! operators change dynamically (`DynamicBrokerConfig.AllDynamicConfigs`), each with its type,
//! default and validator; plus the DescribeConfigs source and type codes.
//!
//! Validation follows Kafka's `ConfigDef`: the value is trimmed and parsed by type, then checked
//! by the validator, and failures carry Kafka's `ConfigException` message ("Invalid value V for
//! configuration K: reason"), sent to clients with `INVALID_CONFIG`.

use super::errors::ErrorCode;

/// A config's type, with the codes of DescribeConfigs' `ConfigType` field (versions 3+).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigType {
    /// `true` or `false`, case-insensitive.
    Boolean,
    /// Free text.
    String,
    /// A 32-bit signed integer.
    Int,
    /// A 16-bit signed integer.
    Short,
    /// A 64-bit signed integer.
    Long,
    /// A 64-bit float.
    Double,
    /// A comma-separated list.
    List,
    /// A Java class name.
    Class,
    /// A secret string, never returned in responses.
    Password,
}

impl ConfigType {
    /// The DescribeConfigs `ConfigType` code (0 is UNKNOWN).
    pub const fn code(self) -> i8 {
        match self {
            ConfigType::Boolean => 1,
            ConfigType::String => 2,
            ConfigType::Int => 3,
            ConfigType::Short => 4,
            ConfigType::Long => 5,
            ConfigType::Double => 6,
            ConfigType::List => 7,
            ConfigType::Class => 8,
            ConfigType::Password => 9,
        }
    }

    /// Kafka's `ConfigDef.Type` name, used in "Not a number of type INT".
    pub const fn java_name(self) -> &'static str {
        match self {
            ConfigType::Boolean => "BOOLEAN",
            ConfigType::String => "STRING",
            ConfigType::Int => "INT",
            ConfigType::Short => "SHORT",
            ConfigType::Long => "LONG",
            ConfigType::Double => "DOUBLE",
            ConfigType::List => "LIST",
            ConfigType::Class => "CLASS",
            ConfigType::Password => "PASSWORD",
        }
    }
}

/// Where a config value comes from, with DescribeConfigs' `ConfigSource` codes (versions 1+).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigSource {
    /// Unknown (0).
    Unknown,
    /// A topic's own config (1; `DYNAMIC_TOPIC_CONFIG` in the admin client).
    DynamicTopicConfig,
    /// A per-broker dynamic config (2).
    DynamicBrokerConfig,
    /// A cluster-wide dynamic broker default (3).
    DynamicDefaultBrokerConfig,
    /// The broker's properties file (4).
    StaticBrokerConfig,
    /// Kafka's built-in default (5).
    DefaultConfig,
    /// A dynamic broker logger level (6).
    DynamicBrokerLoggerConfig,
    /// A client metrics subscription (7).
    ClientMetricsConfig,
}

impl ConfigSource {
    /// The DescribeConfigs `ConfigSource` code.
    pub const fn code(self) -> i8 {
        match self {
            ConfigSource::Unknown => 0,
            ConfigSource::DynamicTopicConfig => 1,
            ConfigSource::DynamicBrokerConfig => 2,
            ConfigSource::DynamicDefaultBrokerConfig => 3,
            ConfigSource::StaticBrokerConfig => 4,
            ConfigSource::DefaultConfig => 5,
            ConfigSource::DynamicBrokerLoggerConfig => 6,
            ConfigSource::ClientMetricsConfig => 7,
        }
    }
}

/// How a parsed value is checked, mirroring Kafka's `ConfigDef` validators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validator {
    /// Anything that parses.
    Any,
    /// A number at least this (`Range.atLeast`).
    AtLeast(i64),
    /// A number in this inclusive range (`Range.between`).
    Between(i64, i64),
    /// One of these strings, case-sensitive (`ValidString.in`).
    OneOf(&'static [&'static str]),
    /// A list whose every element is one of these (`ValidList.in`).
    ListOf(&'static [&'static str]),
    /// gzip level: 1..=9 or -1 (`CompressionType.GZIP.levelValidator`).
    GzipLevel,
    /// `*` or `partition:broker` pairs (`ThrottledReplicaListValidator`).
    ThrottledReplicas,
    /// A Kafka release or IBP version string (`MetadataVersionValidator`).
    MetadataVersion,
}

/// One config key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigDef {
    /// The key.
    pub name: &'static str,
    /// The value type.
    pub config_type: ConfigType,
    /// Kafka's default, as Kafka prints it; `None` where Kafka's default is null.
    pub default: Option<&'static str>,
    /// The value check.
    pub validator: Validator,
    /// Whether values are secret (PASSWORD type); none of the keys here are.
    pub sensitive: bool,
    /// For topic keys: the broker key whose value is the cluster default.
    pub server_default: Option<&'static str>,
}

/// Why a config change is rejected. `Display` is Kafka's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The key is not a topic config.
    #[error("Unknown topic config name: {0}")]
    UnknownTopicConfig(String),
    /// The key is not a dynamically updatable broker config (in this catalogue).
    #[error("Cannot update these configs dynamically: Set({0})")]
    NotDynamicBrokerConfig(String),
    /// The value does not parse or fails its validator.
    #[error("Invalid value {value} for configuration {name}: {reason}")]
    InvalidValue {
        /// The key.
        name: String,
        /// The value as Kafka prints it (raw for parse failures, parsed for validator ones).
        value: String,
        /// Kafka's reason.
        reason: String,
    },
    /// Two values conflict with each other.
    #[error("conflict topic config setting {min_name} ({min}) > {max_name} ({max})")]
    Conflict {
        /// The key that must be the smaller.
        min_name: &'static str,
        /// Its value.
        min: i64,
        /// The key that must be the larger.
        max_name: &'static str,
        /// Its value.
        max: i64,
    },
}

impl ConfigError {
    /// The Kafka error code for this rejection.
    pub fn error_code(&self) -> ErrorCode {
        ErrorCode::InvalidConfig
    }
}

const LONG_MAX: &str = "9223372036854775807";
const INT_MAX: &str = "2147483647";
const CLEANUP_POLICIES: &[&str] = &["compact", "delete"];
const COMPRESSION_TYPES: &[&str] = &["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"];
const TIMESTAMP_TYPES: &[&str] = &["CreateTime", "LogAppendTime"];

const fn def(
    name: &'static str,
    config_type: ConfigType,
    default: Option<&'static str>,
    validator: Validator,
    server_default: Option<&'static str>,
) -> ConfigDef {
    ConfigDef {
        name,
        config_type,
        default,
        validator,
        sensitive: false,
        server_default,
    }
}

use ConfigType::{Boolean, Double, Int, List, Long, String as Str};
use Validator::{Any, AtLeast, Between, GzipLevel, ListOf, OneOf};

/// Every topic config key of Kafka 3.9, sorted by name.
pub static TOPIC_CONFIGS: &[ConfigDef] = &[
    def(
        "cleanup.policy",
        List,
        Some("delete"),
        ListOf(CLEANUP_POLICIES),
        Some("log.cleanup.policy"),
    ),
    def(
        "compression.gzip.level",
        Int,
        Some("-1"),
        GzipLevel,
        Some("compression.gzip.level"),
    ),
    def(
        "compression.lz4.level",
        Int,
        Some("9"),
        Between(1, 17),
        Some("compression.lz4.level"),
    ),
    def(
        "compression.type",
        Str,
        Some("producer"),
        OneOf(COMPRESSION_TYPES),
        Some("compression.type"),
    ),
    def(
        "compression.zstd.level",
        Int,
        Some("3"),
        Between(-131072, 22),
        Some("compression.zstd.level"),
    ),
    def(
        "delete.retention.ms",
        Long,
        Some("86400000"),
        AtLeast(0),
        Some("log.cleaner.delete.retention.ms"),
    ),
    def(
        "file.delete.delay.ms",
        Long,
        Some("60000"),
        AtLeast(0),
        Some("log.segment.delete.delay.ms"),
    ),
    def(
        "flush.messages",
        Long,
        Some(LONG_MAX),
        AtLeast(1),
        Some("log.flush.interval.messages"),
    ),
    def(
        "flush.ms",
        Long,
        Some(LONG_MAX),
        AtLeast(0),
        Some("log.flush.interval.ms"),
    ),
    def(
        "follower.replication.throttled.replicas",
        List,
        Some(""),
        Validator::ThrottledReplicas,
        None,
    ),
    def(
        "index.interval.bytes",
        Int,
        Some("4096"),
        AtLeast(0),
        Some("log.index.interval.bytes"),
    ),
    def(
        "leader.replication.throttled.replicas",
        List,
        Some(""),
        Validator::ThrottledReplicas,
        None,
    ),
    def(
        "local.retention.bytes",
        Long,
        Some("-2"),
        AtLeast(-2),
        Some("log.local.retention.bytes"),
    ),
    def(
        "local.retention.ms",
        Long,
        Some("-2"),
        AtLeast(-2),
        Some("log.local.retention.ms"),
    ),
    def(
        "max.compaction.lag.ms",
        Long,
        Some(LONG_MAX),
        AtLeast(1),
        Some("log.cleaner.max.compaction.lag.ms"),
    ),
    def(
        "max.message.bytes",
        Int,
        Some("1048588"),
        AtLeast(0),
        Some("message.max.bytes"),
    ),
    def(
        "message.downconversion.enable",
        Boolean,
        Some("true"),
        Any,
        Some("log.message.downconversion.enable"),
    ),
    def(
        "message.format.version",
        Str,
        Some("3.0-IV1"),
        Validator::MetadataVersion,
        Some("log.message.format.version"),
    ),
    def(
        "message.timestamp.after.max.ms",
        Long,
        Some(LONG_MAX),
        AtLeast(0),
        Some("log.message.timestamp.after.max.ms"),
    ),
    def(
        "message.timestamp.before.max.ms",
        Long,
        Some(LONG_MAX),
        AtLeast(0),
        Some("log.message.timestamp.before.max.ms"),
    ),
    def(
        "message.timestamp.difference.max.ms",
        Long,
        Some(LONG_MAX),
        AtLeast(0),
        Some("log.message.timestamp.difference.max.ms"),
    ),
    def(
        "message.timestamp.type",
        Str,
        Some("CreateTime"),
        OneOf(TIMESTAMP_TYPES),
        Some("log.message.timestamp.type"),
    ),
    def(
        "min.cleanable.dirty.ratio",
        Double,
        Some("0.5"),
        Between(0, 1),
        Some("log.cleaner.min.cleanable.ratio"),
    ),
    def(
        "min.compaction.lag.ms",
        Long,
        Some("0"),
        AtLeast(0),
        Some("log.cleaner.min.compaction.lag.ms"),
    ),
    def(
        "min.insync.replicas",
        Int,
        Some("1"),
        AtLeast(1),
        Some("min.insync.replicas"),
    ),
    def(
        "preallocate",
        Boolean,
        Some("false"),
        Any,
        Some("log.preallocate"),
    ),
    def("remote.log.copy.disable", Boolean, Some("false"), Any, None),
    def(
        "remote.log.delete.on.disable",
        Boolean,
        Some("false"),
        Any,
        None,
    ),
    def("remote.storage.enable", Boolean, Some("false"), Any, None),
    def(
        "retention.bytes",
        Long,
        Some("-1"),
        Any,
        Some("log.retention.bytes"),
    ),
    def(
        "retention.ms",
        Long,
        Some("604800000"),
        AtLeast(-1),
        Some("log.retention.ms"),
    ),
    def(
        "segment.bytes",
        Int,
        Some("1073741824"),
        AtLeast(14),
        Some("log.segment.bytes"),
    ),
    def(
        "segment.index.bytes",
        Int,
        Some("10485760"),
        AtLeast(4),
        Some("log.index.size.max.bytes"),
    ),
    def(
        "segment.jitter.ms",
        Long,
        Some("0"),
        AtLeast(0),
        Some("log.roll.jitter.ms"),
    ),
    def(
        "segment.ms",
        Long,
        Some("604800000"),
        AtLeast(1),
        Some("log.roll.ms"),
    ),
    def(
        "unclean.leader.election.enable",
        Boolean,
        Some("false"),
        Any,
        Some("unclean.leader.election.enable"),
    ),
];

/// A subset of the broker keys Kafka 3.9 can change dynamically (per broker or cluster-wide):
/// the log defaults behind topic configs (`DynamicLogConfig`), the log cleaner
/// (`LogCleaner.ReconfigurableConfigs`), thread pools (`DynamicThreadPool`) and connection
/// limits (`SocketServer`). Security, listener, metric-reporter and remote-log keys are not
/// here yet. Sorted by name.
pub static BROKER_DYNAMIC_CONFIGS: &[ConfigDef] = &[
    def("background.threads", Int, Some("10"), AtLeast(1), None),
    def(
        "compression.type",
        Str,
        Some("producer"),
        OneOf(COMPRESSION_TYPES),
        None,
    ),
    def(
        "log.cleaner.backoff.ms",
        Long,
        Some("15000"),
        AtLeast(0),
        None,
    ),
    def(
        "log.cleaner.dedupe.buffer.size",
        Long,
        Some("134217728"),
        Any,
        None,
    ),
    def(
        "log.cleaner.delete.retention.ms",
        Long,
        Some("86400000"),
        AtLeast(0),
        None,
    ),
    def(
        "log.cleaner.io.buffer.load.factor",
        Double,
        Some("0.9"),
        Any,
        None,
    ),
    def(
        "log.cleaner.io.buffer.size",
        Int,
        Some("524288"),
        AtLeast(0),
        None,
    ),
    def(
        "log.cleaner.io.max.bytes.per.second",
        Double,
        Some("1.7976931348623157E308"),
        Any,
        None,
    ),
    def(
        "log.cleaner.max.compaction.lag.ms",
        Long,
        Some(LONG_MAX),
        AtLeast(1),
        None,
    ),
    def(
        "log.cleaner.min.cleanable.ratio",
        Double,
        Some("0.5"),
        Between(0, 1),
        None,
    ),
    def(
        "log.cleaner.min.compaction.lag.ms",
        Long,
        Some("0"),
        AtLeast(0),
        None,
    ),
    def("log.cleaner.threads", Int, Some("1"), AtLeast(0), None),
    def(
        "log.cleanup.policy",
        List,
        Some("delete"),
        ListOf(CLEANUP_POLICIES),
        None,
    ),
    def(
        "log.flush.interval.messages",
        Long,
        Some(LONG_MAX),
        AtLeast(1),
        None,
    ),
    def("log.flush.interval.ms", Long, None, Any, None),
    def(
        "log.index.interval.bytes",
        Int,
        Some("4096"),
        AtLeast(0),
        None,
    ),
    def(
        "log.index.size.max.bytes",
        Int,
        Some("10485760"),
        AtLeast(4),
        None,
    ),
    def(
        "log.message.downconversion.enable",
        Boolean,
        Some("true"),
        Any,
        None,
    ),
    def(
        "log.message.timestamp.type",
        Str,
        Some("CreateTime"),
        OneOf(TIMESTAMP_TYPES),
        None,
    ),
    def("log.preallocate", Boolean, Some("false"), Any, None),
    def("log.retention.bytes", Long, Some("-1"), Any, None),
    def("log.retention.ms", Long, None, Any, None),
    def("log.roll.jitter.ms", Long, None, Any, None),
    def("log.roll.ms", Long, None, Any, None),
    def(
        "log.segment.bytes",
        Int,
        Some("1073741824"),
        AtLeast(14),
        None,
    ),
    def(
        "log.segment.delete.delay.ms",
        Long,
        Some("60000"),
        AtLeast(0),
        None,
    ),
    def(
        "max.connection.creation.rate",
        Int,
        Some(INT_MAX),
        AtLeast(0),
        None,
    ),
    def("max.connections", Int, Some(INT_MAX), AtLeast(0), None),
    def(
        "max.connections.per.ip",
        Int,
        Some(INT_MAX),
        AtLeast(0),
        None,
    ),
    def("message.max.bytes", Int, Some("1048588"), AtLeast(0), None),
    def("min.insync.replicas", Int, Some("1"), AtLeast(1), None),
    def("num.io.threads", Int, Some("8"), AtLeast(1), None),
    def("num.network.threads", Int, Some("3"), AtLeast(1), None),
    def(
        "num.recovery.threads.per.data.dir",
        Int,
        Some("1"),
        AtLeast(1),
        None,
    ),
    def("num.replica.fetchers", Int, Some("1"), Any, None),
    def(
        "unclean.leader.election.enable",
        Boolean,
        Some("false"),
        Any,
        None,
    ),
];

/// The topic config definition for `name`.
pub fn topic_config(name: &str) -> Option<&'static ConfigDef> {
    TOPIC_CONFIGS.iter().find(|d| d.name == name)
}

/// The dynamic broker config definition for `name`.
pub fn broker_dynamic_config(name: &str) -> Option<&'static ConfigDef> {
    BROKER_DYNAMIC_CONFIGS.iter().find(|d| d.name == name)
}

/// Validates one topic config value: unknown key, then parse and validator errors.
pub fn validate_topic_config(key: &str, value: &str) -> Result<(), ConfigError> {
    let def = topic_config(key).ok_or_else(|| ConfigError::UnknownTopicConfig(key.to_owned()))?;
    validate_value(def, value)
}

/// Validates a set of topic config values as one change: each key and value, then Kafka's
/// cross-key rule (`min.compaction.lag.ms` at most `max.compaction.lag.ms`, defaults filling
/// in keys not given).
pub fn validate_topic_configs<'a, I>(configs: I) -> Result<(), ConfigError>
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    let mut min_lag = 0i64;
    let mut max_lag = i64::MAX;
    for (key, value) in configs {
        validate_topic_config(key, value)?;
        match key {
            "min.compaction.lag.ms" => min_lag = parse_java_long(java_trim(value)).unwrap_or(0),
            "max.compaction.lag.ms" => {
                max_lag = parse_java_long(java_trim(value)).unwrap_or(i64::MAX)
            }
            _ => {}
        }
    }
    if min_lag > max_lag {
        return Err(ConfigError::Conflict {
            min_name: "min.compaction.lag.ms",
            min: min_lag,
            max_name: "max.compaction.lag.ms",
            max: max_lag,
        });
    }
    Ok(())
}

/// Validates one dynamic broker config value. Kafka passes unknown (custom) keys through; this
/// catalogue is a subset, so every key outside it is rejected as not dynamic. Kafka's extra
/// thread-pool rule (a new size within half and double the old one) needs the current value
/// and is not checked here.
pub fn validate_broker_config(key: &str, value: &str) -> Result<(), ConfigError> {
    let def = broker_dynamic_config(key)
        .ok_or_else(|| ConfigError::NotDynamicBrokerConfig(key.to_owned()))?;
    validate_value(def, value)
}

/// Java's `String.trim`: strips every char at or below U+0020 from both ends.
fn java_trim(s: &str) -> &str {
    s.trim_matches(|c: char| c <= ' ')
}

fn parse_java_long(s: &str) -> Option<i64> {
    s.parse().ok()
}

/// `Double.parseDouble` for the inputs that matter: decimal and exponent forms, an optional
/// `d`/`f` suffix, `NaN` and `Infinity`. Rust-only spellings ("inf", "nan") are rejected.
fn parse_java_double(s: &str) -> Option<f64> {
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    if unsigned == "NaN" || unsigned == "Infinity" {
        let v = if unsigned == "NaN" {
            f64::NAN
        } else {
            f64::INFINITY
        };
        return Some(if s.starts_with('-') { -v } else { v });
    }
    let body = s.strip_suffix(['d', 'D', 'f', 'F']).unwrap_or(s);
    if body
        .chars()
        .any(|c| !(c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-')))
    {
        return None;
    }
    body.parse().ok()
}

/// Java's `Double.toString` for finite values: plain between 1e-3 and 1e7, else
/// `d.dddE±n`; always with a fractional part.
fn java_double_to_string(v: f64) -> String {
    if v.is_nan() {
        return "NaN".to_owned();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    let magnitude = v.abs();
    if magnitude == 0.0 || (1e-3..1e7).contains(&magnitude) {
        return format!("{v:?}");
    }
    let sci = format!("{v:e}");
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    if mantissa.contains('.') {
        format!("{mantissa}E{exponent}")
    } else {
        format!("{mantissa}.0E{exponent}")
    }
}

/// A parsed value, kept as Kafka would print it for validator messages.
enum Parsed<'a> {
    Number(f64, String),
    Text(&'a str),
    List(Vec<&'a str>),
    Flag,
}

fn validate_value(def: &ConfigDef, raw: &str) -> Result<(), ConfigError> {
    let invalid = |value: String, reason: String| ConfigError::InvalidValue {
        name: def.name.to_owned(),
        value,
        reason,
    };
    let not_a_number = || {
        invalid(
            raw.to_owned(),
            format!("Not a number of type {}", def.config_type.java_name()),
        )
    };
    let trimmed = java_trim(raw);
    let parsed = match def.config_type {
        ConfigType::Boolean => {
            if trimmed.eq_ignore_ascii_case("true") || trimmed.eq_ignore_ascii_case("false") {
                Parsed::Flag
            } else {
                return Err(invalid(
                    raw.to_owned(),
                    "Expected value to be either true or false".to_owned(),
                ));
            }
        }
        ConfigType::Int => {
            let v: i32 = trimmed.parse().map_err(|_| not_a_number())?;
            Parsed::Number(f64::from(v), v.to_string())
        }
        ConfigType::Short => {
            let v: i16 = trimmed.parse().map_err(|_| not_a_number())?;
            Parsed::Number(f64::from(v), v.to_string())
        }
        ConfigType::Long => {
            let v: i64 = trimmed.parse().map_err(|_| not_a_number())?;
            // Kafka compares as doubles too.
            Parsed::Number(v as f64, v.to_string())
        }
        ConfigType::Double => {
            let v = parse_java_double(trimmed).ok_or_else(not_a_number)?;
            Parsed::Number(v, java_double_to_string(v))
        }
        ConfigType::List => {
            if trimmed.is_empty() {
                Parsed::List(Vec::new())
            } else {
                Parsed::List(trimmed.split(',').map(java_trim_whitespace).collect())
            }
        }
        ConfigType::String | ConfigType::Class | ConfigType::Password => Parsed::Text(trimmed),
    };
    match (def.validator, &parsed) {
        (Validator::Any, _) => Ok(()),
        (Validator::AtLeast(min), Parsed::Number(v, shown)) => {
            if *v < min as f64 {
                Err(invalid(
                    shown.clone(),
                    format!("Value must be at least {min}"),
                ))
            } else {
                Ok(())
            }
        }
        (Validator::Between(min, max), Parsed::Number(v, shown)) => {
            if *v < min as f64 {
                Err(invalid(
                    shown.clone(),
                    format!("Value must be at least {min}"),
                ))
            } else if *v > max as f64 {
                Err(invalid(
                    shown.clone(),
                    format!("Value must be no more than {max}"),
                ))
            } else {
                Ok(())
            }
        }
        (Validator::GzipLevel, Parsed::Number(v, shown)) => {
            if *v > 9.0 || (*v < 1.0 && *v != -1.0) {
                Err(invalid(
                    shown.clone(),
                    "Value must be between 1 and 9 or equal to -1".to_owned(),
                ))
            } else {
                Ok(())
            }
        }
        (Validator::OneOf(allowed), Parsed::Text(s)) => {
            if allowed.contains(s) {
                Ok(())
            } else {
                Err(invalid(
                    (*s).to_owned(),
                    format!("String must be one of: {}", allowed.join(", ")),
                ))
            }
        }
        (Validator::ListOf(allowed), Parsed::List(items)) => {
            match items.iter().find(|item| !allowed.contains(*item)) {
                Some(bad) => Err(invalid(
                    (*bad).to_owned(),
                    format!("String must be one of: {}", allowed.join(", ")),
                )),
                None => Ok(()),
            }
        }
        (Validator::ThrottledReplicas, Parsed::List(items)) => {
            let pairs_ok = items.iter().all(|item| is_throttled_replica(item));
            if pairs_ok || items.concat() == "*" {
                Ok(())
            } else {
                Err(invalid(
                    format!("[{}]", items.join(", ")),
                    format!(
                        "{} must be the literal '*' or a list of replicas in the following format: [partitionId]:[brokerId],[partitionId]:[brokerId],...",
                        def.name
                    ),
                ))
            }
        }
        (Validator::MetadataVersion, Parsed::Text(s)) => {
            if is_metadata_version(s) {
                Ok(())
            } else {
                Err(invalid(
                    (*s).to_owned(),
                    format!("Version {s} is not a valid version"),
                ))
            }
        }
        // A validator paired with a type it does not apply to: a catalogue bug, caught by the
        // tests; accept rather than panic.
        _ => Ok(()),
    }
}

/// Trims the whitespace Kafka's `\s*,\s*` split removes around list elements.
fn java_trim_whitespace(s: &str) -> &str {
    s.trim_matches(|c: char| matches!(c, ' ' | '\t' | '\n' | '\u{0B}' | '\u{0C}' | '\r'))
}

/// `([0-9]+:[0-9]+)?` after trimming.
fn is_throttled_replica(item: &str) -> bool {
    let item = java_trim(item);
    if item.is_empty() {
        return true;
    }
    match item.split_once(':') {
        Some((p, b)) => {
            !p.is_empty()
                && !b.is_empty()
                && p.bytes().all(|c| c.is_ascii_digit())
                && b.bytes().all(|c| c.is_ascii_digit())
        }
        None => false,
    }
}

/// Kafka 3.9 metadata versions: each release with its IBP sub-versions.
const METADATA_VERSIONS: &[(&str, &[&str])] = &[
    ("0.8.0", &[""]),
    ("0.8.1", &[""]),
    ("0.8.2", &[""]),
    ("0.9.0", &[""]),
    ("0.10.0", &["IV0", "IV1"]),
    ("0.10.1", &["IV0", "IV1", "IV2"]),
    ("0.10.2", &["IV0"]),
    ("0.11.0", &["IV0", "IV1", "IV2"]),
    ("1.0", &["IV0"]),
    ("1.1", &["IV0"]),
    ("2.0", &["IV0", "IV1"]),
    ("2.1", &["IV0", "IV1", "IV2"]),
    ("2.2", &["IV0", "IV1"]),
    ("2.3", &["IV0", "IV1"]),
    ("2.4", &["IV0", "IV1"]),
    ("2.5", &["IV0"]),
    ("2.6", &["IV0"]),
    ("2.7", &["IV0", "IV1", "IV2"]),
    ("2.8", &["IV0", "IV1"]),
    ("3.0", &["IV0", "IV1"]),
    ("3.1", &["IV0"]),
    ("3.2", &["IV0"]),
    ("3.3", &["IV0", "IV1", "IV2", "IV3"]),
    ("3.4", &["IV0"]),
    ("3.5", &["IV0", "IV1", "IV2"]),
    ("3.6", &["IV0", "IV1", "IV2"]),
    ("3.7", &["IV0", "IV1", "IV2", "IV3", "IV4"]),
    ("3.8", &["IV0"]),
    ("3.9", &["IV0"]),
    // Not production in 3.9: accepted only with the full IBP string.
    ("4.0", &["IV0", "IV1"]),
];

/// `MetadataVersion.fromVersionString`: the key is the first three dot-separated segments for
/// 0.x versions, two otherwise; it must be an IBP string ("3.0-IV1") or a production release
/// ("3.0", meaning its latest IBP).
fn is_metadata_version(version: &str) -> bool {
    let segments_wanted = if version.starts_with("0.") { 3 } else { 2 };
    // Java's split drops trailing empty segments.
    let mut segments: Vec<&str> = version.split('.').collect();
    while segments.len() > 1 && segments.last() == Some(&"") {
        segments.pop();
    }
    let key = if segments_wanted >= segments.len() {
        version.to_owned()
    } else {
        segments[..segments_wanted].join(".")
    };
    METADATA_VERSIONS.iter().any(|(release, ivs)| {
        let production = *release != "4.0";
        (production && key == *release)
            || ivs
                .iter()
                .any(|iv| !iv.is_empty() && key == format!("{release}-{iv}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(key: &str, value: &str) -> String {
        validate_topic_config(key, value).unwrap_err().to_string()
    }

    #[test]
    fn describe_configs_codes() {
        // DescribeConfigsResponse.java ConfigType / ConfigSource.
        let types = [
            (ConfigType::Boolean, 1),
            (ConfigType::String, 2),
            (ConfigType::Int, 3),
            (ConfigType::Short, 4),
            (ConfigType::Long, 5),
            (ConfigType::Double, 6),
            (ConfigType::List, 7),
            (ConfigType::Class, 8),
            (ConfigType::Password, 9),
        ];
        for (t, code) in types {
            assert_eq!(t.code(), code, "{t:?}");
        }
        let sources = [
            (ConfigSource::Unknown, 0),
            (ConfigSource::DynamicTopicConfig, 1),
            (ConfigSource::DynamicBrokerConfig, 2),
            (ConfigSource::DynamicDefaultBrokerConfig, 3),
            (ConfigSource::StaticBrokerConfig, 4),
            (ConfigSource::DefaultConfig, 5),
            (ConfigSource::DynamicBrokerLoggerConfig, 6),
            (ConfigSource::ClientMetricsConfig, 7),
        ];
        for (s, code) in sources {
            assert_eq!(s.code(), code, "{s:?}");
        }
    }

    #[test]
    fn catalogues_are_sorted_unique_and_defaults_validate() {
        for catalogue in [TOPIC_CONFIGS, BROKER_DYNAMIC_CONFIGS] {
            for pair in catalogue.windows(2) {
                assert!(
                    pair[0].name < pair[1].name,
                    "{} / {}",
                    pair[0].name,
                    pair[1].name
                );
            }
            for def in catalogue {
                if let Some(default) = def.default {
                    assert_eq!(validate_value(def, default), Ok(()), "{}", def.name);
                }
                assert!(!def.sensitive);
            }
        }
        assert_eq!(TOPIC_CONFIGS.len(), 36);
        assert!(topic_config("segment.bytes").is_some());
        assert!(broker_dynamic_config("num.io.threads").is_some());
    }

    #[test]
    fn unknown_keys() {
        let err = validate_topic_config("retention.hours", "1").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Unknown topic config name: retention.hours"
        );
        assert_eq!(err.error_code(), ErrorCode::InvalidConfig);
        assert_eq!(
            validate_broker_config("log.dirs", "/x")
                .unwrap_err()
                .to_string(),
            "Cannot update these configs dynamically: Set(log.dirs)"
        );
    }

    #[test]
    fn kafka_config_exception_messages() {
        assert_eq!(
            message("segment.bytes", "13"),
            "Invalid value 13 for configuration segment.bytes: Value must be at least 14"
        );
        assert_eq!(
            message("min.insync.replicas", "0"),
            "Invalid value 0 for configuration min.insync.replicas: Value must be at least 1"
        );
        assert_eq!(
            message("min.insync.replicas", "two"),
            "Invalid value two for configuration min.insync.replicas: Not a number of type INT"
        );
        assert_eq!(
            message("segment.bytes", "3000000000"),
            "Invalid value 3000000000 for configuration segment.bytes: Not a number of type INT"
        );
        assert_eq!(
            message("retention.ms", "-2"),
            "Invalid value -2 for configuration retention.ms: Value must be at least -1"
        );
        assert_eq!(
            message("min.cleanable.dirty.ratio", "2"),
            "Invalid value 2.0 for configuration min.cleanable.dirty.ratio: Value must be no more than 1"
        );
        assert_eq!(
            message("cleanup.policy", "delete,archive"),
            "Invalid value archive for configuration cleanup.policy: String must be one of: compact, delete"
        );
        assert_eq!(
            message("compression.type", "brotli"),
            "Invalid value brotli for configuration compression.type: String must be one of: uncompressed, zstd, lz4, snappy, gzip, producer"
        );
        assert_eq!(
            message("message.timestamp.type", "createtime"),
            "Invalid value createtime for configuration message.timestamp.type: String must be one of: CreateTime, LogAppendTime"
        );
        assert_eq!(
            message("preallocate", "yes"),
            "Invalid value yes for configuration preallocate: Expected value to be either true or false"
        );
        assert_eq!(
            message("compression.gzip.level", "0"),
            "Invalid value 0 for configuration compression.gzip.level: Value must be between 1 and 9 or equal to -1"
        );
        assert_eq!(
            message("compression.zstd.level", "23"),
            "Invalid value 23 for configuration compression.zstd.level: Value must be no more than 22"
        );
        assert_eq!(
            message("message.format.version", "2.9"),
            "Invalid value 2.9 for configuration message.format.version: Version 2.9 is not a valid version"
        );
        assert_eq!(
            message("leader.replication.throttled.replicas", "0:1,x"),
            "Invalid value [0:1, x] for configuration leader.replication.throttled.replicas: leader.replication.throttled.replicas must be the literal '*' or a list of replicas in the following format: [partitionId]:[brokerId],[partitionId]:[brokerId],..."
        );
    }

    #[test]
    fn accepted_values() {
        let ok = [
            ("cleanup.policy", "compact, delete"),
            ("cleanup.policy", ""),
            ("compression.gzip.level", "-1"),
            ("compression.gzip.level", "9"),
            ("compression.zstd.level", "-131072"),
            ("min.cleanable.dirty.ratio", " 0.25 "),
            ("min.cleanable.dirty.ratio", "1"),
            ("preallocate", "TRUE"),
            ("retention.bytes", "-5"),
            ("retention.ms", "-1"),
            ("segment.ms", "+10"),
            ("local.retention.ms", "-2"),
            ("message.format.version", "3.0"),
            ("message.format.version", "3.0-IV1"),
            ("message.format.version", "0.10.0-IV0"),
            ("message.format.version", "2.8.1"),
            ("message.format.version", "4.0-IV0"),
            ("leader.replication.throttled.replicas", "*"),
            ("follower.replication.throttled.replicas", "0:1, 1:2"),
            ("flush.ms", "9223372036854775807"),
        ];
        for (k, v) in ok {
            assert_eq!(validate_topic_config(k, v), Ok(()), "{k}={v}");
        }
        // 4.0 is not a production release in 3.9, so the bare release string is rejected.
        assert!(validate_topic_config("message.format.version", "4.0").is_err());
        assert!(validate_topic_config("min.cleanable.dirty.ratio", "inf").is_err());
    }

    #[test]
    fn compaction_lag_conflict() {
        let err = validate_topic_configs([
            ("min.compaction.lag.ms", "100"),
            ("max.compaction.lag.ms", "50"),
        ])
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "conflict topic config setting min.compaction.lag.ms (100) > max.compaction.lag.ms (50)"
        );
        assert_eq!(err.error_code(), ErrorCode::InvalidConfig);
        assert!(validate_topic_configs([("min.compaction.lag.ms", "100")]).is_ok());
    }

    #[test]
    fn broker_dynamic_values() {
        assert!(validate_broker_config("num.io.threads", "16").is_ok());
        assert_eq!(
            validate_broker_config("num.io.threads", "0")
                .unwrap_err()
                .to_string(),
            "Invalid value 0 for configuration num.io.threads: Value must be at least 1"
        );
        assert_eq!(
            validate_broker_config("log.cleaner.min.cleanable.ratio", "1.5")
                .unwrap_err()
                .to_string(),
            "Invalid value 1.5 for configuration log.cleaner.min.cleanable.ratio: Value must be no more than 1"
        );
        assert!(validate_broker_config("log.retention.ms", "-1").is_ok());
    }

    #[test]
    fn java_double_formatting() {
        assert_eq!(java_double_to_string(2.0), "2.0");
        assert_eq!(java_double_to_string(0.5), "0.5");
        assert_eq!(java_double_to_string(1e10), "1.0E10");
        assert_eq!(java_double_to_string(1.5e-5), "1.5E-5");
        assert_eq!(java_double_to_string(f64::MAX), "1.7976931348623157E308");
        assert_eq!(parse_java_double("1d"), Some(1.0));
        assert_eq!(parse_java_double("-Infinity"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_java_double("nan"), None);
    }
}
