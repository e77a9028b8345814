//! [`diff_images`]: everything that differs between two images, in the form of a delta's
//! [`MetadataChanges`]. A publisher needs it where there is no delta to ask: after a snapshot
//! load, or to resynchronise a subscriber that skipped updates. A delta's own changes must
//! cover every difference it finds (property test in `image_tests.rs`): the two are the same
//! answer computed two ways.

use imbl::{OrdMap, OrdSet};

use super::configs::ConfigResource;
use super::delta::MetadataChanges;
use super::image::MetadataImage;

/// Everything that differs between two images, in the form the log's deltas use.
pub fn diff_images(prev: &MetadataImage, next: &MetadataImage) -> MetadataChanges {
    let mut ch = MetadataChanges {
        features_changed: prev.features != next.features,
        producer_ids_changed: prev.producer_ids != next.producer_ids,
        zk_changed: prev.zk != next.zk,
        ..MetadataChanges::default()
    };
    for (id, t) in &prev.topics.by_id {
        if !next.topics.by_id.contains_key(id) {
            ch.removed_topics.insert(*id, t.name.clone());
        }
    }
    for (id, t) in &next.topics.by_id {
        let before = prev.topics.by_id.get(id);
        if before.is_none() {
            ch.created_topics.insert(*id);
        }
        let mut changed = OrdSet::new();
        for (p, reg) in &t.partitions {
            if before.and_then(|b| b.partitions.get(p)) != Some(reg) {
                changed.insert(*p);
            }
        }
        if !changed.is_empty() {
            ch.changed_partitions.insert(*id, changed);
        }
    }
    ch.changed_brokers = changed_keys(&prev.cluster.brokers, &next.cluster.brokers);
    ch.changed_controllers = changed_keys(&prev.cluster.controllers, &next.cluster.controllers);
    ch.changed_configs = changed_keys(&prev.configs.resources, &next.configs.resources)
        .into_iter()
        .collect::<OrdSet<ConfigResource>>();
    ch.changed_acls = changed_keys(&prev.acls, &next.acls);
    ch
}

fn changed_keys<K: Ord + Clone, V: PartialEq + Clone>(
    a: &OrdMap<K, V>,
    b: &OrdMap<K, V>,
) -> OrdSet<K> {
    let mut out = OrdSet::new();
    for (k, v) in a {
        if b.get(k) != Some(v) {
            out.insert(k.clone());
        }
    }
    for k in b.keys() {
        if !a.contains_key(k) {
            out.insert(k.clone());
        }
    }
    out
}
