//! CreateAcls (API 30): new ACL bindings, on the active controller
//! ([`crate::control::acls::create_acls`]); brokers forward it.

use kafka_protocol::messages::create_acls_response::AclCreationResult;
use kafka_protocol::messages::{
    ApiKey, CreateAclsRequest, CreateAclsResponse, RequestKind, ResponseKind,
};

use super::{kind_conversions, Handled, Handling, MetadataApi, OnBroker};
use crate::control::acls::create_acls;
use crate::control::errors::ErrorCode;
use crate::control::outcome::wire_message;

/// See the module documentation.
pub struct CreateAcls;

impl MetadataApi for CreateAcls {
    type Request = CreateAclsRequest;
    type Response = CreateAclsResponse;
    const KEY: ApiKey = ApiKey::CreateAcls;
    const NAME: &'static str = "CreateAclsRequest";
    const VERSIONS: (i16, i16) = (1, 3);
    const ON_BROKER: OnBroker = OnBroker::Forwarded;
    kind_conversions!(CreateAcls);

    fn handle(r: &Self::Request, h: &mut Handling<'_>) -> Handled<Self::Response> {
        Handled::Write(create_acls(h.latest, r, h.rng))
    }

    fn error_response(r: &Self::Request, code: ErrorCode, message: &str) -> Self::Response {
        CreateAclsResponse::default().with_results(
            r.creations
                .iter()
                .map(|_| {
                    AclCreationResult::default()
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
