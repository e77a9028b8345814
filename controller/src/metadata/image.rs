//! [`MetadataImage`]: the immutable state of the cluster metadata at one offset, built by
//! replaying records (see [`super::delta`]). Every part is a persistent map from `imbl`, so
//! cloning an image is cheap and the next image shares everything that did not change with the
//! last one (KAFKA-14735). Also [`MetadataProvenance`] and [`ProducerIdsImage`].

use imbl::OrdMap;
use metaquorum_zk::tree::DataTree;
use uuid::Uuid;

use crate::raft::{Epoch, NodeId, Offset};

use super::acl::{AclBindingFilter, StandardAcl};
use super::cluster::{BrokerRegistration, ClusterImage};
use super::configs::ConfigsImage;
use super::features::FeaturesImage;
use super::partition::PartitionRegistration;
use super::record::{MetadataRecord, ProducerIdsRecord, TopicRecord};
use super::topics::{TopicImage, TopicsImage};

/// Where an image comes from: the last record it contains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MetadataProvenance {
    /// Offset of the last record contained (-1 for the empty image).
    pub offset: Offset,
    /// Epoch of the batch holding that record (-1 for the empty image).
    pub epoch: Epoch,
    /// Append time of that batch, in milliseconds since the epoch (-1 if unknown).
    pub last_contained_timestamp_ms: i64,
}

impl MetadataProvenance {
    /// The provenance of the empty image.
    pub const EMPTY: MetadataProvenance = MetadataProvenance {
        offset: Offset(-1),
        epoch: Epoch(-1),
        last_contained_timestamp_ms: -1,
    };
}

impl Default for MetadataProvenance {
    fn default() -> Self {
        Self::EMPTY
    }
}

/// The producer-id block state (`ProducerIdsRecord`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProducerIdsImage {
    /// First producer id not yet handed out; -1 before any block was allocated.
    pub next_producer_id: i64,
    /// Broker the last block went to (-1 if unknown).
    pub broker_id: i32,
    /// That broker's epoch (-1 if unknown).
    pub broker_epoch: i64,
}

impl Default for ProducerIdsImage {
    fn default() -> Self {
        ProducerIdsImage {
            next_producer_id: -1,
            broker_id: -1,
            broker_epoch: -1,
        }
    }
}

/// The whole metadata state at one offset. Immutable; clone freely.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetadataImage {
    /// The last record this image contains.
    pub provenance: MetadataProvenance,
    /// Finalized feature levels.
    pub features: FeaturesImage,
    /// Registered brokers and controllers.
    pub cluster: ClusterImage,
    /// Topics and partitions.
    pub topics: TopicsImage,
    /// Dynamic configs.
    pub configs: ConfigsImage,
    /// ACLs by id.
    pub acls: OrdMap<Uuid, StandardAcl>,
    /// Producer-id allocation state.
    pub producer_ids: ProducerIdsImage,
    /// The ZooKeeper front's znodes and sessions (`METAQUORUM_ZK_TXN_RECORD`s applied).
    pub zk: DataTree,
}

impl MetadataImage {
    /// The empty image (nothing replayed).
    pub fn empty() -> Self {
        Self::default()
    }

    /// Whether nothing but the provenance is set.
    pub fn is_empty(&self) -> bool {
        MetadataImage {
            provenance: MetadataProvenance::EMPTY,
            ..self.clone()
        } == MetadataImage::empty()
    }

    /// The finalized `metadata.version` level.
    pub fn metadata_version(&self) -> Option<i16> {
        self.features.metadata_version()
    }

    /// A topic by name.
    pub fn topic_by_name(&self, name: &str) -> Option<&TopicImage> {
        self.topics.by_name(name)
    }

    /// A topic by id.
    pub fn topic(&self, id: &Uuid) -> Option<&TopicImage> {
        self.topics.get(id)
    }

    /// A partition by topic id and index.
    pub fn partition(&self, topic_id: &Uuid, partition_id: i32) -> Option<&PartitionRegistration> {
        self.topics.get(topic_id)?.partition(partition_id)
    }

    /// A broker by id.
    pub fn broker(&self, id: NodeId) -> Option<&BrokerRegistration> {
        self.cluster.broker(id)
    }

    /// Brokers that are not fenced, by id.
    pub fn unfenced_brokers(&self) -> impl Iterator<Item = &BrokerRegistration> {
        self.cluster.unfenced_brokers()
    }

    /// Number of topics (Kafka's `GlobalTopicCount`).
    pub fn topic_count(&self) -> usize {
        self.topics.len()
    }

    /// Number of partitions (Kafka's `GlobalPartitionCount`).
    pub fn partition_count(&self) -> usize {
        self.topics.partition_count()
    }

    /// Partitions without a leader (Kafka's `OfflinePartitionsCount`).
    pub fn offline_partition_count(&self) -> usize {
        self.topics.offline_partition_count()
    }

    /// Fenced brokers (Kafka's `FencedBrokerCount`).
    pub fn fenced_broker_count(&self) -> usize {
        self.cluster.fenced_broker_count()
    }

    /// Unfenced brokers (Kafka's `ActiveBrokerCount`).
    pub fn active_broker_count(&self) -> usize {
        self.cluster.active_broker_count()
    }

    /// The ACLs a filter selects, by id.
    pub fn acls_matching<'a>(
        &'a self,
        filter: &'a AclBindingFilter,
    ) -> impl Iterator<Item = (&'a Uuid, &'a StandardAcl)> + 'a {
        self.acls.iter().filter(move |(_, acl)| filter.matches(acl))
    }

    /// The image as records, in the order Kafka writes a snapshot: features (metadata.version
    /// first, then the ZK migration state), brokers, controllers, topics each followed by its
    /// partitions, configs, producer ids, ACLs; then, if the ZooKeeper front was used, its
    /// tree (`METAQUORUM_ZK_SNAPSHOT_RECORD`s, the root first). Replaying them into the empty image gives back
    /// this image (provenance aside).
    pub fn to_records(&self) -> Vec<MetadataRecord> {
        let mut out = Vec::new();
        out.extend(self.features.to_records());
        out.extend(
            self.cluster
                .brokers
                .values()
                .map(|b| MetadataRecord::RegisterBroker(b.to_record())),
        );
        out.extend(
            self.cluster
                .controllers
                .values()
                .map(|c| MetadataRecord::RegisterController(c.to_record())),
        );
        for topic in self.topics.by_id.values() {
            out.push(MetadataRecord::Topic(TopicRecord {
                name: topic.name.clone(),
                topic_id: topic.id,
            }));
            out.extend(
                topic
                    .partitions
                    .iter()
                    .map(|(id, p)| MetadataRecord::Partition(p.to_record(topic.id, *id))),
            );
        }
        out.extend(
            self.configs
                .to_records()
                .into_iter()
                .map(MetadataRecord::Config),
        );
        if self.producer_ids != ProducerIdsImage::default() {
            out.push(MetadataRecord::ProducerIds(ProducerIdsRecord {
                broker_id: self.producer_ids.broker_id,
                broker_epoch: self.producer_ids.broker_epoch,
                next_producer_id: self.producer_ids.next_producer_id,
            }));
        }
        out.extend(
            self.acls
                .iter()
                .map(|(id, acl)| MetadataRecord::AccessControlEntry(acl.to_record(*id))),
        );
        out.extend(
            super::zk::snapshot_records(&self.zk)
                .into_iter()
                .map(MetadataRecord::ZkSnapshot),
        );
        out
    }
}
