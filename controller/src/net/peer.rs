//! Outbound connections to the other voters: one task and one connection per peer, carrying the
//! core's Raft requests and handing the responses back to the shell.
//!
//! Requests are pipelined; Kafka correlation ids (`i32`, per connection) are mapped back to the
//! core's `u64` ids. A failed connection drops what was in flight: the core times those requests
//! out and retries, so nothing here retries on its own. The queue to a peer is bounded; when it
//! is full, a message is dropped with a log line, which the core also survives.
//!
//! A peer answers a connection's requests in order, so one request it never answers would hold
//! back every later answer on the connection for good. As Kafka's `NetworkClient` does, a
//! connection whose oldest request has waited longer than the response timeout is closed (and
//! opened again at once).

use std::collections::HashMap;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_util::codec::Framed;

use super::frame::{FrameCodec, FrameError};
use super::raft_wire::{decode_raft_response, encode_raft_request, SentRequest};
use super::wire::{response_correlation_id, WireError};
use crate::raft::{Message, NodeId};

/// Messages queued to one peer at most.
pub const PEER_QUEUE_MAX: usize = 1024;
/// Largest response frame accepted from a peer (a Fetch of `fetch_bytes_max` plus headers).
pub const PEER_FRAME_BYTES_MAX: usize = 64 * 1024 * 1024;

/// Immediate reconnects after a lost connection before connecting lazily again.
const PROBES_MAX: u32 = 3;
/// Pause before an immediate reconnect.
const PROBE_PAUSE_MS: u64 = 5;

/// Where a peer's responses go: `(from, core correlation id, message)`.
pub trait ResponseSink: Send + Sync + 'static {
    /// Delivers one response to the shell.
    fn deliver(&self, from: NodeId, correlation_id: u64, message: Message);
    /// The peer refused a connection: no process listens on its port any more.
    fn unreachable(&self, _from: NodeId) {}
}

/// The sending half of a peer connection.
#[derive(Debug, Clone)]
pub struct PeerClient {
    id: NodeId,
    tx: mpsc::Sender<(u64, Message)>,
}

/// Static settings of peer connections.
#[derive(Debug, Clone)]
pub struct PeerSettings {
    /// The cluster id sent in every request.
    pub cluster_id: String,
    /// The client id sent in every request header.
    pub client_id: String,
    /// Connect timeout (`controller.quorum.request.timeout.ms`).
    pub connect_timeout_ms: u64,
    /// Pause after a failed connect (`controller.quorum.retry.backoff.ms`).
    pub retry_backoff_ms: u64,
    /// A connection whose oldest request has waited this long is closed: the request timeout
    /// plus the time a leader may hold a fetch (`RaftConfig::fetch_request_timeout_ms`).
    pub response_timeout_ms: u64,
}

impl PeerClient {
    /// Starts the task for peer `id` at `addr` (`host:port`).
    pub fn spawn<S: ResponseSink>(
        id: NodeId,
        addr: String,
        settings: PeerSettings,
        sink: std::sync::Arc<S>,
    ) -> PeerClient {
        let (tx, rx) = mpsc::channel(PEER_QUEUE_MAX);
        tokio::spawn(run(id, addr, settings, sink, rx));
        PeerClient { id, tx }
    }

    /// Queues a request; drops it (logged) if the queue is full or the task is gone.
    pub fn send(&self, correlation_id: u64, message: Message) {
        if let Err(e) = self.tx.try_send((correlation_id, message)) {
            tracing::debug!("dropping a message to node {}: {e}", self.id);
        }
    }
}

async fn run<S: ResponseSink>(
    id: NodeId,
    addr: String,
    settings: PeerSettings,
    sink: std::sync::Arc<S>,
    mut rx: mpsc::Receiver<(u64, Message)>,
) {
    let connect_timeout = Duration::from_millis(settings.connect_timeout_ms);
    let mut first: Option<(u64, Message)> = None;
    // After a lost connection, reconnect at once instead of waiting for the next message: a
    // refused connect tells a dead peer from a lost connection within milliseconds.
    let mut reconnect_now = false;
    // Immediate reconnects left before falling back to lazy ones (a peer that accepts and
    // closes at once must not make this loop spin).
    let mut probes_left = PROBES_MAX;
    loop {
        // Otherwise connect lazily, when there is something to send.
        if first.is_none() && !reconnect_now {
            match rx.recv().await {
                Some(m) => first = Some(m),
                None => return,
            }
        }
        let probing = std::mem::take(&mut reconnect_now);
        let stream = match tokio::time::timeout(connect_timeout, TcpStream::connect(&addr)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                tracing::debug!("node {id} at {addr}: connect failed: {e}");
                if e.kind() == std::io::ErrorKind::ConnectionRefused {
                    // Nothing listens on the peer's port: the process is gone.
                    sink.unreachable(id);
                }
                first = None;
                if !probing {
                    backoff_and_drain(&mut rx, settings.retry_backoff_ms).await;
                }
                continue;
            }
            Err(_) => {
                tracing::debug!("node {id} at {addr}: connect timed out");
                first = None;
                backoff_and_drain(&mut rx, settings.retry_backoff_ms).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let mut framed = Framed::new(stream, FrameCodec::new(PEER_FRAME_BYTES_MAX));
        let mut pending: HashMap<i32, Pending> = HashMap::new();
        let mut next_kafka_id: i32 = 0;
        let response_timeout = Duration::from_millis(settings.response_timeout_ms.max(1));
        let why = loop {
            let oldest = pending.values().map(|p| p.sent_at).min();
            let outgoing = match first.take() {
                Some(m) => Some(m),
                None => {
                    tokio::select! {
                        _ = sleep_until_timeout(oldest, response_timeout) => {
                            break Lost::ResponseTimeout(response_timeout.as_millis());
                        }
                        m = rx.recv() => match m {
                            Some(m) => Some(m),
                            None => return,
                        },
                        frame = framed.next() => {
                            match frame {
                                None => break Lost::ClosedByPeer,
                                Some(Err(e)) => break e.into(),
                                Some(Ok(f)) => {
                                    if let Err(e) = handle_response(id, f, &mut pending, &*sink) {
                                        break e;
                                    }
                                }
                            }
                            None
                        }
                    }
                }
            };
            if let Some((cid, message)) = outgoing {
                let kafka_id = next_kafka_id;
                next_kafka_id = next_kafka_id.wrapping_add(1) & i32::MAX;
                match encode_raft_request(
                    &message,
                    &settings.cluster_id,
                    kafka_id,
                    &settings.client_id,
                ) {
                    Ok((sent, bytes)) => {
                        pending.insert(
                            kafka_id,
                            Pending {
                                correlation_id: cid,
                                sent,
                                sent_at: tokio::time::Instant::now(),
                            },
                        );
                        if let Err(e) = framed.send(bytes).await {
                            break e.into();
                        }
                    }
                    Err(e) => tracing::error!("cannot encode {} to node {id}: {e}", message.name()),
                }
            }
        };
        tracing::debug!(
            "node {id} at {addr}: connection lost ({why}); {} requests in flight dropped",
            pending.len()
        );
        // A dying peer may still accept a connection or two before its listener closes: keep
        // probing a few times, never spinning.
        if next_kafka_id > 0 {
            probes_left = PROBES_MAX;
        }
        reconnect_now = probes_left > 0;
        if reconnect_now {
            probes_left -= 1;
            tokio::time::sleep(Duration::from_millis(PROBE_PAUSE_MS)).await;
        }
    }
}

/// A request sent on a connection and not yet answered.
struct Pending {
    /// The core's correlation id.
    correlation_id: u64,
    sent: SentRequest,
    sent_at: tokio::time::Instant,
}

/// Resolves when the oldest pending request (if any) has waited `timeout`.
async fn sleep_until_timeout(oldest: Option<tokio::time::Instant>, timeout: Duration) {
    match oldest {
        Some(t) => tokio::time::sleep_until(t + timeout).await,
        None => std::future::pending().await,
    }
}

/// Why a connection to a peer was dropped; logged.
#[derive(Debug, thiserror::Error)]
enum Lost {
    /// The peer closed it.
    #[error("connection closed by peer")]
    ClosedByPeer,
    /// A frame could not be read or written (oversized, truncated, I/O).
    #[error("{0}")]
    Frame(#[from] FrameError),
    /// The oldest request went unanswered for the response timeout.
    #[error("no response within {0} ms")]
    ResponseTimeout(u128),
    /// A response whose header cannot be read.
    #[error("unreadable response: {0}")]
    Unreadable(#[from] WireError),
    /// A response to no request in flight.
    #[error("response with unknown correlation id {0}")]
    UnknownCorrelationId(i32),
}

fn handle_response<S: ResponseSink>(
    id: NodeId,
    frame: bytes::Bytes,
    pending: &mut HashMap<i32, Pending>,
    sink: &S,
) -> Result<(), Lost> {
    let kafka_id = response_correlation_id(&frame)?;
    let Some(Pending {
        correlation_id: cid,
        sent,
        ..
    }) = pending.remove(&kafka_id)
    else {
        return Err(Lost::UnknownCorrelationId(kafka_id));
    };
    match decode_raft_response(sent, frame) {
        Ok(message) => sink.deliver(id, cid, message),
        // A response the core cannot use is as good as lost: it times the request out.
        Err(e @ WireError::ErrorAnswer { .. }) => {
            tracing::debug!("node {id}: {:?} refused: {e}", sent.api)
        }
        Err(e) => tracing::warn!("node {id}: unusable {:?} response: {e}", sent.api),
    }
    Ok(())
}

/// After a failed connect: wait the retry backoff, dropping what was queued meanwhile (stale by
/// the time a connection exists; the core resends what still matters).
async fn backoff_and_drain(rx: &mut mpsc::Receiver<(u64, Message)>, backoff_ms: u64) {
    tokio::time::sleep(Duration::from_millis(backoff_ms.max(1))).await;
    while rx.try_recv().is_ok() {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::{Epoch, Offset};
    use tokio::io::AsyncReadExt;

    struct NoSink;
    impl ResponseSink for NoSink {
        fn deliver(&self, _from: NodeId, _correlation_id: u64, _message: Message) {}
    }

    #[tokio::test]
    async fn a_connection_whose_request_goes_unanswered_is_closed_and_opened_again() {
        // A peer answers a connection's requests in order: one request it never answers would
        // hold back every later answer. The client gives up on the connection instead.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let settings = PeerSettings {
            cluster_id: "c".into(),
            client_id: "raft-client-1".into(),
            connect_timeout_ms: 1_000,
            retry_backoff_ms: 10,
            response_timeout_ms: 100,
        };
        let client = PeerClient::spawn(NodeId(2), addr, settings, std::sync::Arc::new(NoSink));
        client.send(
            7,
            Message::FetchRequest {
                replica_id: NodeId(1),
                current_leader_epoch: Epoch(1),
                fetch_offset: Offset(0),
                last_fetched_epoch: Epoch(0),
                max_bytes: 1024,
            },
        );
        let deadline = Duration::from_secs(10);
        let (mut first, _) = tokio::time::timeout(deadline, listener.accept())
            .await
            .expect("the client connects")
            .unwrap();
        // Read the request and never answer: the client must close the connection...
        let mut buf = vec![0u8; 4096];
        let closed = tokio::time::timeout(deadline, async {
            loop {
                match first.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        })
        .await;
        assert!(closed.is_ok(), "the unanswered connection was not closed");
        // ...and open a new one at once.
        tokio::time::timeout(deadline, listener.accept())
            .await
            .expect("the client reconnects")
            .unwrap();
    }
}
