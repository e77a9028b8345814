//! Transactions and snapshots through their bytes: every kind round-trips, damaged bytes are
//! errors, and a snapshot of a tree built by a random history restores to the same tree.

use proptest::prelude::*;

use super::*;
use crate::proto::request::{CreateRequest, SetAclRequest, SetDataRequest, VersionRequest};
use crate::proto::{Id, Request};
use crate::txn::{apply, prepare, Caller, Features};

fn every_txn() -> Vec<Txn> {
    let node = NewNode {
        data: Some(Bytes::from_static(b"data")),
        acl: Acl::open_unsafe().into(),
        ephemeral_owner: 0x77,
    };
    let create = Txn::Create {
        path: "/a/b".into(),
        node,
        parent_cversion: 3,
    };
    vec![
        create.clone(),
        Txn::Delete { path: "/a".into() },
        Txn::SetData {
            path: "/a".into(),
            data: None,
            version: -7,
        },
        Txn::SetAcl {
            path: "/a".into(),
            acl: Acl::creator_all().into(),
            aversion: 2,
        },
        Txn::Check { path: "/a".into() },
        Txn::Multi(vec![create, Txn::Check { path: "/".into() }]),
        Txn::Multi(vec![Txn::Error(0), Txn::Error(-101), Txn::Error(-2)]),
        Txn::Error(-110),
        Txn::CreateSession {
            timeout_ms: 30_000,
            passwd: Bytes::from_static(&[5; 16]),
        },
        Txn::CloseSession,
    ]
}

#[test]
fn every_transaction_round_trips_and_damage_is_an_error() {
    for txn in every_txn() {
        let record = TxnRecord {
            session_id: 0x1234,
            time_ms: 1_700_000_000_000,
            txn,
        };
        let bytes = record.encode();
        assert_eq!(TxnRecord::decode(bytes.clone()), Ok(record.clone()));
        for cut in 0..bytes.len() {
            assert!(
                TxnRecord::decode(bytes.slice(..cut)).is_err(),
                "{record:?} cut at {cut}"
            );
        }
    }
    let mut unknown = BytesMut::new();
    put_int(&mut unknown, 9);
    assert_eq!(
        TxnRecord::decode(unknown.freeze()),
        Err(RecordError::Version(9))
    );
    let mut unknown = BytesMut::new();
    put_int(&mut unknown, FORMAT_VERSION);
    put_long(&mut unknown, 1);
    put_long(&mut unknown, 2);
    put_int(&mut unknown, 99);
    assert_eq!(
        TxnRecord::decode(unknown.freeze()),
        Err(RecordError::TxnType(99))
    );
    // A multi inside a multi is not a transaction this format holds.
    let nested = TxnRecord {
        session_id: 1,
        time_ms: 0,
        txn: Txn::Multi(vec![Txn::Multi(vec![])]),
    };
    assert!(TxnRecord::decode(nested.encode()).is_err());
}

#[test]
fn a_snapshot_that_does_not_make_a_tree_is_refused() {
    let node = |p: &str| SnapshotRecord::Node {
        path: p.into(),
        data: None,
        acl: Acl::open_unsafe().into(),
        stat: Stat::default(),
    };
    assert!(restore(&[node("/"), node("/a/b")]).is_err(), "orphan");
    assert!(
        restore(&[node("/"), node("/a"), node("/a")]).is_err(),
        "twice"
    );
    assert!(restore(&[node("/a")]).is_err(), "no root first");
    assert!(restore(&[]).is_err(), "empty");
    let session = SnapshotRecord::Session {
        id: 5,
        session: Session {
            timeout_ms: 4_000,
            passwd: Bytes::from_static(&[1; 16]),
        },
    };
    assert!(
        restore(&[node("/"), session.clone(), session.clone()]).is_err(),
        "a session twice"
    );
    assert!(restore(&[node("/"), node("/a")]).is_ok());

    // Restored one record at a time, the root starts the tree over and a refused record
    // leaves the tree as it was.
    let mut tree = restore(&[node("/"), node("/a"), session.clone()]).unwrap();
    let before = tree.clone();
    assert!(restore_into(&mut tree, &node("/a")).is_err());
    assert!(restore_into(&mut tree, &session).is_err());
    assert_eq!(tree, before);
    restore_into(&mut tree, &node("/")).unwrap();
    assert_eq!(tree.node_count(), 1);
    assert_eq!(tree.sessions().count(), 0);
}

/// One random write of a small tree.
fn arb_write() -> impl Strategy<Value = Request> {
    let path = prop::sample::select(vec!["/a", "/b", "/a/c", "/a/d", "/b/e", "/a/c/f", "/a/"]);
    let acl = prop::sample::select(vec![
        Acl::open_unsafe(),
        Acl::read_unsafe(),
        Acl::creator_all(),
    ]);
    let data = proptest::option::of(proptest::collection::vec(any::<u8>(), 0..8));
    prop_oneof![
        (path.clone(), data.clone(), acl.clone(), 0..4i32).prop_map(|(p, d, acl, flags)| {
            Request::Create(CreateRequest {
                path: p.into(),
                data: d.map(Bytes::from),
                acl,
                flags,
                ttl_ms: None,
            })
        }),
        (path.clone(), -1..2i32).prop_map(|(p, version)| Request::Delete(VersionRequest {
            path: p.into(),
            version
        })),
        (path.clone(), data, -1..2i32).prop_map(|(p, d, version)| Request::SetData(
            SetDataRequest {
                path: p.into(),
                data: d.map(Bytes::from),
                version,
            }
        )),
        (path, acl).prop_map(|(p, acl)| Request::SetAcl(SetAclRequest {
            path: p.into(),
            acl,
            version: -1,
        })),
    ]
}

proptest! {
    #[test]
    fn a_snapshot_restores_the_tree_it_was_taken_of(
        writes in proptest::collection::vec((0..3i64, arb_write()), 0..60),
        close in 0..3i64,
    ) {
        let mut tree = DataTree::new();
        let ids = [Id::new("digest", "u:h")];
        let mut zxid = 0;
        let mut step = |tree: &mut DataTree, session: i64, txn: &Txn| {
            zxid += 1;
            let header = TxnHeader { session_id: session, zxid, time_ms: zxid * 10 };
            // Through the record's bytes, as a follower would apply it.
            let record = TxnRecord { session_id: session, time_ms: header.time_ms, txn: txn.clone() };
            let back = TxnRecord::decode(record.encode()).unwrap();
            apply(tree, &back.header(zxid), &back.txn);
        };
        for session in 1..3 {
            let open = Txn::CreateSession { timeout_ms: 10_000, passwd: Bytes::from(vec![session as u8; 16]) };
            step(&mut tree, session, &open);
        }
        for (session, request) in &writes {
            let caller = Caller { session_id: *session, ids: &ids };
            if let Ok(txn) = prepare(&tree, caller, request, Features::default()) {
                step(&mut tree, *session, &txn);
            }
        }
        step(&mut tree, close, &Txn::CloseSession);
        let records: Vec<SnapshotRecord> = snapshot(&tree)
            .iter()
            .map(|r| SnapshotRecord::decode(r.encode()).unwrap())
            .collect();
        let restored = restore(&records).unwrap();
        prop_assert_eq!(&restored, &tree);
        prop_assert_eq!(restored.ephemeral_count(), tree.ephemeral_count());
    }
}
