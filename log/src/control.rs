//! Raft control records (Kafka's `ControlRecordType`): the key is (version: i16, type: i16), the
//! value a Kafka message such as `SnapshotHeaderRecord` or `VotersRecord` in its own encoding.

use bytes::{Bytes, BytesMut};
use kafka_protocol::protocol::{Decodable, Encodable};

use crate::batch::{BatchError, RecordData};

/// Version of the control record key.
pub const CONTROL_KEY_VERSION: i16 = 0;

/// The control record types of the metadata log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlRecordType {
    /// Transaction abort marker.
    Abort = 0,
    /// Transaction commit marker.
    Commit = 1,
    /// `LeaderChangeMessage`, written at the start of every epoch.
    LeaderChange = 2,
    /// `SnapshotHeaderRecord`, first in every snapshot.
    SnapshotHeader = 3,
    /// `SnapshotFooterRecord`, last in every snapshot.
    SnapshotFooter = 4,
    /// `KRaftVersionRecord`.
    KRaftVersion = 5,
    /// `VotersRecord`.
    KRaftVoters = 6,
}

impl ControlRecordType {
    /// The type for a key's type id.
    pub fn from_id(id: i16) -> Option<ControlRecordType> {
        use ControlRecordType::*;
        Some(match id {
            0 => Abort,
            1 => Commit,
            2 => LeaderChange,
            3 => SnapshotHeader,
            4 => SnapshotFooter,
            5 => KRaftVersion,
            6 => KRaftVoters,
            _ => return None,
        })
    }

    /// Kafka's display name (as `kafka-dump-log` prints it).
    pub fn name(self) -> &'static str {
        use ControlRecordType::*;
        match self {
            Abort => "ABORT",
            Commit => "COMMIT",
            LeaderChange => "LEADER_CHANGE",
            SnapshotHeader => "SNAPSHOT_HEADER",
            SnapshotFooter => "SNAPSHOT_FOOTER",
            KRaftVersion => "KRAFT_VERSION",
            KRaftVoters => "KRAFT_VOTERS",
        }
    }
}

/// Builds a control record: the typed key and `message` encoded at `version`.
pub fn control_record<M: Encodable>(
    kind: ControlRecordType,
    message: &M,
    version: i16,
) -> Result<RecordData, BatchError> {
    let mut key = BytesMut::with_capacity(4);
    key.extend_from_slice(&CONTROL_KEY_VERSION.to_be_bytes());
    key.extend_from_slice(&(kind as i16).to_be_bytes());
    let mut value = BytesMut::new();
    message
        .encode(&mut value, version)
        .map_err(|e| BatchError::Encode(e.to_string()))?;
    Ok(RecordData {
        key: Some(key.freeze()),
        value: Some(value.freeze()),
    })
}

/// Reads the control type id from a control record key; `None` if the key is malformed.
pub fn control_type_id(key: &[u8]) -> Option<i16> {
    if key.len() < 4 {
        return None;
    }
    Some(i16::from_be_bytes([key[2], key[3]]))
}

/// Decodes a control record value as message `M` at `version`.
pub fn decode_control<M: Decodable>(value: &Bytes, version: i16) -> Result<M, BatchError> {
    let mut buf = value.clone();
    M::decode(&mut buf, version)
        .map_err(|e| BatchError::Encode(format!("decoding control record: {e}")))
}
