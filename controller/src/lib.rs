//! metaquorum-controller: what a controller node is made of. Today: the typed configuration and
//! storage formatting; the Raft core, the metadata state machine and networking follow.
