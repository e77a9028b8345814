//! The handshake and the per-packet headers: `ConnectRequest`/`ConnectResponse` (the first frame
//! each way, with no header), `RequestHeader`, `ReplyHeader` and the special xids.

use bytes::{Bytes, BytesMut};

use super::jute::{put_bool, put_buffer, put_int, put_long, JuteError, Reader, Record};

/// The xid of a watch event (server to client).
pub const NOTIFICATION_XID: i32 = -1;
/// The xid of a ping.
pub const PING_XID: i32 = -2;
/// The xid of an auth packet.
pub const AUTH_XID: i32 = -4;
/// The xid of a setWatches or setWatches2 packet.
pub const SET_WATCHES_XID: i32 = -8;

/// Bytes of a session password.
pub const PASSWORD_BYTES: usize = 16;

/// The client's first frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectRequest {
    /// Always 0.
    pub protocol_version: i32,
    /// The highest zxid the client has seen; a server behind it must refuse the client.
    pub last_zxid_seen: i64,
    /// The session timeout the client asks for, in ms.
    pub timeout_ms: i32,
    /// 0 for a new session, else the session to re-attach.
    pub session_id: i64,
    /// The session's password (16 bytes; zeros for a new session).
    pub passwd: Bytes,
    /// Whether the client accepts a read-only server; `None` when an old (pre-3.4) client
    /// left the byte out, and then the response leaves it out too.
    pub read_only: Option<bool>,
}

impl Record for ConnectRequest {
    fn write(&self, out: &mut BytesMut) {
        put_int(out, self.protocol_version);
        put_long(out, self.last_zxid_seen);
        put_int(out, self.timeout_ms);
        put_long(out, self.session_id);
        put_buffer(out, Some(&self.passwd));
        if let Some(ro) = self.read_only {
            put_bool(out, ro);
        }
    }

    fn read(r: &mut Reader) -> Result<ConnectRequest, JuteError> {
        Ok(ConnectRequest {
            protocol_version: r.int("ConnectRequest.protocolVersion")?,
            last_zxid_seen: r.long("ConnectRequest.lastZxidSeen")?,
            timeout_ms: r.int("ConnectRequest.timeOut")?,
            session_id: r.long("ConnectRequest.sessionId")?,
            passwd: r.buffer("ConnectRequest.passwd")?.unwrap_or_default(),
            read_only: if r.remaining() > 0 {
                Some(r.bool("ConnectRequest.readOnly")?)
            } else {
                None
            },
        })
    }
}

/// The server's first frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectResponse {
    /// Always 0.
    pub protocol_version: i32,
    /// The negotiated session timeout in ms; 0 tells the client its session expired.
    pub timeout_ms: i32,
    /// The session's id (0 with an expired session).
    pub session_id: i64,
    /// The session's password.
    pub passwd: Bytes,
    /// Whether the server is read-only; `None` for a client that did not send the byte.
    pub read_only: Option<bool>,
}

impl ConnectResponse {
    /// The answer to a client whose session expired or whose password is wrong.
    pub fn expired(read_only: Option<bool>) -> ConnectResponse {
        ConnectResponse {
            protocol_version: 0,
            timeout_ms: 0,
            session_id: 0,
            passwd: Bytes::from_static(&[0; PASSWORD_BYTES]),
            read_only: read_only.map(|_| false),
        }
    }
}

impl Record for ConnectResponse {
    fn write(&self, out: &mut BytesMut) {
        put_int(out, self.protocol_version);
        put_int(out, self.timeout_ms);
        put_long(out, self.session_id);
        put_buffer(out, Some(&self.passwd));
        if let Some(ro) = self.read_only {
            put_bool(out, ro);
        }
    }

    fn read(r: &mut Reader) -> Result<ConnectResponse, JuteError> {
        Ok(ConnectResponse {
            protocol_version: r.int("ConnectResponse.protocolVersion")?,
            timeout_ms: r.int("ConnectResponse.timeOut")?,
            session_id: r.long("ConnectResponse.sessionId")?,
            passwd: r.buffer("ConnectResponse.passwd")?.unwrap_or_default(),
            read_only: if r.remaining() > 0 {
                Some(r.bool("ConnectResponse.readOnly")?)
            } else {
                None
            },
        })
    }
}

/// The header of every request after the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestHeader {
    /// The client's request number, echoed in the reply; or a special xid.
    pub xid: i32,
    /// The [`super::OpCode`] number.
    pub op: i32,
}

impl Record for RequestHeader {
    fn write(&self, out: &mut BytesMut) {
        put_int(out, self.xid);
        put_int(out, self.op);
    }

    fn read(r: &mut Reader) -> Result<RequestHeader, JuteError> {
        Ok(RequestHeader {
            xid: r.int("RequestHeader.xid")?,
            op: r.int("RequestHeader.type")?,
        })
    }
}

/// The header of every reply and watch event; a body follows only when `err` is 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyHeader {
    /// The request's xid, or a special xid.
    pub xid: i32,
    /// The server's last applied zxid (for a watch event, the triggering one).
    pub zxid: i64,
    /// An [`super::ErrorCode`] number.
    pub err: i32,
}

impl Record for ReplyHeader {
    fn write(&self, out: &mut BytesMut) {
        put_int(out, self.xid);
        put_long(out, self.zxid);
        put_int(out, self.err);
    }

    fn read(r: &mut Reader) -> Result<ReplyHeader, JuteError> {
        Ok(ReplyHeader {
            xid: r.int("ReplyHeader.xid")?,
            zxid: r.long("ReplyHeader.zxid")?,
            err: r.int("ReplyHeader.err")?,
        })
    }
}
