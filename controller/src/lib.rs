//! metaquorum-controller: what a controller node is made of: the typed configuration
//! ([`config`]), storage formatting and checks ([`storage`]), metadata records, the image, its
//! replay and loader ([`metadata`]), the active controller's rules ([`control`]), one file per Kafka API and
//! their registry ([`apis`]), the KRaft
//! consensus core ([`raft`]), the deterministic node around it ([`node`]) and the shell that
//! runs it ([`shell`]), snapshots of the image ([`snapshots`]), the Kafka wire protocol
//! ([`net`]), metrics ([`metrics`]), the ZooKeeper front's listener ([`zk`]) and the assembled controller
//! server ([`server`]).

pub mod alloc;
pub mod apis;
pub mod config;
pub mod control;
pub mod metadata;
pub mod metrics;
pub mod net;
pub mod node;
pub mod raft;
pub mod server;
pub mod shell;
pub mod snapshots;
pub mod storage;
pub mod zk;

/// Unit tests decode hostile requests too: give them the allocator the binary uses.
#[cfg(test)]
#[global_allocator]
static TEST_ALLOCATOR: alloc::ReservingAllocator = alloc::ReservingAllocator;
