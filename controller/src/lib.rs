//! metaquorum-controller: what a controller node is made of. Today: the typed configuration
//! ([`config`]), storage formatting and checks ([`storage`]), metadata records, the metadata
//! image, its replay and loader ([`metadata`]), the KRaft consensus core ([`raft`]) and Kafka
//! framing ([`net`]); the active controller and the server follow.

pub mod config;
pub mod metadata;
pub mod net;
pub mod raft;
pub mod storage;
