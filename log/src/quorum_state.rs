//! `quorum-state`: the persisted Raft election state (epoch, leader, vote) in Kafka's JSON form
//! (`data_version` 1), replaced atomically. A vote is granted and an epoch adopted only after this
//! file says so.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{io_err, LogError};
use crate::fsutil::write_atomically;
use crate::ids::{Epoch, NodeId};
use crate::kafka_uuid::{parse_kafka_uuid, to_kafka_string};

/// File name inside the metadata log directory.
pub const QUORUM_STATE_FILE: &str = "quorum-state";

/// The election state a node must not forget across a crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ElectionState {
    /// Current epoch.
    pub epoch: Epoch,
    /// Known leader of the epoch.
    pub leader_id: Option<NodeId>,
    /// Candidate voted for in the epoch.
    pub voted_id: Option<NodeId>,
    /// Directory id of the candidate voted for (KIP-853).
    pub voted_directory_id: Option<Uuid>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct QuorumStateJson {
    #[serde(default)]
    cluster_id: Option<String>,
    leader_id: i32,
    leader_epoch: i32,
    voted_id: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    voted_directory_id: Option<String>,
    #[serde(rename = "data_version")]
    data_version: i32,
}

/// Reads and atomically replaces the `quorum-state` file of one directory.
#[derive(Debug, Clone)]
pub struct QuorumStateStore {
    path: PathBuf,
}

impl QuorumStateStore {
    /// The store for `dir/quorum-state`.
    pub fn new(dir: &Path) -> Self {
        QuorumStateStore {
            path: dir.join(QUORUM_STATE_FILE),
        }
    }

    /// Path of the file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the state; `Ok(None)` if the file does not exist yet. Both `data_version` 0 and 1
    /// are read; anything unparsable is an error naming the file.
    pub fn read(&self) -> Result<Option<ElectionState>, LogError> {
        let text = match std::fs::read(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err("read", &self.path)(e)),
        };
        let malformed = |reason: String| LogError::Malformed {
            path: self.path.clone(),
            reason,
        };
        let json: QuorumStateJson =
            serde_json::from_slice(&text).map_err(|e| malformed(e.to_string()))?;
        if !(0..=1).contains(&json.data_version) {
            return Err(malformed(format!(
                "unsupported data_version {}",
                json.data_version
            )));
        }
        if json.leader_epoch < 0 {
            return Err(malformed(format!(
                "negative leaderEpoch {}",
                json.leader_epoch
            )));
        }
        let voted_directory_id = match json.voted_directory_id.as_deref() {
            None | Some("") | Some("AAAAAAAAAAAAAAAAAAAAAA") => None,
            Some(d) => Some(parse_kafka_uuid(d).map_err(|e| malformed(e.to_string()))?),
        };
        Ok(Some(ElectionState {
            epoch: Epoch(json.leader_epoch),
            leader_id: (json.leader_id >= 0).then_some(NodeId(json.leader_id)),
            voted_id: (json.voted_id >= 0).then_some(NodeId(json.voted_id)),
            voted_directory_id,
        }))
    }

    /// Replaces the file: temp file, fsync, rename, directory fsync.
    pub fn write(&self, state: &ElectionState) -> Result<(), LogError> {
        let json = QuorumStateJson {
            cluster_id: None,
            leader_id: state.leader_id.unwrap_or(NodeId::NONE).get(),
            leader_epoch: state.epoch.get(),
            voted_id: state.voted_id.unwrap_or(NodeId::NONE).get(),
            voted_directory_id: state.voted_directory_id.map(to_kafka_string),
            data_version: 1,
        };
        let mut value =
            serde_json::to_value(&json).map_err(|e| LogError::InvalidArgument(e.to_string()))?;
        if let Some(obj) = value.as_object_mut() {
            obj.remove("clusterId");
        }
        let bytes =
            serde_json::to_vec(&value).map_err(|e| LogError::InvalidArgument(e.to_string()))?;
        write_atomically(&self.path, &bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_kafka_field_names() {
        let dir = tempfile::tempdir().unwrap();
        let store = QuorumStateStore::new(dir.path());
        assert_eq!(store.read().unwrap(), None);
        let s = ElectionState {
            epoch: Epoch(5),
            leader_id: None,
            voted_id: Some(NodeId(2)),
            voted_directory_id: Some(Uuid::from_u128(7)),
        };
        store.write(&s).unwrap();
        assert_eq!(store.read().unwrap(), Some(s));
        let text = std::fs::read_to_string(store.path()).unwrap();
        for key in [
            "\"leaderId\":-1",
            "\"leaderEpoch\":5",
            "\"votedId\":2",
            "\"data_version\":1",
        ] {
            assert!(text.contains(key), "{text}");
        }
        assert!(!dir.path().join("quorum-state.tmp").exists());
    }

    #[test]
    fn reads_kafka_v0_and_rejects_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let store = QuorumStateStore::new(dir.path());
        std::fs::write(
            store.path(),
            r#"{"clusterId":"","leaderId":1,"leaderEpoch":9,"votedId":-1,"appliedOffset":0,"currentVoters":[],"data_version":0}"#,
        )
        .unwrap();
        let s = store.read().unwrap().unwrap();
        assert_eq!(
            (s.epoch, s.leader_id, s.voted_id),
            (Epoch(9), Some(NodeId(1)), None)
        );
        std::fs::write(store.path(), "{\"leaderId\":").unwrap();
        assert!(matches!(store.read(), Err(LogError::Malformed { .. })));
    }
}
