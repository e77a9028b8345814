//! The metadata record types, one plain struct per Kafka schema
//! (`metadata/src/main/resources/common/metadata/*.json`), with their body encoding at every
//! version we read and their `kafka-dump-log` JSON form. All are flexible ("0+"): compact
//! strings and arrays, 16-byte uuids, a tagged-field section at the end of each struct.
//! Fields that a version does not carry take the schema default when read.

use metaquorum_log::kafka_uuid::to_kafka_string;
use serde_json::{json, Value};
use uuid::Uuid;

use super::codec::{tagged, Reader, RecordError, Writer};
use super::json::{ordered, ObjectBuilder, OrderedJson};

/// One record type's body: its apiKey, newest version, encoding and JSON form.
pub(crate) trait RecordBody: Sized {
    /// The schema's apiKey.
    const API_KEY: u16;
    /// The newest version we read and write.
    const MAX_VERSION: u16;
    /// `MetadataRecordType` name as `kafka-dump-log` prints it.
    const TYPE_NAME: &'static str;
    /// Writes the body at `version` (≤ `MAX_VERSION`).
    fn write(&self, w: &mut Writer, version: u16);
    /// Reads the body at `version` (≤ `MAX_VERSION`).
    fn read(r: &mut Reader<'_>, version: u16) -> Result<Self, RecordError>;
    /// The `data` object of the dump-log JSON at `version`.
    fn json(&self, version: u16) -> OrderedJson;
}

fn uuid_json(id: &Uuid) -> Value {
    Value::String(to_kafka_string(*id))
}

fn uuids_json(ids: &[Uuid]) -> Value {
    Value::Array(ids.iter().map(uuid_json).collect())
}

/// A listener endpoint (`BrokerEndpoint` / `ControllerEndpoint`: same fields and encoding).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint {
    /// Listener name, e.g. `PLAINTEXT`.
    pub name: String,
    /// Host name.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Security protocol id (PLAINTEXT 0, SSL 1, SASL_PLAINTEXT 2, SASL_SSL 3).
    pub security_protocol: i16,
}

impl Endpoint {
    /// Smallest encoding: two empty compact strings, port, protocol, empty tag section.
    const MIN_BYTES: usize = 7;

    fn write(&self, w: &mut Writer) {
        w.string(&self.name);
        w.string(&self.host);
        w.u16(self.port);
        w.i16(self.security_protocol);
        w.no_tagged_fields();
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, RecordError> {
        let e = Endpoint {
            name: r.string("endpoint name")?,
            host: r.string("endpoint host")?,
            port: r.u16("endpoint port")?,
            security_protocol: r.i16("endpoint security protocol")?,
        };
        r.skip_tagged_fields()?;
        Ok(e)
    }

    fn json(&self) -> OrderedJson {
        ordered! {
            "name" => json!(self.name),
            "host" => json!(self.host),
            "port" => json!(self.port),
            "securityProtocol" => json!(self.security_protocol),
        }
    }
}

/// A supported feature range (`BrokerFeature` / `ControllerFeature`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FeatureRange {
    /// Feature name.
    pub name: String,
    /// Lowest supported level.
    pub min_supported_version: i16,
    /// Highest supported level.
    pub max_supported_version: i16,
}

impl FeatureRange {
    const MIN_BYTES: usize = 6;

    fn write(&self, w: &mut Writer) {
        w.string(&self.name);
        w.i16(self.min_supported_version);
        w.i16(self.max_supported_version);
        w.no_tagged_fields();
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, RecordError> {
        let f = FeatureRange {
            name: r.string("feature name")?,
            min_supported_version: r.i16("feature min version")?,
            max_supported_version: r.i16("feature max version")?,
        };
        r.skip_tagged_fields()?;
        Ok(f)
    }

    fn json(&self) -> OrderedJson {
        ordered! {
            "name" => json!(self.name),
            "minSupportedVersion" => json!(self.min_supported_version),
            "maxSupportedVersion" => json!(self.max_supported_version),
        }
    }
}

/// `RegisterBrokerRecord` (apiKey 0, v0-3): a broker registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterBrokerRecord {
    /// Broker id.
    pub broker_id: i32,
    /// v2+: a ZooKeeper-mode broker registering during migration (KIP-866).
    pub is_migrating_zk_broker: bool,
    /// Incarnation id, fresh on every process start.
    pub incarnation_id: Uuid,
    /// Broker epoch (the offset of this record when it was committed).
    pub broker_epoch: i64,
    /// Listener endpoints.
    pub end_points: Vec<Endpoint>,
    /// Supported feature ranges.
    pub features: Vec<FeatureRange>,
    /// Rack, if any.
    pub rack: Option<String>,
    /// Whether the broker starts fenced (default true).
    pub fenced: bool,
    /// v1+: whether the broker is in controlled shutdown.
    pub in_controlled_shutdown: bool,
    /// v3+ (tag 0): log directory ids (KIP-858).
    pub log_dirs: Vec<Uuid>,
}

impl RecordBody for RegisterBrokerRecord {
    const API_KEY: u16 = 0;
    const MAX_VERSION: u16 = 3;
    const TYPE_NAME: &'static str = "REGISTER_BROKER_RECORD";

    fn write(&self, w: &mut Writer, version: u16) {
        w.i32(self.broker_id);
        if version >= 2 {
            w.bool(self.is_migrating_zk_broker);
        }
        w.uuid(&self.incarnation_id);
        w.i64(self.broker_epoch);
        w.array_of(&self.end_points, |w, e| e.write(w));
        w.array_of(&self.features, |w, f| f.write(w));
        w.nullable_string(self.rack.as_deref());
        w.bool(self.fenced);
        if version >= 1 {
            w.bool(self.in_controlled_shutdown);
        }
        let log_dirs = (version >= 3 && !self.log_dirs.is_empty())
            .then(|| tagged(|w| w.uuid_array(&self.log_dirs)))
            .flatten();
        w.tagged_fields(vec![(0, log_dirs)]);
    }

    fn read(r: &mut Reader<'_>, version: u16) -> Result<Self, RecordError> {
        let broker_id = r.i32("BrokerId")?;
        let is_migrating_zk_broker = version >= 2 && r.bool("IsMigratingZkBroker")?;
        let incarnation_id = r.uuid("IncarnationId")?;
        let broker_epoch = r.i64("BrokerEpoch")?;
        let end_points = r.array_of("EndPoints", Endpoint::MIN_BYTES, Endpoint::read)?;
        let features = r.array_of("Features", FeatureRange::MIN_BYTES, FeatureRange::read)?;
        let rack = r.nullable_string("Rack")?;
        let fenced = r.bool("Fenced")?;
        let in_controlled_shutdown = version >= 1 && r.bool("InControlledShutdown")?;
        let mut log_dirs = Vec::new();
        r.tagged_fields(|tag, f| match tag {
            0 if version >= 3 => {
                log_dirs = f.uuid_array("LogDirs")?;
                Ok(true)
            }
            _ => Ok(false),
        })?;
        Ok(RegisterBrokerRecord {
            broker_id,
            is_migrating_zk_broker,
            incarnation_id,
            broker_epoch,
            end_points,
            features,
            rack,
            fenced,
            in_controlled_shutdown,
            log_dirs,
        })
    }

    fn json(&self, version: u16) -> OrderedJson {
        let mut m = ObjectBuilder::default();
        m.put("brokerId", json!(self.broker_id));
        if version >= 2 {
            m.put("isMigratingZkBroker", json!(self.is_migrating_zk_broker));
        }
        m.put("incarnationId", uuid_json(&self.incarnation_id));
        m.put("brokerEpoch", json!(self.broker_epoch));
        m.put(
            "endPoints",
            OrderedJson::Array(self.end_points.iter().map(Endpoint::json).collect()),
        );
        m.put(
            "features",
            OrderedJson::Array(self.features.iter().map(FeatureRange::json).collect()),
        );
        m.put("rack", json!(self.rack));
        m.put("fenced", json!(self.fenced));
        if version >= 1 {
            m.put("inControlledShutdown", json!(self.in_controlled_shutdown));
        }
        if version >= 3 && !self.log_dirs.is_empty() {
            m.put("logDirs", uuids_json(&self.log_dirs));
        }
        m.build()
    }
}

/// `UnregisterBrokerRecord` (apiKey 1, v0): removes a broker registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnregisterBrokerRecord {
    /// Broker id.
    pub broker_id: i32,
    /// Broker epoch of the registration being removed.
    pub broker_epoch: i64,
}

impl RecordBody for UnregisterBrokerRecord {
    const API_KEY: u16 = 1;
    const MAX_VERSION: u16 = 0;
    const TYPE_NAME: &'static str = "UNREGISTER_BROKER_RECORD";

    fn write(&self, w: &mut Writer, _version: u16) {
        w.i32(self.broker_id);
        w.i64(self.broker_epoch);
        w.no_tagged_fields();
    }

    fn read(r: &mut Reader<'_>, _version: u16) -> Result<Self, RecordError> {
        let rec = UnregisterBrokerRecord {
            broker_id: r.i32("BrokerId")?,
            broker_epoch: r.i64("BrokerEpoch")?,
        };
        r.skip_tagged_fields()?;
        Ok(rec)
    }

    fn json(&self, _version: u16) -> OrderedJson {
        ordered! {"brokerId" => json!(self.broker_id), "brokerEpoch" => json!(self.broker_epoch)}
    }
}

/// `TopicRecord` (apiKey 2, v0): creates a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicRecord {
    /// Topic name.
    pub name: String,
    /// Topic id.
    pub topic_id: Uuid,
}

impl RecordBody for TopicRecord {
    const API_KEY: u16 = 2;
    const MAX_VERSION: u16 = 0;
    const TYPE_NAME: &'static str = "TOPIC_RECORD";

    fn write(&self, w: &mut Writer, _version: u16) {
        w.string(&self.name);
        w.uuid(&self.topic_id);
        w.no_tagged_fields();
    }

    fn read(r: &mut Reader<'_>, _version: u16) -> Result<Self, RecordError> {
        let rec = TopicRecord {
            name: r.string("Name")?,
            topic_id: r.uuid("TopicId")?,
        };
        r.skip_tagged_fields()?;
        Ok(rec)
    }

    fn json(&self, _version: u16) -> OrderedJson {
        ordered! {"name" => json!(self.name), "topicId" => json!(to_kafka_string(self.topic_id))}
    }
}

/// `PartitionRecord` (apiKey 3, v0-2): the full state of one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionRecord {
    /// Partition index.
    pub partition_id: i32,
    /// Topic id.
    pub topic_id: Uuid,
    /// Replica broker ids, preferred leader first.
    pub replicas: Vec<i32>,
    /// In-sync replicas.
    pub isr: Vec<i32>,
    /// Replicas being removed by a reassignment.
    pub removing_replicas: Vec<i32>,
    /// Replicas being added by a reassignment.
    pub adding_replicas: Vec<i32>,
    /// Leader broker id, -1 for none.
    pub leader: i32,
    /// Tag 0: 0 recovered, 1 recovering (KIP-704). Default 0.
    pub leader_recovery_state: i8,
    /// Leader epoch.
    pub leader_epoch: i32,
    /// Partition epoch, bumped on every change.
    pub partition_epoch: i32,
    /// v1+: log directory of each replica (KIP-858).
    pub directories: Vec<Uuid>,
    /// v2+ (tag 1): eligible leader replicas (KIP-966); `None` is the default.
    pub eligible_leader_replicas: Option<Vec<i32>>,
    /// v2+ (tag 2): last known ELR (KIP-966); `None` is the default.
    pub last_known_elr: Option<Vec<i32>>,
}

impl RecordBody for PartitionRecord {
    const API_KEY: u16 = 3;
    const MAX_VERSION: u16 = 2;
    const TYPE_NAME: &'static str = "PARTITION_RECORD";

    fn write(&self, w: &mut Writer, version: u16) {
        w.i32(self.partition_id);
        w.uuid(&self.topic_id);
        w.i32_array(&self.replicas);
        w.i32_array(&self.isr);
        w.i32_array(&self.removing_replicas);
        w.i32_array(&self.adding_replicas);
        w.i32(self.leader);
        w.i32(self.leader_epoch);
        w.i32(self.partition_epoch);
        if version >= 1 {
            w.uuid_array(&self.directories);
        }
        let lrs = (self.leader_recovery_state != 0)
            .then(|| tagged(|w| w.i8(self.leader_recovery_state)))
            .flatten();
        let elr = match (&self.eligible_leader_replicas, version >= 2) {
            (Some(v), true) => tagged(|w| w.i32_array(v)),
            _ => None,
        };
        let lke = match (&self.last_known_elr, version >= 2) {
            (Some(v), true) => tagged(|w| w.i32_array(v)),
            _ => None,
        };
        w.tagged_fields(vec![(0, lrs), (1, elr), (2, lke)]);
    }

    fn read(r: &mut Reader<'_>, version: u16) -> Result<Self, RecordError> {
        let partition_id = r.i32("PartitionId")?;
        let topic_id = r.uuid("TopicId")?;
        let replicas = r.i32_array("Replicas")?;
        let isr = r.i32_array("Isr")?;
        let removing_replicas = r.i32_array("RemovingReplicas")?;
        let adding_replicas = r.i32_array("AddingReplicas")?;
        let leader = r.i32("Leader")?;
        let leader_epoch = r.i32("LeaderEpoch")?;
        let partition_epoch = r.i32("PartitionEpoch")?;
        let directories = if version >= 1 {
            r.uuid_array("Directories")?
        } else {
            Vec::new()
        };
        let mut leader_recovery_state = 0;
        let mut eligible_leader_replicas = None;
        let mut last_known_elr = None;
        r.tagged_fields(|tag, f| match tag {
            0 => {
                leader_recovery_state = f.i8("LeaderRecoveryState")?;
                Ok(true)
            }
            1 if version >= 2 => {
                eligible_leader_replicas = f.nullable_i32_array("EligibleLeaderReplicas")?;
                Ok(true)
            }
            2 if version >= 2 => {
                last_known_elr = f.nullable_i32_array("LastKnownElr")?;
                Ok(true)
            }
            _ => Ok(false),
        })?;
        Ok(PartitionRecord {
            partition_id,
            topic_id,
            replicas,
            isr,
            removing_replicas,
            adding_replicas,
            leader,
            leader_recovery_state,
            leader_epoch,
            partition_epoch,
            directories,
            eligible_leader_replicas,
            last_known_elr,
        })
    }

    fn json(&self, version: u16) -> OrderedJson {
        let mut m = ObjectBuilder::default();
        m.put("partitionId", json!(self.partition_id));
        m.put("topicId", uuid_json(&self.topic_id));
        m.put("replicas", json!(self.replicas));
        m.put("isr", json!(self.isr));
        m.put("removingReplicas", json!(self.removing_replicas));
        m.put("addingReplicas", json!(self.adding_replicas));
        m.put("leader", json!(self.leader));
        if self.leader_recovery_state != 0 {
            m.put("leaderRecoveryState", json!(self.leader_recovery_state));
        }
        m.put("leaderEpoch", json!(self.leader_epoch));
        m.put("partitionEpoch", json!(self.partition_epoch));
        if version >= 1 {
            m.put("directories", uuids_json(&self.directories));
        }
        if version >= 2 {
            if let Some(v) = &self.eligible_leader_replicas {
                m.put("eligibleLeaderReplicas", json!(v));
            }
            if let Some(v) = &self.last_known_elr {
                m.put("lastKnownElr", json!(v));
            }
        }
        m.build()
    }
}

/// `ConfigRecord` (apiKey 4, v0): sets (or, with a null value, deletes) one dynamic config key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigRecord {
    /// Resource type (`ConfigResource.Type`: TOPIC 2, BROKER 4, BROKER_LOGGER 8, ...).
    pub resource_type: i8,
    /// Resource name; empty for the cluster-wide broker default.
    pub resource_name: String,
    /// Config key.
    pub name: String,
    /// Value, or `None` to delete the key.
    pub value: Option<String>,
}

impl RecordBody for ConfigRecord {
    const API_KEY: u16 = 4;
    const MAX_VERSION: u16 = 0;
    const TYPE_NAME: &'static str = "CONFIG_RECORD";

    fn write(&self, w: &mut Writer, _version: u16) {
        w.i8(self.resource_type);
        w.string(&self.resource_name);
        w.string(&self.name);
        w.nullable_string(self.value.as_deref());
        w.no_tagged_fields();
    }

    fn read(r: &mut Reader<'_>, _version: u16) -> Result<Self, RecordError> {
        let rec = ConfigRecord {
            resource_type: r.i8("ResourceType")?,
            resource_name: r.string("ResourceName")?,
            name: r.string("Name")?,
            value: r.nullable_string("Value")?,
        };
        r.skip_tagged_fields()?;
        Ok(rec)
    }

    fn json(&self, _version: u16) -> OrderedJson {
        ordered! {
            "resourceType" => json!(self.resource_type),
            "resourceName" => json!(self.resource_name),
            "name" => json!(self.name),
            "value" => json!(self.value),
        }
    }
}

/// `PartitionChangeRecord.Leader` value meaning "the leader does not change".
pub const NO_LEADER_CHANGE: i32 = -2;
/// `PartitionChangeRecord.LeaderRecoveryState` value meaning "no change".
pub const NO_LEADER_RECOVERY_STATE_CHANGE: i8 = -1;

/// `PartitionChangeRecord` (apiKey 5, v0-2): a change to a partition. Every field but the ids
/// is tagged; a field at its default (`None`, leader -2, recovery state -1) means "no change".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionChangeRecord {
    /// Partition index.
    pub partition_id: i32,
    /// Topic id.
    pub topic_id: Uuid,
    /// Tag 0: new ISR.
    pub isr: Option<Vec<i32>>,
    /// Tag 1: new leader; -1 none, -2 ([`NO_LEADER_CHANGE`]) unchanged.
    pub leader: i32,
    /// Tag 2: new replicas.
    pub replicas: Option<Vec<i32>>,
    /// Tag 3: new removing replicas.
    pub removing_replicas: Option<Vec<i32>>,
    /// Tag 4: new adding replicas.
    pub adding_replicas: Option<Vec<i32>>,
    /// Tag 5: new leader recovery state; -1 unchanged.
    pub leader_recovery_state: i8,
    /// v1+ (tag 8): new replica directories.
    pub directories: Option<Vec<Uuid>>,
    /// v2+ (tag 6): new eligible leader replicas.
    pub eligible_leader_replicas: Option<Vec<i32>>,
    /// v2+ (tag 7): new last known ELR.
    pub last_known_elr: Option<Vec<i32>>,
}

impl PartitionChangeRecord {
    /// A change to `topic_id`/`partition_id` that changes nothing yet.
    pub fn new(topic_id: Uuid, partition_id: i32) -> Self {
        PartitionChangeRecord {
            partition_id,
            topic_id,
            isr: None,
            leader: NO_LEADER_CHANGE,
            replicas: None,
            removing_replicas: None,
            adding_replicas: None,
            leader_recovery_state: NO_LEADER_RECOVERY_STATE_CHANGE,
            directories: None,
            eligible_leader_replicas: None,
            last_known_elr: None,
        }
    }
}

impl RecordBody for PartitionChangeRecord {
    const API_KEY: u16 = 5;
    const MAX_VERSION: u16 = 2;
    const TYPE_NAME: &'static str = "PARTITION_CHANGE_RECORD";

    fn write(&self, w: &mut Writer, version: u16) {
        w.i32(self.partition_id);
        w.uuid(&self.topic_id);
        let ints = |v: &Option<Vec<i32>>, present: bool| match v {
            Some(v) if present => tagged(|w| w.i32_array(v)),
            _ => None,
        };
        let leader = (self.leader != NO_LEADER_CHANGE)
            .then(|| tagged(|w| w.i32(self.leader)))
            .flatten();
        let lrs = (self.leader_recovery_state != NO_LEADER_RECOVERY_STATE_CHANGE)
            .then(|| tagged(|w| w.i8(self.leader_recovery_state)))
            .flatten();
        let dirs = match &self.directories {
            Some(d) if version >= 1 => tagged(|w| w.uuid_array(d)),
            _ => None,
        };
        w.tagged_fields(vec![
            (0, ints(&self.isr, true)),
            (1, leader),
            (2, ints(&self.replicas, true)),
            (3, ints(&self.removing_replicas, true)),
            (4, ints(&self.adding_replicas, true)),
            (5, lrs),
            (6, ints(&self.eligible_leader_replicas, version >= 2)),
            (7, ints(&self.last_known_elr, version >= 2)),
            (8, dirs),
        ]);
    }

    fn read(r: &mut Reader<'_>, version: u16) -> Result<Self, RecordError> {
        let partition_id = r.i32("PartitionId")?;
        let topic_id = r.uuid("TopicId")?;
        let mut rec = PartitionChangeRecord::new(topic_id, partition_id);
        r.tagged_fields(|tag, f| {
            match tag {
                0 => rec.isr = f.nullable_i32_array("Isr")?,
                1 => rec.leader = f.i32("Leader")?,
                2 => rec.replicas = f.nullable_i32_array("Replicas")?,
                3 => rec.removing_replicas = f.nullable_i32_array("RemovingReplicas")?,
                4 => rec.adding_replicas = f.nullable_i32_array("AddingReplicas")?,
                5 => rec.leader_recovery_state = f.i8("LeaderRecoveryState")?,
                6 if version >= 2 => {
                    rec.eligible_leader_replicas = f.nullable_i32_array("EligibleLeaderReplicas")?
                }
                7 if version >= 2 => rec.last_known_elr = f.nullable_i32_array("LastKnownElr")?,
                8 if version >= 1 => rec.directories = f.nullable_uuid_array("Directories")?,
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(rec)
    }

    fn json(&self, version: u16) -> OrderedJson {
        let mut m = ObjectBuilder::default();
        m.put("partitionId", json!(self.partition_id));
        m.put("topicId", uuid_json(&self.topic_id));
        if let Some(v) = &self.isr {
            m.put("isr", json!(v));
        }
        if self.leader != NO_LEADER_CHANGE {
            m.put("leader", json!(self.leader));
        }
        if let Some(v) = &self.replicas {
            m.put("replicas", json!(v));
        }
        if let Some(v) = &self.removing_replicas {
            m.put("removingReplicas", json!(v));
        }
        if let Some(v) = &self.adding_replicas {
            m.put("addingReplicas", json!(v));
        }
        if self.leader_recovery_state != NO_LEADER_RECOVERY_STATE_CHANGE {
            m.put("leaderRecoveryState", json!(self.leader_recovery_state));
        }
        if version >= 1 {
            if let Some(d) = &self.directories {
                m.put("directories", uuids_json(d));
            }
        }
        if version >= 2 {
            if let Some(v) = &self.eligible_leader_replicas {
                m.put("eligibleLeaderReplicas", json!(v));
            }
            if let Some(v) = &self.last_known_elr {
                m.put("lastKnownElr", json!(v));
            }
        }
        m.build()
    }
}

/// `RemoveTopicRecord` (apiKey 9, v0): deletes a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoveTopicRecord {
    /// Topic id.
    pub topic_id: Uuid,
}

impl RecordBody for RemoveTopicRecord {
    const API_KEY: u16 = 9;
    const MAX_VERSION: u16 = 0;
    const TYPE_NAME: &'static str = "REMOVE_TOPIC_RECORD";

    fn write(&self, w: &mut Writer, _version: u16) {
        w.uuid(&self.topic_id);
        w.no_tagged_fields();
    }

    fn read(r: &mut Reader<'_>, _version: u16) -> Result<Self, RecordError> {
        let rec = RemoveTopicRecord {
            topic_id: r.uuid("TopicId")?,
        };
        r.skip_tagged_fields()?;
        Ok(rec)
    }

    fn json(&self, _version: u16) -> OrderedJson {
        ordered! {"topicId" => json!(to_kafka_string(self.topic_id))}
    }
}

/// `FeatureLevelRecord` (apiKey 12, v0): a finalized feature level such as `metadata.version`.
/// Level 0 removes the feature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureLevelRecord {
    /// Feature name.
    pub name: String,
    /// Finalized level.
    pub feature_level: i16,
}

impl RecordBody for FeatureLevelRecord {
    const API_KEY: u16 = 12;
    const MAX_VERSION: u16 = 0;
    const TYPE_NAME: &'static str = "FEATURE_LEVEL_RECORD";

    fn write(&self, w: &mut Writer, _version: u16) {
        w.string(&self.name);
        w.i16(self.feature_level);
        w.no_tagged_fields();
    }

    fn read(r: &mut Reader<'_>, _version: u16) -> Result<Self, RecordError> {
        let rec = FeatureLevelRecord {
            name: r.string("Name")?,
            feature_level: r.i16("FeatureLevel")?,
        };
        r.skip_tagged_fields()?;
        Ok(rec)
    }

    fn json(&self, _version: u16) -> OrderedJson {
        ordered! {"name" => json!(self.name), "featureLevel" => json!(self.feature_level)}
    }
}

/// `ProducerIdsRecord` (apiKey 15, v0): the next producer-id block handed out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerIdsRecord {
    /// Broker the block went to (-1 in snapshots).
    pub broker_id: i32,
    /// That broker's epoch (-1 in snapshots).
    pub broker_epoch: i64,
    /// First producer id not yet handed out.
    pub next_producer_id: i64,
}

impl RecordBody for ProducerIdsRecord {
    const API_KEY: u16 = 15;
    const MAX_VERSION: u16 = 0;
    const TYPE_NAME: &'static str = "PRODUCER_IDS_RECORD";

    fn write(&self, w: &mut Writer, _version: u16) {
        w.i32(self.broker_id);
        w.i64(self.broker_epoch);
        w.i64(self.next_producer_id);
        w.no_tagged_fields();
    }

    fn read(r: &mut Reader<'_>, _version: u16) -> Result<Self, RecordError> {
        let rec = ProducerIdsRecord {
            broker_id: r.i32("BrokerId")?,
            broker_epoch: r.i64("BrokerEpoch")?,
            next_producer_id: r.i64("NextProducerId")?,
        };
        r.skip_tagged_fields()?;
        Ok(rec)
    }

    fn json(&self, _version: u16) -> OrderedJson {
        ordered! {
            "brokerId" => json!(self.broker_id),
            "brokerEpoch" => json!(self.broker_epoch),
            "nextProducerId" => json!(self.next_producer_id),
        }
    }
}

/// `BrokerRegistrationChangeRecord` (apiKey 17, v0-2): changes a registered broker's flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerRegistrationChangeRecord {
    /// Broker id.
    pub broker_id: i32,
    /// Broker epoch; must match the registration.
    pub broker_epoch: i64,
    /// Tag 0 (`BrokerRegistrationFencingChange`): 1 fence, 0 no change, -1 unfence.
    pub fenced: i8,
    /// v1+ (tag 1, `BrokerRegistrationInControlledShutdownChange`): 1 enters controlled
    /// shutdown, 0 no change.
    pub in_controlled_shutdown: i8,
    /// v2+ (tag 2): new log directories; empty means no change.
    pub log_dirs: Vec<Uuid>,
}

impl RecordBody for BrokerRegistrationChangeRecord {
    const API_KEY: u16 = 17;
    const MAX_VERSION: u16 = 2;
    const TYPE_NAME: &'static str = "BROKER_REGISTRATION_CHANGE_RECORD";

    fn write(&self, w: &mut Writer, version: u16) {
        w.i32(self.broker_id);
        w.i64(self.broker_epoch);
        let fenced = (self.fenced != 0)
            .then(|| tagged(|w| w.i8(self.fenced)))
            .flatten();
        let ics = (version >= 1 && self.in_controlled_shutdown != 0)
            .then(|| tagged(|w| w.i8(self.in_controlled_shutdown)))
            .flatten();
        let dirs = (version >= 2 && !self.log_dirs.is_empty())
            .then(|| tagged(|w| w.uuid_array(&self.log_dirs)))
            .flatten();
        w.tagged_fields(vec![(0, fenced), (1, ics), (2, dirs)]);
    }

    fn read(r: &mut Reader<'_>, version: u16) -> Result<Self, RecordError> {
        let mut rec = BrokerRegistrationChangeRecord {
            broker_id: r.i32("BrokerId")?,
            broker_epoch: r.i64("BrokerEpoch")?,
            fenced: 0,
            in_controlled_shutdown: 0,
            log_dirs: Vec::new(),
        };
        r.tagged_fields(|tag, f| {
            match tag {
                0 => rec.fenced = f.i8("Fenced")?,
                1 if version >= 1 => rec.in_controlled_shutdown = f.i8("InControlledShutdown")?,
                2 if version >= 2 => rec.log_dirs = f.uuid_array("LogDirs")?,
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(rec)
    }

    fn json(&self, version: u16) -> OrderedJson {
        let mut m = ObjectBuilder::default();
        m.put("brokerId", json!(self.broker_id));
        m.put("brokerEpoch", json!(self.broker_epoch));
        if self.fenced != 0 {
            m.put("fenced", json!(self.fenced));
        }
        if version >= 1 && self.in_controlled_shutdown != 0 {
            m.put("inControlledShutdown", json!(self.in_controlled_shutdown));
        }
        if version >= 2 && !self.log_dirs.is_empty() {
            m.put("logDirs", uuids_json(&self.log_dirs));
        }
        m.build()
    }
}

/// `AccessControlEntryRecord` (apiKey 18, v0): creates an ACL. Codes are Kafka's
/// (see [`super::acl`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessControlEntryRecord {
    /// ACL id.
    pub id: Uuid,
    /// `ResourceType` code.
    pub resource_type: i8,
    /// Resource name or prefix.
    pub resource_name: String,
    /// `PatternType` code (LITERAL 3 or PREFIXED 4).
    pub pattern_type: i8,
    /// Principal, e.g. `User:alice`.
    pub principal: String,
    /// Host, or `*`.
    pub host: String,
    /// `AclOperation` code.
    pub operation: i8,
    /// `AclPermissionType` code (DENY 2, ALLOW 3).
    pub permission_type: i8,
}

impl RecordBody for AccessControlEntryRecord {
    const API_KEY: u16 = 18;
    const MAX_VERSION: u16 = 0;
    const TYPE_NAME: &'static str = "ACCESS_CONTROL_ENTRY_RECORD";

    fn write(&self, w: &mut Writer, _version: u16) {
        w.uuid(&self.id);
        w.i8(self.resource_type);
        w.string(&self.resource_name);
        w.i8(self.pattern_type);
        w.string(&self.principal);
        w.string(&self.host);
        w.i8(self.operation);
        w.i8(self.permission_type);
        w.no_tagged_fields();
    }

    fn read(r: &mut Reader<'_>, _version: u16) -> Result<Self, RecordError> {
        let rec = AccessControlEntryRecord {
            id: r.uuid("Id")?,
            resource_type: r.i8("ResourceType")?,
            resource_name: r.string("ResourceName")?,
            pattern_type: r.i8("PatternType")?,
            principal: r.string("Principal")?,
            host: r.string("Host")?,
            operation: r.i8("Operation")?,
            permission_type: r.i8("PermissionType")?,
        };
        r.skip_tagged_fields()?;
        Ok(rec)
    }

    fn json(&self, _version: u16) -> OrderedJson {
        ordered! {
            "id" => json!(to_kafka_string(self.id)),
            "resourceType" => json!(self.resource_type),
            "resourceName" => json!(self.resource_name),
            "patternType" => json!(self.pattern_type),
            "principal" => json!(self.principal),
            "host" => json!(self.host),
            "operation" => json!(self.operation),
            "permissionType" => json!(self.permission_type),
        }
    }
}

/// `RemoveAccessControlEntryRecord` (apiKey 19, v0): deletes an ACL by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoveAccessControlEntryRecord {
    /// ACL id.
    pub id: Uuid,
}

impl RecordBody for RemoveAccessControlEntryRecord {
    const API_KEY: u16 = 19;
    const MAX_VERSION: u16 = 0;
    const TYPE_NAME: &'static str = "REMOVE_ACCESS_CONTROL_ENTRY_RECORD";

    fn write(&self, w: &mut Writer, _version: u16) {
        w.uuid(&self.id);
        w.no_tagged_fields();
    }

    fn read(r: &mut Reader<'_>, _version: u16) -> Result<Self, RecordError> {
        let rec = RemoveAccessControlEntryRecord { id: r.uuid("Id")? };
        r.skip_tagged_fields()?;
        Ok(rec)
    }

    fn json(&self, _version: u16) -> OrderedJson {
        ordered! {"id" => json!(to_kafka_string(self.id))}
    }
}

/// `NoOpRecord` (apiKey 20, v0): a liveness filler with no fields (KIP-835).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NoOpRecord {}

impl RecordBody for NoOpRecord {
    const API_KEY: u16 = 20;
    const MAX_VERSION: u16 = 0;
    const TYPE_NAME: &'static str = "NO_OP_RECORD";

    fn write(&self, w: &mut Writer, _version: u16) {
        w.no_tagged_fields();
    }

    fn read(r: &mut Reader<'_>, _version: u16) -> Result<Self, RecordError> {
        r.skip_tagged_fields()?;
        Ok(NoOpRecord {})
    }

    fn json(&self, _version: u16) -> OrderedJson {
        ordered! {}
    }
}

/// `ZkMigrationStateRecord` (apiKey 21, v0, file `ZkMigrationRecord.json`): the cluster's
/// ZooKeeper migration state (KIP-866). Kafka writes it into every snapshot from
/// metadata.version 3.4-IV0 on, so reading real snapshots needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZkMigrationStateRecord {
    /// 0 NONE, 1 MIGRATION, 2 PRE_MIGRATION, 3 POST_MIGRATION, 4 ZK (codes since 3.5).
    pub zk_migration_state: i8,
}

impl RecordBody for ZkMigrationStateRecord {
    const API_KEY: u16 = 21;
    const MAX_VERSION: u16 = 0;
    const TYPE_NAME: &'static str = "ZK_MIGRATION_STATE_RECORD";

    fn write(&self, w: &mut Writer, _version: u16) {
        w.i8(self.zk_migration_state);
        w.no_tagged_fields();
    }

    fn read(r: &mut Reader<'_>, _version: u16) -> Result<Self, RecordError> {
        let rec = ZkMigrationStateRecord {
            zk_migration_state: r.i8("ZkMigrationState")?,
        };
        r.skip_tagged_fields()?;
        Ok(rec)
    }

    fn json(&self, _version: u16) -> OrderedJson {
        ordered! {"zkMigrationState" => json!(self.zk_migration_state)}
    }
}

/// `BeginTransactionRecord` (apiKey 23, v0): starts a metadata transaction (KIP-868).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BeginTransactionRecord {
    /// Tag 0: an optional name for the transaction.
    pub name: Option<String>,
}

impl RecordBody for BeginTransactionRecord {
    const API_KEY: u16 = 23;
    const MAX_VERSION: u16 = 0;
    const TYPE_NAME: &'static str = "BEGIN_TRANSACTION_RECORD";

    fn write(&self, w: &mut Writer, _version: u16) {
        let name = self.name.as_deref().and_then(|n| tagged(|w| w.string(n)));
        w.tagged_fields(vec![(0, name)]);
    }

    fn read(r: &mut Reader<'_>, _version: u16) -> Result<Self, RecordError> {
        let mut name = None;
        r.tagged_fields(|tag, f| {
            if tag == 0 {
                name = f.nullable_string("Name")?;
                return Ok(true);
            }
            Ok(false)
        })?;
        Ok(BeginTransactionRecord { name })
    }

    fn json(&self, _version: u16) -> OrderedJson {
        match &self.name {
            Some(n) => ordered! {"name" => json!(n)},
            None => ordered! {},
        }
    }
}

/// `EndTransactionRecord` (apiKey 24, v0): commits a metadata transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndTransactionRecord {}

impl RecordBody for EndTransactionRecord {
    const API_KEY: u16 = 24;
    const MAX_VERSION: u16 = 0;
    const TYPE_NAME: &'static str = "END_TRANSACTION_RECORD";

    fn write(&self, w: &mut Writer, _version: u16) {
        w.no_tagged_fields();
    }

    fn read(r: &mut Reader<'_>, _version: u16) -> Result<Self, RecordError> {
        r.skip_tagged_fields()?;
        Ok(EndTransactionRecord {})
    }

    fn json(&self, _version: u16) -> OrderedJson {
        ordered! {}
    }
}

/// `AbortTransactionRecord` (apiKey 25, v0): aborts a metadata transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AbortTransactionRecord {
    /// Tag 0: why, e.g. `Controller failover`.
    pub reason: Option<String>,
}

impl RecordBody for AbortTransactionRecord {
    const API_KEY: u16 = 25;
    const MAX_VERSION: u16 = 0;
    const TYPE_NAME: &'static str = "ABORT_TRANSACTION_RECORD";

    fn write(&self, w: &mut Writer, _version: u16) {
        let reason = self.reason.as_deref().and_then(|n| tagged(|w| w.string(n)));
        w.tagged_fields(vec![(0, reason)]);
    }

    fn read(r: &mut Reader<'_>, _version: u16) -> Result<Self, RecordError> {
        let mut reason = None;
        r.tagged_fields(|tag, f| {
            if tag == 0 {
                reason = f.nullable_string("Reason")?;
                return Ok(true);
            }
            Ok(false)
        })?;
        Ok(AbortTransactionRecord { reason })
    }

    fn json(&self, _version: u16) -> OrderedJson {
        match &self.reason {
            Some(n) => ordered! {"reason" => json!(n)},
            None => ordered! {},
        }
    }
}

/// `RegisterControllerRecord` (apiKey 27, v0): a controller registration (KIP-919).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterControllerRecord {
    /// Controller node id.
    pub controller_id: i32,
    /// Incarnation id.
    pub incarnation_id: Uuid,
    /// Whether the controller is ready for ZooKeeper migration.
    pub zk_migration_ready: bool,
    /// Controller listener endpoints.
    pub end_points: Vec<Endpoint>,
    /// Supported feature ranges.
    pub features: Vec<FeatureRange>,
}

impl RecordBody for RegisterControllerRecord {
    const API_KEY: u16 = 27;
    const MAX_VERSION: u16 = 0;
    const TYPE_NAME: &'static str = "REGISTER_CONTROLLER_RECORD";

    fn write(&self, w: &mut Writer, _version: u16) {
        w.i32(self.controller_id);
        w.uuid(&self.incarnation_id);
        w.bool(self.zk_migration_ready);
        w.array_of(&self.end_points, |w, e| e.write(w));
        w.array_of(&self.features, |w, f| f.write(w));
        w.no_tagged_fields();
    }

    fn read(r: &mut Reader<'_>, _version: u16) -> Result<Self, RecordError> {
        let rec = RegisterControllerRecord {
            controller_id: r.i32("ControllerId")?,
            incarnation_id: r.uuid("IncarnationId")?,
            zk_migration_ready: r.bool("ZkMigrationReady")?,
            end_points: r.array_of("EndPoints", Endpoint::MIN_BYTES, Endpoint::read)?,
            features: r.array_of("Features", FeatureRange::MIN_BYTES, FeatureRange::read)?,
        };
        r.skip_tagged_fields()?;
        Ok(rec)
    }

    fn json(&self, _version: u16) -> OrderedJson {
        ordered! {
            "controllerId" => json!(self.controller_id),
            "incarnationId" => json!(to_kafka_string(self.incarnation_id)),
            "zkMigrationReady" => json!(self.zk_migration_ready),
            "endPoints" => OrderedJson::Array(self.end_points.iter().map(Endpoint::json).collect()),
            "features" =>
                OrderedJson::Array(self.features.iter().map(FeatureRange::json).collect()),
        }
    }
}
