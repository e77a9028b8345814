//! The simulator's transport: how the real one behaves, modelled, so the schedules it allows
//! (and only those) are explored.
//!
//! In [`Transport::Tcp`] mode, which mirrors `net/peer.rs` and `net/server.rs`:
//! - a node sends its requests to a peer on its own connection to that peer, and the answers
//!   come back on that connection: a response never travels on a connection of its own;
//! - each direction of a connection is FIFO;
//! - the server reads up to [`IN_FLIGHT_MAX`] requests of a connection ahead and writes their
//!   answers strictly in request order, so a request the core never answers holds back every
//!   later answer on that connection (as the real server's `FuturesOrdered` does);
//! - a crashed process refuses connections: the peers that had one, or try to open one, are told
//!   (`peer_unreachable`), as the real peer task tells its driver;
//! - a partition either drops packets silently (DROP: what is sent waits, as TCP retransmits,
//!   and arrives in order once the partition heals, unless a side closes the connection first)
//!   or resets connections and refuses new ones (REJECT, as `iptables -j REJECT --reject-with
//!   tcp-reset` does: indistinguishable from a dead process at the other end);
//! - a client may close a connection whose oldest request has waited longer than its request
//!   timeout, dropping whatever was in flight on it.
//!
//! [`Transport::Datagram`] mode is the older, harsher model: every message travels alone and may
//! be lost, duplicated or reordered. The core must stay safe under it too.

use metaquorum_log::Epoch;
use std::collections::{BTreeMap, VecDeque};

use metaquorum_controller::raft::{Message, Millis, NodeId};

use super::{Event, Sim};

/// Requests a server reads ahead on one connection (`ServerLimits::in_flight_max`).
pub const IN_FLIGHT_MAX: usize = 64;

/// How messages travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Connections as the real transport makes them; see the module documentation.
    Tcp,
    /// Independent messages: loss, duplication and reordering.
    Datagram,
}

/// How a blocked link fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Block {
    /// Packets vanish; connections hang until someone times out.
    Drop,
    /// Connections are reset and new ones refused.
    Reject,
}

/// One connection, opened by `client` to `server`.
#[derive(Debug)]
pub(super) struct Conn {
    /// Unique among every connection of the run: events of a closed connection are void.
    pub gen: u64,
    /// Delivery time of the last message towards the server (FIFO).
    pub last_to_server: Millis,
    /// Delivery time of the last message towards the client (FIFO).
    pub last_to_client: Millis,
    /// Requests the server has read, oldest first, with the time each was read; answers leave
    /// in this order.
    pub awaiting: VecDeque<(u64, Millis)>,
    /// Answers ready but held behind an older unanswered request.
    pub held: BTreeMap<u64, Message>,
    /// Requests arrived but not yet read (the server reads `IN_FLIGHT_MAX` ahead).
    pub unread: VecDeque<(u64, Message)>,
    /// Client side: requests sent and not yet answered, by correlation id, with the send time.
    pub outstanding: BTreeMap<u64, Millis>,
    /// Requests sent into a DROP partition: TCP delivers them, in order, once it heals.
    pub stalled_to_server: VecDeque<(u64, Message)>,
    /// Answers sent into a DROP partition.
    pub stalled_to_client: VecDeque<(u64, Message)>,
}

/// A connection named in an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ConnRef {
    pub client: NodeId,
    pub server: NodeId,
    pub gen: u64,
}

impl Sim {
    fn is_up(&self, id: NodeId) -> bool {
        self.nodes.get(&id).is_some_and(|n| n.node.is_some())
    }

    /// The blocking, if any, of messages from `from` to `to`.
    pub(super) fn block(&self, from: NodeId, to: NodeId) -> Option<Block> {
        if !self.faults_on {
            return None;
        }
        self.blocked.get(&(from, to)).copied()
    }

    /// Whether `a` would see its connection to `b` refused (the process is gone, or a REJECT
    /// partition sits between them in either direction).
    fn refused(&self, a: NodeId, b: NodeId) -> bool {
        !self.is_up(b)
            || self.block(a, b) == Some(Block::Reject)
            || self.block(b, a) == Some(Block::Reject)
    }

    /// The client's transport tells its core that `server` refuses connections.
    fn report_unreachable(&mut self, client: NodeId, server: NodeId) {
        let Some(node) = self.nodes.get(&client) else {
            return;
        };
        if node.node.is_none() {
            return;
        }
        let incarnation = node.incarnation;
        let epoch = node.core().map_or(Epoch::ZERO, |c| c.epoch());
        let t = self.now + 1;
        self.schedule(
            t,
            Event::Unreachable {
                node: client,
                incarnation,
                peer: server,
                epoch,
            },
        );
    }

    /// Closes a connection: whatever is in flight on it is lost. The client's transport
    /// reconnects at once, so it learns straight away whether the server refuses.
    pub(super) fn close_conn(&mut self, client: NodeId, server: NodeId, why: &str) {
        if self.conns.remove(&(client, server)).is_none() {
            return;
        }
        self.note(|| format!("connection {client}->{server} closed: {why}"));
        if self.refused(client, server) {
            self.report_unreachable(client, server);
        }
    }

    /// Closes every connection `id` takes part in (it crashed).
    pub(super) fn close_conns_of(&mut self, id: NodeId) {
        let keys: Vec<(NodeId, NodeId)> = self
            .conns
            .keys()
            .copied()
            .filter(|(c, s)| *c == id || *s == id)
            .collect();
        for (c, s) in keys {
            self.close_conn(c, s, "process gone");
        }
    }

    /// A REJECT partition was put between `a` and `b`: their connections are reset.
    pub(super) fn reset_between(&mut self, a: NodeId, b: NodeId) {
        self.close_conn(a, b, "reset");
        self.close_conn(b, a, "reset");
    }

    fn delay(&mut self) -> Millis {
        let (lo, hi) = if self.faults_on {
            self.cfg.faults.delay_ms
        } else {
            (1, 2)
        };
        self.rng.range(lo, hi)
    }

    /// Sends over the connection model.
    pub(super) fn send_tcp(&mut self, from: NodeId, to: NodeId, cid: u64, message: Message) {
        if message.is_request() {
            self.send_request(from, to, cid, message);
        } else {
            self.send_response(from, to, cid, message);
        }
    }

    fn send_request(&mut self, client: NodeId, server: NodeId, cid: u64, message: Message) {
        if self.refused(client, server) {
            // The connection is (or turns out to be) refused: the request goes nowhere.
            self.conns.remove(&(client, server));
            self.report_unreachable(client, server);
            return;
        }
        if !self.conns.contains_key(&(client, server)) {
            self.next_gen += 1;
            let gen = self.next_gen;
            self.conns.insert(
                (client, server),
                Conn {
                    gen,
                    last_to_server: 0,
                    last_to_client: 0,
                    awaiting: VecDeque::new(),
                    held: BTreeMap::new(),
                    unread: VecDeque::new(),
                    outstanding: BTreeMap::new(),
                    stalled_to_server: VecDeque::new(),
                    stalled_to_client: VecDeque::new(),
                },
            );
        }
        let now = self.now;
        let blocked = self.block(client, server) == Some(Block::Drop);
        let d = self.delay() + self.slow_extra(client);
        let timeout = self.cfg.peer_request_timeout_ms;
        let conn = self.conns.get_mut(&(client, server)).expect("just opened");
        let gen = conn.gen;
        conn.outstanding.insert(cid, now);
        let stalled = blocked || !conn.stalled_to_server.is_empty();
        let at = (now + d).max(conn.last_to_server);
        if !stalled {
            conn.last_to_server = at;
        }
        if let Some(t) = timeout {
            self.schedule(
                now + t,
                Event::ConnTimeout {
                    conn: ConnRef {
                        client,
                        server,
                        gen,
                    },
                    cid,
                },
            );
        }
        if stalled {
            let conn = self.conns.get_mut(&(client, server)).expect("open");
            conn.stalled_to_server.push_back((cid, message));
            return;
        }
        let c = ConnRef {
            client,
            server,
            gen,
        };
        self.schedule_on(c, at, server, cid, message);
    }

    /// Schedules a message's arrival at `to`, the client or the server end of connection `c`.
    fn schedule_on(&mut self, c: ConnRef, at: Millis, to: NodeId, cid: u64, message: Message) {
        let from = if to == c.server { c.client } else { c.server };
        self.schedule(
            at,
            Event::Deliver {
                from,
                to,
                to_incarnation: 0,
                cid,
                message,
                conn: Some(c),
            },
        );
    }

    fn send_response(&mut self, server: NodeId, client: NodeId, cid: u64, message: Message) {
        let Some(conn) = self.conns.get_mut(&(client, server)) else {
            self.note(|| {
                format!(
                    "{server}->{client} #{:x}: no connection for the answer",
                    cid & 0xffff_ffff
                )
            });
            return; // the connection the request came on is gone: so is its answer
        };
        if !conn.awaiting.iter().any(|(c, _)| *c == cid) {
            self.note(|| {
                format!(
                    "{server}->{client} #{:x}: answer to no request",
                    cid & 0xffff_ffff
                )
            });
            return;
        }
        conn.held.insert(cid, message);
        if conn.awaiting.front().is_some_and(|(c, _)| *c != cid) {
            let head = conn.awaiting.front().map(|(c, t)| (c & 0xffff_ffff, *t));
            self.note(|| {
                format!(
                    "{server}->{client} #{:x}: held behind {head:x?}",
                    cid & 0xffff_ffff
                )
            });
        }
        self.release_answers(client, server);
    }

    /// Sends the answers at the head of a connection's queue, in request order, and lets the
    /// server read on.
    fn release_answers(&mut self, client: NodeId, server: NodeId) {
        let now = self.now;
        let blocked = self.block(server, client) == Some(Block::Drop);
        loop {
            let d = self.delay() + self.slow_extra(server);
            let Some(conn) = self.conns.get_mut(&(client, server)) else {
                return;
            };
            let Some(&(head, _)) = conn.awaiting.front() else {
                break;
            };
            let Some(message) = conn.held.remove(&head) else {
                break;
            };
            conn.awaiting.pop_front();
            let gen = conn.gen;
            if blocked || !conn.stalled_to_client.is_empty() {
                conn.stalled_to_client.push_back((head, message));
                continue;
            }
            let at = (now + d).max(conn.last_to_client);
            conn.last_to_client = at;
            let c = ConnRef {
                client,
                server,
                gen,
            };
            self.schedule_on(c, at, client, head, message);
        }
        let Some(conn) = self.conns.get(&(client, server)) else {
            return;
        };
        if !conn.unread.is_empty() && conn.awaiting.len() < IN_FLIGHT_MAX {
            let gen = conn.gen;
            self.schedule(
                now,
                Event::ServerRead {
                    conn: ConnRef {
                        client,
                        server,
                        gen,
                    },
                },
            );
        }
    }

    /// Removes every partition. What was sent into a DROP partition travels on, in order, on
    /// the connections that are still open (TCP retransmits it).
    pub(super) fn heal_links(&mut self) {
        self.blocked.clear();
        let keys: Vec<(NodeId, NodeId)> = self.conns.keys().copied().collect();
        for (client, server) in keys {
            loop {
                let d = self.delay();
                let now = self.now;
                let conn = self.conns.get_mut(&(client, server)).expect("open");
                let gen = conn.gen;
                let (to, cid, message, at) =
                    if let Some((cid, m)) = conn.stalled_to_server.pop_front() {
                        let at = (now + d).max(conn.last_to_server);
                        conn.last_to_server = at;
                        (server, cid, m, at)
                    } else if let Some((cid, m)) = conn.stalled_to_client.pop_front() {
                        let at = (now + d).max(conn.last_to_client);
                        conn.last_to_client = at;
                        (client, cid, m, at)
                    } else {
                        break;
                    };
                let c = ConnRef {
                    client,
                    server,
                    gen,
                };
                self.schedule_on(c, at, to, cid, message);
            }
        }
    }

    /// A message reaches the end of its connection. Returns it if the receiver's core should
    /// step it now.
    pub(super) fn arrive_tcp(
        &mut self,
        c: ConnRef,
        to: NodeId,
        cid: u64,
        message: Message,
    ) -> Option<Message> {
        let conn = self.conns.get_mut(&(c.client, c.server))?;
        if conn.gen != c.gen {
            return None;
        }
        if to == c.server {
            if conn.awaiting.len() >= IN_FLIGHT_MAX || !conn.unread.is_empty() {
                conn.unread.push_back((cid, message));
                return None;
            }
            conn.awaiting.push_back((cid, self.now));
        } else {
            conn.outstanding.remove(&cid);
        }
        Some(message)
    }

    /// The server reads the next request waiting on a connection, if it may.
    pub(super) fn read_next(&mut self, c: ConnRef) -> Option<(u64, Message)> {
        let conn = self.conns.get_mut(&(c.client, c.server))?;
        if conn.gen != c.gen || conn.awaiting.len() >= IN_FLIGHT_MAX {
            return None;
        }
        let (cid, message) = conn.unread.pop_front()?;
        conn.awaiting.push_back((cid, self.now));
        if !conn.unread.is_empty() {
            let at = self.now;
            self.schedule(at, Event::ServerRead { conn: c });
        }
        Some((cid, message))
    }

    /// The client's request timeout fired for `cid`: if still unanswered, the client closes the
    /// connection (Kafka's `NetworkClient` does the same with a timed-out request).
    pub(super) fn request_timed_out(&mut self, c: ConnRef, cid: u64) {
        let Some(conn) = self.conns.get(&(c.client, c.server)) else {
            return;
        };
        if conn.gen == c.gen && conn.outstanding.contains_key(&cid) {
            self.close_conn(c.client, c.server, "request timed out");
        }
    }

    /// Connections whose oldest request has waited for an answer longer than `ms`, described.
    pub(super) fn stuck_connections(&self, ms: Millis) -> Vec<String> {
        self.conns
            .iter()
            .filter_map(|((c, sv), conn)| {
                let &(cid, since) = conn.awaiting.front()?;
                (self.now >= since + ms).then(|| {
                    format!(
                        "{c}->{sv}: request #{cid} unanswered since {since} ms, {} answers held behind it",
                        conn.held.len()
                    )
                })
            })
            .collect()
    }

    /// Extra send delay of a node made slow by a fault.
    pub(super) fn slow_extra(&self, id: NodeId) -> Millis {
        if self.faults_on && self.nodes.get(&id).is_some_and(|n| n.slow) {
            30
        } else {
            0
        }
    }
}
