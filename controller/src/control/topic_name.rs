//! Topic name rules: Kafka's validity check (`Topic.validate`), the '.'/'_' collision rule and
//! internal-topic detection, with Kafka's exact messages, which clients see as
//! `INVALID_TOPIC_EXCEPTION` error messages in CreateTopics responses.

use super::errors::ErrorCode;

/// The longest topic name Kafka accepts, in UTF-16 code units as Java counts string length.
pub const TOPIC_NAME_LENGTH_MAX: usize = 249;

/// The consumer group offsets topic.
pub const GROUP_METADATA_TOPIC_NAME: &str = "__consumer_offsets";
/// The transaction coordinator's state topic.
pub const TRANSACTION_STATE_TOPIC_NAME: &str = "__transaction_state";
/// The share group state topic (KIP-932); Kafka 3.9 already counts it as internal.
pub const SHARE_GROUP_STATE_TOPIC_NAME: &str = "__share_group_state";
/// The metadata log's topic name. Not an "internal topic" in Kafka's sense: it is never
/// created through CreateTopics and is not in Kafka's internal set.
pub const CLUSTER_METADATA_TOPIC_NAME: &str = "__cluster_metadata";

/// Why a topic name was rejected. `Display` is Kafka's `InvalidTopicException` message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicNameError {
    /// The name is the empty string.
    #[error("Topic name is invalid: the empty string is not allowed")]
    Empty,
    /// The name is ".".
    #[error("Topic name is invalid: '.' is not allowed")]
    Dot,
    /// The name is "..".
    #[error("Topic name is invalid: '..' is not allowed")]
    DoubleDot,
    /// The name is longer than [`TOPIC_NAME_LENGTH_MAX`].
    #[error(
        "Topic name is invalid: the length of '{0}' is longer than the max allowed length {max}",
        max = TOPIC_NAME_LENGTH_MAX
    )]
    TooLong(String),
    /// The name has a character outside ASCII alphanumerics, '.', '_' and '-'.
    #[error(
        "Topic name is invalid: '{0}' contains one or more characters other than ASCII alphanumerics, '.', '_' and '-'"
    )]
    IllegalCharacters(String),
    /// The name differs from an existing topic's only by '.' versus '_'.
    #[error("Topic '{name}' collides with existing topic: {existing}")]
    Collision {
        /// The requested name.
        name: String,
        /// The existing topic it collides with.
        existing: String,
    },
}

impl TopicNameError {
    /// The Kafka error code this rejection is reported with.
    pub fn error_code(&self) -> ErrorCode {
        ErrorCode::InvalidTopicException
    }
}

/// Checks a topic name the way Kafka's `Topic.validate` does, in Kafka's order: empty, ".",
/// "..", too long, illegal characters.
pub fn validate_topic_name(name: &str) -> Result<(), TopicNameError> {
    if name.is_empty() {
        return Err(TopicNameError::Empty);
    }
    if name == "." {
        return Err(TopicNameError::Dot);
    }
    if name == ".." {
        return Err(TopicNameError::DoubleDot);
    }
    // Java's String.length() counts UTF-16 code units; match it so the boundary agrees even
    // for names that are rejected a step later for their characters.
    if name.encode_utf16().count() > TOPIC_NAME_LENGTH_MAX {
        return Err(TopicNameError::TooLong(name.to_owned()));
    }
    if !name.chars().all(is_legal_char) {
        return Err(TopicNameError::IllegalCharacters(name.to_owned()));
    }
    Ok(())
}

/// Whether `name` passes [`validate_topic_name`].
pub fn is_valid_topic_name(name: &str) -> bool {
    validate_topic_name(name).is_ok()
}

fn is_legal_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-'
}

/// Whether the name holds a '.' or '_', the characters that can collide in metric names.
pub fn has_collision_chars(name: &str) -> bool {
    name.contains(['.', '_'])
}

/// The name with every '.' turned into '_': two names collide when these are equal. Only
/// used to detect collisions, never to rename a topic.
pub fn unify_collision_chars(name: &str) -> String {
    name.replace('.', "_")
}

/// Whether two names collide because of '.' versus '_' in the same positions (equal names
/// collide too).
pub fn topics_collide(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .all(|(x, y)| x == y || (matches!(x, b'.' | b'_') && matches!(y, b'.' | b'_')))
}

/// Checks a name for a new topic: Kafka's validity rules, then a collision with one of the
/// `existing` topic names. An existing topic with the very same name is not reported here:
/// Kafka answers that case with `TOPIC_ALREADY_EXISTS` instead.
///
/// Kafka checks collisions against an index of names that hold '.' or '_'; scanning
/// `existing` gives the same answer. Callers with many topics should pass only the names
/// whose [`unify_collision_chars`] form equals the new name's.
pub fn validate_new_topic_name<'a, I>(name: &str, existing: I) -> Result<(), TopicNameError>
where
    I: IntoIterator<Item = &'a str>,
{
    validate_topic_name(name)?;
    if has_collision_chars(name) {
        if let Some(other) = existing
            .into_iter()
            .find(|other| *other != name && topics_collide(name, other))
        {
            return Err(TopicNameError::Collision {
                name: name.to_owned(),
                existing: other.to_owned(),
            });
        }
    }
    Ok(())
}

/// Whether the topic is one of Kafka's internal topics (`__consumer_offsets`,
/// `__transaction_state`, and in 3.9 also `__share_group_state`).
pub fn is_internal_topic(name: &str) -> bool {
    matches!(
        name,
        GROUP_METADATA_TOPIC_NAME | TRANSACTION_STATE_TOPIC_NAME | SHARE_GROUP_STATE_TOPIC_NAME
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn kafka_messages_for_each_rule() {
        assert_eq!(
            validate_topic_name("").unwrap_err().to_string(),
            "Topic name is invalid: the empty string is not allowed"
        );
        assert_eq!(
            validate_topic_name(".").unwrap_err().to_string(),
            "Topic name is invalid: '.' is not allowed"
        );
        assert_eq!(
            validate_topic_name("..").unwrap_err().to_string(),
            "Topic name is invalid: '..' is not allowed"
        );
        let long = "a".repeat(250);
        assert_eq!(
            validate_topic_name(&long).unwrap_err().to_string(),
            format!(
                "Topic name is invalid: the length of '{long}' is longer than the max allowed length 249"
            )
        );
        assert_eq!(
            validate_topic_name("foo bar").unwrap_err().to_string(),
            "Topic name is invalid: 'foo bar' contains one or more characters other than ASCII alphanumerics, '.', '_' and '-'"
        );
        assert!(validate_topic_name("x").is_ok());
    }

    #[test]
    fn boundaries() {
        assert!(is_valid_topic_name(&"a".repeat(249)));
        assert!(!is_valid_topic_name(&"a".repeat(250)));
        assert!(is_valid_topic_name("..."));
        assert!(is_valid_topic_name("a.b_c-D9"));
        assert!(is_valid_topic_name("__consumer_offsets"));
        // Non-ASCII letters are illegal even though they are alphanumeric.
        assert!(matches!(
            validate_topic_name("topicé"),
            Err(TopicNameError::IllegalCharacters(_))
        ));
        // Length is counted in UTF-16 units, and checked before the characters.
        let wide = "é".repeat(250);
        assert!(matches!(
            validate_topic_name(&wide),
            Err(TopicNameError::TooLong(_))
        ));
        assert_eq!(
            validate_topic_name("a/b").unwrap_err().error_code(),
            ErrorCode::InvalidTopicException
        );
    }

    #[test]
    fn collisions() {
        assert!(topics_collide("a.b", "a_b"));
        assert!(topics_collide("a.b", "a.b"));
        assert!(!topics_collide("a.b", "a-b"));
        assert!(!topics_collide("a.b", "a.bc"));
        assert_eq!(unify_collision_chars("a.b_c"), "a_b_c");
        let err = validate_new_topic_name("metrics.in", ["other", "metrics_in"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Topic 'metrics.in' collides with existing topic: metrics_in"
        );
        assert_eq!(err.error_code(), ErrorCode::InvalidTopicException);
        // The same name is TOPIC_ALREADY_EXISTS territory, not a collision.
        assert!(validate_new_topic_name("metrics.in", ["metrics.in"]).is_ok());
        assert!(validate_new_topic_name("metricsin", ["metrics_in"]).is_ok());
        // Validity is checked before collisions.
        assert_eq!(
            validate_new_topic_name("", ["x"]).unwrap_err(),
            TopicNameError::Empty
        );
    }

    #[test]
    fn internal_topics() {
        assert!(is_internal_topic("__consumer_offsets"));
        assert!(is_internal_topic("__transaction_state"));
        assert!(is_internal_topic("__share_group_state"));
        assert!(!is_internal_topic("__cluster_metadata"));
        assert!(!is_internal_topic("consumer_offsets"));
    }

    proptest! {
        #[test]
        fn collide_iff_unified_names_equal(a in "[a-c._]{0,6}", b in "[a-c._]{0,6}") {
            prop_assert_eq!(topics_collide(&a, &b), unify_collision_chars(&a) == unify_collision_chars(&b));
        }

        #[test]
        fn legal_alphabet_is_valid(name in "[a-zA-Z0-9._-]{1,249}") {
            prop_assume!(name != "." && name != "..");
            prop_assert!(is_valid_topic_name(&name));
        }
    }
}
