//! Tests of a connection's ordering: reads at once, writes answered after they are applied
//! whichever of outcome and transaction comes first, everything behind a write waiting, watch
//! events ahead of the answers that show their change, and the ways a connection closes.

use super::*;
use crate::proto::jute::Reader;
use crate::proto::records::perms;
use crate::proto::request::{AuthPacket, CreateRequest, WatchRequest};
use crate::proto::{Acl, OpCode, ReplyHeader};
use crate::txn::{apply, prepare, Caller, Features, Txn, TxnHeader};

const S: i64 = 0x100;
const OTHER: i64 = 0x200;

/// A tree with sessions S and OTHER open, at zxid 2.
fn tree() -> DataTree {
    let mut t = DataTree::new();
    for (z, s) in [(1, S), (2, OTHER)] {
        let open = Txn::CreateSession {
            timeout_ms: 10_000,
            passwd: Bytes::from_static(&[7; 16]),
        };
        apply(&mut t, &header(s, z), &open);
    }
    t
}

fn header(session_id: i64, zxid: i64) -> TxnHeader {
    TxnHeader {
        session_id,
        zxid,
        time_ms: 0,
    }
}

fn create(path: &str) -> Request {
    Request::Create(CreateRequest {
        path: path.into(),
        data: Some(Bytes::from_static(b"v")),
        acl: Acl::open_unsafe(),
        flags: 0,
        ttl_ms: None,
    })
}

fn get(path: &str, watch: bool) -> Request {
    Request::GetData(WatchRequest {
        path: path.into(),
        watch,
    })
}

/// Prepares and applies `request` of `session` at `zxid`, as the controller and the node would.
fn commit(tree: &mut DataTree, session: i64, request: &Request, zxid: i64) -> Applied {
    let caller = Caller {
        session_id: session,
        ids: &[],
    };
    let txn = prepare(tree, caller, request, Features::default()).unwrap();
    apply(tree, &header(session, zxid), &txn)
}

/// A frame the connection sent: the reply header and the body bytes.
#[derive(Debug, PartialEq)]
struct Frame {
    xid: i32,
    zxid: i64,
    err: i32,
    body: Bytes,
}

/// Every frame in `outputs` (in order), and the non-send outputs.
fn frames(outputs: &[Output]) -> (Vec<Frame>, Vec<Output>) {
    let mut frames = Vec::new();
    let mut other = Vec::new();
    for o in outputs {
        match o {
            Output::Send(bytes) => {
                let mut buf = BytesMut::from(&bytes[..]);
                while let Some(f) = crate::proto::frame::split_frame(&mut buf, 1 << 20).unwrap() {
                    let mut r = Reader::new(f);
                    let h = ReplyHeader::read(&mut r).unwrap();
                    frames.push(Frame {
                        xid: h.xid,
                        zxid: h.zxid,
                        err: h.err,
                        body: r.rest(),
                    });
                }
                assert!(buf.is_empty(), "a partial frame");
            }
            other_output => other.push(other_output.clone()),
        }
    }
    (frames, other)
}

fn xids(outputs: &[Output]) -> Vec<i32> {
    frames(outputs).0.iter().map(|f| f.xid).collect()
}

#[test]
fn reads_are_answered_at_once_with_the_trees_zxid() {
    let t = tree();
    let mut c = Connection::new(S, vec![], None, 2);
    let out = c.on_request(1, get("/zookeeper", false), &t);
    let (f, other) = frames(&out);
    assert!(other.is_empty());
    assert_eq!((f[0].xid, f[0].zxid, f[0].err), (1, 2, 0));
    let out = c.on_request(2, get("/missing", false), &t);
    assert_eq!(frames(&out).0[0].err, ErrorCode::NoNode.code());
    let out = c.on_request(3, Request::Ping, &t);
    assert_eq!(xids(&out), vec![3]);
}

#[test]
fn a_write_is_answered_once_applied_and_what_follows_it_waits() {
    for outcome_first in [true, false] {
        let mut t = tree();
        let mut c = Connection::new(S, vec![], None, 2);
        let out = c.on_request(1, create("/a"), &t);
        assert_eq!(out, vec![Output::Forward(create("/a"))]);
        // A read behind the write waits, though the tree could answer it now.
        assert!(c.on_request(2, get("/a", false), &t).is_empty());
        assert_eq!(c.pending(), 2);
        let applied = commit(&mut t, S, &create("/a"), 3);
        let txn = AppliedTxn {
            zxid: 3,
            session_id: S,
            applied: &applied,
        };
        let out = if outcome_first {
            assert!(c.on_outcome(Outcome::Committed(3), &t).is_empty());
            c.on_applied(&[txn], &t, 3)
        } else {
            assert!(c.on_applied(&[txn], &t, 3).is_empty());
            c.on_outcome(Outcome::Committed(3), &t)
        };
        let (f, _) = frames(&out);
        assert_eq!(f.len(), 2, "the write and the read behind it");
        assert_eq!((f[0].xid, f[0].zxid, f[0].err), (1, 3, 0));
        let created = Response::decode(OpCode::Create, f[0].body.clone()).unwrap();
        assert_eq!(created, Response::Create { path: "/a".into() });
        assert_eq!((f[1].xid, f[1].err), (2, 0), "the read sees the write");
        assert_eq!(c.pending(), 0);
    }
}

#[test]
fn a_refusal_waits_for_the_state_it_rests_on() {
    let mut t = tree();
    let mut c = Connection::new(S, vec![], None, 2);
    c.on_request(1, create("/a"), &t);
    // Another session's create of /a is ahead of ours at the controller.
    let out = c.on_outcome(
        Outcome::Answer {
            code: ErrorCode::NodeExists,
            after_zxid: 3,
        },
        &t,
    );
    assert!(out.is_empty(), "not before the node shows /a");
    let applied = commit(&mut t, OTHER, &create("/a"), 3);
    let txn = AppliedTxn {
        zxid: 3,
        session_id: OTHER,
        applied: &applied,
    };
    let (f, _) = frames(&c.on_applied(&[txn], &t, 3));
    assert_eq!((f[0].xid, f[0].err), (1, ErrorCode::NodeExists.code()));
}

#[test]
fn watch_events_come_before_the_answers_that_show_their_change() {
    let mut t = tree();
    commit(&mut t, OTHER, &create("/w"), 3);
    let mut c = Connection::new(S, vec![], None, 3);
    let (f, _) = frames(&c.on_request(1, get("/w", true), &t));
    assert_eq!(f[0].err, 0);
    // Our own write, and another session's write behind it in the same applied batch.
    c.on_request(2, create("/w/child"), &t);
    c.on_request(3, get("/w", false), &t);
    let mine = commit(&mut t, S, &create("/w/child"), 4);
    let set = Request::SetData(crate::proto::request::SetDataRequest {
        path: "/w".into(),
        data: Some(Bytes::from_static(b"new")),
        version: -1,
    });
    let theirs = commit(&mut t, OTHER, &set, 5);
    c.on_outcome(Outcome::Committed(4), &t);
    let txns = [
        AppliedTxn {
            zxid: 4,
            session_id: S,
            applied: &mine,
        },
        AppliedTxn {
            zxid: 5,
            session_id: OTHER,
            applied: &theirs,
        },
    ];
    let (f, _) = frames(&c.on_applied(&txns, &t, 5));
    // The data watch fires (NodeDataChanged), then the write's answer, then the read, which
    // shows the new data.
    let xids: Vec<i32> = f.iter().map(|f| f.xid).collect();
    assert_eq!(xids, vec![NOTIFICATION_XID, 2, 3]);
    // The write's reply carries its own zxid (as ZooKeeper's), the read the tree's.
    assert_eq!((f[1].zxid, f[2].zxid), (4, 5));
    let event = WatcherEvent::read(&mut Reader::new(f[0].body.clone())).unwrap();
    assert_eq!(event.event_type, EventType::NodeDataChanged as i32);
    assert_eq!(event.path, "/w");
    assert_eq!(f[0].zxid, -1);
    match Response::decode(OpCode::GetData, f[2].body.clone()).unwrap() {
        Response::GetData { data, .. } => assert_eq!(data.as_deref(), Some(&b"new"[..])),
        other => panic!("{other:?}"),
    }
    assert_eq!(c.watch_count(), 0, "a one-shot watch is gone once fired");
}

#[test]
fn lost_outcomes_failed_auth_and_close_session_close_the_connection() {
    let mut t = tree();
    let mut c = Connection::new(S, vec![], None, 2);
    c.on_request(1, create("/a"), &t);
    let out = c.on_outcome(Outcome::Lost("leader changed".into()), &t);
    assert_eq!(out, vec![Output::Close("leader changed".into())]);
    assert!(c.closed());
    assert!(c.on_request(2, Request::Ping, &t).is_empty());

    let mut c = Connection::new(S, vec![], None, 2);
    let bad = Request::Auth(AuthPacket {
        auth_type: 0,
        scheme: "kerberos".into(),
        auth: Bytes::new(),
    });
    let out = c.on_request(-4, bad, &t);
    let (f, other) = frames(&out);
    assert_eq!((f[0].xid, f[0].err), (-4, ErrorCode::AuthFailed.code()));
    assert!(matches!(other[..], [Output::Close(_)]));

    let mut c = Connection::new(S, vec![], None, 2);
    let out = c.on_request(5, Request::CloseSession, &t);
    assert_eq!(out, vec![Output::Forward(Request::CloseSession)]);
    let closed = apply(&mut t, &header(S, 3), &Txn::CloseSession);
    c.on_outcome(Outcome::Committed(3), &t);
    let txn = AppliedTxn {
        zxid: 3,
        session_id: S,
        applied: &closed,
    };
    let out = c.on_applied(&[txn], &t, 3);
    let (f, other) = frames(&out);
    assert_eq!((f[0].xid, f[0].err), (5, 0));
    assert!(matches!(other[..], [Output::Close(_)]));
}

#[test]
fn digest_auth_adds_an_identity_that_acls_and_who_am_i_see() {
    let mut t = tree();
    let secret = Request::Create(CreateRequest {
        path: "/secret".into(),
        data: None,
        acl: vec![Acl {
            perms: perms::ALL,
            id: Id::new("digest", acl::digest_id("alice:pw")),
        }],
        flags: 0,
        ttl_ms: None,
    });
    commit(&mut t, OTHER, &secret, 3);
    let mut c = Connection::new(S, vec![Id::new("ip", "127.0.0.1")], None, 3);
    let (f, _) = frames(&c.on_request(1, get("/secret", false), &t));
    assert_eq!(f[0].err, ErrorCode::NoAuth.code());
    let auth = Request::Auth(AuthPacket {
        auth_type: 0,
        scheme: "digest".into(),
        auth: Bytes::from_static(b"alice:pw"),
    });
    assert_eq!(frames(&c.on_request(-4, auth, &t)).0[0].err, 0);
    assert_eq!(
        frames(&c.on_request(2, get("/secret", false), &t)).0[0].err,
        0
    );
    let (f, _) = frames(&c.on_request(3, Request::WhoAmI, &t));
    match Response::decode(OpCode::WhoAmI, f[0].body.clone()).unwrap() {
        Response::WhoAmI(who) => {
            let schemes: Vec<&str> = who.iter().map(|c| c.auth_scheme.as_str()).collect();
            assert_eq!(schemes, vec!["ip", "digest"]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn set_watches_fires_what_changed_since_the_clients_zxid_and_keeps_the_rest() {
    let mut t = tree();
    commit(&mut t, OTHER, &create("/same"), 3);
    commit(&mut t, OTHER, &create("/changed"), 4);
    let mut c = Connection::new(S, vec![], None, 4);
    let w = SetWatches {
        relative_zxid: 3,
        data: vec!["/same".into(), "/changed".into(), "/gone".into()],
        exist: vec!["/same".into(), "/absent".into()],
        child: vec!["/same".into()],
        persistent: vec![],
        persistent_recursive: vec!["/".into()],
    };
    let (f, _) = frames(&c.on_request(-8, Request::SetWatches2(w), &t));
    let events: Vec<(i32, String)> = f
        .iter()
        .filter(|f| f.xid == NOTIFICATION_XID)
        .map(|f| {
            let e = WatcherEvent::read(&mut Reader::new(f.body.clone())).unwrap();
            (e.event_type, e.path)
        })
        .collect();
    assert_eq!(
        events,
        vec![
            (EventType::NodeDataChanged as i32, "/changed".to_string()),
            (EventType::NodeDeleted as i32, "/gone".to_string()),
            (EventType::NodeCreated as i32, "/same".to_string()),
        ]
    );
    assert_eq!(f.last().map(|f| (f.xid, f.err)), Some((-8, 0)));
    // Kept: data on /same, exist on /absent, child on /same, recursive on /; not the ones
    // that fired.
    use crate::proto::records::WatcherType::{Children, Data, PersistentRecursive};
    assert!(c.watches.has("/same", Data, SELF));
    assert!(c.watches.has("/absent", Data, SELF));
    assert!(c.watches.has("/same", Children, SELF));
    assert!(c.watches.has("/", PersistentRecursive, SELF));
    assert!(!c.watches.has("/changed", Data, SELF));
    assert!(!c.watches.has("/gone", Data, SELF));
}
