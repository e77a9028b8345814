//! IncrementalAlterConfigs (API 44): SET / DELETE / APPEND / SUBTRACT on topic and broker
//! configs, on the active controller ([`crate::control::configs::incremental_alter_configs`]);
//! brokers forward it.

use kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{
    ApiKey, IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse, RequestKind,
    ResponseKind,
};

use super::{kind_conversions, Handled, Handling, MetadataApi, OnBroker};
use crate::control::configs::incremental_alter_configs;
use crate::control::errors::ErrorCode;
use crate::control::outcome::wire_message;

/// See the module documentation.
pub struct IncrementalAlterConfigs;

impl MetadataApi for IncrementalAlterConfigs {
    type Request = IncrementalAlterConfigsRequest;
    type Response = IncrementalAlterConfigsResponse;
    const KEY: ApiKey = ApiKey::IncrementalAlterConfigs;
    const NAME: &'static str = "IncrementalAlterConfigsRequest";
    const VERSIONS: (i16, i16) = (0, 1);
    const ON_BROKER: OnBroker = OnBroker::Forwarded;
    kind_conversions!(IncrementalAlterConfigs);

    fn handle(r: &Self::Request, h: &mut Handling<'_>) -> Handled<Self::Response> {
        Handled::Write(incremental_alter_configs(h.latest, r))
    }

    fn error_response(r: &Self::Request, code: ErrorCode, message: &str) -> Self::Response {
        IncrementalAlterConfigsResponse::default().with_responses(
            r.resources
                .iter()
                .map(|res| {
                    AlterConfigsResourceResponse::default()
                        .with_resource_type(res.resource_type)
                        .with_resource_name(res.resource_name.clone())
                        .with_error_code(code.code())
                        .with_error_message(wire_message(message))
                })
                .collect(),
        )
    }

    fn fail(r: &mut Self::Response, code: ErrorCode, message: &str) {
        for t in &mut r.responses {
            t.error_code = code.code();
            t.error_message = wire_message(message);
        }
    }

    fn error_codes(r: &Self::Response) -> Vec<(i16, Option<&str>)> {
        r.responses
            .iter()
            .map(|t| (t.error_code, t.error_message.as_deref()))
            .collect()
    }
}
