//! DescribeCluster (API 60): the brokers (endpoint type 1) or, from a controller, the
//! controllers (type 2, KIP-919). Any controller answers from its committed image; a broker
//! answers its clients from its own.

use std::collections::BTreeMap;

use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::{
    ApiKey, BrokerId, DescribeClusterRequest, DescribeClusterResponse, RequestKind, ResponseKind,
};

use super::metadata::endpoint;
use super::{kind_conversions, Handled, Handling, MetadataApi, OnBroker, OnController};
use crate::config::HostPort;
use crate::control::errors::ErrorCode;
use crate::control::outcome::{wire_message, wire_str};
use crate::metadata::image::MetadataImage;
use crate::raft::NodeId;

/// See the module documentation.
pub struct DescribeCluster;

impl MetadataApi for DescribeCluster {
    type Request = DescribeClusterRequest;
    type Response = DescribeClusterResponse;
    const KEY: ApiKey = ApiKey::DescribeCluster;
    const NAME: &'static str = "DescribeClusterRequest";
    const VERSIONS: (i16, i16) = (0, 1);
    const ON_BROKER: OnBroker = OnBroker::Local;
    const ON_CONTROLLER: OnController = OnController::Any;
    kind_conversions!(DescribeCluster);

    fn handle(r: &Self::Request, h: &mut Handling<'_>) -> Handled<Self::Response> {
        Handled::Read(describe_cluster_response(
            h.committed,
            h.cluster_id,
            h.leader_id,
            h.voters,
            r,
            None,
        ))
    }

    fn error_response(_: &Self::Request, code: ErrorCode, message: &str) -> Self::Response {
        DescribeClusterResponse::default()
            .with_error_code(code.code())
            .with_error_message(wire_message(message))
            .with_controller_id(BrokerId(-1))
    }

    fn fail(r: &mut Self::Response, code: ErrorCode, message: &str) {
        r.error_code = code.code();
        r.error_message = wire_message(message);
    }

    fn error_codes(r: &Self::Response) -> Vec<(i16, Option<&str>)> {
        vec![(r.error_code, r.error_message.as_deref())]
    }
}

/// DescribeCluster: brokers (endpoint type 1, their endpoint on `listener` as in
/// [`metadata_response`]) from the image, or the controllers (type 2, KIP-919) from the voter
/// set.
pub fn describe_cluster_response(
    image: &MetadataImage,
    cluster_id: &str,
    controller_id: Option<NodeId>,
    voters: &BTreeMap<NodeId, HostPort>,
    request: &DescribeClusterRequest,
    listener: Option<&str>,
) -> DescribeClusterResponse {
    let mut response = DescribeClusterResponse::default()
        .with_cluster_id(wire_str(cluster_id))
        .with_controller_id(controller_id.unwrap_or(NodeId::NONE).into())
        .with_endpoint_type(request.endpoint_type);
    match request.endpoint_type {
        1 => {
            response.brokers = image
                .cluster
                .brokers
                .values()
                .filter(|b| !b.fenced)
                .filter_map(|b| {
                    let l = endpoint(b, listener)?;
                    Some(
                        DescribeClusterBroker::default()
                            .with_broker_id(b.id.into())
                            .with_host(wire_str(l.host.clone()))
                            .with_port(i32::from(l.port))
                            .with_rack(b.rack.clone().map(wire_str)),
                    )
                })
                .collect();
        }
        2 => {
            response.brokers = voters
                .iter()
                .map(|(id, hp)| {
                    DescribeClusterBroker::default()
                        .with_broker_id((*id).into())
                        .with_host(wire_str(hp.host.clone()))
                        .with_port(i32::from(hp.port))
                })
                .collect();
        }
        other => {
            response.error_code = ErrorCode::UnsupportedEndpointType.code();
            response.error_message = wire_message(format!("unsupported endpoint type {other}"));
        }
    }
    response
}
