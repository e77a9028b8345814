//! `metaquorum topics --bootstrap-controller H:P create | list | describe | delete`, in the
//! manner of `kafka-topics`: create is CreateTopics, delete is DeleteTopics (by name), list and
//! describe read the controller's committed image through Metadata, and describe adds each
//! topic's non-default configs from DescribeConfigs. Output is `kafka-topics`' text.

use std::collections::BTreeMap;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use kafka_protocol::messages::create_topics_request::{
    CreatableReplicaAssignment, CreatableTopic, CreatableTopicConfig,
};
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::metadata_response::MetadataResponseTopic;
use kafka_protocol::messages::{
    BrokerId, CreateTopicsRequest, CreateTopicsResponse, DeleteTopicsRequest, DeleteTopicsResponse,
    DescribeConfigsResponse, MetadataResponse,
};
use kafka_protocol::protocol::StrBytes;
use metaquorum_controller::control::config_defs::ConfigSource;
use metaquorum_controller::control::errors::ErrorCode;
use metaquorum_log::kafka_uuid::to_kafka_string;

use crate::admin::{block_on, report, AdminError, Call, ConnectArgs, ControllerSession};
use crate::configs_cmd::{self, parse_key_value, RESOURCE_TOPIC};
use crate::metadata_api::{listed_topics, metadata, name_of, topic_name};

/// What a failed `topics` command prints before the reason.
const ERROR_PREFIX: &str = "Error while executing topic command : ";

/// CreateTopics, every version `kafka-protocol` builds (2 to 7; v7 answers with the topic id).
pub const CREATE_TOPICS: Call = Call {
    min_version: 2,
    max_version: 7,
    idempotent: false,
};

/// DeleteTopics by name: v1-5 in `topic_names`, v6 in `topics`.
pub const DELETE_TOPICS: Call = Call {
    min_version: 1,
    max_version: 6,
    idempotent: false,
};

/// The `topics` arguments.
#[derive(Debug, Args)]
pub struct TopicsArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    #[command(subcommand)]
    command: TopicsCommand,
}

/// The `topics` subcommands.
#[derive(Debug, Subcommand)]
pub enum TopicsCommand {
    /// Create a topic.
    Create(CreateArgs),
    /// Print every topic's name, one a line, sorted.
    List {
        /// Leave out internal topics.
        #[arg(long)]
        exclude_internal: bool,
    },
    /// Print topics with their partitions, leaders, replicas, ISR and non-default configs.
    Describe {
        /// Only this topic.
        #[arg(long)]
        topic: Option<String>,
        /// Leave out internal topics.
        #[arg(long)]
        exclude_internal: bool,
    },
    /// Delete a topic.
    Delete {
        /// The topic.
        #[arg(long)]
        topic: String,
        /// Succeed quietly if the topic does not exist.
        #[arg(long)]
        if_exists: bool,
    },
}

/// `topics create` options.
#[derive(Debug, Default, Args)]
pub struct CreateArgs {
    /// The topic's name.
    #[arg(long)]
    pub topic: String,
    /// Number of partitions (the controller's default if not given).
    #[arg(long)]
    pub partitions: Option<i32>,
    /// Replicas per partition (the controller's default if not given).
    #[arg(long = "replication-factor")]
    pub replication_factor: Option<i32>,
    /// A topic config, key=value; repeatable.
    #[arg(long = "config", value_name = "KEY=VALUE")]
    pub config: Vec<String>,
    /// Replicas of each partition: partitions separated by commas, broker ids by colons
    /// (`0:1,1:2` puts partition 0 on brokers 0 and 1, partition 1 on 1 and 2).
    #[arg(
        long = "replica-assignment",
        conflicts_with_all = ["partitions", "replication_factor"]
    )]
    pub replica_assignment: Option<String>,
    /// Succeed quietly if the topic already exists.
    #[arg(long)]
    pub if_not_exists: bool,
    /// Ask the controller to check the request without creating anything.
    #[arg(long)]
    pub validate_only: bool,
}

/// A checked `topics create` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateSpec {
    /// The topic.
    pub topic: String,
    /// Partitions, or -1 for the controller's default.
    pub partitions: i32,
    /// Replication factor, or -1 for the controller's default.
    pub replication_factor: i16,
    /// Explicit replicas per partition, partition i at index i; empty if not given.
    pub assignment: Vec<Vec<i32>>,
    /// Topic configs, in the order given.
    pub configs: Vec<(String, String)>,
    /// Succeed quietly if the topic exists.
    pub if_not_exists: bool,
    /// Check only.
    pub validate_only: bool,
}

/// Checks `create` options as `kafka-topics` does before sending anything.
pub fn create_spec(args: &CreateArgs) -> Result<CreateSpec, AdminError> {
    let usage = AdminError::Usage;
    if args.topic.is_empty() {
        return Err(usage("--topic must not be empty".into()));
    }
    if args.replica_assignment.is_some()
        && (args.partitions.is_some() || args.replication_factor.is_some())
    {
        return Err(usage(
            "--replica-assignment sets the partitions and replication factor; give neither --partitions nor --replication-factor with it".into(),
        ));
    }
    if let Some(p) = args.partitions {
        if p < 1 {
            return Err(usage(format!("--partitions must be at least 1, not {p}")));
        }
    }
    let replication_factor = match args.replication_factor {
        None => -1,
        Some(r) => i16::try_from(r).ok().filter(|r| *r >= 1).ok_or_else(|| {
            usage(format!(
                "--replication-factor must be between 1 and {}, not {r}",
                i16::MAX
            ))
        })?,
    };
    let assignment = match &args.replica_assignment {
        Some(a) => parse_replica_assignment(a).map_err(usage)?,
        None => Vec::new(),
    };
    let mut configs: Vec<(String, String)> = Vec::new();
    for c in &args.config {
        let (k, v) = parse_key_value(c).map_err(|e| usage(format!("--config {e}")))?;
        if configs.iter().any(|(seen, _)| *seen == k) {
            return Err(usage(format!("--config {k} is given more than once")));
        }
        configs.push((k, v));
    }
    Ok(CreateSpec {
        topic: args.topic.clone(),
        partitions: args.partitions.unwrap_or(-1),
        replication_factor,
        assignment,
        configs,
        if_not_exists: args.if_not_exists,
        validate_only: args.validate_only,
    })
}

/// Parses `--replica-assignment`: `0:1,1:2` is partition 0 on brokers 0 and 1 and partition 1
/// on brokers 1 and 2. Every partition needs the same number of distinct replicas.
pub fn parse_replica_assignment(s: &str) -> Result<Vec<Vec<i32>>, String> {
    let mut partitions: Vec<Vec<i32>> = Vec::new();
    for (p, part) in s.split(',').enumerate() {
        let mut replicas = Vec::new();
        for id in part.split(':') {
            let id = id.trim();
            let broker = id.parse::<i32>().ok().filter(|b| *b >= 0).ok_or_else(|| {
                format!("--replica-assignment: '{id}' in partition {p} is not a broker id")
            })?;
            if replicas.contains(&broker) {
                return Err(format!(
                    "--replica-assignment: partition {p} lists broker {broker} twice"
                ));
            }
            replicas.push(broker);
        }
        if let Some(first) = partitions.first() {
            if first.len() != replicas.len() {
                return Err(format!(
                    "--replica-assignment: partition {p} has {} replicas but partition 0 has {}",
                    replicas.len(),
                    first.len()
                ));
            }
        }
        partitions.push(replicas);
    }
    Ok(partitions)
}

/// The CreateTopics request for `spec`.
pub fn create_request(spec: &CreateSpec, timeout_ms: i32) -> CreateTopicsRequest {
    let assignments = spec
        .assignment
        .iter()
        .enumerate()
        .map(|(i, replicas)| {
            CreatableReplicaAssignment::default()
                .with_partition_index(i as i32)
                .with_broker_ids(replicas.iter().map(|b| BrokerId(*b)).collect())
        })
        .collect();
    let configs = spec
        .configs
        .iter()
        .map(|(k, v)| {
            CreatableTopicConfig::default()
                .with_name(StrBytes::from_string(k.clone()))
                .with_value(Some(StrBytes::from_string(v.clone())))
        })
        .collect();
    let topic = CreatableTopic::default()
        .with_name(topic_name(&spec.topic))
        .with_num_partitions(spec.partitions)
        .with_replication_factor(spec.replication_factor)
        .with_assignments(assignments)
        .with_configs(configs);
    CreateTopicsRequest::default()
        .with_topics(vec![topic])
        .with_timeout_ms(timeout_ms)
        .with_validate_only(spec.validate_only)
}

/// What `create` prints for the controller's answer, or the error it reports.
pub fn create_outcome(
    spec: &CreateSpec,
    response: &CreateTopicsResponse,
) -> Result<String, AdminError> {
    let r = response
        .topics
        .iter()
        .find(|t| t.name.0.as_str() == spec.topic)
        .ok_or_else(|| {
            AdminError::Protocol(format!("CreateTopics answered nothing for {}", spec.topic))
        })?;
    if r.error_code == ErrorCode::TopicAlreadyExists.code() && spec.if_not_exists {
        return Ok(String::new());
    }
    AdminError::check(r.error_code, r.error_message.as_ref())?;
    if !spec.validate_only {
        return Ok(format!("Created topic {}.\n", spec.topic));
    }
    // CreateTopics v5+ says what the topic would have been; -1 where older versions do not.
    let shape = if r.num_partitions > 0 && r.replication_factor > 0 {
        format!(
            " with {} partition(s) and replication factor {}",
            r.num_partitions, r.replication_factor
        )
    } else {
        String::new()
    };
    Ok(format!(
        "Validated topic {}: it can be created{shape}. Nothing was created (--validate-only).\n",
        spec.topic
    ))
}

/// The DeleteTopics request for one topic by name, in the field `version` uses.
pub fn delete_request(topic: &str, timeout_ms: i32, version: i16) -> DeleteTopicsRequest {
    let request = DeleteTopicsRequest::default().with_timeout_ms(timeout_ms);
    if version >= 6 {
        request.with_topics(vec![
            DeleteTopicState::default().with_name(Some(topic_name(topic)))
        ])
    } else {
        request.with_topic_names(vec![topic_name(topic)])
    }
}

/// What `delete` prints (nothing, as `kafka-topics`), or the error it reports.
pub fn delete_outcome(
    topic: &str,
    if_exists: bool,
    response: &DeleteTopicsResponse,
) -> Result<String, AdminError> {
    let r = response
        .responses
        .iter()
        .find(|r| r.name.as_ref().is_some_and(|n| n.0.as_str() == topic))
        .ok_or_else(|| {
            AdminError::Protocol(format!("DeleteTopics answered nothing for {topic}"))
        })?;
    if r.error_code == ErrorCode::UnknownTopicOrPartition.code() && if_exists {
        return Ok(String::new());
    }
    AdminError::check(r.error_code, r.error_message.as_ref())?;
    Ok(String::new())
}

/// `topics list`: one name a line, sorted.
pub fn render_list(response: &MetadataResponse, exclude_internal: bool) -> String {
    listed_topics(response, exclude_internal)
        .iter()
        .map(|t| format!("{}\n", name_of(t)))
        .collect()
}

/// A topic's non-default configs as `kafka-topics --describe` shows them: `k=v,k2=v2`, in the
/// controller's order; entries whose source is Kafka's built-in default are left out.
pub fn non_default_configs(
    response: &DescribeConfigsResponse,
    topic: &str,
) -> Result<String, AdminError> {
    let result = configs_cmd::result_for(response, RESOURCE_TOPIC, topic)?;
    Ok(result
        .configs
        .iter()
        .filter(|c| c.config_source != ConfigSource::DefaultConfig.code())
        .map(|c| {
            format!(
                "{}={}",
                c.name.as_str(),
                c.value.as_ref().map_or("null", |v| v.as_str())
            )
        })
        .collect::<Vec<_>>()
        .join(","))
}

/// `topics describe` text: per topic a summary line, then a line per partition by index.
/// `configs` maps a topic to its `non_default_configs` text.
pub fn render_describe(
    topics: &[&MetadataResponseTopic],
    configs: &BTreeMap<String, String>,
) -> String {
    let ids = |ids: &[BrokerId]| {
        ids.iter()
            .map(|b| b.0.to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut out = String::new();
    for t in topics {
        let name = name_of(t);
        let mut partitions: Vec<_> = t.partitions.iter().collect();
        partitions.sort_by_key(|p| p.partition_index);
        let replication_factor = partitions.first().map_or(0, |p| p.replica_nodes.len());
        out.push_str(&format!("Topic: {name}"));
        if !t.topic_id.is_nil() {
            out.push_str(&format!("\tTopicId: {}", to_kafka_string(t.topic_id)));
        }
        out.push_str(&format!(
            "\tPartitionCount: {}\tReplicationFactor: {replication_factor}\tConfigs: {}\n",
            partitions.len(),
            configs.get(name).map_or("", String::as_str)
        ));
        for p in partitions {
            let leader = if p.leader_id.0 >= 0 {
                p.leader_id.0.to_string()
            } else {
                "none".to_string()
            };
            out.push_str(&format!(
                "\tTopic: {name}\tPartition: {}\tLeader: {leader}\tReplicas: {}\tIsr: {}\n",
                p.partition_index,
                ids(&p.replica_nodes),
                ids(&p.isr_nodes)
            ));
        }
    }
    out
}

/// Runs `topics`.
pub fn run(args: TopicsArgs) -> Result<ExitCode, String> {
    match block_on(execute(args)) {
        Ok(text) => {
            print!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Err(report(ERROR_PREFIX, &e)),
    }
}

async fn execute(args: TopicsArgs) -> Result<String, AdminError> {
    match args.command {
        TopicsCommand::Create(create) => {
            let spec = create_spec(&create)?;
            let mut session = ControllerSession::new(&args.connect)?;
            let timeout_ms = session.request_timeout_ms();
            let (_, response) = session
                .call(CREATE_TOPICS, |_| create_request(&spec, timeout_ms))
                .await?;
            create_outcome(&spec, &response)
        }
        TopicsCommand::List { exclude_internal } => {
            let mut session = ControllerSession::new(&args.connect)?;
            let response = metadata(&mut session, None).await?;
            Ok(render_list(&response, exclude_internal))
        }
        TopicsCommand::Describe {
            topic,
            exclude_internal,
        } => {
            let mut session = ControllerSession::new(&args.connect)?;
            describe(&mut session, topic, exclude_internal).await
        }
        TopicsCommand::Delete { topic, if_exists } => {
            let mut session = ControllerSession::new(&args.connect)?;
            let timeout_ms = session.request_timeout_ms();
            let (_, response) = session
                .call(DELETE_TOPICS, |v| delete_request(&topic, timeout_ms, v))
                .await?;
            delete_outcome(&topic, if_exists, &response)
        }
    }
}

async fn describe(
    session: &mut ControllerSession,
    topic: Option<String>,
    exclude_internal: bool,
) -> Result<String, AdminError> {
    let named: Option<Vec<String>> = topic.map(|t| vec![t]);
    let response = metadata(session, named.as_deref()).await?;
    if let Some(name) = named.as_ref().and_then(|n| n.first()) {
        let t = response
            .topics
            .iter()
            .find(|t| name_of(t) == name)
            .ok_or_else(|| AdminError::Protocol(format!("Metadata answered nothing for {name}")))?;
        if t.error_code == ErrorCode::UnknownTopicOrPartition.code() {
            return Err(AdminError::Kafka {
                code: t.error_code,
                message: Some(format!("Topic '{name}' does not exist.")),
            });
        }
        AdminError::check(t.error_code, None)?;
    }
    let topics = listed_topics(&response, exclude_internal);
    let mut configs = BTreeMap::new();
    if !topics.is_empty() {
        let resources: Vec<(i8, String)> = topics
            .iter()
            .map(|t| (RESOURCE_TOPIC, name_of(t).to_string()))
            .collect();
        let (_, described) = session
            .call(configs_cmd::DESCRIBE_CONFIGS, |_| {
                configs_cmd::describe_configs_request(&resources, false)
            })
            .await?;
        for (_, name) in &resources {
            configs.insert(name.clone(), non_default_configs(&described, name)?);
        }
    }
    Ok(render_describe(&topics, &configs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::assert_encodes_in_range;
    use crate::metadata_api::{metadata_request, METADATA};
    use clap::Parser;
    use kafka_protocol::messages::create_topics_response::CreatableTopicResult;
    use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
    use kafka_protocol::messages::describe_configs_response::{
        DescribeConfigsResourceResult, DescribeConfigsResult,
    };
    use kafka_protocol::messages::metadata_response::MetadataResponsePartition;
    use kafka_protocol::messages::ApiKey;
    use kafka_protocol::messages::MetadataRequest;
    use std::sync::{Arc, Mutex};

    use crate::fake_controller::{self, decode, respond, FakeController, Script};

    /// `metaquorum topics --bootstrap-controller <bootstrap> <args>` as clap parses it.
    fn parse_at(bootstrap: &str, args: &[&str]) -> Result<TopicsArgs, clap::Error> {
        let argv = ["metaquorum", "topics", "--bootstrap-controller", bootstrap]
            .into_iter()
            .chain(args.iter().copied());
        match crate::Cli::try_parse_from(argv)?.command {
            crate::Command::Topics(t) => Ok(t),
            other => panic!("parsed as {other:?}"),
        }
    }

    fn parse(args: &[&str]) -> Result<TopicsCommand, clap::Error> {
        parse_at("h:1", args).map(|t| t.command)
    }

    fn spec(args: &[&str]) -> Result<CreateSpec, AdminError> {
        let mut argv = vec!["create"];
        argv.extend_from_slice(args);
        match parse(&argv).unwrap() {
            TopicsCommand::Create(c) => create_spec(&c),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn create_options_become_a_create_topics_request() {
        let s = spec(&[
            "--topic",
            "orders",
            "--partitions",
            "3",
            "--replication-factor",
            "2",
            "--config",
            "retention.ms=1000",
            "--config",
            "cleanup.policy=compact,delete",
            "--validate-only",
        ])
        .unwrap();
        let r = create_request(&s, 30_000);
        assert_encodes_in_range(&r, CREATE_TOPICS);
        assert!(r.validate_only);
        assert_eq!(r.timeout_ms, 30_000);
        let t = &r.topics[0];
        assert_eq!(t.name.0.as_str(), "orders");
        assert_eq!((t.num_partitions, t.replication_factor), (3, 2));
        assert!(t.assignments.is_empty());
        let configs: Vec<(&str, Option<&str>)> = t
            .configs
            .iter()
            .map(|c| (c.name.as_str(), c.value.as_ref().map(|v| v.as_str())))
            .collect();
        assert_eq!(
            configs,
            vec![
                ("retention.ms", Some("1000")),
                ("cleanup.policy", Some("compact,delete"))
            ]
        );
    }

    #[test]
    fn defaults_leave_partitions_and_replication_to_the_controller() {
        let r = create_request(&spec(&["--topic", "t"]).unwrap(), 1);
        assert_eq!(
            (r.topics[0].num_partitions, r.topics[0].replication_factor),
            (-1, -1)
        );
        assert!(!r.validate_only);
    }

    #[test]
    fn a_replica_assignment_sets_partitions_and_replicas() {
        let r = create_request(
            &spec(&["--topic", "t", "--replica-assignment", "0:1,1:2"]).unwrap(),
            1,
        );
        let t = &r.topics[0];
        assert_eq!((t.num_partitions, t.replication_factor), (-1, -1));
        let a: Vec<(i32, Vec<i32>)> = t
            .assignments
            .iter()
            .map(|a| {
                (
                    a.partition_index,
                    a.broker_ids.iter().map(|b| b.0).collect(),
                )
            })
            .collect();
        assert_eq!(a, vec![(0, vec![0, 1]), (1, vec![1, 2])]);
        assert_encodes_in_range(&r, CREATE_TOPICS);
        // kafka-topics refuses --partitions and --replication-factor with an assignment.
        for extra in ["--partitions", "--replication-factor"] {
            let args = [
                "create",
                "--topic",
                "t",
                "--replica-assignment",
                "0",
                extra,
                "1",
            ];
            assert!(parse(&args).is_err(), "{extra} accepted");
        }
    }

    #[test]
    fn replica_assignments_are_checked() {
        assert_eq!(parse_replica_assignment("3").unwrap(), vec![vec![3]]);
        assert_eq!(
            parse_replica_assignment(" 0 : 1 ,1:2").unwrap(),
            vec![vec![0, 1], vec![1, 2]]
        );
        for bad in ["", "0:0", "0:1,2", "a:1", "0:-1", "0:1,,1:2"] {
            assert!(parse_replica_assignment(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn create_options_kafka_topics_refuses() {
        for bad in [
            &["--topic", "t", "--partitions", "0"][..],
            &["--topic", "t", "--replication-factor", "0"],
            &["--topic", "t", "--replication-factor", "40000"],
            &["--topic", "t", "--config", "novalue"],
            &["--topic", "t", "--config", "=1"],
            &["--topic", "t", "--config", "a=1", "--config", "a=2"],
            &["--topic", ""],
        ] {
            assert!(
                matches!(spec(bad), Err(AdminError::Usage(_))),
                "{bad:?} accepted"
            );
        }
    }

    fn created(code: i16, message: Option<&'static str>) -> CreateTopicsResponse {
        CreateTopicsResponse::default().with_topics(vec![CreatableTopicResult::default()
            .with_name(topic_name("t"))
            .with_error_code(code)
            .with_error_message(message.map(StrBytes::from_static_str))
            .with_num_partitions(3)
            .with_replication_factor(2)])
    }

    #[test]
    fn create_outcomes_as_kafka_topics_prints_them() {
        let s = spec(&["--topic", "t"]).unwrap();
        assert_eq!(
            create_outcome(&s, &created(0, None)).unwrap(),
            "Created topic t.\n"
        );
        let exists = created(36, Some("Topic 't' already exists."));
        let err = create_outcome(&s, &exists).unwrap_err();
        assert_eq!(
            crate::admin::report(ERROR_PREFIX, &err),
            "Error while executing topic command : Topic 't' already exists.\nTOPIC_ALREADY_EXISTS"
        );
        let quiet = spec(&["--topic", "t", "--if-not-exists"]).unwrap();
        assert_eq!(create_outcome(&quiet, &exists).unwrap(), "");
        let check = spec(&["--topic", "t", "--validate-only"]).unwrap();
        assert_eq!(
            create_outcome(&check, &created(0, None)).unwrap(),
            "Validated topic t: it can be created with 3 partition(s) and replication factor 2. Nothing was created (--validate-only).\n"
        );
        assert!(matches!(
            create_outcome(&s, &CreateTopicsResponse::default()),
            Err(AdminError::Protocol(_))
        ));
    }

    #[test]
    fn delete_names_the_topic_in_the_field_of_its_version() {
        use kafka_protocol::protocol::Encodable;
        let old = delete_request("t", 5_000, 5);
        assert_eq!(old.topic_names, vec![topic_name("t")]);
        assert!(old.topics.is_empty());
        old.encode(&mut bytes::BytesMut::new(), 5).unwrap();
        let new = delete_request("t", 5_000, 6);
        assert!(new.topic_names.is_empty());
        assert_eq!(new.topics[0].name, Some(topic_name("t")));
        assert!(new.topics[0].topic_id.is_nil());
        new.encode(&mut bytes::BytesMut::new(), 6).unwrap();
        for v in DELETE_TOPICS.min_version..=DELETE_TOPICS.max_version {
            delete_request("t", 1, v)
                .encode(&mut bytes::BytesMut::new(), v)
                .unwrap();
        }
    }

    #[test]
    fn delete_outcomes() {
        let answer = |code| {
            DeleteTopicsResponse::default().with_responses(vec![DeletableTopicResult::default()
                .with_name(Some(topic_name("t")))
                .with_error_code(code)])
        };
        assert_eq!(delete_outcome("t", false, &answer(0)).unwrap(), "");
        assert!(matches!(
            delete_outcome("t", false, &answer(3)),
            Err(AdminError::Kafka { code: 3, .. })
        ));
        assert_eq!(delete_outcome("t", true, &answer(3)).unwrap(), "");
    }

    #[test]
    fn metadata_requests_encode_at_every_version_sent() {
        use kafka_protocol::protocol::Encodable;
        let names = ["a".to_string()];
        for v in METADATA.min_version..=METADATA.max_version {
            for topics in [None, Some(&names[..])] {
                let r = metadata_request(topics, v);
                r.encode(&mut bytes::BytesMut::new(), v).unwrap();
                assert_eq!(r.allow_auto_topic_creation, v < 4, "v{v}");
            }
        }
        assert!(
            metadata_request(None, 12).topics.is_none(),
            "null = every topic"
        );
    }

    fn topic(
        name: &str,
        internal: bool,
        partitions: Vec<MetadataResponsePartition>,
    ) -> MetadataResponseTopic {
        MetadataResponseTopic::default()
            .with_name(Some(topic_name(name)))
            .with_is_internal(internal)
            .with_partitions(partitions)
    }

    fn partition(
        index: i32,
        leader: i32,
        replicas: &[i32],
        isr: &[i32],
    ) -> MetadataResponsePartition {
        let ids = |v: &[i32]| v.iter().map(|b| BrokerId(*b)).collect();
        MetadataResponsePartition::default()
            .with_partition_index(index)
            .with_leader_id(BrokerId(leader))
            .with_replica_nodes(ids(replicas))
            .with_isr_nodes(ids(isr))
    }

    #[test]
    fn list_is_sorted_and_can_leave_out_internal_topics() {
        let r = MetadataResponse::default().with_topics(vec![
            topic("zeta", false, vec![]),
            topic("__consumer_offsets", false, vec![]),
            topic("alpha", false, vec![]),
            topic("flagged", true, vec![]),
            topic("broken", false, vec![]).with_error_code(5),
        ]);
        assert_eq!(
            render_list(&r, false),
            "__consumer_offsets\nalpha\nflagged\nzeta\n"
        );
        assert_eq!(render_list(&r, true), "alpha\nzeta\n");
        assert_eq!(render_list(&MetadataResponse::default(), false), "");
    }

    // kafka-topics --describe: a tab-separated summary line, then one line per partition.
    #[test]
    fn describe_prints_kafka_topics_lines() {
        let id = uuid::Uuid::from_bytes([1; 16]);
        let t = topic(
            "orders",
            false,
            vec![
                partition(1, -1, &[2, 3], &[]),
                partition(0, 1, &[1, 2], &[1, 2]),
            ],
        )
        .with_topic_id(id);
        let plain = topic("plain", false, vec![partition(0, 2, &[2], &[2])]);
        let mut configs = BTreeMap::new();
        configs.insert(
            "orders".to_string(),
            "retention.ms=1000,cleanup.policy=compact".to_string(),
        );
        let text = render_describe(&[&t, &plain], &configs);
        assert_eq!(
            text,
            format!(
                "Topic: orders\tTopicId: {}\tPartitionCount: 2\tReplicationFactor: 2\tConfigs: retention.ms=1000,cleanup.policy=compact\n\
                 \tTopic: orders\tPartition: 0\tLeader: 1\tReplicas: 1,2\tIsr: 1,2\n\
                 \tTopic: orders\tPartition: 1\tLeader: none\tReplicas: 2,3\tIsr: \n\
                 Topic: plain\tPartitionCount: 1\tReplicationFactor: 1\tConfigs: \n\
                 \tTopic: plain\tPartition: 0\tLeader: 2\tReplicas: 2\tIsr: 2\n",
                to_kafka_string(id)
            )
        );
    }

    #[test]
    fn describe_shows_only_configs_that_are_not_kafka_defaults() {
        let entry = |name: &str, value: Option<&str>, source: ConfigSource| {
            DescribeConfigsResourceResult::default()
                .with_name(StrBytes::from_string(name.into()))
                .with_value(value.map(|v| StrBytes::from_string(v.into())))
                .with_config_source(source.code())
        };
        let r =
            DescribeConfigsResponse::default().with_results(vec![DescribeConfigsResult::default()
                .with_resource_type(RESOURCE_TOPIC)
                .with_resource_name(StrBytes::from_static_str("t"))
                .with_configs(vec![
                    entry(
                        "cleanup.policy",
                        Some("delete"),
                        ConfigSource::DefaultConfig,
                    ),
                    entry(
                        "retention.ms",
                        Some("1000"),
                        ConfigSource::DynamicTopicConfig,
                    ),
                    entry(
                        "segment.bytes",
                        Some("1024"),
                        ConfigSource::StaticBrokerConfig,
                    ),
                    entry("secret", None, ConfigSource::DynamicTopicConfig),
                ])]);
        assert_eq!(
            non_default_configs(&r, "t").unwrap(),
            "retention.ms=1000,segment.bytes=1024,secret=null"
        );
        assert!(non_default_configs(&r, "other").is_err());
    }

    #[test]
    fn describe_takes_an_optional_topic() {
        assert!(matches!(
            parse(&["describe"]).unwrap(),
            TopicsCommand::Describe {
                topic: None,
                exclude_internal: false
            }
        ));
        assert!(matches!(
            parse(&["describe", "--topic", "t", "--exclude-internal"]).unwrap(),
            TopicsCommand::Describe { topic: Some(t), exclude_internal: true } if t == "t"
        ));
        assert!(parse(&["delete"]).is_err(), "delete needs --topic");
    }

    /// A fake controller serving Metadata (topics `b`, `a`, and `missing` as unknown) and
    /// DescribeConfigs (one dynamic config per topic), recording the resources asked for.
    async fn metadata_fake(asked: Arc<Mutex<Vec<String>>>) -> FakeController {
        let script: Script = Arc::new(move |req| match req.api {
            ApiKey::Metadata => {
                let request: MetadataRequest = decode(req);
                let all = vec![
                    topic("b", false, vec![partition(0, 1, &[1], &[1])]),
                    topic("a", false, vec![partition(0, 1, &[1], &[1])]),
                ];
                let topics = match request.topics {
                    None => all,
                    Some(named) => named
                        .iter()
                        .map(|n| {
                            let name = n.name.clone().unwrap_or_else(|| topic_name(""));
                            all.iter()
                                .find(|t| t.name.as_ref() == Some(&name))
                                .cloned()
                                .unwrap_or_else(|| {
                                    MetadataResponseTopic::default()
                                        .with_name(Some(name))
                                        .with_error_code(3)
                                })
                        })
                        .collect(),
                };
                respond(req, &MetadataResponse::default().with_topics(topics))
            }
            _ => {
                let request: kafka_protocol::messages::DescribeConfigsRequest = decode(req);
                let results = request
                    .resources
                    .iter()
                    .map(|r| {
                        asked.lock().unwrap().push(r.resource_name.to_string());
                        DescribeConfigsResult::default()
                            .with_resource_type(r.resource_type)
                            .with_resource_name(r.resource_name.clone())
                            .with_configs(vec![DescribeConfigsResourceResult::default()
                                .with_name(StrBytes::from_static_str("retention.ms"))
                                .with_value(Some(StrBytes::from_static_str("1000")))
                                .with_config_source(ConfigSource::DynamicTopicConfig.code())])
                    })
                    .collect();
                respond(
                    req,
                    &DescribeConfigsResponse::default().with_results(results),
                )
            }
        });
        fake_controller::start(
            fake_controller::listener().await,
            &[(ApiKey::Metadata, 12), (ApiKey::DescribeConfigs, 4)],
            script,
        )
    }

    // The whole describe over a socket: Metadata, then DescribeConfigs for the listed topics.
    #[tokio::test]
    async fn describe_reads_metadata_then_the_topics_configs() {
        let asked = Arc::new(Mutex::new(Vec::new()));
        let fake = metadata_fake(Arc::clone(&asked)).await;
        let text = execute(parse_at(&fake.addr, &["describe"]).unwrap())
            .await
            .unwrap();
        assert_eq!(
            text,
            "Topic: a\tPartitionCount: 1\tReplicationFactor: 1\tConfigs: retention.ms=1000\n\
             \tTopic: a\tPartition: 0\tLeader: 1\tReplicas: 1\tIsr: 1\n\
             Topic: b\tPartitionCount: 1\tReplicationFactor: 1\tConfigs: retention.ms=1000\n\
             \tTopic: b\tPartition: 0\tLeader: 1\tReplicas: 1\tIsr: 1\n"
        );
        assert_eq!(
            *asked.lock().unwrap(),
            vec!["a".to_string(), "b".to_string()]
        );
        let list = execute(parse_at(&fake.addr, &["list"]).unwrap())
            .await
            .unwrap();
        assert_eq!(list, "a\nb\n");
        let err = execute(parse_at(&fake.addr, &["describe", "--topic", "missing"]).unwrap())
            .await
            .unwrap_err();
        assert_eq!(
            crate::admin::report(ERROR_PREFIX, &err),
            "Error while executing topic command : Topic 'missing' does not exist.\nUNKNOWN_TOPIC_OR_PARTITION"
        );
    }
}
