//! [`TopicsImage`]: topics by id and by name, each a [`TopicImage`] with its partitions.

use imbl::OrdMap;
use uuid::Uuid;

use super::partition::PartitionRegistration;

/// One topic and its partitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicImage {
    /// Topic name.
    pub name: String,
    /// Topic id.
    pub id: Uuid,
    /// Partitions by index.
    pub partitions: OrdMap<i32, PartitionRegistration>,
}

impl TopicImage {
    /// A partition by index.
    pub fn partition(&self, partition_id: i32) -> Option<&PartitionRegistration> {
        self.partitions.get(&partition_id)
    }
}

/// Every topic, by id and by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicsImage {
    /// Topics by id.
    pub by_id: OrdMap<Uuid, TopicImage>,
    /// Topic ids by name. Invariant: `by_name[t.name] == t.id` for every `t` in `by_id`, and
    /// the two maps have the same size.
    pub by_name: OrdMap<String, Uuid>,
}

impl TopicsImage {
    /// A topic by id.
    pub fn get(&self, id: &Uuid) -> Option<&TopicImage> {
        self.by_id.get(id)
    }

    /// A topic by name.
    pub fn by_name(&self, name: &str) -> Option<&TopicImage> {
        self.by_name.get(name).and_then(|id| self.by_id.get(id))
    }

    /// Number of topics.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether there are no topics.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Number of partitions over all topics.
    pub fn partition_count(&self) -> usize {
        self.by_id.values().map(|t| t.partitions.len()).sum()
    }

    /// Number of partitions with no leader (Kafka's `OfflinePartitionsCount`).
    pub fn offline_partition_count(&self) -> usize {
        self.by_id
            .values()
            .flat_map(|t| t.partitions.values())
            .filter(|p| !p.has_leader())
            .count()
    }
}
