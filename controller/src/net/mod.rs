//! The Kafka wire protocol. Today: framing ([`frame`]); request parsing, version negotiation, the
//! RPC handlers and the server come with the controller-nodes work.

pub mod frame;
