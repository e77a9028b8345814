//! Test support: a scripted Kafka-protocol server on loopback, for running the admin commands
//! over real sockets before the real controller serves their RPCs. It answers ApiVersions with
//! the APIs it is given and hands every other request to a closure.

use std::net::SocketAddr;
use std::sync::Arc;

use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{ApiKey, ApiVersionsResponse};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion};
use metaquorum_controller::net::server::{serve, Handler, HandlerFuture, Reply, ServerLimits};
use metaquorum_controller::net::wire::{decode_body, encode_response, RawRequest};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Answers one request (never ApiVersions, which the server answers itself).
pub type Script = Arc<dyn Fn(&RawRequest) -> Reply + Send + Sync>;

/// A running fake controller; dropping it stops the listener.
pub struct FakeController {
    /// `127.0.0.1:port`.
    pub addr: String,
    _shutdown: watch::Sender<bool>,
}

struct Scripted {
    apis: Vec<(ApiKey, i16)>,
    script: Script,
}

impl Handler for Scripted {
    fn handle(&self, request: RawRequest, _peer: SocketAddr) -> HandlerFuture {
        let reply = if request.api == ApiKey::ApiVersions {
            let keys = self
                .apis
                .iter()
                .chain([(ApiKey::ApiVersions, 3)].iter())
                .map(|(k, max)| {
                    ApiVersion::default()
                        .with_api_key(*k as i16)
                        .with_min_version(0)
                        .with_max_version(*max)
                })
                .collect();
            respond(
                &request,
                &ApiVersionsResponse::default().with_api_keys(keys),
            )
        } else {
            (self.script)(&request)
        };
        Box::pin(async move { reply })
    }
}

/// Binds a listener on loopback; the port is known before the script is, so that scripts can
/// name their own address.
pub async fn listener() -> (TcpListener, String) {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("local addr").to_string();
    (l, addr)
}

/// Serves `apis` (with their newest versions) on `listener`, answering with `script`.
pub fn start(
    listener: (TcpListener, String),
    apis: &[(ApiKey, i16)],
    script: Script,
) -> FakeController {
    let (tx, rx) = watch::channel(false);
    let handler = Arc::new(Scripted {
        apis: apis.to_vec(),
        script,
    });
    tokio::spawn(serve(listener.0, handler, ServerLimits::default(), rx));
    FakeController {
        addr: listener.1,
        _shutdown: tx,
    }
}

/// The encoded `response` to `request`.
pub fn respond<R: Encodable + HeaderVersion>(request: &RawRequest, response: &R) -> Reply {
    match encode_response(
        "response",
        request.correlation_id,
        request.version,
        response,
    ) {
        Ok(b) => Reply::Respond(b),
        Err(e) => Reply::Close(e.to_string()),
    }
}

/// The request's body, decoded; panics (failing the test) if it does not decode.
pub fn decode<R: Decodable>(request: &RawRequest) -> R {
    let mut body = request.body.clone();
    decode_body("request", &mut body, request.version).expect("the request decodes")
}
