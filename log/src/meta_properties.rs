//! `meta.properties`: the identity of a formatted log directory (`version`, `cluster.id`,
//! `node.id`, `directory.id`), in Kafka's format, written once by `storage format` and checked by
//! every node before it opens the directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use uuid::Uuid;

use crate::error::{io_err, LogError};
use crate::fsutil::write_atomically;
use crate::ids::NodeId;
use crate::kafka_uuid::{parse_kafka_uuid, to_kafka_string, UuidError};

/// File name inside every log directory.
pub const META_PROPERTIES_FILE: &str = "meta.properties";

/// Why a `meta.properties` text is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetaPropertiesError {
    /// A line that is neither a comment nor `key=value`.
    #[error("line '{0}' is not key=value")]
    NotKeyValue(String),
    /// A required key is absent.
    #[error("missing {0}")]
    Missing(&'static str),
    /// A key's value does not parse.
    #[error("invalid {key} '{value}'")]
    Invalid {
        /// The key.
        key: &'static str,
        /// Its value.
        value: String,
    },
    /// A version other than 1 (ZooKeeper-mode brokers write 0).
    #[error("unsupported meta.properties version {0} (a ZooKeeper-mode directory has version 0; metaquorum needs 1)")]
    UnsupportedVersion(u32),
    /// `directory.id` is not a Kafka Uuid.
    #[error(transparent)]
    DirectoryId(#[from] UuidError),
}

/// The identity of one formatted directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaProperties {
    /// Format version: 1 for KRaft (0 was ZooKeeper mode, with `broker.id`).
    pub version: u32,
    /// The cluster's id (a Kafka Uuid).
    pub cluster_id: String,
    /// The node's id.
    pub node_id: NodeId,
    /// This directory's own id (KIP-858); a reformatted disk gets a new one.
    pub directory_id: Option<Uuid>,
}

impl MetaProperties {
    /// Path of the file in `dir`.
    pub fn path(dir: &Path) -> PathBuf {
        dir.join(META_PROPERTIES_FILE)
    }

    /// Reads `dir/meta.properties`; `Ok(None)` when the directory or file does not exist.
    pub fn read(dir: &Path) -> Result<Option<MetaProperties>, LogError> {
        let path = Self::path(dir);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err("read", &path)(e)),
        };
        Self::parse(&text)
            .map(Some)
            .map_err(|e| LogError::Malformed {
                path,
                reason: e.to_string(),
            })
    }

    /// Parses the file's text.
    pub fn parse(text: &str) -> Result<MetaProperties, MetaPropertiesError> {
        let mut props = BTreeMap::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
                continue;
            }
            let (k, v) = line
                .split_once('=')
                .ok_or_else(|| MetaPropertiesError::NotKeyValue(line.into()))?;
            props.insert(k.trim().to_string(), v.trim().to_string());
        }
        let get = |k: &'static str| props.get(k).ok_or(MetaPropertiesError::Missing(k));
        let invalid = |key: &'static str| MetaPropertiesError::Invalid {
            key,
            value: props[key].clone(),
        };
        let version: u32 = get("version")?.parse().map_err(|_| invalid("version"))?;
        if version != 1 {
            return Err(MetaPropertiesError::UnsupportedVersion(version));
        }
        let cluster_id = get("cluster.id")?.clone();
        let node_id: NodeId = get("node.id")?.parse().map_err(|_| invalid("node.id"))?;
        let directory_id = match props.get("directory.id") {
            Some(d) => Some(parse_kafka_uuid(d)?),
            None => None,
        };
        Ok(MetaProperties {
            version,
            cluster_id,
            node_id,
            directory_id,
        })
    }

    /// The file's text, keys sorted, in the `key=value` form Kafka writes.
    pub fn render(&self) -> String {
        let mut out = String::from("#\n#Written by metaquorum storage format\n");
        out.push_str(&format!("cluster.id={}\n", self.cluster_id));
        if let Some(d) = self.directory_id {
            out.push_str(&format!("directory.id={}\n", to_kafka_string(d)));
        }
        out.push_str(&format!("node.id={}\n", self.node_id));
        out.push_str(&format!("version={}\n", self.version));
        out
    }

    /// Writes `dir/meta.properties` atomically.
    pub fn write(&self, dir: &Path) -> Result<(), LogError> {
        write_atomically(&Self::path(dir), self.render().as_bytes())
    }

    /// The `{cluster.id=..., directory.id=..., node.id=..., version=1}` form `kafka-storage info` prints.
    pub fn describe(&self) -> String {
        let mut parts = vec![format!("cluster.id={}", self.cluster_id)];
        if let Some(d) = self.directory_id {
            parts.push(format!("directory.id={}", to_kafka_string(d)));
        }
        parts.push(format!("node.id={}", self.node_id));
        parts.push(format!("version={}", self.version));
        format!("{{{}}}", parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_read_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let mp = MetaProperties {
            version: 1,
            cluster_id: "MkU3OEVBNTcwNTJENDM2Qg".into(),
            node_id: NodeId(3),
            directory_id: Some(Uuid::from_u128(99)),
        };
        mp.write(dir.path()).unwrap();
        assert_eq!(MetaProperties::read(dir.path()).unwrap(), Some(mp.clone()));
        assert!(mp
            .describe()
            .starts_with("{cluster.id=MkU3OEVBNTcwNTJENDM2Qg, directory.id="));
    }

    #[test]
    fn missing_is_none_and_bad_is_error() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(MetaProperties::read(dir.path()).unwrap(), None);
        std::fs::write(
            dir.path().join(META_PROPERTIES_FILE),
            "version=0\nbroker.id=1\ncluster.id=x\n",
        )
        .unwrap();
        let err = MetaProperties::read(dir.path()).unwrap_err().to_string();
        assert!(err.contains("version 0"), "{err}");
        std::fs::write(
            dir.path().join(META_PROPERTIES_FILE),
            "version=1\ncluster.id=x\n",
        )
        .unwrap();
        assert!(MetaProperties::read(dir.path())
            .unwrap_err()
            .to_string()
            .contains("missing node.id"));
    }
}
