//! The Metadata API as the tools call it: the request, the topics and brokers an answer lists.
//! `topics` and `configs` both read the controller's view through it.

use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::metadata_response::MetadataResponseTopic;
use kafka_protocol::messages::{MetadataRequest, MetadataResponse, TopicName};
use kafka_protocol::protocol::StrBytes;

use crate::admin::{AdminError, Call, ControllerSession};

/// Metadata v1+ (a null topic list means every topic); v10+ carries topic ids.
pub const METADATA: Call = Call {
    min_version: 1,
    max_version: 13,
    idempotent: true,
};

/// Topics Kafka treats as internal (`Topic.isInternal`), besides any the controller flags.
pub(crate) const INTERNAL_TOPICS: [&str; 3] = [
    "__consumer_offsets",
    "__transaction_state",
    "__share_group_state",
];

/// A Metadata request for `topics`, or for every topic when `None`.
pub fn metadata_request(topics: Option<&[String]>, version: i16) -> MetadataRequest {
    let request = MetadataRequest::default().with_topics(topics.map(|names| {
        names
            .iter()
            .map(|n| MetadataRequestTopic::default().with_name(Some(topic_name(n))))
            .collect()
    }));
    // The field exists from v4; before it the broker-side default (true) must stay.
    if version >= 4 {
        request.with_allow_auto_topic_creation(false)
    } else {
        request
    }
}

/// A topic name on the wire.
pub(crate) fn topic_name(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_string()))
}

/// Whether a listed topic is internal (flagged, or one of Kafka's own).
pub(crate) fn is_internal(t: &MetadataResponseTopic) -> bool {
    t.is_internal
        || t.name
            .as_ref()
            .is_some_and(|n| INTERNAL_TOPICS.contains(&n.0.as_str()))
}

/// The healthy topics of a Metadata answer, by name, without internal ones if asked.
pub(crate) fn listed_topics(
    response: &MetadataResponse,
    exclude_internal: bool,
) -> Vec<&MetadataResponseTopic> {
    let mut topics: Vec<&MetadataResponseTopic> = response
        .topics
        .iter()
        .filter(|t| t.error_code == 0 && t.name.is_some())
        .filter(|t| !(exclude_internal && is_internal(t)))
        .collect();
    topics.sort_by(|a, b| name_of(a).cmp(name_of(b)));
    topics
}

/// A listed topic's name ("" for none).
pub(crate) fn name_of(t: &MetadataResponseTopic) -> &str {
    t.name.as_ref().map_or("", |n| n.0.as_str())
}

/// The topic names the controller knows, sorted.
pub async fn topic_names(
    session: &mut ControllerSession,
    exclude_internal: bool,
) -> Result<Vec<String>, AdminError> {
    let response = metadata(session, None).await?;
    Ok(listed_topics(&response, exclude_internal)
        .iter()
        .map(|t| name_of(t).to_string())
        .collect())
}

/// The registered brokers' ids, sorted.
pub async fn broker_ids(session: &mut ControllerSession) -> Result<Vec<i32>, AdminError> {
    let response = metadata(session, None).await?;
    let mut ids: Vec<i32> = response.brokers.iter().map(|b| b.node_id.0).collect();
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// Sends Metadata for `topics` (every topic when `None`) and checks its top-level error.
pub(crate) async fn metadata(
    session: &mut ControllerSession,
    topics: Option<&[String]>,
) -> Result<MetadataResponse, AdminError> {
    let (_, response) = session
        .call(METADATA, |v| metadata_request(topics, v))
        .await?;
    AdminError::check(response.error_code, None)?;
    Ok(response)
}
