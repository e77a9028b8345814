//! zk/ — the ZooKeeper front in a running node: the listener ZooKeeper clients connect to, one
//! task per connection, the feed of committed images they read and fire watches from
//! ([`feed`]), and the batching of session liveness to the active controller.
//!
//! The protocol and its semantics are the `metaquorum-zk` crate's (jute, the tree, prepare and
//! apply, watches, one connection's ordering in [`metaquorum_zk::conn::Connection`]); this module
//! adds the sockets and the quorum. Writes and session opens go to the active controller as
//! [`ZkCall`]s through a [`ZkSink`] (the node's own state machine on a controller); reads are
//! answered from the node's latest committed image; a write is answered once this node has
//! applied it.
//!
//! [`ZkCall`]: crate::control::zk::ZkCall

pub mod feed;
pub mod listener;

mod connection;
mod four_letter;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use metaquorum_zk::handshake::SessionLimits;

use crate::control::zk::ZkCall;

/// Where the front's asks go: the active controller, through this node's state machine (or,
/// on a node that is not a controller, a forwarder). An error means the node is stopping.
pub type ZkSink = Arc<dyn Fn(ZkCall) -> Result<(), String> + Send + Sync>;

/// ZooKeeper's default `maxClientCnxns`: connections per client IP address.
pub const MAX_CLIENT_CNXNS_DEFAULT: usize = 60;
/// ZooKeeper's default `jute.maxbuffer`: the largest frame, in bytes.
pub const JUTE_MAXBUFFER_DEFAULT: usize = 0xfffff;

/// How the front is configured (ZooKeeper's names; see `docs/configuration.md`).
#[derive(Debug, Clone)]
pub struct ZkFrontSettings {
    /// Where to listen (`clientPortAddress:clientPort`).
    pub listener: SocketAddr,
    /// `tickTime`, `minSessionTimeout`, `maxSessionTimeout`.
    pub limits: SessionLimits,
    /// `maxClientCnxns`: connections per client IP at most; 0 for no limit.
    pub max_client_cnxns: usize,
    /// `jute.maxbuffer`: the largest request frame.
    pub frame_bytes_max: usize,
    /// `4lw.commands.whitelist`: the four-letter words answered (`*` for all).
    pub four_letter_words: Vec<String>,
    /// The `digest` id (`user:base64(sha1)`) that is super
    /// (`zookeeper.DigestAuthenticationProvider.superDigest`).
    pub super_digest: Option<String>,
    /// This node's id, for `srvr` and logs.
    pub node_id: i32,
}

/// Sessions heard from on this node since the last touch went to the active controller.
#[derive(Debug, Default)]
pub(crate) struct Heard(Mutex<HashSet<i64>>);

impl Heard {
    pub(crate) fn add(&self, session_id: i64) {
        if let Ok(mut s) = self.0.lock() {
            s.insert(session_id);
        }
    }

    pub(crate) fn take(&self) -> Vec<i64> {
        match self.0.lock() {
            Ok(mut s) => s.drain().collect(),
            Err(_) => Vec::new(),
        }
    }
}
