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
