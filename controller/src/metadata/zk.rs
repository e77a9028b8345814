//! The ZooKeeper front's state in the metadata log and the image. Two record types of our own,
//! in a range of apiKeys Kafka does not use (Kafka's metadata records stop below 100):
//!
//! - [`ZkTxnRecord`] (apiKey [`ZK_TXN_RECORD_API_KEY`]): one ZooKeeper transaction, prepared by
//!   the active controller. Its zxid is the record's log offset, so every node, controller or
//!   broker, gives a change the same zxid, and one zxid space covers every endpoint.
//! - [`ZkSnapshotRecord`] (apiKey [`ZK_SNAPSHOT_RECORD_API_KEY`]): one znode, session or the last
//!   zxid, written only into snapshots, after Kafka's records.
//!
//! Both bodies are the `metaquorum-zk` jute formats (`zk::record`), which carry their own
//! format version. Replaying a transaction applies it to the image's tree ([`DataTree`]) and
//! records what it did ([`ZkApplied`]) for the node's watches and waiting clients.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use bytes::Bytes;
use serde_json::json;

use metaquorum_zk::proto::records::{Acl, Stat};
use metaquorum_zk::record::{SnapshotRecord, TxnRecord};
use metaquorum_zk::tree::DataTree;
use metaquorum_zk::txn::{Applied, Txn};

use super::codec::{Reader, RecordError, Writer};
use super::json::{ObjectBuilder, OrderedJson};
use super::records::RecordBody;

/// apiKey of [`ZkTxnRecord`].
pub const ZK_TXN_RECORD_API_KEY: u16 = 10_000;
/// apiKey of [`ZkSnapshotRecord`].
pub const ZK_SNAPSHOT_RECORD_API_KEY: u16 = 10_001;

/// One ZooKeeper transaction in the metadata log (`METAQUORUM_ZK_TXN_RECORD`, v0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZkTxnRecord(pub TxnRecord);

/// One znode, session or the last zxid of the ZooKeeper tree in a snapshot
/// (`METAQUORUM_ZK_SNAPSHOT_RECORD`, v0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZkSnapshotRecord(pub SnapshotRecord);

/// A ZooKeeper transaction as a node applied it: what a watch fires on and what a waiting
/// client is answered with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZkApplied {
    /// Its zxid (the record's offset).
    pub zxid: i64,
    /// The session that asked for it.
    pub session_id: i64,
    /// What applying it did.
    pub applied: Arc<Applied>,
}

fn invalid(e: metaquorum_zk::record::RecordError) -> RecordError {
    RecordError::Invalid(e.to_string())
}

impl RecordBody for ZkTxnRecord {
    const API_KEY: u16 = ZK_TXN_RECORD_API_KEY;
    const MAX_VERSION: u16 = 0;
    const TYPE_NAME: &'static str = "METAQUORUM_ZK_TXN_RECORD";

    fn write(&self, w: &mut Writer, _version: u16) {
        w.out.extend_from_slice(&self.0.encode());
    }

    fn read(r: &mut Reader<'_>, _version: u16) -> Result<Self, RecordError> {
        let body = Bytes::copy_from_slice(r.rest());
        TxnRecord::decode(body).map(ZkTxnRecord).map_err(invalid)
    }

    fn json(&self, _version: u16) -> OrderedJson {
        let mut o = ObjectBuilder::default();
        o.put("sessionId", json!(self.0.session_id));
        o.put("time", json!(self.0.time_ms));
        o.put("txn", txn_json(&self.0.txn));
        o.build()
    }
}

impl RecordBody for ZkSnapshotRecord {
    const API_KEY: u16 = ZK_SNAPSHOT_RECORD_API_KEY;
    const MAX_VERSION: u16 = 0;
    const TYPE_NAME: &'static str = "METAQUORUM_ZK_SNAPSHOT_RECORD";

    fn write(&self, w: &mut Writer, _version: u16) {
        w.out.extend_from_slice(&self.0.encode());
    }

    fn read(r: &mut Reader<'_>, _version: u16) -> Result<Self, RecordError> {
        let body = Bytes::copy_from_slice(r.rest());
        SnapshotRecord::decode(body)
            .map(ZkSnapshotRecord)
            .map_err(invalid)
    }

    fn json(&self, _version: u16) -> OrderedJson {
        let mut o = ObjectBuilder::default();
        match &self.0 {
            SnapshotRecord::Node {
                path,
                data,
                acl,
                stat,
            } => {
                o.put("type", json!("node"));
                o.put("path", json!(path));
                o.put("data", data_json(data));
                o.put("acl", acl_json(acl));
                o.put("stat", stat_json(stat));
            }
            SnapshotRecord::Session { id, session } => {
                // The password stays out of dumps: it is what lets a client take the session.
                o.put("type", json!("session"));
                o.put("sessionId", json!(id));
                o.put("timeOut", json!(session.timeout_ms));
            }
            SnapshotRecord::LastZxid(z) => {
                o.put("type", json!("lastZxid"));
                o.put("zxid", json!(z));
            }
        }
        o.build()
    }
}

fn data_json(data: &Option<Bytes>) -> OrderedJson {
    // Bytes as base64, as Kafka's JSON converters write `bytes` fields.
    match data {
        Some(d) => json!(BASE64.encode(d)).into(),
        None => json!(null).into(),
    }
}

fn acl_json(acl: &[Acl]) -> OrderedJson {
    OrderedJson::Array(
        acl.iter()
            .map(|a| {
                let mut o = ObjectBuilder::default();
                o.put("perms", json!(a.perms));
                o.put("scheme", json!(a.id.scheme));
                o.put("id", json!(a.id.id));
                o.build()
            })
            .collect(),
    )
}

fn stat_json(s: &Stat) -> OrderedJson {
    let mut o = ObjectBuilder::default();
    o.put("czxid", json!(s.czxid));
    o.put("mzxid", json!(s.mzxid));
    o.put("ctime", json!(s.ctime));
    o.put("mtime", json!(s.mtime));
    o.put("version", json!(s.version));
    o.put("cversion", json!(s.cversion));
    o.put("aversion", json!(s.aversion));
    o.put("ephemeralOwner", json!(s.ephemeral_owner));
    o.put("dataLength", json!(s.data_length));
    o.put("numChildren", json!(s.num_children));
    o.put("pzxid", json!(s.pzxid));
    o.build()
}

fn txn_json(txn: &Txn) -> OrderedJson {
    let mut o = ObjectBuilder::default();
    match txn {
        Txn::Create {
            path,
            node,
            parent_cversion,
        } => {
            o.put("type", json!("create"));
            o.put("path", json!(path));
            o.put("data", data_json(&node.data));
            o.put("acl", acl_json(&node.acl));
            o.put("ephemeralOwner", json!(node.ephemeral_owner));
            o.put("parentCVersion", json!(parent_cversion));
        }
        Txn::Delete { path } => {
            o.put("type", json!("delete"));
            o.put("path", json!(path));
        }
        Txn::SetData {
            path,
            data,
            version,
        } => {
            o.put("type", json!("setData"));
            o.put("path", json!(path));
            o.put("data", data_json(data));
            o.put("version", json!(version));
        }
        Txn::SetAcl {
            path,
            acl,
            aversion,
        } => {
            o.put("type", json!("setACL"));
            o.put("path", json!(path));
            o.put("acl", acl_json(acl));
            o.put("aversion", json!(aversion));
        }
        Txn::Check { path } => {
            o.put("type", json!("check"));
            o.put("path", json!(path));
        }
        Txn::Multi(txns) => {
            o.put("type", json!("multi"));
            o.put(
                "txns",
                OrderedJson::Array(txns.iter().map(txn_json).collect()),
            );
        }
        Txn::Error(code) => {
            o.put("type", json!("error"));
            o.put("err", json!(code));
        }
        Txn::CreateSession { timeout_ms, .. } => {
            // The password stays out of dumps (see the snapshot's session record).
            o.put("type", json!("createSession"));
            o.put("timeOut", json!(timeout_ms));
        }
        Txn::CloseSession => o.put("type", json!("closeSession")),
    }
    o.build()
}

/// Applies a committed transaction at `zxid` (its record's offset) to `tree`.
pub(crate) fn replay_txn(tree: &mut DataTree, zxid: i64, record: &ZkTxnRecord) -> ZkApplied {
    let applied = metaquorum_zk::txn::apply(tree, &record.0.header(zxid), &record.0.txn);
    ZkApplied {
        zxid,
        session_id: record.0.session_id,
        applied: Arc::new(applied),
    }
}

/// The snapshot records of `tree`, or none for a tree no transaction has touched (so a
/// cluster that never used the front writes snapshots exactly as before).
pub(crate) fn snapshot_records(tree: &DataTree) -> Vec<ZkSnapshotRecord> {
    if *tree == DataTree::new() {
        return Vec::new();
    }
    metaquorum_zk::record::snapshot(tree)
        .into_iter()
        .map(ZkSnapshotRecord)
        .collect()
}
