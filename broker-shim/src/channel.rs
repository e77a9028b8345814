//! [`ControllerChannel`]: the broker's connection to the active controller, for its own
//! registration and heartbeats and for the admin requests its clients send. It finds the
//! active controller among the voters (a standby answers NOT_CONTROLLER), follows it across
//! failovers, and retries only what is safe to retry: a request that never reached a
//! controller, or one a standby refused without acting on it. A write whose outcome is
//! unknown (the connection died after sending, or the controller lost leadership before the
//! write committed) is answered to the client as NOT_CONTROLLER, which Kafka clients retry.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use kafka_protocol::messages::{ApiKey, RequestKind, ResponseKind};
use metaquorum_controller::apis::{error_codes, error_response, OUTCOME_UNKNOWN_MESSAGE};
use metaquorum_controller::config::HostPort;
use metaquorum_controller::control::errors::ErrorCode;
use metaquorum_controller::net::client::{ClientError, KafkaClient};
use metaquorum_controller::raft::NodeId;

/// Pause after every voter was tried without finding the active controller.
const ROUND_BACKOFF_MS: u64 = 50;

/// Why a call through the channel failed.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// No active controller answered before the deadline.
    #[error("no active controller answered within {0} ms")]
    NoController(u64),
    /// The request reached a controller but its outcome is unknown.
    #[error("the outcome of the request is unknown: {0}")]
    OutcomeUnknown(String),
}

/// How a response relates to the controller that sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// An answer from the active controller (successful or not).
    Final,
    /// A standby refused without acting: try the next controller.
    NotActive,
    /// The controller lost leadership with the write in flight.
    OutcomeUnknown,
}

/// See the module documentation.
pub struct ControllerChannel {
    voters: BTreeMap<NodeId, HostPort>,
    client_id: String,
    /// Timeout of connecting and of each request.
    request_timeout_ms: u64,
    /// The controller last found active, and a connection to it.
    current: Option<(NodeId, KafkaClient)>,
    /// Where to look next.
    cursor: usize,
}

impl ControllerChannel {
    /// A channel to the given voters.
    pub fn new(
        voters: BTreeMap<NodeId, HostPort>,
        client_id: String,
        request_timeout_ms: u64,
    ) -> Self {
        ControllerChannel {
            voters,
            client_id,
            request_timeout_ms,
            current: None,
            cursor: 0,
        }
    }

    /// The controller the channel is connected to, if any.
    pub fn controller_id(&self) -> Option<NodeId> {
        self.current.as_ref().map(|(id, _)| *id)
    }

    /// Points the channel at `leader` (learned from the Raft layer) for the next call.
    pub fn hint_leader(&mut self, leader: NodeId) {
        if self.controller_id() != Some(leader) {
            self.current = None;
            if let Some(i) = self.voters.keys().position(|id| *id == leader) {
                self.cursor = i;
            }
        }
    }

    async fn connect_next(&mut self) -> Option<(NodeId, KafkaClient)> {
        let (id, hp) = self
            .voters
            .iter()
            .nth(self.cursor % self.voters.len().max(1))
            .map(|(id, hp)| (*id, hp.to_string()))?;
        self.cursor = self.cursor.wrapping_add(1);
        match KafkaClient::connect(&hp, self.request_timeout_ms).await {
            Ok(mut c) => {
                c.set_client_id(self.client_id.clone());
                Some((id, c))
            }
            Err(e) => {
                tracing::debug!("controller {id} at {hp}: {e}");
                None
            }
        }
    }

    /// Sends `request` at `version` to the active controller and returns its answer, trying
    /// controllers until `within` has passed. See the module documentation for retries.
    pub async fn call(
        &mut self,
        api: ApiKey,
        version: i16,
        request: &RequestKind,
        within: Duration,
    ) -> Result<ResponseKind, ChannelError> {
        let deadline = Instant::now() + within;
        let mut tried_in_round = 0;
        loop {
            if Instant::now() >= deadline {
                return Err(ChannelError::NoController(within.as_millis() as u64));
            }
            let (id, mut client) = match self.current.take() {
                Some(c) => c,
                None => match self.connect_next().await {
                    Some(c) => c,
                    None => {
                        tried_in_round += 1;
                        if tried_in_round >= self.voters.len() {
                            tried_in_round = 0;
                            tokio::time::sleep(Duration::from_millis(ROUND_BACKOFF_MS)).await;
                        }
                        continue;
                    }
                },
            };
            match client.send_kind(api, version, request).await {
                Ok(response) => match classify(&response) {
                    Answer::Final => {
                        self.current = Some((id, client));
                        return Ok(response);
                    }
                    Answer::NotActive => {
                        tried_in_round += 1;
                        if tried_in_round >= self.voters.len() {
                            tried_in_round = 0;
                            tokio::time::sleep(Duration::from_millis(ROUND_BACKOFF_MS)).await;
                        }
                    }
                    Answer::OutcomeUnknown => return Ok(response),
                },
                Err(e @ (ClientError::Io { .. } | ClientError::Timeout { .. })) => {
                    // Sent, but no answer: it may have been applied.
                    return Err(ChannelError::OutcomeUnknown(format!(
                        "controller {id}: {e}"
                    )));
                }
                Err(e) => {
                    tracing::debug!("controller {id}: {e}");
                }
            }
        }
    }
}

/// NOT_CONTROLLER in every part of a response means a non-active controller answered.
fn classify(response: &ResponseKind) -> Answer {
    let not_controller = ErrorCode::NotController.code();
    let codes = error_codes(response);
    if codes.is_empty() || codes.iter().any(|(c, _)| *c != not_controller) {
        return Answer::Final;
    }
    if codes
        .iter()
        .any(|(_, m)| m.is_some_and(|m| m == OUTCOME_UNKNOWN_MESSAGE))
    {
        Answer::OutcomeUnknown
    } else {
        Answer::NotActive
    }
}

/// The response a client gets when its request could not be forwarded: `NOT_CONTROLLER`
/// (retriable) for an unknown outcome, `REQUEST_TIMED_OUT` when no controller answered.
pub fn forwarding_error(request: &RequestKind, error: &ChannelError) -> Option<ResponseKind> {
    let (code, message) = match error {
        ChannelError::NoController(_) => (ErrorCode::RequestTimedOut, error.to_string()),
        ChannelError::OutcomeUnknown(_) => (ErrorCode::NotController, error.to_string()),
    };
    error_response(request, code, &message)
}

#[cfg(test)]
mod tests {
    //! The forwarding rules against controllers played on real loopback sockets: what is
    //! retried on another controller, and what is never retried because it may have happened.

    use std::net::SocketAddr;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use kafka_protocol::messages::create_topics_request::CreatableTopic;
    use kafka_protocol::messages::{CreateTopicsRequest, TopicName};
    use metaquorum_controller::apis::{decode_metadata_request, CONTROLLER_API_TABLE};
    use metaquorum_controller::net::server::{serve, Handler, HandlerFuture, Reply, ServerLimits};
    use metaquorum_controller::net::wire::{encode_response_kind, RawRequest};
    use tokio::sync::watch;

    use super::*;

    /// How a played controller answers.
    #[derive(Clone, Copy)]
    enum Play {
        /// The active controller: success.
        Active,
        /// A standby: NOT_CONTROLLER, nothing done.
        Standby,
        /// Lost leadership with the write in flight: NOT_CONTROLLER, outcome unknown.
        LostLeadership,
        /// Reads the request, then drops the connection without answering.
        Vanish,
    }

    struct Played {
        play: Play,
        calls: Arc<AtomicUsize>,
    }

    impl Handler for Played {
        fn handle(&self, request: RawRequest, peer: SocketAddr) -> HandlerFuture {
            // ApiVersions, as a real controller answers it.
            if let Some(reply) = CONTROLLER_API_TABLE.gate(&request, peer) {
                return Box::pin(async move { reply });
            }
            self.calls.fetch_add(1, Ordering::SeqCst);
            let (api, version, cid) = (request.api, request.version, request.correlation_id);
            let decoded = decode_metadata_request(request).expect("a metadata request");
            let (code, message) = match self.play {
                Play::Active => (ErrorCode::None, ""),
                Play::Standby => (ErrorCode::NotController, "The active controller is node 2."),
                Play::LostLeadership => (ErrorCode::NotController, OUTCOME_UNKNOWN_MESSAGE),
                Play::Vanish => {
                    return Box::pin(async { Reply::Close("played: vanish".into()) });
                }
            };
            let response = error_response(&decoded, code, message).expect("a response");
            let bytes = encode_response_kind(api, cid, version, &response).expect("encodes");
            Box::pin(async move { Reply::Respond(bytes) })
        }
    }

    /// Starts a played controller on loopback; its address and call counter.
    async fn controller(
        play: Play,
        shutdown: watch::Receiver<bool>,
    ) -> (HostPort, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let calls = Arc::new(AtomicUsize::new(0));
        let handler = Arc::new(Played {
            play,
            calls: Arc::clone(&calls),
        });
        tokio::spawn(serve(listener, handler, ServerLimits::default(), shutdown));
        let hp = HostPort {
            host: "127.0.0.1".into(),
            port,
        };
        (hp, calls)
    }

    /// A loopback port nothing listens on.
    async fn dead_port() -> HostPort {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        HostPort {
            host: "127.0.0.1".into(),
            port,
        }
    }

    fn create_topic() -> RequestKind {
        RequestKind::CreateTopics(CreateTopicsRequest::default().with_topics(vec![
            CreatableTopic::default()
                .with_name(TopicName("t".into()))
                .with_num_partitions(1)
                .with_replication_factor(1),
        ]))
    }

    async fn forward(
        voters: BTreeMap<NodeId, HostPort>,
        within: Duration,
    ) -> Result<ResponseKind, ChannelError> {
        let mut channel = ControllerChannel::new(voters, "test".into(), 1_000);
        channel
            .call(ApiKey::CreateTopics, 7, &create_topic(), within)
            .await
    }

    fn code(r: &ResponseKind) -> (i16, Option<String>) {
        let codes = error_codes(r);
        (codes[0].0, codes[0].1.map(str::to_string))
    }

    // A standby refused without acting, and a controller that could not be reached never saw
    // the write: both are safe to try on the next controller.
    #[tokio::test]
    async fn a_refusal_or_an_unreachable_controller_is_retried_on_the_next() {
        let (_stop, shutdown) = watch::channel(false);
        let (standby, standby_calls) = controller(Play::Standby, shutdown.clone()).await;
        let (active, active_calls) = controller(Play::Active, shutdown.clone()).await;
        let voters = BTreeMap::from([
            (NodeId(1), dead_port().await),
            (NodeId(2), standby),
            (NodeId(3), active),
        ]);
        let r = forward(voters, Duration::from_secs(10))
            .await
            .expect("answered");
        assert_eq!(code(&r).0, 0);
        assert!(standby_calls.load(Ordering::SeqCst) >= 1);
        assert_eq!(active_calls.load(Ordering::SeqCst), 1);
    }

    // A controller that lost leadership with the write in flight answers NOT_CONTROLLER with
    // "outcome unknown": passed to the client as it is (Kafka clients retry NOT_CONTROLLER
    // themselves), never sent to another controller by the broker.
    #[tokio::test]
    async fn a_write_whose_outcome_is_unknown_is_never_retried() {
        let (_stop, shutdown) = watch::channel(false);
        let (lost, lost_calls) = controller(Play::LostLeadership, shutdown.clone()).await;
        let (active, active_calls) = controller(Play::Active, shutdown.clone()).await;
        let voters = BTreeMap::from([(NodeId(1), lost), (NodeId(2), active)]);
        let r = forward(voters, Duration::from_secs(10))
            .await
            .expect("answered");
        assert_eq!(
            code(&r),
            (
                ErrorCode::NotController.code(),
                Some(OUTCOME_UNKNOWN_MESSAGE.to_string())
            )
        );
        assert_eq!(lost_calls.load(Ordering::SeqCst), 1);
        assert_eq!(active_calls.load(Ordering::SeqCst), 0);
    }

    // A connection that dies after the request was sent: it may have been applied, so the
    // broker does not send it again; the client gets NOT_CONTROLLER (retriable).
    #[tokio::test]
    async fn a_request_sent_without_an_answer_is_never_retried() {
        let (_stop, shutdown) = watch::channel(false);
        let (vanish, vanish_calls) = controller(Play::Vanish, shutdown.clone()).await;
        let (active, active_calls) = controller(Play::Active, shutdown.clone()).await;
        let voters = BTreeMap::from([(NodeId(1), vanish), (NodeId(2), active)]);
        let e = forward(voters, Duration::from_secs(10))
            .await
            .expect_err("outcome unknown");
        assert!(matches!(e, ChannelError::OutcomeUnknown(_)), "{e}");
        assert_eq!(vanish_calls.load(Ordering::SeqCst), 1);
        assert_eq!(active_calls.load(Ordering::SeqCst), 0);
        let answer = forwarding_error(&create_topic(), &e).expect("an answer for the client");
        assert_eq!(code(&answer).0, ErrorCode::NotController.code());
    }

    // With no controller reachable, the call ends at its deadline with REQUEST_TIMED_OUT for
    // the client, instead of waiting forever.
    #[tokio::test]
    async fn no_reachable_controller_ends_at_the_deadline() {
        let voters = BTreeMap::from([
            (NodeId(1), dead_port().await),
            (NodeId(2), dead_port().await),
        ]);
        let started = Instant::now();
        let e = forward(voters, Duration::from_millis(300))
            .await
            .expect_err("no controller");
        assert!(matches!(e, ChannelError::NoController(300)), "{e}");
        assert!(started.elapsed() < Duration::from_secs(10));
        let answer = forwarding_error(&create_topic(), &e).expect("an answer for the client");
        assert_eq!(code(&answer).0, ErrorCode::RequestTimedOut.code());
    }
}
