//! metaquorum-tests: whole-system tests live in `tests/tests/`; this library holds what they
//! share — the deterministic cluster simulator ([`sim`]).

pub mod sim;
pub mod transcript;
