//! Outbound connections to the other voters: one task and one connection per peer, carrying the
//! core's Raft requests and handing the responses back to the driver.
//!
//! Requests are pipelined; Kafka correlation ids (`i32`, per connection) are mapped back to the
//! core's `u64` ids. A failed connection drops what was in flight: the core times those requests
//! out and retries, so nothing here retries on its own. The queue to a peer is bounded; when it
//! is full, a message is dropped with a log line, which the core also survives.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_util::codec::Framed;

use super::frame::FrameCodec;
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
    /// Delivers one response to the driver.
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
        let mut pending: HashMap<i32, (u64, SentRequest)> = HashMap::new();
        let mut next_kafka_id: i32 = 0;
        let why = loop {
            let outgoing = match first.take() {
                Some(m) => Some(m),
                None => {
                    tokio::select! {
                        m = rx.recv() => match m {
                            Some(m) => Some(m),
                            None => return,
                        },
                        frame = framed.next() => {
                            match frame {
                                None => break "connection closed by peer".to_string(),
                                Some(Err(e)) => break e.to_string(),
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
                        pending.insert(kafka_id, (cid, sent));
                        if let Err(e) = framed.send(bytes).await {
                            break e.to_string();
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

fn handle_response<S: ResponseSink>(
    id: NodeId,
    frame: bytes::Bytes,
    pending: &mut HashMap<i32, (u64, SentRequest)>,
    sink: &S,
) -> Result<(), String> {
    let kafka_id = response_correlation_id(&frame).map_err(|e| e.to_string())?;
    let Some((cid, sent)) = pending.remove(&kafka_id) else {
        return Err(format!("response with unknown correlation id {kafka_id}"));
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
