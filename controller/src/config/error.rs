//! The configuration error type.

use std::path::PathBuf;

use super::keys::KeySpec;

/// Errors from loading or validating the configuration. Each names the key or file concerned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The properties file could not be read (missing, unreadable, a directory...).
    #[error("Cannot read configuration file {}: {source}", path.display())]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// Why it could not be read.
        #[source]
        source: std::io::Error,
    },
    /// The properties file is not valid properties syntax (e.g. a bad `\u` escape).
    #[error("Cannot parse configuration file {}: {source}", path.display())]
    ParseFile {
        /// The file.
        path: PathBuf,
        /// The parser's complaint, with its line number.
        #[source]
        source: java_properties::PropertiesError,
    },
    /// An `--override` argument without `=` or with an empty key.
    #[error("Malformed argument \"--override {arg}\": expected key=value")]
    MalformedOverride {
        /// The argument as given.
        arg: String,
    },
    /// A key without a default value was not set.
    #[error("Missing required configuration \"{key}\" which has no default value.")]
    Missing {
        /// The missing key.
        key: &'static str,
    },
    /// A key's value does not parse or is out of range.
    #[error("Invalid value '{value}' for configuration {key}: {reason}")]
    InvalidValue {
        /// The key.
        key: &'static str,
        /// The offending value, trimmed.
        value: String,
        /// What was wrong and what is expected.
        reason: String,
    },
    /// A listener name has no entry in `listener.security.protocol.map`.
    #[error(
        "Listener '{listener}' in {key} has no security protocol in \
         listener.security.protocol.map"
    )]
    UnmappedListener {
        /// The listener name (upper-case).
        listener: String,
        /// The key the name was used in.
        key: &'static str,
    },
    /// Values that are valid one by one but not together (Kafka's cross-key rules).
    #[error("{message}")]
    Inconsistent {
        /// Which keys conflict and how; names the keys and values.
        message: String,
    },
}

pub(super) fn invalid(spec: &KeySpec, value: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::InvalidValue {
        key: spec.name,
        value: value.to_string(),
        reason: reason.into(),
    }
}

pub(super) fn inconsistent(message: String) -> ConfigError {
    ConfigError::Inconsistent { message }
}
