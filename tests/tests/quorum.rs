//! Multi-process tests of the quorum itself: real `metaquorum run` processes on loopback, killed
//! with SIGKILL, frozen with SIGSTOP, fed garbage. Each test is bounded by its waits' deadlines.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use metaquorum_tests::cluster::{
    agreed_leader, quorum_of, scrape, wait_for, wait_for_agreed_leader, Cluster,
};

fn addrs(c: &Cluster) -> Vec<String> {
    c.nodes.iter().map(|n| n.addr()).collect()
}

/// Waits until the nodes other than `old_leader` agree on another leader in an epoch after
/// `old_epoch`; returns (leader, epoch).
async fn wait_for_successor(cluster: &Cluster, old_leader: i32, old_epoch: i32) -> (i32, i32) {
    let others: Vec<String> = cluster
        .nodes
        .iter()
        .filter(|n| n.id != old_leader)
        .map(|n| n.addr())
        .collect();
    wait_for(
        "a new leader among the other nodes",
        ELECTION_WITHIN,
        || async {
            let agreed = agreed_leader(&others).await?;
            (agreed.0 != old_leader && agreed.1 > old_epoch).then_some(agreed)
        },
    )
    .await
}

/// Election with default timeouts takes 1-2 s; allow for a slow, shared CI machine.
const ELECTION_WITHIN: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_controllers_elect_one_leader_and_every_node_describes_it() {
    let cluster = Cluster::start(3, &[]);
    let (leader, epoch) = wait_for_agreed_leader(&addrs(&cluster), ELECTION_WITHIN).await;
    assert!((1..=3).contains(&leader));
    assert!(epoch >= 1);
    // The leader reports every voter with its offsets once they fetch; the high watermark covers
    // the epoch's LeaderChange record (KIP-595).
    // A starved machine may re-elect meanwhile: each check asks whoever leads now.
    let all = addrs(&cluster);
    let resp = wait_for(
        "the leader to see every follower fetch",
        ELECTION_WITHIN,
        || async {
            let (now_leader, _) = agreed_leader(&all).await?;
            let (_, _, hw, r) = quorum_of(&all[(now_leader - 1) as usize]).await?;
            let p = r.topics[0].partitions[0].clone();
            let all_fetched = p.current_voters.len() == 3
                && p.current_voters
                    .iter()
                    .all(|v| v.log_end_offset >= 1 && v.last_fetch_timestamp > 0);
            (hw >= 1 && all_fetched).then_some(r)
        },
    )
    .await;
    assert_eq!(
        resp.nodes.len(),
        3,
        "DescribeQuorum v2 lists the voters' endpoints"
    );
    // The Raft metrics carry the JMX-exporter names (reference/kraft.md §5.6).
    let (leader, body) = wait_for("the leader's metrics", ELECTION_WITHIN, || async {
        let (now_leader, _) = agreed_leader(&all).await?;
        let b = scrape(cluster.nodes[(now_leader - 1) as usize].metrics_port)?;
        b.contains("kafka_server_raftmetrics_current_state{current_state=\"leader\"} 1")
            .then_some((now_leader, b))
    })
    .await;
    for name in [
        "kafka_server_raftmetrics_current_leader",
        "kafka_server_raftmetrics_current_epoch",
        "kafka_server_raftmetrics_high_watermark",
        "kafka_server_raftmetrics_log_end_offset",
        "kafka_server_raftmetrics_commit_latency_avg",
        "kafka_server_raftmetrics_commit_latency_max",
        "kafka_server_raftmetrics_append_records_rate",
        "kafka_server_raftmetrics_fetch_records_rate",
        "kafka_server_raftmetrics_election_latency_avg",
        "kafka_server_raftmetrics_election_latency_max",
    ] {
        assert!(body.contains(name), "{name} missing from:\n{body}");
    }
    assert!(body.contains(&format!("kafka_server_raftmetrics_current_leader {leader}")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_the_leader_elects_another_and_the_old_one_rejoins_as_follower() {
    let mut cluster = Cluster::start(3, &[]);
    let all = addrs(&cluster);
    let (leader, epoch) = wait_for_agreed_leader(&all, ELECTION_WITHIN).await;
    cluster.kill(leader);
    let killed_at = Instant::now();
    let (new_leader, new_epoch) = wait_for_successor(&cluster, leader, epoch).await;
    eprintln!(
        "new leader {new_leader} in epoch {new_epoch} {} ms after SIGKILL of {leader}",
        killed_at.elapsed().as_millis()
    );
    cluster.launch(leader);
    let (l, e) = wait_for_agreed_leader(&all, ELECTION_WITHIN).await;
    assert_eq!(
        (l, e),
        (new_leader, new_epoch),
        "the restarted node follows; no new election"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_leader_is_replaced_and_rejoins_without_disturbing_the_new_one() {
    let mut cluster = Cluster::start(3, &[]);
    let all = addrs(&cluster);
    let (leader, epoch) = wait_for_agreed_leader(&all, ELECTION_WITHIN).await;
    cluster.pause(leader);
    // The followers' fetch timeout expires; pre-vote, vote, a new epoch.
    let (new_leader, new_epoch) = wait_for_successor(&cluster, leader, epoch).await;
    cluster.resume(leader);
    // The old leader steps down (check-quorum or the new epoch) and follows the new leader.
    let old_addr = cluster.nodes[(leader - 1) as usize].addr();
    wait_for(
        "the resumed node to follow the new leader",
        ELECTION_WITHIN,
        || async {
            let (l, e, _, _) = quorum_of(&old_addr).await?;
            (l == new_leader && e == new_epoch).then_some(())
        },
    )
    .await;
    // It follows the new leader in the new epoch: no election of its own got through. That the
    // epoch then stays put while a node flaps is the simulator's stability check (a fixed
    // window here would only measure this machine's timing).
}

/// Sends raw bytes and reads until the server closes the connection; what it sent before.
/// Panics if the server neither closes nor sends anything more within 10 s: a bad request
/// must close its connection, not hang it.
fn send_raw_expect_close(addr: &str, bytes: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    s.write_all(bytes).expect("write");
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            // A reset is a close too.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return out,
            Err(e) => panic!("the server neither answered nor closed the connection: {e}"),
        }
    }
}

/// Sends one request frame and reads one response frame (size prefix included).
fn request_frame(addr: &str, bytes: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    s.write_all(bytes).expect("write");
    let mut size = [0u8; 4];
    s.read_exact(&mut size).expect("a response size");
    let mut body = vec![0u8; i32::from_be_bytes(size).max(0) as usize];
    s.read_exact(&mut body).expect("a response body");
    [size.to_vec(), body].concat()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_oversized_and_unsupported_requests_close_only_their_connection() {
    let cluster = Cluster::start(1, &[]);
    let addr = cluster.nodes[0].addr();
    wait_for_agreed_leader(std::slice::from_ref(&addr), ELECTION_WITHIN).await;
    // Oversized: a size prefix of 2 GiB - 1 is refused before anything is buffered.
    let out = send_raw_expect_close(&addr, &[0x7f, 0xff, 0xff, 0xff, 1, 2, 3]);
    assert!(out.is_empty(), "no response to an oversized frame");
    // Garbage: an unknown API key.
    let out = send_raw_expect_close(&addr, &[0, 0, 0, 8, 0x7f, 0x7f, 0, 0, 0, 0, 0, 1]);
    assert!(out.is_empty());
    // A Vote request claiming 2^31-1 topics in 12 bytes: malformed, no allocation, no crash.
    let mut frame = vec![];
    frame.extend_from_slice(&52i16.to_be_bytes()); // Vote
    frame.extend_from_slice(&0i16.to_be_bytes()); // v0
    frame.extend_from_slice(&9i32.to_be_bytes()); // correlation id
    frame.extend_from_slice(&(-1i16).to_be_bytes()); // null client id
    frame.extend_from_slice(&(-1i16).to_be_bytes()); // null cluster id
    frame.extend_from_slice(&i32::MAX.to_be_bytes()); // topics count
    let mut msg = (frame.len() as i32).to_be_bytes().to_vec();
    msg.extend_from_slice(&frame);
    let out = send_raw_expect_close(&addr, &msg);
    assert!(out.is_empty());
    // ApiVersions at an unknown version: UNSUPPORTED_VERSION (35) in a v0 response (KIP-511).
    let mut frame = vec![];
    frame.extend_from_slice(&18i16.to_be_bytes());
    frame.extend_from_slice(&99i16.to_be_bytes());
    frame.extend_from_slice(&5i32.to_be_bytes());
    frame.extend_from_slice(&(-1i16).to_be_bytes());
    frame.push(0); // header v2: no tagged fields
    let mut msg = (frame.len() as i32).to_be_bytes().to_vec();
    msg.extend_from_slice(&frame);
    let out = request_frame(&addr, &msg);
    assert!(out.len() >= 10, "a response arrives: {out:?}");
    assert_eq!(&out[4..8], &5i32.to_be_bytes(), "correlation id echoed");
    assert_eq!(&out[8..10], &35i16.to_be_bytes(), "UNSUPPORTED_VERSION");
    // The node is up and still serving.
    let (leader, _, _, _) = quorum_of(&addr).await.expect("the node still answers");
    assert_eq!(leader, 1);
}
