//! metaquorum-controller: what a controller node is made of. Today: the typed configuration
//! ([`config`]), storage formatting and checks ([`storage`]), the first metadata records
//! ([`metadata`]), the active controller's pure rules ([`control`]), the KRaft consensus core ([`raft`]) and Kafka framing ([`net`]); the metadata
//! state machine, the active controller and the server follow.

pub mod config;
pub mod control;
pub mod metadata;
pub mod net;
pub mod raft;
pub mod storage;
