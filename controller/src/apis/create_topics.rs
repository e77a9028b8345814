//! CreateTopics (API 19): new topics with their partitions and configs, on the active
//! controller ([`crate::control::topics::create_topics`]); brokers forward it.

use kafka_protocol::messages::create_topics_response::CreatableTopicResult;
use kafka_protocol::messages::{
    ApiKey, CreateTopicsRequest, CreateTopicsResponse, RequestKind, ResponseKind,
};

use super::{kind_conversions, Handled, Handling, MetadataApi, OnBroker};
use crate::control::errors::ErrorCode;
use crate::control::outcome::wire_message;
use crate::control::topics::create_topics;

/// See the module documentation.
pub struct CreateTopics;

impl MetadataApi for CreateTopics {
    type Request = CreateTopicsRequest;
    type Response = CreateTopicsResponse;
    const KEY: ApiKey = ApiKey::CreateTopics;
    const NAME: &'static str = "CreateTopicsRequest";
    const VERSIONS: (i16, i16) = (2, 7);
    const ON_BROKER: OnBroker = OnBroker::Forwarded;
    kind_conversions!(CreateTopics);

    fn handle(r: &Self::Request, h: &mut Handling<'_>) -> Handled<Self::Response> {
        Handled::Write(create_topics(
            h.latest,
            r,
            h.version,
            h.topic_defaults,
            h.rng,
        ))
    }

    fn error_response(r: &Self::Request, code: ErrorCode, message: &str) -> Self::Response {
        CreateTopicsResponse::default().with_topics(
            r.topics
                .iter()
                .map(|t| {
                    CreatableTopicResult::default()
                        .with_name(t.name.clone())
                        .with_error_code(code.code())
                        .with_error_message(wire_message(message))
                        .with_num_partitions(-1)
                        .with_replication_factor(-1)
                })
                .collect(),
        )
    }

    fn fail(r: &mut Self::Response, code: ErrorCode, message: &str) {
        for t in &mut r.topics {
            t.error_code = code.code();
            t.error_message = wire_message(message);
        }
    }

    fn error_codes(r: &Self::Response) -> Vec<(i16, Option<&str>)> {
        r.topics
            .iter()
            .map(|t| (t.error_code, t.error_message.as_deref()))
            .collect()
    }
}
