//! The metadata's own integers, each a type of its own: a broker's epoch, and a partition's
//! leader epoch and partition epoch. With the Raft epoch of the metadata log
//! ([`crate::raft::Epoch`]) these are four different epochs that were once all bare integers;
//! the types keep one from being compared with or stored as another. Broker ids are node ids
//! ([`crate::raft::NodeId`]). The record schemas keep Kafka's integers; the image holds these.

use crate::raft::{NodeId, Offset};

metaquorum_log::integer_id! {
    /// A broker's epoch: the offset of the record that registered its current incarnation
    /// (KIP-631). Heartbeats and fencing name it.
    BrokerEpoch(i64)
}

metaquorum_log::integer_id! {
    /// A partition's leader epoch: bumped on every change of its leader, and what replicas and
    /// clients fence stale leaders with (KIP-101, KIP-320).
    LeaderEpoch(i32)
}

metaquorum_log::integer_id! {
    /// A partition's epoch: bumped on every change of its state of any kind; AlterPartition
    /// names it so the controller can refuse a stale ISR change (ZooKeeper's `zkVersion`).
    PartitionEpoch(i32)
}

impl BrokerEpoch {
    /// Kafka's `-1`: no broker epoch (not registered).
    pub const NONE: BrokerEpoch = BrokerEpoch(-1);

    /// The epoch of a broker registered by the record at `offset` (KIP-631).
    pub const fn registered_at(offset: Offset) -> BrokerEpoch {
        BrokerEpoch(offset.0)
    }

    /// The offset of the record that registered this epoch: a broker whose metadata has
    /// reached it has seen its own registration, and is caught up (KIP-631).
    pub const fn registration_offset(self) -> Offset {
        Offset(self.0)
    }
}

impl LeaderEpoch {
    /// The leader epoch after this one (wrapping, as replay always has).
    pub const fn next(self) -> LeaderEpoch {
        LeaderEpoch(self.0.wrapping_add(1))
    }
}

impl PartitionEpoch {
    /// The partition epoch after this one (wrapping, as replay always has).
    pub const fn next(self) -> PartitionEpoch {
        PartitionEpoch(self.0.wrapping_add(1))
    }
}

/// Node ids from a record's integer list.
pub fn node_ids(raw: &[i32]) -> Vec<NodeId> {
    raw.iter().map(|&id| NodeId(id)).collect()
}

/// A record's integer list from node ids.
pub fn raw_node_ids(ids: &[NodeId]) -> Vec<i32> {
    ids.iter().map(|id| id.get()).collect()
}
