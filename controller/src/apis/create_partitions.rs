//! CreatePartitions (API 37): more partitions for existing topics, on the active controller
//! ([`crate::control::topics::create_partitions`]); brokers forward it.

use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::{
    ApiKey, CreatePartitionsRequest, CreatePartitionsResponse, RequestKind, ResponseKind,
};

use super::{kind_conversions, Handled, Handling, MetadataApi, OnBroker};
use crate::control::errors::ErrorCode;
use crate::control::outcome::wire_message;
use crate::control::topics::create_partitions;

/// See the module documentation.
pub struct CreatePartitions;

impl MetadataApi for CreatePartitions {
    type Request = CreatePartitionsRequest;
    type Response = CreatePartitionsResponse;
    const KEY: ApiKey = ApiKey::CreatePartitions;
    const NAME: &'static str = "CreatePartitionsRequest";
    const VERSIONS: (i16, i16) = (0, 3);
    const ON_BROKER: OnBroker = OnBroker::Forwarded;
    kind_conversions!(CreatePartitions);

    fn handle(r: &Self::Request, h: &mut Handling<'_>) -> Handled<Self::Response> {
        Handled::Write(create_partitions(h.latest, r, h.rng))
    }

    fn error_response(r: &Self::Request, code: ErrorCode, message: &str) -> Self::Response {
        CreatePartitionsResponse::default().with_results(
            r.topics
                .iter()
                .map(|t| {
                    CreatePartitionsTopicResult::default()
                        .with_name(t.name.clone())
                        .with_error_code(code.code())
                        .with_error_message(wire_message(message))
                })
                .collect(),
        )
    }

    fn fail(r: &mut Self::Response, code: ErrorCode, message: &str) {
        for t in &mut r.results {
            t.error_code = code.code();
            t.error_message = wire_message(message);
        }
    }

    fn error_codes(r: &Self::Response) -> Vec<(i16, Option<&str>)> {
        r.results
            .iter()
            .map(|t| (t.error_code, t.error_message.as_deref()))
            .collect()
    }
}
