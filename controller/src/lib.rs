//! metaquorum-controller: what a controller node is made of. Today: the typed configuration
//! ([`config`]), storage formatting and checks ([`storage`]) and the first metadata records
//! ([`metadata`]); the Raft core, the metadata state machine and networking follow.

pub mod config;
pub mod metadata;
pub mod raft;
pub mod storage;
