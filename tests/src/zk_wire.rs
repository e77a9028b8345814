//! A small blocking ZooKeeper client built on `metaquorum_zk::proto`: one request at a time, watch
//! events collected as they arrive. The tests drive real ZooKeeper and the quorum's ZooKeeper
//! front with it, byte for byte the same requests.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use metaquorum_zk::proto::frame::{put_frame, put_request, split_frame, JUTE_MAXBUFFER_DEFAULT};
use metaquorum_zk::proto::jute::{Reader, Record};
use metaquorum_zk::proto::session::{AUTH_XID, NOTIFICATION_XID, PING_XID, SET_WATCHES_XID};
use metaquorum_zk::proto::{
    ConnectRequest, ConnectResponse, ReplyHeader, Request, Response, WatcherEvent,
};

/// How long a read may wait for the server.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// A server's answer to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The server's zxid in the reply header.
    pub zxid: i64,
    /// The error code (0 for success).
    pub err: i32,
    /// The body, present when `err` is 0.
    pub body: Option<Response>,
}

/// One connection holding one session.
pub struct ZkWire {
    stream: TcpStream,
    buf: BytesMut,
    next_xid: i32,
    /// The handshake's answer.
    pub session: ConnectResponse,
    /// The highest zxid seen in a reply.
    pub last_zxid: i64,
    /// Watch events received so far, with their zxids, in arrival order.
    pub events: Vec<(i64, WatcherEvent)>,
}

impl ZkWire {
    /// Connects and opens a new session asking for `timeout_ms`.
    pub fn connect(addr: &str, timeout_ms: i32) -> io::Result<ZkWire> {
        ZkWire::handshake(
            addr,
            ConnectRequest {
                protocol_version: 0,
                last_zxid_seen: 0,
                timeout_ms,
                session_id: 0,
                passwd: Bytes::from_static(&[0; 16]),
                read_only: Some(false),
            },
        )
    }

    /// Connects with a handshake of the caller's making (re-attach, a wrong password).
    pub fn handshake(addr: &str, request: ConnectRequest) -> io::Result<ZkWire> {
        let mut stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(READ_TIMEOUT))?;
        stream.set_nodelay(true)?;
        let mut out = BytesMut::new();
        put_frame(&mut out, |o| request.write(o));
        stream.write_all(&out)?;
        let mut conn = ZkWire {
            stream,
            buf: BytesMut::new(),
            next_xid: 1,
            session: ConnectResponse::expired(None),
            last_zxid: request.last_zxid_seen,
            events: Vec::new(),
        };
        let frame = conn.read_frame()?;
        conn.session = ConnectResponse::read(&mut Reader::new(frame)).map_err(invalid)?;
        Ok(conn)
    }

    /// Sends `request` and waits for its reply, collecting watch events that come first.
    pub fn call(&mut self, request: &Request) -> io::Result<Reply> {
        let xid = match request {
            Request::Ping => PING_XID,
            Request::Auth(_) => AUTH_XID,
            Request::SetWatches(_) | Request::SetWatches2(_) => SET_WATCHES_XID,
            _ => {
                self.next_xid += 1;
                self.next_xid
            }
        };
        let mut out = BytesMut::new();
        put_request(&mut out, xid, request);
        self.stream.write_all(&out)?;
        loop {
            let mut r = Reader::new(self.read_frame()?);
            let header = ReplyHeader::read(&mut r).map_err(invalid)?;
            if header.xid == NOTIFICATION_XID {
                let event = WatcherEvent::read(&mut r).map_err(invalid)?;
                self.events.push((header.zxid, event));
                continue;
            }
            if header.xid != xid {
                return Err(invalid(format!(
                    "xid out of order: sent {xid}, got {}",
                    header.xid
                )));
            }
            if header.zxid > 0 {
                self.last_zxid = self.last_zxid.max(header.zxid);
            }
            let body = if header.err == 0 {
                Some(Response::decode(request.op(), r.rest()).map_err(invalid)?)
            } else {
                None
            };
            return Ok(Reply {
                zxid: header.zxid,
                err: header.err,
                body,
            });
        }
    }

    /// Waits until `n` watch events have arrived (pings the server to read what it sent).
    pub fn wait_events(&mut self, n: usize) -> io::Result<&[(i64, WatcherEvent)]> {
        let deadline = std::time::Instant::now() + READ_TIMEOUT;
        while self.events.len() < n {
            if std::time::Instant::now() > deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("{} of {n} watch events", self.events.len()),
                ));
            }
            self.call(&Request::Ping)?;
        }
        Ok(&self.events)
    }

    /// Whether the server has closed the connection (waits up to the read timeout).
    pub fn is_closed_by_server(&mut self) -> bool {
        let mut byte = [0u8; 1];
        matches!(self.stream.read(&mut byte), Ok(0))
            || matches!(self.stream.read(&mut byte), Err(e) if e.kind() == io::ErrorKind::ConnectionReset)
    }

    /// Reads the next reply's header, whatever its xid (after [`ZkWire::send_raw`]).
    pub fn read_reply_header(&mut self) -> io::Result<ReplyHeader> {
        let frame = self.read_frame()?;
        ReplyHeader::read(&mut Reader::new(frame)).map_err(invalid)
    }

    /// Sends raw bytes (malformed-input tests).
    pub fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    fn read_frame(&mut self) -> io::Result<Bytes> {
        loop {
            if let Some(frame) =
                split_frame(&mut self.buf, JUTE_MAXBUFFER_DEFAULT).map_err(invalid)?
            {
                return Ok(frame);
            }
            let mut chunk = [0u8; 64 * 1024];
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the server closed the connection",
                ));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

fn invalid(e: impl ToString) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}
