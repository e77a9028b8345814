//! What a `metaquorum run` process does at its edges, checked on real processes: the exit codes
//! the README documents (3 for storage, 5 for a broker refused for good), a leader's SIGTERM
//! resignation, and a dynamic quorum started from its bootstrap snapshot. Each test is bounded
//! by its waits' deadlines.

use std::path::{Path, PathBuf};
use std::time::Duration;

use kafka_protocol::messages::create_acls_request::{AclCreation, CreateAclsRequest};
use kafka_protocol::protocol::StrBytes;
use metaquorum_log::batch::BatchHeader;
use metaquorum_log::kafka_uuid;
use metaquorum_tests::admin::Admin;
use metaquorum_tests::cluster::{
    agreed_leader, quorum_of, wait_for, wait_for_agreed_leader, Cluster, FIRST_BROKER_ID,
};

const WITHIN: Duration = Duration::from_secs(30);

/// The segments of a node's metadata log, oldest first.
fn segments(data: &Path) -> Vec<PathBuf> {
    let dir = data.join("__cluster_metadata-0");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    out.sort();
    out
}

/// Flips one byte inside the last record of the oldest segment's second batch: a payload byte
/// its CRC covers.
fn damage_second_batch(segment: &Path) {
    let mut bytes = std::fs::read(segment).expect("read the segment");
    let batch_len = |at: usize| {
        BatchHeader::parse(&bytes[at..], usize::MAX)
            .expect("a batch header")
            .total_bytes()
    };
    let first = batch_len(0);
    let second = batch_len(first);
    bytes[first + second - 3] ^= 0x10;
    std::fs::write(segment, bytes).expect("write the segment");
}

fn acls(prefix: &str, n: usize) -> CreateAclsRequest {
    CreateAclsRequest::default().with_creations(
        (0..n)
            .map(|i| {
                AclCreation::default()
                    .with_resource_type(2) // TOPIC
                    .with_resource_name(StrBytes::from_string(format!("{prefix}-{i}")))
                    .with_resource_pattern_type(3) // LITERAL
                    .with_principal(StrBytes::from_string(format!("User:{prefix}-{i}")))
                    .with_host(StrBytes::from_static_str("*"))
                    .with_operation(3) // READ
                    .with_permission_type(3) // ALLOW
            })
            .collect(),
    )
}

// Production settings do not scan sealed segments at open; the damaged batch is found when the
// node replays it, and the process exits with code 3 (storage) naming the bad batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_controller_with_a_damaged_sealed_segment_exits_with_code_3() {
    let mut cluster = Cluster::start(
        1,
        &[
            "metadata.log.segment.min.bytes=16384",
            "metadata.log.segment.bytes=16384",
        ],
    );
    let admin = Admin {
        addrs: cluster.controller_addrs(),
    };
    wait_for_agreed_leader(&admin.addrs, WITHIN).await;
    for round in 0..4 {
        let r = admin.call(&acls(&format!("r{round}"), 100), WITHIN).await;
        assert!(
            r.results.iter().all(|a| a.error_code == 0),
            "round {round}: {r:?}"
        );
    }
    assert!(cluster.terminate(1, WITHIN), "a clean stop first");
    let data = cluster.nodes[0].dir.join("data");
    let segs = segments(&data);
    assert!(
        segs.len() >= 2,
        "a sealed segment and the active one: {segs:?}"
    );
    damage_second_batch(&segs[0]);
    cluster.launch(1);
    let status = cluster
        .wait_exit(1, WITHIN)
        .expect("the node stops by itself");
    let out = cluster.output(1);
    assert_eq!(status.code(), Some(3), "{out}");
    assert!(out.contains("Cyclic redundancy check"), "{out}");
}

// A broker formatted for another cluster is refused registration for good: it exits with
// code 5 instead of retrying forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_of_another_cluster_exits_with_code_5() {
    let mut cluster = Cluster::start_with(1, 1, false, &[]);
    let broker = FIRST_BROKER_ID;
    wait_for("the broker to register", WITHIN, || {
        let out = cluster.output(broker);
        async move { out.contains("registered with controller").then_some(()) }
    })
    .await;
    assert!(cluster.terminate(broker, WITHIN), "a clean stop first");
    let other = kafka_uuid::to_kafka_string(kafka_uuid::random_kafka_uuid());
    cluster.reformat(broker, &other);
    cluster.launch(broker);
    let status = cluster
        .wait_exit(broker, Duration::from_secs(60))
        .expect("the broker stops by itself");
    let out = cluster.output(broker);
    assert_eq!(status.code(), Some(5), "{out}");
}

// SIGTERM of the leader: it resigns with EndQuorumEpoch naming its successors, exits cleanly,
// and a successor takes over in a later epoch having been told so (not by its fetch timeout).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_of_the_leader_hands_over_with_end_quorum_epoch() {
    let mut cluster = Cluster::start(3, &[]);
    let all = cluster.controller_addrs();
    let (leader, epoch) = wait_for_agreed_leader(&all, WITHIN).await;
    assert!(
        cluster.terminate(leader, WITHIN),
        "the leader exits cleanly"
    );
    let others: Vec<String> = cluster
        .nodes
        .iter()
        .filter(|n| n.id != leader)
        .map(|n| n.addr())
        .collect();
    let (successor, new_epoch) = wait_for("a successor", WITHIN, || async {
        let (l, e) = agreed_leader(&others).await?;
        (l != leader && e > epoch).then_some((l, e))
    })
    .await;
    let told = format!("leader {leader} resigned epoch {epoch} with EndQuorumEpoch");
    let out = cluster.output(successor);
    assert!(
        out.contains(&told),
        "successor {successor} in epoch {new_epoch}:\n{out}"
    );
}

// A dynamic quorum (KIP-853) really runs: three controllers formatted with
// --initial-controllers and no controller.quorum.voters elect a leader from the voters of
// their bootstrap snapshot, describe all three, commit writes, survive losing the leader, and
// restart after retention deleted the bootstrap snapshot (later snapshots carry the voters).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dynamic_quorum_from_the_bootstrap_snapshot_elects_commits_and_fails_over() {
    // Small segments, frequent snapshots and retention: the bootstrap snapshot does not stay
    // the only one.
    let mut cluster = Cluster::start_dynamic(
        3,
        &[
            "metadata.log.segment.min.bytes=16384",
            "metadata.log.segment.bytes=16384",
            "metadata.log.max.record.bytes.between.snapshots=4096",
            "metadata.max.retention.bytes=1",
        ],
    );
    for n in &cluster.nodes {
        let config = std::fs::read_to_string(n.config()).expect("config");
        assert!(!config.contains("controller.quorum.voters="), "{config}");
    }
    let all = cluster.controller_addrs();
    let (leader, epoch) = wait_for_agreed_leader(&all, WITHIN).await;
    let (_, _, _, described) = wait_for("every voter described", WITHIN, || async {
        let q = quorum_of(&all[(leader - 1) as usize]).await?;
        let voters = &q.3.topics.first()?.partitions.first()?.current_voters;
        (voters.len() == 3).then_some(q)
    })
    .await;
    let mut ids: Vec<i32> = described.topics[0].partitions[0]
        .current_voters
        .iter()
        .map(|v| v.replica_id.0)
        .collect();
    ids.sort();
    assert_eq!(ids, vec![1, 2, 3]);
    let admin = Admin { addrs: all.clone() };
    let r = admin.call(&acls("dynamic", 2), WITHIN).await;
    assert!(r.results.iter().all(|a| a.error_code == 0), "{r:?}");
    cluster.kill(leader);
    let others: Vec<String> = cluster
        .nodes
        .iter()
        .filter(|n| n.id != leader)
        .map(|n| n.addr())
        .collect();
    wait_for("a successor", WITHIN, || async {
        let (l, e) = agreed_leader(&others).await?;
        (l != leader && e > epoch).then_some(())
    })
    .await;
    // (Admin finds nodes by position: keep the dead one's address in the list.)
    for round in 0..4 {
        let r = admin
            .call(&acls(&format!("after{round}"), 100), WITHIN)
            .await;
        assert!(r.results.iter().all(|a| a.error_code == 0), "{r:?}");
    }
    // Every node restarts from its own directory, snapshots and retention notwithstanding,
    // and rejoins the quorum.
    cluster.launch(leader);
    let restarted = if leader == 1 { 2 } else { 1 };
    let bootstrap_snapshot = cluster.nodes[(restarted - 1) as usize]
        .dir
        .join("data/__cluster_metadata-0/00000000000000000000-0000000000.checkpoint");
    // Snapshots and retention run in the background, at the node's own pace (slower on a busy
    // machine): keep writing until the node to restart has deleted its bootstrap snapshot.
    let mut more = 0;
    wait_for(
        "retention to delete the bootstrap snapshot of the node to restart",
        WITHIN,
        || {
            more += 1;
            let batch = acls(&format!("more{more}"), 20);
            let (admin, path) = (&admin, bootstrap_snapshot.clone());
            async move {
                let r = admin.call(&batch, WITHIN).await;
                assert!(r.results.iter().all(|a| a.error_code == 0), "{r:?}");
                (!path.exists()).then_some(())
            }
        },
    )
    .await;
    assert!(cluster.terminate(restarted, WITHIN), "a clean stop");
    cluster.launch(restarted);
    wait_for("every node back in one quorum", WITHIN, || async {
        let (l, _) = agreed_leader(&all).await?;
        let (_, _, _, q) = quorum_of(&all[(l - 1) as usize]).await?;
        let p = q.topics.first()?.partitions.first()?.clone();
        let end = p.high_watermark;
        p.current_voters
            .iter()
            .all(|v| v.log_end_offset >= end)
            .then_some(())
    })
    .await;
}

// SIGTERM while the node is still starting (log recovery, binding, the shell): the handler is
// in place before any of it, so the node finishes starting and then stops cleanly, exit 0,
// instead of dying of the signal half-way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_start_up_stops_the_node_cleanly() {
    let mut cluster = Cluster::start(1, &[]);
    wait_for("the node to begin starting", WITHIN, || {
        let out = cluster.output(1);
        async move { out.contains("metaquorum node 1: starting").then_some(()) }
    })
    .await;
    assert!(
        cluster.terminate(1, WITHIN),
        "the node did not stop cleanly:\n{}",
        cluster.output(1)
    );
}
