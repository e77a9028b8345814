//! The ZooKeeper protocol codec (`metaquorum_zk::proto`) against a real ZooKeeper 3.8 server:
//! every request it encodes is one the real server understands, and every answer the real server
//! gives decodes to what reference §1 says it is. This pins the codec to the real thing before
//! the quorum's own ZooKeeper front is built on it.

use bytes::Bytes;
use metaquorum_tests::real_zookeeper::{four_letter_word, RealZooKeeper};
use metaquorum_tests::zk_wire::{Reply, ZkWire};
use metaquorum_zk::proto::records::{ClientInfo, EventType, KeeperState};
use metaquorum_zk::proto::request::{
    AuthPacket, CreateRequest, PathRequest, SetDataRequest, SetWatches, VersionRequest,
    WatchRequest,
};
use metaquorum_zk::proto::{Acl, ConnectRequest, ErrorCode, OpResult, Request, Response};

fn create(path: &str, data: &[u8], flags: i32) -> CreateRequest {
    CreateRequest {
        path: path.into(),
        data: Some(Bytes::copy_from_slice(data)),
        acl: Acl::open_unsafe(),
        flags,
        ttl_ms: None,
    }
}

fn watch(path: &str, watch: bool) -> WatchRequest {
    WatchRequest {
        path: path.into(),
        watch,
    }
}

fn ok(reply: Reply) -> Response {
    assert_eq!(reply.err, 0, "{reply:?}");
    reply.body.expect("a body with err 0")
}

fn err(reply: Reply) -> i32 {
    assert!(reply.body.is_none(), "{reply:?}");
    reply.err
}

#[test]
fn the_codec_speaks_real_zookeeper() {
    let zk = RealZooKeeper::start();
    let addr = zk.addr();

    // Handshake: a 16-byte password, the timeout clamped to [2, 20] × tickTime (2000 ms).
    let mut a = ZkWire::connect(&addr, 100_000).unwrap();
    assert_ne!(a.session.session_id, 0);
    assert_eq!(a.session.passwd.len(), 16);
    assert_eq!(a.session.timeout_ms, 40_000);
    assert_eq!(a.session.read_only, Some(false));
    let short = ZkWire::connect(&addr, 10).unwrap();
    assert_eq!(short.session.timeout_ms, 4_000);

    // create answers the path; a sequential create appends the parent's cversion, %010d.
    let Response::Create { path } = ok(a.call(&Request::Create(create("/a", b"x", 0))).unwrap())
    else {
        panic!("create")
    };
    assert_eq!(path, "/a");
    let Response::Create2 { path, stat } = ok(a
        .call(&Request::Create2(create("/a/s-", b"yy", 2)))
        .unwrap())
    else {
        panic!("create2")
    };
    assert_eq!(path, "/a/s-0000000000");
    assert_eq!(
        (stat.version, stat.data_length, stat.ephemeral_owner),
        (0, 2, 0)
    );
    assert_eq!(
        err(a.call(&Request::Create(create("/a", b"", 0))).unwrap()),
        ErrorCode::NodeExists.code()
    );
    assert_eq!(
        err(a
            .call(&Request::Create(create("/missing/x", b"", 0)))
            .unwrap()),
        ErrorCode::NoNode.code()
    );

    // getData with a watch; a write from another session fires NodeDataChanged on this one.
    let Response::GetData { data, stat } =
        ok(a.call(&Request::GetData(watch("/a", true))).unwrap())
    else {
        panic!("getData")
    };
    assert_eq!(data.as_deref(), Some(&b"x"[..]));
    assert_eq!((stat.num_children, stat.cversion), (1, 1));
    let mut b = ZkWire::connect(&addr, 30_000).unwrap();
    let set = b
        .call(&Request::SetData(SetDataRequest {
            path: "/a".into(),
            data: Some(Bytes::from_static(b"z")),
            version: 0,
        }))
        .unwrap();
    let set_zxid = set.zxid;
    let Response::Stat(stat) = ok(set) else {
        panic!("setData")
    };
    assert_eq!((stat.version, stat.mzxid), (1, set_zxid));
    let events = a.wait_events(1).unwrap();
    // ZooKeeper 3.8 sends -1 as a notification's zxid, not the write's (found by this test;
    // reference §1.3 says otherwise).
    assert_eq!(events[0].0, -1);
    assert_eq!(events[0].1.event_type, EventType::NodeDataChanged as i32);
    assert_eq!(events[0].1.state, KeeperState::SyncConnected as i32);
    assert_eq!(events[0].1.path, "/a");

    // A stale version: the header alone, BADVERSION.
    let stale = Request::SetData(SetDataRequest {
        path: "/a".into(),
        data: None,
        version: 0,
    });
    assert_eq!(err(a.call(&stale).unwrap()), ErrorCode::BadVersion.code());

    // exists on a missing node: NONODE, and (reference §1.9) it leaves a watch that fires on
    // create.
    assert_eq!(
        err(a.call(&Request::Exists(watch("/later", true))).unwrap()),
        ErrorCode::NoNode.code()
    );
    ok(b.call(&Request::Create(create("/later", b"", 0))).unwrap());
    let events = a.wait_events(2).unwrap();
    assert_eq!(events[1].1.event_type, EventType::NodeCreated as i32);
    assert_eq!(events[1].1.path, "/later");

    // A failing multi: the header says 0; ops before the failure 0, the failure its code,
    // the rest RUNTIMEINCONSISTENCY; nothing applied.
    let multi = Request::Multi(vec![
        Request::Check(VersionRequest {
            path: "/a".into(),
            version: 1,
        }),
        Request::Create(create("/b", b"", 0)),
        Request::Delete(VersionRequest {
            path: "/nope".into(),
            version: -1,
        }),
        Request::Create(create("/c", b"", 0)),
    ]);
    let Response::Multi(results) = ok(a.call(&multi).unwrap()) else {
        panic!("multi")
    };
    assert_eq!(
        results,
        vec![
            OpResult::Error(0),
            OpResult::Error(0),
            OpResult::Error(ErrorCode::NoNode.code()),
            OpResult::Error(ErrorCode::RuntimeInconsistency.code()),
        ]
    );
    assert_eq!(
        err(a.call(&Request::Exists(watch("/b", false))).unwrap()),
        ErrorCode::NoNode.code()
    );
    // A successful multi: one result per op. A create2 inside a multi is answered as a plain
    // create, path only, with no Stat (ZooKeeper 3.8; found by this test).
    let multi = Request::Multi(vec![
        Request::Create(create("/b", b"", 0)),
        Request::Create2(create("/b/c", b"q", 0)),
        Request::SetData(SetDataRequest {
            path: "/b".into(),
            data: Some(Bytes::from_static(b"w")),
            version: 0,
        }),
        Request::Check(VersionRequest {
            path: "/b".into(),
            version: 1,
        }),
        Request::Delete(VersionRequest {
            path: "/b/c".into(),
            version: 0,
        }),
    ]);
    let Response::Multi(results) = ok(a.call(&multi).unwrap()) else {
        panic!("multi")
    };
    assert!(
        matches!(
            &results[..],
            [
                OpResult::Create { path: b },
                OpResult::Create { path: c },
                OpResult::SetData { stat },
                OpResult::Check,
                OpResult::Delete,
            ] if b == "/b" && c == "/b/c" && stat.version == 1
        ),
        "{results:?}"
    );

    // multiRead: each op answered on its own.
    let Response::Multi(results) = ok(a
        .call(&Request::MultiRead(vec![
            Request::GetData(watch("/b", false)),
            Request::GetChildren(watch("/nope", false)),
        ]))
        .unwrap())
    else {
        panic!("multiRead")
    };
    assert!(
        matches!(&results[..], [OpResult::GetData { data: Some(d), .. }, OpResult::Error(e)]
            if &d[..] == b"w" && *e == ErrorCode::NoNode.code()),
        "{results:?}"
    );

    // The root's children include the reserved /zookeeper; getChildren2 adds the Stat.
    let Response::Children2 { mut children, stat } =
        ok(a.call(&Request::GetChildren2(watch("/", false))).unwrap())
    else {
        panic!("getChildren2")
    };
    children.sort();
    assert_eq!(children, ["a", "b", "later", "zookeeper"]);
    assert_eq!(stat.num_children, 4);
    let Response::AllChildrenNumber(n) = ok(a
        .call(&Request::GetAllChildrenNumber(PathRequest {
            path: "/".into(),
        }))
        .unwrap())
    else {
        panic!("getAllChildrenNumber")
    };
    // /a, /a/s-0000000000, /b, /later, /zookeeper, /zookeeper/config, /zookeeper/quota.
    assert_eq!(n, 7);

    // getACL, ephemerals, sync, whoAmI, auth.
    let Response::GetAcl { acl, .. } = ok(a
        .call(&Request::GetAcl(PathRequest { path: "/a".into() }))
        .unwrap())
    else {
        panic!("getACL")
    };
    assert_eq!(acl, Acl::open_unsafe());
    ok(a.call(&Request::Create(create("/e", b"", 1))).unwrap());
    let Response::Strings(ephemerals) = ok(a
        .call(&Request::GetEphemerals(PathRequest { path: "/".into() }))
        .unwrap())
    else {
        panic!("getEphemerals")
    };
    assert_eq!(ephemerals, ["/e"]);
    let Response::Sync { path } = ok(a
        .call(&Request::Sync(PathRequest { path: "/a".into() }))
        .unwrap())
    else {
        panic!("sync")
    };
    assert_eq!(path, "/a");
    let auth = Request::Auth(AuthPacket {
        auth_type: 0,
        scheme: "digest".into(),
        auth: Bytes::from_static(b"bob:secret"),
    });
    assert_eq!(a.call(&auth).unwrap().body, Some(Response::Empty));
    let Response::WhoAmI(who) = ok(a.call(&Request::WhoAmI).unwrap()) else {
        panic!("whoAmI")
    };
    assert!(who.contains(&ClientInfo {
        auth_scheme: "ip".into(),
        user: "127.0.0.1".into()
    }));
    assert!(
        who.iter()
            .any(|c| c.auth_scheme == "digest" && c.user == "bob"),
        "{who:?}"
    );

    // Re-attach from a new connection with the right password keeps the session and its
    // ephemeral; setWatches with an old zxid fires what changed since at once.
    let reattached = ZkWire::handshake(
        &addr,
        ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: a.last_zxid,
            timeout_ms: 30_000,
            session_id: a.session.session_id,
            passwd: a.session.passwd.clone(),
            read_only: Some(false),
        },
    );
    let mut a2 = reattached.unwrap();
    assert_eq!(a2.session.session_id, a.session.session_id);
    let set_watches = Request::SetWatches(SetWatches {
        relative_zxid: set_zxid - 1,
        data: vec!["/a".into()],
        ..SetWatches::default()
    });
    assert_eq!(a2.call(&set_watches).unwrap().err, 0);
    let events = a2.wait_events(1).unwrap();
    assert_eq!(events[0].1.event_type, EventType::NodeDataChanged as i32);
    // A wrong password: an expired-session answer (timeout 0, id 0), then the close.
    let mut wrong = ZkWire::handshake(
        &addr,
        ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            timeout_ms: 30_000,
            session_id: a.session.session_id,
            passwd: Bytes::from_static(&[7; 16]),
            read_only: Some(false),
        },
    )
    .unwrap();
    assert_eq!((wrong.session.timeout_ms, wrong.session.session_id), (0, 0));
    assert!(wrong.is_closed_by_server());
    // ZooKeeper closes the connection holding a session before it checks a re-attaching
    // client's password, so even a wrong password kicks the rightful holder off (it
    // reconnects; the session lives on). Observed here; the quorum's front checks first.
    assert!(a2.is_closed_by_server());
    let mut a3 = ZkWire::handshake(
        &addr,
        ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: a2.last_zxid,
            timeout_ms: 30_000,
            session_id: a.session.session_id,
            passwd: a.session.passwd.clone(),
            read_only: Some(false),
        },
    )
    .unwrap();
    assert_eq!(a3.session.session_id, a.session.session_id);

    // closeSession: a bare header, then the server closes; the session's ephemeral is gone.
    let closed = a3.call(&Request::CloseSession).unwrap();
    assert_eq!((closed.err, closed.body), (0, Some(Response::Empty)));
    assert!(a3.is_closed_by_server());
    assert_eq!(
        err(b.call(&Request::Exists(watch("/e", false))).unwrap()),
        ErrorCode::NoNode.code()
    );

    // An unknown opcode: UNIMPLEMENTED, then the close (reference §1.3).
    let mut c = ZkWire::connect(&addr, 30_000).unwrap();
    c.send_raw(&[0, 0, 0, 8, 0, 0, 0, 9, 0, 0, 0, 77]).unwrap();
    let header = c.read_reply_header().unwrap();
    assert_eq!(
        (header.xid, header.err),
        (9, ErrorCode::Unimplemented.code())
    );
    assert!(c.is_closed_by_server());

    // Four-letter words share the port.
    assert_eq!(four_letter_word(&addr, "ruok").as_deref(), Some("imok"));
    let srvr = four_letter_word(&addr, "srvr").unwrap();
    assert!(srvr.contains("Mode: standalone"), "{srvr}");
}
