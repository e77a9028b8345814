//! One ZooKeeper client connection, with its socket: the four-letter word or the session
//! handshake first, then frames in and out around a [`Connection`], the controller's
//! outcomes in the order writes were forwarded, and the committed images as the node applies
//! them. Every way out closes only this connection.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::stream::{FuturesOrdered, StreamExt};
use metaquorum_zk::conn::{AppliedTxn, Connection, Outcome, Output};
use metaquorum_zk::handshake::{accept, Handshake};
use metaquorum_zk::proto::frame::{four_letter_word, put_frame, put_reply, split_frame};
use metaquorum_zk::proto::jute::{Reader, Record};
use metaquorum_zk::proto::{
    ConnectRequest, ConnectResponse, ErrorCode, Id, ReplyHeader, Request, RequestError,
    RequestHeader,
};
use metaquorum_zk::txn::Applied;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{broadcast, oneshot, watch};

use super::feed::ZkUpdate;
use super::four_letter::answer_four_letter_word;
use super::listener::{count_received, count_sent, ConnInfo, Front};
use crate::control::zk::{ZkCall, ZkOp, ZkOutcome};

/// Bytes read from the socket at a time.
const READ_CHUNK_BYTES: usize = 64 * 1024;
/// Writes and syncs forwarded and not yet answered, per connection, at most: beyond it the
/// connection stops reading until answers come (back-pressure, not an error).
const FORWARDED_MAX: usize = 1_000;

/// Why a connection ended.
pub(crate) type Closed = String;

/// Serves one connection to its end.
pub(crate) async fn serve_connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    front: &Arc<Front>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), Closed> {
    let _ = stream.set_nodelay(true);
    let mut buf = BytesMut::with_capacity(READ_CHUNK_BYTES);
    let max = front.settings.frame_bytes_max;
    // The first bytes: a four-letter word, or the ConnectRequest's frame.
    let first = loop {
        if buf.len() >= 4 {
            if let Some(word) = four_letter_word(&buf) {
                let text = answer_four_letter_word(word, front);
                let _ = stream.write_all(text.as_bytes()).await;
                let _ = stream.shutdown().await;
                return Ok(());
            }
        }
        match split_frame(&mut buf, max).map_err(|e| e.to_string())? {
            Some(frame) => break frame,
            None => read_more(&mut stream, &mut buf).await?,
        }
    };
    count_received(front);
    let request = ConnectRequest::read(&mut Reader::new(first))
        .map_err(|e| format!("unreadable ConnectRequest: {e}"))?;
    // Subscribe before looking at the latest image, so no update falls in between.
    let (mut updates, mut tree) = front.feed.subscribe();
    let limits = front.settings.limits;
    let (session_id, response) = match accept(&request, &tree.image.zk, tree.zxid(), &limits) {
        Handshake::Behind {
            client_zxid,
            applied_zxid,
        } => {
            return Err(format!(
                "client has seen zxid {client_zxid:#x}, this node has applied only {}: \
                 refused so that it moves to a node that is not behind",
                if applied_zxid < 0 {
                    "nothing yet".to_string()
                } else {
                    format!("{applied_zxid:#x}")
                }
            ))
        }
        Handshake::Expired(response) => {
            send(&mut stream, front, connect_frame(&response)).await?;
            return Err("session expired or wrong password".into());
        }
        Handshake::Reattached(response) => (response.session_id, response),
        Handshake::NewSession { timeout_ms } => {
            let (reply, rx) = oneshot::channel();
            call(front, ZkOp::OpenSession { timeout_ms }, reply)?;
            let zxid = match rx.await {
                Ok(ZkOutcome::Committed { zxid }) => zxid,
                Ok(other) => return Err(format!("no session opened: {other:?}")),
                Err(_) => return Err("the node is stopping".into()),
            };
            let opened = wait_for_open(&mut updates, &mut tree, zxid).await?;
            let session = tree
                .image
                .zk
                .session(opened)
                .ok_or("the new session closed before it could be used")?;
            let response = ConnectResponse {
                protocol_version: 0,
                timeout_ms,
                session_id: opened,
                passwd: session.passwd,
                read_only: request.read_only.map(|_| false),
            };
            (opened, response)
        }
    };
    send(&mut stream, front, connect_frame(&response)).await?;
    front.heard.add(session_id);
    tracing::debug!("ZooKeeper session 0x{session_id:x} on a connection from {peer}");
    let ids = vec![Id::new("ip", peer.ip().to_string())];
    let conn = Connection::new(
        session_id,
        ids,
        front.settings.super_digest.clone(),
        tree.zxid(),
    );
    let registered = front.register(ConnInfo {
        peer: Some(peer),
        session_id,
        ..ConnInfo::default()
    });
    let mut session = Session {
        conn,
        tree,
        outcomes: FuturesOrdered::new(),
        front: Arc::clone(front),
        registered,
        received: 0,
        sent: 1,
    };
    let result = session
        .run(&mut stream, &mut buf, &mut updates, &mut shutdown)
        .await;
    front.unregister(registered);
    let _ = stream.shutdown().await;
    result
}

/// A connection past its handshake.
struct Session {
    conn: Connection,
    /// The image the connection reads, the latest it has seen.
    tree: Arc<ZkUpdate>,
    /// Outcomes of forwarded writes and syncs, in the order forwarded.
    outcomes: FuturesOrdered<oneshot::Receiver<ZkOutcome>>,
    front: Arc<Front>,
    /// Its entry in the front's connection list, and its own packet counts.
    registered: u64,
    received: u64,
    sent: u64,
}

impl Session {
    async fn run(
        &mut self,
        stream: &mut TcpStream,
        buf: &mut BytesMut,
        updates: &mut broadcast::Receiver<Arc<ZkUpdate>>,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<(), Closed> {
        let max = self.front.settings.frame_bytes_max;
        let session_timeout = Duration::from_millis(
            self.tree
                .image
                .zk
                .session(self.conn.session_id())
                .map_or(30_000, |s| s.timeout_ms.max(1) as u64),
        );
        loop {
            // Whole frames already read are handled before anything else.
            while let Some(frame) = split_frame(buf, max).map_err(|e| e.to_string())? {
                // A request is answered from everything this node has applied: a write another
                // client was already told of is visible here, as on one ZooKeeper server, and
                // its watch events go out first.
                self.catch_up(stream, updates).await?;
                count_received(&self.front);
                self.received += 1;
                self.front.heard.add(self.conn.session_id());
                let outputs = match decode(frame) {
                    Ok((xid, request)) => self.conn.on_request(xid, request, &self.tree.image.zk),
                    Err((xid, code, why)) => {
                        // ZooKeeper answers what it cannot read with an error, then closes.
                        let mut out = BytesMut::new();
                        let header = ReplyHeader {
                            xid,
                            zxid: self.conn.seen_zxid(),
                            err: code.code(),
                        };
                        put_reply(&mut out, header, |_| {});
                        vec![Output::Send(out.freeze()), Output::Close(why)]
                    }
                };
                self.perform(stream, outputs).await?;
                if self.outcomes.len() >= FORWARDED_MAX {
                    break;
                }
            }
            self.publish_info();
            let can_read = self.outcomes.len() < FORWARDED_MAX;
            tokio::select! {
                read = stream.read_buf(buf), if can_read => match read {
                    Ok(0) => return Ok(()),
                    Ok(_) => {}
                    Err(e) => return Err(format!("reading: {e}")),
                },
                Some(outcome) = self.outcomes.next(), if !self.outcomes.is_empty() => {
                    let outcome = match outcome {
                        Ok(ZkOutcome::Committed { zxid }) => Outcome::Committed(zxid),
                        Ok(ZkOutcome::Answer { code, after_zxid }) => {
                            Outcome::Answer { code, after_zxid }
                        }
                        Ok(ZkOutcome::Unknown) => Outcome::Lost(
                            "the active controller changed before the write committed".into(),
                        ),
                        Ok(ZkOutcome::NotActive) => {
                            Outcome::Lost("no controller is active".into())
                        }
                        Ok(ZkOutcome::Touched) => Outcome::Lost("an unexpected answer".into()),
                        Err(_) => Outcome::Lost("the node is stopping".into()),
                    };
                    let outputs = self.conn.on_outcome(outcome, &self.tree.image.zk);
                    self.perform(stream, outputs).await?;
                    self.check_session()?;
                }
                update = updates.recv() => {
                    let update = match update {
                        Ok(u) => u,
                        Err(broadcast::error::RecvError::Lagged(n)) => {
                            return Err(format!("fell {n} updates behind the node's image"));
                        }
                        Err(broadcast::error::RecvError::Closed) => {
                            return Err("the node is stopping".into());
                        }
                    };
                    let outputs = self.apply(update);
                    self.perform(stream, outputs).await?;
                    self.check_session()?;
                }
                _ = tokio::time::sleep(session_timeout), if self.outcomes.is_empty() => {
                    return Err("nothing heard for the session timeout".into());
                }
                _ = shutdown.changed() => return Ok(()),
            }
        }
    }

    /// Takes every update the node has already published, in order.
    async fn catch_up(
        &mut self,
        stream: &mut TcpStream,
        updates: &mut broadcast::Receiver<Arc<ZkUpdate>>,
    ) -> Result<(), Closed> {
        loop {
            let update = match updates.try_recv() {
                Ok(u) => u,
                Err(broadcast::error::TryRecvError::Empty) => return Ok(()),
                Err(broadcast::error::TryRecvError::Lagged(n)) => {
                    return Err(format!("fell {n} updates behind the node's image"));
                }
                Err(broadcast::error::TryRecvError::Closed) => {
                    return Err("the node is stopping".into());
                }
            };
            let outputs = self.apply(update);
            self.perform(stream, outputs).await?;
            self.check_session()?;
        }
    }

    /// Updates what the four-letter words show of this connection.
    fn publish_info(&self) {
        let (received, sent) = (self.received, self.sent);
        let queued = self.conn.pending();
        let (watches, watched_paths) = (self.conn.watch_count(), self.conn.watched_path_count());
        self.front.update(self.registered, |info| {
            info.received = received;
            info.sent = sent;
            info.queued = queued;
            info.watches = watches;
            info.watched_paths = watched_paths;
        });
    }

    /// Ends a connection whose session is gone from the node's tree (expired, or closed from
    /// another connection), once nothing it forwarded is still to be answered (its own
    /// closeSession is answered first).
    fn check_session(&self) -> Result<(), Closed> {
        if self.outcomes.is_empty() && self.tree.image.zk.session(self.conn.session_id()).is_none()
        {
            return Err(format!(
                "session 0x{:x} expired or was closed (at zxid {})",
                self.conn.session_id(),
                self.tree.zxid()
            ));
        }
        Ok(())
    }

    /// The node applied `update`: fire watches, answer what became answerable.
    fn apply(&mut self, update: Arc<ZkUpdate>) -> Vec<Output> {
        if update.reset {
            self.tree = update;
            return self.conn.on_reset();
        }
        if update.zxid() <= self.conn.seen_zxid() {
            // Already in the image this connection started from.
            return Vec::new();
        }
        let txns: Vec<AppliedTxn<'_>> = update
            .txns
            .iter()
            .filter(|t| t.zxid > self.conn.seen_zxid())
            .map(|t| AppliedTxn {
                zxid: t.zxid,
                session_id: t.session_id,
                applied: &t.applied as &Applied,
            })
            .collect();
        let outputs = self.conn.on_applied(&txns, &update.image.zk, update.zxid());
        drop(txns);
        self.tree = update;
        outputs
    }

    async fn perform(
        &mut self,
        stream: &mut TcpStream,
        outputs: Vec<Output>,
    ) -> Result<(), Closed> {
        for o in outputs {
            match o {
                Output::Send(bytes) => {
                    self.sent += 1;
                    send(stream, &self.front, bytes).await?
                }
                Output::Forward(request) => {
                    let op = ZkOp::Write {
                        session_id: self.conn.session_id(),
                        ids: self.conn.ids().to_vec(),
                        request,
                    };
                    self.forward(op)?;
                }
                Output::Sync => self.forward(ZkOp::Sync)?,
                Output::Close(why) => return Err(why),
            }
        }
        Ok(())
    }

    fn forward(&mut self, op: ZkOp) -> Result<(), Closed> {
        let (reply, rx) = oneshot::channel();
        call(&self.front, op, reply)?;
        self.outcomes.push_back(rx);
        Ok(())
    }
}

fn call(front: &Front, op: ZkOp, reply: oneshot::Sender<ZkOutcome>) -> Result<(), Closed> {
    (front.sink)(ZkCall { op, reply }).map_err(|e| format!("the node is stopping: {e}"))
}

/// Reads the request header and body of a frame; on failure, the xid to answer, the error and
/// why (UNIMPLEMENTED for an opcode no client may send, MARSHALLINGERROR for a body that does
/// not read).
fn decode(frame: Bytes) -> Result<(i32, Request), (i32, ErrorCode, String)> {
    let mut r = Reader::new(frame);
    let header = RequestHeader::read(&mut r).map_err(|e| {
        (
            0,
            ErrorCode::MarshallingError,
            format!("unreadable header: {e}"),
        )
    })?;
    match Request::decode(header.op, r.rest()) {
        Ok(request) => Ok((header.xid, request)),
        Err(RequestError::UnknownOp(op)) => Err((
            header.xid,
            ErrorCode::Unimplemented,
            format!("unknown opcode {op}"),
        )),
        Err(e) => Err((header.xid, ErrorCode::MarshallingError, e.to_string())),
    }
}

/// Waits until the node has applied the session opened at `zxid` (an update after the
/// subscription holds it); answers its id, with `tree` at least that update.
async fn wait_for_open(
    updates: &mut broadcast::Receiver<Arc<ZkUpdate>>,
    tree: &mut Arc<ZkUpdate>,
    zxid: i64,
) -> Result<i64, Closed> {
    loop {
        let u = match updates.recv().await {
            Ok(u) => u,
            Err(broadcast::error::RecvError::Lagged(n)) => {
                return Err(format!("fell {n} updates behind while opening the session"))
            }
            Err(broadcast::error::RecvError::Closed) => return Err("the node is stopping".into()),
        };
        if u.zxid() > tree.zxid() {
            *tree = Arc::clone(&u);
        }
        if let Some(t) = u.txns.iter().find(|t| t.zxid == zxid) {
            return Ok(t.session_id);
        }
        if u.reset && u.zxid() >= zxid {
            return Err("a snapshot replaced the image while the session opened".into());
        }
    }
}

fn connect_frame(response: &ConnectResponse) -> Bytes {
    let mut out = BytesMut::new();
    put_frame(&mut out, |b| response.write(b));
    out.freeze()
}

async fn send(stream: &mut TcpStream, front: &Front, bytes: Bytes) -> Result<(), Closed> {
    count_sent(front, 1);
    stream
        .write_all(&bytes)
        .await
        .map_err(|e| format!("writing: {e}"))
}

async fn read_more(stream: &mut TcpStream, buf: &mut BytesMut) -> Result<(), Closed> {
    match stream.read_buf(buf).await {
        Ok(0) => Err("closed by the client".into()),
        Ok(_) => Ok(()),
        Err(e) => Err(format!("reading: {e}")),
    }
}
