//! The codecs against the sizes ZooKeeper fixes, round trips of every request and response, and
//! damaged input: truncation at every byte, lengths that lie, ops where they are not allowed.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use super::frame::{four_letter_word, put_frame, put_request, split_frame, FrameError};
use super::jute::{put_int, put_string, JuteError, Reader, Record};
use super::records::{perms, STAT_BYTES};
use super::request::{
    AddWatchRequest, AuthPacket, CreateRequest, PathRequest, ReconfigRequest, SetAclRequest,
    SetDataRequest, SetWatches, VersionRequest, WatchRequest, WatchesRequest,
};
use super::*;

fn encoded<R: Record>(r: &R) -> Bytes {
    r.to_bytes()
}

fn body(request: &Request) -> Bytes {
    let mut out = BytesMut::new();
    request.write(&mut out);
    out.freeze()
}

#[test]
fn the_handshake_and_stat_have_zookeepers_sizes() {
    // reference §1.2: 44 bytes without readOnly, 45 with; the response 36 / 37; Stat 68.
    let mut req = ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0,
        timeout_ms: 30_000,
        session_id: 0,
        passwd: Bytes::from_static(&[0; 16]),
        read_only: None,
    };
    assert_eq!(encoded(&req).len(), 44);
    req.read_only = Some(false);
    assert_eq!(encoded(&req).len(), 45);
    let mut resp = ConnectResponse::expired(None);
    assert_eq!(encoded(&resp).len(), 36);
    resp.read_only = Some(false);
    assert_eq!(encoded(&resp).len(), 37);
    assert_eq!(encoded(&Stat::default()).len(), STAT_BYTES);
    // An old client's request reads back without the byte, and the answer leaves it out.
    for ro in [None, Some(true)] {
        req.read_only = ro;
        let back = ConnectRequest::read(&mut Reader::new(encoded(&req))).unwrap();
        assert_eq!(back, req);
        assert_eq!(ConnectResponse::expired(ro).read_only, ro.map(|_| false));
    }
}

#[test]
fn codes_and_opcodes_round_trip_through_their_numbers() {
    for c in ErrorCode::ALL {
        assert_eq!(ErrorCode::from_code(c.code()), Some(c));
    }
    assert_eq!(ErrorCode::NoNode.code(), -101);
    assert_eq!(ErrorCode::RuntimeInconsistency.code(), -2);
    assert_eq!(ErrorCode::from_code(-9), None);
    for o in OpCode::ALL {
        assert_eq!(OpCode::from_code(o.code()), Some(o));
    }
    assert_eq!(OpCode::Create2.code(), 15);
    assert_eq!(OpCode::CloseSession.code(), -11);
    assert_eq!(OpCode::from_code(23), None);
}

/// One of every request, with values that are not defaults.
fn every_request() -> Vec<Request> {
    let acl = vec![
        Acl {
            perms: perms::ALL,
            id: Id::new("world", "anyone"),
        },
        Acl {
            perms: perms::READ | perms::ADMIN,
            id: Id::new("digest", "bob:abc="),
        },
    ];
    let create = |flags, ttl_ms| CreateRequest {
        path: "/a/b-".into(),
        data: Some(Bytes::from_static(b"payload")),
        acl: acl.clone(),
        flags,
        ttl_ms,
    };
    let watch = |w| WatchRequest {
        path: "/a".into(),
        watch: w,
    };
    let path = || PathRequest { path: "/a".into() };
    let version = |v| VersionRequest {
        path: "/a".into(),
        version: v,
    };
    let set_watches = SetWatches {
        relative_zxid: 0x1_0000_0007,
        data: vec!["/d".into()],
        exist: vec!["/e1".into(), "/e2".into()],
        child: vec![],
        persistent: vec!["/p".into()],
        persistent_recursive: vec!["/r".into()],
    };
    vec![
        Request::Create(create(3, None)),
        Request::Create2(CreateRequest {
            data: None,
            ..create(0, None)
        }),
        Request::CreateContainer(create(4, None)),
        Request::CreateTtl(create(5, Some(60_000))),
        Request::Delete(version(-1)),
        Request::Exists(watch(true)),
        Request::GetData(watch(false)),
        Request::SetData(SetDataRequest {
            path: "/a".into(),
            data: Some(Bytes::new()),
            version: 4,
        }),
        Request::GetAcl(path()),
        Request::SetAcl(SetAclRequest {
            path: "/a".into(),
            acl: acl.clone(),
            version: 2,
        }),
        Request::GetChildren(watch(true)),
        Request::Sync(path()),
        Request::Ping,
        Request::GetChildren2(watch(false)),
        Request::Check(version(7)),
        Request::Multi(vec![
            Request::Create(create(0, None)),
            Request::Check(version(1)),
            Request::SetData(SetDataRequest {
                path: "/x".into(),
                data: None,
                version: -1,
            }),
            Request::Delete(version(3)),
        ]),
        Request::Multi(vec![]),
        Request::Reconfig(ReconfigRequest {
            joining_servers: Some("server.4=h:1:2".into()),
            leaving_servers: None,
            new_members: None,
            cur_config_id: -1,
        }),
        Request::CheckWatches(WatchesRequest {
            path: "/a".into(),
            watcher_type: 1,
        }),
        Request::RemoveWatches(WatchesRequest {
            path: "/a".into(),
            watcher_type: 3,
        }),
        Request::MultiRead(vec![
            Request::GetChildren(watch(false)),
            Request::GetData(watch(false)),
        ]),
        Request::Auth(AuthPacket {
            auth_type: 0,
            scheme: "digest".into(),
            auth: Bytes::from_static(b"user:pass"),
        }),
        Request::SetWatches(SetWatches {
            persistent: vec![],
            persistent_recursive: vec![],
            ..set_watches.clone()
        }),
        Request::SetWatches2(set_watches),
        Request::Sasl(Some(Bytes::from_static(b"token"))),
        Request::GetEphemerals(path()),
        Request::GetAllChildrenNumber(path()),
        Request::AddWatch(AddWatchRequest {
            path: "/a".into(),
            mode: 1,
        }),
        Request::WhoAmI,
        Request::CloseSession,
    ]
}

#[test]
fn every_request_round_trips_and_every_truncation_is_an_error() {
    let all = every_request();
    let mut ops: Vec<OpCode> = all.iter().map(Request::op).collect();
    ops.sort_by_key(|o| o.code());
    ops.dedup();
    assert_eq!(ops.len(), 29, "one request of every client opcode");
    for request in all {
        let op = request.op().code();
        let bytes = body(&request);
        assert_eq!(Request::decode(op, bytes.clone()), Ok(request.clone()));
        for cut in 0..bytes.len() {
            let got = Request::decode(op, bytes.slice(..cut));
            assert!(
                matches!(got, Err(RequestError::Malformed(_))),
                "{request:?} cut at {cut}: {got:?}"
            );
        }
    }
}

#[test]
fn internal_and_unknown_opcodes_are_refused() {
    for op in [0, 10, 20, -10, -1, 23, 99, 108, i32::MIN] {
        assert_eq!(
            Request::decode(op, Bytes::new()),
            Err(RequestError::UnknownOp(op)),
            "{op}"
        );
    }
}

#[test]
fn a_multi_holds_only_writes_and_a_multi_read_only_reads() {
    let get = Request::GetData(WatchRequest {
        path: "/a".into(),
        watch: false,
    });
    let delete = Request::Delete(VersionRequest {
        path: "/a".into(),
        version: -1,
    });
    let mixed = body(&Request::Multi(vec![delete.clone(), get.clone()]));
    assert!(matches!(
        Request::decode(OpCode::Multi.code(), mixed),
        Err(RequestError::Malformed(JuteError::Invalid { .. }))
    ));
    let mixed = body(&Request::MultiRead(vec![get, delete]));
    assert!(matches!(
        Request::decode(OpCode::MultiRead.code(), mixed),
        Err(RequestError::Malformed(JuteError::Invalid { .. }))
    ));
    // A nested multi is no more allowed than any other op outside the list.
    let nested = body(&Request::Multi(vec![Request::Multi(vec![])]));
    assert!(Request::decode(OpCode::Multi.code(), nested).is_err());
}

#[test]
fn lengths_and_counts_beyond_the_frame_are_refused_before_allocating() {
    // A children vector claiming 2^31-1 entries in a 4-byte frame.
    let mut out = BytesMut::new();
    put_int(&mut out, i32::MAX);
    let got = Response::decode(OpCode::GetChildren, out.freeze());
    assert!(matches!(got, Err(JuteError::Truncated { .. })), "{got:?}");
    // A path claiming more bytes than follow; a length below -1.
    for len in [100, -2, i32::MIN] {
        let mut out = BytesMut::new();
        put_int(&mut out, len);
        out.extend_from_slice(b"/a");
        let got = Request::decode(OpCode::Sync.code(), out.freeze());
        assert!(
            matches!(got, Err(RequestError::Malformed(_))),
            "{len}: {got:?}"
        );
    }
    // A null path.
    let mut out = BytesMut::new();
    put_int(&mut out, -1);
    assert!(matches!(
        Request::decode(OpCode::Sync.code(), out.freeze()),
        Err(RequestError::Malformed(JuteError::Null { .. }))
    ));
    // A path that is not UTF-8.
    let mut out = BytesMut::new();
    put_int(&mut out, 2);
    out.extend_from_slice(&[b'/', 0xff]);
    assert!(matches!(
        Request::decode(OpCode::Sync.code(), out.freeze()),
        Err(RequestError::Malformed(JuteError::NotUtf8 { .. }))
    ));
}

#[test]
fn bytes_after_a_whole_record_are_ignored_as_zookeeper_ignores_them() {
    let mut out = BytesMut::new();
    put_string(&mut out, "/a");
    out.extend_from_slice(b"trailing");
    assert_eq!(
        Request::decode(OpCode::Sync.code(), out.freeze()),
        Ok(Request::Sync(PathRequest { path: "/a".into() }))
    );
}

fn stat(n: i64) -> Stat {
    Stat {
        czxid: n,
        mzxid: n + 1,
        ctime: 1_700_000_000_000 + n,
        mtime: 1_700_000_000_001 + n,
        version: 3,
        cversion: -2,
        aversion: 1,
        ephemeral_owner: 0x1234_5678_9abc,
        data_length: 7,
        num_children: 2,
        pzxid: n + 2,
    }
}

#[test]
fn every_response_round_trips() {
    let cases = vec![
        (OpCode::Delete, Response::Empty),
        (
            OpCode::Create,
            Response::Create {
                path: "/a-0000000001".into(),
            },
        ),
        (
            OpCode::Create2,
            Response::Create2 {
                path: "/a".into(),
                stat: stat(1),
            },
        ),
        (OpCode::Exists, Response::Stat(stat(2))),
        (
            OpCode::GetData,
            Response::GetData {
                data: None,
                stat: stat(3),
            },
        ),
        (
            OpCode::GetAcl,
            Response::GetAcl {
                acl: Acl::open_unsafe(),
                stat: stat(4),
            },
        ),
        (
            OpCode::GetChildren,
            Response::Strings(vec!["a".into(), "b".into()]),
        ),
        (OpCode::GetEphemerals, Response::Strings(vec![])),
        (
            OpCode::GetChildren2,
            Response::Children2 {
                children: vec!["x".into()],
                stat: stat(5),
            },
        ),
        (OpCode::Sync, Response::Sync { path: "/".into() }),
        (
            OpCode::GetAllChildrenNumber,
            Response::AllChildrenNumber(12),
        ),
        (OpCode::AddWatch, Response::AddWatch),
        (
            OpCode::WhoAmI,
            Response::WhoAmI(vec![records::ClientInfo {
                auth_scheme: "ip".into(),
                user: "127.0.0.1".into(),
            }]),
        ),
        (OpCode::Sasl, Response::Sasl(None)),
        (
            OpCode::Multi,
            Response::Multi(vec![
                OpResult::Create { path: "/n".into() },
                OpResult::Create2 {
                    path: "/m".into(),
                    stat: stat(6),
                },
                OpResult::Delete,
                OpResult::SetData { stat: stat(7) },
                OpResult::Check,
            ]),
        ),
        (
            OpCode::Multi,
            Response::Multi(vec![
                OpResult::Error(0),
                OpResult::Error(ErrorCode::BadVersion.code()),
                OpResult::Error(ErrorCode::RuntimeInconsistency.code()),
            ]),
        ),
        (
            OpCode::MultiRead,
            Response::Multi(vec![
                OpResult::GetChildren {
                    children: vec!["c".into()],
                },
                OpResult::GetData {
                    data: Some(Bytes::from_static(b"v")),
                    stat: stat(8),
                },
                OpResult::Error(ErrorCode::NoNode.code()),
            ]),
        ),
    ];
    for (op, response) in cases {
        let mut out = BytesMut::new();
        response.write(&mut out);
        assert_eq!(Response::decode(op, out.freeze()), Ok(response), "{op:?}");
    }
}

#[test]
fn frames_are_split_whole_and_bounded() {
    let mut out = BytesMut::new();
    put_request(
        &mut out,
        7,
        &Request::Sync(PathRequest { path: "/a".into() }),
    );
    put_frame(&mut out, |o| o.extend_from_slice(b"second"));
    let whole = out.clone();
    // Byte by byte: nothing until a frame is complete, then exactly it.
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    for b in whole.iter() {
        buf.extend_from_slice(&[*b]);
        while let Some(f) = split_frame(&mut buf, 100).unwrap() {
            frames.push(f);
        }
    }
    assert_eq!(frames.len(), 2);
    let mut r = Reader::new(frames[0].clone());
    assert_eq!(
        RequestHeader::read(&mut r).unwrap(),
        RequestHeader {
            xid: 7,
            op: OpCode::Sync.code()
        }
    );
    assert_eq!(
        Request::decode(OpCode::Sync.code(), r.rest()).unwrap(),
        Request::Sync(PathRequest { path: "/a".into() })
    );
    assert_eq!(&frames[1][..], b"second");
    // At the limit is fine; one past it and negative lengths are refused.
    let mut at_limit = BytesMut::from(&[0, 0, 0, 6][..]);
    at_limit.extend_from_slice(b"second");
    assert!(split_frame(&mut at_limit, 6).unwrap().is_some());
    let mut over = BytesMut::from(&[0, 0, 0, 7][..]);
    assert_eq!(
        split_frame(&mut over, 6),
        Err(FrameError::TooLong { len: 7, max: 6 })
    );
    let mut negative = BytesMut::from(&[0xff, 0xff, 0xff, 0xfe][..]);
    assert_eq!(split_frame(&mut negative, 6), Err(FrameError::Negative(-2)));
}

#[test]
fn four_letter_words_are_known_by_their_first_bytes() {
    assert_eq!(four_letter_word(b"ruok"), Some("ruok"));
    assert_eq!(four_letter_word(b"stmk\0\0\0\0\0\0\0\0"), Some("stmk"));
    assert_eq!(four_letter_word(b"RUOK"), None);
    assert_eq!(four_letter_word(b"ruo"), None);
    // A ConnectRequest's length prefix (45) is not a word.
    assert_eq!(four_letter_word(&[0, 0, 0, 45]), None);
    // `ruok` read as a length is 0x72756f6b, far above jute.maxbuffer: a server that took it
    // for a length would refuse it as too long, not wait for 1.9 GB.
    assert_eq!(u32::from_be_bytes(*b"ruok"), 0x7275_6f6b);
}

fn arb_string() -> impl Strategy<Value = String> {
    "[/a-z0-9\\-]{0,12}"
}

fn arb_data() -> impl Strategy<Value = Option<Bytes>> {
    proptest::option::of(proptest::collection::vec(any::<u8>(), 0..16).prop_map(Bytes::from))
}

fn arb_acl() -> impl Strategy<Value = Vec<Acl>> {
    proptest::collection::vec(
        (any::<i32>(), arb_string(), arb_string()).prop_map(|(perms, scheme, id)| Acl {
            perms,
            id: Id { scheme, id },
        }),
        0..3,
    )
}

fn arb_create() -> impl Strategy<Value = CreateRequest> {
    (arb_string(), arb_data(), arb_acl(), any::<i32>()).prop_map(|(path, data, acl, flags)| {
        CreateRequest {
            path,
            data,
            acl,
            flags,
            ttl_ms: None,
        }
    })
}

fn arb_request() -> impl Strategy<Value = Request> {
    let leaf = prop_oneof![
        arb_create().prop_map(Request::Create),
        arb_create().prop_map(Request::Create2),
        (arb_create(), any::<i64>()).prop_map(|(c, ttl)| Request::CreateTtl(CreateRequest {
            ttl_ms: Some(ttl),
            ..c
        })),
        (arb_string(), any::<i32>())
            .prop_map(|(path, version)| Request::Delete(VersionRequest { path, version })),
        (arb_string(), any::<bool>())
            .prop_map(|(path, watch)| Request::GetData(WatchRequest { path, watch })),
        (arb_string(), arb_data(), any::<i32>()).prop_map(|(path, data, version)| {
            Request::SetData(SetDataRequest {
                path,
                data,
                version,
            })
        }),
        (arb_string(), arb_acl(), any::<i32>())
            .prop_map(|(path, acl, version)| Request::SetAcl(SetAclRequest { path, acl, version })),
        (
            any::<i64>(),
            proptest::collection::vec(arb_string(), 0..3),
            proptest::collection::vec(arb_string(), 0..3)
        )
            .prop_map(|(relative_zxid, data, persistent)| Request::SetWatches2(
                SetWatches {
                    relative_zxid,
                    data,
                    persistent,
                    ..SetWatches::default()
                }
            )),
    ];
    prop_oneof![
        4 => leaf.clone(),
        1 => proptest::collection::vec(leaf, 0..4).prop_map(|ops| {
            Request::Multi(ops.into_iter().filter(|o| !matches!(o, Request::GetData(_) | Request::SetAcl(_) | Request::SetWatches2(_))).collect())
        }),
    ]
}

proptest! {
    #[test]
    fn requests_round_trip(request in arb_request()) {
        let op = request.op().code();
        prop_assert_eq!(Request::decode(op, body(&request)), Ok(request));
    }

    #[test]
    fn no_bytes_make_a_decoder_panic(op in -12i32..110, bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let bytes = Bytes::from(bytes);
        let _ = Request::decode(op, bytes.clone());
        if let Some(op) = OpCode::from_code(op) {
            let _ = Response::decode(op, bytes.clone());
        }
        let _ = ConnectRequest::read(&mut Reader::new(bytes));
    }
}
