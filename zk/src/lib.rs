//! The ZooKeeper front of metaquorum.
//!
//! ZooKeeper clients (zkCli, Curator, kazoo, Kafka's ZooKeeper-mode brokers) talk to every node
//! that holds the metadata image as if it were a ZooKeeper server. This crate owns what that
//! needs and nothing of the quorum: [`proto`] is the client protocol (jute records, every opcode's
//! request and response, multi, framing and four-letter words), usable by a server and by a
//! client; [`tree`] is the replicated state (znodes, sessions, ephemerals), changed only by
//! committed transactions ([`txn`]: prepared by the active controller, applied everywhere) and
//! read with ZooKeeper's checks ([`read`]), with [`path`] and [`acl`] rules; [`watch`]es
//! fire on what a transaction did; a client [`conn`]ection orders its answers and events; the session [`handshake`] is decided from the replicated
//! sessions; [`record`] is how transactions and snapshots travel in the metadata log. It depends on no other metaquorum crate, so the controller, the broker shim and the
//! tests can all use it, and the large controller crate does not recompile for a protocol change.

pub mod acl;
pub mod conn;
pub mod handshake;
pub mod path;
pub mod proto;
pub mod read;
pub mod record;
pub mod tree;
pub mod txn;
pub mod watch;
