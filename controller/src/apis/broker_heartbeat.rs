//! BrokerHeartbeat (API 63, KIP-631/841): a broker's liveness, its wish to be fenced,
//! unfenced or shut down, on the active controller
//! ([`crate::control::brokers::BrokerLifecycle`]). Only brokers send it, to the controllers.

use kafka_protocol::messages::{
    ApiKey, BrokerHeartbeatRequest, BrokerHeartbeatResponse, RequestKind, ResponseKind,
};

use super::{kind_conversions, Handled, Handling, MetadataApi, OnBroker};
use crate::control::errors::ErrorCode;

/// See the module documentation.
pub struct BrokerHeartbeat;

impl MetadataApi for BrokerHeartbeat {
    type Request = BrokerHeartbeatRequest;
    type Response = BrokerHeartbeatResponse;
    const KEY: ApiKey = ApiKey::BrokerHeartbeat;
    const NAME: &'static str = "BrokerHeartbeatRequest";
    const VERSIONS: (i16, i16) = (0, 1);
    const ON_BROKER: OnBroker = OnBroker::NotServed;
    kind_conversions!(BrokerHeartbeat);

    fn handle(r: &Self::Request, h: &mut Handling<'_>) -> Handled<Self::Response> {
        Handled::Write(h.lifecycle.heartbeat(h.latest, r, h.next_offset, h.now_ms))
    }

    fn error_response(_: &Self::Request, code: ErrorCode, _: &str) -> Self::Response {
        BrokerHeartbeatResponse::default()
            .with_error_code(code.code())
            .with_is_fenced(true)
    }

    fn fail(r: &mut Self::Response, code: ErrorCode, _: &str) {
        r.error_code = code.code();
    }

    fn error_codes(r: &Self::Response) -> Vec<(i16, Option<&str>)> {
        vec![(r.error_code, None)]
    }
}
