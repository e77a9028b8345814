//! metaquorum-broker-shim: what a broker links or runs to join a metaquorum cluster (registration,
//! heartbeats, following the metadata log as an observer). Not built yet: this crate is empty on
//! purpose until the broker-shim issue lands.
