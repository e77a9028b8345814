//! metaquorum-tests: whole-system tests live in `tests/tests/`; this library holds what they
//! share: the deterministic cluster simulator ([`sim`]), the transcript harness
//! ([`transcript`]), the state machine both run inside the real node ([`values`]), clusters of real processes ([`cluster`]) and a client that drives their
//! metadata APIs as an admin tool or a broker would ([`admin`]), real ZooKeeper servers
//! ([`real_zookeeper`]) and a small ZooKeeper protocol client ([`zk_wire`]).

pub mod admin;
pub mod cluster;
pub mod kafka_tools;
pub mod real_zookeeper;
pub mod sim;
pub mod transcript;
pub mod values;
pub mod zk_wire;
