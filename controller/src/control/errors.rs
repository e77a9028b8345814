//! The Kafka protocol error codes the active controller answers with, by Kafka's own names
//! and numbers (`clients/.../common/protocol/Errors.java`, Kafka 3.9). Every rule in
//! [`crate::control`] reports its failures as one of these codes plus, where Kafka sends one, a
//! message.

/// A Kafka error code the controller can put in a response.
///
/// The variant names are Kafka's `Errors` constants in Rust case; [`ErrorCode::code`] is the
/// number on the wire and [`ErrorCode::name`] the constant's name as Kafka spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// No error (0).
    None,
    /// An unexpected server error (-1).
    UnknownServerError,
    /// A record failed its CRC or could not be parsed (2).
    CorruptMessage,
    /// The topic or partition does not exist (3).
    UnknownTopicOrPartition,
    /// The partition has no leader right now (5).
    LeaderNotAvailable,
    /// The receiver is not the leader or a follower of the partition (6).
    NotLeaderOrFollower,
    /// The request timed out (7).
    RequestTimedOut,
    /// The topic name is invalid (17).
    InvalidTopicException,
    /// The client is not authorized for the topic (29).
    TopicAuthorizationFailed,
    /// The client is not authorized for the cluster operation (31).
    ClusterAuthorizationFailed,
    /// The request version is not supported (35).
    UnsupportedVersion,
    /// A topic with this name already exists (36).
    TopicAlreadyExists,
    /// The number of partitions is invalid (37).
    InvalidPartitions,
    /// The replication factor is invalid (38).
    InvalidReplicationFactor,
    /// The replica assignment is invalid (39).
    InvalidReplicaAssignment,
    /// A configuration key or value is invalid (40).
    InvalidConfig,
    /// The receiver is not the active controller (41).
    NotController,
    /// The request is malformed or inconsistent (42).
    InvalidRequest,
    /// A create-topic or alter-config policy rejected the request (44).
    PolicyViolation,
    /// No authorizer is configured (54).
    SecurityDisabled,
    /// The operation was not attempted because of an earlier error (55).
    OperationNotAttempted,
    /// The principal type is not supported (67).
    InvalidPrincipalType,
    /// Topic deletion is disabled (73).
    TopicDeletionDisabled,
    /// The leader epoch in the request is older than the controller's (74).
    FencedLeaderEpoch,
    /// The request's leader epoch is newer than the receiver knows (75).
    UnknownLeaderEpoch,
    /// The sender or receiver of a voters-only request is not a voter (94).
    InconsistentVoterSet,
    /// The requested snapshot does not exist (98).
    SnapshotNotFound,
    /// A snapshot position is outside the snapshot (99).
    PositionOutOfRange,
    /// The broker epoch in the request is not the registered one (77).
    StaleBrokerEpoch,
    /// The preferred leader is not available for election (80).
    PreferredLeaderNotAvailable,
    /// No eligible leader is available for the election (83).
    EligibleLeadersNotAvailable,
    /// The partition already has the leader the election asked for (84).
    ElectionNotNeeded,
    /// No reassignment is in progress for the partition (85).
    NoReassignmentInProgress,
    /// The controller mutation quota was exceeded (89).
    ThrottlingQuotaExceeded,
    /// The resource does not exist (91).
    ResourceNotFound,
    /// The update version (partition epoch) in the request is not the current one (95).
    InvalidUpdateVersion,
    /// A feature update failed (96).
    FeatureUpdateFailed,
    /// The topic id does not exist (100).
    UnknownTopicId,
    /// Another broker registration with this id is live (101).
    DuplicateBrokerRegistration,
    /// The broker id is not registered (102).
    BrokerIdNotRegistered,
    /// The request's cluster id is not this cluster's (104).
    InconsistentClusterId,
    /// The new ISR names a replica that may not join it (107).
    IneligibleReplica,
    /// The AlterPartition request was applied but elected a different leader (108).
    NewLeaderElected,
    /// The DescribeCluster endpoint type is not supported (115).
    UnsupportedEndpointType,
    /// The broker registration is invalid (119).
    InvalidRegistration,
}

impl ErrorCode {
    /// Every variant, for tables and tests.
    pub const ALL: [ErrorCode; 45] = [
        ErrorCode::None,
        ErrorCode::UnknownServerError,
        ErrorCode::CorruptMessage,
        ErrorCode::UnknownTopicOrPartition,
        ErrorCode::LeaderNotAvailable,
        ErrorCode::NotLeaderOrFollower,
        ErrorCode::RequestTimedOut,
        ErrorCode::InvalidTopicException,
        ErrorCode::TopicAuthorizationFailed,
        ErrorCode::ClusterAuthorizationFailed,
        ErrorCode::UnsupportedVersion,
        ErrorCode::TopicAlreadyExists,
        ErrorCode::InvalidPartitions,
        ErrorCode::InvalidReplicationFactor,
        ErrorCode::InvalidReplicaAssignment,
        ErrorCode::InvalidConfig,
        ErrorCode::NotController,
        ErrorCode::InvalidRequest,
        ErrorCode::PolicyViolation,
        ErrorCode::SecurityDisabled,
        ErrorCode::OperationNotAttempted,
        ErrorCode::InvalidPrincipalType,
        ErrorCode::TopicDeletionDisabled,
        ErrorCode::FencedLeaderEpoch,
        ErrorCode::UnknownLeaderEpoch,
        ErrorCode::InconsistentVoterSet,
        ErrorCode::SnapshotNotFound,
        ErrorCode::PositionOutOfRange,
        ErrorCode::StaleBrokerEpoch,
        ErrorCode::PreferredLeaderNotAvailable,
        ErrorCode::EligibleLeadersNotAvailable,
        ErrorCode::ElectionNotNeeded,
        ErrorCode::NoReassignmentInProgress,
        ErrorCode::ThrottlingQuotaExceeded,
        ErrorCode::ResourceNotFound,
        ErrorCode::InvalidUpdateVersion,
        ErrorCode::FeatureUpdateFailed,
        ErrorCode::UnknownTopicId,
        ErrorCode::DuplicateBrokerRegistration,
        ErrorCode::BrokerIdNotRegistered,
        ErrorCode::InconsistentClusterId,
        ErrorCode::IneligibleReplica,
        ErrorCode::NewLeaderElected,
        ErrorCode::UnsupportedEndpointType,
        ErrorCode::InvalidRegistration,
    ];

    /// The error's number in Kafka responses.
    pub const fn code(self) -> i16 {
        match self {
            ErrorCode::None => 0,
            ErrorCode::UnknownServerError => -1,
            ErrorCode::CorruptMessage => 2,
            ErrorCode::UnknownTopicOrPartition => 3,
            ErrorCode::LeaderNotAvailable => 5,
            ErrorCode::NotLeaderOrFollower => 6,
            ErrorCode::RequestTimedOut => 7,
            ErrorCode::InvalidTopicException => 17,
            ErrorCode::TopicAuthorizationFailed => 29,
            ErrorCode::ClusterAuthorizationFailed => 31,
            ErrorCode::UnsupportedVersion => 35,
            ErrorCode::TopicAlreadyExists => 36,
            ErrorCode::InvalidPartitions => 37,
            ErrorCode::InvalidReplicationFactor => 38,
            ErrorCode::InvalidReplicaAssignment => 39,
            ErrorCode::InvalidConfig => 40,
            ErrorCode::NotController => 41,
            ErrorCode::InvalidRequest => 42,
            ErrorCode::PolicyViolation => 44,
            ErrorCode::SecurityDisabled => 54,
            ErrorCode::OperationNotAttempted => 55,
            ErrorCode::InvalidPrincipalType => 67,
            ErrorCode::TopicDeletionDisabled => 73,
            ErrorCode::FencedLeaderEpoch => 74,
            ErrorCode::UnknownLeaderEpoch => 75,
            ErrorCode::InconsistentVoterSet => 94,
            ErrorCode::SnapshotNotFound => 98,
            ErrorCode::PositionOutOfRange => 99,
            ErrorCode::StaleBrokerEpoch => 77,
            ErrorCode::PreferredLeaderNotAvailable => 80,
            ErrorCode::EligibleLeadersNotAvailable => 83,
            ErrorCode::ElectionNotNeeded => 84,
            ErrorCode::NoReassignmentInProgress => 85,
            ErrorCode::ThrottlingQuotaExceeded => 89,
            ErrorCode::ResourceNotFound => 91,
            ErrorCode::InvalidUpdateVersion => 95,
            ErrorCode::FeatureUpdateFailed => 96,
            ErrorCode::UnknownTopicId => 100,
            ErrorCode::DuplicateBrokerRegistration => 101,
            ErrorCode::BrokerIdNotRegistered => 102,
            ErrorCode::InconsistentClusterId => 104,
            ErrorCode::IneligibleReplica => 107,
            ErrorCode::NewLeaderElected => 108,
            ErrorCode::UnsupportedEndpointType => 115,
            ErrorCode::InvalidRegistration => 119,
        }
    }

    /// Kafka's constant name for the error, as it appears in Kafka's logs and tools.
    pub const fn name(self) -> &'static str {
        match self {
            ErrorCode::None => "NONE",
            ErrorCode::UnknownServerError => "UNKNOWN_SERVER_ERROR",
            ErrorCode::CorruptMessage => "CORRUPT_MESSAGE",
            ErrorCode::UnknownTopicOrPartition => "UNKNOWN_TOPIC_OR_PARTITION",
            ErrorCode::LeaderNotAvailable => "LEADER_NOT_AVAILABLE",
            ErrorCode::NotLeaderOrFollower => "NOT_LEADER_OR_FOLLOWER",
            ErrorCode::RequestTimedOut => "REQUEST_TIMED_OUT",
            ErrorCode::InvalidTopicException => "INVALID_TOPIC_EXCEPTION",
            ErrorCode::TopicAuthorizationFailed => "TOPIC_AUTHORIZATION_FAILED",
            ErrorCode::ClusterAuthorizationFailed => "CLUSTER_AUTHORIZATION_FAILED",
            ErrorCode::UnsupportedVersion => "UNSUPPORTED_VERSION",
            ErrorCode::TopicAlreadyExists => "TOPIC_ALREADY_EXISTS",
            ErrorCode::InvalidPartitions => "INVALID_PARTITIONS",
            ErrorCode::InvalidReplicationFactor => "INVALID_REPLICATION_FACTOR",
            ErrorCode::InvalidReplicaAssignment => "INVALID_REPLICA_ASSIGNMENT",
            ErrorCode::InvalidConfig => "INVALID_CONFIG",
            ErrorCode::NotController => "NOT_CONTROLLER",
            ErrorCode::InvalidRequest => "INVALID_REQUEST",
            ErrorCode::PolicyViolation => "POLICY_VIOLATION",
            ErrorCode::SecurityDisabled => "SECURITY_DISABLED",
            ErrorCode::OperationNotAttempted => "OPERATION_NOT_ATTEMPTED",
            ErrorCode::InvalidPrincipalType => "INVALID_PRINCIPAL_TYPE",
            ErrorCode::TopicDeletionDisabled => "TOPIC_DELETION_DISABLED",
            ErrorCode::FencedLeaderEpoch => "FENCED_LEADER_EPOCH",
            ErrorCode::UnknownLeaderEpoch => "UNKNOWN_LEADER_EPOCH",
            ErrorCode::InconsistentVoterSet => "INCONSISTENT_VOTER_SET",
            ErrorCode::SnapshotNotFound => "SNAPSHOT_NOT_FOUND",
            ErrorCode::PositionOutOfRange => "POSITION_OUT_OF_RANGE",
            ErrorCode::StaleBrokerEpoch => "STALE_BROKER_EPOCH",
            ErrorCode::PreferredLeaderNotAvailable => "PREFERRED_LEADER_NOT_AVAILABLE",
            ErrorCode::EligibleLeadersNotAvailable => "ELIGIBLE_LEADERS_NOT_AVAILABLE",
            ErrorCode::ElectionNotNeeded => "ELECTION_NOT_NEEDED",
            ErrorCode::NoReassignmentInProgress => "NO_REASSIGNMENT_IN_PROGRESS",
            ErrorCode::ThrottlingQuotaExceeded => "THROTTLING_QUOTA_EXCEEDED",
            ErrorCode::ResourceNotFound => "RESOURCE_NOT_FOUND",
            ErrorCode::InvalidUpdateVersion => "INVALID_UPDATE_VERSION",
            ErrorCode::FeatureUpdateFailed => "FEATURE_UPDATE_FAILED",
            ErrorCode::UnknownTopicId => "UNKNOWN_TOPIC_ID",
            ErrorCode::DuplicateBrokerRegistration => "DUPLICATE_BROKER_REGISTRATION",
            ErrorCode::BrokerIdNotRegistered => "BROKER_ID_NOT_REGISTERED",
            ErrorCode::InconsistentClusterId => "INCONSISTENT_CLUSTER_ID",
            ErrorCode::IneligibleReplica => "INELIGIBLE_REPLICA",
            ErrorCode::NewLeaderElected => "NEW_LEADER_ELECTED",
            ErrorCode::UnsupportedEndpointType => "UNSUPPORTED_ENDPOINT_TYPE",
            ErrorCode::InvalidRegistration => "INVALID_REGISTRATION",
        }
    }

    /// The variant with this wire number, if the table has it.
    pub fn from_code(code: i16) -> Option<ErrorCode> {
        ErrorCode::ALL.iter().copied().find(|e| e.code() == code)
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorCode;
    use kafka_protocol::error::ResponseError;

    // Numbers as in Kafka 3.9 `Errors.java`; written out by hand so a typo in the table fails.
    #[test]
    fn codes_match_kafka_errors_java() {
        let expected: &[(ErrorCode, i16, &str)] = &[
            (ErrorCode::None, 0, "NONE"),
            (ErrorCode::UnknownServerError, -1, "UNKNOWN_SERVER_ERROR"),
            (ErrorCode::CorruptMessage, 2, "CORRUPT_MESSAGE"),
            (
                ErrorCode::UnknownTopicOrPartition,
                3,
                "UNKNOWN_TOPIC_OR_PARTITION",
            ),
            (ErrorCode::NotLeaderOrFollower, 6, "NOT_LEADER_OR_FOLLOWER"),
            (ErrorCode::RequestTimedOut, 7, "REQUEST_TIMED_OUT"),
            (
                ErrorCode::InvalidTopicException,
                17,
                "INVALID_TOPIC_EXCEPTION",
            ),
            (
                ErrorCode::ClusterAuthorizationFailed,
                31,
                "CLUSTER_AUTHORIZATION_FAILED",
            ),
            (ErrorCode::UnsupportedVersion, 35, "UNSUPPORTED_VERSION"),
            (ErrorCode::TopicAlreadyExists, 36, "TOPIC_ALREADY_EXISTS"),
            (ErrorCode::InvalidPartitions, 37, "INVALID_PARTITIONS"),
            (
                ErrorCode::InvalidReplicationFactor,
                38,
                "INVALID_REPLICATION_FACTOR",
            ),
            (
                ErrorCode::InvalidReplicaAssignment,
                39,
                "INVALID_REPLICA_ASSIGNMENT",
            ),
            (ErrorCode::InvalidConfig, 40, "INVALID_CONFIG"),
            (ErrorCode::NotController, 41, "NOT_CONTROLLER"),
            (ErrorCode::InvalidRequest, 42, "INVALID_REQUEST"),
            (ErrorCode::PolicyViolation, 44, "POLICY_VIOLATION"),
            (ErrorCode::SecurityDisabled, 54, "SECURITY_DISABLED"),
            (
                ErrorCode::OperationNotAttempted,
                55,
                "OPERATION_NOT_ATTEMPTED",
            ),
            (
                ErrorCode::InvalidPrincipalType,
                67,
                "INVALID_PRINCIPAL_TYPE",
            ),
            (ErrorCode::FencedLeaderEpoch, 74, "FENCED_LEADER_EPOCH"),
            (ErrorCode::UnknownLeaderEpoch, 75, "UNKNOWN_LEADER_EPOCH"),
            (
                ErrorCode::InconsistentVoterSet,
                94,
                "INCONSISTENT_VOTER_SET",
            ),
            (ErrorCode::SnapshotNotFound, 98, "SNAPSHOT_NOT_FOUND"),
            (ErrorCode::PositionOutOfRange, 99, "POSITION_OUT_OF_RANGE"),
            (ErrorCode::StaleBrokerEpoch, 77, "STALE_BROKER_EPOCH"),
            (
                ErrorCode::ThrottlingQuotaExceeded,
                89,
                "THROTTLING_QUOTA_EXCEEDED",
            ),
            (ErrorCode::ResourceNotFound, 91, "RESOURCE_NOT_FOUND"),
            (
                ErrorCode::InvalidUpdateVersion,
                95,
                "INVALID_UPDATE_VERSION",
            ),
            (ErrorCode::UnknownTopicId, 100, "UNKNOWN_TOPIC_ID"),
            (
                ErrorCode::DuplicateBrokerRegistration,
                101,
                "DUPLICATE_BROKER_REGISTRATION",
            ),
            (
                ErrorCode::BrokerIdNotRegistered,
                102,
                "BROKER_ID_NOT_REGISTERED",
            ),
            (
                ErrorCode::InconsistentClusterId,
                104,
                "INCONSISTENT_CLUSTER_ID",
            ),
            (ErrorCode::IneligibleReplica, 107, "INELIGIBLE_REPLICA"),
            (ErrorCode::NewLeaderElected, 108, "NEW_LEADER_ELECTED"),
        ];
        for (error, code, name) in expected {
            assert_eq!(error.code(), *code, "{name}");
            assert_eq!(error.name(), *name);
            assert_eq!(ErrorCode::from_code(*code), Some(*error));
        }
    }

    // Cross-check every variant against the independent table in kafka-protocol.
    #[test]
    fn codes_agree_with_kafka_protocol_crate() {
        for error in ErrorCode::ALL {
            if error == ErrorCode::None {
                assert_eq!(ResponseError::try_from_code(0), None);
                continue;
            }
            let theirs = ResponseError::try_from_code(error.code());
            assert!(
                matches!(theirs, Some(e) if !matches!(e, ResponseError::Unknown(_))),
                "{error} ({}) unknown to kafka-protocol",
                error.code()
            );
            // kafka-protocol names variants in CamelCase; compare after removing underscores.
            let ours = error.name().replace('_', "").to_ascii_lowercase();
            let theirs =
                format!("{:?}", theirs.unwrap_or(ResponseError::Unknown(0))).to_ascii_lowercase();
            assert_eq!(ours, theirs, "name mismatch for code {}", error.code());
        }
    }

    #[test]
    fn codes_are_unique() {
        for (i, a) in ErrorCode::ALL.iter().enumerate() {
            for b in &ErrorCode::ALL[i + 1..] {
                assert_ne!(a.code(), b.code(), "{a} and {b}");
            }
        }
    }
}
