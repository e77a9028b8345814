//! BrokerRegistration (API 62, KIP-631): a broker joins (or rejoins) the cluster and gets its
//! broker epoch, on the active controller ([`crate::control::brokers::BrokerLifecycle`]).
//! Only brokers send it, to the controllers.

use kafka_protocol::messages::{
    ApiKey, BrokerRegistrationRequest, BrokerRegistrationResponse, RequestKind, ResponseKind,
};

use super::{kind_conversions, Handled, Handling, MetadataApi, OnBroker};
use crate::control::errors::ErrorCode;

/// See the module documentation.
pub struct BrokerRegistration;

impl MetadataApi for BrokerRegistration {
    type Request = BrokerRegistrationRequest;
    type Response = BrokerRegistrationResponse;
    const KEY: ApiKey = ApiKey::BrokerRegistration;
    const NAME: &'static str = "BrokerRegistrationRequest";
    const VERSIONS: (i16, i16) = (0, 4);
    const ON_BROKER: OnBroker = OnBroker::NotServed;
    kind_conversions!(BrokerRegistration);

    fn handle(r: &Self::Request, h: &mut Handling<'_>) -> Handled<Self::Response> {
        Handled::Write(h.lifecycle.register(
            h.latest,
            h.cluster_id,
            r,
            h.next_offset,
            h.now_ms,
            h.broker_session_timeout_ms,
        ))
    }

    fn error_response(_: &Self::Request, code: ErrorCode, _: &str) -> Self::Response {
        BrokerRegistrationResponse::default()
            .with_error_code(code.code())
            .with_broker_epoch(-1)
    }

    fn fail(r: &mut Self::Response, code: ErrorCode, _: &str) {
        r.error_code = code.code();
        r.broker_epoch = -1;
    }

    fn error_codes(r: &Self::Response) -> Vec<(i16, Option<&str>)> {
        vec![(r.error_code, None)]
    }
}
