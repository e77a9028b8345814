//! The frame every metadata record travels in (Kafka's `MetadataRecordSerde`: unsigned varints
//! frame version 1, apiKey, record version, then the record body) and [`MetadataRecord`], the
//! one type for every record we understand: decode, encode and the `kafka-dump-log` JSON form.
//! The record structs themselves live in [`super::records`] and are re-exported here.

use bytes::{Bytes, BytesMut};
use serde_json::{json, Value};

pub use super::codec::{get_uvarint, put_uvarint, RecordError};
use super::codec::{Reader, Writer};
use super::json::{ordered, OrderedJson};
use super::records::RecordBody;
pub use super::records::{
    AbortTransactionRecord, AccessControlEntryRecord, BeginTransactionRecord,
    BrokerRegistrationChangeRecord, ConfigRecord, EndTransactionRecord, Endpoint,
    FeatureLevelRecord, FeatureRange, NoOpRecord, PartitionChangeRecord, PartitionRecord,
    ProducerIdsRecord, RegisterBrokerRecord, RegisterControllerRecord,
    RemoveAccessControlEntryRecord, RemoveTopicRecord, TopicRecord, UnregisterBrokerRecord,
    ZkMigrationStateRecord, NO_LEADER_CHANGE, NO_LEADER_RECOVERY_STATE_CHANGE,
};
pub use super::zk::{
    ZkSnapshotRecord, ZkTxnRecord, ZK_SNAPSHOT_RECORD_API_KEY, ZK_TXN_RECORD_API_KEY,
};

/// Frame version Kafka writes in front of every metadata record.
pub const FRAME_VERSION: u32 = 1;
/// apiKey of `FeatureLevelRecord`.
pub const FEATURE_LEVEL_RECORD_API_KEY: u16 = 12;

/// The frame header of a metadata record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordFrame {
    /// Record type (`FeatureLevelRecord` is 12, ...).
    pub api_key: u16,
    /// Version of the record schema.
    pub version: u16,
}

/// Encodes the frame header.
pub fn put_frame(out: &mut BytesMut, frame: RecordFrame) {
    put_uvarint(out, FRAME_VERSION);
    put_uvarint(out, frame.api_key as u32);
    put_uvarint(out, frame.version as u32);
}

/// Decodes the frame header, leaving `buf` at the record body.
pub fn get_frame(buf: &mut Bytes) -> Result<RecordFrame, RecordError> {
    let fv = get_uvarint(buf, "frame version")?;
    if fv != FRAME_VERSION {
        return Err(RecordError::BadFrameVersion(fv));
    }
    let api_key = get_uvarint(buf, "apiKey")?;
    let version = get_uvarint(buf, "version")?;
    let to_u16 = |v: u32, what: &str| {
        u16::try_from(v).map_err(|_| RecordError::Invalid(format!("{what} {v} out of range")))
    };
    Ok(RecordFrame {
        api_key: to_u16(api_key, "apiKey")?,
        version: to_u16(version, "version")?,
    })
}

impl FeatureLevelRecord {
    /// The framed record bytes (a record value in the metadata log).
    pub fn encode(&self) -> Bytes {
        MetadataRecord::FeatureLevel(self.clone()).encode()
    }

    /// Decodes a framed `FeatureLevelRecord`.
    pub fn decode(buf: Bytes) -> Result<FeatureLevelRecord, RecordError> {
        match MetadataRecord::decode(buf)? {
            MetadataRecord::FeatureLevel(r) => Ok(r),
            other => Err(RecordError::Invalid(format!(
                "expected FeatureLevelRecord, found {}",
                other.type_name()
            ))),
        }
    }
}

/// Every metadata record type we read and write, one variant per Kafka schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetadataRecord {
    /// apiKey 0.
    RegisterBroker(RegisterBrokerRecord),
    /// apiKey 1.
    UnregisterBroker(UnregisterBrokerRecord),
    /// apiKey 2.
    Topic(TopicRecord),
    /// apiKey 3.
    Partition(PartitionRecord),
    /// apiKey 4.
    Config(ConfigRecord),
    /// apiKey 5.
    PartitionChange(PartitionChangeRecord),
    /// apiKey 9.
    RemoveTopic(RemoveTopicRecord),
    /// apiKey 12.
    FeatureLevel(FeatureLevelRecord),
    /// apiKey 15.
    ProducerIds(ProducerIdsRecord),
    /// apiKey 17.
    BrokerRegistrationChange(BrokerRegistrationChangeRecord),
    /// apiKey 18.
    AccessControlEntry(AccessControlEntryRecord),
    /// apiKey 19.
    RemoveAccessControlEntry(RemoveAccessControlEntryRecord),
    /// apiKey 20.
    NoOp(NoOpRecord),
    /// apiKey 21.
    ZkMigrationState(ZkMigrationStateRecord),
    /// apiKey 23.
    BeginTransaction(BeginTransactionRecord),
    /// apiKey 24.
    EndTransaction(EndTransactionRecord),
    /// apiKey 25.
    AbortTransaction(AbortTransactionRecord),
    /// apiKey 27.
    RegisterController(RegisterControllerRecord),
    /// apiKey 10000 (ours): a ZooKeeper transaction.
    ZkTxn(ZkTxnRecord),
    /// apiKey 10001 (ours): part of the ZooKeeper tree, in snapshots only.
    ZkSnapshot(ZkSnapshotRecord),
}

/// Runs `$body` with `$r` bound to the inner record and `$T` to its type.
macro_rules! with_record {
    ($self:expr, $r:ident, $T:ident, $body:expr) => {
        match $self {
            MetadataRecord::RegisterBroker($r) => {
                type $T = RegisterBrokerRecord;
                $body
            }
            MetadataRecord::UnregisterBroker($r) => {
                type $T = UnregisterBrokerRecord;
                $body
            }
            MetadataRecord::Topic($r) => {
                type $T = TopicRecord;
                $body
            }
            MetadataRecord::Partition($r) => {
                type $T = PartitionRecord;
                $body
            }
            MetadataRecord::Config($r) => {
                type $T = ConfigRecord;
                $body
            }
            MetadataRecord::PartitionChange($r) => {
                type $T = PartitionChangeRecord;
                $body
            }
            MetadataRecord::RemoveTopic($r) => {
                type $T = RemoveTopicRecord;
                $body
            }
            MetadataRecord::FeatureLevel($r) => {
                type $T = FeatureLevelRecord;
                $body
            }
            MetadataRecord::ProducerIds($r) => {
                type $T = ProducerIdsRecord;
                $body
            }
            MetadataRecord::BrokerRegistrationChange($r) => {
                type $T = BrokerRegistrationChangeRecord;
                $body
            }
            MetadataRecord::AccessControlEntry($r) => {
                type $T = AccessControlEntryRecord;
                $body
            }
            MetadataRecord::RemoveAccessControlEntry($r) => {
                type $T = RemoveAccessControlEntryRecord;
                $body
            }
            MetadataRecord::NoOp($r) => {
                type $T = NoOpRecord;
                $body
            }
            MetadataRecord::ZkMigrationState($r) => {
                type $T = ZkMigrationStateRecord;
                $body
            }
            MetadataRecord::BeginTransaction($r) => {
                type $T = BeginTransactionRecord;
                $body
            }
            MetadataRecord::EndTransaction($r) => {
                type $T = EndTransactionRecord;
                $body
            }
            MetadataRecord::AbortTransaction($r) => {
                type $T = AbortTransactionRecord;
                $body
            }
            MetadataRecord::RegisterController($r) => {
                type $T = RegisterControllerRecord;
                $body
            }
            MetadataRecord::ZkTxn($r) => {
                type $T = ZkTxnRecord;
                $body
            }
            MetadataRecord::ZkSnapshot($r) => {
                type $T = ZkSnapshotRecord;
                $body
            }
        }
    };
}

fn read_body<T: RecordBody>(
    body: &[u8],
    version: u16,
    wrap: fn(T) -> MetadataRecord,
) -> Result<MetadataRecord, RecordError> {
    if version > T::MAX_VERSION {
        return Err(RecordError::UnsupportedVersion {
            api_key: T::API_KEY,
            name: T::TYPE_NAME,
            version,
            max_version: T::MAX_VERSION,
        });
    }
    let mut r = Reader::new(body);
    let rec = T::read(&mut r, version)?;
    if r.remaining() > 0 {
        return Err(RecordError::TrailingBytes(r.remaining(), T::TYPE_NAME));
    }
    Ok(wrap(rec))
}

impl MetadataRecord {
    /// The record's apiKey.
    pub fn api_key(&self) -> u16 {
        with_record!(self, _r, T, T::API_KEY)
    }

    /// The version [`MetadataRecord::encode`] writes: the newest we support (RegisterBroker v3,
    /// Partition v2, PartitionChange v2, BrokerRegistrationChange v2, every other type v0).
    pub fn version(&self) -> u16 {
        with_record!(self, _r, T, T::MAX_VERSION)
    }

    /// The newest version we support for `api_key`, or `None` for an unknown record type.
    pub fn max_version_of(api_key: u16) -> Option<u16> {
        Some(match api_key {
            0 => RegisterBrokerRecord::MAX_VERSION,
            3 => PartitionRecord::MAX_VERSION,
            5 => PartitionChangeRecord::MAX_VERSION,
            17 => BrokerRegistrationChangeRecord::MAX_VERSION,
            1 | 2 | 4 | 9 | 12 | 15 | 18 | 19 | 20 | 21 | 23 | 24 | 25 | 27 => 0,
            ZK_TXN_RECORD_API_KEY | ZK_SNAPSHOT_RECORD_API_KEY => 0,
            _ => return None,
        })
    }

    /// Kafka's `MetadataRecordType` name, e.g. `TOPIC_RECORD`.
    pub fn type_name(&self) -> &'static str {
        with_record!(self, _r, T, T::TYPE_NAME)
    }

    /// The framed record (frame version 1, apiKey, [`MetadataRecord::version`], body): a record
    /// value in the metadata log. Lengths are not checked here: strings over 32767 bytes (which
    /// [`MetadataRecord::decode`] rejects, as Kafka does) must be refused by whoever builds the
    /// record.
    pub fn encode(&self) -> Bytes {
        self.encode_unchecked(self.version())
    }

    /// The framed record at an older `version`, for readers that only know older schemas.
    /// Fails if the version is unsupported or a field with a non-default value does not exist
    /// at that version (Kafka's `UnsupportedVersionException` for non-ignorable fields).
    pub fn encode_at(&self, version: u16) -> Result<Bytes, RecordError> {
        if version > self.version() {
            return Err(RecordError::UnsupportedVersion {
                api_key: self.api_key(),
                name: self.type_name(),
                version,
                max_version: self.version(),
            });
        }
        let bytes = self.encode_unchecked(version);
        if MetadataRecord::decode(bytes.clone()).as_ref() != Ok(self) {
            return Err(RecordError::Invalid(format!(
                "{} has fields that cannot be represented at version {version}",
                self.type_name()
            )));
        }
        Ok(bytes)
    }

    fn encode_unchecked(&self, version: u16) -> Bytes {
        let mut w = Writer::default();
        let frame = RecordFrame {
            api_key: self.api_key(),
            version,
        };
        put_frame(&mut w.out, frame);
        with_record!(self, r, _T, r.write(&mut w, version));
        w.out.freeze()
    }

    /// Decodes a framed record at any version up to the newest we support. Unknown apiKeys and
    /// versions, truncated or oversized fields and trailing garbage are errors, never panics.
    pub fn decode(buf: Bytes) -> Result<MetadataRecord, RecordError> {
        Self::decode_with_frame(buf).map(|(_, r)| r)
    }

    /// Like [`MetadataRecord::decode`], also returning the frame (the version it was read at).
    pub fn decode_with_frame(mut buf: Bytes) -> Result<(RecordFrame, MetadataRecord), RecordError> {
        let frame = get_frame(&mut buf)?;
        let (body, v) = (&buf[..], frame.version);
        let rec = match frame.api_key {
            0 => read_body(body, v, MetadataRecord::RegisterBroker),
            1 => read_body(body, v, MetadataRecord::UnregisterBroker),
            2 => read_body(body, v, MetadataRecord::Topic),
            3 => read_body(body, v, MetadataRecord::Partition),
            4 => read_body(body, v, MetadataRecord::Config),
            5 => read_body(body, v, MetadataRecord::PartitionChange),
            9 => read_body(body, v, MetadataRecord::RemoveTopic),
            12 => read_body(body, v, MetadataRecord::FeatureLevel),
            15 => read_body(body, v, MetadataRecord::ProducerIds),
            17 => read_body(body, v, MetadataRecord::BrokerRegistrationChange),
            18 => read_body(body, v, MetadataRecord::AccessControlEntry),
            19 => read_body(body, v, MetadataRecord::RemoveAccessControlEntry),
            20 => read_body(body, v, MetadataRecord::NoOp),
            21 => read_body(body, v, MetadataRecord::ZkMigrationState),
            23 => read_body(body, v, MetadataRecord::BeginTransaction),
            24 => read_body(body, v, MetadataRecord::EndTransaction),
            25 => read_body(body, v, MetadataRecord::AbortTransaction),
            27 => read_body(body, v, MetadataRecord::RegisterController),
            ZK_TXN_RECORD_API_KEY => read_body(body, v, MetadataRecord::ZkTxn),
            ZK_SNAPSHOT_RECORD_API_KEY => read_body(body, v, MetadataRecord::ZkSnapshot),
            other => Err(RecordError::UnknownApiKey(other)),
        }?;
        Ok((frame, rec))
    }

    /// The `kafka-dump-log --cluster-metadata-decoder` payload at the version we write:
    /// `{"type":"TOPIC_RECORD","version":0,"data":{...}}`.
    pub fn to_json(&self) -> Value {
        self.to_json_at(self.version())
    }

    /// The dump-log payload as read at `version` (fields the version lacks are left out, as
    /// are tagged fields at their default). `version` is clamped to the newest we support.
    pub fn to_json_at(&self, version: u16) -> Value {
        self.ordered_json(version).to_value()
    }

    /// The dump-log payload as compact JSON text with fields in Kafka's order (type, version,
    /// data; data fields in schema order), e.g.
    /// `{"type":"TOPIC_RECORD","version":0,"data":{"name":"foo","topicId":"..."}}`.
    pub fn to_json_string(&self) -> String {
        self.to_json_string_at(self.version())
    }

    /// [`MetadataRecord::to_json_string`] as read at `version` (clamped to the newest we
    /// support), for dumping records exactly as they are stored.
    pub fn to_json_string_at(&self, version: u16) -> String {
        let mut out = String::new();
        self.ordered_json(version).write(&mut out);
        out
    }

    fn ordered_json(&self, version: u16) -> OrderedJson {
        let version = version.min(self.version());
        let data = with_record!(self, r, _T, r.json(version));
        ordered! {"type" => json!(self.type_name()), "version" => json!(version), "data" => data}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn feature_level_bytes_match_kafka_layout() {
        let r = FeatureLevelRecord {
            name: "metadata.version".into(),
            feature_level: 21,
        };
        let b = r.encode();
        // frame 1, apiKey 12, version 0, compact string len 17, name, int16 21, no tags.
        assert_eq!(&b[..4], &[1, 12, 0, 17]);
        assert_eq!(&b[4..20], b"metadata.version");
        assert_eq!(&b[20..], &[0, 21, 0]);
        assert_eq!(FeatureLevelRecord::decode(b).unwrap(), r);
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = FeatureLevelRecord::decode(Bytes::from(bytes));
        }

        #[test]
        fn uvarint_round_trips(v in any::<u32>()) {
            let mut out = BytesMut::new();
            put_uvarint(&mut out, v);
            prop_assert_eq!(get_uvarint(&mut out.freeze(), "v").unwrap(), v);
        }
    }
}
