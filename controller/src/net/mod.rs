//! The Kafka wire protocol: framing ([`frame`]), request and response envelopes ([`wire`]), the
//! KRaft RPCs on the wire ([`raft_wire`]), the listener ([`server`]), connections to peers
//! ([`peer`]) and a small admin client ([`client`]).

pub mod client;
pub mod frame;
pub mod peer;
pub mod raft_wire;
pub mod server;
pub mod wire;
