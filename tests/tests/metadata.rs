//! Multi-process tests of the metadata the quorum keeps: topics, ACLs and configs written over
//! the wire survive SIGKILL of the leader, of a follower and of every node (a history of
//! acknowledged operations is checked afterwards); brokers played by the test are fenced and
//! unfenced as KIP-631 says; invalid requests get Kafka's error codes; a follower behind the
//! leader's log start catches up through FetchSnapshot. Every wait has a deadline.

use std::collections::BTreeSet;
use std::time::Duration;

use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use metaquorum_tests::admin::{create_topic, send_to, Admin, Attempt, TestBroker};
use metaquorum_tests::cluster::{scrape, wait_for, wait_for_agreed_leader, Cluster};

/// Election and failover with default timeouts take a few seconds; allow for a slow machine.
const WITHIN: Duration = Duration::from_secs(30);

fn admin(c: &Cluster) -> Admin {
    Admin {
        addrs: c.nodes.iter().map(|n| n.addr()).collect(),
    }
}

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

fn acl_for(user: &str) -> AclCreation {
    AclCreation::default()
        .with_resource_type(2) // TOPIC
        .with_resource_name(s("orders"))
        .with_resource_pattern_type(3) // LITERAL
        .with_principal(s(&format!("User:{user}")))
        .with_host(s("*"))
        .with_operation(3) // READ
        .with_permission_type(3) // ALLOW
}

/// DeleteTopics by name; v6 carries names in `topics`, older versions in `topic_names`.
fn delete_topic(name: &str) -> DeleteTopicsRequest {
    use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
    DeleteTopicsRequest::default().with_topics(vec![
        DeleteTopicState::default().with_name(Some(TopicName(s(name))))
    ])
}

fn set_retention(topic: &str, ms: i64) -> IncrementalAlterConfigsRequest {
    IncrementalAlterConfigsRequest::default().with_resources(vec![AlterConfigsResource::default()
        .with_resource_type(2)
        .with_resource_name(s(topic))
        .with_configs(vec![AlterableConfig::default()
            .with_name(s("retention.ms"))
            .with_config_operation(0)
            .with_value(Some(s(&ms.to_string())))])])
}

/// The acknowledged operations of a run.
#[derive(Debug, Default)]
struct History {
    topics: BTreeSet<String>,
    deleted: BTreeSet<String>,
    acls: BTreeSet<String>,
    retention: Vec<(String, i64)>,
}

/// Creates a topic, an ACL and a config (and deletes every fourth topic) through the active
/// controller. Each write is retried until the active controller answers (an unknown outcome,
/// say across a failover, is tried again), so every one of them is acknowledged and goes into
/// the history: the checks then cover topics, ACLs and configs alike.
async fn write_round(admin: &Admin, i: usize, history: &mut History) {
    let topic = format!("topic-{i}");
    // An unknown first attempt may have created the topic already: TOPIC_ALREADY_EXISTS.
    let r = admin.call(&create_topic(&topic, 3, 3, &[]), WITHIN).await;
    let code = r.topics[0].error_code;
    assert!(code == 0 || code == 36, "CreateTopics {topic}: {r:?}");
    history.topics.insert(topic.clone());
    // Creating an ACL that exists and setting a config again are no-ops: retried safely.
    let acl = CreateAclsRequest::default().with_creations(vec![acl_for(&format!("user-{i}"))]);
    let r = admin.call(&acl, WITHIN).await;
    assert_eq!(r.results[0].error_code, 0, "{r:?}");
    history.acls.insert(format!("User:user-{i}"));
    let r = admin
        .call(&set_retention(&topic, 1000 + i as i64), WITHIN)
        .await;
    assert_eq!(r.responses[0].error_code, 0, "{r:?}");
    history.retention.push((topic.clone(), 1000 + i as i64));
    if i % 4 == 3 {
        // An unknown first attempt may have deleted it already: UNKNOWN_TOPIC_OR_PARTITION.
        let r = admin.call(&delete_topic(&topic), WITHIN).await;
        let code = r.responses[0].error_code;
        assert!(code == 0 || code == 3, "DeleteTopics {topic}: {r:?}");
        history.deleted.insert(topic.clone());
        history.retention.retain(|(t, _)| *t != topic);
    }
}

/// Checks the cluster against the history: every acknowledged write is there, unchanged.
async fn check_history(admin: &Admin, history: &History) {
    let md = admin
        .call(&MetadataRequest::default().with_topics(None), WITHIN)
        .await;
    let present: BTreeSet<String> = md
        .topics
        .iter()
        .filter_map(|t| t.name.as_ref().map(|n| n.0.to_string()))
        .collect();
    for t in &history.topics {
        if history.deleted.contains(t) {
            assert!(
                !present.contains(t),
                "deleted topic {t} came back: {:?}",
                md.topics
                    .iter()
                    .find(|x| x.name.as_ref().is_some_and(|n| n.0.as_str() == t))
            );
        } else {
            assert!(present.contains(t), "acknowledged topic {t} is lost");
        }
    }
    for t in &md.topics {
        assert_eq!(t.partitions.len(), 3, "{t:?}");
        for p in &t.partitions {
            assert_eq!(p.replica_nodes.len(), 3);
        }
    }
    let acls = admin
        .call(
            &DescribeAclsRequest::default()
                .with_resource_name_filter(None)
                .with_principal_filter(None)
                .with_host_filter(None)
                .with_resource_type_filter(1)
                .with_pattern_type_filter(1)
                .with_operation(1)
                .with_permission_type(1),
            WITHIN,
        )
        .await;
    assert_eq!(acls.error_code, 0);
    let principals: BTreeSet<String> = acls
        .resources
        .iter()
        .flat_map(|r| r.acls.iter().map(|a| a.principal.to_string()))
        .collect();
    for p in &history.acls {
        assert!(principals.contains(p), "acknowledged ACL for {p} is lost");
    }
    for (topic, ms) in &history.retention {
        let r = admin
            .call(
                &DescribeConfigsRequest::default().with_resources(vec![
                    DescribeConfigsResource::default()
                        .with_resource_type(2)
                        .with_resource_name(s(topic))
                        .with_configuration_keys(Some(vec![s("retention.ms")])),
                ]),
                WITHIN,
            )
            .await;
        let entry = &r.results[0].configs[0];
        assert_eq!(
            entry.value.as_ref().map(|v| v.to_string()),
            Some(ms.to_string()),
            "retention.ms of {topic}: {r:?}"
        );
        assert_eq!(entry.config_source, 1, "DYNAMIC_TOPIC_CONFIG");
    }
}

/// Brokers played by the test that keep heartbeating while this value lives: a broker that
/// stopped would be fenced once its session (9 s by default) ran out, in the middle of a test.
struct LiveBrokers {
    beats: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for LiveBrokers {
    fn drop(&mut self) {
        for b in &self.beats {
            b.abort();
        }
    }
}

/// Registers brokers 1..=3, unfences them, and keeps them heartbeating.
async fn register_brokers(admin: &Admin, cluster_id: &str) -> LiveBrokers {
    let mut beats = Vec::new();
    for id in 1..=3 {
        let mut b = TestBroker::new(id, cluster_id);
        b.register(admin, WITHIN).await;
        b.unfence(admin, WITHIN).await;
        beats.push(b.spawn_heartbeats(admin.clone(), Duration::from_millis(500)));
    }
    LiveBrokers { beats }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_metadata_survives_leader_follower_and_full_restarts() {
    // Small snapshot threshold: restarts load snapshots and replay only the tail.
    let mut cluster = Cluster::start(
        3,
        &["metadata.log.max.record.bytes.between.snapshots=20000"],
    );
    let admin = admin(&cluster);
    wait_for_agreed_leader(&admin.addrs, WITHIN).await;
    let brokers = register_brokers(&admin, &cluster.cluster_id).await;
    let mut history = History::default();
    let mut i = 0;
    for _ in 0..12 {
        write_round(&admin, i, &mut history).await;
        i += 1;
    }
    // SIGKILL the leader in the middle of writes.
    let (leader, _) = wait_for_agreed_leader(&admin.addrs, WITHIN).await;
    cluster.kill(leader);
    for _ in 0..12 {
        write_round(&admin, i, &mut history).await;
        i += 1;
    }
    cluster.launch(leader);
    // SIGKILL a follower.
    let (leader, _) = wait_for_agreed_leader(&admin.addrs, WITHIN).await;
    let follower = if leader == 1 { 2 } else { 1 };
    cluster.kill(follower);
    for _ in 0..12 {
        write_round(&admin, i, &mut history).await;
        i += 1;
    }
    cluster.launch(follower);
    check_history(&admin, &history).await;
    // SIGKILL every node, then start them all again.
    for id in 1..=3 {
        cluster.kill(id);
    }
    for id in 1..=3 {
        cluster.launch(id);
    }
    wait_for_agreed_leader(&admin.addrs, WITHIN).await;
    check_history(&admin, &history).await;
    // The restarts loaded snapshots.
    let loaded = (1..=3).any(|id| cluster.output(id).contains("loaded snapshot"));
    assert!(loaded, "no node loaded a snapshot on restart");
    drop(brokers);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn brokers_are_fenced_and_unfenced_as_kip_631_says() {
    let cluster = Cluster::start(
        3,
        &[
            "broker.session.timeout.ms=1500",
            "broker.heartbeat.interval.ms=500",
        ],
    );
    let admin = admin(&cluster);
    wait_for_agreed_leader(&admin.addrs, WITHIN).await;
    let mut b1 = TestBroker::new(1, &cluster.cluster_id);
    let epoch = b1.register(&admin, WITHIN).await;
    assert!(epoch > 0);
    // Registered fenced; a heartbeat from behind its own registration keeps it fenced.
    let r = admin.call(&b1.heartbeat(epoch - 1), WITHIN).await;
    assert!(r.is_fenced && !r.is_caught_up, "{r:?}");
    // A retried registration of the same incarnation keeps the epoch.
    assert_eq!(b1.register(&admin, WITHIN).await, epoch);
    // Caught up: unfenced.
    let r = admin.call(&b1.heartbeat(epoch), WITHIN).await;
    assert!(!r.is_fenced && r.is_caught_up, "{r:?}");
    // Broker 1 stays alive until the test silences it below, however slow the machine: its
    // session is only 1.5 s.
    let b1_beats = b1.spawn_heartbeats(admin.clone(), Duration::from_millis(300));
    // A stale epoch is refused.
    let mut stale = b1.clone();
    stale.epoch = epoch - 1;
    let r = admin.call(&stale.heartbeat(epoch), WITHIN).await;
    assert_eq!(r.error_code, 77, "STALE_BROKER_EPOCH: {r:?}");
    // Another incarnation cannot take the id while the session is alive.
    let mut impostor = TestBroker::new(1, &cluster.cluster_id);
    let r = admin.call(&impostor.registration(), WITHIN).await;
    assert_eq!(r.error_code, 101, "DUPLICATE_BROKER_REGISTRATION: {r:?}");
    let mut b2 = TestBroker::new(2, &cluster.cluster_id);
    b2.register(&admin, WITHIN).await;
    b2.unfence(&admin, WITHIN).await;
    let beats = b2.spawn_heartbeats(admin.clone(), Duration::from_millis(300));
    let created = admin
        .call(&create_topic("fenced-test", 4, 2, &[]), WITHIN)
        .await;
    assert_eq!(created.topics[0].error_code, 0, "{created:?}");
    // Broker 2 keeps heartbeating; broker 1 goes silent and is fenced after the session.
    b1_beats.abort();
    let md = wait_for("broker 1 fenced and out of every ISR", WITHIN, || async {
        let md = admin
            .attempt(&MetadataRequest::default().with_topics(None))
            .await;
        let Attempt::Answered(md) = md else {
            return None;
        };
        let listed = md.brokers.iter().any(|b| b.node_id.0 == 1);
        let in_isr = md
            .topics
            .iter()
            .flat_map(|t| t.partitions.iter())
            .any(|p| p.leader_id.0 == 1 || p.isr_nodes.iter().any(|r| r.0 == 1));
        (!listed && !in_isr).then_some(md)
    })
    .await;
    for p in md.topics.iter().flat_map(|t| t.partitions.iter()) {
        assert_eq!(p.leader_id.0, 2, "leadership moved to broker 2: {p:?}");
    }
    let leader = admin.leader_addr().await.expect("leader");
    let leader_id = admin.addrs.iter().position(|a| *a == leader).unwrap();
    let metrics = wait_for("fencing metrics", WITHIN, || async {
        let m = scrape(cluster.nodes[leader_id].metrics_port)?;
        (m.contains("kafka_controller_kafkacontroller_fencedbrokercount 1")
            && m.contains("kafka_controller_kafkacontroller_timedoutbrokerheartbeatcount 1"))
        .then_some(m)
    })
    .await;
    // Every controller metric of reference/kraft.md §5.3 the issue names, under the JMX
    // exporter's names.
    for name in [
        "activecontrollercount",
        "activebrokercount",
        "fencedbrokercount",
        "globaltopiccount",
        "globalpartitioncount",
        "offlinepartitionscount",
        "lastappliedrecordoffset",
        "lastcommittedrecordoffset",
        "lastappliedrecordlagms",
        "newactivecontrollerscount",
        "timedoutbrokerheartbeatcount",
    ] {
        let full = format!("kafka_controller_kafkacontroller_{name} ");
        assert!(metrics.contains(&full), "{full} missing from:\n{metrics}");
    }
    assert!(metrics.contains("kafka_controller_kafkacontroller_activecontrollercount 1"));
    assert!(metrics.contains("kafka_controller_kafkacontroller_newactivecontrollerscount 1"));
    assert!(metrics.contains("kafka_controller_kafkacontroller_activebrokercount 1"));
    assert!(metrics.contains("kafka_controller_kafkacontroller_globaltopiccount 1"));
    assert!(metrics.contains("kafka_controller_kafkacontroller_globalpartitioncount 4"));
    // Broker 1 comes back with the same epoch: unfenced once caught up, back in leaderless
    // partitions' elections only (here none are leaderless).
    b1.unfence(&admin, WITHIN).await;
    // Broker 2, leading everything, takes broker 1 back into every ISR (AlterPartition v3, with
    // broker epochs, KIP-903). Every partition changed once since creation (broker 1 left its
    // ISR), so its partition epoch is 1.
    {
        use kafka_protocol::messages::alter_partition_request::{
            BrokerState, PartitionData, TopicData,
        };
        let topics = md
            .topics
            .iter()
            .map(|t| {
                TopicData::default()
                    .with_topic_id(t.topic_id)
                    .with_partitions(
                        t.partitions
                            .iter()
                            .map(|p| {
                                PartitionData::default()
                                    .with_partition_index(p.partition_index)
                                    .with_leader_epoch(p.leader_epoch)
                                    .with_partition_epoch(1)
                                    .with_new_isr_with_epochs(
                                        [(2, b2.epoch), (1, b1.epoch)]
                                            .iter()
                                            .map(|(id, e)| {
                                                BrokerState::default()
                                                    .with_broker_id(BrokerId(*id))
                                                    .with_broker_epoch(*e)
                                            })
                                            .collect(),
                                    )
                            })
                            .collect(),
                    )
            })
            .collect();
        let request = AlterPartitionRequest::default()
            .with_broker_id(BrokerId(2))
            .with_broker_epoch(b2.epoch)
            .with_topics(topics);
        let r = admin.call(&request, WITHIN).await;
        assert_eq!(r.error_code, 0, "{r:?}");
        for p in r.topics.iter().flat_map(|t| t.partitions.iter()) {
            assert_eq!(p.error_code, 0, "{p:?}");
            assert_eq!(p.isr.len(), 2);
            assert_eq!(p.partition_epoch, 2);
        }
        // The same request again is stale now.
        let r = admin.call(&request, WITHIN).await;
        assert!(
            r.topics[0].partitions.iter().all(|p| p.error_code == 95),
            "INVALID_UPDATE_VERSION: {r:?}"
        );
    }
    // Controlled shutdown of broker 2 (KIP-841): its leaderships move to broker 1, then it may
    // stop.
    beats.abort();
    let mut shut_down = false;
    for _ in 0..100 {
        let mut hb = b2.heartbeat(i64::MAX / 2);
        hb.want_shut_down = true;
        let r = admin.call(&hb, WITHIN).await;
        let _ = admin.attempt(&b1.heartbeat(i64::MAX / 2)).await;
        if r.should_shut_down {
            shut_down = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(shut_down, "broker 2 never got ShouldShutDown");
    let md = admin
        .call(&MetadataRequest::default().with_topics(None), WITHIN)
        .await;
    for p in md.topics.iter().flat_map(|t| t.partitions.iter()) {
        assert_eq!(p.leader_id.0, 1, "leadership moved to broker 1: {p:?}");
    }
    // Unregistering removes the registration.
    let r = admin
        .call(
            &UnregisterBrokerRequest::default().with_broker_id(BrokerId(2)),
            WITHIN,
        )
        .await;
    assert_eq!(r.error_code, 0);
    let r = admin
        .call(
            &UnregisterBrokerRequest::default().with_broker_id(BrokerId(7)),
            WITHIN,
        )
        .await;
    assert_eq!(r.error_code, 102, "BROKER_ID_NOT_REGISTERED");
    impostor.epoch = -1;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_requests_get_kafkas_errors() {
    let cluster = Cluster::start(3, &[]);
    let admin = admin(&cluster);
    let (leader, _) = wait_for_agreed_leader(&admin.addrs, WITHIN).await;
    let _brokers = register_brokers(&admin, &cluster.cluster_id).await;
    let code = |r: &CreateTopicsResponse| r.topics[0].error_code;
    let ok = admin
        .call(
            &create_topic("good", 2, 3, &[("cleanup.policy", "compact")]),
            WITHIN,
        )
        .await;
    assert_eq!(code(&ok), 0, "{ok:?}");
    assert_eq!(ok.topics[0].num_partitions, 2);
    let cases: Vec<(CreateTopicsRequest, i16, &str)> = vec![
        (create_topic("good", 1, 1, &[]), 36, "TOPIC_ALREADY_EXISTS"),
        (
            create_topic("bad/name", 1, 1, &[]),
            17,
            "INVALID_TOPIC_EXCEPTION",
        ),
        (create_topic("..", 1, 1, &[]), 17, "INVALID_TOPIC_EXCEPTION"),
        (
            create_topic("go.od", 1, 1, &[]),
            0,
            "no collision with 'good'",
        ),
        (create_topic("go_od", 1, 1, &[]), 17, "collides with go.od"),
        (
            create_topic("rf", 1, 5, &[]),
            38,
            "INVALID_REPLICATION_FACTOR",
        ),
        (
            create_topic("rf0", 1, 0, &[]),
            38,
            "INVALID_REPLICATION_FACTOR",
        ),
        (create_topic("parts", 0, 1, &[]), 37, "INVALID_PARTITIONS"),
        (
            create_topic("cfg", 1, 1, &[("no.such.config", "1")]),
            40,
            "INVALID_CONFIG",
        ),
        (
            create_topic("cfg2", 1, 1, &[("retention.ms", "soon")]),
            40,
            "INVALID_CONFIG",
        ),
    ];
    for (request, expected, what) in cases {
        let r = admin.call(&request, WITHIN).await;
        assert_eq!(code(&r), expected, "{what}: {r:?}");
        if expected != 0 {
            assert!(r.topics[0].error_message.is_some(), "{what} has a message");
        }
    }
    // Validate-only writes nothing.
    let mut v = create_topic("only-validated", 1, 1, &[]);
    v.validate_only = true;
    assert_eq!(code(&admin.call(&v, WITHIN).await), 0);
    let md = admin
        .call(&MetadataRequest::default().with_topics(None), WITHIN)
        .await;
    assert!(!md.topics.iter().any(|t| t
        .name
        .as_ref()
        .is_some_and(|n| n.0.as_str() == "only-validated")));
    // A follower says NOT_CONTROLLER.
    let follower = admin.addrs[if leader == 1 { 1 } else { 0 }].clone();
    let r = send_to(&follower, &create_topic("x", 1, 1, &[]))
        .await
        .expect("answer");
    assert_eq!(code(&r), 41, "NOT_CONTROLLER from a follower: {r:?}");
    // Unknown resources.
    let r = admin.call(&set_retention("missing", 5), WITHIN).await;
    assert_eq!(
        r.responses[0].error_code, 3,
        "UNKNOWN_TOPIC_OR_PARTITION: {r:?}"
    );
    let r = admin.call(&delete_topic("missing"), WITHIN).await;
    assert_eq!(r.responses[0].error_code, 3);
    let r = admin
        .call(
            &CreateAclsRequest::default().with_creations(vec![acl_for("x").with_operation(1)]),
            WITHIN,
        )
        .await;
    assert_eq!(
        r.results[0].error_code, 42,
        "INVALID_REQUEST for operation ANY: {r:?}"
    );
    // The node is still up and serving after all that.
    let ok = admin
        .call(&create_topic("still-up", 1, 1, &[]), WITHIN)
        .await;
    assert_eq!(code(&ok), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_behind_the_log_start_catches_up_by_snapshot() {
    let mut cluster = Cluster::start(
        3,
        &[
            "metadata.log.segment.min.bytes=1024",
            "metadata.log.segment.bytes=16384",
            "metadata.log.max.record.bytes.between.snapshots=16384",
            "metadata.max.retention.bytes=1",
        ],
    );
    let admin = admin(&cluster);
    let (leader, _) = wait_for_agreed_leader(&admin.addrs, WITHIN).await;
    let _brokers = register_brokers(&admin, &cluster.cluster_id).await;
    let lagging = if leader == 3 { 2 } else { 3 };
    cluster.kill(lagging);
    for i in 0..60 {
        let r = admin
            .call(&create_topic(&format!("catch-up-{i}"), 3, 3, &[]), WITHIN)
            .await;
        assert_eq!(r.topics[0].error_code, 0, "{r:?}");
    }
    // The leader's log no longer starts at 0: the lagging node cannot fetch from where it is.
    let leader_dir = cluster.node(leader).dir.join("data/__cluster_metadata-0");
    wait_for("the leader to delete its first segment", WITHIN, || async {
        (!leader_dir.join("00000000000000000000.log").exists()).then_some(())
    })
    .await;
    cluster.launch(lagging);
    // A standby's image shows in its controller metrics.
    let lag_metrics = cluster.node(lagging).metrics_port;
    wait_for("the lagging node to hold every topic", WITHIN, || async {
        let m = scrape(lag_metrics)?;
        m.contains("kafka_controller_kafkacontroller_globaltopiccount 60")
            .then_some(())
    })
    .await;
    let lag_dir = cluster.node(lagging).dir.join("data/__cluster_metadata-0");
    let has_snapshot = std::fs::read_dir(&lag_dir)
        .expect("read dir")
        .filter_map(|e| e.ok())
        .any(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            name.ends_with(".checkpoint") && !name.starts_with("00000000000000000000-")
        });
    assert!(has_snapshot, "the lagging node holds a fetched snapshot");
}

/// Runs the `metaquorum` binary; returns (exit success, stdout, stderr).
fn cli(args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(metaquorum_tests::cluster::binary())
        .args(args)
        .output()
        .expect("run metaquorum");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_tools_drive_a_real_quorum() {
    let cluster = Cluster::start(3, &[]);
    let admin = admin(&cluster);
    let (leader, _) = wait_for_agreed_leader(&admin.addrs, WITHIN).await;
    let _brokers = register_brokers(&admin, &cluster.cluster_id).await;
    // Any controller will do as the bootstrap: the tools follow to the active one.
    let follower = admin.addrs[if leader == 1 { 1 } else { 0 }].clone();
    let b = ["--bootstrap-controller", follower.as_str()];
    // `metaquorum <tool> --bootstrap-controller h:p <args>`.
    let run = |rest: &[&str]| cli(&[&rest[..1], &b[..], &rest[1..]].concat());
    // kafka-metadata-quorum's two views, in its format.
    let (ok, out, err) = run(&["quorum", "describe", "--status"]);
    assert!(ok, "{out}{err}");
    let field = |name: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
            .unwrap_or_else(|| panic!("no {name} in:\n{out}"))
    };
    assert_eq!(field("ClusterId:"), cluster.cluster_id);
    let leader_id: i32 = field("LeaderId:").parse().expect("a leader id");
    assert!((1..=3).contains(&leader_id), "{out}");
    assert!(field("LeaderEpoch:").parse::<i32>().expect("an epoch") >= 1);
    assert!(
        field("HighWatermark:")
            .parse::<i64>()
            .expect("a high watermark")
            >= 1
    );
    assert_eq!(
        field("CurrentVoters:").matches("\"id\":").count(),
        3,
        "{out}"
    );
    let (ok, out, err) = run(&["quorum", "describe", "--replication"]);
    assert!(ok, "{out}{err}");
    let rows: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows[0],
        [
            "NodeId",
            "DirectoryId",
            "LogEndOffset",
            "Lag",
            "LastFetchTimestamp",
            "LastCaughtUpTimestamp",
            "Status"
        ],
        "{out}"
    );
    let status = |s: &str| rows.iter().filter(|r| r.last() == Some(&s)).count();
    assert_eq!((status("Leader"), status("Follower")), (1, 2), "{out}");
    assert_eq!(
        rows[1].last(),
        Some(&"Leader"),
        "the leader comes first:\n{out}"
    );
    let (ok, out, err) = run(&[
        "topics",
        "create",
        "--topic",
        "orders",
        "--partitions",
        "3",
        "--replication-factor",
        "2",
        "--config",
        "cleanup.policy=compact",
    ]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("Created topic orders."), "{out}");
    let (ok, out, err) = run(&["topics", "create", "--topic", "orders"]);
    assert!(!ok && err.contains("TOPIC_ALREADY_EXISTS"), "{out}{err}");
    let (ok, out, _) = run(&["topics", "list"]);
    assert!(ok && out.lines().any(|l| l == "orders"), "{out}");
    let (ok, out, err) = run(&["topics", "describe", "--topic", "orders"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("PartitionCount: 3") && out.contains("ReplicationFactor: 2"),
        "{out}"
    );
    assert!(out.contains("cleanup.policy=compact"), "{out}");
    assert_eq!(out.matches("\tPartition: ").count(), 3, "{out}");
    let (ok, out, err) = run(&[
        "configs",
        "--entity-type",
        "topics",
        "--entity-name",
        "orders",
        "alter",
        "--add-config",
        "retention.ms=1000",
    ]);
    assert!(ok, "{out}{err}");
    let (ok, out, _) = run(&[
        "configs",
        "--entity-type",
        "topics",
        "--entity-name",
        "orders",
        "describe",
    ]);
    assert!(ok && out.contains("retention.ms=1000"), "{out}");
    let (ok, out, err) = run(&[
        "configs",
        "--entity-type",
        "topics",
        "--entity-name",
        "orders",
        "alter",
        "--add-config",
        "no.such.key=1",
    ]);
    assert!(!ok && err.contains("INVALID_CONFIG"), "{out}{err}");
    let (ok, out, err) = run(&[
        "acls",
        "add",
        "--allow-principal",
        "User:alice",
        "--operation",
        "Read",
        "--topic",
        "orders",
    ]);
    assert!(ok, "{out}{err}");
    let (ok, out, _) = run(&["acls", "list", "--topic", "orders"]);
    assert!(ok && out.contains("principal=User:alice"), "{out}");
    let (ok, out, err) = run(&[
        "acls",
        "remove",
        "--force",
        "--allow-principal",
        "User:alice",
        "--operation",
        "Read",
        "--topic",
        "orders",
    ]);
    assert!(ok, "{out}{err}");
    let (ok, out, err) = run(&["acls", "list", "--topic", "orders"]);
    assert!(ok, "{out}{err}");
    assert!(!out.contains("User:alice"), "{out}");
    let (ok, out, err) = run(&["topics", "delete", "--topic", "orders"]);
    assert!(ok, "{out}{err}");
    let (ok, out, err) = run(&["topics", "list"]);
    assert!(ok, "{out}{err}");
    assert!(!out.lines().any(|l| l == "orders"), "{out}");
    // The log holds it all, decoded like kafka-dump-log --cluster-metadata-decoder.
    let dir = cluster.nodes[(leader - 1) as usize]
        .dir
        .join("data/__cluster_metadata-0");
    let (ok, out, err) = cli(&["log", "dump", &dir.display().to_string()]);
    assert!(ok, "{err}");
    for t in [
        "\"TOPIC_RECORD\"",
        "\"PARTITION_RECORD\"",
        "\"REMOVE_TOPIC_RECORD\"",
        "\"ACCESS_CONTROL_ENTRY_RECORD\"",
        "\"REGISTER_BROKER_RECORD\"",
        "\"FEATURE_LEVEL_RECORD\"",
    ] {
        assert!(out.contains(t), "log dump lacks {t}");
    }
}
