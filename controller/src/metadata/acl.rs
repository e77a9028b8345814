//! ACLs as the image stores them ([`StandardAcl`]), Kafka's codes for their enums, the
//! `AclBindingFilter` matching DescribeAcls and DeleteAcls use (KIP-290 pattern types), and the
//! checks Kafka's `AclControlManager` applies to a binding before creating it.

use uuid::Uuid;

use super::record::AccessControlEntryRecord;

macro_rules! kafka_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $code:expr => $text:expr,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)*
        }

        impl $name {
            /// Kafka's wire code.
            pub fn code(self) -> i8 {
                match self { $($name::$variant => $code,)* }
            }

            /// The value for a wire code; codes Kafka does not define map to `Unknown`, as
            /// Kafka's `fromCode` does.
            pub fn from_code(code: i8) -> Self {
                match code { $($code => $name::$variant,)* _ => $name::Unknown }
            }

            /// Kafka's name for the value (`TOPIC`, `DESCRIBE_CONFIGS`, ...).
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)* }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

kafka_enum!(
    /// `org.apache.kafka.common.resource.ResourceType`.
    ResourceType {
        /// Not a known type.
        Unknown = 0 => "UNKNOWN",
        /// Filter only: any type.
        Any = 1 => "ANY",
        /// A topic.
        Topic = 2 => "TOPIC",
        /// A consumer group.
        Group = 3 => "GROUP",
        /// The cluster.
        Cluster = 4 => "CLUSTER",
        /// A transactional id.
        TransactionalId = 5 => "TRANSACTIONAL_ID",
        /// A delegation token.
        DelegationToken = 6 => "DELEGATION_TOKEN",
        /// A user.
        User = 7 => "USER",
    }
);

kafka_enum!(
    /// `org.apache.kafka.common.resource.PatternType` (KIP-290).
    PatternType {
        /// Not a known pattern type.
        Unknown = 0 => "UNKNOWN",
        /// Filter only: any pattern type, names compared exactly.
        Any = 1 => "ANY",
        /// Filter only: every ACL that applies to the named resource.
        Match = 2 => "MATCH",
        /// The name is the resource name (or the wildcard `*`).
        Literal = 3 => "LITERAL",
        /// The name is a prefix of resource names.
        Prefixed = 4 => "PREFIXED",
    }
);

kafka_enum!(
    /// `org.apache.kafka.common.acl.AclOperation`.
    AclOperation {
        /// Not a known operation.
        Unknown = 0 => "UNKNOWN",
        /// Filter only: any operation.
        Any = 1 => "ANY",
        /// Every operation.
        All = 2 => "ALL",
        /// READ.
        Read = 3 => "READ",
        /// WRITE.
        Write = 4 => "WRITE",
        /// CREATE.
        Create = 5 => "CREATE",
        /// DELETE.
        Delete = 6 => "DELETE",
        /// ALTER.
        Alter = 7 => "ALTER",
        /// DESCRIBE.
        Describe = 8 => "DESCRIBE",
        /// CLUSTER_ACTION.
        ClusterAction = 9 => "CLUSTER_ACTION",
        /// DESCRIBE_CONFIGS.
        DescribeConfigs = 10 => "DESCRIBE_CONFIGS",
        /// ALTER_CONFIGS.
        AlterConfigs = 11 => "ALTER_CONFIGS",
        /// IDEMPOTENT_WRITE.
        IdempotentWrite = 12 => "IDEMPOTENT_WRITE",
        /// CREATE_TOKENS.
        CreateTokens = 13 => "CREATE_TOKENS",
        /// DESCRIBE_TOKENS.
        DescribeTokens = 14 => "DESCRIBE_TOKENS",
    }
);

kafka_enum!(
    /// `org.apache.kafka.common.acl.AclPermissionType`.
    AclPermissionType {
        /// Not a known permission type.
        Unknown = 0 => "UNKNOWN",
        /// Filter only: any permission type.
        Any = 1 => "ANY",
        /// Deny.
        Deny = 2 => "DENY",
        /// Allow.
        Allow = 3 => "ALLOW",
    }
);

/// The literal resource name that matches every resource of its type.
pub const WILDCARD_RESOURCE: &str = "*";

/// One ACL (an `AclBinding`): who may or may not do what on which resources.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StandardAcl {
    /// Resource type.
    pub resource_type: ResourceType,
    /// Resource name, prefix, or `*`.
    pub resource_name: String,
    /// LITERAL or PREFIXED for a stored ACL.
    pub pattern_type: PatternType,
    /// Principal, e.g. `User:alice`.
    pub principal: String,
    /// Host, or `*`.
    pub host: String,
    /// Operation.
    pub operation: AclOperation,
    /// ALLOW or DENY.
    pub permission_type: AclPermissionType,
}

impl StandardAcl {
    /// The ACL and its id from an `AccessControlEntryRecord`.
    pub fn from_record(r: &AccessControlEntryRecord) -> (Uuid, StandardAcl) {
        (
            r.id,
            StandardAcl {
                resource_type: ResourceType::from_code(r.resource_type),
                resource_name: r.resource_name.clone(),
                pattern_type: PatternType::from_code(r.pattern_type),
                principal: r.principal.clone(),
                host: r.host.clone(),
                operation: AclOperation::from_code(r.operation),
                permission_type: AclPermissionType::from_code(r.permission_type),
            },
        )
    }

    /// The record that creates this ACL under `id`.
    pub fn to_record(&self, id: Uuid) -> AccessControlEntryRecord {
        AccessControlEntryRecord {
            id,
            resource_type: self.resource_type.code(),
            resource_name: self.resource_name.clone(),
            pattern_type: self.pattern_type.code(),
            principal: self.principal.clone(),
            host: self.host.clone(),
            operation: self.operation.code(),
            permission_type: self.permission_type.code(),
        }
    }

    /// Checks a binding before it is created, as Kafka's `AclControlManager.validateNewAcl`
    /// does: a concrete resource type, LITERAL or PREFIXED, a concrete operation, ALLOW or DENY,
    /// and a non-empty resource name. Errors carry Kafka's messages (INVALID_REQUEST).
    pub fn validate_for_create(&self) -> Result<(), AclError> {
        if matches!(
            self.resource_type,
            ResourceType::Unknown | ResourceType::Any
        ) {
            return Err(AclError(format!(
                "Invalid resourceType {}",
                self.resource_type
            )));
        }
        if !matches!(
            self.pattern_type,
            PatternType::Literal | PatternType::Prefixed
        ) {
            return Err(AclError(format!(
                "Invalid patternType {}",
                self.pattern_type
            )));
        }
        if matches!(self.operation, AclOperation::Unknown | AclOperation::Any) {
            return Err(AclError(format!("Invalid operation {}", self.operation)));
        }
        if !matches!(
            self.permission_type,
            AclPermissionType::Allow | AclPermissionType::Deny
        ) {
            return Err(AclError(format!(
                "Invalid permissionType {}",
                self.permission_type
            )));
        }
        if self.resource_name.is_empty() {
            return Err(AclError("Resource name should not be empty".into()));
        }
        Ok(())
    }
}

/// An ACL request Kafka rejects with INVALID_REQUEST; the text is Kafka's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AclError(pub String);

/// `AclBindingFilter`: which ACLs a DescribeAcls or DeleteAcls request selects. `None` strings
/// match anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclBindingFilter {
    /// A resource type, or ANY.
    pub resource_type: ResourceType,
    /// A resource name, or `None` for any.
    pub resource_name: Option<String>,
    /// LITERAL, PREFIXED, ANY or MATCH.
    pub pattern_type: PatternType,
    /// A principal, or `None` for any.
    pub principal: Option<String>,
    /// A host, or `None` for any.
    pub host: Option<String>,
    /// An operation, or ANY.
    pub operation: AclOperation,
    /// ALLOW, DENY or ANY.
    pub permission_type: AclPermissionType,
}

impl AclBindingFilter {
    /// The filter that matches every ACL.
    pub fn any() -> Self {
        AclBindingFilter {
            resource_type: ResourceType::Any,
            resource_name: None,
            pattern_type: PatternType::Any,
            principal: None,
            host: None,
            operation: AclOperation::Any,
            permission_type: AclPermissionType::Any,
        }
    }

    /// Rejects a filter with an UNKNOWN field, as Kafka's `AclControlManager.validateFilter`.
    pub fn validate(&self) -> Result<(), AclError> {
        if self.resource_type == ResourceType::Unknown || self.pattern_type == PatternType::Unknown
        {
            return Err(AclError("Unknown patternFilter.".into()));
        }
        if self.operation == AclOperation::Unknown
            || self.permission_type == AclPermissionType::Unknown
        {
            return Err(AclError("Unknown entryFilter.".into()));
        }
        Ok(())
    }

    /// Whether the filter selects `acl`.
    pub fn matches(&self, acl: &StandardAcl) -> bool {
        self.matches_pattern(acl) && self.matches_entry(acl)
    }

    /// Kafka's `ResourcePatternFilter.matches`: type ANY or equal; pattern type ANY, MATCH or
    /// equal; then a missing name matches; with ANY or the same pattern type names must be
    /// equal; with MATCH a LITERAL ACL matches its own name or `*`, and a PREFIXED ACL matches
    /// when its name is a prefix of the filter's name.
    fn matches_pattern(&self, acl: &StandardAcl) -> bool {
        if self.resource_type != ResourceType::Any && self.resource_type != acl.resource_type {
            return false;
        }
        if !matches!(self.pattern_type, PatternType::Any | PatternType::Match)
            && self.pattern_type != acl.pattern_type
        {
            return false;
        }
        let Some(name) = &self.resource_name else {
            return true;
        };
        if self.pattern_type == PatternType::Any || self.pattern_type == acl.pattern_type {
            return *name == acl.resource_name;
        }
        match acl.pattern_type {
            PatternType::Literal => {
                *name == acl.resource_name || acl.resource_name == WILDCARD_RESOURCE
            }
            PatternType::Prefixed => name.starts_with(&acl.resource_name),
            // Kafka throws here; a stored ACL is never of another pattern type.
            _ => false,
        }
    }

    /// Kafka's `AccessControlEntryFilter.matches`.
    fn matches_entry(&self, acl: &StandardAcl) -> bool {
        self.principal.as_ref().is_none_or(|p| *p == acl.principal)
            && self.host.as_ref().is_none_or(|h| *h == acl.host)
            && (self.operation == AclOperation::Any || self.operation == acl.operation)
            && (self.permission_type == AclPermissionType::Any
                || self.permission_type == acl.permission_type)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acl(rt: ResourceType, name: &str, pt: PatternType) -> StandardAcl {
        StandardAcl {
            resource_type: rt,
            resource_name: name.into(),
            pattern_type: pt,
            principal: "User:alice".into(),
            host: "*".into(),
            operation: AclOperation::Read,
            permission_type: AclPermissionType::Allow,
        }
    }

    fn filter(rt: ResourceType, name: Option<&str>, pt: PatternType) -> AclBindingFilter {
        AclBindingFilter {
            resource_type: rt,
            resource_name: name.map(String::from),
            pattern_type: pt,
            ..AclBindingFilter::any()
        }
    }

    use AclOperation as Op;
    use PatternType::*;
    use ResourceType::*;

    #[test]
    fn codes_match_kafka() {
        assert_eq!(ResourceType::from_code(7), User);
        assert_eq!(ResourceType::from_code(42), ResourceType::Unknown);
        assert_eq!(Op::DescribeTokens.code(), 14);
        assert_eq!(Op::from_code(10), Op::DescribeConfigs);
        assert_eq!(AclPermissionType::from_code(3), AclPermissionType::Allow);
        assert_eq!(PatternType::from_code(4), Prefixed);
        assert_eq!(Op::IdempotentWrite.to_string(), "IDEMPOTENT_WRITE");
    }

    // KIP-290: a MATCH filter selects every ACL that applies to the named resource.
    #[test]
    fn match_filter_selects_literal_wildcard_and_prefixes() {
        let f = filter(Topic, Some("foobar"), Match);
        assert!(f.matches(&acl(Topic, "foobar", Literal)));
        assert!(f.matches(&acl(Topic, "*", Literal)));
        assert!(f.matches(&acl(Topic, "foo", Prefixed)));
        assert!(f.matches(&acl(Topic, "foobar", Prefixed)));
        assert!(!f.matches(&acl(Topic, "foobarbaz", Prefixed)));
        assert!(!f.matches(&acl(Topic, "foo", Literal)));
        assert!(!f.matches(&acl(Group, "foobar", Literal)));
        // A prefixed "*" is just the one-character prefix "*", not a wildcard.
        assert!(!f.matches(&acl(Topic, "*", Prefixed)));
    }

    // KIP-290: ANY compares names exactly across pattern types; LITERAL/PREFIXED select
    // only their own pattern type.
    #[test]
    fn any_literal_and_prefixed_filters_compare_names_exactly() {
        let any = filter(Topic, Some("foo"), PatternType::Any);
        assert!(any.matches(&acl(Topic, "foo", Literal)));
        assert!(any.matches(&acl(Topic, "foo", Prefixed)));
        assert!(!any.matches(&acl(Topic, "*", Literal)));
        assert!(!any.matches(&acl(Topic, "fo", Prefixed)));

        let lit = filter(Topic, Some("foo"), Literal);
        assert!(lit.matches(&acl(Topic, "foo", Literal)));
        assert!(!lit.matches(&acl(Topic, "foo", Prefixed)));
        assert!(!lit.matches(&acl(Topic, "*", Literal)));

        let pre = filter(Topic, Some("foo"), Prefixed);
        assert!(pre.matches(&acl(Topic, "foo", Prefixed)));
        assert!(!pre.matches(&acl(Topic, "fo", Prefixed)));
        assert!(!pre.matches(&acl(Topic, "foo", Literal)));
    }

    #[test]
    fn missing_name_and_any_type_match_everything_of_the_pattern_type() {
        assert!(
            filter(ResourceType::Any, None, PatternType::Any).matches(&acl(
                Cluster,
                "kafka-cluster",
                Literal
            ))
        );
        assert!(filter(Topic, None, Prefixed).matches(&acl(Topic, "x", Prefixed)));
        assert!(!filter(Topic, None, Prefixed).matches(&acl(Topic, "x", Literal)));
        assert!(filter(Topic, None, Match).matches(&acl(Topic, "x", Literal)));
        assert!(filter(Topic, None, Match).matches(&acl(Topic, "x", Prefixed)));
    }

    #[test]
    fn entry_filter_fields() {
        let a = acl(Topic, "t", Literal);
        let mut f = AclBindingFilter::any();
        assert!(f.matches(&a));
        f.principal = Some("User:bob".into());
        assert!(!f.matches(&a));
        f.principal = Some("User:alice".into());
        f.host = Some("10.0.0.1".into());
        assert!(!f.matches(&a));
        f.host = Some("*".into());
        f.operation = Op::Write;
        assert!(!f.matches(&a));
        f.operation = Op::Read;
        f.permission_type = AclPermissionType::Deny;
        assert!(!f.matches(&a));
        f.permission_type = AclPermissionType::Allow;
        assert!(f.matches(&a));
    }

    #[test]
    fn validation_uses_kafka_messages() {
        let ok = acl(Topic, "t", Literal);
        assert_eq!(ok.validate_for_create(), Ok(()));
        let bad = |f: &dyn Fn(&mut StandardAcl)| {
            let mut a = ok.clone();
            f(&mut a);
            a.validate_for_create().unwrap_err().0
        };
        assert_eq!(
            bad(&|a| a.resource_type = ResourceType::Any),
            "Invalid resourceType ANY"
        );
        assert_eq!(
            bad(&|a| a.pattern_type = Match),
            "Invalid patternType MATCH"
        );
        assert_eq!(
            bad(&|a| a.pattern_type = PatternType::Any),
            "Invalid patternType ANY"
        );
        assert_eq!(
            bad(&|a| a.operation = Op::Unknown),
            "Invalid operation UNKNOWN"
        );
        assert_eq!(
            bad(&|a| a.permission_type = AclPermissionType::Any),
            "Invalid permissionType ANY"
        );
        assert_eq!(
            bad(&|a| a.resource_name.clear()),
            "Resource name should not be empty"
        );
        let mut f = AclBindingFilter::any();
        assert_eq!(f.validate(), Ok(()));
        f.pattern_type = PatternType::Unknown;
        assert_eq!(f.validate().unwrap_err().0, "Unknown patternFilter.");
        f.pattern_type = Match;
        f.permission_type = AclPermissionType::Unknown;
        assert_eq!(f.validate().unwrap_err().0, "Unknown entryFilter.");
    }

    #[test]
    fn record_round_trip() {
        let a = acl(TransactionalId, "tx-", Prefixed);
        let id = Uuid::from_u128(9);
        assert_eq!(StandardAcl::from_record(&a.to_record(id)), (id, a));
    }
}
