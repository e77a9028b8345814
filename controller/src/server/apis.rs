//! The request handlers of a controller listener: the Raft RPCs and DescribeQuorum go to the
//! node's shell, the metadata APIs to its state machine, each answered in the version asked.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_quorum_response::DescribeQuorumResponse;
use kafka_protocol::messages::{ApiKey, DescribeQuorumRequest};

use super::decode::decode_state_machine_request;
use super::describe_quorum::describe_quorum_response;
use crate::config::HostPort;
use crate::control::api::{ControllerCall, STATE_MACHINE_APIS};
use crate::net::raft_wire::{
    decode_raft_request, encode_raft_response, raft_error_response, FETCH_VERSION_MIN,
    METADATA_TOPIC,
};
use crate::net::server::{ApiTable, Handler, HandlerFuture, Reply};
use crate::net::wire::{decode_body, encode_response, encode_response_kind, RawRequest, WireError};
use crate::raft::NodeId;
use crate::shell::ShellHandle;

/// The APIs a controller serves itself (the Raft RPCs and the quorum's own), with the versions
/// it accepts; the metadata APIs of the state machine are in [`STATE_MACHINE_APIS`].
pub const CONTROLLER_APIS: &[(ApiKey, i16, i16)] = &[
    (ApiKey::Fetch, FETCH_VERSION_MIN, 17),
    (ApiKey::ApiVersions, 0, 3),
    (ApiKey::Vote, 0, 2),
    (ApiKey::BeginQuorumEpoch, 0, 1),
    (ApiKey::EndQuorumEpoch, 0, 1),
    (ApiKey::DescribeQuorum, 0, 2),
    (ApiKey::FetchSnapshot, 0, 1),
];

/// Every API a controller serves, in ApiVersions order.
pub const CONTROLLER_API_TABLE: ApiTable = ApiTable {
    groups: &[CONTROLLER_APIS, STATE_MACHINE_APIS],
    served_by: "a controller",
};

/// The versions of `api` this node serves (capped by what the `kafka-protocol` crate knows).
pub fn served_versions(api: ApiKey) -> Option<(i16, i16)> {
    CONTROLLER_API_TABLE.versions(api)
}

/// The request handlers of a controller listener.
pub(super) struct ControllerApis {
    pub(super) shell: ShellHandle<ControllerCall>,
    pub(super) cluster_id: String,
    pub(super) voters: BTreeMap<NodeId, HostPort>,
}

impl Handler for ControllerApis {
    fn handle(&self, request: RawRequest, peer: SocketAddr) -> HandlerFuture {
        if let Some(reply) = CONTROLLER_API_TABLE.gate(&request, peer) {
            return Box::pin(async move { reply });
        }
        let api = request.api;
        match api {
            ApiKey::DescribeQuorum => {
                let shell = self.shell.clone();
                let voters = self.voters.clone();
                Box::pin(async move { describe_quorum(shell, voters, request, peer).await })
            }
            _ if STATE_MACHINE_APIS.iter().any(|(k, _, _)| *k == api) => {
                let shell = self.shell.clone();
                Box::pin(async move { state_machine_rpc(shell, request, peer).await })
            }
            _ => {
                let shell = self.shell.clone();
                let cluster_id = self.cluster_id.clone();
                Box::pin(async move { raft_rpc(shell, cluster_id, request, peer).await })
            }
        }
    }
}

fn respond(bytes: Result<Bytes, WireError>) -> Reply {
    match bytes {
        Ok(b) => Reply::Respond(b),
        Err(e) => Reply::Close(format!("cannot encode the response: {e}")),
    }
}

async fn raft_rpc(
    shell: ShellHandle<ControllerCall>,
    cluster_id: String,
    request: RawRequest,
    peer: SocketAddr,
) -> Reply {
    let (api, version, cid) = (request.api, request.version, request.correlation_id);
    let inbound = match decode_raft_request(api, version, request.body) {
        Ok(r) => r,
        Err(e) => return Reply::Close(format!("{peer}: {e}")),
    };
    if inbound
        .cluster_id
        .as_deref()
        .is_some_and(|c| c != cluster_id)
    {
        tracing::warn!(
            "{peer} (node {}) sent {api:?} for cluster {:?}; this is {cluster_id}",
            inbound.from,
            inbound.cluster_id
        );
        return respond(raft_error_response(
            api,
            version,
            cid,
            ResponseError::InconsistentClusterId,
        ));
    }
    match shell.raft_request(inbound.from, inbound.message).await {
        Ok(message) => respond(encode_raft_response(api, version, cid, &message)),
        Err(e) => {
            tracing::debug!("{api:?} from {peer}: {e}");
            respond(raft_error_response(
                api,
                version,
                cid,
                ResponseError::NotLeaderOrFollower,
            ))
        }
    }
}

async fn describe_quorum(
    shell: ShellHandle<ControllerCall>,
    voters: BTreeMap<NodeId, HostPort>,
    request: RawRequest,
    peer: SocketAddr,
) -> Reply {
    let (version, cid) = (request.version, request.correlation_id);
    let mut body = request.body;
    let req: DescribeQuorumRequest = match decode_body("DescribeQuorumRequest", &mut body, version)
    {
        Ok(r) => r,
        Err(e) => return Reply::Close(format!("{peer}: {e}")),
    };
    let asks_metadata = req.topics.iter().any(|t| {
        t.topic_name.0.as_str() == METADATA_TOPIC
            && t.partitions.iter().any(|p| p.partition_index == 0)
    });
    let response = match shell.describe_quorum().await {
        Ok(view) if asks_metadata => describe_quorum_response(&view, &voters),
        Ok(_) => DescribeQuorumResponse::default()
            .with_error_code(ResponseError::UnknownTopicOrPartition.code()),
        Err(_) => DescribeQuorumResponse::default()
            .with_error_code(ResponseError::NotLeaderOrFollower.code()),
    };
    respond(encode_response(
        "DescribeQuorumResponse",
        cid,
        version,
        &response,
    ))
}

/// Hands a metadata API request to the state machine and encodes its answer.
async fn state_machine_rpc(
    shell: ShellHandle<ControllerCall>,
    request: RawRequest,
    peer: SocketAddr,
) -> Reply {
    let (api, version, cid) = (request.api, request.version, request.correlation_id);
    let decoded = match decode_state_machine_request(request) {
        Ok(r) => r,
        Err(e) => return Reply::Close(format!("{peer}: {e}")),
    };
    let (reply, rx) = tokio::sync::oneshot::channel();
    let call = ControllerCall {
        request: decoded,
        version,
        reply,
    };
    let response = match shell.state_machine(call) {
        Ok(()) => rx.await.ok(),
        Err(e) => {
            tracing::debug!("{api:?} from {peer}: {e}");
            None
        }
    };
    match response {
        Some(r) => respond(encode_response_kind(api, cid, version, &r)),
        None => Reply::Close(format!(
            "{peer}: the controller is shutting down or overloaded"
        )),
    }
}
