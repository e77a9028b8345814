//! AlterPartition (API 56, KIP-497/903): a partition leader's ISR change, validated on the
//! active controller ([`crate::control::alter_partition::alter_partition`]). Only brokers send
//! it, to the controllers.

use kafka_protocol::messages::{
    AlterPartitionRequest, AlterPartitionResponse, ApiKey, RequestKind, ResponseKind,
};

use super::{kind_conversions, Handled, Handling, MetadataApi, OnBroker};
use crate::control::alter_partition::alter_partition;
use crate::control::errors::ErrorCode;

/// See the module documentation.
pub struct AlterPartition;

impl MetadataApi for AlterPartition {
    type Request = AlterPartitionRequest;
    type Response = AlterPartitionResponse;
    const KEY: ApiKey = ApiKey::AlterPartition;
    const NAME: &'static str = "AlterPartitionRequest";
    const VERSIONS: (i16, i16) = (2, 3);
    const ON_BROKER: OnBroker = OnBroker::NotServed;
    kind_conversions!(AlterPartition);

    fn handle(r: &Self::Request, h: &mut Handling<'_>) -> Handled<Self::Response> {
        Handled::Write(alter_partition(h.latest, r, h.version))
    }

    fn error_response(_: &Self::Request, code: ErrorCode, _: &str) -> Self::Response {
        AlterPartitionResponse::default().with_error_code(code.code())
    }

    fn fail(r: &mut Self::Response, code: ErrorCode, _: &str) {
        // The per-partition answers describe a change that may not have happened: the
        // top-level error makes the leader ask again.
        r.error_code = code.code();
        r.topics.clear();
    }

    fn error_codes(r: &Self::Response) -> Vec<(i16, Option<&str>)> {
        vec![(r.error_code, None)]
    }
}
