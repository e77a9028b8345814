//! [`ClusterImage`]: the registered brokers and controllers, with [`BrokerRegistration`] and
//! [`ControllerRegistration`], the image forms of `RegisterBrokerRecord` and
//! `RegisterControllerRecord`.

use imbl::OrdMap;
use uuid::Uuid;

use crate::raft::NodeId;

use super::ids::BrokerEpoch;
use super::record::{Endpoint, FeatureRange, RegisterBrokerRecord, RegisterControllerRecord};

/// A registered broker.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BrokerRegistration {
    /// Broker id.
    pub id: NodeId,
    /// Broker epoch (the offset of its registration record).
    pub epoch: BrokerEpoch,
    /// Incarnation id of the registering process.
    pub incarnation_id: Uuid,
    /// Listener endpoints, in registration order.
    pub listeners: Vec<Endpoint>,
    /// Supported feature ranges, in registration order.
    pub supported_features: Vec<FeatureRange>,
    /// Rack, if any.
    pub rack: Option<String>,
    /// Whether the broker is fenced (may not lead or be in an ISR).
    pub fenced: bool,
    /// Whether the broker is in controlled shutdown (KIP-841).
    pub in_controlled_shutdown: bool,
    /// Whether this is a ZooKeeper-mode broker registered during migration (KIP-866).
    pub is_migrating_zk_broker: bool,
    /// Log directory ids (KIP-858).
    pub directories: Vec<Uuid>,
}

impl BrokerRegistration {
    /// The registration a `RegisterBrokerRecord` describes.
    pub fn from_record(r: &RegisterBrokerRecord) -> Self {
        BrokerRegistration {
            id: NodeId(r.broker_id),
            epoch: BrokerEpoch(r.broker_epoch),
            incarnation_id: r.incarnation_id,
            listeners: r.end_points.clone(),
            supported_features: r.features.clone(),
            rack: r.rack.clone(),
            fenced: r.fenced,
            in_controlled_shutdown: r.in_controlled_shutdown,
            is_migrating_zk_broker: r.is_migrating_zk_broker,
            directories: r.log_dirs.clone(),
        }
    }

    /// The record that recreates this registration.
    pub fn to_record(&self) -> RegisterBrokerRecord {
        RegisterBrokerRecord {
            broker_id: self.id.get(),
            is_migrating_zk_broker: self.is_migrating_zk_broker,
            incarnation_id: self.incarnation_id,
            broker_epoch: self.epoch.get(),
            end_points: self.listeners.clone(),
            features: self.supported_features.clone(),
            rack: self.rack.clone(),
            fenced: self.fenced,
            in_controlled_shutdown: self.in_controlled_shutdown,
            log_dirs: self.directories.clone(),
        }
    }
}

/// A registered controller (KIP-919).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ControllerRegistration {
    /// Controller node id.
    pub id: NodeId,
    /// Incarnation id of the registering process.
    pub incarnation_id: Uuid,
    /// Whether it is ready for ZooKeeper migration.
    pub zk_migration_ready: bool,
    /// Controller listener endpoints.
    pub listeners: Vec<Endpoint>,
    /// Supported feature ranges.
    pub supported_features: Vec<FeatureRange>,
}

impl ControllerRegistration {
    /// The registration a `RegisterControllerRecord` describes.
    pub fn from_record(r: &RegisterControllerRecord) -> Self {
        ControllerRegistration {
            id: NodeId(r.controller_id),
            incarnation_id: r.incarnation_id,
            zk_migration_ready: r.zk_migration_ready,
            listeners: r.end_points.clone(),
            supported_features: r.features.clone(),
        }
    }

    /// The record that recreates this registration.
    pub fn to_record(&self) -> RegisterControllerRecord {
        RegisterControllerRecord {
            controller_id: self.id.get(),
            incarnation_id: self.incarnation_id,
            zk_migration_ready: self.zk_migration_ready,
            end_points: self.listeners.clone(),
            features: self.supported_features.clone(),
        }
    }
}

/// Registered brokers and controllers by id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterImage {
    /// Brokers by id.
    pub brokers: OrdMap<NodeId, BrokerRegistration>,
    /// Controllers by id.
    pub controllers: OrdMap<NodeId, ControllerRegistration>,
}

impl ClusterImage {
    /// A broker by id.
    pub fn broker(&self, id: NodeId) -> Option<&BrokerRegistration> {
        self.brokers.get(&id)
    }

    /// A controller by id.
    pub fn controller(&self, id: NodeId) -> Option<&ControllerRegistration> {
        self.controllers.get(&id)
    }

    /// Brokers that are not fenced, by id.
    pub fn unfenced_brokers(&self) -> impl Iterator<Item = &BrokerRegistration> {
        self.brokers.values().filter(|b| !b.fenced)
    }

    /// Number of fenced brokers (Kafka's `FencedBrokerCount`).
    pub fn fenced_broker_count(&self) -> usize {
        self.brokers.values().filter(|b| b.fenced).count()
    }

    /// Number of unfenced brokers (Kafka's `ActiveBrokerCount`).
    pub fn active_broker_count(&self) -> usize {
        self.brokers.len() - self.fenced_broker_count()
    }
}
