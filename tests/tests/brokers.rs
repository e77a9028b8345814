//! Broker shims against real Kafka clients nobody here wrote: kcat, kafka-python's
//! `KafkaAdminClient` and confluent-kafka's `AdminClient` (librdkafka), on a cluster of 3
//! controllers and 3 broker shims, and again in combined mode. Also: a broker killed with
//! SIGKILL is fenced and loses its leaderships, and leads again after it restarts; the active
//! controller killed while clients create topics loses no acknowledged topic.

use std::collections::BTreeSet;
use std::time::Duration;

use kafka_protocol::messages::{ApiKey, MetadataRequest, MetadataResponse};
use metaquorum_controller::net::client::KafkaClient;
use metaquorum_tests::admin::{create_topic, Admin};
use metaquorum_tests::cluster::{scrape, wait_for, Cluster, FIRST_BROKER_ID};
use metaquorum_tests::kafka_tools::{kcat_metadata, run_python, ClusterView};

/// Fast sessions so fencing takes seconds, and leader balancing checked every second.
const FAST: &[&str] = &[
    "broker.heartbeat.interval.ms=200",
    "broker.session.timeout.ms=2000",
    "leader.imbalance.check.interval.seconds=1",
];

/// Waits until kcat, asking `bootstrap`, lists exactly `brokers`.
async fn wait_for_brokers(bootstrap: &str, brokers: &[i32], within: Duration) -> ClusterView {
    let want: Vec<i32> = brokers.to_vec();
    wait_for(&format!("kcat -L to list brokers {want:?}"), within, || {
        let view = kcat_metadata(bootstrap);
        let want = want.clone();
        async move { view.filter(|v| v.brokers == want) }
    })
    .await
}

/// The client address of a broker other than `victim`, to watch the cluster through.
fn other_broker(cluster: &Cluster, victim: i32) -> String {
    cluster
        .brokers()
        .into_iter()
        .find(|(id, _)| *id != victim)
        .map(|(_, a)| a)
        .expect("a surviving broker")
}

fn broker_ids(cluster: &Cluster) -> Vec<i32> {
    cluster.brokers().into_iter().map(|(id, _)| id).collect()
}

/// Every broker metric name of `reference/kraft.md` §5.4 is exported.
fn assert_broker_metrics(cluster: &Cluster) {
    for n in cluster.nodes.iter().filter(|n| n.broker_port.is_some()) {
        let body = scrape(n.metrics_port).expect("broker metrics");
        for name in [
            "kafka_server_brokermetadatametrics_last_applied_record_offset",
            "kafka_server_brokermetadatametrics_last_applied_record_timestamp",
            "kafka_server_brokermetadatametrics_last_applied_record_lag_ms",
            "kafka_server_brokermetadatametrics_metadata_load_error_count",
            "kafka_server_brokermetadatametrics_metadata_apply_error_count",
        ] {
            assert!(body.contains(name), "node {} lacks {name}:\n{body}", n.id);
        }
        assert!(
            body.contains("kafka_server_kafkaserver_brokerstate 3"),
            "node {} is not RUNNING (3):\n{body}",
            n.id
        );
    }
}

/// kcat, kafka-python and confluent-kafka against `cluster`.
async fn drive_real_clients(cluster: &Cluster) {
    let ids = broker_ids(cluster);
    let bootstrap = cluster.bootstrap();
    wait_for_brokers(&bootstrap, &ids, Duration::from_secs(30)).await;
    let brokers_arg = cluster
        .brokers()
        .iter()
        .map(|(id, a)| format!("{id}={a}"))
        .collect::<Vec<_>>()
        .join(",");
    for (client, prefix) in [("kafka-python", "kp"), ("confluent", "ck")] {
        let out = run_python(
            &[
                "admin",
                "--client",
                client,
                "--bootstrap",
                &bootstrap,
                "--brokers",
                &brokers_arg,
                "--prefix",
                prefix,
            ],
            Duration::from_secs(120),
        );
        eprintln!("{client}:\n{out}");
    }
    // kcat sees a topic with its leaders and ISR through every broker.
    let admin = Admin {
        addrs: cluster.controller_addrs(),
    };
    let r = admin
        .call(
            &create_topic("kcat-topic", 3, 3, &[]),
            Duration::from_secs(30),
        )
        .await;
    assert_eq!(r.topics[0].error_code, 0, "{r:?}");
    for (id, addr) in cluster.brokers() {
        let view = wait_for(
            &format!("kcat via broker {id} to show kcat-topic"),
            Duration::from_secs(10),
            || {
                let v = kcat_metadata(&addr);
                async move { v.filter(|v| v.topics.contains_key("kcat-topic")) }
            },
        )
        .await;
        assert_eq!(view.answered_by, id, "kcat asked broker {id}");
        assert_eq!(view.brokers, ids);
        let parts = &view.topics["kcat-topic"];
        assert_eq!(parts.len(), 3, "{view:?}");
        for p in parts {
            assert_eq!(p.replicas.len(), 3, "{p:?}");
            assert!(ids.contains(&p.leader), "{p:?}");
            assert_eq!(
                p.isr.iter().collect::<BTreeSet<_>>(),
                p.replicas.iter().collect::<BTreeSet<_>>(),
                "{p:?}"
            );
        }
    }
    // Metadata v0 has no null topic list: an empty one asks for every topic.
    let (_, addr) = &cluster.brokers()[0];
    let mut c = KafkaClient::connect(addr, 5_000).await.expect("connect");
    let r: MetadataResponse = c
        .send_at(
            ApiKey::Metadata,
            0,
            &MetadataRequest::default().with_topics(Some(vec![])),
        )
        .await
        .expect("Metadata v0");
    assert!(
        r.topics
            .iter()
            .any(|t| t.name.as_ref().map(|n| n.0.as_str()) == Some("kcat-topic")),
        "{r:?}"
    );
    assert_broker_metrics(cluster);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_kafka_clients_through_three_broker_shims() {
    let cluster = Cluster::start_with(3, 3, false, FAST);
    drive_real_clients(&cluster).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_kafka_clients_in_combined_mode() {
    let cluster = Cluster::start_with(3, 3, true, FAST);
    assert_eq!(broker_ids(&cluster), vec![1, 2, 3]);
    drive_real_clients(&cluster).await;
}

// KIP-631: a broker that stops heartbeating is fenced after the session timeout and taken out
// of every ISR and leadership; back, it catches up, is unfenced, and the controller's
// preferred-leader balancing gives it its leaderships back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_broker_is_fenced_then_leads_again_after_restart() {
    // Small snapshots, so the restarted broker starts from its own.
    let mut extra = FAST.to_vec();
    extra.push("metadata.log.max.record.bytes.between.snapshots=512");
    let mut cluster = Cluster::start_with(3, 3, false, &extra);
    let ids = broker_ids(&cluster);
    let bootstrap = cluster.bootstrap();
    wait_for_brokers(&bootstrap, &ids, Duration::from_secs(30)).await;
    let admin = Admin {
        addrs: cluster.controller_addrs(),
    };
    let r = admin
        .call(&create_topic("t", 6, 3, &[]), Duration::from_secs(30))
        .await;
    assert_eq!(r.topics[0].error_code, 0, "{r:?}");
    let victim = FIRST_BROKER_ID;
    let before = wait_for("topic t in kcat", Duration::from_secs(10), || {
        let v = kcat_metadata(&bootstrap);
        async move { v.filter(|v| v.topics.contains_key("t")) }
    })
    .await;
    let preferred: Vec<i32> = before.topics["t"]
        .iter()
        .filter(|p| p.replicas.first() == Some(&victim))
        .map(|p| p.partition)
        .collect();
    assert!(!preferred.is_empty(), "{before:?}");
    assert!(before.topics["t"].iter().any(|p| p.leader == victim));

    cluster.kill(victim);
    let others: Vec<i32> = ids.iter().copied().filter(|i| *i != victim).collect();
    let survivor = other_broker(&cluster, victim);
    let fenced = wait_for(
        "the killed broker to be fenced and its leaderships moved",
        Duration::from_secs(20),
        || {
            let v = kcat_metadata(&survivor);
            let others = others.clone();
            async move {
                v.filter(|v| {
                    v.brokers == others
                        && v.topics["t"]
                            .iter()
                            .all(|p| p.leader != victim && !p.isr.contains(&victim))
                })
            }
        },
    )
    .await;
    assert!(fenced.topics["t"]
        .iter()
        .all(|p| others.contains(&p.leader)));

    cluster.launch(victim);
    let restarted = wait_for(
        "the restarted broker to load its own snapshot",
        Duration::from_secs(10),
        || {
            let out = cluster.output(victim);
            async move { out.contains("loaded snapshot").then_some(out) }
        },
    )
    .await;
    assert!(restarted.contains("registered with controller"));
    wait_for(
        "the restarted broker to be unfenced, back in the ISRs and leading its preferred partitions",
        Duration::from_secs(30),
        || {
            let v = kcat_metadata(&survivor);
            let ids = ids.clone();
            let preferred = preferred.clone();
            async move {
                v.filter(|v| {
                    v.brokers == ids
                        && v.topics["t"].iter().all(|p| {
                            p.isr.len() == 3
                                && (!preferred.contains(&p.partition) || p.leader == victim)
                        })
                })
            }
        },
    )
    .await;
}

// A broker cut off for longer than its session (SIGSTOP) is fenced; back, it heartbeats with
// the same registration and is unfenced once caught up, without registering again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_cut_off_is_fenced_and_unfenced_when_it_comes_back() {
    let mut cluster = Cluster::start_with(3, 3, false, FAST);
    let ids = broker_ids(&cluster);
    let bootstrap = cluster.bootstrap();
    wait_for_brokers(&bootstrap, &ids, Duration::from_secs(30)).await;
    let victim = FIRST_BROKER_ID + 1;
    let others: Vec<i32> = ids.iter().copied().filter(|i| *i != victim).collect();
    let survivor = other_broker(&cluster, victim);
    cluster.pause(victim);
    wait_for_brokers(&survivor, &others, Duration::from_secs(20)).await;
    cluster.resume(victim);
    wait_for_brokers(&survivor, &ids, Duration::from_secs(20)).await;
    let out = cluster.output(victim);
    assert_eq!(
        out.matches("registered with controller").count(),
        1,
        "the broker registered again instead of heartbeating on:\n{out}"
    );
    assert!(
        out.contains("RECOVERY -> RUNNING"),
        "no way back to RUNNING:\n{out}"
    );
}

// Clients see retriable errors at most while the active controller dies, and every topic
// they were told was created exists afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_active_controller_loses_no_acknowledged_topic() {
    let mut cluster = Cluster::start_with(3, 3, false, FAST);
    let ids = broker_ids(&cluster);
    let bootstrap = cluster.bootstrap();
    wait_for_brokers(&bootstrap, &ids, Duration::from_secs(30)).await;
    let admin = Admin {
        addrs: cluster.controller_addrs(),
    };
    let leader = wait_for("a leader", Duration::from_secs(10), || admin.leader_addr()).await;
    let leader_id = cluster
        .nodes
        .iter()
        .find(|n| n.port != 0 && n.addr() == leader)
        .map(|n| n.id)
        .expect("the leader is a controller");
    let out_file = cluster.nodes[0].dir.join("acknowledged.txt");
    let out = out_file.display().to_string();
    let bootstrap_arg = bootstrap.clone();
    let loop_task = tokio::task::spawn_blocking(move || {
        run_python(
            &[
                "create-loop",
                "--client",
                "confluent",
                "--bootstrap",
                &bootstrap_arg,
                "--prefix",
                "churn",
                "--count",
                "60",
                "--out",
                &out,
                "--timeout-s",
                "150",
            ],
            Duration::from_secs(180),
        )
    });
    // Kill the active controller once some topics were acknowledged.
    wait_for(
        "the first acknowledged topics",
        Duration::from_secs(60),
        || {
            let n = std::fs::read_to_string(&out_file)
                .map(|s| s.lines().count())
                .unwrap_or(0);
            async move { (n >= 10).then_some(()) }
        },
    )
    .await;
    cluster.kill(leader_id);
    // The new active controller keeps every broker's session (KAFKA-18138): none is fenced.
    wait_for_brokers(&bootstrap, &ids, Duration::from_secs(10)).await;
    let output = loop_task.await.expect("create loop");
    eprintln!("{output}");
    let acknowledged: Vec<String> = std::fs::read_to_string(&out_file)
        .expect("acknowledged topics")
        .lines()
        .map(str::to_string)
        .collect();
    let maybe = maybe_topics(&out_file);
    assert_eq!(acknowledged.len() + maybe.len(), 60, "{output}");
    let view = wait_for(
        "every acknowledged topic in kcat",
        Duration::from_secs(20),
        || {
            let v = kcat_metadata(&bootstrap);
            let acknowledged = acknowledged.clone();
            async move { v.filter(|v| acknowledged.iter().all(|t| v.topics.contains_key(t))) }
        },
    )
    .await;
    // Nothing exists that the loop neither was told was created nor may have created.
    let unexplained: Vec<&String> = view
        .topics
        .keys()
        .filter(|t| t.starts_with("churn") && !acknowledged.contains(t) && !maybe.contains(t))
        .collect();
    assert!(unexplained.is_empty(), "{unexplained:?}\n{output}");
}

/// The topics whose creation had an unknown outcome (a timeout or a lost connection).
fn maybe_topics(out_file: &std::path::Path) -> Vec<String> {
    let mut maybe = out_file.as_os_str().to_owned();
    maybe.push(".maybe");
    std::fs::read_to_string(maybe)
        .map(|s| s.lines().map(str::to_string).collect())
        .unwrap_or_default()
}
