//! How the front's state travels in the metadata log: a transaction ([`TxnRecord`]: a
//! [`Txn`] with the session and time of its [`TxnHeader`]; the zxid is the record's offset and
//! is not stored) and, in snapshots, one record per znode and per session ([`SnapshotRecord`]).
//! Both are jute-encoded with a leading version, so a later format can be told apart.
//!
//! [`snapshot`] and [`restore`] are each other's inverse: restoring a tree's snapshot gives the
//! same tree, which the tests check against trees built by random histories.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use thiserror::Error;

use crate::path;
use crate::proto::jute::{
    put_buffer, put_int, put_long, put_string, put_vector, JuteError, Reader, Record,
};
use crate::proto::records::{Acl, Stat, ACL_BYTES_MIN};
use crate::tree::{DataTree, NewNode, Session, Znode};
use crate::txn::{Txn, TxnHeader};

/// The format version written.
pub const FORMAT_VERSION: i32 = 0;

/// A record that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RecordError {
    /// Damaged or truncated bytes.
    #[error("ZooKeeper record: {0}")]
    Jute(#[from] JuteError),
    /// A format this build does not know.
    #[error("ZooKeeper record: unknown format version {0}")]
    Version(i32),
    /// A transaction type this build does not know.
    #[error("ZooKeeper record: unknown transaction type {0}")]
    TxnType(i32),
    /// A snapshot that does not make a tree (a node before its parent, twice the same path).
    #[error("ZooKeeper snapshot: {0}")]
    Snapshot(String),
}

/// A transaction as logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnRecord {
    /// The session that asked for it.
    pub session_id: i64,
    /// The active controller's wall clock when it prepared it, in ms.
    pub time_ms: i64,
    /// The change.
    pub txn: Txn,
}

impl TxnRecord {
    /// The header to apply it with, at `zxid` (its record's offset).
    pub fn header(&self, zxid: i64) -> TxnHeader {
        TxnHeader {
            session_id: self.session_id,
            zxid,
            time_ms: self.time_ms,
        }
    }

    /// Encodes the record.
    pub fn encode(&self) -> Bytes {
        let mut out = BytesMut::new();
        put_int(&mut out, FORMAT_VERSION);
        put_long(&mut out, self.session_id);
        put_long(&mut out, self.time_ms);
        write_txn(&mut out, &self.txn);
        out.freeze()
    }

    /// Decodes a record.
    pub fn decode(bytes: Bytes) -> Result<TxnRecord, RecordError> {
        let r = &mut Reader::new(bytes);
        let version = r.int("version")?;
        if version != FORMAT_VERSION {
            return Err(RecordError::Version(version));
        }
        Ok(TxnRecord {
            session_id: r.long("sessionId")?,
            time_ms: r.long("time")?,
            txn: read_txn(r, 0)?,
        })
    }
}

// Transaction type numbers, stable on disk.
const CREATE: i32 = 1;
const DELETE: i32 = 2;
const SET_DATA: i32 = 3;
const SET_ACL: i32 = 4;
const CHECK: i32 = 5;
const MULTI: i32 = 6;
const ERROR: i32 = 7;
const CREATE_SESSION: i32 = 8;
const CLOSE_SESSION: i32 = 9;

/// A multi holds transactions, never another multi.
const MULTI_DEPTH_MAX: usize = 1;

fn put_acl(out: &mut BytesMut, acl: &[Acl]) {
    put_vector(out, acl, |out, a| a.write(out));
}

fn read_acl(r: &mut Reader) -> Result<Arc<[Acl]>, JuteError> {
    Ok(r.vector("acl", ACL_BYTES_MIN, Acl::read)?.into())
}

fn write_txn(out: &mut BytesMut, txn: &Txn) {
    match txn {
        Txn::Create {
            path,
            node,
            parent_cversion,
        } => {
            put_int(out, CREATE);
            put_string(out, path);
            put_buffer(out, node.data.as_deref());
            put_acl(out, &node.acl);
            put_long(out, node.ephemeral_owner);
            put_int(out, *parent_cversion);
        }
        Txn::Delete { path } => {
            put_int(out, DELETE);
            put_string(out, path);
        }
        Txn::SetData {
            path,
            data,
            version,
        } => {
            put_int(out, SET_DATA);
            put_string(out, path);
            put_buffer(out, data.as_deref());
            put_int(out, *version);
        }
        Txn::SetAcl {
            path,
            acl,
            aversion,
        } => {
            put_int(out, SET_ACL);
            put_string(out, path);
            put_acl(out, acl);
            put_int(out, *aversion);
        }
        Txn::Check { path } => {
            put_int(out, CHECK);
            put_string(out, path);
        }
        Txn::Multi(txns) => {
            put_int(out, MULTI);
            put_vector(out, txns, write_txn);
        }
        Txn::Error(code) => {
            put_int(out, ERROR);
            put_int(out, *code);
        }
        Txn::CreateSession { timeout_ms, passwd } => {
            put_int(out, CREATE_SESSION);
            put_int(out, *timeout_ms);
            put_buffer(out, Some(passwd));
        }
        Txn::CloseSession => put_int(out, CLOSE_SESSION),
    }
}

fn read_txn(r: &mut Reader, depth: usize) -> Result<Txn, RecordError> {
    let kind = r.int("txn type")?;
    Ok(match kind {
        CREATE => Txn::Create {
            path: r.string("path")?,
            node: NewNode {
                data: r.buffer("data")?,
                acl: read_acl(r)?,
                ephemeral_owner: r.long("ephemeralOwner")?,
            },
            parent_cversion: r.int("parentCVersion")?,
        },
        DELETE => Txn::Delete {
            path: r.string("path")?,
        },
        SET_DATA => Txn::SetData {
            path: r.string("path")?,
            data: r.buffer("data")?,
            version: r.int("version")?,
        },
        SET_ACL => Txn::SetAcl {
            path: r.string("path")?,
            acl: read_acl(r)?,
            aversion: r.int("aversion")?,
        },
        CHECK => Txn::Check {
            path: r.string("path")?,
        },
        MULTI if depth < MULTI_DEPTH_MAX => {
            let mut failure = None;
            let txns = r.vector("multi", 4, |r| {
                read_txn(r, depth + 1).map_err(|e| {
                    failure = Some(e);
                    JuteError::Invalid {
                        what: "multi",
                        reason: "bad transaction".into(),
                    }
                })
            });
            match (txns, failure) {
                (_, Some(e)) => return Err(e),
                (t, None) => Txn::Multi(t?),
            }
        }
        ERROR => Txn::Error(r.int("err")?),
        CREATE_SESSION => Txn::CreateSession {
            timeout_ms: r.int("timeOut")?,
            passwd: r.buffer("passwd")?.unwrap_or_default(),
        },
        CLOSE_SESSION => Txn::CloseSession,
        other => return Err(RecordError::TxnType(other)),
    })
}

/// One record of a snapshot of the front's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotRecord {
    /// A znode, with its stored `Stat` (parents come before their children).
    Node {
        /// Its path.
        path: String,
        /// Its data.
        data: Option<Bytes>,
        /// Its ACL.
        acl: Arc<[Acl]>,
        /// Its stored `Stat` (cversion counts creations; `num_children` is recomputed).
        stat: Stat,
    },
    /// An open session.
    Session {
        /// Its id.
        id: i64,
        /// Its timeout and password.
        session: Session,
    },
    /// The zxid the snapshot is at.
    LastZxid(i64),
}

const SNAP_NODE: i32 = 1;
const SNAP_SESSION: i32 = 2;
const SNAP_LAST_ZXID: i32 = 3;

impl SnapshotRecord {
    /// Encodes the record.
    pub fn encode(&self) -> Bytes {
        let mut out = BytesMut::new();
        put_int(&mut out, FORMAT_VERSION);
        match self {
            SnapshotRecord::Node {
                path,
                data,
                acl,
                stat,
            } => {
                put_int(&mut out, SNAP_NODE);
                put_string(&mut out, path);
                put_buffer(&mut out, data.as_deref());
                put_acl(&mut out, acl);
                stat.write(&mut out);
            }
            SnapshotRecord::Session { id, session } => {
                put_int(&mut out, SNAP_SESSION);
                put_long(&mut out, *id);
                put_int(&mut out, session.timeout_ms);
                put_buffer(&mut out, Some(&session.passwd));
            }
            SnapshotRecord::LastZxid(z) => {
                put_int(&mut out, SNAP_LAST_ZXID);
                put_long(&mut out, *z);
            }
        }
        out.freeze()
    }

    /// Decodes a record.
    pub fn decode(bytes: Bytes) -> Result<SnapshotRecord, RecordError> {
        let r = &mut Reader::new(bytes);
        let version = r.int("version")?;
        if version != FORMAT_VERSION {
            return Err(RecordError::Version(version));
        }
        Ok(match r.int("snapshot record type")? {
            SNAP_NODE => SnapshotRecord::Node {
                path: r.string("path")?,
                data: r.buffer("data")?,
                acl: read_acl(r)?,
                stat: Stat::read(r)?,
            },
            SNAP_SESSION => SnapshotRecord::Session {
                id: r.long("sessionId")?,
                session: Session {
                    timeout_ms: r.int("timeOut")?,
                    passwd: r.buffer("passwd")?.unwrap_or_default(),
                },
            },
            SNAP_LAST_ZXID => SnapshotRecord::LastZxid(r.long("lastZxid")?),
            other => return Err(RecordError::TxnType(other)),
        })
    }
}

/// The records of a snapshot of `tree`: every node in path order (a parent before its
/// children), every session, and the last zxid.
pub fn snapshot(tree: &DataTree) -> Vec<SnapshotRecord> {
    let mut out = Vec::with_capacity(tree.node_count() + 1);
    let mut stack = vec!["/".to_string()];
    while let Some(p) = stack.pop() {
        let Some(n) = tree.get(&p) else { continue };
        // Children pushed in reverse so they come out in name order.
        for c in n.children.iter().rev() {
            stack.push(path::join(&p, c));
        }
        out.push(SnapshotRecord::Node {
            path: p,
            data: n.data.clone(),
            acl: n.acl.clone(),
            stat: n.stat,
        });
    }
    for (id, session) in tree.sessions() {
        out.push(SnapshotRecord::Session { id, session });
    }
    out.push(SnapshotRecord::LastZxid(tree.last_zxid()));
    out
}

/// The tree a snapshot's records describe. The root must come first; a node whose parent has
/// not come yet, or a path or session given twice, is an error: nothing is guessed.
pub fn restore(records: &[SnapshotRecord]) -> Result<DataTree, RecordError> {
    match records.first() {
        Some(SnapshotRecord::Node { path, .. }) if path == "/" => {}
        _ => return Err(RecordError::Snapshot("the root is not first".into())),
    }
    let mut tree = DataTree::new();
    for r in records {
        restore_into(&mut tree, r)?;
    }
    Ok(tree)
}

/// Applies one snapshot record to `tree` (see [`DataTree::restore_node`]: the root record
/// starts the tree over, so a snapshot's records restored in order give its tree whatever
/// `tree` held). On error `tree` is unchanged.
pub fn restore_into(tree: &mut DataTree, record: &SnapshotRecord) -> Result<(), RecordError> {
    match record {
        SnapshotRecord::Node {
            path,
            data,
            acl,
            stat,
        } => {
            let node = Znode {
                data: data.clone(),
                acl: acl.clone(),
                stat: *stat,
                children: Default::default(),
            };
            tree.restore_node(path, node)
        }
        SnapshotRecord::Session { id, session } => tree.restore_session(*id, session.clone()),
        SnapshotRecord::LastZxid(z) => {
            tree.restore_last_zxid(*z);
            Ok(())
        }
    }
    .map_err(RecordError::Snapshot)
}

#[cfg(test)]
mod tests;
