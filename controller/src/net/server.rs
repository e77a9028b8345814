//! The Kafka-protocol listener, the mini-redis way: one task per connection, a semaphore capping
//! connections, bytes → frame → request → handler → response.
//!
//! A connection pipelines up to `in_flight_max` requests and answers them in request order, as
//! Kafka clients expect. A frame that cannot be read (oversized, truncated, unknown API key,
//! unsupported version, malformed header) closes only that connection, with the reason logged;
//! the handler decides what a bad body gets (usually Kafka's error code).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::FuturesOrdered;
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio_util::codec::Framed;

use super::frame::{FrameCodec, FrameError};
use super::wire::{read_request, RawRequest, WireError};

/// What a handler returns for one request.
pub type HandlerFuture = Pin<Box<dyn Future<Output = Reply> + Send>>;

/// The handler's answer to one request.
#[derive(Debug)]
pub enum Reply {
    /// Send this response (header and body, without the size prefix).
    Respond(Bytes),
    /// Close the connection, logging why (Kafka's answer to requests it cannot parse).
    Close(String),
}

/// Serves requests for the listener.
pub trait Handler: Send + Sync + 'static {
    /// Handles one request. Futures of one connection complete in any order; responses are
    /// written in request order.
    fn handle(&self, request: RawRequest, peer: std::net::SocketAddr) -> HandlerFuture;
}

/// Limits of one listener.
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    /// Largest request frame (`socket.request.max.bytes`).
    pub frame_bytes_max: usize,
    /// Open connections at most (`max.connections`).
    pub connections_max: usize,
    /// Requests in flight per connection.
    pub in_flight_max: usize,
    /// Idle connections are closed after this long (`connections.max.idle.ms`).
    pub idle_ms: u64,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            frame_bytes_max: super::frame::FRAME_BYTES_MAX_DEFAULT,
            connections_max: 1024,
            in_flight_max: 64,
            idle_ms: 600_000,
        }
    }
}

/// Accepts connections until `shutdown` turns true, each served on its own task.
pub async fn serve<H: Handler>(
    listener: TcpListener,
    handler: Arc<H>,
    limits: ServerLimits,
    mut shutdown: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(limits.connections_max));
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => return,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                // Out of file descriptors and the like: back off instead of spinning.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            tracing::warn!(
                "refusing connection from {peer}: {} connections open (max.connections)",
                limits.connections_max
            );
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let handler = Arc::clone(&handler);
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            if let Err(why) = serve_connection(stream, peer, handler, limits, shutdown).await {
                tracing::info!("closed connection from {peer}: {why}");
            }
            drop(permit);
        });
    }
}

/// Why the server closed a connection; logged with the client's address.
#[derive(Debug, thiserror::Error)]
enum Closed {
    /// A frame could not be read or written (oversized, truncated, I/O).
    #[error("{0}")]
    Frame(#[from] FrameError),
    /// A frame that is not a request this server can read.
    #[error("unreadable request: {0}")]
    UnreadableRequest(WireError),
    /// A handler asked for the connection to be closed, saying why.
    #[error("{0}")]
    ByHandler(String),
    /// Nothing arrived for the idle limit.
    #[error("idle for {0} ms")]
    Idle(u64),
}

async fn serve_connection<H: Handler>(
    stream: TcpStream,
    peer: std::net::SocketAddr,
    handler: Arc<H>,
    limits: ServerLimits,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), Closed> {
    let mut framed = Framed::new(stream, FrameCodec::new(limits.frame_bytes_max));
    let mut in_flight: FuturesOrdered<HandlerFuture> = FuturesOrdered::new();
    let idle = Duration::from_millis(limits.idle_ms);
    loop {
        let can_read = in_flight.len() < limits.in_flight_max;
        tokio::select! {
            frame = framed.next(), if can_read => {
                let frame = match frame {
                    None => return Ok(()),
                    Some(Err(e)) => return Err(e.into()),
                    Some(Ok(f)) => f,
                };
                match read_request(frame) {
                    Ok(request) => in_flight.push_back(handler.handle(request, peer)),
                    Err(e) => return Err(Closed::UnreadableRequest(e)),
                }
            }
            Some(reply) = in_flight.next(), if !in_flight.is_empty() => match reply {
                Reply::Respond(bytes) => framed.send(bytes).await?,
                Reply::Close(why) => return Err(Closed::ByHandler(why)),
            },
            _ = tokio::time::sleep(idle), if in_flight.is_empty() => {
                return Err(Closed::Idle(limits.idle_ms));
            }
            _ = shutdown.changed() => return Ok(()),
        }
    }
}
