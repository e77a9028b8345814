//! metaquorum-tests: whole-system tests live in `tests/tests/`; this library holds what they
//! share: the deterministic cluster simulator ([`sim`]), the transcript harness
//! ([`transcript`]), the state machine both run inside the real node ([`values`]), clusters of real processes ([`cluster`]) and a client that drives their
//! metadata APIs as an admin tool or a broker would ([`admin`]).

pub mod admin;
pub mod cluster;
pub mod kafka_tools;
pub mod sim;
pub mod transcript;
pub mod values;
