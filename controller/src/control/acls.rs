//! ACL requests of the active controller (KIP-801's `AclControlManager`): CreateAcls writes one
//! `AccessControlEntryRecord` per new binding, DeleteAcls one `RemoveAccessControlEntryRecord`
//! per binding its filters match. Reading them (DescribeAcls) is
//! [`crate::apis::describe_acls`].

use std::collections::HashSet;

use kafka_protocol::messages::create_acls_request::{AclCreation, CreateAclsRequest};
use kafka_protocol::messages::create_acls_response::{AclCreationResult, CreateAclsResponse};
use kafka_protocol::messages::delete_acls_request::{DeleteAclsFilter, DeleteAclsRequest};
use kafka_protocol::messages::delete_acls_response::{
    DeleteAclsFilterResult, DeleteAclsMatchingAcl, DeleteAclsResponse,
};
use kafka_protocol::messages::describe_acls_request::DescribeAclsRequest;
use kafka_protocol::protocol::StrBytes;
use rand::Rng;
use uuid::Uuid;

use super::errors::ErrorCode;
use super::outcome::{wire_message, wire_str, ControlResult};
use crate::metadata::acl::{
    AclBindingFilter, AclOperation, AclPermissionType, PatternType, ResourceType, StandardAcl,
};
use crate::metadata::image::MetadataImage;
use crate::metadata::record::{MetadataRecord, RemoveAccessControlEntryRecord};

/// ACLs the cluster may hold; CreateAcls beyond it fails (Kafka's `MAX_ACLS_PER_CLUSTER`
/// guard is a policy of the same kind).
pub const ACLS_MAX: usize = 1_000_000;

fn acl_from_creation(c: &AclCreation) -> StandardAcl {
    StandardAcl {
        resource_type: ResourceType::from_code(c.resource_type),
        resource_name: c.resource_name.to_string(),
        pattern_type: PatternType::from_code(c.resource_pattern_type),
        principal: c.principal.to_string(),
        host: c.host.to_string(),
        operation: AclOperation::from_code(c.operation),
        permission_type: AclPermissionType::from_code(c.permission_type),
    }
}

/// A filter from the wire fields common to DescribeAcls and DeleteAcls.
#[allow(clippy::too_many_arguments)]
fn filter(
    resource_type: i8,
    resource_name: &Option<StrBytes>,
    pattern_type: i8,
    principal: &Option<StrBytes>,
    host: &Option<StrBytes>,
    operation: i8,
    permission_type: i8,
) -> AclBindingFilter {
    AclBindingFilter {
        resource_type: ResourceType::from_code(resource_type),
        resource_name: resource_name.as_ref().map(|s| s.to_string()),
        pattern_type: PatternType::from_code(pattern_type),
        principal: principal.as_ref().map(|s| s.to_string()),
        host: host.as_ref().map(|s| s.to_string()),
        operation: AclOperation::from_code(operation),
        permission_type: AclPermissionType::from_code(permission_type),
    }
}

/// The filter of a DeleteAcls entry.
pub fn delete_filter(f: &DeleteAclsFilter) -> AclBindingFilter {
    filter(
        f.resource_type_filter,
        &f.resource_name_filter,
        f.pattern_type_filter,
        &f.principal_filter,
        &f.host_filter,
        f.operation,
        f.permission_type,
    )
}

/// The filter of a DescribeAcls request.
pub fn describe_filter(r: &DescribeAclsRequest) -> AclBindingFilter {
    filter(
        r.resource_type_filter,
        &r.resource_name_filter,
        r.pattern_type_filter,
        &r.principal_filter,
        &r.host_filter,
        r.operation,
        r.permission_type,
    )
}

/// CreateAcls: each binding is validated on its own; a binding that already exists succeeds
/// without a new record, as in Kafka.
pub fn create_acls<R: Rng + ?Sized>(
    image: &MetadataImage,
    request: &CreateAclsRequest,
    rng: &mut R,
) -> ControlResult<CreateAclsResponse> {
    let existing: HashSet<&StandardAcl> = image.acls.values().collect();
    let mut added: HashSet<StandardAcl> = HashSet::new();
    let mut records = Vec::new();
    let mut results = Vec::with_capacity(request.creations.len());
    for c in &request.creations {
        let acl = acl_from_creation(c);
        let mut result = AclCreationResult::default();
        if let Err(e) = acl.validate_for_create() {
            result.error_code = ErrorCode::InvalidRequest.code();
            result.error_message = wire_message(e.0);
        } else if existing.contains(&acl) || added.contains(&acl) {
            // Already present: nothing to write.
        } else if image.acls.len() + added.len() >= ACLS_MAX {
            result.error_code = ErrorCode::PolicyViolation.code();
            result.error_message =
                wire_message(format!("The cluster already holds {ACLS_MAX} ACLs."));
        } else {
            let id = loop {
                let id = Uuid::from_bytes(rng.random());
                if !id.is_nil() && !image.acls.contains_key(&id) {
                    break id;
                }
            };
            records.push(MetadataRecord::AccessControlEntry(acl.to_record(id)));
            added.insert(acl);
        }
        results.push(result);
    }
    ControlResult {
        records,
        response: CreateAclsResponse::default().with_results(results),
    }
}

/// DeleteAcls: every binding any filter matches is removed once; each filter reports what it
/// matched.
pub fn delete_acls(
    image: &MetadataImage,
    request: &DeleteAclsRequest,
) -> ControlResult<DeleteAclsResponse> {
    let mut removed = HashSet::new();
    let mut records = Vec::new();
    let mut results = Vec::with_capacity(request.filters.len());
    for f in &request.filters {
        let filter = delete_filter(f);
        if let Err(e) = filter.validate() {
            results.push(
                DeleteAclsFilterResult::default()
                    .with_error_code(ErrorCode::InvalidRequest.code())
                    .with_error_message(wire_message(e.0)),
            );
            continue;
        }
        let mut matching = Vec::new();
        for (id, acl) in image.acls_matching(&filter) {
            if removed.insert(*id) {
                records.push(MetadataRecord::RemoveAccessControlEntry(
                    RemoveAccessControlEntryRecord { id: *id },
                ));
            }
            matching.push(
                DeleteAclsMatchingAcl::default()
                    .with_resource_type(acl.resource_type.code())
                    .with_resource_name(wire_str(acl.resource_name.clone()))
                    .with_pattern_type(acl.pattern_type.code())
                    .with_principal(wire_str(acl.principal.clone()))
                    .with_host(wire_str(acl.host.clone()))
                    .with_operation(acl.operation.code())
                    .with_permission_type(acl.permission_type.code()),
            );
        }
        results.push(DeleteAclsFilterResult::default().with_matching_acls(matching));
    }
    ControlResult {
        records,
        response: DeleteAclsResponse::default().with_filter_results(results),
    }
}

#[cfg(test)]
mod tests {
    use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
    use rand::SeedableRng;

    use super::*;
    use crate::apis::describe_acls::describe_acls;
    use crate::metadata::delta::MetadataDelta;
    use crate::metadata::image::MetadataProvenance;

    fn creation(name: &str, pattern: i8, principal: &str) -> AclCreation {
        AclCreation::default()
            .with_resource_type(ResourceType::Topic.code())
            .with_resource_name(wire_str(name))
            .with_resource_pattern_type(pattern)
            .with_principal(wire_str(principal))
            .with_host(wire_str("*"))
            .with_operation(AclOperation::Read.code())
            .with_permission_type(AclPermissionType::Allow.code())
    }

    fn apply(image: &MetadataImage, records: &[MetadataRecord]) -> MetadataImage {
        let mut d = MetadataDelta::new(image);
        for r in records {
            d.replay(r).unwrap();
        }
        d.apply(MetadataProvenance::EMPTY)
    }

    fn any_filter() -> DescribeAclsRequest {
        // The crate's defaults for the nullable strings are "", not null.
        DescribeAclsRequest::default()
            .with_resource_name_filter(None)
            .with_principal_filter(None)
            .with_host_filter(None)
            .with_resource_type_filter(ResourceType::Any.code())
            .with_pattern_type_filter(PatternType::Any.code())
            .with_operation(AclOperation::Any.code())
            .with_permission_type(AclPermissionType::Any.code())
    }

    // KIP-290: literal, prefixed and match filters select what Kafka's would.
    #[test]
    fn created_acls_are_described_matched_and_deleted() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let image = MetadataImage::empty();
        let request = CreateAclsRequest::default().with_creations(vec![
            creation("orders", PatternType::Literal.code(), "User:alice"),
            creation("ord", PatternType::Prefixed.code(), "User:bob"),
            creation("orders", PatternType::Literal.code(), "User:alice"),
            creation("", PatternType::Literal.code(), "User:carol"),
        ]);
        let result = create_acls(&image, &request, &mut rng);
        let codes: Vec<i16> = result
            .response
            .results
            .iter()
            .map(|r| r.error_code)
            .collect();
        assert_eq!(codes, vec![0, 0, 0, ErrorCode::InvalidRequest.code()]);
        assert_eq!(result.records.len(), 2, "the duplicate is written once");
        let image = apply(&image, &result.records);
        let all = describe_acls(&image, &any_filter());
        assert_eq!(all.error_code, 0);
        assert_eq!(all.resources.iter().map(|r| r.acls.len()).sum::<usize>(), 2);
        // Creating again writes nothing.
        let again = create_acls(&image, &request, &mut rng);
        assert!(again.records.is_empty());
        // MATCH on "orders" finds the literal and the prefixed ACL.
        let matched = describe_acls(
            &image,
            &any_filter()
                .with_pattern_type_filter(PatternType::Match.code())
                .with_resource_name_filter(Some(wire_str("orders"))),
        );
        assert_eq!(matched.resources.len(), 2);
        // Deleting bob's prefixed ACL leaves alice's.
        let delete = DeleteAclsRequest::default().with_filters(vec![DeleteAclsFilter::default()
            .with_resource_name_filter(None)
            .with_principal_filter(None)
            .with_host_filter(None)
            .with_resource_type_filter(ResourceType::Any.code())
            .with_pattern_type_filter(PatternType::Prefixed.code())
            .with_operation(AclOperation::Any.code())
            .with_permission_type(AclPermissionType::Any.code())]);
        let deleted = delete_acls(&image, &delete);
        assert_eq!(deleted.records.len(), 1);
        assert_eq!(
            deleted.response.filter_results[0].matching_acls[0]
                .principal
                .as_str(),
            "User:bob"
        );
        let image = apply(&image, &deleted.records);
        let left = describe_acls(&image, &any_filter());
        assert_eq!(left.resources.len(), 1);
        assert_eq!(left.resources[0].acls[0].principal.as_str(), "User:alice");
    }
}
