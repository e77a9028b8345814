//! One client connection of the front, without I/O: the order in which its requests are
//! answered, its identities, its watches, and what it must send, forward or close.
//!
//! ZooKeeper answers a session's requests in the order they came, and a client sees a watch
//! event before any answer that shows the change. A [`Connection`] keeps that order with one
//! queue: a read at the head is answered from the node's tree at once; a write is forwarded
//! to the active controller as soon as it arrives (so writes pipeline) but answered only when
//! it reaches the head and the node's tree has applied it, from what applying it did; a
//! refused write or a sync is answered once the tree has reached the offset the controller's
//! answer rests on. Everything behind an unanswered request waits. When the node applies
//! transactions ([`Connection::on_applied`]), the connection first fires its watches for all of
//! them and only then answers what became answerable, so no answer shows a change whose event
//! has not been sent.
//!
//! The task that owns the socket feeds requests, the controller's outcomes (in the order the
//! writes were forwarded) and applied transactions, and performs the [`Output`]s in order.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use crate::acl;
use crate::proto::frame::put_reply;
use crate::proto::jute::Record;
use crate::proto::records::{ClientInfo, EventType, KeeperState, WatcherEvent};
use crate::proto::request::SetWatches;
use crate::proto::{ErrorCode, Id, Request, Response};
use crate::read::read;
use crate::tree::DataTree;
use crate::txn::{response, Applied};
use crate::watch::{after_read, watch_request, WatcherId, Watches};

/// The xid of a watch notification.
pub const NOTIFICATION_XID: i32 = -1;
/// The only watcher a connection's own table holds.
const SELF: WatcherId = 0;
/// Transactions of the connection's own session kept while their outcome is on its way, at
/// most: more means the controller's answers stopped coming, and the connection closes.
pub const OWN_APPLIED_MAX: usize = 10_000;

/// What the active controller answered about a forwarded write or sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The write committed at this zxid.
    Committed(i64),
    /// Answer `code` (0 for a sync) once the tree has applied `after_zxid`.
    Answer {
        /// The error code, or 0.
        code: ErrorCode,
        /// The offset the answer rests on.
        after_zxid: i64,
    },
    /// The write's fate is unknown, or no controller is active: close, and let the client
    /// reconnect with its session.
    Lost(String),
}

/// A transaction the node applied.
#[derive(Debug, Clone, Copy)]
pub struct AppliedTxn<'a> {
    /// Its zxid.
    pub zxid: i64,
    /// The session that asked for it.
    pub session_id: i64,
    /// What it did.
    pub applied: &'a Applied,
}

/// Something the task owning the socket must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Write these bytes (framed replies and notifications) to the client.
    Send(Bytes),
    /// Forward this write to the active controller; its [`Outcome`] comes back through
    /// [`Connection::on_outcome`], in the order forwarded.
    Forward(Request),
    /// Ask the active controller for the offset a sync must reach; the answer comes back as an
    /// [`Outcome::Answer`] in the same order as forwarded writes.
    Sync,
    /// Close the connection once what came before is written.
    Close(String),
}

#[derive(Debug)]
enum State {
    /// Answered from the tree when it reaches the head.
    Local,
    /// Forwarded; no outcome yet.
    Forwarded,
    /// Committed at this zxid.
    Committed(i64),
    /// Answer this code once the tree reached this zxid.
    Answer(ErrorCode, i64),
}

#[derive(Debug)]
struct Queued {
    xid: i32,
    request: Request,
    state: State,
}

/// One client connection; see the module documentation.
#[derive(Debug)]
pub struct Connection {
    session_id: i64,
    ids: Vec<Id>,
    super_digest: Option<String>,
    watches: Watches,
    /// Requests not yet answered, in the order they came.
    queue: VecDeque<Queued>,
    /// This session's applied transactions whose outcome has not yet come, by zxid.
    own: BTreeMap<i64, Arc<Applied>>,
    /// The offset of the node's tree as the connection last saw it (the zxid of its replies).
    /// Invariant: never decreases.
    seen_zxid: i64,
    closed: bool,
}

impl Connection {
    /// A connection of `session_id` holding `ids` (its `ip` identity), over a tree at
    /// `seen_zxid`; `super_digest` is the `digest` id that makes a user super.
    pub fn new(
        session_id: i64,
        ids: Vec<Id>,
        super_digest: Option<String>,
        seen_zxid: i64,
    ) -> Connection {
        Connection {
            session_id,
            ids,
            super_digest,
            watches: Watches::new(),
            queue: VecDeque::new(),
            own: BTreeMap::new(),
            seen_zxid,
            closed: false,
        }
    }

    /// The session.
    pub fn session_id(&self) -> i64 {
        self.session_id
    }

    /// The zxid the connection's replies carry.
    pub fn seen_zxid(&self) -> i64 {
        self.seen_zxid
    }

    /// The identities the connection holds.
    pub fn ids(&self) -> &[Id] {
        &self.ids
    }

    /// Number of watches set.
    pub fn watch_count(&self) -> usize {
        self.watches.count()
    }

    /// Number of paths watched.
    pub fn watched_path_count(&self) -> usize {
        self.watches.path_count()
    }

    /// Requests not yet answered.
    pub fn pending(&self) -> usize {
        self.queue.len()
    }

    /// Whether the connection decided to close.
    pub fn closed(&self) -> bool {
        self.closed
    }

    /// A request from the client, over the node's `tree` (at [`Self::seen_zxid`]).
    pub fn on_request(&mut self, xid: i32, request: Request, tree: &DataTree) -> Vec<Output> {
        let mut out = Vec::new();
        if self.closed {
            return out;
        }
        let state = if request.is_write() {
            out.push(Output::Forward(request.clone()));
            State::Forwarded
        } else if matches!(request, Request::Sync(_)) {
            out.push(Output::Sync);
            State::Forwarded
        } else {
            State::Local
        };
        self.queue.push_back(Queued {
            xid,
            request,
            state,
        });
        self.drain(tree, &mut out);
        out
    }

    /// The controller's outcome of the oldest forwarded request still waiting for one.
    pub fn on_outcome(&mut self, outcome: Outcome, tree: &DataTree) -> Vec<Output> {
        let mut out = Vec::new();
        if self.closed {
            return out;
        }
        let Some(q) = self
            .queue
            .iter_mut()
            .find(|q| matches!(q.state, State::Forwarded))
        else {
            self.close("an outcome for no forwarded request".into(), &mut out);
            return out;
        };
        q.state = match outcome {
            Outcome::Committed(zxid) => State::Committed(zxid),
            Outcome::Answer { code, after_zxid } => State::Answer(code, after_zxid),
            Outcome::Lost(why) => {
                self.close(why, &mut out);
                return out;
            }
        };
        self.drain(tree, &mut out);
        out
    }

    /// The node applied `txns` (in order); `tree` is its tree after them, at `zxid`.
    pub fn on_applied(
        &mut self,
        txns: &[AppliedTxn<'_>],
        tree: &DataTree,
        zxid: i64,
    ) -> Vec<Output> {
        let mut out = Vec::new();
        if self.closed {
            return out;
        }
        let mut events = BytesMut::new();
        for t in txns {
            if t.session_id == self.session_id {
                self.own.insert(t.zxid, Arc::new(t.applied.clone()));
            }
            let ids = &self.ids;
            let can_read = |_: WatcherId, node_acl: &[crate::proto::Acl]| {
                acl::allowed(node_acl, crate::proto::records::perms::READ, ids)
            };
            for (_, event) in self.watches.trigger(tree, t.applied, &can_read) {
                notification(&mut events, &event);
            }
        }
        if !events.is_empty() {
            out.push(Output::Send(events.freeze()));
        }
        self.seen_zxid = self.seen_zxid.max(zxid);
        let awaiting = self
            .queue
            .iter()
            .any(|q| matches!(q.state, State::Forwarded | State::Committed(_)));
        if !awaiting {
            // No write of this connection can claim them (expiry, another connection of the
            // same session).
            self.own.clear();
        }
        if self.own.len() > OWN_APPLIED_MAX {
            self.close(
                "the active controller's answers to this session's writes stopped coming".into(),
                &mut out,
            );
            return out;
        }
        self.drain(tree, &mut out);
        out
    }

    /// The node's tree was replaced (a snapshot was loaded): transactions were skipped, so
    /// watches may have missed events. The client reconnects and re-registers its watches
    /// with the last zxid it saw (setWatches), which fires whatever it missed.
    pub fn on_reset(&mut self) -> Vec<Output> {
        let mut out = Vec::new();
        self.close(
            "the node's tree was replaced by a snapshot".into(),
            &mut out,
        );
        out
    }

    fn close(&mut self, why: String, out: &mut Vec<Output>) {
        if !self.closed {
            self.closed = true;
            out.push(Output::Close(why));
        }
    }

    /// Answers every request at the head of the queue that can be answered now.
    fn drain(&mut self, tree: &DataTree, out: &mut Vec<Output>) {
        let mut replies = BytesMut::new();
        while let Some(head) = self.queue.front() {
            if self.closed {
                break;
            }
            // A committed write's reply carries its own zxid, as ZooKeeper's does; every other
            // reply the zxid of the tree it was answered from.
            let reply_zxid = match head.state {
                State::Committed(zxid) => zxid,
                _ => self.seen_zxid,
            };
            let answer = match head.state {
                State::Forwarded => break,
                State::Committed(zxid) if zxid > self.seen_zxid => break,
                State::Answer(_, after) if after > self.seen_zxid => break,
                State::Committed(zxid) => match self.own.remove(&zxid) {
                    Some(applied) => {
                        // Everything of this session before it is answered or never will be.
                        self.own = self.own.split_off(&zxid);
                        response(&head.request, &applied)
                    }
                    None => {
                        let why = format!("the write committed at {zxid} was not applied here");
                        self.flush(&mut replies, out);
                        return self.close(why, out);
                    }
                },
                State::Answer(code, _) => match (&head.request, code) {
                    (Request::Sync(r), ErrorCode::Ok) => (
                        ErrorCode::Ok,
                        Some(Response::Sync {
                            path: r.path.clone(),
                        }),
                    ),
                    (_, code) => (code, None),
                },
                State::Local => {
                    let Some(q) = self.queue.pop_front() else {
                        break;
                    };
                    let mut events = BytesMut::new();
                    let (code, body) = self.answer_local(&q.request, tree, &mut events);
                    replies.extend_from_slice(&events);
                    self.reply(&mut replies, q.xid, self.seen_zxid, code, body.as_ref());
                    if code == ErrorCode::AuthFailed {
                        self.flush(&mut replies, out);
                        return self.close("authentication failed".into(), out);
                    }
                    continue;
                }
            };
            let Some(q) = self.queue.pop_front() else {
                break;
            };
            let (code, body) = answer;
            self.reply(&mut replies, q.xid, reply_zxid, code, body.as_ref());
            if matches!(q.request, Request::CloseSession) {
                self.flush(&mut replies, out);
                return self.close("the session was closed".into(), out);
            }
        }
        self.flush(&mut replies, out);
    }

    fn flush(&self, replies: &mut BytesMut, out: &mut Vec<Output>) {
        if !replies.is_empty() {
            out.push(Output::Send(replies.split().freeze()));
        }
    }

    fn reply(
        &self,
        out: &mut BytesMut,
        xid: i32,
        zxid: i64,
        code: ErrorCode,
        body: Option<&Response>,
    ) {
        let header = crate::proto::ReplyHeader {
            xid,
            zxid,
            err: code.code(),
        };
        put_reply(out, header, |b| {
            if let Some(r) = body {
                r.write(b)
            }
        });
    }

    /// Answers a request the node answers itself; watch events it causes (setWatches) go
    /// into `events`, ahead of the reply.
    fn answer_local(
        &mut self,
        request: &Request,
        tree: &DataTree,
        events: &mut BytesMut,
    ) -> (ErrorCode, Option<Response>) {
        let ok = |r| (ErrorCode::Ok, Some(r));
        match request {
            Request::Ping => ok(Response::Empty),
            Request::Auth(a) => {
                match acl::authenticate(&a.scheme, &a.auth, self.super_digest.as_deref()) {
                    Ok(ids) => {
                        for id in ids {
                            if !self.ids.contains(&id) {
                                self.ids.push(id);
                            }
                        }
                        ok(Response::Empty)
                    }
                    Err(code) => (code, None),
                }
            }
            Request::WhoAmI => ok(Response::WhoAmI(
                self.ids
                    .iter()
                    .map(|id| ClientInfo {
                        auth_scheme: id.scheme.clone(),
                        user: id.id.clone(),
                    })
                    .collect(),
            )),
            Request::SetWatches(w) | Request::SetWatches2(w) => {
                self.set_watches(w, tree, events);
                ok(Response::Empty)
            }
            // Dynamic reconfiguration is ZooKeeper's own ensemble's; it is off there by default.
            Request::Reconfig(_) => (ErrorCode::ReconfigDisabled, None),
            Request::Sasl(_) => (ErrorCode::Unimplemented, None),
            _ => {
                if let Some(answer) = read(tree, self.session_id, &self.ids, request) {
                    after_read(&mut self.watches, SELF, request, &answer);
                    return match answer {
                        Ok(r) => ok(r),
                        Err(code) => (code, None),
                    };
                }
                match watch_request(&mut self.watches, SELF, request) {
                    Some(Ok(r)) => ok(r),
                    Some(Err(code)) => (code, None),
                    None => (ErrorCode::Unimplemented, None),
                }
            }
        }
    }

    /// Re-registers a reconnecting client's watches, firing at once those whose node changed
    /// after the zxid the client last saw (ZooKeeper's `DataTree.setWatches`).
    fn set_watches(&mut self, w: &SetWatches, tree: &DataTree, events: &mut BytesMut) {
        let rel = w.relative_zxid;
        let mut fire = |path: &str, event: EventType| {
            notification(
                events,
                &WatcherEvent {
                    event_type: event as i32,
                    state: KeeperState::SyncConnected as i32,
                    path: path.to_string(),
                },
            )
        };
        for p in &w.data {
            match tree.get(p) {
                None => fire(p, EventType::NodeDeleted),
                Some(n) if n.stat.mzxid > rel => fire(p, EventType::NodeDataChanged),
                Some(_) => self.watches.add_data(p, SELF),
            }
        }
        for p in &w.exist {
            match tree.get(p) {
                Some(_) => fire(p, EventType::NodeCreated),
                None => self.watches.add_data(p, SELF),
            }
        }
        for p in &w.child {
            match tree.get(p) {
                None => fire(p, EventType::NodeDeleted),
                Some(n) if n.stat.pzxid > rel => fire(p, EventType::NodeChildrenChanged),
                Some(_) => self.watches.add_child(p, SELF),
            }
        }
        for p in &w.persistent {
            self.watches.add_persistent(p, false, SELF);
        }
        for p in &w.persistent_recursive {
            self.watches.add_persistent(p, true, SELF);
        }
    }
}

/// Appends a watch notification frame (xid -1, zxid -1, as ZooKeeper sends them).
fn notification(out: &mut BytesMut, event: &WatcherEvent) {
    let header = crate::proto::ReplyHeader {
        xid: NOTIFICATION_XID,
        zxid: -1,
        err: 0,
    };
    put_reply(out, header, |b| event.write(b));
}

#[cfg(test)]
mod tests;
