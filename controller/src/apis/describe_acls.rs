//! DescribeAcls (API 29): the ACL bindings a filter selects, from a committed image. The active
//! controller answers it; a broker answers its clients from its own image.

use std::collections::BTreeMap;

use kafka_protocol::messages::describe_acls_response::{AclDescription, DescribeAclsResource};
use kafka_protocol::messages::{
    ApiKey, DescribeAclsRequest, DescribeAclsResponse, RequestKind, ResponseKind,
};

use super::{kind_conversions, Handled, Handling, MetadataApi, OnBroker};
use crate::control::acls::describe_filter;
use crate::control::errors::ErrorCode;
use crate::control::outcome::{wire_message, wire_str};
use crate::metadata::image::MetadataImage;

/// See the module documentation.
pub struct DescribeAcls;

impl MetadataApi for DescribeAcls {
    type Request = DescribeAclsRequest;
    type Response = DescribeAclsResponse;
    const KEY: ApiKey = ApiKey::DescribeAcls;
    const NAME: &'static str = "DescribeAclsRequest";
    const VERSIONS: (i16, i16) = (1, 3);
    const ON_BROKER: OnBroker = OnBroker::Local;
    kind_conversions!(DescribeAcls);

    fn handle(r: &Self::Request, h: &mut Handling<'_>) -> Handled<Self::Response> {
        Handled::Read(describe_acls(h.committed, r))
    }

    fn error_response(_: &Self::Request, code: ErrorCode, message: &str) -> Self::Response {
        DescribeAclsResponse::default()
            .with_error_code(code.code())
            .with_error_message(wire_message(message))
    }

    fn fail(r: &mut Self::Response, code: ErrorCode, message: &str) {
        r.error_code = code.code();
        r.error_message = wire_message(message);
        r.resources.clear();
    }

    fn error_codes(r: &Self::Response) -> Vec<(i16, Option<&str>)> {
        vec![(r.error_code, r.error_message.as_deref())]
    }
}

/// DescribeAcls: the bindings the filter selects, grouped by resource pattern.
pub fn describe_acls(image: &MetadataImage, request: &DescribeAclsRequest) -> DescribeAclsResponse {
    let filter = describe_filter(request);
    if let Err(e) = filter.validate() {
        return DescribeAclsResponse::default()
            .with_error_code(ErrorCode::InvalidRequest.code())
            .with_error_message(wire_message(e.0));
    }
    let mut groups: BTreeMap<(i8, String, i8), Vec<AclDescription>> = BTreeMap::new();
    for (_, acl) in image.acls_matching(&filter) {
        groups
            .entry((
                acl.resource_type.code(),
                acl.resource_name.clone(),
                acl.pattern_type.code(),
            ))
            .or_default()
            .push(
                AclDescription::default()
                    .with_principal(wire_str(acl.principal.clone()))
                    .with_host(wire_str(acl.host.clone()))
                    .with_operation(acl.operation.code())
                    .with_permission_type(acl.permission_type.code()),
            );
    }
    DescribeAclsResponse::default().with_resources(
        groups
            .into_iter()
            .map(|((resource_type, name, pattern_type), acls)| {
                DescribeAclsResource::default()
                    .with_resource_type(resource_type)
                    .with_resource_name(wire_str(name))
                    .with_pattern_type(pattern_type)
                    .with_acls(acls)
            })
            .collect(),
    )
}
