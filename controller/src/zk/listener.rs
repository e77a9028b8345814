//! The ZooKeeper front's listener: accepts connections (at most `maxClientCnxns` per client
//! IP, as ZooKeeper counts them), runs one task per connection, and sends the sessions heard
//! from to the active controller once per `tickTime`, in one batch.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};

use super::connection::serve_connection;
use super::feed::ZkFeed;
use super::{Heard, ZkFrontSettings, ZkSink};
use crate::control::zk::{ZkCall, ZkOp};

/// What every connection task shares.
pub(crate) struct Front {
    pub(crate) settings: ZkFrontSettings,
    pub(crate) feed: ZkFeed,
    pub(crate) sink: ZkSink,
    pub(crate) heard: Heard,
    /// Open connections per client IP.
    pub(crate) per_ip: Mutex<HashMap<IpAddr, usize>>,
    /// Packets received and sent, for `srvr`.
    pub(crate) received: AtomicU64,
    pub(crate) sent: AtomicU64,
    /// The open connections past their handshake, for `cons`, `wchs` and `mntr`.
    pub(crate) conns: Mutex<HashMap<u64, ConnInfo>>,
    next_conn_id: AtomicU64,
    /// When the listener started, for `mntr`'s uptime.
    started: std::time::Instant,
}

/// What the four-letter words show of one connection.
#[derive(Debug, Clone, Default)]
pub(crate) struct ConnInfo {
    pub(crate) peer: Option<std::net::SocketAddr>,
    pub(crate) session_id: i64,
    pub(crate) received: u64,
    pub(crate) sent: u64,
    pub(crate) queued: usize,
    pub(crate) watches: usize,
    pub(crate) watched_paths: usize,
}

impl Front {
    pub(crate) fn connections(&self) -> usize {
        self.per_ip.lock().map_or(0, |m| m.values().sum())
    }

    /// Milliseconds since the listener started.
    pub(crate) fn uptime_ms(&self) -> u128 {
        self.started.elapsed().as_millis()
    }

    /// Registers a connection past its handshake; the id to update and remove it with.
    pub(crate) fn register(&self, info: ConnInfo) -> u64 {
        let id = self.next_conn_id.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut m) = self.conns.lock() {
            m.insert(id, info);
        }
        id
    }

    /// Updates a registered connection.
    pub(crate) fn update(&self, id: u64, f: impl FnOnce(&mut ConnInfo)) {
        if let Ok(mut m) = self.conns.lock() {
            if let Some(info) = m.get_mut(&id) {
                f(info);
            }
        }
    }

    /// Forgets a connection.
    pub(crate) fn unregister(&self, id: u64) {
        if let Ok(mut m) = self.conns.lock() {
            m.remove(&id);
        }
    }

    /// A copy of every registered connection.
    pub(crate) fn snapshot(&self) -> Vec<ConnInfo> {
        self.conns
            .lock()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }
}

/// A connection's place in the per-IP count, given back when the task ends.
struct Slot {
    front: Arc<Front>,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut m) = self.front.per_ip.lock() {
            if let Some(n) = m.get_mut(&self.ip) {
                *n -= 1;
                if *n == 0 {
                    m.remove(&self.ip);
                }
            }
        }
    }
}

/// Serves ZooKeeper clients on `listener` until `shutdown` turns true.
pub async fn serve(
    listener: TcpListener,
    settings: ZkFrontSettings,
    feed: ZkFeed,
    sink: ZkSink,
    mut shutdown: watch::Receiver<bool>,
) {
    let front = Arc::new(Front {
        settings,
        feed,
        sink,
        heard: Heard::default(),
        per_ip: Mutex::new(HashMap::new()),
        received: AtomicU64::new(0),
        sent: AtomicU64::new(0),
        conns: Mutex::new(HashMap::new()),
        next_conn_id: AtomicU64::new(0),
        started: std::time::Instant::now(),
    });
    tokio::spawn(touch_sessions(Arc::clone(&front), shutdown.clone()));
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!("ZooKeeper listener: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        let limit = front.settings.max_client_cnxns;
        let admitted = front.per_ip.lock().is_ok_and(|mut m| {
            let n = m.entry(peer.ip()).or_insert(0);
            if limit != 0 && *n >= limit {
                return false;
            }
            *n += 1;
            true
        });
        if !admitted {
            // ZooKeeper closes such a connection at once, with a warning.
            tracing::warn!(
                "too many ZooKeeper connections from {} (maxClientCnxns {limit}); closing",
                peer.ip()
            );
            continue;
        }
        let slot = Slot {
            front: Arc::clone(&front),
            ip: peer.ip(),
        };
        let front = Arc::clone(&front);
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let _slot = slot;
            if let Err(why) = serve_connection(stream, peer, &front, shutdown).await {
                tracing::info!("closed the ZooKeeper connection from {peer}: {why}");
            }
        });
    }
}

/// Once per tick, tells the active controller which sessions were heard from.
async fn touch_sessions(front: Arc<Front>, mut shutdown: watch::Receiver<bool>) {
    let tick = Duration::from_millis(front.settings.limits.tick_time_ms.max(1) as u64);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = shutdown.changed() => return,
        }
        let session_ids = front.heard.take();
        if session_ids.is_empty() {
            continue;
        }
        let (reply, rx) = oneshot::channel();
        let op = ZkOp::Touch { session_ids };
        if (front.sink)(ZkCall { op, reply }).is_err() {
            return;
        }
        // The answer only says it was taken; a node without an active controller retries
        // with the next tick's sessions (a session heard again is in that batch too).
        let _ = rx.await;
    }
}

/// Counts a packet received (for `srvr`).
pub(crate) fn count_received(front: &Front) {
    front.received.fetch_add(1, Ordering::Relaxed);
}

/// Counts a packet sent (for `srvr`).
pub(crate) fn count_sent(front: &Front, n: u64) {
    front.sent.fetch_add(n, Ordering::Relaxed);
}
