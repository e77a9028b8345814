//! apis/ — one Kafka API, one file; and the registry that every listener is built from.
//!
//! Each metadata API (the ones the controller's state machine serves, and a broker answers or
//! forwards) is a [`MetadataApi`] in its own file: its key and versions, how its request is
//! decoded, its handler against the image, its error response, and the NOT_CONTROLLER form of
//! an answer whose write's outcome became unknown. The Raft RPCs, DescribeQuorum and
//! ApiVersions are routed to the node's shell and listed in [`raft`], [`describe_quorum`] and
//! [`api_versions`].
//!
//! The [`registry`] lists them all once; [`ApiTable`] builds from it what a listener needs:
//! the ApiVersions answer, the version gate, the decoding of a request and the handler it goes
//! to. Adding an API is one file and one line in the registry.

pub mod alter_partition;
pub mod api_versions;
pub mod broker_heartbeat;
pub mod broker_registration;
pub mod create_acls;
pub mod create_partitions;
pub mod create_topics;
pub mod delete_acls;
pub mod delete_topics;
pub mod describe_acls;
pub mod describe_cluster;
pub mod describe_configs;
pub mod describe_quorum;
pub mod incremental_alter_configs;
pub mod metadata;
pub mod raft;
pub mod unregister_broker;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::sync::LazyLock;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::api_versions_response::{ApiVersion, ApiVersionsResponse};
use kafka_protocol::messages::{ApiKey, RequestKind, ResponseKind};
use kafka_protocol::protocol::Decodable;
use rand::rngs::StdRng;
use tokio::sync::oneshot;

use crate::config::HostPort;
use crate::control::brokers::BrokerLifecycle;
use crate::control::errors::ErrorCode;
use crate::control::outcome::ControlResult;
use crate::control::topics::TopicDefaults;
use crate::metadata::image::MetadataImage;
use crate::net::server::Reply;
use crate::net::wire::{decode_body, encode_response, RawRequest, WireError};
use crate::raft::{Millis, NodeId, Offset};

/// The message of a NOT_CONTROLLER answer to a write whose batch was proposed but whose
/// leader lost leadership before it committed: the write may or may not have happened, so a
/// forwarding broker must not retry it on its own (any other NOT_CONTROLLER means nothing was
/// done and the request can go to the new active controller).
pub const OUTCOME_UNKNOWN_MESSAGE: &str =
    "The controller lost leadership before the change committed; its outcome is unknown.";

/// A decoded request for the controller's state machine, and where its response goes.
pub struct ControllerCall {
    /// The request.
    pub request: RequestKind,
    /// Its version (the response is encoded at the same one).
    pub version: i16,
    /// Receives the response.
    pub reply: oneshot::Sender<ResponseKind>,
}

impl std::fmt::Debug for ControllerCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let api = metadata_api_of(&self.request).map(|a| a.key());
        write!(f, "ControllerCall(v{} {api:?})", self.version)
    }
}

/// How a broker's client listener treats a metadata API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnBroker {
    /// Not served to a broker's clients (broker-to-controller APIs).
    NotServed,
    /// Answered from the broker's own image.
    Local,
    /// Forwarded to the active controller (KIP-590).
    Forwarded,
}

/// Which controllers answer a metadata API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnController {
    /// Only the active controller; the others answer NOT_CONTROLLER.
    Active,
    /// Any controller, from its committed image.
    Any,
}

/// What a handler needs from the controller that runs it. `latest` is the committed image plus
/// the active controller's uncommitted records (the committed image on a node that is not
/// active, for the APIs any controller answers).
pub struct Handling<'a> {
    /// The request's version.
    pub version: i16,
    /// The committed image.
    pub committed: &'a MetadataImage,
    /// The image writes are validated against.
    pub latest: &'a MetadataImage,
    /// The cluster id.
    pub cluster_id: &'a str,
    /// This node.
    pub node_id: NodeId,
    /// The leader this node knows of.
    pub leader_id: Option<NodeId>,
    /// The voters and their controller listeners.
    pub voters: &'a BTreeMap<NodeId, HostPort>,
    /// Defaults for CreateTopics with -1.
    pub topic_defaults: TopicDefaults,
    /// `broker.session.timeout.ms`.
    pub broker_session_timeout_ms: u64,
    /// Randomness (replica placement, ids), seeded by the node.
    pub rng: &'a mut StdRng,
    /// Broker sessions and fencing.
    pub lifecycle: &'a mut BrokerLifecycle,
    /// The node's clock.
    pub now_ms: Millis,
    /// The offset the next proposed record gets.
    pub next_offset: Offset,
}

/// A handler's answer.
#[derive(Debug)]
pub enum Handled<R> {
    /// Answer now: a read of the committed image.
    Read(R),
    /// Commit these records, then answer (at once when there are none, once everything the
    /// answer rests on has committed).
    Write(ControlResult<R>),
}

/// One metadata API with its concrete request and response types. See the module docs.
pub trait MetadataApi: 'static {
    /// The request type.
    type Request: Decodable + Default;
    /// The response type.
    type Response;
    /// The API key.
    const KEY: ApiKey;
    /// The name decoding errors use.
    const NAME: &'static str;
    /// Versions served, lowest and highest (capped by what `kafka-protocol` knows).
    const VERSIONS: (i16, i16);
    /// The highest version a broker's client listener serves, when lower than `VERSIONS.1`.
    const BROKER_VERSION_MAX: Option<i16> = None;
    /// How a broker treats it.
    const ON_BROKER: OnBroker;
    /// Which controllers answer it.
    const ON_CONTROLLER: OnController = OnController::Active;

    /// The request inside `r`, if `r` is this API's.
    fn request(r: &RequestKind) -> Option<&Self::Request>;
    /// `r` as a [`RequestKind`].
    fn request_kind(r: Self::Request) -> RequestKind;
    /// `r` as a [`ResponseKind`].
    fn response_kind(r: Self::Response) -> ResponseKind;
    /// The response inside `r`, if `r` is this API's, to change in place.
    fn response_mut(r: &mut ResponseKind) -> Option<&mut Self::Response>;
    /// The response inside `r`, by reference.
    fn response_ref(r: &ResponseKind) -> Option<&Self::Response>;

    /// Adjusts a freshly decoded request for its version (e.g. Metadata v0's empty list).
    fn normalize(_request: &mut Self::Request, _version: i16) {}
    /// Handles the request on a controller.
    fn handle(request: &Self::Request, h: &mut Handling<'_>) -> Handled<Self::Response>;
    /// The response failing every part of `request` with `code` (and `message` where the API
    /// carries one).
    fn error_response(request: &Self::Request, code: ErrorCode, message: &str) -> Self::Response;
    /// Turns a prepared response into the failure of every part with `code` and `message`:
    /// the NOT_CONTROLLER form of a write whose outcome became unknown.
    fn fail(response: &mut Self::Response, code: ErrorCode, message: &str);
    /// Every error code of a response with its message, one per part.
    fn error_codes(response: &Self::Response) -> Vec<(i16, Option<&str>)>;
}

/// Implements the five conversions of [`MetadataApi`] for the `RequestKind`/`ResponseKind`
/// variant of the same name.
macro_rules! kind_conversions {
    ($variant:ident) => {
        fn request(r: &RequestKind) -> Option<&Self::Request> {
            match r {
                RequestKind::$variant(x) => Some(x),
                _ => None,
            }
        }
        fn request_kind(r: Self::Request) -> RequestKind {
            RequestKind::$variant(r)
        }
        fn response_kind(r: Self::Response) -> ResponseKind {
            ResponseKind::$variant(r)
        }
        fn response_mut(r: &mut ResponseKind) -> Option<&mut Self::Response> {
            match r {
                ResponseKind::$variant(x) => Some(x),
                _ => None,
            }
        }
        fn response_ref(r: &ResponseKind) -> Option<&Self::Response> {
            match r {
                ResponseKind::$variant(x) => Some(x),
                _ => None,
            }
        }
    };
}
pub(crate) use kind_conversions;

/// A [`MetadataApi`] behind `RequestKind`/`ResponseKind`, so one registry can hold them all.
pub trait AnyMetadataApi: Send + Sync {
    /// The API key.
    fn key(&self) -> ApiKey;
    /// How a broker treats it.
    fn on_broker(&self) -> OnBroker;
    /// Which controllers answer it.
    fn on_controller(&self) -> OnController;
    /// True when `request` is this API's.
    fn matches(&self, request: &RequestKind) -> bool;
    /// True when `response` is this API's.
    fn matches_response(&self, response: &ResponseKind) -> bool;
    /// An empty request of this API (for tests and samples).
    fn default_request(&self) -> RequestKind;
    /// Decodes a request body at `version`.
    fn decode(&self, body: &mut Bytes, version: i16) -> Result<RequestKind, WireError>;
    /// Handles `request`; `None` if it is not this API's.
    fn handle(&self, request: &RequestKind, h: &mut Handling<'_>) -> Option<Handled<ResponseKind>>;
    /// See [`MetadataApi::error_response`]; `None` if `request` is not this API's.
    fn error_response(
        &self,
        request: &RequestKind,
        code: ErrorCode,
        message: &str,
    ) -> Option<ResponseKind>;
    /// See [`MetadataApi::fail`]; another API's response is returned unchanged.
    fn fail(&self, response: ResponseKind, code: ErrorCode, message: &str) -> ResponseKind;
    /// See [`MetadataApi::error_codes`]; empty for another API's response.
    fn error_codes<'r>(&self, response: &'r ResponseKind) -> Vec<(i16, Option<&'r str>)>;
}

struct Erased<A>(PhantomData<fn() -> A>);

impl<A: MetadataApi> AnyMetadataApi for Erased<A> {
    fn key(&self) -> ApiKey {
        A::KEY
    }
    fn on_broker(&self) -> OnBroker {
        A::ON_BROKER
    }
    fn on_controller(&self) -> OnController {
        A::ON_CONTROLLER
    }
    fn matches(&self, request: &RequestKind) -> bool {
        A::request(request).is_some()
    }
    fn matches_response(&self, response: &ResponseKind) -> bool {
        A::response_ref(response).is_some()
    }
    fn default_request(&self) -> RequestKind {
        A::request_kind(A::Request::default())
    }
    fn decode(&self, body: &mut Bytes, version: i16) -> Result<RequestKind, WireError> {
        let mut r: A::Request = decode_body(A::NAME, body, version)?;
        A::normalize(&mut r, version);
        Ok(A::request_kind(r))
    }
    fn handle(&self, request: &RequestKind, h: &mut Handling<'_>) -> Option<Handled<ResponseKind>> {
        Some(match A::handle(A::request(request)?, h) {
            Handled::Read(r) => Handled::Read(A::response_kind(r)),
            Handled::Write(w) => Handled::Write(ControlResult {
                records: w.records,
                response: A::response_kind(w.response),
            }),
        })
    }
    fn error_response(
        &self,
        request: &RequestKind,
        code: ErrorCode,
        message: &str,
    ) -> Option<ResponseKind> {
        let r = A::request(request)?;
        Some(A::response_kind(A::error_response(r, code, message)))
    }
    fn fail(&self, mut response: ResponseKind, code: ErrorCode, message: &str) -> ResponseKind {
        if let Some(r) = A::response_mut(&mut response) {
            A::fail(r, code, message);
        }
        response
    }
    fn error_codes<'r>(&self, response: &'r ResponseKind) -> Vec<(i16, Option<&'r str>)> {
        A::response_ref(response).map_or_else(Vec::new, A::error_codes)
    }
}

/// Where a listener sends a request of an API.
#[derive(Clone, Copy)]
pub enum Route {
    /// Answered by the listener itself.
    ApiVersions,
    /// A Raft RPC, for the node's Raft core.
    Raft,
    /// DescribeQuorum, from the node's view of the quorum.
    DescribeQuorum,
    /// A metadata API, for the state machine or the broker's image.
    Metadata(&'static dyn AnyMetadataApi),
}

/// One API of the registry.
#[derive(Clone, Copy)]
pub struct ApiSpec {
    /// The API key.
    pub key: ApiKey,
    /// Versions a controller serves (`None`: not served on a controller listener).
    pub controller: Option<(i16, i16)>,
    /// Versions a broker's client listener serves (`None`: not served there).
    pub broker: Option<(i16, i16)>,
    /// Where requests go.
    pub route: Route,
}

impl std::fmt::Debug for ApiSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ApiSpec({:?}, controller {:?}, broker {:?})",
            self.key, self.controller, self.broker
        )
    }
}

fn metadata_spec<A: MetadataApi>() -> ApiSpec {
    let broker = match A::ON_BROKER {
        OnBroker::NotServed => None,
        _ => Some((
            A::VERSIONS.0,
            A::BROKER_VERSION_MAX.unwrap_or(A::VERSIONS.1),
        )),
    };
    ApiSpec {
        key: A::KEY,
        controller: Some(A::VERSIONS),
        broker,
        route: Route::Metadata(static_erased::<A>()),
    }
}

/// The erased form of `A`, as a `'static` reference (a zero-sized value, so leaking is free).
fn static_erased<A: MetadataApi>() -> &'static dyn AnyMetadataApi {
    Box::leak(Box::new(Erased::<A>(PhantomData)))
}

static REGISTRY: LazyLock<Vec<ApiSpec>> = LazyLock::new(|| {
    let mut specs = vec![
        raft::fetch_spec(),
        metadata_spec::<metadata::Metadata>(),
        api_versions::spec(),
        metadata_spec::<create_topics::CreateTopics>(),
        metadata_spec::<delete_topics::DeleteTopics>(),
        metadata_spec::<describe_acls::DescribeAcls>(),
        metadata_spec::<create_acls::CreateAcls>(),
        metadata_spec::<delete_acls::DeleteAcls>(),
        metadata_spec::<describe_configs::DescribeConfigs>(),
        metadata_spec::<create_partitions::CreatePartitions>(),
        metadata_spec::<incremental_alter_configs::IncrementalAlterConfigs>(),
    ];
    specs.extend(raft::quorum_specs());
    specs.extend([
        describe_quorum::spec(),
        metadata_spec::<alter_partition::AlterPartition>(),
        metadata_spec::<describe_cluster::DescribeCluster>(),
        metadata_spec::<broker_registration::BrokerRegistration>(),
        metadata_spec::<broker_heartbeat::BrokerHeartbeat>(),
        metadata_spec::<unregister_broker::UnregisterBroker>(),
    ]);
    specs.sort_by_key(|s| s.key as i16);
    specs
});

/// Every API this codebase knows, in key order.
pub fn registry() -> &'static [ApiSpec] {
    &REGISTRY
}

/// The registry entry of `api`.
pub fn spec(api: ApiKey) -> Option<&'static ApiSpec> {
    registry().iter().find(|s| s.key == api)
}

/// The metadata API `api`, if it is one.
pub fn metadata_api(api: ApiKey) -> Option<&'static dyn AnyMetadataApi> {
    match spec(api)?.route {
        Route::Metadata(m) => Some(m),
        _ => None,
    }
}

/// The metadata API a decoded request belongs to.
pub fn metadata_api_of(request: &RequestKind) -> Option<&'static dyn AnyMetadataApi> {
    registry().iter().find_map(|s| match s.route {
        Route::Metadata(m) if m.matches(request) => Some(m),
        _ => None,
    })
}

/// Decodes a metadata API request into the state machine's form.
pub fn decode_metadata_request(request: RawRequest) -> Result<RequestKind, WireError> {
    let (api, version, mut body) = (request.api, request.version, request.body);
    match metadata_api(api) {
        Some(m) => m.decode(&mut body, version),
        None => Err(WireError::UnknownApiKey(api as i16)),
    }
}

/// The response failing every part of `request` with `code` (and `message` where the API
/// carries one). `None` for a request that is not a metadata API's.
pub fn error_response(
    request: &RequestKind,
    code: ErrorCode,
    message: &str,
) -> Option<ResponseKind> {
    metadata_api_of(request)?.error_response(request, code, message)
}

/// The metadata API a response belongs to.
pub fn metadata_api_of_response(response: &ResponseKind) -> Option<&'static dyn AnyMetadataApi> {
    registry().iter().find_map(|s| match s.route {
        Route::Metadata(m) if m.matches_response(response) => Some(m),
        _ => None,
    })
}

/// The NOT_CONTROLLER form of a response that was waiting for its records to commit: every
/// part fails with [`OUTCOME_UNKNOWN_MESSAGE`].
pub fn outcome_unknown(response: ResponseKind) -> ResponseKind {
    match metadata_api_of_response(&response) {
        Some(m) => m.fail(response, ErrorCode::NotController, OUTCOME_UNKNOWN_MESSAGE),
        None => response,
    }
}

/// Every error code of a metadata API response with its message, one per part (empty for a
/// response of another API).
pub fn error_codes(response: &ResponseKind) -> Vec<(i16, Option<&str>)> {
    metadata_api_of_response(response).map_or_else(Vec::new, |m| m.error_codes(response))
}

/// Which listener a table serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// A controller listener (`controller.listener.names`).
    Controller,
    /// A broker's client listener.
    Broker,
}

/// The APIs and versions one listener serves, from the registry: it answers ApiVersions
/// itself (KIP-511 included) and turns away what it does not serve, so handlers see only
/// requests they know.
#[derive(Debug, Clone, Copy)]
pub struct ApiTable {
    /// The listener.
    pub listener: Listener,
    /// Who serves them, for log lines ("a controller", "this broker").
    pub served_by: &'static str,
}

/// The table of a controller listener.
pub const CONTROLLER_API_TABLE: ApiTable = ApiTable {
    listener: Listener::Controller,
    served_by: "a controller",
};

/// The table of a broker's client listener.
pub const BROKER_API_TABLE: ApiTable = ApiTable {
    listener: Listener::Broker,
    served_by: "this broker",
};

impl ApiTable {
    /// The APIs served with their versions, in key order.
    pub fn served(&self) -> impl Iterator<Item = (&'static ApiSpec, (i16, i16))> + '_ {
        registry().iter().filter_map(|s| {
            let (min, max) = match self.listener {
                Listener::Controller => s.controller?,
                Listener::Broker => s.broker?,
            };
            Some((s, (min, max.min(s.key.valid_versions().max))))
        })
    }

    /// The versions of `api` served (capped by what the `kafka-protocol` crate knows).
    pub fn versions(&self, api: ApiKey) -> Option<(i16, i16)> {
        self.served().find(|(s, _)| s.key == api).map(|(_, v)| v)
    }

    /// The ApiVersions response listing every API served.
    pub fn api_versions(&self, error_code: i16) -> ApiVersionsResponse {
        let keys = self
            .served()
            .map(|(s, (min, max))| {
                ApiVersion::default()
                    .with_api_key(s.key as i16)
                    .with_min_version(min)
                    .with_max_version(max)
            })
            .collect();
        ApiVersionsResponse::default()
            .with_error_code(error_code)
            .with_api_keys(keys)
    }

    /// The reply to a request that must not reach the handlers (an API or version not served,
    /// or ApiVersions itself); `None` lets it through.
    pub fn gate(&self, request: &RawRequest, peer: std::net::SocketAddr) -> Option<Reply> {
        let (api, version, cid) = (request.api, request.version, request.correlation_id);
        let Some((min, max)) = self.versions(api) else {
            return Some(Reply::Close(format!(
                "{peer} sent {api:?}, which {} does not serve",
                self.served_by
            )));
        };
        let answer = |error: i16, version: i16| {
            let r = self.api_versions(error);
            match encode_response("ApiVersionsResponse", cid, version, &r) {
                Ok(b) => Reply::Respond(b),
                Err(e) => Reply::Close(format!("cannot encode the response: {e}")),
            }
        };
        if version < min || version > max {
            if api == ApiKey::ApiVersions {
                // KIP-511: answer with v0 and UNSUPPORTED_VERSION so the client can retry.
                return Some(answer(ResponseError::UnsupportedVersion.code(), 0));
            }
            return Some(Reply::Close(format!(
                "{peer} sent {api:?} v{version}, outside the supported {min}..={max}"
            )));
        }
        (api == ApiKey::ApiVersions).then(|| answer(0, version))
    }
}
