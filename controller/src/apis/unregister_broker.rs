//! UnregisterBroker (API 64, KIP-631): an operator removes a broker for good, on the active
//! controller ([`crate::control::brokers::BrokerLifecycle`]).

use kafka_protocol::messages::{
    ApiKey, RequestKind, ResponseKind, UnregisterBrokerRequest, UnregisterBrokerResponse,
};

use super::{kind_conversions, Handled, Handling, MetadataApi, OnBroker};
use crate::control::errors::ErrorCode;
use crate::control::outcome::wire_message;

/// See the module documentation.
pub struct UnregisterBroker;

impl MetadataApi for UnregisterBroker {
    type Request = UnregisterBrokerRequest;
    type Response = UnregisterBrokerResponse;
    const KEY: ApiKey = ApiKey::UnregisterBroker;
    const NAME: &'static str = "UnregisterBrokerRequest";
    const VERSIONS: (i16, i16) = (0, 0);
    const ON_BROKER: OnBroker = OnBroker::NotServed;
    kind_conversions!(UnregisterBroker);

    fn handle(r: &Self::Request, h: &mut Handling<'_>) -> Handled<Self::Response> {
        Handled::Write(h.lifecycle.unregister(h.latest, r))
    }

    fn error_response(_: &Self::Request, code: ErrorCode, message: &str) -> Self::Response {
        UnregisterBrokerResponse::default()
            .with_error_code(code.code())
            .with_error_message(wire_message(message))
    }

    fn fail(r: &mut Self::Response, code: ErrorCode, message: &str) {
        r.error_code = code.code();
        r.error_message = wire_message(message);
    }

    fn error_codes(r: &Self::Response) -> Vec<(i16, Option<&str>)> {
        vec![(r.error_code, r.error_message.as_deref())]
    }
}
