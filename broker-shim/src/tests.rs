//! Unit tests of the listener API: events told from the right broker's point of view, the
//! whole-image diff agreeing with the log's deltas, and a lagging subscriber resynchronised
//! instead of blocking or missing anything.

use metaquorum_controller::metadata::image::{MetadataImage, MetadataProvenance};
use metaquorum_controller::metadata::loader::MetadataLoader;
use metaquorum_controller::metadata::record::*;
use metaquorum_controller::metadata::{BrokerEpoch, LeaderEpoch};
use metaquorum_log::{Epoch, NodeId, Offset};
use uuid::Uuid;

use crate::events::diff_images;
use crate::publisher::{MetadataPublisher, MetadataUpdate, UpdateSource, UPDATES_QUEUED_MAX};
use crate::MetadataEvent;

const TOPIC: u128 = 7;

fn broker(id: i32, epoch: i64) -> MetadataRecord {
    MetadataRecord::RegisterBroker(RegisterBrokerRecord {
        broker_id: id,
        is_migrating_zk_broker: false,
        incarnation_id: Uuid::from_u128(100 + id as u128),
        broker_epoch: epoch,
        end_points: vec![],
        features: vec![],
        rack: None,
        fenced: true,
        in_controlled_shutdown: false,
        log_dirs: vec![],
    })
}

fn unfence(id: i32, epoch: i64, fenced: i8) -> MetadataRecord {
    MetadataRecord::BrokerRegistrationChange(BrokerRegistrationChangeRecord {
        broker_id: id,
        broker_epoch: epoch,
        fenced,
        in_controlled_shutdown: 0,
        log_dirs: vec![],
    })
}

fn partition(id: i32, replicas: Vec<i32>, leader: i32) -> MetadataRecord {
    MetadataRecord::Partition(PartitionRecord {
        partition_id: id,
        topic_id: Uuid::from_u128(TOPIC),
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

fn leader_change(id: i32, leader: i32, isr: Vec<i32>) -> MetadataRecord {
    MetadataRecord::PartitionChange(PartitionChangeRecord {
        partition_id: id,
        topic_id: Uuid::from_u128(TOPIC),
        isr: Some(isr),
        leader,
        replicas: None,
        removing_replicas: None,
        adding_replicas: None,
        leader_recovery_state: -1,
        directories: None,
        eligible_leader_replicas: None,
        last_known_elr: None,
    })
}

/// Loads `batches` one after another, returning every published update.
fn load(batches: Vec<Vec<MetadataRecord>>) -> Vec<MetadataUpdate> {
    let mut loader = MetadataLoader::new();
    let mut offset = 0;
    let mut out = Vec::new();
    for records in batches {
        let mut previous = loader.image().clone();
        let n = records.len() as i64;
        for loaded in loader
            .handle_records(Offset(offset), Epoch(1), 1_000, &records)
            .unwrap()
        {
            let image = loaded.image;
            out.push(MetadataUpdate {
                previous: std::mem::replace(&mut previous, image.clone()),
                image,
                changes: loaded.changes,
                source: UpdateSource::Log,
            });
        }
        offset += n;
    }
    out
}

fn setup() -> Vec<Vec<MetadataRecord>> {
    vec![
        vec![
            broker(1, 0),
            broker(2, 1),
            unfence(1, 0, -1),
            unfence(2, 1, -1),
        ],
        vec![
            MetadataRecord::Topic(TopicRecord {
                name: "orders".into(),
                topic_id: Uuid::from_u128(TOPIC),
            }),
            partition(0, vec![1, 2], 1),
            partition(1, vec![2, 1], 2),
        ],
    ]
}

#[test]
fn a_new_topic_is_told_with_this_brokers_leaderships_and_followerships() {
    let updates = load(setup());
    let events = updates[1].events(NodeId(1));
    assert!(events.contains(&MetadataEvent::TopicCreated {
        name: "orders".into(),
        id: Uuid::from_u128(TOPIC),
        partitions: 2,
    }));
    assert!(events.contains(&MetadataEvent::LocalLeader {
        topic: "orders".into(),
        partition: 0,
        leader_epoch: LeaderEpoch(0),
        isr: vec![NodeId(1), NodeId(2)],
    }));
    assert!(events.contains(&MetadataEvent::LocalFollower {
        topic: "orders".into(),
        partition: 1,
        leader: NodeId(2),
        leader_epoch: LeaderEpoch(0),
    }));
    // Broker 3 holds no replica: it hears of the partitions, not of local changes.
    assert!(!updates[1].events(NodeId(3)).iter().any(|e| matches!(
        e,
        MetadataEvent::LocalLeader { .. } | MetadataEvent::LocalFollower { .. }
    )));
    let first = updates[0].events(NodeId(1));
    assert!(first.contains(&MetadataEvent::BrokerRegistered {
        id: NodeId(2),
        epoch: BrokerEpoch(1)
    }));
    assert!(first.contains(&MetadataEvent::BrokerUnfenced { id: NodeId(2) }));
}

#[test]
fn fencing_moves_leadership_and_deletion_removes_local_replicas() {
    let mut batches = setup();
    batches.push(vec![unfence(1, 0, 1), leader_change(0, 2, vec![2])]);
    batches.push(vec![MetadataRecord::RemoveTopic(RemoveTopicRecord {
        topic_id: Uuid::from_u128(TOPIC),
    })]);
    let updates = load(batches);
    let fenced = updates[2].events(NodeId(2));
    assert!(fenced.contains(&MetadataEvent::BrokerFenced { id: NodeId(1) }));
    assert!(fenced.contains(&MetadataEvent::LocalLeader {
        topic: "orders".into(),
        partition: 0,
        leader_epoch: LeaderEpoch(1),
        isr: vec![NodeId(2)],
    }));
    let deleted = updates[3].events(NodeId(1));
    assert!(deleted.contains(&MetadataEvent::TopicDeleted {
        name: "orders".into(),
        id: Uuid::from_u128(TOPIC),
    }));
    for p in [0, 1] {
        assert!(deleted.contains(&MetadataEvent::LocalReplicaRemoved {
            topic: "orders".into(),
            partition: p,
        }));
    }
}

#[test]
fn configs_and_acls_are_told_with_their_new_state() {
    let mut batches = setup();
    let acl = Uuid::from_u128(99);
    batches.push(vec![
        MetadataRecord::Config(ConfigRecord {
            resource_type: 2,
            resource_name: "orders".into(),
            name: "retention.ms".into(),
            value: Some("1000".into()),
        }),
        MetadataRecord::AccessControlEntry(AccessControlEntryRecord {
            id: acl,
            resource_type: 2,
            resource_name: "orders".into(),
            pattern_type: 3,
            principal: "User:alice".into(),
            host: "*".into(),
            operation: 3,
            permission_type: 3,
        }),
    ]);
    batches.push(vec![MetadataRecord::RemoveAccessControlEntry(
        RemoveAccessControlEntryRecord { id: acl },
    )]);
    let updates = load(batches);
    let events = updates[2].events(NodeId(1));
    assert!(events.iter().any(|e| matches!(e,
        MetadataEvent::ConfigChanged { resource_type: 2, resource_name, configs }
            if resource_name == "orders" && configs.get("retention.ms").map(String::as_str) == Some("1000"))));
    assert!(events
        .iter()
        .any(|e| matches!(e, MetadataEvent::AclCreated { id, .. } if *id == acl)));
    assert!(updates[3]
        .events(NodeId(1))
        .iter()
        .any(|e| matches!(e, MetadataEvent::AclDeleted { id, .. } if *id == acl)));
}

#[test]
fn the_whole_image_diff_agrees_with_the_log_deltas() {
    let updates = load(setup());
    let last = updates.last().unwrap();
    let diff = diff_images(&MetadataImage::empty(), &last.image);
    assert_eq!(diff.created_topics.len(), 1);
    assert_eq!(diff.changed_brokers.len(), 2);
    assert_eq!(
        diff.changed_partitions[&Uuid::from_u128(TOPIC)].len(),
        2,
        "{diff:?}"
    );
    // From one image to the next, the diff is exactly the delta's changes.
    assert_eq!(diff_images(&last.previous, &last.image), last.changes);
    assert!(diff_images(&last.image, &last.image).is_empty());
}

fn image_at(offset: i64) -> MetadataImage {
    MetadataImage {
        provenance: MetadataProvenance {
            offset: Offset(offset),
            epoch: Epoch(1),
            last_contained_timestamp_ms: offset,
        },
        ..MetadataImage::empty()
    }
}

#[tokio::test]
async fn a_subscriber_gets_every_update_in_order() {
    let publisher = MetadataPublisher::new();
    let mut sub = publisher.subscribe();
    let mut previous = publisher.latest();
    for o in 0..10 {
        let image = image_at(o);
        publisher.publish(MetadataUpdate {
            previous: std::mem::replace(&mut previous, image.clone()),
            image,
            changes: Default::default(),
            source: UpdateSource::Log,
        });
    }
    for o in 0..10 {
        let u = sub.next().await.unwrap();
        assert_eq!((u.offset(), u.source), (Offset(o), UpdateSource::Log));
    }
}

#[tokio::test]
async fn a_lagging_subscriber_is_resynchronised_to_the_newest_image() {
    // Every update registers one more broker, so the images differ all the way: the resync must
    // carry the whole difference from the last image the subscriber saw, not just the tail.
    let total = UPDATES_QUEUED_MAX as i32 + 10;
    let updates = load(
        (1..=total + 1)
            .map(|id| vec![broker(id, id as i64)])
            .collect(),
    );
    assert_eq!(updates.len(), total as usize + 1);
    let publisher = MetadataPublisher::new();
    let mut sub = publisher.subscribe();
    let first_seen = publisher.latest();
    let mut updates = updates.into_iter();
    for u in updates.by_ref().take(total as usize) {
        publisher.publish(u);
    }
    let u = sub.next().await.unwrap();
    assert_eq!(u.source, UpdateSource::Resync);
    assert_eq!(u.previous.provenance.offset, first_seen.provenance.offset);
    assert_eq!(u.offset(), publisher.latest().provenance.offset);
    assert_eq!(u.image.fenced_broker_count(), total as usize);
    assert_eq!(u.changes, diff_images(&first_seen, &u.image));
    let registered: Vec<NodeId> = u
        .events(NodeId(1))
        .into_iter()
        .filter_map(|e| match e {
            MetadataEvent::BrokerRegistered { id, .. } => Some(id),
            _ => None,
        })
        .collect();
    assert_eq!(
        registered,
        (1..=total).map(NodeId).collect::<Vec<_>>(),
        "every broker, first to last"
    );
    // Caught up: the next update is the next publish, told as the log told it.
    let next = updates.next().unwrap();
    let next_offset = next.offset();
    publisher.publish(next);
    let u = sub.next().await.unwrap();
    assert_eq!((u.offset(), u.source), (next_offset, UpdateSource::Log));
    let registered: Vec<_> = u
        .events(NodeId(1))
        .into_iter()
        .filter(|e| matches!(e, MetadataEvent::BrokerRegistered { .. }))
        .collect();
    assert_eq!(registered.len(), 1, "{registered:?}");
}

/// A broker whose metadata stops applying (a committed batch it cannot replay) stays up, asks
/// the controller to fence it in its next heartbeat (WantFence), and the controller does:
/// the error policy of `follower.rs`, end to end through the real node, the shim's lifecycle
/// and the controller's heartbeat handling.
#[test]
fn a_broker_whose_metadata_stops_asks_to_be_fenced_and_is_fenced() {
    use bytes::Bytes;
    use kafka_protocol::messages::{BrokerRegistrationResponse, RequestKind, ResponseKind};
    use metaquorum_controller::control::brokers::BrokerLifecycle;
    use metaquorum_controller::metadata::delta::MetadataDelta;
    use metaquorum_controller::node::{Effect, Node, NodeConfig};
    use metaquorum_controller::raft::{
        Batch, ElectionState, LogOp, LogStore, MemStore, RaftConfig,
    };
    use metaquorum_log::batch::RecordData;

    use crate::follower::BrokerMetadata;
    use crate::lifecycle::{LifecycleCore, LifecycleSettings};

    // 1. The broker's metadata meets a committed batch that is not a metadata record.
    let mut store = MemStore::new();
    let garbage = Batch::new(
        Offset(0),
        Epoch(1),
        false,
        vec![RecordData {
            key: None,
            value: Some(Bytes::from_static(b"not a metadata record")),
        }],
    );
    store.apply(LogOp::Append(garbage)).unwrap();
    store.flush().unwrap();
    let metadata = BrokerMetadata::new(MetadataPublisher::new(), None);
    let health = metadata.health();
    let config = NodeConfig {
        raft: RaftConfig::new(NodeId(1)),
        voters: [NodeId(1)].into(),
        persisted: Some(ElectionState {
            epoch: Epoch(1),
            leader_id: None,
            voted_id: None,
        }),
        seed: 7,
        now_ms: 0,
        wall_ms_at_zero: 0,
    };
    let mut node = Node::new(config, store, metadata).unwrap();
    for t in [5_000, 5_001, 5_002] {
        let mut effects = node.tick(t);
        while let Some(f) = effects.iter().find_map(|e| match e {
            Effect::Flush(f) => Some(*f),
            _ => None,
        }) {
            node.flushed(t, Ok(f));
            effects = node.ready(t);
        }
    }
    let failed = health.lock().unwrap().failed.clone();
    assert!(failed.is_some(), "the broker's metadata did not stop");
    assert!(!node.stopped(), "a broker stays up for diagnosis");

    // 2. Its lifecycle, registered with epoch 10, asks to be fenced.
    let settings = LifecycleSettings {
        broker_id: NodeId(1),
        cluster_id: "c".into(),
        incarnation_id: Uuid::from_u128(1),
        listeners: vec![("PLAINTEXT".into(), "h".into(), 9092, 0)],
        rack: None,
        heartbeat_interval_ms: 2_000,
        initial_registration_timeout_ms: 60_000,
        request_timeout_ms: 1_000,
    };
    let mut lifecycle = LifecycleCore::new(settings, 0);
    lifecycle
        .poll(0, Offset(-1), false, false)
        .expect("registration");
    let registered = BrokerRegistrationResponse::default().with_broker_epoch(10);
    lifecycle.answered(1, Ok(ResponseKind::BrokerRegistration(registered)), false);
    let offset = node.state_machine().image().provenance.offset;
    let request = lifecycle
        .poll(1, offset, failed.is_some(), false)
        .expect("a heartbeat");
    let RequestKind::BrokerHeartbeat(heartbeat) = request.request else {
        panic!("expected a heartbeat");
    };
    assert!(heartbeat.want_fence);

    // 3. The controller, which has the broker registered and unfenced, fences it.
    let mut image = MetadataImage::empty();
    let mut delta = MetadataDelta::new(&image);
    delta.replay(&broker(1, 10)).unwrap();
    delta.replay(&unfence(1, 10, -1)).unwrap();
    image = delta.apply(MetadataProvenance::EMPTY);
    assert!(!image.broker(NodeId(1)).unwrap().fenced);
    let result = BrokerLifecycle::default().heartbeat(&image, &heartbeat, Offset(100), 10);
    assert!(result.response.is_fenced);
    let mut delta = MetadataDelta::new(&image);
    for r in &result.records {
        delta.replay(r).unwrap();
    }
    let fenced = delta.apply(MetadataProvenance::EMPTY);
    assert!(
        fenced.broker(NodeId(1)).unwrap().fenced,
        "{:?}",
        result.records
    );
}

/// A combined node (controller and broker in one process) decodes and replays each committed
/// batch once, in the controller's loader; the broker half publishes those images. On the
/// active controller the images are the ones its proposals built, so their changes come from
/// the proposals' deltas: each update must carry exactly what changed, chain from the one
/// before, and end on the controller's committed image.
#[tokio::test]
async fn a_combined_node_publishes_the_controllers_images_with_their_changes() {
    use std::time::Duration;

    use kafka_protocol::messages::create_acls_request::{AclCreation, CreateAclsRequest};
    use kafka_protocol::messages::{RequestKind, ResponseKind};
    use kafka_protocol::protocol::StrBytes;
    use metaquorum_controller::apis::ControllerCall;
    use metaquorum_controller::config::HostPort;
    use metaquorum_controller::control::controller::{ControllerSettings, QuorumController};
    use metaquorum_controller::control::topics::TopicDefaults;
    use metaquorum_controller::node::{Effect, Node, NodeConfig};
    use metaquorum_controller::raft::{MemStore, RaftConfig, RoleKind};
    use metaquorum_controller::snapshots::SnapshotPolicy;

    use crate::follower::{BrokerMetadata, Combined};

    let settings = ControllerSettings {
        cluster_id: "c".into(),
        voters: [(
            NodeId(1),
            HostPort {
                host: "localhost".into(),
                port: 9093,
            },
        )]
        .into(),
        bootstrap_metadata_version: metaquorum_controller::metadata::version::LATEST_PRODUCTION.0,
        broker_session_timeout_ms: 9_000,
        idle_interval_ms: 0,
        snapshots: SnapshotPolicy {
            bytes_max: u64::MAX,
            interval_ms: 0,
            retention: metaquorum_log::Retention {
                bytes_max: -1,
                ms: -1,
            },
        },
        topic_defaults: TopicDefaults::default(),
        leader_balance_interval_ms: None,
    };
    let publisher = MetadataPublisher::new();
    let mut updates = publisher.subscribe();
    let combined = Combined::new(
        QuorumController::new(settings, 7),
        BrokerMetadata::new(publisher.clone(), None),
    );
    let config = NodeConfig {
        raft: RaftConfig::new(NodeId(1)),
        voters: [NodeId(1)].into(),
        persisted: None,
        seed: 7,
        now_ms: 0,
        wall_ms_at_zero: 1_700_000_000_000,
    };
    let mut node: Node<Combined, MemStore> = Node::new(config, MemStore::new(), combined).unwrap();
    let settle = |node: &mut Node<Combined, MemStore>, t, mut effects: Vec<Effect<_>>| loop {
        let flush = effects.iter().find_map(|e| match e {
            Effect::Flush(f) => Some(*f),
            _ => None,
        });
        match flush {
            Some(f) => {
                node.flushed(t, Ok(f));
                effects = node.ready(t);
            }
            None => return,
        }
    };
    for t in [5_000, 5_001, 5_002] {
        let effects = node.tick(t);
        settle(&mut node, t, effects);
    }
    assert_eq!(node.core().role(), RoleKind::Leader);
    // The empty log's "snapshot" at start, then the bootstrap records (metadata.version),
    // which came through the controller's own proposal.
    let start = tokio::time::timeout(Duration::from_secs(5), updates.next())
        .await
        .expect("the start image is published")
        .expect("an update");
    assert_eq!(start.source, UpdateSource::Snapshot);
    let first = tokio::time::timeout(Duration::from_secs(5), updates.next())
        .await
        .expect("the bootstrap image is published")
        .expect("an update");
    assert_eq!(first.source, UpdateSource::Log);
    assert!(first.changes.features_changed, "{:?}", first.changes);
    assert!(first.image.metadata_version().is_some());
    // Three ACL writes, each its own proposal.
    let mut replies = Vec::new();
    for i in 0..3 {
        let (reply, rx) = tokio::sync::oneshot::channel();
        let creation = AclCreation::default()
            .with_resource_type(2)
            .with_resource_name(StrBytes::from_string(format!("t{i}")))
            .with_resource_pattern_type(3)
            .with_principal(StrBytes::from_string(format!("User:u{i}")))
            .with_host(StrBytes::from_static_str("*"))
            .with_operation(3)
            .with_permission_type(3);
        node.request(
            5_010,
            ControllerCall {
                request: RequestKind::CreateAcls(
                    CreateAclsRequest::default().with_creations(vec![creation]),
                ),
                version: 3,
                reply,
            }
            .into(),
        );
        replies.push(rx);
    }
    let effects = node.ready(5_010);
    settle(&mut node, 5_010, effects);
    for rx in replies {
        match rx.await.expect("answered") {
            ResponseKind::CreateAcls(r) => assert_eq!(r.results[0].error_code, 0, "{r:?}"),
            other => panic!("{other:?}"),
        }
    }
    let controller_image = node.state_machine().controller_image().clone();
    let mut acls_told = 0;
    let mut last = first.image.clone();
    while last.provenance.offset < controller_image.provenance.offset {
        let u = tokio::time::timeout(Duration::from_secs(5), updates.next())
            .await
            .expect("every committed image is published")
            .expect("an update");
        assert_eq!(u.source, UpdateSource::Log);
        assert_eq!(u.previous, last, "updates chain");
        assert_eq!(u.changes, diff_images(&u.previous, &u.image));
        acls_told += u.changes.changed_acls.len();
        last = u.image.clone();
    }
    assert_eq!(acls_told, 3);
    assert_eq!(last.acls.len(), 3);
    assert_eq!(last, controller_image);
    assert_eq!(node.state_machine().broker_image(), &controller_image);
    assert_eq!(publisher.latest(), controller_image);
}
