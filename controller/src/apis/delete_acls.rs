//! DeleteAcls (API 31): remove the bindings filters match, on the active controller
//! ([`crate::control::acls::delete_acls`]); brokers forward it.

use kafka_protocol::messages::delete_acls_response::DeleteAclsFilterResult;
use kafka_protocol::messages::{
    ApiKey, DeleteAclsRequest, DeleteAclsResponse, RequestKind, ResponseKind,
};

use super::{kind_conversions, Handled, Handling, MetadataApi, OnBroker};
use crate::control::acls::delete_acls;
use crate::control::errors::ErrorCode;
use crate::control::outcome::wire_message;

/// See the module documentation.
pub struct DeleteAcls;

impl MetadataApi for DeleteAcls {
    type Request = DeleteAclsRequest;
    type Response = DeleteAclsResponse;
    const KEY: ApiKey = ApiKey::DeleteAcls;
    const NAME: &'static str = "DeleteAclsRequest";
    const VERSIONS: (i16, i16) = (1, 3);
    const ON_BROKER: OnBroker = OnBroker::Forwarded;
    kind_conversions!(DeleteAcls);

    fn handle(r: &Self::Request, h: &mut Handling<'_>) -> Handled<Self::Response> {
        Handled::Write(delete_acls(h.latest, r))
    }

    fn error_response(r: &Self::Request, code: ErrorCode, message: &str) -> Self::Response {
        DeleteAclsResponse::default().with_filter_results(
            r.filters
                .iter()
                .map(|_| {
                    DeleteAclsFilterResult::default()
                        .with_error_code(code.code())
                        .with_error_message(wire_message(message))
                })
                .collect(),
        )
    }

    fn fail(r: &mut Self::Response, code: ErrorCode, message: &str) {
        for t in &mut r.filter_results {
            t.error_code = code.code();
            t.error_message = wire_message(message);
            // Whether they were deleted is unknown: claim none.
            t.matching_acls.clear();
        }
    }

    fn error_codes(r: &Self::Response) -> Vec<(i16, Option<&str>)> {
        r.filter_results
            .iter()
            .map(|t| (t.error_code, t.error_message.as_deref()))
            .collect()
    }
}
