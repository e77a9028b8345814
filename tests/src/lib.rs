//! metaquorum-tests: whole-system tests live in `tests/tests/`; this library holds what they
//! share: the deterministic cluster simulator ([`sim`]), the transcript harness
//! ([`transcript`]) and clusters of real processes ([`cluster`]).

pub mod cluster;
pub mod sim;
pub mod transcript;
