//! The session handshake: what a node answers a `ConnectRequest` with, decided from the request,
//! the replicated sessions and how far this node has applied the log (reference §1.2).
//!
//! ZooKeeper's order: a client that has seen a later zxid than this node has applied is refused
//! without an answer (it moves on to another server, so a session never sees history go back);
//! the timeout is clamped to `[minSessionTimeout, maxSessionTimeout]`; a session id of 0 asks
//! for a new session; any other re-attaches if the session is open and the password matches,
//! and is otherwise told its session expired (timeout 0, id 0).
//!
//! One difference, on purpose: ZooKeeper drops the connection holding a session before it checks
//! a re-attaching client's password, so a wrong guess kicks the rightful client off
//! (`tests/tests/zookeeper_wire.rs` shows it). Here the password is checked first.

use bytes::Bytes;

use crate::proto::session::PASSWORD_BYTES;
use crate::proto::{ConnectRequest, ConnectResponse};
use crate::tree::DataTree;

/// ZooKeeper's default `tickTime`, in ms.
pub const TICK_TIME_MS_DEFAULT: i32 = 3_000;

/// The session timeout bounds, with ZooKeeper's names and defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimits {
    /// `tickTime`: the unit of the defaults below, in ms.
    pub tick_time_ms: i32,
    /// `minSessionTimeout` (default 2 × tickTime).
    pub min_session_timeout_ms: i32,
    /// `maxSessionTimeout` (default 20 × tickTime).
    pub max_session_timeout_ms: i32,
}

impl SessionLimits {
    /// The defaults for a `tickTime`.
    pub fn from_tick(tick_time_ms: i32) -> SessionLimits {
        SessionLimits {
            tick_time_ms,
            min_session_timeout_ms: tick_time_ms.saturating_mul(2),
            max_session_timeout_ms: tick_time_ms.saturating_mul(20),
        }
    }

    /// The timeout a client asking for `requested_ms` gets.
    pub fn negotiate(&self, requested_ms: i32) -> i32 {
        requested_ms.clamp(self.min_session_timeout_ms, self.max_session_timeout_ms)
    }
}

impl Default for SessionLimits {
    fn default() -> SessionLimits {
        SessionLimits::from_tick(TICK_TIME_MS_DEFAULT)
    }
}

/// What to do with a connection that sent a `ConnectRequest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handshake {
    /// Open a new session with this timeout: the active controller draws its id and password
    /// and replicates it; the node answers once it has applied it.
    NewSession {
        /// The negotiated timeout.
        timeout_ms: i32,
    },
    /// The session is open and the password matches: answer at once.
    Reattached(ConnectResponse),
    /// The session expired or the password is wrong: answer this, then close.
    Expired(ConnectResponse),
    /// The client has seen a later zxid than this node has applied: close without an answer.
    Behind {
        /// The client's last zxid.
        client_zxid: i64,
        /// This node's.
        applied_zxid: i64,
    },
}

/// Decides the handshake of `request` against the sessions in `tree`, which this node has
/// applied up to `applied_zxid` (the zxid its replies carry: the offset of the last record it
/// applied, of whatever kind).
pub fn accept(
    request: &ConnectRequest,
    tree: &DataTree,
    applied_zxid: i64,
    limits: &SessionLimits,
) -> Handshake {
    if request.last_zxid_seen > applied_zxid {
        return Handshake::Behind {
            client_zxid: request.last_zxid_seen,
            applied_zxid,
        };
    }
    let timeout_ms = limits.negotiate(request.timeout_ms);
    if request.session_id == 0 {
        return Handshake::NewSession { timeout_ms };
    }
    match tree.session(request.session_id) {
        Some(s) if passwords_match(&s.passwd, &request.passwd) => {
            Handshake::Reattached(ConnectResponse {
                protocol_version: 0,
                timeout_ms,
                session_id: request.session_id,
                passwd: s.passwd,
                read_only: request.read_only.map(|_| false),
            })
        }
        _ => Handshake::Expired(ConnectResponse::expired(request.read_only)),
    }
}

/// Compares passwords in time that does not depend on where they differ.
fn passwords_match(stored: &Bytes, given: &Bytes) -> bool {
    stored.len() == PASSWORD_BYTES
        && given.len() == PASSWORD_BYTES
        && stored
            .iter()
            .zip(given.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::txn::{apply, Txn, TxnHeader};

    fn request(session_id: i64, passwd: &[u8], last_zxid_seen: i64) -> ConnectRequest {
        ConnectRequest {
            protocol_version: 0,
            last_zxid_seen,
            timeout_ms: 100_000,
            session_id,
            passwd: Bytes::copy_from_slice(passwd),
            read_only: Some(false),
        }
    }

    #[test]
    fn timeouts_are_clamped_to_the_tick_based_bounds() {
        // The real ZooKeeper in tests/tests/zookeeper_wire.rs (tickTime 2000) gives the same.
        let limits = SessionLimits::from_tick(2_000);
        assert_eq!(limits.negotiate(100_000), 40_000);
        assert_eq!(limits.negotiate(10), 4_000);
        assert_eq!(limits.negotiate(18_000), 18_000);
        assert_eq!(SessionLimits::default().max_session_timeout_ms, 60_000);
    }

    #[test]
    fn sessions_are_created_reattached_refused_or_expired() {
        let mut tree = DataTree::new();
        let limits = SessionLimits::default();
        assert_eq!(
            accept(&request(0, &[0; 16], 0), &tree, tree.last_zxid(), &limits),
            Handshake::NewSession { timeout_ms: 60_000 }
        );
        let header = TxnHeader {
            session_id: 0x42,
            zxid: 5,
            time_ms: 0,
        };
        let open = Txn::CreateSession {
            timeout_ms: 30_000,
            passwd: Bytes::from_static(&[9; 16]),
        };
        apply(&mut tree, &header, &open);
        let Handshake::Reattached(r) = accept(
            &request(0x42, &[9; 16], 5),
            &tree,
            tree.last_zxid(),
            &limits,
        ) else {
            panic!("re-attach")
        };
        assert_eq!((r.session_id, &r.passwd[..]), (0x42, &[9u8; 16][..]));
        // A wrong password or an unknown session: expired, never a session.
        for (id, pw) in [(0x42, [8u8; 16]), (0x43, [9; 16])] {
            let h = accept(&request(id, &pw, 0), &tree, tree.last_zxid(), &limits);
            assert_eq!(h, Handshake::Expired(ConnectResponse::expired(Some(false))));
        }
        assert!(matches!(
            accept(
                &request(0x42, &[9; 15], 0),
                &tree,
                tree.last_zxid(),
                &limits
            ),
            Handshake::Expired(_)
        ));
        // A client ahead of this node is refused before anything else.
        assert_eq!(
            accept(
                &request(0x42, &[9; 16], 6),
                &tree,
                tree.last_zxid(),
                &limits
            ),
            Handshake::Behind {
                client_zxid: 6,
                applied_zxid: 5
            }
        );
    }
}
