//! Tests of replay into images: topic, partition, broker, config and ACL semantics, typed
//! errors that leave the delta untouched, change tracking, and the snapshot round trip
//! (`to_records` replayed into the empty image gives the image back) over random histories.

use crate::metadata::{LeaderEpoch, PartitionEpoch};
use crate::raft::{Epoch, NodeId, Offset};
use metaquorum_zk as zk;
use proptest::prelude::*;
use uuid::Uuid;

use super::acl::{AclBindingFilter, AclOperation, AclPermissionType, PatternType, ResourceType};
use super::configs::CONFIG_RESOURCE_TOPIC;
use super::delta::{MetadataDelta, ReplayError};
use super::diff::diff_images;
use super::image::{MetadataImage, MetadataProvenance};
use super::partition::LeaderRecoveryState;
use super::record::*;
use super::record_tests::{arb_record, arb_zk_txn_record};

const P: MetadataProvenance = MetadataProvenance {
    offset: Offset(10),
    epoch: Epoch(2),
    last_contained_timestamp_ms: 1000,
};

fn topic(name: &str, id: u128) -> MetadataRecord {
    MetadataRecord::Topic(TopicRecord {
        name: name.into(),
        topic_id: Uuid::from_u128(id),
    })
}

fn partition(topic: u128, id: i32, replicas: Vec<i32>, leader: i32) -> MetadataRecord {
    MetadataRecord::Partition(PartitionRecord {
        partition_id: id,
        topic_id: Uuid::from_u128(topic),
        isr: replicas.clone(),
        replicas,
        removing_replicas: vec![],
        adding_replicas: vec![],
        leader,
        leader_recovery_state: 0,
        leader_epoch: 0,
        partition_epoch: 0,
        directories: vec![],
        eligible_leader_replicas: None,
        last_known_elr: None,
    })
}

fn broker(id: i32, epoch: i64) -> MetadataRecord {
    MetadataRecord::RegisterBroker(RegisterBrokerRecord {
        broker_id: id,
        is_migrating_zk_broker: false,
        incarnation_id: Uuid::from_u128(100 + id as u128),
        broker_epoch: epoch,
        end_points: vec![Endpoint {
            name: "PLAINTEXT".into(),
            host: "localhost".into(),
            port: 9092 + id as u16,
            security_protocol: 0,
        }],
        features: vec![],
        rack: None,
        fenced: true,
        in_controlled_shutdown: false,
        log_dirs: vec![],
    })
}

fn change(id: i32, epoch: i64, fenced: i8, ics: i8) -> MetadataRecord {
    MetadataRecord::BrokerRegistrationChange(BrokerRegistrationChangeRecord {
        broker_id: id,
        broker_epoch: epoch,
        fenced,
        in_controlled_shutdown: ics,
        log_dirs: vec![],
    })
}

fn replay_all(delta: &mut MetadataDelta, records: &[MetadataRecord]) {
    for r in records {
        delta.replay(r).unwrap();
    }
}

#[test]
fn topics_and_partitions_replay_with_counts() {
    let mut d = MetadataDelta::new(&MetadataImage::empty());
    replay_all(
        &mut d,
        &[
            topic("foo", 1),
            partition(1, 0, vec![1, 2], 1),
            partition(1, 1, vec![2, 3], -1),
            topic("bar", 2),
            partition(2, 0, vec![3], 3),
        ],
    );
    let img = d.apply(P);
    assert_eq!(img.provenance, P);
    assert_eq!(img.topic_count(), 2);
    assert_eq!(img.partition_count(), 3);
    assert_eq!(img.offline_partition_count(), 1);
    assert_eq!(img.topic_by_name("foo").unwrap().id, Uuid::from_u128(1));
    assert_eq!(
        img.partition(&Uuid::from_u128(1), 1).unwrap().replicas,
        vec![NodeId(2), NodeId(3)]
    );
    assert!(img.topic_by_name("baz").is_none());
    let ch = d.changes();
    assert_eq!(ch.created_topics.len(), 2);
    assert_eq!(ch.changed_partitions[&Uuid::from_u128(1)].len(), 2);

    // The next delta: elect a leader for foo-1 and shrink foo-0's ISR.
    let mut d2 = MetadataDelta::new(&img);
    let mut c = PartitionChangeRecord::new(Uuid::from_u128(1), 1);
    c.leader = 2;
    d2.replay(&MetadataRecord::PartitionChange(c)).unwrap();
    let mut c = PartitionChangeRecord::new(Uuid::from_u128(1), 0);
    c.isr = Some(vec![1]);
    c.leader_recovery_state = 1;
    d2.replay(&MetadataRecord::PartitionChange(c)).unwrap();
    let img2 = d2.apply(P);
    let p1 = img2.partition(&Uuid::from_u128(1), 1).unwrap();
    assert_eq!(
        (p1.leader, p1.leader_epoch, p1.partition_epoch),
        (NodeId(2), LeaderEpoch(1), PartitionEpoch(1))
    );
    let p0 = img2.partition(&Uuid::from_u128(1), 0).unwrap();
    assert_eq!(
        (p0.isr.clone(), p0.leader_epoch, p0.partition_epoch),
        (vec![NodeId(1)], LeaderEpoch(0), PartitionEpoch(1))
    );
    assert_eq!(p0.leader_recovery_state, LeaderRecoveryState::Recovering);
    assert_eq!(img2.offline_partition_count(), 0);
    assert!(d2.changes().created_topics.is_empty());
    assert_eq!(
        d2.changes().changed_topics().collect::<Vec<_>>(),
        vec![&Uuid::from_u128(1)]
    );
    assert_eq!(d.changes().changed_topics().count(), 0);
    // The first image is unchanged: images are immutable.
    assert_eq!(img.offline_partition_count(), 1);
}

#[test]
fn bad_records_fail_with_typed_errors_and_change_nothing() {
    let mut d = MetadataDelta::new(&MetadataImage::empty());
    replay_all(&mut d, &[topic("foo", 1), partition(1, 0, vec![1], 1)]);
    let before = d.apply(P);
    assert_eq!(
        d.replay(&partition(7, 0, vec![1], 1)),
        Err(ReplayError::UnknownTopic {
            record: "PARTITION_RECORD",
            topic_id: Uuid::from_u128(7)
        })
    );
    assert_eq!(
        d.replay(&MetadataRecord::PartitionChange(
            PartitionChangeRecord::new(Uuid::from_u128(1), 5)
        )),
        Err(ReplayError::UnknownPartition {
            topic_id: Uuid::from_u128(1),
            partition_id: 5
        })
    );
    assert!(matches!(
        d.replay(&topic("foo", 2)),
        Err(ReplayError::DuplicateTopicName { .. })
    ));
    assert_eq!(
        d.replay(&topic("other", 1)),
        Err(ReplayError::DuplicateTopicId(Uuid::from_u128(1)))
    );
    assert!(matches!(
        d.replay(&MetadataRecord::RemoveTopic(RemoveTopicRecord {
            topic_id: Uuid::from_u128(9)
        })),
        Err(ReplayError::UnknownTopic { .. })
    ));
    let mut bad = PartitionChangeRecord::new(Uuid::from_u128(1), 0);
    bad.leader = 3;
    bad.leader_recovery_state = 9;
    assert_eq!(
        d.replay(&MetadataRecord::PartitionChange(bad)),
        Err(ReplayError::InvalidLeaderRecoveryState(9))
    );
    assert_eq!(
        d.replay(&MetadataRecord::RemoveAccessControlEntry(
            RemoveAccessControlEntryRecord {
                id: Uuid::from_u128(3)
            }
        )),
        Err(ReplayError::UnknownAcl(Uuid::from_u128(3)))
    );
    assert_eq!(d.apply(P), before);
}

#[test]
fn remove_topic_drops_partitions_and_topic_configs() {
    let mut d = MetadataDelta::new(&MetadataImage::empty());
    let cfg = |name: &str, key: &str, value: Option<&str>| {
        MetadataRecord::Config(ConfigRecord {
            resource_type: CONFIG_RESOURCE_TOPIC,
            resource_name: name.into(),
            name: key.into(),
            value: value.map(String::from),
        })
    };
    replay_all(
        &mut d,
        &[
            topic("foo", 1),
            partition(1, 0, vec![1], 1),
            cfg("foo", "retention.ms", Some("1000")),
            cfg("foo", "cleanup.policy", Some("compact")),
            cfg("foo", "cleanup.policy", None),
            topic("bar", 2),
            cfg("bar", "retention.ms", Some("5")),
        ],
    );
    let img = d.apply(P);
    let foo_cfg = img.configs.get(CONFIG_RESOURCE_TOPIC, "foo").unwrap();
    assert_eq!(foo_cfg.len(), 1);
    assert_eq!(
        foo_cfg.get("retention.ms").map(String::as_str),
        Some("1000")
    );

    let mut d = MetadataDelta::new(&img);
    d.replay(&MetadataRecord::RemoveTopic(RemoveTopicRecord {
        topic_id: Uuid::from_u128(1),
    }))
    .unwrap();
    let img2 = d.apply(P);
    assert!(img2.topic_by_name("foo").is_none());
    assert_eq!(img2.partition_count(), 0);
    assert!(img2.configs.get(CONFIG_RESOURCE_TOPIC, "foo").is_none());
    assert!(img2.configs.get(CONFIG_RESOURCE_TOPIC, "bar").is_some());
    assert_eq!(
        d.changes()
            .removed_topics
            .get(&Uuid::from_u128(1))
            .map(String::as_str),
        Some("foo")
    );
    // The name is free again.
    d.replay(&topic("foo", 3)).unwrap();

    // Created and removed within one delta: reported as neither.
    let mut d = MetadataDelta::new(&MetadataImage::empty());
    d.replay(&topic("tmp", 4)).unwrap();
    d.replay(&MetadataRecord::RemoveTopic(RemoveTopicRecord {
        topic_id: Uuid::from_u128(4),
    }))
    .unwrap();
    assert!(d.changes().created_topics.is_empty() && d.changes().removed_topics.is_empty());
}

#[test]
fn broker_registration_fencing_and_controlled_shutdown() {
    let mut d = MetadataDelta::new(&MetadataImage::empty());
    replay_all(&mut d, &[broker(1, 10), broker(2, 20)]);
    assert_eq!(d.current().fenced_broker_count(), 2);
    d.replay(&change(1, 10, -1, 0)).unwrap(); // unfence
    let img = d.apply(P);
    assert_eq!(
        (img.fenced_broker_count(), img.active_broker_count()),
        (1, 1)
    );
    assert_eq!(
        img.unfenced_brokers().map(|b| b.id).collect::<Vec<_>>(),
        vec![NodeId(1)]
    );

    let mut d = MetadataDelta::new(&img);
    d.replay(&change(1, 10, 0, 1)).unwrap(); // controlled shutdown, fencing unchanged
    let b = d.current().broker(NodeId(1)).unwrap().clone();
    assert!(!b.fenced && b.in_controlled_shutdown);
    d.replay(&change(1, 10, 1, 0)).unwrap(); // fence
    assert!(d.current().broker(NodeId(1)).unwrap().fenced);
    assert_eq!(
        d.replay(&change(1, 11, 1, 0)),
        Err(ReplayError::BrokerEpochMismatch {
            broker_id: 1,
            found: 11,
            current: 10
        })
    );
    assert_eq!(
        d.replay(&change(5, 0, 1, 0)),
        Err(ReplayError::UnknownBroker {
            action: "change",
            broker_id: 5
        })
    );
    assert_eq!(
        d.replay(&change(1, 10, 2, 0)),
        Err(ReplayError::InvalidFencingChange(2))
    );
    assert_eq!(
        d.replay(&change(1, 10, 0, -1)),
        Err(ReplayError::InvalidControlledShutdownChange(-1))
    );
    d.replay(&MetadataRecord::UnregisterBroker(UnregisterBrokerRecord {
        broker_id: 2,
        broker_epoch: 20,
    }))
    .unwrap();
    let img2 = d.apply(P);
    assert!(img2.broker(NodeId(2)).is_none());
    assert_eq!(
        d.changes()
            .changed_brokers
            .iter()
            .copied()
            .collect::<Vec<_>>(),
        vec![NodeId(1), NodeId(2)]
    );
}

#[test]
fn acls_features_and_producer_ids() {
    let acl = |id: u128, name: &str, pattern: PatternType| {
        MetadataRecord::AccessControlEntry(AccessControlEntryRecord {
            id: Uuid::from_u128(id),
            resource_type: ResourceType::Topic.code(),
            resource_name: name.into(),
            pattern_type: pattern.code(),
            principal: "User:alice".into(),
            host: "*".into(),
            operation: AclOperation::Read.code(),
            permission_type: AclPermissionType::Allow.code(),
        })
    };
    let mut d = MetadataDelta::new(&MetadataImage::empty());
    replay_all(
        &mut d,
        &[
            MetadataRecord::FeatureLevel(FeatureLevelRecord {
                name: "metadata.version".into(),
                feature_level: 21,
            }),
            MetadataRecord::FeatureLevel(FeatureLevelRecord {
                name: "group.version".into(),
                feature_level: 1,
            }),
            MetadataRecord::FeatureLevel(FeatureLevelRecord {
                name: "group.version".into(),
                feature_level: 0,
            }),
            acl(1, "foo", PatternType::Literal),
            acl(2, "fo", PatternType::Prefixed),
            acl(3, "bar", PatternType::Literal),
            MetadataRecord::RemoveAccessControlEntry(RemoveAccessControlEntryRecord {
                id: Uuid::from_u128(3),
            }),
            MetadataRecord::ProducerIds(ProducerIdsRecord {
                broker_id: 1,
                broker_epoch: 10,
                next_producer_id: 1000,
            }),
        ],
    );
    let img = d.apply(P);
    assert_eq!(img.metadata_version(), Some(21));
    assert_eq!(img.features.level("group.version"), None);
    assert_eq!(img.acls.len(), 2);
    let f = AclBindingFilter {
        resource_type: ResourceType::Topic,
        resource_name: Some("foo".into()),
        pattern_type: PatternType::Match,
        ..AclBindingFilter::any()
    };
    assert_eq!(img.acls_matching(&f).count(), 2);
    assert_eq!(img.producer_ids.next_producer_id, 1000);
    // The snapshot starts with metadata.version, as Kafka's does.
    assert!(matches!(&img.to_records()[0],
        MetadataRecord::FeatureLevel(f) if f.name == "metadata.version"));
}

/// Maps a random record into small id spaces so random histories hit existing topics,
/// partitions, brokers and ACLs often.
fn squash(r: MetadataRecord) -> MetadataRecord {
    let tid = |u: Uuid| Uuid::from_u128(u.as_u128() % 4);
    let name = |s: String| ["a", "b", "c"][s.len() % 3].to_string();
    match r {
        MetadataRecord::Topic(mut t) => {
            t.topic_id = tid(t.topic_id);
            t.name = name(t.name);
            MetadataRecord::Topic(t)
        }
        MetadataRecord::Partition(mut p) => {
            p.topic_id = tid(p.topic_id);
            p.partition_id = p.partition_id.rem_euclid(3);
            p.leader_recovery_state = p.leader_recovery_state.rem_euclid(2);
            MetadataRecord::Partition(p)
        }
        MetadataRecord::PartitionChange(mut p) => {
            p.topic_id = tid(p.topic_id);
            p.partition_id = p.partition_id.rem_euclid(3);
            p.leader_recovery_state = p.leader_recovery_state.rem_euclid(3) - 1;
            p.leader = p.leader.rem_euclid(5) - 2;
            MetadataRecord::PartitionChange(p)
        }
        MetadataRecord::RemoveTopic(mut t) => {
            t.topic_id = tid(t.topic_id);
            MetadataRecord::RemoveTopic(t)
        }
        MetadataRecord::RegisterBroker(mut b) => {
            b.broker_id = b.broker_id.rem_euclid(4);
            b.broker_epoch = b.broker_epoch.rem_euclid(3);
            MetadataRecord::RegisterBroker(b)
        }
        MetadataRecord::UnregisterBroker(mut b) => {
            b.broker_id = b.broker_id.rem_euclid(4);
            MetadataRecord::UnregisterBroker(b)
        }
        MetadataRecord::BrokerRegistrationChange(mut b) => {
            b.broker_id = b.broker_id.rem_euclid(4);
            b.broker_epoch = b.broker_epoch.rem_euclid(3);
            b.fenced = b.fenced.rem_euclid(3) - 1;
            b.in_controlled_shutdown = b.in_controlled_shutdown.rem_euclid(2);
            MetadataRecord::BrokerRegistrationChange(b)
        }
        MetadataRecord::Config(mut c) => {
            c.resource_type = [CONFIG_RESOURCE_TOPIC, 4][c.resource_type.rem_euclid(2) as usize];
            c.resource_name = name(c.resource_name);
            c.name = name(c.name);
            MetadataRecord::Config(c)
        }
        MetadataRecord::FeatureLevel(mut f) => {
            f.name = ["metadata.version", "group.version"][f.name.len() % 2].to_string();
            f.feature_level = [0, 1, 8, 21][f.feature_level.rem_euclid(4) as usize];
            MetadataRecord::FeatureLevel(f)
        }
        MetadataRecord::AccessControlEntry(mut a) => {
            a.id = Uuid::from_u128(a.id.as_u128() % 4);
            MetadataRecord::AccessControlEntry(a)
        }
        MetadataRecord::RemoveAccessControlEntry(mut a) => {
            a.id = Uuid::from_u128(a.id.as_u128() % 4);
            MetadataRecord::RemoveAccessControlEntry(a)
        }
        other => other,
    }
}

/// Topic, partition and partition-change records over a small id space, to bias histories
/// toward topics with partitions.
fn arb_topic_record() -> impl Strategy<Value = MetadataRecord> {
    (
        0u8..6,
        0u128..4,
        0i32..3,
        proptest::collection::vec(0i32..4, 0..4),
        -2i32..4,
    )
        .prop_map(|(kind, t, p, ids, leader)| match kind {
            0 => topic(["a", "b", "c", "d"][t as usize], t),
            1 | 2 => partition(t, p, ids, leader.max(-1)),
            _ => {
                let mut c = PartitionChangeRecord::new(Uuid::from_u128(t), p);
                c.leader = leader;
                if kind == 4 {
                    c.isr = Some(ids);
                } else if kind == 5 {
                    c.eligible_leader_replicas = Some(ids);
                }
                MetadataRecord::PartitionChange(c)
            }
        })
}

#[test]
fn a_topic_removed_created_and_removed_again_is_reported_under_its_base_name() {
    // The case the delta-covers-the-difference property found: base topic "a" (id 3) is
    // removed, "b" is created with the same id and removed too; the publisher must drop "a".
    let id = Uuid::from_u128(3);
    let topic = |name: &str| {
        MetadataRecord::Topic(TopicRecord {
            name: name.into(),
            topic_id: id,
        })
    };
    let remove = || MetadataRecord::RemoveTopic(RemoveTopicRecord { topic_id: id });
    let (base, _) = image_from(&[topic("a")]);
    let mut d = MetadataDelta::new(&base);
    for r in [remove(), topic("b"), remove()] {
        d.replay(&r).unwrap();
    }
    let next = d.apply(P);
    assert_eq!(
        d.changes().removed_topics.get(&id).map(String::as_str),
        Some("a")
    );
    assert_eq!(
        diff_images(&base, &next)
            .removed_topics
            .get(&id)
            .map(String::as_str),
        Some("a")
    );
}

fn zk_txn(session_id: i64, txn: zk::txn::Txn) -> MetadataRecord {
    MetadataRecord::ZkTxn(ZkTxnRecord(zk::record::TxnRecord {
        session_id,
        time_ms: 1_000,
        txn,
    }))
}

fn zk_create(path: &str, ephemeral_owner: i64, parent_cversion: i32) -> zk::txn::Txn {
    zk::txn::Txn::Create {
        path: path.into(),
        node: zk::tree::NewNode {
            data: Some(bytes::Bytes::from_static(b"v")),
            acl: zk::proto::records::Acl::open_unsafe().into(),
            ephemeral_owner,
        },
        parent_cversion,
    }
}

// A ZooKeeper transaction's zxid is its record's offset: every node numbers changes alike.
#[test]
fn zk_transactions_take_their_offset_as_zxid() {
    use super::loader::{CommittedBatch, MetadataLoader};
    let mut loader = MetadataLoader::new();
    let batch = |base: i64, records: Vec<MetadataRecord>| CommittedBatch {
        base_offset: Offset(base),
        epoch: Epoch(1),
        append_timestamp_ms: 5,
        records: records.iter().map(MetadataRecord::encode).collect(),
    };
    let open = zk::txn::Txn::CreateSession {
        timeout_ms: 30_000,
        passwd: bytes::Bytes::from_static(b"0123456789abcdef"),
    };
    let published = loader
        .handle_batch(&batch(
            100,
            vec![
                zk_txn(7, open),
                zk_txn(7, zk_create("/p", 0, 1)),
                zk_txn(7, zk_create("/p/e", 7, 1)),
            ],
        ))
        .unwrap();
    let img = &published[0].image;
    assert_eq!(img.zk.get("/p").unwrap().stat.czxid, 101);
    assert_eq!(img.zk.get("/p/e").unwrap().stat.czxid, 102);
    assert_eq!(img.zk.get("/p").unwrap().stat.pzxid, 102);
    assert!(img.zk.session(7).is_some());
    let zxids: Vec<i64> = published[0]
        .changes
        .zk_txns
        .iter()
        .map(|t| t.zxid)
        .collect();
    assert_eq!(zxids, vec![100, 101, 102]);
    assert!(published[0].changes.zk_changed);

    // Offsets skipped by control batches are skipped zxids, not renumbered ones.
    let published = loader
        .handle_batch(&batch(110, vec![zk_txn(7, zk::txn::Txn::CloseSession)]))
        .unwrap();
    let img = &published[0].image;
    assert!(
        img.zk.get("/p/e").is_none(),
        "the session's ephemeral goes with it"
    );
    assert_eq!(img.zk.get("/p").unwrap().stat.pzxid, 110);
    assert!(img.zk.session(7).is_none());
    match &*published[0].changes.zk_txns[0].applied {
        zk::txn::Applied::SessionClosed { deleted } => assert_eq!(deleted[0].0, "/p/e"),
        other => panic!("{other:?}"),
    }

    // The tree survives a snapshot: records, bytes, and back.
    let snapshot: Vec<bytes::Bytes> = img
        .to_records()
        .iter()
        .map(MetadataRecord::encode)
        .collect();
    let restored = super::loader::image_from_snapshot(img.provenance, &snapshot).unwrap();
    assert_eq!(&restored, img);
    assert_eq!(restored.zk.last_zxid(), 110);
}

// Replaying a ZooKeeper transaction needs its offset; a snapshot's tree records belong in
// snapshots only. Both are errors that change nothing.
#[test]
fn zk_records_out_of_place_fail_and_change_nothing() {
    let mut d = MetadataDelta::new(&MetadataImage::empty());
    let before = d.current().clone();
    assert_eq!(
        d.replay(&zk_txn(1, zk_create("/a", 0, 1))),
        Err(ReplayError::ZkTxnWithoutOffset)
    );
    assert_eq!(d.current(), &before);
    assert!(!d.changes().zk_changed);

    let node = MetadataRecord::ZkSnapshot(ZkSnapshotRecord(zk::record::SnapshotRecord::Node {
        path: "/".into(),
        data: None,
        acl: zk::proto::records::Acl::open_unsafe().into(),
        stat: Default::default(),
    }));
    let mut loader = super::loader::MetadataLoader::new();
    let err = loader
        .handle_batch(&super::loader::CommittedBatch {
            base_offset: Offset(3),
            epoch: Epoch(1),
            append_timestamp_ms: 5,
            records: vec![node.encode()],
        })
        .unwrap_err();
    assert!(
        err.to_string().contains("only snapshots hold the tree"),
        "{err}"
    );
    assert!(loader.image().is_empty());

    // An orphan in a snapshot names itself.
    let orphan = MetadataRecord::ZkSnapshot(ZkSnapshotRecord(zk::record::SnapshotRecord::Node {
        path: "/x/y".into(),
        data: None,
        acl: zk::proto::records::Acl::open_unsafe().into(),
        stat: Default::default(),
    }));
    let err = super::loader::image_from_snapshot(P, &[node.encode(), orphan.encode()]).unwrap_err();
    assert!(
        err.to_string().contains("/x/y comes before its parent"),
        "{err}"
    );

    // An image that never used the front snapshots exactly as before: no tree records.
    let (img, _) = image_from(&[topic("t", 1)]);
    assert!(img
        .to_records()
        .iter()
        .all(|r| !matches!(r, MetadataRecord::ZkSnapshot(_))));
}

fn arb_history(max: usize) -> impl Strategy<Value = Vec<MetadataRecord>> {
    proptest::collection::vec(
        prop_oneof![
            2 => arb_record().prop_map(squash),
            2 => arb_topic_record(),
            1 => arb_zk_txn_record().prop_map(MetadataRecord::ZkTxn),
        ],
        0..max,
    )
}

/// Replays `records` as if they were at offsets `first`, `first + 1`, ...
fn replay_from(d: &mut MetadataDelta, first: usize, records: &[MetadataRecord]) -> usize {
    records
        .iter()
        .enumerate()
        .filter(|(i, r)| d.replay_at(Offset((first + i) as i64), r).is_ok())
        .count()
}

fn image_from(records: &[MetadataRecord]) -> (MetadataImage, usize) {
    let mut d = MetadataDelta::new(&MetadataImage::empty());
    let applied = replay_from(&mut d, 0, records);
    (d.apply(P), applied)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    // The snapshot form replays back to the same image (Kafka writes snapshots this way).
    #[test]
    fn snapshot_records_rebuild_the_image(
        history in arb_history(60)
    ) {
        let (img, _) = image_from(&history);
        let snapshot = img.to_records();
        let mut d = MetadataDelta::new(&MetadataImage::empty());
        for r in &snapshot {
            prop_assert_eq!(d.replay(r), Ok(()));
        }
        prop_assert_eq!(d.apply(P), img.clone());
        // And through the bytes.
        let decoded: Vec<MetadataRecord> = snapshot
            .iter()
            .map(|r| MetadataRecord::decode(r.encode()).unwrap())
            .collect();
        prop_assert_eq!(decoded, snapshot);
        // The name index agrees with the id index.
        prop_assert_eq!(img.topics.by_name.len(), img.topics.by_id.len());
        for (name, id) in img.topics.by_name.iter() {
            prop_assert_eq!(&img.topics.by_id[id].name, name);
        }
    }

    // Replaying in two deltas gives the same image as one.
    #[test]
    fn split_replay_equals_single_replay(
        history in arb_history(40),
        split in any::<prop::sample::Index>(),
    ) {
        let (whole, _) = image_from(&history);
        let at = split.index(history.len() + 1);
        let (first, _) = image_from(&history[..at]);
        let mut d = MetadataDelta::new(&first);
        replay_from(&mut d, at, &history[at..]);
        prop_assert_eq!(d.apply(P), whole);
    }

    // A delta's changes cover every difference between its base and its image: a publisher
    // told only the delta's changes misses nothing (diff_images, computed from the images
    // alone, is the oracle).
    #[test]
    fn a_deltas_changes_cover_the_whole_difference(
        base in arb_history(30),
        more in arb_history(30),
    ) {
        let (first, _) = image_from(&base);
        let mut d = MetadataDelta::new(&first);
        replay_from(&mut d, base.len(), &more);
        let next = d.apply(P);
        let ch = d.changes();
        let diff = diff_images(&first, &next);
        // (The delta may say more: a topic removed and created again with the same id ends
        // equal, but a broker must still drop what it held for the old one.)
        prop_assert!(diff.created_topics.is_subset(&ch.created_topics));
        for (id, name) in &diff.removed_topics {
            prop_assert_eq!(ch.removed_topics.get(id), Some(name));
        }
        for (id, parts) in &diff.changed_partitions {
            let told = ch.changed_partitions.get(id);
            prop_assert!(told.is_some_and(|t| parts.is_subset(t)), "{:?} {:?}", id, parts);
        }
        prop_assert!(diff.changed_brokers.is_subset(&ch.changed_brokers));
        prop_assert!(diff.changed_controllers.is_subset(&ch.changed_controllers));
        prop_assert!(diff.changed_configs.is_subset(&ch.changed_configs));
        prop_assert!(diff.changed_acls.is_subset(&ch.changed_acls));
        prop_assert!(!diff.features_changed || ch.features_changed);
        prop_assert!(!diff.producer_ids_changed || ch.producer_ids_changed);
        prop_assert!(!diff.zk_changed || ch.zk_changed);
    }

    // Two deltas' changes, chained with `then`, are the changes one delta over both would
    // report: the active controller publishes the changes of several proposals that
    // committed in one batch this way.
    #[test]
    fn chained_changes_equal_one_deltas(
        history in arb_history(40),
        split in any::<prop::sample::Index>(),
    ) {
        let at = split.index(history.len() + 1);
        let mut whole = MetadataDelta::new(&MetadataImage::empty());
        let mut first = MetadataDelta::new(&MetadataImage::empty());
        replay_from(&mut whole, 0, &history);
        replay_from(&mut first, 0, &history[..at]);
        let mut second = MetadataDelta::new(&first.apply(P));
        replay_from(&mut second, at, &history[at..]);
        prop_assert_eq!(first.changes().then(second.changes()), whole.changes().clone());
    }
}
