//! [`ReplayError`]: why a record cannot be applied to an image. Its own file because the delta
//! and the partition registrations it replays into both return it.

use uuid::Uuid;

/// A record that cannot be applied to the image it was replayed on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    /// A record names a topic id the image does not have.
    #[error("{record} for unknown topic id {topic_id}")]
    UnknownTopic {
        /// The record type.
        record: &'static str,
        /// The topic id.
        topic_id: Uuid,
    },
    /// A `PartitionChangeRecord` names a partition the topic does not have.
    #[error("PARTITION_CHANGE_RECORD for unknown partition {partition_id} of topic id {topic_id}")]
    UnknownPartition {
        /// The topic id.
        topic_id: Uuid,
        /// The partition index.
        partition_id: i32,
    },
    /// A `TopicRecord` reuses the name of another topic.
    #[error(
        "topic name {name} is already used by topic id {existing}, cannot create topic id {new}"
    )]
    DuplicateTopicName {
        /// The name.
        name: String,
        /// The topic already using it.
        existing: Uuid,
        /// The topic the record creates.
        new: Uuid,
    },
    /// A `TopicRecord` reuses an existing topic id.
    #[error("topic id {0} already exists")]
    DuplicateTopicId(Uuid),
    /// A broker change names a broker that is not registered.
    #[error("tried to {action} broker {broker_id}, but that broker was not registered")]
    UnknownBroker {
        /// What the record does.
        action: &'static str,
        /// The broker id.
        broker_id: i32,
    },
    /// A broker change carries an epoch other than the registration's.
    #[error("tried to change broker {broker_id}, but the given epoch, {found}, did not match the current broker epoch, {current}")]
    BrokerEpochMismatch {
        /// The broker id.
        broker_id: i32,
        /// The epoch in the record.
        found: i64,
        /// The registration's epoch.
        current: i64,
    },
    /// `BrokerRegistrationChangeRecord.Fenced` is not -1, 0 or 1.
    #[error("unknown value for fenced field: {0}")]
    InvalidFencingChange(i8),
    /// `BrokerRegistrationChangeRecord.InControlledShutdown` is not 0 or 1.
    #[error("unknown value for inControlledShutdown field: {0}")]
    InvalidControlledShutdownChange(i8),
    /// A leader recovery state other than 0 or 1 (or -1 for "no change").
    #[error("value {0} is not a valid leader recovery state")]
    InvalidLeaderRecoveryState(i8),
    /// Assigned replica directories whose count differs from the replica count (KIP-858).
    #[error("{directories} replica directories for {replicas} replicas")]
    InvalidReplicaDirectories {
        /// Number of replicas.
        replicas: usize,
        /// Number of directories.
        directories: usize,
    },
    /// A `RemoveAccessControlEntryRecord` for an ACL id that does not exist.
    #[error("failed to find existing ACL with id {0}")]
    UnknownAcl(Uuid),
    /// A ZooKeeper transaction replayed without the offset that is its zxid.
    #[error("METAQUORUM_ZK_TXN_RECORD replayed without its offset")]
    ZkTxnWithoutOffset,
    /// A ZooKeeper snapshot record that does not fit the tree (a node before its parent, a
    /// path or session twice), or one found in the log rather than in a snapshot.
    #[error("METAQUORUM_ZK_SNAPSHOT_RECORD: {0}")]
    ZkSnapshot(String),
}
