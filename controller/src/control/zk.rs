//! The active controller's side of the ZooKeeper front: what a node holding ZooKeeper client
//! connections asks of it ([`ZkCall`]) and how it turns each ask into one
//! `METAQUORUM_ZK_TXN_RECORD` against its latest image, as ZooKeeper's leader turns requests
//! into transactions in its `PrepRequestProcessor`.
//!
//! It also owns session liveness ([`SessionLiveness`]): the active controller alone decides
//! that a session expired, from the touches the nodes holding connections send it, and expires
//! it with a `closeSession` transaction, which deletes the session's ephemerals in the same
//! record. Liveness is not replicated: a new active controller gives every session a fresh
//! timeout (ZooKeeper's new leader does the same), so a failover never expires a session whose
//! client was connected all along.

use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use metaquorum_zk::proto::{ErrorCode, Id, Request};
use metaquorum_zk::record::TxnRecord;
use metaquorum_zk::tree::DataTree;
use metaquorum_zk::txn::{prepare, Caller, Features, Txn};
use rand::rngs::StdRng;
use rand::RngCore;
use tokio::sync::oneshot;

use crate::metadata::record::{MetadataRecord, ZkTxnRecord};
use crate::raft::Millis;

/// Bytes of a session password (ZooKeeper's `SessionTrackerImpl` draws 16).
pub const SESSION_PASSWORD_BYTES: usize = 16;

/// What a node holding ZooKeeper connections asks the active controller.
#[derive(Debug)]
pub enum ZkOp {
    /// Open a session with this (already negotiated) timeout.
    OpenSession {
        /// The timeout, in ms.
        timeout_ms: i32,
    },
    /// A write of a session: create, delete, setData, setACL, check, multi, closeSession.
    Write {
        /// The session.
        session_id: i64,
        /// The identities its connection holds (for ACL checks).
        ids: Vec<Id>,
        /// The request.
        request: Request,
    },
    /// A sync: the offset the asking node must reach before it answers.
    Sync,
    /// These sessions were heard from (a request or a ping) on the asking node.
    Touch {
        /// The sessions.
        session_ids: Vec<i64>,
    },
}

/// How the active controller answered a [`ZkOp`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZkOutcome {
    /// The transaction committed at `zxid`: the node answers once its own image has applied
    /// it, from what applying it did (for `OpenSession`, the session id and password are in
    /// the image then).
    Committed {
        /// The record's offset.
        zxid: i64,
    },
    /// Answer `code` once the node's image has reached `after_zxid`: a write refused before any
    /// record was written (the state the refusal was decided on, so a client told NODEEXISTS
    /// can read the node), or a sync (code 0, the latest offset the controller proposed).
    Answer {
        /// The ZooKeeper error.
        code: ErrorCode,
        /// The offset the decision rests on.
        after_zxid: i64,
    },
    /// A touch was taken.
    Touched,
    /// This controller is not the active one; nothing was done. The node closes the client's
    /// connection, and the client reconnects (keeping its session) once a controller is
    /// active again.
    NotActive,
    /// Leadership was lost after the record was proposed: it may or may not commit. The node
    /// closes the connection (the client sees CONNECTIONLOSS, as with ZooKeeper).
    Unknown,
}

/// A ZooKeeper ask with where to send the answer.
pub struct ZkCall {
    /// The ask.
    pub op: ZkOp,
    /// Receives the answer.
    pub reply: oneshot::Sender<ZkOutcome>,
}

impl std::fmt::Debug for ZkCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ZkCall({:?})", self.op)
    }
}

/// ZooKeeper's default `znode.container.checkIntervalMs`.
pub const CONTAINER_CHECK_INTERVAL_MS_DEFAULT: u64 = 60_000;
/// ZooKeeper's default `znode.container.maxPerMinute`.
pub const CONTAINER_MAX_PER_MINUTE_DEFAULT: u64 = 10_000;

/// What the active controller does for the front beyond answering asks.
#[derive(Debug, Clone, Copy)]
pub struct ZkSettings {
    /// TTL nodes (ZooKeeper's `zookeeper.extendedTypesEnabled`).
    pub extended_types: bool,
    /// How often empty containers and expired TTL nodes are deleted
    /// (`znode.container.checkIntervalMs`); 0 never.
    pub container_check_interval_ms: u64,
    /// Deletions of such nodes per minute at most (`znode.container.maxPerMinute`).
    pub container_max_per_minute: u64,
}

impl Default for ZkSettings {
    fn default() -> Self {
        ZkSettings {
            extended_types: false,
            container_check_interval_ms: CONTAINER_CHECK_INTERVAL_MS_DEFAULT,
            container_max_per_minute: CONTAINER_MAX_PER_MINUTE_DEFAULT,
        }
    }
}

impl ZkSettings {
    /// Deletions per check at most: the per-minute budget spread over the checks of a minute.
    pub fn reap_per_check(&self) -> usize {
        let per_check = self
            .container_max_per_minute
            .saturating_mul(self.container_check_interval_ms)
            / 60_000;
        usize::try_from(per_check.max(1)).unwrap_or(usize::MAX)
    }
}

/// The records deleting the nodes ZooKeeper's `ContainerManager` would delete now: empty
/// containers that have had children, empty TTL nodes past their TTL (at most `max`). The
/// controller deletes them as its own session 0, as ZooKeeper's server does.
pub fn reap_records(tree: &DataTree, wall_ms: i64, max: usize) -> Vec<MetadataRecord> {
    tree.reapable(wall_ms, max)
        .into_iter()
        .map(|path| {
            MetadataRecord::ZkTxn(ZkTxnRecord(TxnRecord {
                session_id: 0,
                time_ms: wall_ms,
                txn: Txn::Delete { path },
            }))
        })
        .collect()
}

/// When each session expires unless heard from, on the active controller. Invariant: only
/// sessions open in the latest image are expired; entries of closed sessions are pruned.
#[derive(Debug, Default)]
pub struct SessionLiveness {
    deadlines: HashMap<i64, Millis>,
    /// Sessions whose closeSession is proposed but not yet in the committed image.
    closing: HashSet<i64>,
    /// The last session id handed out.
    last_id: i64,
}

impl SessionLiveness {
    /// A new active controller's view: every open session gets a full timeout from `now`.
    pub fn activate(tree: &DataTree, now: Millis) -> SessionLiveness {
        let deadlines = tree
            .sessions()
            .map(|(id, s)| (id, now + timeout(s.timeout_ms)))
            .collect();
        SessionLiveness {
            deadlines,
            closing: HashSet::new(),
            last_id: tree.max_session_id().unwrap_or(0),
        }
    }

    /// Sessions were heard from at `now`; unknown or closed ones are ignored.
    pub fn touch(&mut self, tree: &DataTree, session_ids: &[i64], now: Millis) {
        for id in session_ids {
            if let Some(s) = tree.session(*id) {
                self.deadlines.insert(*id, now + timeout(s.timeout_ms));
            }
        }
    }

    /// A new session id: above every id handed out, and above the wall clock in ms shifted
    /// left by 16 bits, so an id is not reused after a restart either (ZooKeeper mixes the
    /// time into its ids the same way). Never 0, never negative, and never one of the
    /// container or TTL markers, whose top byte is 0x80 or 0xFF.
    pub fn next_session_id(&mut self, tree: &DataTree, wall_ms: i64) -> i64 {
        let floor = wall_ms.clamp(0, (1 << 46) - 1) << 16;
        let highest = tree.max_session_id().unwrap_or(0);
        self.last_id = self.last_id.max(highest).max(floor) + 1;
        self.last_id
    }

    /// Sessions of `tree` whose deadline passed at `now` and whose close is not yet proposed;
    /// they are marked closing. Forgets sessions `tree` no longer has.
    pub fn expire(&mut self, tree: &DataTree, now: Millis) -> Vec<i64> {
        self.deadlines.retain(|id, _| tree.session(*id).is_some());
        self.closing.retain(|id| tree.session(*id).is_some());
        let mut due: Vec<i64> = self
            .deadlines
            .iter()
            .filter(|(id, d)| **d <= now && !self.closing.contains(id))
            .map(|(id, _)| *id)
            .collect();
        due.sort_unstable();
        self.closing.extend(due.iter().copied());
        due
    }

    /// A session opened (its record proposed) at `now`.
    pub fn opened(&mut self, session_id: i64, timeout_ms: i32, now: Millis) {
        self.deadlines.insert(session_id, now + timeout(timeout_ms));
    }

    /// A session's close was proposed by its client.
    pub fn closing(&mut self, session_id: i64) {
        self.closing.insert(session_id);
    }

    /// The earliest deadline of a session not yet closing.
    pub fn next_deadline(&self) -> Option<Millis> {
        self.deadlines
            .iter()
            .filter(|(id, _)| !self.closing.contains(id))
            .map(|(_, d)| *d)
            .min()
    }
}

fn timeout(timeout_ms: i32) -> Millis {
    Millis::from(timeout_ms.max(0) as u32)
}

/// The record of a closeSession the active controller decided (an expiry).
pub fn expiry_record(session_id: i64, wall_ms: i64) -> MetadataRecord {
    MetadataRecord::ZkTxn(ZkTxnRecord(TxnRecord {
        session_id,
        time_ms: wall_ms,
        txn: Txn::CloseSession,
    }))
}

/// The record a new session's opening writes: id and password drawn here.
pub fn open_session_record(
    liveness: &mut SessionLiveness,
    tree: &DataTree,
    timeout_ms: i32,
    rng: &mut StdRng,
    wall_ms: i64,
    now: Millis,
) -> MetadataRecord {
    let session_id = liveness.next_session_id(tree, wall_ms);
    let mut passwd = [0u8; SESSION_PASSWORD_BYTES];
    rng.fill_bytes(&mut passwd);
    liveness.opened(session_id, timeout_ms, now);
    MetadataRecord::ZkTxn(ZkTxnRecord(TxnRecord {
        session_id,
        time_ms: wall_ms,
        txn: Txn::CreateSession {
            timeout_ms,
            passwd: Bytes::copy_from_slice(&passwd),
        },
    }))
}

/// The record of a session's write, prepared against `tree` (the latest image's), or the error
/// to answer. A write of a session the tree does not have is SESSIONEXPIRED, as ZooKeeper's
/// session tracker answers it; a write also counts as hearing from the session.
#[allow(clippy::too_many_arguments)]
pub fn write_record(
    liveness: &mut SessionLiveness,
    tree: &DataTree,
    session_id: i64,
    ids: &[Id],
    request: &Request,
    settings: ZkSettings,
    wall_ms: i64,
    now: Millis,
) -> Result<MetadataRecord, ErrorCode> {
    if tree.session(session_id).is_none() {
        return Err(ErrorCode::SessionExpired);
    }
    if !request.is_write() {
        return Err(ErrorCode::BadArguments);
    }
    liveness.touch(tree, &[session_id], now);
    let caller = Caller { session_id, ids };
    let features = Features {
        extended_types: settings.extended_types,
    };
    let txn = match request {
        Request::CloseSession => {
            liveness.closing(session_id);
            Txn::CloseSession
        }
        _ => prepare(tree, caller, request, features)?,
    };
    Ok(MetadataRecord::ZkTxn(ZkTxnRecord(TxnRecord {
        session_id,
        time_ms: wall_ms,
        txn,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use metaquorum_zk::proto::request::{CreateRequest, VersionRequest};
    use metaquorum_zk::proto::Acl;
    use metaquorum_zk::txn::{apply, TxnHeader};
    use rand::SeedableRng;

    fn open(tree: &mut DataTree, l: &mut SessionLiveness, now: Millis, zxid: i64) -> i64 {
        let mut rng = StdRng::seed_from_u64(1);
        let MetadataRecord::ZkTxn(r) =
            open_session_record(l, tree, 4_000, &mut rng, 1_700_000_000_000, now)
        else {
            unreachable!()
        };
        apply(tree, &r.0.header(zxid), &r.0.txn);
        r.0.session_id
    }

    #[test]
    fn sessions_expire_once_unless_touched_and_a_new_leader_starts_them_afresh() {
        let mut tree = DataTree::new();
        let mut l = SessionLiveness::default();
        let a = open(&mut tree, &mut l, 0, 1);
        let b = open(&mut tree, &mut l, 0, 2);
        assert!(a > 0 && b > a, "{a} {b}");
        assert!(
            (a as u64 >> 56) < 0x80,
            "not a container or TTL marker: {a:x}"
        );
        assert_eq!(l.next_deadline(), Some(4_000));
        l.touch(&tree, &[b], 3_000);
        assert_eq!(l.expire(&tree, 3_999), Vec::<i64>::new());
        assert_eq!(l.expire(&tree, 4_000), vec![a]);
        // Proposed once: not again while its close is on the way.
        assert_eq!(l.expire(&tree, 5_000), Vec::<i64>::new());
        assert_eq!(l.next_deadline(), Some(7_000));
        // A new active controller: everyone gets a full timeout from now.
        let fresh = SessionLiveness::activate(&tree, 10_000);
        assert_eq!(fresh.next_deadline(), Some(14_000));
        // Once closed in the tree, a session is forgotten.
        let header = TxnHeader {
            session_id: a,
            zxid: 3,
            time_ms: 0,
        };
        apply(&mut tree, &header, &Txn::CloseSession);
        assert_eq!(l.expire(&tree, 20_000), vec![b]);
        assert!(!l.deadlines.contains_key(&a));
    }

    #[test]
    fn session_ids_grow_past_restarts_and_existing_ids() {
        let mut tree = DataTree::new();
        let mut l = SessionLiveness::default();
        let a = open(&mut tree, &mut l, 0, 1);
        // A restarted controller (empty liveness) with its clock behind: still above `a`.
        let mut restarted = SessionLiveness::activate(&tree, 0);
        assert!(restarted.next_session_id(&tree, 0) > a);
        let mut later = SessionLiveness::default();
        assert!(later.next_session_id(&DataTree::new(), 1_800_000_000_000) > a);
    }

    #[test]
    fn writes_are_prepared_against_the_latest_tree() {
        let mut tree = DataTree::new();
        let mut l = SessionLiveness::default();
        let s = open(&mut tree, &mut l, 0, 1);
        let create = Request::Create(CreateRequest {
            path: "/a".into(),
            data: None,
            acl: Acl::open_unsafe(),
            flags: 0,
            ttl_ms: None,
        });
        let settings = ZkSettings::default();
        let write = |l: &mut SessionLiveness, tree: &DataTree, session, request: &Request| {
            write_record(l, tree, session, &[], request, settings, 5, 100)
        };
        let MetadataRecord::ZkTxn(r) = write(&mut l, &tree, s, &create).unwrap() else {
            unreachable!()
        };
        assert_eq!(r.0.session_id, s);
        assert_eq!(r.0.time_ms, 5);
        apply(&mut tree, &r.0.header(2), &r.0.txn);
        assert_eq!(
            write(&mut l, &tree, s, &create).unwrap_err(),
            ErrorCode::NodeExists
        );
        assert_eq!(
            write(&mut l, &tree, s + 1, &create).unwrap_err(),
            ErrorCode::SessionExpired,
            "an unknown session"
        );
        let delete = Request::Delete(VersionRequest {
            path: "/a".into(),
            version: 3,
        });
        assert_eq!(
            write(&mut l, &tree, s, &delete).unwrap_err(),
            ErrorCode::BadVersion
        );
        // The client's own closeSession is not expired a second time.
        write(&mut l, &tree, s, &Request::CloseSession).unwrap();
        assert_eq!(l.expire(&tree, 1_000_000), Vec::<i64>::new());
    }
}
