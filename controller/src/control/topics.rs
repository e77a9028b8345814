//! Topic and partition writes of the active controller: CreateTopics, DeleteTopics and
//! CreatePartitions, validated against the latest image the way Kafka's
//! `ReplicationControlManager` validates them, with Kafka's error codes and messages.

use std::collections::{BTreeMap, HashSet};

use kafka_protocol::messages::create_partitions_request::CreatePartitionsRequest;
use kafka_protocol::messages::create_partitions_response::{
    CreatePartitionsResponse, CreatePartitionsTopicResult,
};
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreateTopicsRequest};
use kafka_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult, CreateTopicsResponse,
};
use kafka_protocol::messages::delete_topics_request::DeleteTopicsRequest;
use kafka_protocol::messages::delete_topics_response::{
    DeletableTopicResult, DeleteTopicsResponse,
};
use kafka_protocol::messages::TopicName;
use rand::Rng;
use uuid::Uuid;

use super::config_defs::{validate_topic_configs, ConfigSource, TOPIC_CONFIGS};
use super::errors::ErrorCode;
use super::outcome::{wire_message, wire_str, ControlResult};
use super::placement::{place_replicas, PlacementSpec, UsableBroker};
use super::topic_name::validate_new_topic_name;
use crate::metadata::configs::CONFIG_RESOURCE_TOPIC;
use crate::metadata::image::MetadataImage;
use crate::metadata::partition::{DIRECTORY_MIGRATING, NO_LEADER};
use crate::metadata::record::{
    ConfigRecord, MetadataRecord, PartitionRecord, RemoveTopicRecord, TopicRecord,
};
use crate::raft::NodeId;

/// Records one user operation may produce, as Kafka's `MAX_RECORDS_PER_USER_OP`; they commit
/// in one batch.
pub const RECORDS_PER_USER_OP_MAX: usize = 10_000;

/// Cluster defaults a CreateTopics with -1 falls back to (`num.partitions`,
/// `default.replication.factor`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicDefaults {
    /// `num.partitions`.
    pub num_partitions: i32,
    /// `default.replication.factor`.
    pub replication_factor: i16,
}

impl Default for TopicDefaults {
    fn default() -> Self {
        TopicDefaults {
            num_partitions: 1,
            replication_factor: 1,
        }
    }
}

/// A per-topic failure: Kafka's code and message.
type TopicError = (ErrorCode, String);

fn usable_brokers(image: &MetadataImage) -> Vec<UsableBroker> {
    image
        .cluster
        .brokers
        .values()
        .filter(|b| !b.in_controlled_shutdown)
        .map(|b| UsableBroker {
            id: b.id.into(),
            rack: b.rack.clone(),
            fenced: b.fenced,
        })
        .collect()
}

/// Whether `broker` may lead or be in a new ISR: registered, unfenced, not shutting down.
pub fn is_active(image: &MetadataImage, broker: i32) -> bool {
    image
        .broker(NodeId(broker))
        .is_some_and(|b| !b.fenced && !b.in_controlled_shutdown)
}

/// A new partition's record: the active replicas form the ISR, the first of them leads.
fn new_partition(
    image: &MetadataImage,
    topic_id: Uuid,
    partition_id: i32,
    replicas: Vec<i32>,
) -> PartitionRecord {
    let isr: Vec<i32> = replicas
        .iter()
        .copied()
        .filter(|r| is_active(image, *r))
        .collect();
    PartitionRecord {
        partition_id,
        topic_id,
        leader: isr.first().copied().unwrap_or(NO_LEADER.into()),
        directories: vec![DIRECTORY_MIGRATING; replicas.len()],
        replicas,
        isr,
        removing_replicas: Vec::new(),
        adding_replicas: Vec::new(),
        leader_recovery_state: 0,
        leader_epoch: 0,
        partition_epoch: 0,
        eligible_leader_replicas: None,
        last_known_elr: None,
    }
}

/// Checks a manual assignment of `partition` (Kafka's `validateManualPartitionAssignment`).
fn check_manual_replicas(
    image: &MetadataImage,
    partition: i32,
    replicas: &[i32],
) -> Result<(), TopicError> {
    let bad = |m: String| Err((ErrorCode::InvalidReplicaAssignment, m));
    if replicas.is_empty() {
        return bad("The manual partition assignment includes an empty replica list.".to_string());
    }
    let mut seen = HashSet::new();
    for r in replicas {
        if !seen.insert(*r) {
            return bad(format!(
                "The manual partition assignment includes the broker {r} more than once."
            ));
        }
        if image.broker(NodeId(*r)).is_none() {
            return bad(format!(
                "The manual partition assignment includes broker {r}, but no such broker is registered."
            ));
        }
    }
    if !replicas.iter().any(|r| is_active(image, *r)) {
        return bad(format!(
            "All brokers specified in the manual partition assignment for partition {partition} are fenced or in controlled shutdown."
        ));
    }
    Ok(())
}

/// Replica lists for a new topic, from the manual assignment or from placement.
fn assign_replicas<R: Rng + ?Sized>(
    image: &MetadataImage,
    topic: &CreatableTopic,
    defaults: TopicDefaults,
    rng: &mut R,
) -> Result<Vec<Vec<i32>>, TopicError> {
    if !topic.assignments.is_empty() {
        if topic.num_partitions != -1 {
            return Err((
                ErrorCode::InvalidRequest,
                "A manual partition assignment was specified, but numPartitions was not set to -1."
                    .into(),
            ));
        }
        if topic.replication_factor != -1 {
            return Err((
                ErrorCode::InvalidRequest,
                "A manual partition assignment was specified, but replicationFactor was not set to -1."
                    .into(),
            ));
        }
        let mut by_index = BTreeMap::new();
        for a in &topic.assignments {
            let replicas: Vec<i32> = a.broker_ids.iter().map(|b| b.0).collect();
            check_manual_replicas(image, a.partition_index, &replicas)?;
            if by_index.insert(a.partition_index, replicas).is_some() {
                return Err((
                    ErrorCode::InvalidReplicaAssignment,
                    format!(
                        "Partition {} is assigned more than once.",
                        a.partition_index
                    ),
                ));
            }
        }
        for (expected, index) in by_index.keys().enumerate() {
            if *index != expected as i32 {
                return Err((
                    ErrorCode::InvalidReplicaAssignment,
                    format!("partitions should be a consecutive 0-based integer sequence, but found partition {index} where {expected} was expected."),
                ));
            }
        }
        return Ok(by_index.into_values().collect());
    }
    let partitions = match topic.num_partitions {
        -1 => defaults.num_partitions,
        n if n <= 0 => {
            return Err((
                ErrorCode::InvalidPartitions,
                "Number of partitions was set to an invalid non-positive value.".into(),
            ))
        }
        n => n,
    };
    let replication_factor = match topic.replication_factor {
        -1 => defaults.replication_factor,
        n if n <= 0 => {
            return Err((
                ErrorCode::InvalidReplicationFactor,
                "Replication factor must be larger than 0, or -1 to use the default value.".into(),
            ))
        }
        n => n,
    };
    if partitions as usize >= RECORDS_PER_USER_OP_MAX {
        return Err(too_many_partitions());
    }
    let spec = PlacementSpec {
        start_partition: 0,
        partition_count: partitions as u32,
        replication_factor,
    };
    place_replicas(&usable_brokers(image), &spec, rng)
        .map_err(|e| (e.error_code(), e.client_message(replication_factor)))
}

/// The names a request gives more than once (Kafka fails each such entry with INVALID_REQUEST).
fn repeated_names<'a>(names: impl Iterator<Item = &'a str>) -> HashSet<&'a str> {
    let mut seen = HashSet::new();
    names.filter(|n| !seen.insert(*n)).collect()
}

fn too_many_partitions() -> TopicError {
    (
        ErrorCode::PolicyViolation,
        format!(
            "Excessively large number of partitions per request: one request may create at most {} records.",
            RECORDS_PER_USER_OP_MAX
        ),
    )
}

/// A topic's configs as DescribeConfigs and CreateTopics v5+ report them: every topic key, its
/// dynamic value if set, else the default.
pub fn topic_config_entries(
    dynamic: &BTreeMap<String, String>,
) -> Vec<(String, Option<String>, ConfigSource)> {
    TOPIC_CONFIGS
        .iter()
        .map(|def| match dynamic.get(def.name) {
            Some(v) => (
                def.name.to_string(),
                Some(v.clone()),
                ConfigSource::DynamicTopicConfig,
            ),
            None => (
                def.name.to_string(),
                def.default.map(str::to_string),
                ConfigSource::DefaultConfig,
            ),
        })
        .collect()
}

/// A topic about to be created: its id, records, replica lists and configs.
struct NewTopic {
    id: Uuid,
    records: Vec<MetadataRecord>,
    assignment: Vec<Vec<i32>>,
    configs: BTreeMap<String, String>,
}

/// Validates one topic of a CreateTopics request and builds its records.
fn create_topic<R: Rng + ?Sized>(
    image: &MetadataImage,
    topic: &CreatableTopic,
    defaults: TopicDefaults,
    rng: &mut R,
) -> Result<NewTopic, TopicError> {
    let name = topic.name.0.as_str();
    if image.topic_by_name(name).is_some() {
        return Err((
            ErrorCode::TopicAlreadyExists,
            format!("Topic '{name}' already exists."),
        ));
    }
    validate_new_topic_name(name, image.topics.by_name.keys().map(String::as_str))
        .map_err(|e| (e.error_code(), e.to_string()))?;
    let mut configs = BTreeMap::new();
    for c in &topic.configs {
        let Some(value) = &c.value else {
            return Err((
                ErrorCode::InvalidConfig,
                format!(
                    "Null value not supported for topic configs: {}",
                    c.name.as_str()
                ),
            ));
        };
        configs.insert(c.name.to_string(), value.to_string());
    }
    validate_topic_configs(configs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .map_err(|e| (e.error_code(), e.to_string()))?;
    let assignment = assign_replicas(image, topic, defaults, rng)?;
    let topic_id = loop {
        let id = Uuid::from_bytes(rng.random());
        if !id.is_nil() && image.topic(&id).is_none() {
            break id;
        }
    };
    let mut records = Vec::with_capacity(1 + assignment.len() + configs.len());
    records.push(MetadataRecord::Topic(TopicRecord {
        name: name.to_string(),
        topic_id,
    }));
    for (k, v) in &configs {
        records.push(MetadataRecord::Config(ConfigRecord {
            resource_type: CONFIG_RESOURCE_TOPIC,
            resource_name: name.to_string(),
            name: k.clone(),
            value: Some(v.clone()),
        }));
    }
    for (i, replicas) in assignment.iter().enumerate() {
        records.push(MetadataRecord::Partition(new_partition(
            image,
            topic_id,
            i as i32,
            replicas.clone(),
        )));
    }
    Ok(NewTopic {
        id: topic_id,
        records,
        assignment,
        configs,
    })
}

/// CreateTopics: each topic is created or fails on its own; names repeated within the request
/// fail with INVALID_REQUEST. With `validate_only` nothing is written.
pub fn create_topics<R: Rng + ?Sized>(
    image: &MetadataImage,
    request: &CreateTopicsRequest,
    version: i16,
    defaults: TopicDefaults,
    rng: &mut R,
) -> ControlResult<CreateTopicsResponse> {
    let repeated = repeated_names(request.topics.iter().map(|t| t.name.0.as_str()));
    let mut records = Vec::new();
    let mut results = Vec::with_capacity(request.topics.len());
    // The image as this request's own earlier topics leave it, so later ones see them.
    let mut working = image.clone();
    for topic in &request.topics {
        let name = topic.name.0.as_str();
        let mut result = CreatableTopicResult::default()
            .with_name(topic.name.clone())
            .with_num_partitions(-1)
            .with_replication_factor(-1);
        let outcome = if repeated.contains(name) {
            Err((
                ErrorCode::InvalidRequest,
                "Duplicate topic name.".to_string(),
            ))
        } else {
            create_topic(&working, topic, defaults, rng).and_then(|created| {
                if records.len() + created.records.len() > RECORDS_PER_USER_OP_MAX {
                    Err(too_many_partitions())
                } else {
                    Ok(created)
                }
            })
        };
        match outcome {
            Ok(NewTopic {
                id: topic_id,
                records: topic_records,
                assignment,
                configs,
            }) => {
                if !request.validate_only {
                    let mut delta = crate::metadata::delta::MetadataDelta::new(&working);
                    let replayed = topic_records.iter().try_for_each(|r| delta.replay(r));
                    if let Err(e) = replayed {
                        result.error_code = ErrorCode::UnknownServerError.code();
                        result.error_message = wire_message(format!("internal error: {e}"));
                        results.push(result);
                        continue;
                    }
                    working = delta.apply(working.provenance);
                    records.extend(topic_records);
                    result.topic_id = topic_id;
                }
                result.num_partitions = assignment.len() as i32;
                result.replication_factor = assignment.first().map_or(0, |r| r.len() as i16);
                if version >= 5 {
                    result.configs = Some(
                        topic_config_entries(&configs)
                            .into_iter()
                            .map(|(k, v, source)| {
                                CreatableTopicConfigs::default()
                                    .with_name(wire_str(k))
                                    .with_value(v.map(wire_str))
                                    .with_config_source(source.code())
                            })
                            .collect(),
                    );
                }
            }
            Err((code, message)) => {
                result.error_code = code.code();
                result.error_message = wire_message(message);
            }
        }
        results.push(result);
    }
    ControlResult {
        records,
        response: CreateTopicsResponse::default().with_topics(results),
    }
}

/// DeleteTopics, by name (all versions) or by id (v6+).
pub fn delete_topics(
    image: &MetadataImage,
    request: &DeleteTopicsRequest,
    version: i16,
) -> ControlResult<DeleteTopicsResponse> {
    let mut wanted: Vec<(Option<TopicName>, Uuid)> = request
        .topic_names
        .iter()
        .map(|n| (Some(n.clone()), Uuid::nil()))
        .collect();
    wanted.extend(request.topics.iter().map(|t| (t.name.clone(), t.topic_id)));
    let mut removed = HashSet::new();
    let mut records = Vec::new();
    let mut responses = Vec::with_capacity(wanted.len());
    for (name, id) in wanted {
        let mut result = DeletableTopicResult::default()
            .with_name(name.clone())
            .with_topic_id(id);
        let found = match (&name, id.is_nil()) {
            (Some(n), true) => image.topic_by_name(n.0.as_str()).ok_or((
                ErrorCode::UnknownTopicOrPartition,
                "This server does not host this topic-partition.".to_string(),
            )),
            (_, false) => image.topic(&id).ok_or((
                ErrorCode::UnknownTopicId,
                "This server does not host this topic ID.".to_string(),
            )),
            (None, true) => Err((
                ErrorCode::InvalidRequest,
                "Neither topic name nor id were specified.".to_string(),
            )),
        };
        match found {
            Ok(topic) => {
                if version >= 6 {
                    result.topic_id = topic.id;
                }
                result.name = Some(TopicName(wire_str(topic.name.clone())));
                if removed.insert(topic.id) {
                    records.push(MetadataRecord::RemoveTopic(RemoveTopicRecord {
                        topic_id: topic.id,
                    }));
                }
            }
            Err((code, message)) => {
                result.error_code = code.code();
                result.error_message = wire_message(message);
            }
        }
        responses.push(result);
    }
    ControlResult {
        records,
        response: DeleteTopicsResponse::default().with_responses(responses),
    }
}

/// CreatePartitions: grows topics; new partitions are placed like a new topic's, with the
/// replication factor of the topic's first partition, or taken from the request.
pub fn create_partitions<R: Rng + ?Sized>(
    image: &MetadataImage,
    request: &CreatePartitionsRequest,
    rng: &mut R,
) -> ControlResult<CreatePartitionsResponse> {
    let repeated = repeated_names(request.topics.iter().map(|t| t.name.0.as_str()));
    let mut records = Vec::new();
    let mut results = Vec::new();
    for t in &request.topics {
        let name = t.name.0.as_str();
        let outcome = (|| -> Result<Vec<MetadataRecord>, TopicError> {
            if repeated.contains(name) {
                return Err((ErrorCode::InvalidRequest, "Duplicate topic name.".into()));
            }
            let topic = image.topic_by_name(name).ok_or((
                ErrorCode::UnknownTopicOrPartition,
                "This server does not host this topic-partition.".to_string(),
            ))?;
            let current = topic.partitions.len() as i32;
            if t.count < current {
                return Err((
                    ErrorCode::InvalidPartitions,
                    format!("The topic {name} currently has {current} partition(s); {} would not be an increase.", t.count),
                ));
            }
            if t.count == current {
                return Err((
                    ErrorCode::InvalidPartitions,
                    format!("Topic already has {current} partition(s)."),
                ));
            }
            let adding = (t.count - current) as usize;
            if records.len() + adding > RECORDS_PER_USER_OP_MAX {
                return Err(too_many_partitions());
            }
            let replication_factor = topic
                .partitions
                .get(&0)
                .map_or(1, |p| p.replicas.len() as i16);
            // An empty list is read as no assignment (Kafka's clients send null).
            let assignment = match t.assignments.as_ref().filter(|a| !a.is_empty()) {
                Some(a) => {
                    if a.len() != adding {
                        return Err((
                            ErrorCode::InvalidReplicaAssignment,
                            format!("Attempted to add {adding} additional partition(s), but only {} assignment(s) were specified.", a.len()),
                        ));
                    }
                    let mut out = Vec::with_capacity(adding);
                    for (i, assignment) in a.iter().enumerate() {
                        let replicas: Vec<i32> =
                            assignment.broker_ids.iter().map(|b| b.0).collect();
                        check_manual_replicas(image, current + i as i32, &replicas)?;
                        if replicas.len() != replication_factor as usize {
                            return Err((
                                ErrorCode::InvalidReplicaAssignment,
                                format!("The manual partition assignment includes a partition with {} replica(s), but this is not consistent with previous partitions, which have {replication_factor} replica(s).", replicas.len()),
                            ));
                        }
                        out.push(replicas);
                    }
                    out
                }
                None => place_replicas(
                    &usable_brokers(image),
                    &PlacementSpec {
                        start_partition: current,
                        partition_count: adding as u32,
                        replication_factor,
                    },
                    rng,
                )
                .map_err(|e| (e.error_code(), e.client_message(replication_factor)))?,
            };
            Ok(assignment
                .into_iter()
                .enumerate()
                .map(|(i, replicas)| {
                    MetadataRecord::Partition(new_partition(
                        image,
                        topic.id,
                        current + i as i32,
                        replicas,
                    ))
                })
                .collect())
        })();
        let mut result = CreatePartitionsTopicResult::default().with_name(t.name.clone());
        match outcome {
            Ok(new) => {
                if !request.validate_only {
                    records.extend(new);
                }
            }
            Err((code, message)) => {
                result.error_code = code.code();
                result.error_message = wire_message(message);
            }
        }
        results.push(result);
    }
    ControlResult {
        records,
        response: CreatePartitionsResponse::default().with_results(results),
    }
}

#[cfg(test)]
mod tests {
    use crate::raft::NodeId;
    use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
    use kafka_protocol::messages::create_topics_request::{
        CreatableReplicaAssignment, CreatableTopicConfig,
    };
    use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
    use kafka_protocol::messages::BrokerId;
    use rand::SeedableRng;

    use super::*;
    use crate::metadata::delta::MetadataDelta;
    use crate::metadata::image::MetadataProvenance;
    use crate::metadata::record::RegisterBrokerRecord;

    fn apply(image: &MetadataImage, records: &[MetadataRecord]) -> MetadataImage {
        let mut d = MetadataDelta::new(image);
        for r in records {
            d.replay(r).unwrap();
        }
        d.apply(MetadataProvenance::EMPTY)
    }

    /// An image with brokers `ids`, the ones in `fenced` fenced.
    fn with_brokers(ids: &[i32], fenced: &[i32]) -> MetadataImage {
        let records: Vec<MetadataRecord> = ids
            .iter()
            .map(|id| {
                MetadataRecord::RegisterBroker(RegisterBrokerRecord {
                    broker_id: *id,
                    is_migrating_zk_broker: false,
                    incarnation_id: Uuid::from_u128(*id as u128 + 1),
                    broker_epoch: 10 + *id as i64,
                    end_points: Vec::new(),
                    features: Vec::new(),
                    rack: Some(format!("r{}", id % 2)),
                    fenced: fenced.contains(id),
                    in_controlled_shutdown: false,
                    log_dirs: Vec::new(),
                })
            })
            .collect();
        apply(&MetadataImage::empty(), &records)
    }

    fn topic(name: &str, partitions: i32, rf: i16) -> CreatableTopic {
        CreatableTopic::default()
            .with_name(TopicName(wire_str(name)))
            .with_num_partitions(partitions)
            .with_replication_factor(rf)
    }

    fn create(
        image: &MetadataImage,
        topics: Vec<CreatableTopic>,
    ) -> ControlResult<CreateTopicsResponse> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let request = CreateTopicsRequest::default().with_topics(topics);
        create_topics(image, &request, 7, TopicDefaults::default(), &mut rng)
    }

    fn codes(r: &CreateTopicsResponse) -> Vec<i16> {
        r.topics.iter().map(|t| t.error_code).collect()
    }

    #[test]
    fn a_new_topic_gets_a_record_per_partition_led_by_unfenced_replicas() {
        let image = with_brokers(&[1, 2, 3], &[3]);
        let result = create(&image, vec![topic("orders", 6, 2)]);
        assert_eq!(codes(&result.response), vec![0]);
        let t = &result.response.topics[0];
        assert_eq!((t.num_partitions, t.replication_factor), (6, 2));
        assert!(!t.topic_id.is_nil());
        let next = apply(&image, &result.records);
        let created = next.topic_by_name("orders").unwrap();
        assert_eq!(created.partitions.len(), 6);
        for p in created.partitions.values() {
            assert_eq!(p.replicas.len(), 2);
            assert!(
                p.leader == NodeId(1) || p.leader == NodeId(2),
                "a fenced broker never leads: {p:?}"
            );
            assert!(
                !p.isr.contains(&NodeId(3)),
                "a fenced broker is not in a new ISR"
            );
        }
    }

    #[test]
    fn invalid_topics_get_kafkas_codes_and_valid_ones_in_the_same_request_succeed() {
        let image = with_brokers(&[1, 2], &[]);
        let existing = apply(&image, &create(&image, vec![topic("a.b", 1, 1)]).records);
        let result = create(
            &existing,
            vec![
                topic("a.b", 1, 1),
                topic("a_b", 1, 1),
                topic("bad name", 1, 1),
                topic("ok", 2, 1),
                topic("rf", 1, 3),
                topic("zero", 0, 1),
                topic("dup", 1, 1),
                topic("dup", 1, 1),
                topic("cfg", 1, 1).with_configs(vec![CreatableTopicConfig::default()
                    .with_name(wire_str("retention.ms"))
                    .with_value(Some(wire_str("soon")))]),
            ],
        );
        let e = |c: ErrorCode| c.code();
        assert_eq!(
            codes(&result.response),
            vec![
                e(ErrorCode::TopicAlreadyExists),
                e(ErrorCode::InvalidTopicException),
                e(ErrorCode::InvalidTopicException),
                0,
                e(ErrorCode::InvalidReplicationFactor),
                e(ErrorCode::InvalidPartitions),
                e(ErrorCode::InvalidRequest),
                e(ErrorCode::InvalidRequest),
                e(ErrorCode::InvalidConfig),
            ]
        );
        assert_eq!(
            result.response.topics[0]
                .error_message
                .as_ref()
                .unwrap()
                .as_str(),
            "Topic 'a.b' already exists."
        );
        // Only "ok" was written: one TopicRecord and two PartitionRecords.
        assert_eq!(result.records.len(), 3);
    }

    #[test]
    fn manual_assignments_are_checked_and_validate_only_writes_nothing() {
        let image = with_brokers(&[1, 2, 3], &[]);
        let assigned = |parts: &[(i32, &[i32])]| {
            topic("m", -1, -1).with_assignments(
                parts
                    .iter()
                    .map(|(p, b)| {
                        CreatableReplicaAssignment::default()
                            .with_partition_index(*p)
                            .with_broker_ids(b.iter().map(|x| BrokerId(*x)).collect())
                    })
                    .collect(),
            )
        };
        let ok = create(&image, vec![assigned(&[(0, &[3, 1]), (1, &[2, 3])])]);
        assert_eq!(codes(&ok.response), vec![0]);
        let next = apply(&image, &ok.records);
        let p0 = next.topic_by_name("m").unwrap().partitions.get(&0).unwrap();
        assert_eq!(
            (p0.replicas.clone(), p0.leader),
            (vec![NodeId(3), NodeId(1)], NodeId(3))
        );
        let bad = ErrorCode::InvalidReplicaAssignment.code();
        assert_eq!(
            codes(&create(&image, vec![assigned(&[(0, &[1, 1])])]).response),
            vec![bad]
        );
        assert_eq!(
            codes(&create(&image, vec![assigned(&[(0, &[9])])]).response),
            vec![bad]
        );
        assert_eq!(
            codes(&create(&image, vec![assigned(&[(1, &[1])])]).response),
            vec![bad]
        );
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let request = CreateTopicsRequest::default()
            .with_topics(vec![topic("v", 3, 2)])
            .with_validate_only(true);
        let v = create_topics(&image, &request, 7, TopicDefaults::default(), &mut rng);
        assert_eq!(codes(&v.response), vec![0]);
        assert!(v.records.is_empty());
        assert_eq!(v.response.topics[0].num_partitions, 3);
    }

    #[test]
    fn topics_grow_and_are_deleted_by_name_or_id() {
        let image = with_brokers(&[1, 2], &[]);
        let image = apply(&image, &create(&image, vec![topic("t", 2, 2)]).records);
        let id = image.topic_by_name("t").unwrap().id;
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let grow = |count: i32| {
            CreatePartitionsRequest::default().with_topics(vec![CreatePartitionsTopic::default()
                .with_name(TopicName(wire_str("t")))
                .with_count(count)])
        };
        let r = create_partitions(&image, &grow(5), &mut rng);
        assert_eq!(r.response.results[0].error_code, 0);
        assert_eq!(r.records.len(), 3);
        let grown = apply(&image, &r.records);
        assert_eq!(grown.topic_by_name("t").unwrap().partitions.len(), 5);
        let r = create_partitions(&grown, &grow(4), &mut rng);
        assert_eq!(
            r.response.results[0].error_code,
            ErrorCode::InvalidPartitions.code()
        );
        let by_id = DeleteTopicsRequest::default()
            .with_topics(vec![DeleteTopicState::default().with_topic_id(id)]);
        let r = delete_topics(&grown, &by_id, 6);
        assert_eq!(r.response.responses[0].error_code, 0);
        assert_eq!(
            r.response.responses[0].name.as_ref().unwrap().0.as_str(),
            "t"
        );
        let gone = apply(&grown, &r.records);
        assert!(gone.topic_by_name("t").is_none());
        let again = delete_topics(&gone, &by_id, 6);
        assert_eq!(
            again.response.responses[0].error_code,
            ErrorCode::UnknownTopicId.code()
        );
    }
}
