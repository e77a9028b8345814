//! Writes in two steps, as ZooKeeper's leader makes them: [`prepare`] checks a write request
//! against the tree (the active controller's latest tree, uncommitted writes included) and turns
//! it into a [`Txn`] or an error code; [`apply`] applies a committed transaction on every node,
//! deterministically and without failing, and says what it did ([`Applied`]), from which the
//! node holding the client's connection builds the answer ([`response`]).
//!
//! The checks and their order follow ZooKeeper 3.8's `PrepRequestProcessor`; where the order
//! decides which error a client sees, `tests/tests/zookeeper_semantics.rs` compares it with a real
//! ZooKeeper.

use std::sync::Arc;

use bytes::Bytes;

use crate::acl;
use crate::path;
use crate::proto::records::{
    owned_by_session, perms, ttl_ephemeral_owner, Acl, CreateMode, Id, Stat,
    CONTAINER_EPHEMERAL_OWNER, TTL_MS_MAX,
};
use crate::proto::request::{CreateRequest, VersionRequest};
use crate::proto::{ErrorCode, OpCode, OpResult, Request, Response};
use crate::tree::{DataTree, NewNode, Session};

/// Where and when a transaction is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnHeader {
    /// The session that asked for it.
    pub session_id: i64,
    /// Its zxid: the log offset of its record.
    pub zxid: i64,
    /// The active controller's wall clock when it prepared it, in ms (ctime, mtime).
    pub time_ms: i64,
}

/// A change to the tree, decided by the active controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Txn {
    /// Create a node.
    Create {
        /// Its final path (sequence number included).
        path: String,
        /// What it holds.
        node: NewNode,
        /// The parent's new cversion.
        parent_cversion: i32,
    },
    /// Delete a childless node.
    Delete {
        /// The node.
        path: String,
    },
    /// Replace a node's data.
    SetData {
        /// The node.
        path: String,
        /// The new data.
        data: Option<Bytes>,
        /// The node's new version.
        version: i32,
    },
    /// Replace a node's ACL.
    SetAcl {
        /// The node.
        path: String,
        /// The new ACL, fixed up.
        acl: Arc<[Acl]>,
        /// The node's new aversion.
        aversion: i32,
    },
    /// A version check that passed (changes nothing).
    Check {
        /// The node.
        path: String,
    },
    /// Several transactions applied together with one zxid, or a failed multi: then every
    /// entry is an [`Txn::Error`] and nothing changes.
    Multi(Vec<Txn>),
    /// One op of a failed multi: 0 before the failure, the failure's code, RUNTIMEINCONSISTENCY
    /// after it.
    Error(i32),
    /// Open the header's session.
    CreateSession {
        /// The negotiated timeout.
        timeout_ms: i32,
        /// The session's password.
        passwd: Bytes,
    },
    /// Close the header's session and delete its ephemerals.
    CloseSession,
}

/// What applying a transaction did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// A node was created.
    Created {
        /// Its path.
        path: String,
        /// Its `Stat`.
        stat: Stat,
        /// Its ACL (who may hear of it through a recursive watch).
        acl: Arc<[Acl]>,
    },
    /// A node was deleted.
    Deleted {
        /// Its path.
        path: String,
        /// The ACL it had.
        acl: Arc<[Acl]>,
    },
    /// A node's data was replaced.
    DataSet {
        /// Its path.
        path: String,
        /// Its new `Stat`.
        stat: Stat,
        /// Its ACL.
        acl: Arc<[Acl]>,
    },
    /// A node's ACL was replaced.
    AclSet {
        /// Its `Stat`.
        stat: Stat,
    },
    /// A check passed.
    Checked {
        /// The node's `Stat`.
        stat: Stat,
    },
    /// A multi's parts.
    Multi(Vec<Applied>),
    /// One op of a failed multi.
    Error(i32),
    /// A session opened.
    SessionOpened,
    /// A session closed.
    SessionClosed {
        /// Its ephemerals, deleted, with the ACL each had.
        deleted: Vec<(String, Arc<[Acl]>)>,
    },
}

/// Who asks for a write.
#[derive(Debug, Clone, Copy)]
pub struct Caller<'a> {
    /// The session.
    pub session_id: i64,
    /// The identities its connection holds.
    pub ids: &'a [Id],
}

/// Switches that change what a write may do.
#[derive(Debug, Clone, Copy, Default)]
pub struct Features {
    /// TTL nodes (ZooKeeper's `zookeeper.extendedTypesEnabled`); off, a TTL create is
    /// UNIMPLEMENTED.
    pub extended_types: bool,
}

/// Checks a write against `tree` and makes its transaction. A multi always makes one: if an op
/// fails, a [`Txn::Multi`] of errors (ZooKeeper logs failed multis too).
pub fn prepare(
    tree: &DataTree,
    caller: Caller<'_>,
    request: &Request,
    features: Features,
) -> Result<Txn, ErrorCode> {
    match request {
        Request::Multi(ops) => Ok(prepare_multi(tree, caller, ops, features)),
        _ => prepare_op(tree, caller, request, features),
    }
}

fn prepare_multi(tree: &DataTree, caller: Caller<'_>, ops: &[Request], features: Features) -> Txn {
    // Each op sees the ones before it: prepare and apply them on a scratch copy (O(1) to make).
    let mut scratch = tree.clone();
    let header = TxnHeader {
        session_id: caller.session_id,
        zxid: tree.last_zxid(),
        time_ms: 0,
    };
    let mut txns = Vec::with_capacity(ops.len());
    for (i, op) in ops.iter().enumerate() {
        match prepare_op(&scratch, caller, op, features) {
            Ok(txn) => {
                apply(&mut scratch, &header, &txn);
                txns.push(txn);
            }
            Err(code) => {
                let mut errors = vec![Txn::Error(0); i];
                errors.push(Txn::Error(code.code()));
                errors.resize(
                    ops.len(),
                    Txn::Error(ErrorCode::RuntimeInconsistency.code()),
                );
                return Txn::Multi(errors);
            }
        }
    }
    Txn::Multi(txns)
}

fn valid(p: &str, sequential: bool) -> Result<(), ErrorCode> {
    path::validate(p, sequential).map_err(|_| ErrorCode::BadArguments)
}

/// The next version after `current`, if `expected` (-1: any) matches it. Wraps past
/// `i32::MAX` as ZooKeeper 3.8 does (3.9 skips -1, ZOOKEEPER-4743).
fn next_version(current: i32, expected: i32) -> Result<i32, ErrorCode> {
    if expected != -1 && expected != current {
        return Err(ErrorCode::BadVersion);
    }
    Ok(current.wrapping_add(1))
}

/// The parent of a path to create or delete, as ZooKeeper finds it before any other check:
/// everything before the last `/` (empty for a child of the root, which is the root). No `/`
/// or a NUL is BADARGUMENTS.
fn parent_of(p: &str) -> Result<&str, ErrorCode> {
    match p.rfind('/') {
        Some(_) if p.contains('\0') => Err(ErrorCode::BadArguments),
        Some(0) => Ok("/"),
        Some(i) => Ok(&p[..i]),
        None => Err(ErrorCode::BadArguments),
    }
}

/// The nodes ZooKeeper refuses to delete.
fn is_special(p: &str) -> bool {
    matches!(
        p,
        "/" | "/zookeeper" | "/zookeeper/quota" | "/zookeeper/config"
    )
}

fn prepare_op(
    tree: &DataTree,
    caller: Caller<'_>,
    request: &Request,
    features: Features,
) -> Result<Txn, ErrorCode> {
    match request {
        Request::Create(c) => prepare_create(tree, caller, OpCode::Create, c, features),
        Request::Create2(c) => prepare_create(tree, caller, OpCode::Create2, c, features),
        Request::CreateContainer(c) => {
            prepare_create(tree, caller, OpCode::CreateContainer, c, features)
        }
        Request::CreateTtl(c) => prepare_create(tree, caller, OpCode::CreateTtl, c, features),
        Request::Delete(VersionRequest { path: p, version }) => {
            // ZooKeeper checks the parent (and the permission on it) before the node itself,
            // and does not validate the rest of the path: a bad path is just not found.
            let parent_path = parent_of(p)?;
            if is_special(p) {
                return Err(ErrorCode::BadArguments);
            }
            let parent = tree.get(parent_path).ok_or(ErrorCode::NoNode)?;
            if !acl::allowed(&parent.acl, perms::DELETE, caller.ids) {
                return Err(ErrorCode::NoAuth);
            }
            let node = tree.get(p).ok_or(ErrorCode::NoNode)?;
            next_version(node.stat.version, *version)?;
            if !node.children.is_empty() {
                return Err(ErrorCode::NotEmpty);
            }
            Ok(Txn::Delete { path: p.clone() })
        }
        Request::SetData(s) => {
            valid(&s.path, false)?;
            let node = tree.get(&s.path).ok_or(ErrorCode::NoNode)?;
            if !acl::allowed(&node.acl, perms::WRITE, caller.ids) {
                return Err(ErrorCode::NoAuth);
            }
            Ok(Txn::SetData {
                path: s.path.clone(),
                data: s.data.clone(),
                version: next_version(node.stat.version, s.version)?,
            })
        }
        Request::SetAcl(s) => {
            valid(&s.path, false)?;
            let fixed = acl::fix_up(&s.acl, caller.ids)?;
            let node = tree.get(&s.path).ok_or(ErrorCode::NoNode)?;
            if !acl::allowed(&node.acl, perms::ADMIN, caller.ids) {
                return Err(ErrorCode::NoAuth);
            }
            Ok(Txn::SetAcl {
                path: s.path.clone(),
                acl: fixed.into(),
                aversion: next_version(node.stat.aversion, s.version)?,
            })
        }
        Request::Check(VersionRequest { path: p, version }) => {
            valid(p, false)?;
            let node = tree.get(p).ok_or(ErrorCode::NoNode)?;
            if !acl::allowed(&node.acl, perms::READ, caller.ids) {
                return Err(ErrorCode::NoAuth);
            }
            next_version(node.stat.version, *version)?;
            Ok(Txn::Check { path: p.clone() })
        }
        // Not a write: a caller's mistake, answered as ZooKeeper answers an op it cannot do.
        _ => Err(ErrorCode::Unimplemented),
    }
}

fn prepare_create(
    tree: &DataTree,
    caller: Caller<'_>,
    op: OpCode,
    c: &CreateRequest,
    features: Features,
) -> Result<Txn, ErrorCode> {
    let mode = CreateMode::from_flags(c.flags).ok_or(ErrorCode::BadArguments)?;
    // ZooKeeper's order (PrepRequestProcessor.pRequest2TxnCreate): TTL support, the TTL, the
    // session; a parent found by the last '/'; the ACL; the parent and CREATE on it; only then
    // the whole path, the name taken, an ephemeral parent.
    if mode.is_ttl() && !features.extended_types {
        return Err(ErrorCode::Unimplemented);
    }
    // createTTL carries a TTL, the other creates -1. A TTL mode needs one in (0, max]; any
    // other mode refuses one that is set (>= 0).
    let ttl = if op == OpCode::CreateTtl {
        c.ttl_ms.unwrap_or(0)
    } else {
        -1
    };
    if mode.is_ttl() {
        if ttl <= 0 || ttl > TTL_MS_MAX {
            return Err(ErrorCode::BadArguments);
        }
    } else if ttl >= 0 {
        return Err(ErrorCode::BadArguments);
    }
    if mode.is_ephemeral() && tree.session(caller.session_id).is_none() {
        return Err(ErrorCode::SessionExpired);
    }
    let parent_path = parent_of(&c.path)?;
    let fixed = acl::fix_up(&c.acl, caller.ids)?;
    let parent = tree.get(parent_path).ok_or(ErrorCode::NoNode)?;
    if !acl::allowed(&parent.acl, perms::CREATE, caller.ids) {
        return Err(ErrorCode::NoAuth);
    }
    let cversion = parent.stat.cversion;
    let final_path = if mode.is_sequential() {
        format!("{}{cversion:010}", c.path)
    } else {
        c.path.clone()
    };
    valid(&final_path, false)?;
    if tree.get(&final_path).is_some() {
        return Err(ErrorCode::NodeExists);
    }
    // Containers and TTL nodes may have children; ephemerals may not.
    if owned_by_session(parent.stat.ephemeral_owner) {
        return Err(ErrorCode::NoChildrenForEphemerals);
    }
    // createContainer always makes a container and createTTL a TTL node, whatever the flags
    // said (their transactions carry no mode); the plain creates follow the flags.
    let ephemeral_owner = match (op, mode) {
        (OpCode::CreateContainer, _) | (_, CreateMode::Container) => CONTAINER_EPHEMERAL_OWNER,
        (OpCode::CreateTtl, _) => ttl_ephemeral_owner(ttl),
        (_, CreateMode::Ephemeral | CreateMode::EphemeralSequential) => caller.session_id,
        _ => 0,
    };
    Ok(Txn::Create {
        path: final_path,
        node: NewNode {
            data: c.data.clone(),
            acl: fixed.into(),
            ephemeral_owner,
        },
        parent_cversion: cversion.wrapping_add(1),
    })
}

/// Applies a committed transaction. It was prepared against the state it is applied to, so it
/// cannot fail; a transaction that no longer fits (a bug) changes nothing and is reported as
/// SYSTEMERROR rather than corrupting the tree.
pub fn apply(tree: &mut DataTree, header: &TxnHeader, txn: &Txn) -> Applied {
    let system_error = Applied::Error(ErrorCode::SystemError.code());
    match txn {
        Txn::Create {
            path,
            node,
            parent_cversion,
        } => {
            // What prepare checked, checked again: a create that no longer fits would break
            // the tree's invariants (an ephemeral with children could not be deleted with its
            // session; one owned by a closed session would never be).
            let fits = tree.get(path).is_none()
                && tree
                    .get(path::parent(path))
                    .is_some_and(|p| !owned_by_session(p.stat.ephemeral_owner))
                && (!owned_by_session(node.ephemeral_owner)
                    || tree.session(node.ephemeral_owner).is_some());
            if !fits {
                return system_error;
            }
            let stat = tree.create_node(
                path,
                node.clone(),
                *parent_cversion,
                header.zxid,
                header.time_ms,
            );
            Applied::Created {
                path: path.clone(),
                stat,
                acl: node.acl.clone(),
            }
        }
        Txn::Delete { path } => {
            if tree.get(path).is_none_or(|n| !n.children.is_empty()) {
                return system_error;
            }
            match tree.delete_node(path, header.zxid) {
                Some(acl) => Applied::Deleted {
                    path: path.clone(),
                    acl,
                },
                None => system_error,
            }
        }
        Txn::SetData {
            path,
            data,
            version,
        } => match tree.set_data(path, data.clone(), *version, header.zxid, header.time_ms) {
            Some(stat) => Applied::DataSet {
                path: path.clone(),
                stat,
                acl: tree
                    .get(path)
                    .map(|n| n.acl.clone())
                    .unwrap_or_else(|| Arc::from([])),
            },
            None => system_error,
        },
        Txn::SetAcl {
            path,
            acl,
            aversion,
        } => match tree.set_acl(path, acl.clone(), *aversion, header.zxid) {
            Some(stat) => Applied::AclSet { stat },
            None => system_error,
        },
        Txn::Check { path } => match tree.get(path) {
            Some(n) => Applied::Checked { stat: n.stat() },
            None => system_error,
        },
        Txn::Multi(txns) => {
            tree.note_zxid(header.zxid);
            Applied::Multi(txns.iter().map(|t| apply(tree, header, t)).collect())
        }
        Txn::Error(code) => {
            tree.note_zxid(header.zxid);
            Applied::Error(*code)
        }
        Txn::CreateSession { timeout_ms, passwd } => {
            let session = Session {
                timeout_ms: *timeout_ms,
                passwd: passwd.clone(),
            };
            tree.open_session(header.session_id, session, header.zxid);
            Applied::SessionOpened
        }
        Txn::CloseSession => Applied::SessionClosed {
            deleted: tree.close_session(header.session_id, header.zxid),
        },
    }
}

/// The answer to `request` once its transaction was applied: the reply header's error code
/// and, when it is 0, the body.
pub fn response(request: &Request, applied: &Applied) -> (ErrorCode, Option<Response>) {
    let ok = |r| (ErrorCode::Ok, Some(r));
    match (request, applied) {
        (Request::Create(_), Applied::Created { path, .. }) => {
            ok(Response::Create { path: path.clone() })
        }
        (
            Request::Create2(_) | Request::CreateContainer(_) | Request::CreateTtl(_),
            Applied::Created { path, stat, .. },
        ) => ok(Response::Create2 {
            path: path.clone(),
            stat: *stat,
        }),
        (Request::Delete(_), Applied::Deleted { .. }) | (Request::CloseSession, _) => {
            ok(Response::Empty)
        }
        (Request::SetData(_), Applied::DataSet { stat, .. })
        | (Request::SetAcl(_), Applied::AclSet { stat })
        | (Request::Check(_), Applied::Checked { stat }) => ok(Response::Stat(*stat)),
        (Request::Multi(_), Applied::Multi(parts)) => ok(Response::Multi(
            parts
                .iter()
                .map(|p| match p {
                    // ZooKeeper 3.8 answers every kind of create inside a multi with the path
                    // alone (tests/tests/zookeeper_wire.rs).
                    Applied::Created { path, .. } => OpResult::Create { path: path.clone() },
                    Applied::Deleted { .. } => OpResult::Delete,
                    Applied::DataSet { stat, .. } => OpResult::SetData { stat: *stat },
                    Applied::Checked { .. } => OpResult::Check,
                    Applied::Error(code) => OpResult::Error(*code),
                    _ => OpResult::Error(ErrorCode::SystemError.code()),
                })
                .collect(),
        )),
        (_, Applied::Error(code)) => (
            ErrorCode::from_code(*code).unwrap_or(ErrorCode::SystemError),
            None,
        ),
        _ => (ErrorCode::SystemError, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::request::{SetDataRequest, VersionRequest};

    const SESSION: i64 = 0x100;

    fn create(path: &str, flags: i32) -> Request {
        Request::Create(CreateRequest {
            path: path.into(),
            data: Some(Bytes::from_static(b"d")),
            acl: Acl::open_unsafe(),
            flags,
            ttl_ms: None,
        })
    }

    /// Prepares and applies `request` as the next transaction.
    fn write(tree: &mut DataTree, request: &Request) -> (ErrorCode, Option<Response>) {
        let caller = Caller {
            session_id: SESSION,
            ids: &[],
        };
        match prepare(tree, caller, request, Features::default()) {
            Err(code) => (code, None),
            Ok(txn) => {
                let header = TxnHeader {
                    session_id: SESSION,
                    zxid: tree.last_zxid() + 1,
                    time_ms: 7,
                };
                let applied = apply(tree, &header, &txn);
                response(request, &applied)
            }
        }
    }

    fn open_session(tree: &mut DataTree) {
        let header = TxnHeader {
            session_id: SESSION,
            zxid: tree.last_zxid() + 1,
            time_ms: 0,
        };
        let open = Txn::CreateSession {
            timeout_ms: 10_000,
            passwd: Bytes::from_static(&[7; 16]),
        };
        apply(tree, &header, &open);
    }

    #[test]
    fn a_failed_multi_changes_nothing_and_says_which_op_failed() {
        let mut tree = DataTree::new();
        write(&mut tree, &create("/a", 0));
        let before = tree.clone();
        let multi = Request::Multi(vec![
            create("/a/b", 0),
            Request::SetData(SetDataRequest {
                path: "/a/b".into(),
                data: None,
                version: 0,
            }),
            Request::Delete(VersionRequest {
                path: "/a".into(),
                version: -1,
            }),
            create("/c", 0),
        ]);
        let (code, body) = write(&mut tree, &multi);
        assert_eq!(code, ErrorCode::Ok);
        assert_eq!(
            body,
            Some(Response::Multi(vec![
                OpResult::Error(0),
                OpResult::Error(0),
                OpResult::Error(ErrorCode::NotEmpty.code()),
                OpResult::Error(ErrorCode::RuntimeInconsistency.code()),
            ]))
        );
        // The failed multi took a zxid and nothing else.
        assert!(tree.last_zxid() > before.last_zxid());
        assert!(tree.get("/a/b").is_none() && tree.get("/c").is_none());
        assert_eq!(tree.get("/a"), before.get("/a"));
    }

    #[test]
    fn sequential_names_count_creations_and_cversion_counts_deletes_too() {
        let mut tree = DataTree::new();
        write(&mut tree, &create("/q", 0));
        let name = |r: Option<Response>| match r {
            Some(Response::Create { path }) => path,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            name(write(&mut tree, &create("/q/n-", 2)).1),
            "/q/n-0000000000"
        );
        let delete = Request::Delete(VersionRequest {
            path: "/q/n-0000000000".into(),
            version: 0,
        });
        assert_eq!(write(&mut tree, &delete).0, ErrorCode::Ok);
        assert_eq!(
            name(write(&mut tree, &create("/q/n-", 2)).1),
            "/q/n-0000000001"
        );
        // Two creations and one delete: a client reads cversion 3.
        assert_eq!(tree.get("/q").unwrap().stat().cversion, 3);
    }

    #[test]
    fn closing_a_session_deletes_its_ephemerals_and_nothing_else() {
        let mut tree = DataTree::new();
        assert_eq!(
            write(&mut tree, &create("/e", 1)).0,
            ErrorCode::SessionExpired
        );
        open_session(&mut tree);
        write(&mut tree, &create("/e", 1));
        write(&mut tree, &create("/p", 0));
        assert_eq!(
            write(&mut tree, &create("/e/child", 0)).0,
            ErrorCode::NoChildrenForEphemerals
        );
        assert_eq!(tree.ephemerals_of(SESSION), ["/e"]);
        let header = TxnHeader {
            session_id: SESSION,
            zxid: tree.last_zxid() + 1,
            time_ms: 0,
        };
        assert_eq!(
            apply(&mut tree, &header, &Txn::CloseSession),
            Applied::SessionClosed {
                deleted: vec![("/e".into(), Acl::open_unsafe().into())]
            }
        );
        assert!(tree.get("/e").is_none() && tree.get("/p").is_some());
        assert_eq!(tree.ephemeral_count(), 0);
        assert!(tree.session(SESSION).is_none());
    }

    /// The create of an empty node at `path` with `owner` as its ephemeralOwner.
    fn create_txn(path: &str, owner: i64) -> Txn {
        Txn::Create {
            path: path.into(),
            node: NewNode {
                data: None,
                acl: Acl::open_unsafe().into(),
                ephemeral_owner: owner,
            },
            parent_cversion: 1,
        }
    }

    // ZooKeeper's ContainerManager: an empty container that has had children, an empty TTL
    // node past its TTL since its last change; never a node with children, never a container
    // that never had any, never an ordinary node.
    #[test]
    fn reapable_nodes_are_the_ones_zookeeper_deletes() {
        use crate::proto::records::{ttl_ephemeral_owner, CONTAINER_EPHEMERAL_OWNER};
        let mut tree = DataTree::new();
        let mut zxid = 0;
        let mut create = |tree: &mut DataTree, path: &str, owner: i64, time_ms: i64| {
            zxid += 1;
            let header = TxnHeader {
                session_id: 0,
                zxid,
                time_ms,
            };
            assert!(matches!(
                apply(tree, &header, &create_txn(path, owner)),
                Applied::Created { .. }
            ));
        };
        create(&mut tree, "/used", CONTAINER_EPHEMERAL_OWNER, 0);
        create(&mut tree, "/used/child", 0, 0);
        create(&mut tree, "/never", CONTAINER_EPHEMERAL_OWNER, 0);
        create(&mut tree, "/ttl", ttl_ephemeral_owner(1_000), 100);
        create(&mut tree, "/plain", 0, 0);
        assert_eq!(tree.expiring_count(), 3);
        assert_eq!(
            tree.reapable(100, 10),
            Vec::<String>::new(),
            "/used has a child"
        );
        let header = TxnHeader {
            session_id: 0,
            zxid: 10,
            time_ms: 0,
        };
        let delete = Txn::Delete {
            path: "/used/child".into(),
        };
        apply(&mut tree, &header, &delete);
        assert_eq!(tree.reapable(1_100, 10), vec!["/used".to_string()]);
        assert_eq!(
            tree.reapable(1_101, 10),
            vec!["/ttl".to_string(), "/used".to_string()]
        );
        assert_eq!(tree.reapable(1_101, 1).len(), 1, "at most max");
        let delete = Txn::Delete {
            path: "/ttl".into(),
        };
        apply(&mut tree, &header, &delete);
        assert_eq!(tree.expiring_count(), 2);
        // A snapshot keeps the index.
        let restored = crate::record::restore(&crate::record::snapshot(&tree)).unwrap();
        assert_eq!(restored.reapable(1_101, 10), vec!["/used".to_string()]);
        assert_eq!(restored, tree);
    }

    #[test]
    fn a_transaction_that_no_longer_fits_changes_nothing() {
        let mut tree = DataTree::new();
        let before = tree.clone();
        let header = TxnHeader {
            session_id: SESSION,
            zxid: 1,
            time_ms: 0,
        };
        let orphan = Txn::Create {
            path: "/missing/child".into(),
            node: NewNode {
                data: None,
                acl: Acl::open_unsafe().into(),
                ephemeral_owner: 0,
            },
            parent_cversion: 1,
        };
        assert_eq!(
            apply(&mut tree, &header, &orphan),
            Applied::Error(ErrorCode::SystemError.code())
        );
        assert_eq!(tree.get("/missing/child"), None);
        assert_eq!(tree.node_count(), before.node_count());

        // An ephemeral of a session that is not open would never be deleted; a child of an
        // ephemeral could not be deleted with it (found by the controller's image property
        // tests, which apply random transactions).
        let create = create_txn;
        let system_error = Applied::Error(ErrorCode::SystemError.code());
        assert_eq!(
            apply(&mut tree, &header, &create("/e", SESSION)),
            system_error
        );
        assert_eq!(tree, before);
        open_session(&mut tree);
        assert!(matches!(
            apply(&mut tree, &header, &create("/e", SESSION)),
            Applied::Created { .. }
        ));
        let with_ephemeral = tree.clone();
        assert_eq!(apply(&mut tree, &header, &create("/e/c", 0)), system_error);
        assert_eq!(tree, with_ephemeral);
    }
}
