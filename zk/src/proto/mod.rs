//! The ZooKeeper client protocol, as ZooKeeper 3.8 speaks it (`reference/zookeeper.md` §1):
//! [`jute`] encoding, the data [`records`], the handshake and headers ([`session`]), every
//! [`request`] and [`response`] with multi, opcodes, error codes, and [`frame`]s. Pure codecs:
//! no sockets, no state.

pub mod error_code;
pub mod frame;
pub mod jute;
pub mod opcode;
pub mod records;
pub mod request;
pub mod response;
pub mod session;

pub use error_code::ErrorCode;
pub use opcode::OpCode;
pub use records::{Acl, CreateMode, Id, Stat, WatcherEvent};
pub use request::{Request, RequestError};
pub use response::{OpResult, Response};
pub use session::{ConnectRequest, ConnectResponse, ReplyHeader, RequestHeader};

#[cfg(test)]
mod tests;
