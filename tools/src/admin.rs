//! What every admin command shares: the `--bootstrap-controller`/`--timeout-ms` options, a
//! session that sends each request to the active controller, and the errors and their
//! Kafka-style report.
//!
//! Finding the active controller: a request goes to the last known leader (at first, a bootstrap
//! address). If that controller answers NOT_CONTROLLER (error 41) or cannot be reached, the
//! session asks the controllers it knows for the leader (DescribeCluster with endpoint type 2,
//! KIP-919, which lists the voters and the leader's id; DescribeQuorum where DescribeCluster is
//! not served) and tries again there, backing off while no leader is known. Everything is bounded
//! by one deadline, `--timeout-ms` after the session starts: the session never loops forever.
//!
//! A write whose connection fails after it was sent is not resent (the first copy may have been
//! applied); the error says so. Reads are resent.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use clap::Args;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_quorum_request::{PartitionData, TopicData};
use kafka_protocol::messages::{
    ApiKey, CreateAclsResponse, CreateTopicsResponse, DeleteAclsResponse, DeleteTopicsResponse,
    DescribeAclsResponse, DescribeClusterRequest, DescribeClusterResponse, DescribeConfigsResponse,
    DescribeQuorumRequest, DescribeQuorumResponse, IncrementalAlterConfigsResponse,
    MetadataResponse, TopicName,
};
use kafka_protocol::protocol::{Request, StrBytes};
use metaquorum_controller::config::HostPort;
use metaquorum_controller::control::errors::ErrorCode;
use metaquorum_controller::net::client::KafkaClient;
use metaquorum_controller::net::raft_wire::METADATA_TOPIC;

/// How long one probe for the leader may take, at most.
const PROBE_TIMEOUT_MS: u64 = 5_000;
/// First wait between rounds while no leader is known; doubles up to [`BACKOFF_MAX_MS`].
const BACKOFF_MIN_MS: u64 = 100;
/// Longest wait between rounds.
const BACKOFF_MAX_MS: u64 = 1_000;
/// Controllers remembered from DescribeCluster answers, at most (a quorum has a handful).
const KNOWN_CONTROLLERS_MAX: usize = 64;

/// The connection options of every admin command.
#[derive(Debug, Clone, Args)]
pub struct ConnectArgs {
    /// Controllers to start from, host:port[,host:port...]; the tool follows them to the active
    /// one.
    #[arg(long = "bootstrap-controller", value_name = "HOST:PORT")]
    pub bootstrap_controller: String,
    /// Give up after this long without an answer from the active controller.
    #[arg(long = "timeout-ms", default_value_t = 30_000)]
    pub timeout_ms: u64,
}

/// Why an admin command failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The arguments are wrong; nothing was sent.
    #[error("{0}")]
    Usage(String),
    /// The controller answered with a Kafka error.
    #[error("{}", .message.clone().unwrap_or_else(|| format!("the controller answered with error code {code} and no message")))]
    Kafka {
        /// The error code.
        code: i16,
        /// The controller's message, if it sent one.
        message: Option<String>,
    },
    /// The controller does not serve the request at any version this tool can build.
    #[error("{addr} does not serve {api:?} at versions {min} to {max}, the ones this tool sends")]
    Unsupported {
        /// The controller.
        addr: String,
        /// The API.
        api: ApiKey,
        /// Oldest version this tool builds.
        min: i16,
        /// Newest version this tool builds.
        max: i16,
    },
    /// No active controller answered before the deadline.
    #[error("no active controller answered within {waited_ms} ms; last problem: {last}")]
    TimedOut {
        /// The whole wait.
        waited_ms: u64,
        /// What went wrong last.
        last: String,
    },
    /// A write was sent but its answer was lost; it was not resent.
    #[error("{api:?} was sent to {addr} but no answer came ({reason}); it may or may not have been applied, so it was not sent again")]
    Uncertain {
        /// The controller.
        addr: String,
        /// The API.
        api: ApiKey,
        /// What failed.
        reason: String,
    },
    /// A request this tool built does not encode at the chosen version (a bug here).
    #[error("cannot encode {api:?} v{version}: {reason}")]
    Encode {
        /// The API.
        api: ApiKey,
        /// The version.
        version: i16,
        /// Why.
        reason: String,
    },
    /// The answer does not fit the request (a missing entry, an unknown code).
    #[error("unexpected answer: {0}")]
    Protocol(String),
    /// Something failed on this machine before any request (the async runtime).
    #[error("{0}")]
    Local(String),
}

impl AdminError {
    /// A Kafka error from a response's code and optional message.
    pub fn kafka(code: i16, message: Option<&StrBytes>) -> AdminError {
        AdminError::Kafka {
            code,
            message: message.map(|m| m.to_string()).filter(|m| !m.is_empty()),
        }
    }

    /// `Err` for a non-zero error code, with the message if there is one.
    pub fn check(code: i16, message: Option<&StrBytes>) -> Result<(), AdminError> {
        if code == 0 {
            Ok(())
        } else {
            Err(AdminError::kafka(code, message))
        }
    }
}

/// Kafka's constant name for an error code (`TOPIC_ALREADY_EXISTS`), from the controller's
/// table, else from `kafka-protocol`'s, else `UNKNOWN_ERROR_CODE_<n>`.
pub fn error_name(code: i16) -> String {
    if let Some(e) = ErrorCode::from_code(code) {
        return e.name().to_string();
    }
    match ResponseError::try_from_code(code) {
        Some(ResponseError::Unknown(_)) | None => format!("UNKNOWN_ERROR_CODE_{code}"),
        Some(e) => upper_snake(&format!("{e:?}")),
    }
}

/// `UnsupportedEndpointType` → `UNSUPPORTED_ENDPOINT_TYPE`.
fn upper_snake(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 8);
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// The text a failed command prints: `{prefix}{message}`, then for a Kafka error its name on a
/// line of its own.
pub fn report(prefix: &str, err: &AdminError) -> String {
    match err {
        AdminError::Kafka { code, .. } => format!("{prefix}{err}\n{}", error_name(*code)),
        _ => format!("{prefix}{err}"),
    }
}

/// Runs an admin command's async body on a single-threaded runtime.
pub fn block_on<T>(body: impl Future<Output = Result<T, AdminError>>) -> Result<T, AdminError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| AdminError::Local(format!("cannot start the async runtime: {e}")))?
        .block_on(body)
}

/// What one kind of request needs from the session.
#[derive(Debug, Clone, Copy)]
pub struct Call {
    /// Oldest version the request can be built at (the fields this tool relies on exist).
    pub min_version: i16,
    /// Newest version this tool builds.
    pub max_version: i16,
    /// Whether the request may be sent again when its answer is lost: true for reads.
    pub idempotent: bool,
}

/// The version to send: the highest the controller advertises within `call`'s range. The
/// controller's oldest version is not known to the client; controllers serve from 0.
pub fn pick_version(server_max: Option<i16>, call: Call) -> Option<i16> {
    let v = server_max?.min(call.max_version);
    (v >= call.min_version).then_some(v)
}

/// A response that can say "not the active controller".
pub trait ControllerReply {
    /// Whether any error in the response is NOT_CONTROLLER.
    fn not_controller(&self) -> bool;
}

const NOT_CONTROLLER: i16 = ErrorCode::NotController.code();

impl ControllerReply for CreateTopicsResponse {
    fn not_controller(&self) -> bool {
        self.topics.iter().any(|t| t.error_code == NOT_CONTROLLER)
    }
}

impl ControllerReply for DeleteTopicsResponse {
    fn not_controller(&self) -> bool {
        self.responses
            .iter()
            .any(|t| t.error_code == NOT_CONTROLLER)
    }
}

impl ControllerReply for MetadataResponse {
    fn not_controller(&self) -> bool {
        self.error_code == NOT_CONTROLLER
            || self.topics.iter().any(|t| t.error_code == NOT_CONTROLLER)
    }
}

impl ControllerReply for DescribeConfigsResponse {
    fn not_controller(&self) -> bool {
        self.results.iter().any(|r| r.error_code == NOT_CONTROLLER)
    }
}

impl ControllerReply for IncrementalAlterConfigsResponse {
    fn not_controller(&self) -> bool {
        self.responses
            .iter()
            .any(|r| r.error_code == NOT_CONTROLLER)
    }
}

impl ControllerReply for CreateAclsResponse {
    fn not_controller(&self) -> bool {
        self.results.iter().any(|r| r.error_code == NOT_CONTROLLER)
    }
}

impl ControllerReply for DescribeAclsResponse {
    fn not_controller(&self) -> bool {
        self.error_code == NOT_CONTROLLER
    }
}

impl ControllerReply for DeleteAclsResponse {
    fn not_controller(&self) -> bool {
        self.filter_results
            .iter()
            .any(|r| r.error_code == NOT_CONTROLLER)
    }
}

/// What a controller said about the quorum: the leader's id (-1 if unknown) and the voters'
/// addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuorumView {
    /// The active controller, -1 if the answering node knows none.
    pub leader_id: i32,
    /// Every voter's `host:port`, by id.
    pub voters: BTreeMap<i32, String>,
}

impl QuorumView {
    /// The leader's address, if the leader is known and listed.
    pub fn leader_addr(&self) -> Option<&String> {
        self.voters.get(&self.leader_id)
    }

    /// From a DescribeCluster answer to endpoint type 2: `controller_id` and the controllers.
    pub fn from_describe_cluster(r: &DescribeClusterResponse) -> Result<QuorumView, AdminError> {
        AdminError::check(r.error_code, r.error_message.as_ref())?;
        let voters = r
            .brokers
            .iter()
            .filter_map(|b| {
                let port = u16::try_from(b.port).ok()?;
                let hp = HostPort {
                    host: b.host.to_string(),
                    port,
                };
                Some((b.broker_id.0, hp.to_string()))
            })
            .collect();
        Ok(QuorumView {
            leader_id: r.controller_id.0,
            voters,
        })
    }

    /// From a DescribeQuorum answer: the metadata partition's leader and the nodes' first
    /// listeners.
    pub fn from_describe_quorum(r: &DescribeQuorumResponse) -> Result<QuorumView, AdminError> {
        AdminError::check(r.error_code, r.error_message.as_ref())?;
        let p = r
            .topics
            .first()
            .and_then(|t| t.partitions.first())
            .ok_or_else(|| AdminError::Protocol("DescribeQuorum without a partition".into()))?;
        AdminError::check(p.error_code, p.error_message.as_ref())?;
        let voters = r
            .nodes
            .iter()
            .filter_map(|n| {
                let l = n.listeners.first()?;
                let hp = HostPort {
                    host: l.host.to_string(),
                    port: l.port,
                };
                Some((n.node_id.0, hp.to_string()))
            })
            .collect();
        Ok(QuorumView {
            leader_id: p.leader_id.0,
            voters,
        })
    }
}

/// The DescribeQuorum request for the metadata partition.
pub fn describe_quorum_request() -> DescribeQuorumRequest {
    DescribeQuorumRequest::default().with_topics(vec![TopicData::default()
        .with_topic_name(TopicName(StrBytes::from_static_str(METADATA_TOPIC)))
        .with_partitions(vec![PartitionData::default().with_partition_index(0)])])
}

/// DescribeCluster v1+ asking for controllers (KIP-919).
const DESCRIBE_CLUSTER: Call = Call {
    min_version: 1,
    max_version: 2,
    idempotent: true,
};

/// DescribeQuorum: every version carries the leader; v2 adds the nodes' listeners.
const DESCRIBE_QUORUM: Call = Call {
    min_version: 0,
    max_version: 2,
    idempotent: true,
};

/// Asks `client` who leads the quorum.
async fn quorum_view(client: &mut KafkaClient) -> Result<QuorumView, String> {
    if let Some(v) = pick_version(
        client.version_for(ApiKey::DescribeCluster),
        DESCRIBE_CLUSTER,
    ) {
        let req = DescribeClusterRequest::default().with_endpoint_type(2);
        let r: DescribeClusterResponse = client
            .send_at(ApiKey::DescribeCluster, v, &req)
            .await
            .map_err(|e| e.to_string())?;
        return QuorumView::from_describe_cluster(&r).map_err(|e| e.to_string());
    }
    let v = pick_version(client.version_for(ApiKey::DescribeQuorum), DESCRIBE_QUORUM).ok_or_else(
        || {
            format!(
                "{} serves neither DescribeCluster nor DescribeQuorum",
                client.addr()
            )
        },
    )?;
    let r: DescribeQuorumResponse = client
        .send_at(ApiKey::DescribeQuorum, v, &describe_quorum_request())
        .await
        .map_err(|e| e.to_string())?;
    QuorumView::from_describe_quorum(&r).map_err(|e| e.to_string())
}

/// Parses `host:port[,host:port...]`.
pub fn parse_bootstrap(list: &str) -> Result<Vec<String>, AdminError> {
    let addrs: Vec<String> = list
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            HostPort::parse(s)
                .map(|hp| hp.to_string())
                .map_err(|e| AdminError::Usage(format!("--bootstrap-controller {s}: {e}")))
        })
        .collect::<Result<_, _>>()?;
    if addrs.is_empty() {
        return Err(AdminError::Usage(
            "--bootstrap-controller needs at least one host:port".into(),
        ));
    }
    Ok(addrs)
}

/// Doubling waits between rounds, from [`BACKOFF_MIN_MS`] to [`BACKOFF_MAX_MS`].
#[derive(Debug)]
struct Backoff {
    next_ms: u64,
}

impl Backoff {
    fn new() -> Backoff {
        Backoff {
            next_ms: BACKOFF_MIN_MS,
        }
    }

    fn next(&mut self) -> u64 {
        let ms = self.next_ms;
        self.next_ms = (self.next_ms * 2).min(BACKOFF_MAX_MS);
        ms
    }
}

/// How one attempt ended.
enum Attempt<T> {
    /// An answer from the active controller.
    Answered(i16, T),
    /// The controller is not the active one.
    NotController,
    /// Unreachable, or a read whose answer was lost: try again elsewhere.
    Retry(String),
}

/// Sends requests to the active controller, following it as it moves, within one deadline.
pub struct ControllerSession {
    bootstrap: Vec<String>,
    timeout_ms: u64,
    deadline: Instant,
    /// Controllers learned from the quorum, by id (at most [`KNOWN_CONTROLLERS_MAX`]).
    known: BTreeMap<i32, String>,
    /// Where the next request goes: the last known active controller, else a bootstrap address.
    target: String,
    /// A connection to `target`, kept between requests.
    client: Option<KafkaClient>,
    /// The bootstrap address to fall back on next.
    next_bootstrap: usize,
}

impl ControllerSession {
    /// A session whose deadline is `--timeout-ms` from now.
    pub fn new(args: &ConnectArgs) -> Result<ControllerSession, AdminError> {
        let bootstrap = parse_bootstrap(&args.bootstrap_controller)?;
        Ok(ControllerSession {
            target: bootstrap[0].clone(),
            next_bootstrap: 1 % bootstrap.len(),
            bootstrap,
            timeout_ms: args.timeout_ms,
            deadline: Instant::now() + Duration::from_millis(args.timeout_ms),
            known: BTreeMap::new(),
            client: None,
        })
    }

    /// Milliseconds left before the deadline.
    pub fn remaining_ms(&self) -> u64 {
        self.deadline
            .saturating_duration_since(Instant::now())
            .as_millis() as u64
    }

    /// The request timeout to put in requests that carry one: the time left, as an i32.
    pub fn request_timeout_ms(&self) -> i32 {
        i32::try_from(self.remaining_ms()).unwrap_or(i32::MAX)
    }

    /// Sends the request `build` makes for the chosen version to the active controller and
    /// returns the version used and the answer, which carries no NOT_CONTROLLER error (other
    /// errors are the caller's to read).
    pub async fn call<R, F>(
        &mut self,
        call: Call,
        build: F,
    ) -> Result<(i16, R::Response), AdminError>
    where
        R: Request,
        R::Response: ControllerReply,
        F: Fn(i16) -> R,
    {
        let api = ApiKey::try_from(R::KEY)
            .map_err(|_| AdminError::Protocol(format!("unknown API key {}", R::KEY)))?;
        let mut backoff = Backoff::new();
        let mut last = String::from("nothing was tried");
        loop {
            if self.remaining_ms() == 0 {
                return Err(AdminError::TimedOut {
                    waited_ms: self.timeout_ms,
                    last,
                });
            }
            match self.attempt(api, call, &build).await? {
                Attempt::Answered(v, r) => return Ok((v, r)),
                Attempt::NotController => {
                    last = format!("{} is not the active controller", self.target)
                }
                Attempt::Retry(why) => last = why,
            }
            self.client = None;
            let previous = self.target.clone();
            match self.find_leader().await {
                Some(leader) => self.target = leader,
                None => self.target = self.next_bootstrap_addr(),
            }
            if self.target == previous || self.known.is_empty() {
                let ms = backoff.next().min(self.remaining_ms());
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
        }
    }

    async fn attempt<R, F>(
        &mut self,
        api: ApiKey,
        call: Call,
        build: &F,
    ) -> Result<Attempt<R::Response>, AdminError>
    where
        R: Request,
        R::Response: ControllerReply,
        F: Fn(i16) -> R,
    {
        let remaining = self.remaining_ms();
        if self.client.is_none() {
            match KafkaClient::connect(&self.target, remaining).await {
                Ok(c) => self.client = Some(c),
                Err(e) => return Ok(Attempt::Retry(e.to_string())),
            }
        }
        let wait = Duration::from_millis(self.remaining_ms().max(1));
        let Some(client) = self.client.as_mut() else {
            return Ok(Attempt::Retry("not connected".into()));
        };
        let version =
            pick_version(client.version_for(api), call).ok_or_else(|| AdminError::Unsupported {
                addr: self.target.clone(),
                api,
                min: call.min_version,
                max: call.max_version,
            })?;
        let request = build(version);
        // Encode once here so that a request this tool cannot express at `version` is reported
        // as such, not as a lost answer.
        request
            .encode(&mut BytesMut::new(), version)
            .map_err(|e| AdminError::Encode {
                api,
                version,
                reason: e.to_string(),
            })?;
        let sent = tokio::time::timeout(
            wait,
            client.send_at::<R, R::Response>(api, version, &request),
        )
        .await;
        let failure = match sent {
            Ok(Ok(r)) if r.not_controller() => return Ok(Attempt::NotController),
            Ok(Ok(r)) => return Ok(Attempt::Answered(version, r)),
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("{}: no answer within {} ms", self.target, wait.as_millis()),
        };
        if call.idempotent {
            Ok(Attempt::Retry(failure))
        } else {
            Err(AdminError::Uncertain {
                addr: self.target.clone(),
                api,
                reason: failure,
            })
        }
    }

    /// Asks the controllers this session knows, the current target first, who leads; remembers
    /// the voters they list. `None` if none could say before the deadline.
    async fn find_leader(&mut self) -> Option<String> {
        let mut candidates = vec![self.target.clone()];
        candidates.extend(self.known.values().cloned());
        candidates.extend(self.bootstrap.iter().cloned());
        let mut seen = std::collections::HashSet::new();
        candidates.retain(|c| seen.insert(c.clone()));
        for addr in candidates {
            let remaining = self.remaining_ms();
            if remaining == 0 {
                return None;
            }
            let probe_ms = remaining.min(PROBE_TIMEOUT_MS);
            let view = match KafkaClient::connect(&addr, probe_ms).await {
                Ok(mut c) => quorum_view(&mut c).await,
                Err(e) => Err(e.to_string()),
            };
            let Ok(view) = view else { continue };
            for (id, a) in &view.voters {
                if self.known.len() < KNOWN_CONTROLLERS_MAX || self.known.contains_key(id) {
                    self.known.insert(*id, a.clone());
                }
            }
            if let Some(leader) = view.leader_addr() {
                return Some(leader.clone());
            }
        }
        None
    }

    fn next_bootstrap_addr(&mut self) -> String {
        let addr = self.bootstrap[self.next_bootstrap].clone();
        self.next_bootstrap = (self.next_bootstrap + 1) % self.bootstrap.len();
        addr
    }
}

/// Test support: asserts `request` encodes at every version of `call`'s range, i.e. that the
/// session can send it whatever version it picks.
#[cfg(test)]
pub fn assert_encodes_in_range<R: Request>(request: &R, call: Call) {
    for v in call.min_version..=call.max_version {
        if let Err(e) = request.encode(&mut BytesMut::new(), v) {
            panic!("{:?} v{v} does not encode: {e}", ApiKey::try_from(R::KEY));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
    use std::sync::Arc;

    use kafka_protocol::messages::create_topics_request::CreatableTopic;
    use kafka_protocol::messages::create_topics_response::CreatableTopicResult;
    use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
    use kafka_protocol::messages::{BrokerId, CreateTopicsRequest, MetadataRequest};
    use metaquorum_controller::net::server::Reply;
    use metaquorum_controller::net::wire::RawRequest;

    use crate::fake_controller::{self, decode, respond, FakeController, Script};

    const CREATE: Call = Call {
        min_version: 2,
        max_version: 7,
        idempotent: false,
    };
    const READ: Call = Call {
        min_version: 1,
        max_version: 12,
        idempotent: true,
    };

    #[test]
    fn version_is_the_highest_both_sides_speak_within_the_tools_range() {
        assert_eq!(pick_version(Some(9), CREATE), Some(7));
        assert_eq!(pick_version(Some(5), CREATE), Some(5));
        assert_eq!(pick_version(Some(1), CREATE), None);
        assert_eq!(pick_version(None, CREATE), None);
    }

    #[test]
    fn error_names_come_from_kafkas_table() {
        assert_eq!(error_name(41), "NOT_CONTROLLER");
        assert_eq!(error_name(36), "TOPIC_ALREADY_EXISTS");
        // Not in the controller's table, named from kafka-protocol's.
        assert_eq!(error_name(115), "UNSUPPORTED_ENDPOINT_TYPE");
        assert_eq!(error_name(87), "INVALID_RECORD");
        assert_eq!(error_name(9999), "UNKNOWN_ERROR_CODE_9999");
    }

    #[test]
    fn reports_give_the_message_then_the_error_name() {
        let e = AdminError::kafka(
            36,
            Some(&StrBytes::from_static_str("Topic 'foo' already exists.")),
        );
        assert_eq!(
            report("Error while executing topic command : ", &e),
            "Error while executing topic command : Topic 'foo' already exists.\nTOPIC_ALREADY_EXISTS"
        );
        let e = AdminError::kafka(40, Some(&StrBytes::from_static_str("")));
        assert_eq!(
            report("X: ", &e),
            "X: the controller answered with error code 40 and no message\nINVALID_CONFIG"
        );
        assert_eq!(report("X: ", &AdminError::Usage("bad".into())), "X: bad");
    }

    #[test]
    fn bootstrap_lists_are_parsed_and_checked() {
        assert_eq!(
            parse_bootstrap("a:1, [::1]:9093,").unwrap(),
            vec!["a:1".to_string(), "[::1]:9093".to_string()]
        );
        assert!(parse_bootstrap("").is_err());
        assert!(parse_bootstrap("nohost").is_err());
        assert!(parse_bootstrap("h:99999").is_err());
    }

    // KIP-919: a controller answers DescribeCluster(endpoint type 2) with the leader's id and
    // the voters' endpoints.
    #[test]
    fn quorum_view_from_describe_cluster_and_describe_quorum() {
        let r = DescribeClusterResponse::default()
            .with_controller_id(BrokerId(2))
            .with_brokers(vec![broker(1, 9001), broker(2, 9002)]);
        let v = QuorumView::from_describe_cluster(&r).unwrap();
        assert_eq!(v.leader_addr(), Some(&"127.0.0.1:9002".to_string()));
        let unknown =
            QuorumView::from_describe_cluster(&r.clone().with_controller_id(BrokerId(-1)));
        assert_eq!(unknown.unwrap().leader_addr(), None);
        let failed = r.with_error_code(115);
        assert!(QuorumView::from_describe_cluster(&failed).is_err());

        use kafka_protocol::messages::describe_quorum_response::{
            Listener, Node, PartitionData as P, TopicData as T,
        };
        let q = DescribeQuorumResponse::default()
            .with_topics(vec![
                T::default().with_partitions(vec![P::default().with_leader_id(BrokerId(3))])
            ])
            .with_nodes(vec![Node::default()
                .with_node_id(BrokerId(3))
                .with_listeners(vec![Listener::default()
                    .with_host(StrBytes::from_static_str("h"))
                    .with_port(7)])]);
        assert_eq!(
            QuorumView::from_describe_quorum(&q).unwrap().leader_addr(),
            Some(&"h:7".to_string())
        );
    }

    fn broker(id: i32, port: i32) -> DescribeClusterBroker {
        DescribeClusterBroker::default()
            .with_broker_id(BrokerId(id))
            .with_host(StrBytes::from_static_str("127.0.0.1"))
            .with_port(port)
    }

    /// Two scripted controllers on loopback, ids 1 and 2, sharing a leader cell. Each answers
    /// DescribeCluster (the leader and both voters), CreateTopics (NOT_CONTROLLER unless it
    /// leads; with `close_writes` it closes the connection instead: a lost answer) and Metadata
    /// (always closes: a lost read). Counters record the CreateTopics and Metadata requests.
    struct Fakes {
        addrs: Vec<String>,
        leader: Arc<AtomicI32>,
        creates: Vec<Arc<AtomicUsize>>,
        reads: Vec<Arc<AtomicUsize>>,
        _servers: Vec<FakeController>,
    }

    async fn fakes(leader: i32, close_writes: bool) -> Fakes {
        let listeners = [
            fake_controller::listener().await,
            fake_controller::listener().await,
        ];
        let ports: Vec<i32> = listeners
            .iter()
            .map(|(l, _)| i32::from(l.local_addr().unwrap().port()))
            .collect();
        let addrs: Vec<String> = listeners.iter().map(|(_, a)| a.clone()).collect();
        let leader = Arc::new(AtomicI32::new(leader));
        let (mut creates, mut reads, mut servers) = (Vec::new(), Vec::new(), Vec::new());
        for (i, listener) in listeners.into_iter().enumerate() {
            let id = i as i32 + 1;
            let (c, r) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
            creates.push(Arc::clone(&c));
            reads.push(Arc::clone(&r));
            let (leader, ports) = (Arc::clone(&leader), ports.clone());
            let script: Script = Arc::new(move |req: &RawRequest| {
                let leader = leader.load(Ordering::SeqCst);
                match req.api {
                    ApiKey::DescribeCluster => respond(
                        req,
                        &DescribeClusterResponse::default()
                            .with_endpoint_type(2)
                            .with_controller_id(BrokerId(leader))
                            .with_brokers(vec![broker(1, ports[0]), broker(2, ports[1])]),
                    ),
                    ApiKey::CreateTopics => {
                        c.fetch_add(1, Ordering::SeqCst);
                        let request: CreateTopicsRequest = decode(req);
                        if close_writes {
                            return Reply::Close("scripted: the answer is lost".into());
                        }
                        let code = if leader == id { 0 } else { NOT_CONTROLLER };
                        let topics = request
                            .topics
                            .iter()
                            .map(|t| {
                                CreatableTopicResult::default()
                                    .with_name(t.name.clone())
                                    .with_error_code(code)
                            })
                            .collect();
                        respond(req, &CreateTopicsResponse::default().with_topics(topics))
                    }
                    _ => {
                        r.fetch_add(1, Ordering::SeqCst);
                        Reply::Close("scripted: the answer is lost".into())
                    }
                }
            });
            servers.push(fake_controller::start(
                listener,
                &[
                    (ApiKey::DescribeCluster, 1),
                    (ApiKey::CreateTopics, 7),
                    (ApiKey::Metadata, 12),
                ],
                script,
            ));
        }
        Fakes {
            addrs,
            leader,
            creates,
            reads,
            _servers: servers,
        }
    }

    fn session(bootstrap: &str, timeout_ms: u64) -> ControllerSession {
        ControllerSession::new(&ConnectArgs {
            bootstrap_controller: bootstrap.to_string(),
            timeout_ms,
        })
        .unwrap()
    }

    fn create_foo(_version: i16) -> CreateTopicsRequest {
        CreateTopicsRequest::default().with_topics(vec![CreatableTopic::default()
            .with_name(TopicName(StrBytes::from_static_str("foo")))
            .with_num_partitions(1)
            .with_replication_factor(1)])
    }

    // Real bytes on real sockets: NOT_CONTROLLER from the bootstrap, DescribeCluster names the
    // leader, the request is sent again there.
    #[tokio::test]
    async fn not_controller_is_followed_to_the_leader() {
        let f = fakes(2, false).await;
        let mut s = session(&f.addrs[0], 10_000);
        let (version, r) = s.call(CREATE, create_foo).await.unwrap();
        assert_eq!(version, 7);
        assert_eq!(r.topics[0].error_code, 0);
        assert_eq!(
            f.creates[0].load(Ordering::SeqCst),
            1,
            "asked the bootstrap first"
        );
        assert_eq!(f.creates[1].load(Ordering::SeqCst), 1, "then the leader");
        // The session remembers the leader: the next request goes straight there.
        s.call(CREATE, create_foo).await.unwrap();
        assert_eq!(f.creates[0].load(Ordering::SeqCst), 1);
        assert_eq!(f.creates[1].load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn an_unreachable_bootstrap_falls_through_to_the_next() {
        let f = fakes(2, false).await;
        let dead = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().to_string()
        };
        let mut s = session(&format!("{dead},{}", f.addrs[0]), 10_000);
        s.call(CREATE, create_foo).await.unwrap();
        assert_eq!(f.creates[1].load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn no_leader_ends_at_the_deadline_not_in_a_loop() {
        let f = fakes(-1, false).await;
        let mut s = session(&f.addrs[0], 600);
        let started = Instant::now();
        let err = s.call(CREATE, create_foo).await.unwrap_err();
        assert!(
            matches!(err, AdminError::TimedOut { waited_ms: 600, .. }),
            "{err}"
        );
        assert!(
            err.to_string().contains("not the active controller"),
            "{err}"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        // Backoff, not a busy loop: a handful of attempts in 600 ms.
        let attempts = f.creates[0].load(Ordering::SeqCst) + f.creates[1].load(Ordering::SeqCst);
        assert!((2..=12).contains(&attempts), "{attempts} attempts");
        // The leader appears: a new session gets through.
        f.leader.store(1, Ordering::SeqCst);
        session(&f.addrs[1], 10_000)
            .call(CREATE, create_foo)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_lost_write_is_not_sent_again_but_a_lost_read_is() {
        let f = fakes(1, true).await;
        let mut s = session(&f.addrs[0], 10_000);
        let err = s.call(CREATE, create_foo).await.unwrap_err();
        assert!(matches!(err, AdminError::Uncertain { .. }), "{err}");
        assert!(err.to_string().contains("may or may not have been applied"));
        assert_eq!(f.creates[0].load(Ordering::SeqCst), 1);

        let mut s = session(&f.addrs[0], 500);
        let err = s
            .call(READ, |_| MetadataRequest::default())
            .await
            .unwrap_err();
        assert!(matches!(err, AdminError::TimedOut { .. }), "{err}");
        assert!(
            f.reads[0].load(Ordering::SeqCst) >= 2,
            "the read was retried"
        );
    }

    #[tokio::test]
    async fn an_api_the_controller_does_not_serve_is_reported() {
        let f = fakes(1, false).await;
        let mut s = session(&f.addrs[0], 2_000);
        let err = s
            .call(READ, |_| {
                kafka_protocol::messages::DescribeAclsRequest::default()
            })
            .await
            .unwrap_err();
        assert!(matches!(err, AdminError::Unsupported { .. }), "{err}");
    }
}
