//! [`MetadataDelta`]: replays records on top of an image and produces the next image, keeping
//! a summary of what changed ([`MetadataChanges`]) for listeners. Each record is checked before
//! anything is changed, so a record that fails to replay ([`ReplayError`]) leaves the delta as
//! it was.

use crate::metadata::BrokerEpoch;
use crate::raft::{NodeId, Offset};
use imbl::{OrdMap, OrdSet, Vector};
use uuid::Uuid;

use super::acl::StandardAcl;
use super::cluster::{BrokerRegistration, ControllerRegistration};
use super::configs::{ConfigResource, CONFIG_RESOURCE_TOPIC};
use super::image::{MetadataImage, MetadataProvenance, ProducerIdsImage};
use super::partition::PartitionRegistration;
use super::record::MetadataRecord;
use super::topics::TopicImage;
use super::zk::{replay_txn, ZkApplied};

pub use super::replay_error::ReplayError;

/// What a delta changed relative to its base image (persistent sets, so the loader can keep a
/// copy to roll back to cheaply). Ids are recorded once whatever the number
/// of records touching them. A topic created and removed within one delta appears in neither
/// topic set; a base topic removed and re-created under the same id appears in both.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetadataChanges {
    /// A feature level was set or removed.
    pub features_changed: bool,
    /// Topics created by a `TopicRecord` in this delta and still present.
    pub created_topics: OrdSet<Uuid>,
    /// Partitions created or changed, by topic id (includes those of created topics).
    pub changed_partitions: OrdMap<Uuid, OrdSet<i32>>,
    /// Topics of the base image that were removed, with their names.
    pub removed_topics: OrdMap<Uuid, String>,
    /// Brokers registered, changed or unregistered.
    pub changed_brokers: OrdSet<NodeId>,
    /// Controllers registered or changed.
    pub changed_controllers: OrdSet<NodeId>,
    /// Config resources with a key set or removed (including a removed topic's configs).
    pub changed_configs: OrdSet<ConfigResource>,
    /// ACLs created or removed.
    pub changed_acls: OrdSet<Uuid>,
    /// The producer-id state changed.
    pub producer_ids_changed: bool,
    /// The ZooKeeper tree or its sessions changed.
    pub zk_changed: bool,
    /// The ZooKeeper transactions applied, in log order. A publisher that resynchronises a
    /// subscriber from two images cannot list them ([`super::diff::diff_images`] sets only
    /// `zk_changed`): such a subscriber has missed events.
    pub zk_txns: Vector<ZkApplied>,
}

impl MetadataChanges {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        *self == MetadataChanges::default()
    }

    /// These changes followed by `later`'s (those of a delta on top of this one's image), as
    /// the changes of one delta over this one's base: a topic created here and removed later
    /// was never there; one of the base removed later is a removed topic.
    pub fn then(&self, later: &MetadataChanges) -> MetadataChanges {
        let mut out = self.clone();
        out.features_changed |= later.features_changed;
        out.producer_ids_changed |= later.producer_ids_changed;
        for (id, name) in &later.removed_topics {
            if out.created_topics.remove(id).is_none() {
                out.removed_topics.insert(*id, name.clone());
            }
            out.changed_partitions.remove(id);
        }
        out.created_topics
            .extend(later.created_topics.iter().copied());
        for (id, partitions) in &later.changed_partitions {
            out.changed_partitions
                .entry(*id)
                .or_default()
                .extend(partitions.iter().copied());
        }
        out.changed_brokers
            .extend(later.changed_brokers.iter().copied());
        out.changed_controllers
            .extend(later.changed_controllers.iter().copied());
        out.changed_configs
            .extend(later.changed_configs.iter().cloned());
        out.changed_acls.extend(later.changed_acls.iter().copied());
        out.zk_changed |= later.zk_changed;
        out.zk_txns.append(later.zk_txns.clone());
        out
    }

    /// Topics of the base image whose partitions were created or changed.
    pub fn changed_topics(&self) -> impl Iterator<Item = &Uuid> {
        self.changed_partitions
            .keys()
            .filter(|id| !self.created_topics.contains(*id))
    }
}

/// Records replayed on top of a base image, not yet published as an image.
#[derive(Debug, Clone)]
pub struct MetadataDelta {
    /// The state after every record replayed so far (provenance still the base image's).
    next: MetadataImage,
    /// The base image's topics, to tell removals of base topics from short-lived ones.
    base_topics: OrdMap<Uuid, TopicImage>,
    changes: MetadataChanges,
}

impl MetadataDelta {
    /// An empty delta on top of `base`.
    pub fn new(base: &MetadataImage) -> Self {
        MetadataDelta {
            next: base.clone(),
            base_topics: base.topics.by_id.clone(),
            changes: MetadataChanges::default(),
        }
    }

    /// What changed so far.
    pub fn changes(&self) -> &MetadataChanges {
        &self.changes
    }

    /// The state with every record replayed so far, for reading before [`Self::apply`].
    pub fn current(&self) -> &MetadataImage {
        &self.next
    }

    /// The next image, with `provenance`. The delta stays usable.
    pub fn apply(&self, provenance: MetadataProvenance) -> MetadataImage {
        MetadataImage {
            provenance,
            ..self.next.clone()
        }
    }

    /// Replays one record whose offset does not matter (the active controller's own records,
    /// a snapshot's); see [`Self::replay_at`]. A ZooKeeper transaction, whose zxid is its
    /// offset, is an error here.
    pub fn replay(&mut self, record: &MetadataRecord) -> Result<(), ReplayError> {
        self.replay_record(None, record)
    }

    /// Replays the record at `offset` of the log. Transaction markers and `NoOpRecord` change
    /// nothing here (the loader handles transactions). On error nothing changed.
    pub fn replay_at(
        &mut self,
        offset: Offset,
        record: &MetadataRecord,
    ) -> Result<(), ReplayError> {
        self.replay_record(Some(offset), record)
    }

    fn replay_record(
        &mut self,
        offset: Option<Offset>,
        record: &MetadataRecord,
    ) -> Result<(), ReplayError> {
        let img = &mut self.next;
        let ch = &mut self.changes;
        match record {
            MetadataRecord::RegisterBroker(r) => {
                img.cluster
                    .brokers
                    .insert(NodeId(r.broker_id), BrokerRegistration::from_record(r));
                ch.changed_brokers.insert(NodeId(r.broker_id));
            }
            MetadataRecord::UnregisterBroker(r) => {
                // Kafka removes whatever registration has the id, without an epoch check.
                if img.cluster.brokers.remove(&NodeId(r.broker_id)).is_some() {
                    ch.changed_brokers.insert(NodeId(r.broker_id));
                }
            }
            MetadataRecord::BrokerRegistrationChange(r) => {
                let broker = img.cluster.brokers.get(&NodeId(r.broker_id)).ok_or(
                    ReplayError::UnknownBroker {
                        action: "change",
                        broker_id: r.broker_id,
                    },
                )?;
                if broker.epoch != BrokerEpoch(r.broker_epoch) {
                    return Err(ReplayError::BrokerEpochMismatch {
                        broker_id: r.broker_id,
                        found: r.broker_epoch,
                        current: broker.epoch.into(),
                    });
                }
                // BrokerRegistrationFencingChange: 1 fence, 0 none, -1 unfence.
                let fenced = match r.fenced {
                    1 => true,
                    0 => broker.fenced,
                    -1 => false,
                    other => return Err(ReplayError::InvalidFencingChange(other)),
                };
                // BrokerRegistrationInControlledShutdownChange: 0 none, 1 enter.
                let in_controlled_shutdown = match r.in_controlled_shutdown {
                    0 => broker.in_controlled_shutdown,
                    1 => true,
                    other => return Err(ReplayError::InvalidControlledShutdownChange(other)),
                };
                let directories = if r.log_dirs.is_empty() {
                    broker.directories.clone()
                } else {
                    r.log_dirs.clone()
                };
                let next = BrokerRegistration {
                    fenced,
                    in_controlled_shutdown,
                    directories,
                    ..broker.clone()
                };
                if next != *broker {
                    img.cluster.brokers.insert(NodeId(r.broker_id), next);
                    ch.changed_brokers.insert(NodeId(r.broker_id));
                }
            }
            MetadataRecord::RegisterController(r) => {
                img.cluster.controllers.insert(
                    NodeId(r.controller_id),
                    ControllerRegistration::from_record(r),
                );
                ch.changed_controllers.insert(NodeId(r.controller_id));
            }
            MetadataRecord::Topic(r) => {
                if let Some(existing) = img.topics.by_name.get(&r.name) {
                    return Err(ReplayError::DuplicateTopicName {
                        name: r.name.clone(),
                        existing: *existing,
                        new: r.topic_id,
                    });
                }
                if img.topics.by_id.contains_key(&r.topic_id) {
                    return Err(ReplayError::DuplicateTopicId(r.topic_id));
                }
                img.topics.by_id.insert(
                    r.topic_id,
                    TopicImage {
                        name: r.name.clone(),
                        id: r.topic_id,
                        partitions: Default::default(),
                    },
                );
                img.topics.by_name.insert(r.name.clone(), r.topic_id);
                ch.created_topics.insert(r.topic_id);
            }
            MetadataRecord::Partition(r) => {
                let mut topic = img.topics.by_id.get(&r.topic_id).cloned().ok_or(
                    ReplayError::UnknownTopic {
                        record: "PARTITION_RECORD",
                        topic_id: r.topic_id,
                    },
                )?;
                let partition = PartitionRegistration::from_record(r)?;
                topic.partitions.insert(r.partition_id, partition);
                img.topics.by_id.insert(r.topic_id, topic);
                ch.changed_partitions
                    .entry(r.topic_id)
                    .or_default()
                    .insert(r.partition_id);
            }
            MetadataRecord::PartitionChange(r) => {
                let mut topic = img.topics.by_id.get(&r.topic_id).cloned().ok_or(
                    ReplayError::UnknownTopic {
                        record: "PARTITION_CHANGE_RECORD",
                        topic_id: r.topic_id,
                    },
                )?;
                let current =
                    topic
                        .partitions
                        .get(&r.partition_id)
                        .ok_or(ReplayError::UnknownPartition {
                            topic_id: r.topic_id,
                            partition_id: r.partition_id,
                        })?;
                let next = current.merge(r)?;
                topic.partitions.insert(r.partition_id, next);
                img.topics.by_id.insert(r.topic_id, topic);
                ch.changed_partitions
                    .entry(r.topic_id)
                    .or_default()
                    .insert(r.partition_id);
            }
            MetadataRecord::RemoveTopic(r) => {
                let topic =
                    img.topics
                        .by_id
                        .remove(&r.topic_id)
                        .ok_or(ReplayError::UnknownTopic {
                            record: "REMOVE_TOPIC_RECORD",
                            topic_id: r.topic_id,
                        })?;
                img.topics.by_name.remove(&topic.name);
                let resource = ConfigResource {
                    resource_type: CONFIG_RESOURCE_TOPIC,
                    resource_name: topic.name.clone(),
                };
                if img.configs.remove_resource(&resource) {
                    ch.changed_configs.insert(resource);
                }
                ch.changed_partitions.remove(&r.topic_id);
                ch.created_topics.remove(&r.topic_id);
                // The base's topic is the one a publisher must drop: a topic removed, created
                // again with the same id and removed again within one delta keeps the first
                // name (found by the a_deltas_changes_cover_the_whole_difference property).
                if self.base_topics.contains_key(&r.topic_id) {
                    ch.removed_topics.entry(r.topic_id).or_insert(topic.name);
                }
            }
            MetadataRecord::Config(r) => {
                let resource = img.configs.replay(r);
                ch.changed_configs.insert(resource);
            }
            MetadataRecord::FeatureLevel(r) => {
                img.features.replay(r);
                ch.features_changed = true;
            }
            MetadataRecord::ZkMigrationState(r) => {
                img.features.zk_migration_state = r.zk_migration_state;
                ch.features_changed = true;
            }
            MetadataRecord::ProducerIds(r) => {
                img.producer_ids = ProducerIdsImage {
                    next_producer_id: r.next_producer_id,
                    broker_id: r.broker_id,
                    broker_epoch: r.broker_epoch,
                };
                ch.producer_ids_changed = true;
            }
            MetadataRecord::AccessControlEntry(r) => {
                let (id, acl) = StandardAcl::from_record(r);
                img.acls.insert(id, acl);
                ch.changed_acls.insert(id);
            }
            MetadataRecord::RemoveAccessControlEntry(r) => {
                if img.acls.remove(&r.id).is_none() {
                    return Err(ReplayError::UnknownAcl(r.id));
                }
                ch.changed_acls.insert(r.id);
            }
            MetadataRecord::ZkTxn(r) => {
                let offset = offset.ok_or(ReplayError::ZkTxnWithoutOffset)?;
                ch.zk_txns.push_back(replay_txn(&mut img.zk, offset.0, r));
                ch.zk_changed = true;
            }
            MetadataRecord::ZkSnapshot(r) => {
                metaquorum_zk::record::restore_into(&mut img.zk, &r.0)
                    .map_err(|e| ReplayError::ZkSnapshot(e.to_string()))?;
                ch.zk_changed = true;
            }
            MetadataRecord::NoOp(_)
            | MetadataRecord::BeginTransaction(_)
            | MetadataRecord::EndTransaction(_)
            | MetadataRecord::AbortTransaction(_) => {}
        }
        Ok(())
    }
}
