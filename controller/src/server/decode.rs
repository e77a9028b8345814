//! Decoding the metadata API requests a controller or a broker hands to the state machine.

use kafka_protocol::messages::{ApiKey, RequestKind};

use crate::net::wire::{decode_body, RawRequest, WireError};

/// Decodes a metadata API request into the state machine's form.
pub fn decode_state_machine_request(request: RawRequest) -> Result<RequestKind, WireError> {
    let (api, version, mut b) = (request.api, request.version, request.body);
    let b = &mut b;
    Ok(match api {
        ApiKey::Metadata => {
            let mut r: kafka_protocol::messages::MetadataRequest =
                decode_body("MetadataRequest", b, version)?;
            // Metadata v0 has no null list: an empty one means every topic.
            if version == 0 && r.topics.as_ref().is_some_and(|t| t.is_empty()) {
                r.topics = None;
            }
            RequestKind::Metadata(r)
        }
        ApiKey::CreateTopics => {
            RequestKind::CreateTopics(decode_body("CreateTopicsRequest", b, version)?)
        }
        ApiKey::DeleteTopics => {
            RequestKind::DeleteTopics(decode_body("DeleteTopicsRequest", b, version)?)
        }
        ApiKey::CreatePartitions => {
            RequestKind::CreatePartitions(decode_body("CreatePartitionsRequest", b, version)?)
        }
        ApiKey::CreateAcls => {
            RequestKind::CreateAcls(decode_body("CreateAclsRequest", b, version)?)
        }
        ApiKey::DescribeAcls => {
            RequestKind::DescribeAcls(decode_body("DescribeAclsRequest", b, version)?)
        }
        ApiKey::DeleteAcls => {
            RequestKind::DeleteAcls(decode_body("DeleteAclsRequest", b, version)?)
        }
        ApiKey::DescribeConfigs => {
            RequestKind::DescribeConfigs(decode_body("DescribeConfigsRequest", b, version)?)
        }
        ApiKey::IncrementalAlterConfigs => RequestKind::IncrementalAlterConfigs(decode_body(
            "IncrementalAlterConfigsRequest",
            b,
            version,
        )?),
        ApiKey::BrokerRegistration => {
            RequestKind::BrokerRegistration(decode_body("BrokerRegistrationRequest", b, version)?)
        }
        ApiKey::BrokerHeartbeat => {
            RequestKind::BrokerHeartbeat(decode_body("BrokerHeartbeatRequest", b, version)?)
        }
        ApiKey::UnregisterBroker => {
            RequestKind::UnregisterBroker(decode_body("UnregisterBrokerRequest", b, version)?)
        }
        ApiKey::DescribeCluster => {
            RequestKind::DescribeCluster(decode_body("DescribeClusterRequest", b, version)?)
        }
        ApiKey::AlterPartition => {
            RequestKind::AlterPartition(decode_body("AlterPartitionRequest", b, version)?)
        }
        other => return Err(WireError::UnknownApiKey(other as i16)),
    })
}
