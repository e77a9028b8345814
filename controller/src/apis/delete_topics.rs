//! DeleteTopics (API 20): by name or (v6+) by id, on the active controller
//! ([`crate::control::topics::delete_topics`]); brokers forward it.

use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{
    ApiKey, DeleteTopicsRequest, DeleteTopicsResponse, RequestKind, ResponseKind,
};

use super::{kind_conversions, Handled, Handling, MetadataApi, OnBroker};
use crate::control::errors::ErrorCode;
use crate::control::outcome::wire_message;
use crate::control::topics::delete_topics;

/// See the module documentation.
pub struct DeleteTopics;

impl MetadataApi for DeleteTopics {
    type Request = DeleteTopicsRequest;
    type Response = DeleteTopicsResponse;
    const KEY: ApiKey = ApiKey::DeleteTopics;
    const NAME: &'static str = "DeleteTopicsRequest";
    const VERSIONS: (i16, i16) = (1, 6);
    const ON_BROKER: OnBroker = OnBroker::Forwarded;
    kind_conversions!(DeleteTopics);

    fn handle(r: &Self::Request, h: &mut Handling<'_>) -> Handled<Self::Response> {
        Handled::Write(delete_topics(h.latest, r, h.version))
    }

    fn error_response(r: &Self::Request, code: ErrorCode, message: &str) -> Self::Response {
        let (c, msg) = (code.code(), || wire_message(message));
        let mut out: Vec<DeletableTopicResult> = r
            .topic_names
            .iter()
            .map(|n| {
                DeletableTopicResult::default()
                    .with_name(Some(n.clone()))
                    .with_error_code(c)
                    .with_error_message(msg())
            })
            .collect();
        out.extend(r.topics.iter().map(|t| {
            DeletableTopicResult::default()
                .with_name(t.name.clone())
                .with_topic_id(t.topic_id)
                .with_error_code(c)
                .with_error_message(msg())
        }));
        DeleteTopicsResponse::default().with_responses(out)
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
