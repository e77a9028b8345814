//! metaquorum-controller: what a controller node is made of. Today: the typed configuration
//! ([`config`]), storage formatting and checks ([`storage`]), the first metadata records
//! ([`metadata`]), the KRaft consensus core ([`raft`]) and Kafka framing ([`net`]); the metadata
//! state machine, the active controller and the server follow.

pub mod alloc;
pub mod config;
pub mod driver;
pub mod metadata;
pub mod metrics;
pub mod net;
pub mod node;
pub mod raft;
pub mod storage;

/// Unit tests decode hostile requests too: give them the allocator the binary uses.
#[cfg(test)]
#[global_allocator]
static TEST_ALLOCATOR: alloc::ReservingAllocator = alloc::ReservingAllocator;
