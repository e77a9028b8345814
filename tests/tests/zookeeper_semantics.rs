//! Differential test of the ZooKeeper front's semantics (`metaquorum_zk::{txn, read}` over a
//! `DataTree`) against a real ZooKeeper 3.8: the same seeded random operations (creates of every
//! mode, sequential names, deletes, data and ACL writes with right and wrong versions, ACLs that
//! refuse the caller, checks, multi with failures, reads and multiRead, bad paths and bad
//! arguments, watches of every kind) go to both; every error code, created path, child list, ACL,
//! `Stat` and watch event must agree.
//! Zxids are compared by the order of the writes that made them, times not at all.
//!
//! `ZK_DIFF_SEED=<n>` runs one seed; `ZK_DIFF_SEEDS=<n>` that many (default 3), each with
//! `ZK_DIFF_OPS` operations (default 1,500).

use std::collections::HashMap;

use bytes::{Bytes, BytesMut};
use metaquorum_tests::real_zookeeper::RealZooKeeper;
use metaquorum_tests::zk_wire::ZkWire;
use metaquorum_zk::acl::{self, digest_id};
use metaquorum_zk::proto::records::{perms, Stat};
use metaquorum_zk::proto::request::{
    AddWatchRequest, AuthPacket, CreateRequest, PathRequest, SetAclRequest, SetDataRequest,
    VersionRequest, WatchRequest, WatchesRequest,
};
use metaquorum_zk::proto::{Acl, ErrorCode, Id, OpResult, Request, RequestError, Response};
use metaquorum_zk::read::read;
use metaquorum_zk::tree::DataTree;
use metaquorum_zk::txn::{self, Caller, Features, Txn, TxnHeader};
use metaquorum_zk::watch::{self, Watches};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The ACLs a create or setACL picks from: open, the caller's own, read-only, someone else's,
/// mixed, and invalid ones.
fn acls() -> Vec<Vec<Acl>> {
    let bob = Id::new("digest", digest_id("bob:pw"));
    vec![
        Acl::open_unsafe(),
        Acl::open_unsafe(),
        Acl::creator_all(),
        Acl::read_unsafe(),
        vec![Acl {
            perms: perms::ALL,
            id: bob.clone(),
        }],
        vec![
            Acl {
                perms: perms::READ | perms::CREATE,
                id: Id::new("world", "anyone"),
            },
            Acl {
                perms: perms::ALL,
                id: bob,
            },
        ],
        vec![Acl {
            perms: perms::ALL,
            id: Id::new("ip", "127.0.0.0/8"),
        }],
        vec![Acl {
            perms: perms::ALL,
            id: Id::new("world", "someone"),
        }],
        vec![],
    ]
}

struct Gen {
    rng: StdRng,
    root: String,
    acls: Vec<Vec<Acl>>,
}

impl Gen {
    fn path(&mut self) -> String {
        let r = &self.root;
        let pool = [
            r.clone(),
            format!("{r}/a"),
            format!("{r}/b"),
            format!("{r}/a/c"),
            format!("{r}/a/d"),
            format!("{r}/b/e"),
            format!("{r}/a/c/f"),
            format!("{r}/s-0000000000"),
            format!("{r}/a/0000000001"),
        ];
        if self.rng.random_ratio(1, 40) {
            return ["", "x", "/", "/t//x", "/a/", "/a/.."]
                .choose(&mut self.rng)
                .unwrap()
                .to_string()
                .replace("/a", r);
        }
        pool.choose(&mut self.rng).unwrap().clone()
    }

    fn data(&mut self) -> Option<Bytes> {
        match self.rng.random_range(0..5) {
            0 => None,
            1 => Some(Bytes::new()),
            n => Some(Bytes::from(vec![b'a' + n as u8; n * 3])),
        }
    }

    fn version(&mut self) -> i32 {
        *[-1, -1, 0, 1, 2, 5].choose(&mut self.rng).unwrap()
    }

    fn create(&mut self) -> Request {
        let sequential_prefix = self.rng.random_ratio(1, 4);
        let mut path = self.path();
        if sequential_prefix {
            path = [format!("{}/s-", self.root), format!("{}/a/", self.root)]
                .choose(&mut self.rng)
                .unwrap()
                .clone();
        }
        let flags = *[0, 0, 1, 2, 3, 4, 5, 6, 7].choose(&mut self.rng).unwrap();
        let c = CreateRequest {
            path,
            data: self.data(),
            acl: self.acls.choose(&mut self.rng).unwrap().clone(),
            flags,
            ttl_ms: None,
        };
        match self.rng.random_range(0..8) {
            0..=3 => Request::Create(c),
            4 | 5 => Request::Create2(c),
            6 => Request::CreateContainer(c),
            // A negative TTL with a mode that is not a TTL mode passes ZooKeeper's checks and then
            // fails inside its apply step; nothing a client should rely on, so not generated.
            _ => Request::CreateTtl(CreateRequest {
                ttl_ms: Some(if c.flags == 5 || c.flags == 6 {
                    *[0, 1_000, 60_000, -5].choose(&mut self.rng).unwrap()
                } else {
                    *[0, 1_000].choose(&mut self.rng).unwrap()
                }),
                ..c
            }),
        }
    }

    /// A write for a multi: any write but setACL (not allowed in a multi), or a check. Creates
    /// keep their flags to the modes their op makes: ZooKeeper 3.8 turns some mismatches into
    /// a MARSHALLINGERROR of the whole multi while reading it (a create2 with TTL flags) and
    /// its rules for the rest are not worth copying; on their own, mismatched creates are
    /// compared.
    fn multi_op(&mut self) -> Request {
        match self.rng.random_range(0..8) {
            0 => Request::Check(VersionRequest {
                path: self.path(),
                version: self.version(),
            }),
            1 | 2 => {
                // Containers and TTL nodes inside a multi are left out: ZooKeeper 3.8 answers a
                // createContainer there with a Stat whose ephemeralOwner is 0, which its own
                // code does not explain; until that is understood, it is not compared.
                let mut op = self.create();
                if let Request::CreateContainer(c) | Request::CreateTtl(c) = op {
                    op = Request::Create(c);
                }
                if let Request::Create(c) | Request::Create2(c) = &mut op {
                    c.flags &= 3;
                }
                op
            }
            _ => loop {
                let op = self.write();
                if !matches!(
                    op,
                    Request::SetAcl(_)
                        | Request::Create(_)
                        | Request::Create2(_)
                        | Request::CreateContainer(_)
                        | Request::CreateTtl(_)
                ) {
                    break op;
                }
            },
        }
    }

    /// A write on its own. Not a check: ZooKeeper 3.8 never answers a check outside a multi
    /// (the client waits forever; found by this test), so there is nothing to compare.
    fn write(&mut self) -> Request {
        match self.rng.random_range(0..9) {
            0..=3 => self.create(),
            4 | 5 => Request::Delete(VersionRequest {
                path: self.path(),
                version: self.version(),
            }),
            6 | 7 => Request::SetData(SetDataRequest {
                path: self.path(),
                data: self.data(),
                version: self.version(),
            }),
            _ => Request::SetAcl(SetAclRequest {
                path: self.path(),
                acl: self.acls.choose(&mut self.rng).unwrap().clone(),
                version: self.version(),
            }),
        }
    }

    fn read(&mut self) -> Request {
        // No watches on "", the root's other name: where ZooKeeper files such a watch and
        // where it looks for it do not agree, and no client sends one.
        let mut path = self.path();
        while path.is_empty() {
            path = self.path();
        }
        let watch = WatchRequest {
            path,
            watch: self.rng.random(),
        };
        match self.rng.random_range(0..9) {
            0 => Request::Exists(watch),
            1 => Request::GetData(watch),
            2 => Request::GetChildren2(watch),
            3 => Request::GetChildren(watch),
            4 => Request::AddWatch(AddWatchRequest {
                path: watch.path,
                mode: *[0, 1, 0, 1, 2].choose(&mut self.rng).unwrap(),
            }),
            5 => {
                let w = WatchesRequest {
                    path: watch.path,
                    watcher_type: *[1, 2, 3, 4, 5].choose(&mut self.rng).unwrap(),
                };
                if self.rng.random() {
                    Request::RemoveWatches(w)
                } else {
                    Request::CheckWatches(w)
                }
            }
            6 => Request::GetAcl(PathRequest { path: watch.path }),
            7 => Request::GetAllChildrenNumber(PathRequest { path: watch.path }),
            _ => Request::GetEphemerals(PathRequest {
                path: self.root.clone(),
            }),
        }
    }

    fn op(&mut self) -> Request {
        match self.rng.random_range(0..20) {
            0..=9 => self.write(),
            10..=16 => self.read(),
            17 | 18 => {
                let n = self.rng.random_range(1..5);
                Request::Multi((0..n).map(|_| self.multi_op()).collect())
            }
            _ => {
                let n = self.rng.random_range(1..4);
                Request::MultiRead(
                    (0..n)
                        .map(|_| {
                            let w = WatchRequest {
                                path: self.path(),
                                watch: false,
                            };
                            if self.rng.random() {
                                Request::GetData(w)
                            } else {
                                Request::GetChildren(w)
                            }
                        })
                        .collect(),
                )
            }
        }
    }
}

/// Zxids replaced by the rank of the write that made them, times dropped.
#[derive(Default)]
struct Zxids(HashMap<i64, i64>);

impl Zxids {
    fn rank(&mut self, zxid: i64) -> i64 {
        let next = self.0.len() as i64 + 1;
        *self.0.entry(zxid).or_insert(next)
    }

    fn stat(&self, s: &Stat) -> Stat {
        let z = |x: i64| self.0.get(&x).copied().unwrap_or(-x);
        Stat {
            czxid: z(s.czxid),
            mzxid: z(s.mzxid),
            pzxid: z(s.pzxid),
            ctime: 0,
            mtime: 0,
            ..*s
        }
    }

    fn response(&self, r: &Response) -> Response {
        let mut r = r.clone();
        match &mut r {
            Response::Create2 { stat, .. }
            | Response::Stat(stat)
            | Response::GetData { stat, .. }
            | Response::GetAcl { stat, .. } => *stat = self.stat(stat),
            Response::Children2 { children, stat } => {
                children.sort();
                *stat = self.stat(stat);
            }
            Response::Strings(v) => v.sort(),
            Response::Multi(results) => {
                for result in results {
                    match result {
                        OpResult::SetData { stat } | OpResult::Create2 { stat, .. } => {
                            *stat = self.stat(stat)
                        }
                        OpResult::GetData { stat, .. } => *stat = self.stat(stat),
                        OpResult::GetChildren { children } => children.sort(),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
        r
    }
}

/// The model's side of the comparison, kept across seeds as the real server keeps its tree.
#[derive(Default)]
struct Model {
    tree: DataTree,
    zxid: i64,
    real_zxids: Zxids,
    model_zxids: Zxids,
    watches: Watches,
}

fn run_seed(zk: &RealZooKeeper, m: &mut Model, seed: u64, ops: u64) {
    let mut conn = ZkWire::connect(&zk.addr(), 30_000).unwrap();
    let session = conn.session.session_id;
    let auth = Request::Auth(AuthPacket {
        auth_type: 0,
        scheme: "digest".into(),
        auth: Bytes::from_static(b"alice:pw"),
    });
    assert_eq!(conn.call(&auth).unwrap().err, 0);
    let ids = vec![
        Id::new("ip", "127.0.0.1"),
        Id::new("digest", digest_id("alice:pw")),
    ];
    let features = Features {
        extended_types: true,
    };
    let Model {
        tree,
        zxid,
        real_zxids,
        model_zxids,
        watches,
    } = m;
    // Each seed's connection is its own watcher.
    let watcher = seed;
    let mut fired = Vec::new();
    let open = Txn::CreateSession {
        timeout_ms: 30_000,
        passwd: conn.session.passwd.clone(),
    };
    txn::apply(
        tree,
        &TxnHeader {
            session_id: session,
            zxid: *zxid,
            time_ms: 0,
        },
        &open,
    );
    let root = format!("/t{seed}");
    let mut gen = Gen {
        rng: StdRng::seed_from_u64(seed),
        root: root.clone(),
        acls: acls(),
    };
    // The seed's own root, open to all, on both sides.
    let first = Request::Create(CreateRequest {
        path: root.clone(),
        data: None,
        acl: Acl::open_unsafe(),
        flags: 0,
        ttl_ms: None,
    });
    let mut history: Vec<String> = Vec::new();
    for i in 0..=ops {
        let request = if i == 0 { first.clone() } else { gen.op() };
        let reply = conn
            .call(&request)
            .unwrap_or_else(|e| panic!("seed {seed}, op {i}: {request:?}: {e}"));
        let is_write = request.is_write();
        if is_write && reply.err == 0 {
            real_zxids.rank(reply.zxid);
        }
        let real = (
            reply.err,
            reply.body.as_ref().map(|b| real_zxids.response(b)),
        );
        // The model reads the request as the server will: off the wire. A multi holding an op
        // a multi may not hold does not decode, and ZooKeeper answers MARSHALLINGERROR.
        let mut wire = BytesMut::new();
        request.write(&mut wire);
        let decoded = Request::decode(request.op().code(), wire.freeze());
        let model = if let Err(RequestError::Malformed(_)) = decoded {
            (ErrorCode::MarshallingError.code(), None)
        } else if is_write {
            let caller = Caller {
                session_id: session,
                ids: &ids,
            };
            match txn::prepare(tree, caller, &request, features) {
                Ok(t) => {
                    *zxid += 1;
                    model_zxids.rank(*zxid);
                    let header = TxnHeader {
                        session_id: session,
                        zxid: *zxid,
                        time_ms: 0,
                    };
                    let applied = txn::apply(tree, &header, &t);
                    let can_read = |_: u64, acl: &[Acl]| acl::allowed(acl, perms::READ, &ids);
                    fired = watches.trigger(tree, &applied, &can_read);
                    let (code, body) = txn::response(&request, &applied);
                    (code.code(), body.map(|b| model_zxids.response(&b)))
                }
                Err(code) => (code.code(), None),
            }
        } else {
            let answer = match read(tree, session, &ids, &request) {
                Some(answer) => {
                    watch::after_read(watches, watcher, &request, &answer);
                    answer
                }
                None => watch::watch_request(watches, watcher, &request).expect("a read"),
            };
            match answer {
                Ok(body) => (0, Some(model_zxids.response(&body))),
                Err(code) => (code.code(), None),
            }
        };
        // The watch events this op fired, as the real server sent them before its reply.
        let real_events: Vec<(i32, String)> = conn
            .events
            .drain(..)
            .map(|(_, e)| (e.event_type, e.path))
            .collect();
        let model_events: Vec<(i32, String)> = fired
            .drain(..)
            .filter(|(w, _)| *w == watcher)
            .map(|(_, e)| (e.event_type, e.path))
            .collect();
        let real = (real, real_events);
        let model = (model, model_events);
        history.push(format!("{i}: {request:?} -> {real:?}"));
        if real != model {
            let log = std::env::temp_dir().join(format!("zk-diff-seed-{seed}.log"));
            let _ = std::fs::write(&log, history.join("\n"));
            let tail = history[history.len().saturating_sub(12)..].join("\n");
            panic!(
                "seed {seed}, op {i}: real ZooKeeper and the model disagree\n\
                 request: {request:?}\nreal:  {real:?} ({:?})\nmodel: {model:?}\n\
                 last ops:\n{tail}\nevery op: {}\nreplay with ZK_DIFF_SEED={seed}",
                ErrorCode::from_code(real.0 .0),
                log.display()
            );
        }
    }
    // Closing the session deletes its ephemerals on both sides.
    let closed = conn.call(&Request::CloseSession).unwrap();
    assert_eq!(closed.err, 0);
    real_zxids.rank(closed.zxid);
    *zxid += 1;
    model_zxids.rank(*zxid);
    let header = TxnHeader {
        session_id: session,
        zxid: *zxid,
        time_ms: 0,
    };
    let applied = txn::apply(tree, &header, &Txn::CloseSession);
    // The session's connection is gone with its watches; its ephemerals' deletes fire nobody
    // else's (no other connection is open).
    watches.remove_watcher(watcher);
    let fired = watches.trigger(tree, &applied, &|_, _| true);
    assert!(fired.is_empty(), "{fired:?}");
}

#[test]
fn the_model_answers_every_operation_as_real_zookeeper_does() {
    let zk = RealZooKeeper::start();
    let ops = env("ZK_DIFF_OPS", 1_500);
    let seeds: Vec<u64> = match std::env::var("ZK_DIFF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        Some(seed) => vec![seed],
        None => (1..=env("ZK_DIFF_SEEDS", 3)).collect(),
    };
    let mut model = Model::default();
    for seed in seeds {
        run_seed(&zk, &mut model, seed, ops);
    }
}
