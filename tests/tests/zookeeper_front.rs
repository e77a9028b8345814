//! The ZooKeeper front of a real `metaquorum` controller process, over its socket: sessions
//! opened, re-attached and expired by the quorum, writes answered once committed and applied,
//! watches firing across sessions, ephemerals deleted with their session, and sessions and
//! znodes surviving SIGKILL of the node. The client is the same codec the tests drive a real
//! ZooKeeper with (`zookeeper_wire.rs`, `zookeeper_semantics.rs`).

use std::time::{Duration, Instant};

use bytes::Bytes;
use metaquorum_controller::config::free_loopback_ports;
use metaquorum_tests::cluster::Cluster;
use metaquorum_tests::kafka_tools::run_bounded;
use metaquorum_tests::real_zookeeper::four_letter_word;
use metaquorum_tests::zk_wire::ZkWire;
use metaquorum_zk::proto::records::EventType;
use metaquorum_zk::proto::request::{CreateRequest, SetDataRequest, WatchRequest};
use metaquorum_zk::proto::{Acl, ConnectRequest, CreateMode, ErrorCode, Request, Response};

const DEADLINE: Duration = Duration::from_secs(60);

fn create(path: &str, data: &[u8], mode: CreateMode) -> Request {
    Request::Create(CreateRequest {
        path: path.into(),
        data: Some(Bytes::copy_from_slice(data)),
        acl: Acl::open_unsafe(),
        flags: mode as i32,
        ttl_ms: None,
    })
}

fn exists(path: &str, watch: bool) -> Request {
    Request::Exists(WatchRequest {
        path: path.into(),
        watch,
    })
}

fn get(path: &str) -> Request {
    Request::GetData(WatchRequest {
        path: path.into(),
        watch: false,
    })
}

/// Connects once the node answers with a session (the listener is up and a controller is
/// active), within the deadline.
fn connect(addr: &str, timeout_ms: i32) -> ZkWire {
    let start = Instant::now();
    loop {
        match ZkWire::connect(addr, timeout_ms) {
            Ok(c) if c.session.session_id != 0 => return c,
            Ok(_) | Err(_) if start.elapsed() < DEADLINE => {
                std::thread::sleep(Duration::from_millis(100))
            }
            Ok(c) => panic!("no session within {DEADLINE:?}: {:?}", c.session),
            Err(e) => panic!("no session within {DEADLINE:?}: {e}"),
        }
    }
}

/// Re-attaches `session` (id and password) on a new connection, retrying while the node is
/// restarting.
fn reattach(addr: &str, id: i64, passwd: &Bytes, last_zxid_seen: i64) -> ZkWire {
    let start = Instant::now();
    loop {
        let request = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen,
            timeout_ms: 6_000,
            session_id: id,
            passwd: passwd.clone(),
            read_only: Some(false),
        };
        match ZkWire::handshake(addr, request) {
            Ok(c) => return c,
            Err(e) if start.elapsed() < DEADLINE => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => panic!("could not re-attach within {DEADLINE:?}: {e}"),
        }
    }
}

fn start() -> (Cluster, String) {
    start_with("zookeeper.front.4lw.commands.whitelist=ruok,srvr")
}

fn start_with(extra: &str) -> (Cluster, String) {
    let port = free_loopback_ports(1).expect("a free port")[0];
    let listener = format!("zookeeper.front.listener=127.0.0.1:{port}");
    let cluster = Cluster::start(
        1,
        &[
            listener.as_str(),
            // Short ticks: session bounds 1 s to 10 s, touches every 500 ms.
            "zookeeper.front.tickTime=500",
            extra,
        ],
    );
    (cluster, format!("127.0.0.1:{port}"))
}

// kazoo, a real client library, and its recipes (tests/python/kazoo_front.py).
#[test]
fn kazoo_and_its_recipes_work_against_the_front() {
    let (_cluster, addr) = start_with("zookeeper.front.4lw.commands.whitelist=*");
    drop(connect(&addr, 6_000));
    let script = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python/kazoo_front.py");
    let mut cmd = std::process::Command::new("python3");
    cmd.arg(script).args(["--hosts", &addr]);
    let out = run_bounded(&mut cmd, Duration::from_secs(120)).expect("kazoo finished in time");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "kazoo_front.py failed:\n{text}");
    assert!(text.contains("kazoo: all checks passed"), "{text}");
}

#[test]
fn sessions_writes_watches_and_ephemerals_through_a_real_node() {
    let (mut cluster, addr) = start();
    let mut a = connect(&addr, 6_000);
    let mut b = connect(&addr, 6_000);
    assert_ne!(a.session.session_id, b.session.session_id);
    assert_eq!(a.session.timeout_ms, 6_000);
    assert_eq!(a.session.passwd.len(), 16);

    // A write is answered with what it did, at the zxid that is its log offset, and the
    // other session reads it.
    let made = a
        .call(&create("/app", b"v1", CreateMode::Persistent))
        .unwrap();
    assert_eq!(made.err, 0);
    assert_eq!(
        made.body,
        Some(Response::Create {
            path: "/app".into()
        })
    );
    assert!(made.zxid > 0);
    match b.call(&get("/app")).unwrap().body {
        Some(Response::GetData { data, stat }) => {
            assert_eq!(data.as_deref(), Some(&b"v1"[..]));
            assert_eq!(stat.czxid, made.zxid);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        a.call(&create("/app", b"", CreateMode::Persistent))
            .unwrap()
            .err,
        ErrorCode::NodeExists.code()
    );

    // A watch set by b fires when a changes the node, before any answer that shows it.
    assert_eq!(b.call(&exists("/app", true)).unwrap().err, 0);
    let set = Request::SetData(SetDataRequest {
        path: "/app".into(),
        data: Some(Bytes::from_static(b"v2")),
        version: 0,
    });
    assert_eq!(a.call(&set).unwrap().err, 0);
    let events = b.wait_events(1).unwrap();
    assert_eq!(events[0].1.event_type, EventType::NodeDataChanged as i32);
    assert_eq!(events[0].1.path, "/app");

    // An ephemeral goes with its session's close, and a watcher hears it.
    let eph = a
        .call(&create("/app/e", b"", CreateMode::Ephemeral))
        .unwrap();
    assert_eq!(eph.err, 0);
    assert_eq!(b.call(&exists("/app/e", true)).unwrap().err, 0);
    assert_eq!(a.call(&Request::CloseSession).unwrap().err, 0);
    let events = b.wait_events(2).unwrap();
    assert_eq!(events[1].1.event_type, EventType::NodeDeleted as i32);
    assert_eq!(events[1].1.path, "/app/e");

    // A session whose client stops talking expires after its timeout, ephemerals with it.
    let mut c = connect(&addr, 1_500);
    assert_eq!(c.session.timeout_ms, 1_500);
    assert_eq!(
        c.call(&create("/app/c", b"", CreateMode::Ephemeral))
            .unwrap()
            .err,
        0
    );
    drop(c);
    let start = Instant::now();
    while b.call(&exists("/app/c", false)).unwrap().err == 0 {
        assert!(
            start.elapsed() < DEADLINE,
            "the ephemeral outlived its session"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // Re-attach: the right password keeps the session, a wrong one is told it expired.
    let (id, passwd) = (b.session.session_id, b.session.passwd.clone());
    let d = reattach(&addr, id, &passwd, b.last_zxid);
    assert_eq!(d.session.session_id, id);
    let wrong = reattach(&addr, id, &Bytes::from_static(&[0; 16]), 0);
    assert_eq!(
        wrong.session.session_id, 0,
        "a wrong password is an expired session"
    );
    drop(d);

    // A client that has seen more than the node has applied is refused (no answer).
    let ahead = ZkWire::handshake(
        &addr,
        ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: i64::MAX,
            timeout_ms: 6_000,
            session_id: 0,
            passwd: Bytes::from_static(&[0; 16]),
            read_only: Some(false),
        },
    );
    assert!(ahead.is_err(), "{:?}", ahead.map(|c| c.session));

    // Four-letter words on the client port, as whitelisted.
    assert_eq!(four_letter_word(&addr, "ruok").as_deref(), Some("imok"));
    let srvr = four_letter_word(&addr, "srvr").unwrap();
    assert!(srvr.contains("Zookeeper version: 3.8"), "{srvr}");
    assert!(srvr.contains("Node count: "), "{srvr}");
    assert!(
        srvr.contains("Mode: leader\n"),
        "the only controller is active: {srvr}"
    );
    let envi = four_letter_word(&addr, "envi").unwrap();
    assert!(envi.contains("not in the whitelist"), "{envi}");

    // SIGKILL the node: the session, its ephemeral and the tree survive the restart (the
    // session gets a fresh timeout from the new active controller).
    let eph = b
        .call(&create("/app/b", b"", CreateMode::Ephemeral))
        .unwrap();
    assert_eq!(eph.err, 0);
    let last_zxid = b.last_zxid;
    drop(b);
    cluster.kill(1);
    cluster.launch(1);
    let mut back = reattach(&addr, id, &passwd, last_zxid);
    assert_eq!(back.session.session_id, id, "the session survived SIGKILL");
    match back.call(&get("/app")).unwrap().body {
        Some(Response::GetData { data, .. }) => assert_eq!(data.as_deref(), Some(&b"v2"[..])),
        other => panic!("{other:?}"),
    }
    assert_eq!(back.call(&exists("/app/b", false)).unwrap().err, 0);
    assert_eq!(back.call(&Request::CloseSession).unwrap().err, 0);
}

#[test]
fn malformed_and_oversized_input_closes_only_that_connection() {
    let (_cluster, addr) = start();
    let mut good = connect(&addr, 6_000);
    // An opcode no client may send: UNIMPLEMENTED, then the connection closes.
    let mut bad = connect(&addr, 6_000);
    bad.send_raw(&[0, 0, 0, 8, 0, 0, 0, 1, 0, 0, 0x30, 0x39])
        .unwrap();
    let header = bad.read_reply_header().unwrap();
    assert_eq!(header.err, ErrorCode::Unimplemented.code());
    assert!(bad.is_closed_by_server());
    // A frame beyond jute.maxbuffer closes the connection.
    let mut big = connect(&addr, 6_000);
    big.send_raw(&[0x7f, 0xff, 0xff, 0xff]).unwrap();
    assert!(big.is_closed_by_server());
    // The others are unharmed.
    assert_eq!(
        good.call(&create("/still", b"", CreateMode::Persistent))
            .unwrap()
            .err,
        0
    );
}

/// Polls a four-letter word until its answer satisfies `ok` (the counts it shows are
/// published by the connections as they go), within the deadline.
fn four_letter_until(addr: &str, word: &str, ok: impl Fn(&str) -> bool) -> String {
    let start = Instant::now();
    loop {
        let text = four_letter_word(addr, word).unwrap_or_default();
        if ok(&text) {
            return text;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "{word} never matched; last: {text:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

// The four-letter words monitoring tools read, in ZooKeeper's formats (reference §1.13).
#[test]
fn four_letter_words_in_zookeepers_formats() {
    let (_cluster, addr) = start_with("zookeeper.front.4lw.commands.whitelist=*");
    let mut c = connect(&addr, 6_000);
    assert_eq!(c.call(&exists("/zookeeper", true)).unwrap().err, 0);
    let mntr = four_letter_until(&addr, "mntr", |t| t.contains("zk_watch_count\t1\n"));
    for line in [
        "zk_server_state\tleader\n",
        // (the connection asking counts, as in ZooKeeper)
        "zk_num_alive_connections\t2\n",
        "zk_global_sessions\t1\n",
        "zk_znode_count\t4\n",
        "zk_ephemerals_count\t0\n",
    ] {
        assert!(mntr.contains(line), "{line:?} not in {mntr}");
    }
    assert!(mntr.starts_with("zk_version\t3.8"), "{mntr}");
    let wchs = four_letter_word(&addr, "wchs").unwrap();
    assert_eq!(wchs, "1 connections watching 1 paths\nTotal watches:1\n");
    let cons = four_letter_word(&addr, "cons").unwrap();
    let sid = format!("sid=0x{:x})", c.session.session_id);
    assert!(
        cons.starts_with(" /127.0.0.1:") && cons.contains(&sid),
        "{cons}"
    );
    let conf = four_letter_word(&addr, "conf").unwrap();
    for line in [
        "tickTime=500\n",
        "minSessionTimeout=1000\n",
        "maxSessionTimeout=10000\n",
    ] {
        assert!(conf.contains(line), "{line:?} not in {conf}");
    }
    let stat = four_letter_word(&addr, "stat").unwrap();
    assert!(stat.contains("Clients:\n /127.0.0.1:"), "{stat}");
    assert!(stat.contains("Mode: leader\n"), "{stat}");
    let dump = four_letter_word(&addr, "dump").unwrap();
    assert!(dump.contains("not served"), "{dump}");
}
