//! [`MetadataEvent`]: an update of the metadata told as the host broker wants to hear it
//! (topics created and deleted, partitions changed, its own leaderships and followerships,
//! brokers fenced and unfenced, ACLs and configs changed). The whole difference between two
//! images, for snapshot loads and resyncs, is the controller crate's [`diff_images`].

use metaquorum_controller::metadata::{BrokerEpoch, LeaderEpoch};
use metaquorum_log::{NodeId, Offset};
use std::collections::BTreeMap;

use metaquorum_controller::metadata::acl::StandardAcl;
use metaquorum_controller::metadata::delta::MetadataChanges;
pub use metaquorum_controller::metadata::diff::diff_images;
use metaquorum_controller::metadata::image::MetadataImage;
use metaquorum_controller::metadata::partition::PartitionRegistration;
use uuid::Uuid;

/// Why an update was published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateSource {
    /// Committed records of the log.
    Log,
    /// A snapshot was loaded (at start or fetched from the leader); `changes` is the whole
    /// difference from the previous image.
    Snapshot,
    /// The subscriber fell behind and skipped updates; `changes` is the whole difference from
    /// the last image it saw.
    Resync,
}

/// One step of the metadata: the image before, the image after and what changed.
#[derive(Debug, Clone)]
pub struct MetadataUpdate {
    /// The image before this update (the subscriber's last one).
    pub previous: MetadataImage,
    /// The new image.
    pub image: MetadataImage,
    /// What differs between the two.
    pub changes: MetadataChanges,
    /// Why it was published.
    pub source: UpdateSource,
}

impl MetadataUpdate {
    /// The update as events, from the point of view of broker `broker_id` (its leaderships and
    /// followerships are reported as such); computed on demand, in a stable order.
    pub fn events(&self, broker_id: NodeId) -> Vec<MetadataEvent> {
        events_of(self, broker_id)
    }

    /// Offset of the last record the new image contains.
    pub fn offset(&self) -> Offset {
        self.image.provenance.offset
    }
}

/// One thing that changed, as a broker sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetadataEvent {
    /// A topic was created.
    TopicCreated {
        /// Name.
        name: String,
        /// Topic id.
        id: Uuid,
        /// Number of partitions.
        partitions: usize,
    },
    /// A topic was deleted.
    TopicDeleted {
        /// Name.
        name: String,
        /// Topic id.
        id: Uuid,
    },
    /// A partition was created or its leader, ISR or replicas changed.
    PartitionChanged {
        /// Topic name.
        topic: String,
        /// Partition index.
        partition: i32,
        /// Leader (-1: none).
        leader: NodeId,
        /// Leader epoch.
        leader_epoch: LeaderEpoch,
        /// In-sync replicas.
        isr: Vec<NodeId>,
        /// Replicas.
        replicas: Vec<NodeId>,
    },
    /// This broker became (or stays, in a new epoch) the leader of a partition.
    LocalLeader {
        /// Topic name.
        topic: String,
        /// Partition index.
        partition: i32,
        /// Leader epoch.
        leader_epoch: LeaderEpoch,
        /// In-sync replicas.
        isr: Vec<NodeId>,
    },
    /// This broker is a follower of a partition (new, or its leader or ISR changed).
    LocalFollower {
        /// Topic name.
        topic: String,
        /// Partition index.
        partition: i32,
        /// Leader (-1: none).
        leader: NodeId,
        /// Leader epoch.
        leader_epoch: LeaderEpoch,
    },
    /// This broker no longer holds a replica of a partition (moved away or deleted).
    LocalReplicaRemoved {
        /// Topic name.
        topic: String,
        /// Partition index.
        partition: i32,
    },
    /// A broker registered (or re-registered with a new epoch).
    BrokerRegistered {
        /// Broker id.
        id: NodeId,
        /// Broker epoch.
        epoch: BrokerEpoch,
    },
    /// A broker was unregistered.
    BrokerUnregistered {
        /// Broker id.
        id: NodeId,
    },
    /// A broker was fenced.
    BrokerFenced {
        /// Broker id.
        id: NodeId,
    },
    /// A broker was unfenced.
    BrokerUnfenced {
        /// Broker id.
        id: NodeId,
    },
    /// A broker entered controlled shutdown.
    BrokerInControlledShutdown {
        /// Broker id.
        id: NodeId,
    },
    /// An ACL was created.
    AclCreated {
        /// ACL id.
        id: Uuid,
        /// The binding.
        acl: StandardAcl,
    },
    /// An ACL was deleted.
    AclDeleted {
        /// ACL id.
        id: Uuid,
        /// The binding it had.
        acl: StandardAcl,
    },
    /// A config resource's dynamic configs changed; `configs` is the new full set.
    ConfigChanged {
        /// Resource type (2 topic, 4 broker, ...).
        resource_type: i8,
        /// Resource name ("" for the cluster default).
        resource_name: String,
        /// The dynamic configs now set.
        configs: BTreeMap<String, String>,
    },
    /// Feature levels (e.g. `metadata.version`) changed; the new levels.
    FeaturesChanged {
        /// Feature name to level.
        levels: BTreeMap<String, i16>,
    },
}

/// The events of `update`, as broker `me` sees them.
pub fn events_of(update: &MetadataUpdate, me: NodeId) -> Vec<MetadataEvent> {
    let (prev, next, ch) = (&update.previous, &update.image, &update.changes);
    let mut out = Vec::new();
    if ch.features_changed {
        out.push(MetadataEvent::FeaturesChanged {
            levels: next
                .features
                .levels
                .iter()
                .map(|(k, v)| (k.clone(), *v))
                .collect(),
        });
    }
    for id in &ch.changed_brokers {
        let (before, after) = (prev.broker(*id), next.broker(*id));
        match (before, after) {
            (_, None) => {
                if before.is_some() {
                    out.push(MetadataEvent::BrokerUnregistered { id: (*id) })
                }
            }
            (b, Some(a)) => {
                if b.is_none_or(|b| b.epoch != a.epoch) {
                    out.push(MetadataEvent::BrokerRegistered {
                        id: (*id),
                        epoch: a.epoch,
                    });
                }
                let was_fenced = b.is_none_or(|b| b.fenced);
                if a.fenced && b.is_some_and(|b| !b.fenced) {
                    out.push(MetadataEvent::BrokerFenced { id: (*id) });
                } else if !a.fenced && was_fenced {
                    out.push(MetadataEvent::BrokerUnfenced { id: (*id) });
                }
                if a.in_controlled_shutdown && !b.is_some_and(|b| b.in_controlled_shutdown) {
                    out.push(MetadataEvent::BrokerInControlledShutdown { id: (*id) });
                }
            }
        }
    }
    for (id, name) in &ch.removed_topics {
        out.push(MetadataEvent::TopicDeleted {
            name: name.clone(),
            id: *id,
        });
        if let Some(t) = prev.topic(id) {
            for (p, reg) in &t.partitions {
                if reg.replicas.contains(&me) && next.topic(id).is_none() {
                    out.push(MetadataEvent::LocalReplicaRemoved {
                        topic: name.clone(),
                        partition: *p,
                    });
                }
            }
        }
    }
    for id in &ch.created_topics {
        if let Some(t) = next.topic(id) {
            out.push(MetadataEvent::TopicCreated {
                name: t.name.clone(),
                id: *id,
                partitions: t.partitions.len(),
            });
        }
    }
    for (topic_id, parts) in &ch.changed_partitions {
        let Some(t) = next.topic(topic_id) else {
            continue;
        };
        for p in parts {
            let Some(after) = t.partition(*p) else {
                continue;
            };
            let before = prev.partition(topic_id, *p);
            partition_events(&t.name, *p, before, after, me, &mut out);
        }
    }
    for id in &ch.changed_acls {
        match (prev.acls.get(id), next.acls.get(id)) {
            (None, Some(a)) => out.push(MetadataEvent::AclCreated {
                id: *id,
                acl: a.clone(),
            }),
            (Some(a), None) => out.push(MetadataEvent::AclDeleted {
                id: *id,
                acl: a.clone(),
            }),
            _ => {}
        }
    }
    for r in &ch.changed_configs {
        let configs = next
            .configs
            .resources
            .get(r)
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        out.push(MetadataEvent::ConfigChanged {
            resource_type: r.resource_type,
            resource_name: r.resource_name.clone(),
            configs,
        });
    }
    out
}

fn partition_events(
    topic: &str,
    partition: i32,
    before: Option<&PartitionRegistration>,
    after: &PartitionRegistration,
    me: NodeId,
    out: &mut Vec<MetadataEvent>,
) {
    if before == Some(after) {
        return;
    }
    out.push(MetadataEvent::PartitionChanged {
        topic: topic.to_string(),
        partition,
        leader: after.leader,
        leader_epoch: after.leader_epoch,
        isr: after.isr.clone(),
        replicas: after.replicas.clone(),
    });
    let was_replica = before.is_some_and(|b| b.replicas.contains(&me));
    if after.replicas.contains(&me) {
        if after.leader == me {
            out.push(MetadataEvent::LocalLeader {
                topic: topic.to_string(),
                partition,
                leader_epoch: after.leader_epoch,
                isr: after.isr.clone(),
            });
        } else {
            out.push(MetadataEvent::LocalFollower {
                topic: topic.to_string(),
                partition,
                leader: after.leader,
                leader_epoch: after.leader_epoch,
            });
        }
    } else if was_replica {
        out.push(MetadataEvent::LocalReplicaRemoved {
            topic: topic.to_string(),
            partition,
        });
    }
}
