//! The request handlers of a controller listener: the Raft RPCs and DescribeQuorum go to the
//! node's shell, the metadata APIs to its state machine, each answered in the version asked.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_quorum_response::DescribeQuorumResponse;
use kafka_protocol::messages::DescribeQuorumRequest;

use crate::apis::describe_quorum::describe_quorum_response;
use crate::apis::{decode_metadata_request, ControllerCall, Route, CONTROLLER_API_TABLE};
use crate::config::HostPort;
use crate::control::controller::ControllerRequest;
use crate::net::raft_wire::{
    decode_raft_request, encode_raft_response, raft_error_response, METADATA_TOPIC,
};
use crate::net::server::{Handler, HandlerFuture, Reply};
use crate::net::wire::{decode_body, encode_response, encode_response_kind, RawRequest, WireError};
use crate::raft::NodeId;
use crate::shell::ShellHandle;

/// The request handlers of a controller listener.
pub(super) struct ControllerApis {
    pub(super) shell: ShellHandle<ControllerRequest>,
    pub(super) cluster_id: String,
    pub(super) voters: BTreeMap<NodeId, HostPort>,
}

impl Handler for ControllerApis {
    fn handle(&self, request: RawRequest, peer: SocketAddr) -> HandlerFuture {
        if let Some(reply) = CONTROLLER_API_TABLE.gate(&request, peer) {
            return Box::pin(async move { reply });
        }
        let Some(spec) = crate::apis::spec(request.api) else {
            let why = format!("{peer}: {:?} is not in the registry", request.api);
            return Box::pin(async move { Reply::Close(why) });
        };
        let shell = self.shell.clone();
        match spec.route {
            Route::DescribeQuorum => {
                let voters = self.voters.clone();
                Box::pin(async move { describe_quorum(shell, voters, request, peer).await })
            }
            Route::Metadata(_) => {
                Box::pin(async move { state_machine_rpc(shell, request, peer).await })
            }
            Route::Raft => {
                let cluster_id = self.cluster_id.clone();
                Box::pin(async move { raft_rpc(shell, cluster_id, request, peer).await })
            }
            Route::ApiVersions => {
                // The gate answers ApiVersions; it never reaches here.
                let why = format!("{peer}: ApiVersions passed the gate");
                Box::pin(async move { Reply::Close(why) })
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
    shell: ShellHandle<ControllerRequest>,
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
    shell: ShellHandle<ControllerRequest>,
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
    shell: ShellHandle<ControllerRequest>,
    request: RawRequest,
    peer: SocketAddr,
) -> Reply {
    let (api, version, cid) = (request.api, request.version, request.correlation_id);
    let decoded = match decode_metadata_request(request) {
        Ok(r) => r,
        Err(e) => return Reply::Close(format!("{peer}: {e}")),
    };
    let (reply, rx) = tokio::sync::oneshot::channel();
    let call = ControllerCall {
        request: decoded,
        version,
        reply,
    };
    let response = match shell.state_machine(call.into()) {
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
