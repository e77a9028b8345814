//! `metaquorum configs --bootstrap-controller H:P --entity-type topics|brokers
//! (--entity-name N | --entity-default) describe [--all] | alter [--add-config k=v,...]
//! [--delete-config k,...]`, in the manner of `kafka-configs`: describe is DescribeConfigs
//! (dynamic entries only unless `--all`), alter is IncrementalAlterConfigs (SET and DELETE), and
//! both print what `kafka-configs` prints.

use std::collections::BTreeSet;
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult,
};
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::{
    DescribeConfigsRequest, DescribeConfigsResponse, IncrementalAlterConfigsRequest,
};
use kafka_protocol::protocol::StrBytes;
use metaquorum_controller::control::config_defs::ConfigSource;

use crate::admin::{block_on, report, AdminError, Call, ConnectArgs, ControllerSession};
use crate::metadata_api;

/// DescribeConfigs v1+ (config sources and synonyms).
pub const DESCRIBE_CONFIGS: Call = Call {
    min_version: 1,
    max_version: 4,
    idempotent: true,
};

/// IncrementalAlterConfigs, every version (v1 is the flexible encoding).
pub const INCREMENTAL_ALTER_CONFIGS: Call = Call {
    min_version: 0,
    max_version: 1,
    idempotent: false,
};

/// `ConfigResource.Type.TOPIC`.
pub const RESOURCE_TOPIC: i8 = 2;
/// `ConfigResource.Type.BROKER`.
pub const RESOURCE_BROKER: i8 = 4;

/// IncrementalAlterConfigs operation SET.
const OP_SET: i8 = 0;
/// IncrementalAlterConfigs operation DELETE.
const OP_DELETE: i8 = 1;

/// The `configs` arguments.
#[derive(Debug, Args)]
pub struct ConfigsArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    /// The kind of entity.
    #[arg(long = "entity-type", value_enum)]
    entity_type: EntityType,
    /// The entity: a topic name or a broker id.
    #[arg(long = "entity-name", conflicts_with = "entity_default")]
    entity_name: Option<String>,
    /// The cluster-wide default (brokers only).
    #[arg(long = "entity-default")]
    entity_default: bool,
    #[command(subcommand)]
    command: ConfigsCommand,
}

/// The entity types `configs` handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EntityType {
    /// Topic configs.
    Topics,
    /// Broker configs (per broker id, or the cluster-wide default).
    Brokers,
}

/// The `configs` subcommands.
#[derive(Debug, Subcommand)]
pub enum ConfigsCommand {
    /// Print the entity's dynamic configs (every config with --all).
    Describe {
        /// List every config, with its source and synonyms, not only the dynamic ones.
        #[arg(long)]
        all: bool,
    },
    /// Set and delete dynamic configs.
    Alter {
        /// Configs to set: k=v,k2=v2; a value with commas goes in brackets: k=[a,b].
        #[arg(long = "add-config", value_name = "K=V,...")]
        add_config: Vec<String>,
        /// Config keys to delete: k,k2.
        #[arg(long = "delete-config", value_name = "K,...")]
        delete_config: Vec<String>,
    },
}

/// One config resource, as DescribeConfigs and IncrementalAlterConfigs name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entity {
    /// A topic.
    Topic(String),
    /// One broker.
    Broker(i32),
    /// The cluster-wide broker default (resource name "").
    BrokerDefault,
}

impl Entity {
    /// The resource type code.
    pub fn resource_type(&self) -> i8 {
        match self {
            Entity::Topic(_) => RESOURCE_TOPIC,
            Entity::Broker(_) | Entity::BrokerDefault => RESOURCE_BROKER,
        }
    }

    /// The resource name.
    pub fn resource_name(&self) -> String {
        match self {
            Entity::Topic(t) => t.clone(),
            Entity::Broker(id) => id.to_string(),
            Entity::BrokerDefault => String::new(),
        }
    }

    /// The source code of configs set on exactly this entity.
    fn dynamic_source(&self) -> i8 {
        match self {
            Entity::Topic(_) => ConfigSource::DynamicTopicConfig.code(),
            Entity::Broker(_) => ConfigSource::DynamicBrokerConfig.code(),
            Entity::BrokerDefault => ConfigSource::DynamicDefaultBrokerConfig.code(),
        }
    }

    /// `Dynamic configs for topic t are:` and the like.
    fn describe_header(&self, all: bool) -> String {
        let which = if all { "All" } else { "Dynamic" };
        match self {
            Entity::Topic(t) => format!("{which} configs for topic {t} are:"),
            Entity::Broker(id) => format!("{which} configs for broker {id} are:"),
            Entity::BrokerDefault => "Default configs for brokers in the cluster are:".into(),
        }
    }

    /// `Completed updating config for topic t.` and the like.
    fn altered_line(&self) -> String {
        match self {
            Entity::Topic(t) => format!("Completed updating config for topic {t}."),
            Entity::Broker(id) => format!("Completed updating config for broker {id}."),
            Entity::BrokerDefault => {
                "Completed updating default config for brokers in the cluster.".into()
            }
        }
    }
}

/// Which entities a command names: one, or (describe only) every entity of the type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// One entity.
    One(Entity),
    /// Every topic.
    AllTopics,
    /// Every broker, then the default.
    AllBrokers,
}

/// Resolves `--entity-type`, `--entity-name` and `--entity-default`.
pub fn selection(
    entity_type: EntityType,
    name: Option<&str>,
    default: bool,
) -> Result<Selection, AdminError> {
    match (entity_type, name, default) {
        (EntityType::Topics, _, true) => Err(AdminError::Usage(
            "--entity-default applies to brokers, not topics".into(),
        )),
        (EntityType::Topics, Some(t), false) => {
            if t.is_empty() {
                return Err(AdminError::Usage("--entity-name must not be empty".into()));
            }
            Ok(Selection::One(Entity::Topic(t.to_string())))
        }
        (EntityType::Topics, None, false) => Ok(Selection::AllTopics),
        (EntityType::Brokers, Some(id), _) => id
            .trim()
            .parse::<i32>()
            .ok()
            .filter(|id| *id >= 0)
            .map(|id| Selection::One(Entity::Broker(id)))
            .ok_or_else(|| {
                AdminError::Usage(format!(
                    "the entity name of a broker is its id, a whole number; found '{id}'"
                ))
            }),
        (EntityType::Brokers, None, true) => Ok(Selection::One(Entity::BrokerDefault)),
        (EntityType::Brokers, None, false) => Ok(Selection::AllBrokers),
    }
}

/// Splits `k=v` at the first `=`; the key is trimmed and must not be empty.
pub fn parse_key_value(item: &str) -> Result<(String, String), String> {
    let (k, v) = item
        .split_once('=')
        .ok_or_else(|| format!("'{item}' is not of the form key=value"))?;
    let k = k.trim();
    if k.is_empty() {
        return Err(format!("'{item}' has an empty key"));
    }
    Ok((k.to_string(), v.trim().to_string()))
}

/// Parses `--add-config` values: comma-separated `k=v` items, where a value in brackets may
/// hold commas (`k=[a,b]` sets `a,b`). Every `--add-config` is parsed; a key may appear once.
pub fn parse_add_config(values: &[String]) -> Result<Vec<(String, String)>, String> {
    let mut out: Vec<(String, String)> = Vec::new();
    for value in values {
        for item in split_outside_brackets(value)? {
            let (k, mut v) = parse_key_value(&item)?;
            if v.starts_with('[') && v.ends_with(']') && v.len() >= 2 {
                v = v[1..v.len() - 1].to_string();
            }
            if out.iter().any(|(seen, _)| *seen == k) {
                return Err(format!("config {k} is given more than once"));
            }
            out.push((k, v));
        }
    }
    Ok(out)
}

/// Splits at commas outside `[...]`, dropping empty items.
fn split_outside_brackets(s: &str) -> Result<Vec<String>, String> {
    let mut items = Vec::new();
    let mut depth = 0usize;
    let mut current = String::new();
    for c in s.chars() {
        match c {
            '[' => depth += 1,
            ']' => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| format!("unbalanced ']' in '{s}'"))?
            }
            ',' if depth == 0 => {
                items.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    if depth != 0 {
        return Err(format!("unbalanced '[' in '{s}'"));
    }
    items.push(current);
    Ok(items
        .into_iter()
        .map(|i| i.trim().to_string())
        .filter(|i| !i.is_empty())
        .collect())
}

/// Parses `--delete-config` values: comma-separated keys; a key may appear once.
pub fn parse_delete_config(values: &[String]) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for key in values.iter().flat_map(|v| v.split(',')).map(str::trim) {
        if key.is_empty() {
            continue;
        }
        if out.iter().any(|k| k == key) {
            return Err(format!("config {key} is given more than once"));
        }
        out.push(key.to_string());
    }
    Ok(out)
}

/// A DescribeConfigs request for every config of `resources` (type code, name).
pub fn describe_configs_request(
    resources: &[(i8, String)],
    synonyms: bool,
) -> DescribeConfigsRequest {
    DescribeConfigsRequest::default()
        .with_resources(
            resources
                .iter()
                .map(|(t, name)| {
                    DescribeConfigsResource::default()
                        .with_resource_type(*t)
                        .with_resource_name(StrBytes::from_string(name.clone()))
                        .with_configuration_keys(None)
                })
                .collect(),
        )
        .with_include_synonyms(synonyms)
}

/// The result for one resource in a DescribeConfigs answer, its error checked.
pub fn result_for<'a>(
    response: &'a DescribeConfigsResponse,
    resource_type: i8,
    name: &str,
) -> Result<&'a DescribeConfigsResult, AdminError> {
    let r = response
        .results
        .iter()
        .find(|r| r.resource_type == resource_type && r.resource_name.as_str() == name)
        .ok_or_else(|| {
            AdminError::Protocol(format!(
                "DescribeConfigs answered nothing for resource type {resource_type} '{name}'"
            ))
        })?;
    AdminError::check(r.error_code, r.error_message.as_ref())?;
    Ok(r)
}

/// The IncrementalAlterConfigs request: SET for `add`, DELETE for `delete`.
pub fn alter_request(
    entity: &Entity,
    add: &[(String, String)],
    delete: &[String],
) -> IncrementalAlterConfigsRequest {
    let sets = add.iter().map(|(k, v)| {
        AlterableConfig::default()
            .with_name(StrBytes::from_string(k.clone()))
            .with_config_operation(OP_SET)
            .with_value(Some(StrBytes::from_string(v.clone())))
    });
    let deletes = delete.iter().map(|k| {
        AlterableConfig::default()
            .with_name(StrBytes::from_string(k.clone()))
            .with_config_operation(OP_DELETE)
            .with_value(None)
    });
    IncrementalAlterConfigsRequest::default()
        .with_resources(vec![AlterConfigsResource::default()
            .with_resource_type(entity.resource_type())
            .with_resource_name(StrBytes::from_string(entity.resource_name()))
            .with_configs(sets.chain(deletes).collect())])
        .with_validate_only(false)
}

/// The admin client's name for a DescribeConfigs source code, as `kafka-configs` prints
/// synonyms (`DYNAMIC_TOPIC_CONFIG:retention.ms=1000`).
pub fn source_name(code: i8) -> &'static str {
    const NAMES: [(ConfigSource, &str); 8] = [
        (ConfigSource::Unknown, "UNKNOWN"),
        (ConfigSource::DynamicTopicConfig, "DYNAMIC_TOPIC_CONFIG"),
        (ConfigSource::DynamicBrokerConfig, "DYNAMIC_BROKER_CONFIG"),
        (
            ConfigSource::DynamicDefaultBrokerConfig,
            "DYNAMIC_DEFAULT_BROKER_CONFIG",
        ),
        (ConfigSource::StaticBrokerConfig, "STATIC_BROKER_CONFIG"),
        (ConfigSource::DefaultConfig, "DEFAULT_CONFIG"),
        (
            ConfigSource::DynamicBrokerLoggerConfig,
            "DYNAMIC_BROKER_LOGGER_CONFIG",
        ),
        (
            ConfigSource::ClientMetricsConfig,
            "DYNAMIC_CLIENT_METRICS_CONFIG",
        ),
    ];
    NAMES
        .iter()
        .find(|(s, _)| s.code() == code)
        .map_or("UNKNOWN", |(_, n)| n)
}

/// The entries `describe` prints for `entity`: those set on it (every one with `all`), by name.
fn shown_entries<'a>(
    result: &'a DescribeConfigsResult,
    entity: &Entity,
    all: bool,
) -> Vec<&'a DescribeConfigsResourceResult> {
    let mut entries: Vec<_> = result
        .configs
        .iter()
        .filter(|e| all || e.config_source == entity.dynamic_source())
        .collect();
    entries.sort_by(|a, b| a.name.as_str().cmp(b.name.as_str()));
    entries
}

fn value_text(v: &Option<StrBytes>) -> &str {
    v.as_ref().map_or("null", |s| s.as_str())
}

/// `kafka-configs --describe` text for one entity: the header line, then
/// `  k=v sensitive=false synonyms={SOURCE:k=v, ...}` per entry (a hidden value prints as null).
pub fn render_describe(entity: &Entity, result: &DescribeConfigsResult, all: bool) -> String {
    let mut out = entity.describe_header(all);
    out.push('\n');
    for e in shown_entries(result, entity, all) {
        let synonyms: Vec<String> = e
            .synonyms
            .iter()
            .map(|s| {
                format!(
                    "{}:{}={}",
                    source_name(s.source),
                    s.name.as_str(),
                    value_text(&s.value)
                )
            })
            .collect();
        out.push_str(&format!(
            "  {}={} sensitive={} synonyms={{{}}}\n",
            e.name.as_str(),
            value_text(&e.value),
            e.is_sensitive,
            synonyms.join(", ")
        ));
    }
    out
}

/// Checks that every key to delete is set on the entity: deleting an unset key is a mistake
/// worth stopping for (a typo would otherwise pass silently).
pub fn check_deletable(
    entity: &Entity,
    current: &DescribeConfigsResult,
    delete: &[String],
) -> Result<(), AdminError> {
    let set: BTreeSet<&str> = shown_entries(current, entity, false)
        .into_iter()
        .map(|e| e.name.as_str())
        .collect();
    let missing: Vec<&str> = delete
        .iter()
        .map(String::as_str)
        .filter(|k| !set.contains(k))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(AdminError::Usage(format!(
        "Invalid config(s): {} (not set on {}, so nothing to delete)",
        missing.join(","),
        match entity {
            Entity::Topic(t) => format!("topic {t}"),
            Entity::Broker(id) => format!("broker {id}"),
            Entity::BrokerDefault => "the broker default".into(),
        }
    )))
}

/// Runs `configs`.
pub fn run(args: ConfigsArgs) -> Result<ExitCode, String> {
    let prefix = format!(
        "Error while executing config command with args '{}'\n",
        std::env::args().skip(1).collect::<Vec<_>>().join(" ")
    );
    match block_on(execute(args)) {
        Ok(text) => {
            print!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        Err(e @ AdminError::Usage(_)) => Err(e.to_string()),
        Err(e) => Err(report(&prefix, &e)),
    }
}

async fn execute(args: ConfigsArgs) -> Result<String, AdminError> {
    let selected = selection(
        args.entity_type,
        args.entity_name.as_deref(),
        args.entity_default,
    )?;
    let usage = |e: String| AdminError::Usage(e);
    match args.command {
        ConfigsCommand::Describe { all } => {
            let mut session = ControllerSession::new(&args.connect)?;
            let entities = match selected {
                Selection::One(e) => vec![e],
                Selection::AllTopics => metadata_api::topic_names(&mut session, false)
                    .await?
                    .into_iter()
                    .map(Entity::Topic)
                    .collect(),
                Selection::AllBrokers => {
                    let mut e: Vec<Entity> = metadata_api::broker_ids(&mut session)
                        .await?
                        .into_iter()
                        .map(Entity::Broker)
                        .collect();
                    e.push(Entity::BrokerDefault);
                    e
                }
            };
            describe(&mut session, &entities, all).await
        }
        ConfigsCommand::Alter {
            add_config,
            delete_config,
        } => {
            let Selection::One(entity) = selected else {
                return Err(AdminError::Usage(
                    "alter needs --entity-name (or --entity-default for brokers)".into(),
                ));
            };
            let add = parse_add_config(&add_config).map_err(usage)?;
            let delete = parse_delete_config(&delete_config).map_err(usage)?;
            if add.is_empty() && delete.is_empty() {
                return Err(AdminError::Usage(
                    "alter needs --add-config or --delete-config".into(),
                ));
            }
            if let Some((k, _)) = add.iter().find(|(k, _)| delete.contains(k)) {
                return Err(AdminError::Usage(format!(
                    "config {k} is both added and deleted"
                )));
            }
            let mut session = ControllerSession::new(&args.connect)?;
            alter(&mut session, &entity, &add, &delete).await
        }
    }
}

async fn describe(
    session: &mut ControllerSession,
    entities: &[Entity],
    all: bool,
) -> Result<String, AdminError> {
    if entities.is_empty() {
        return Ok(String::new());
    }
    let resources: Vec<(i8, String)> = entities
        .iter()
        .map(|e| (e.resource_type(), e.resource_name()))
        .collect();
    let (_, response) = session
        .call(DESCRIBE_CONFIGS, |_| {
            describe_configs_request(&resources, true)
        })
        .await?;
    let mut out = String::new();
    for e in entities {
        let result = result_for(&response, e.resource_type(), &e.resource_name())?;
        out.push_str(&render_describe(e, result, all));
    }
    Ok(out)
}

async fn alter(
    session: &mut ControllerSession,
    entity: &Entity,
    add: &[(String, String)],
    delete: &[String],
) -> Result<String, AdminError> {
    if !delete.is_empty() {
        let resources = [(entity.resource_type(), entity.resource_name())];
        let (_, current) = session
            .call(DESCRIBE_CONFIGS, |_| {
                describe_configs_request(&resources, false)
            })
            .await?;
        let result = result_for(&current, entity.resource_type(), &entity.resource_name())?;
        check_deletable(entity, result, delete)?;
    }
    let (_, response) = session
        .call(INCREMENTAL_ALTER_CONFIGS, |_| {
            alter_request(entity, add, delete)
        })
        .await?;
    let r = response
        .responses
        .iter()
        .find(|r| r.resource_type == entity.resource_type())
        .ok_or_else(|| AdminError::Protocol("IncrementalAlterConfigs answered nothing".into()))?;
    AdminError::check(r.error_code, r.error_message.as_ref())?;
    Ok(format!("{}\n", entity.altered_line()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::assert_encodes_in_range;
    use clap::Parser;
    use kafka_protocol::messages::describe_configs_response::DescribeConfigsSynonym;
    use kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;
    use kafka_protocol::messages::{ApiKey, IncrementalAlterConfigsResponse};
    use std::sync::{Arc, Mutex};

    use crate::fake_controller::{self, decode, respond, Script};

    /// `metaquorum configs --bootstrap-controller h:1 <args>` as clap parses it.
    fn parse(args: &[&str]) -> Result<ConfigsArgs, clap::Error> {
        parse_at("h:1", args)
    }

    fn parse_at(bootstrap: &str, args: &[&str]) -> Result<ConfigsArgs, clap::Error> {
        let argv = ["metaquorum", "configs", "--bootstrap-controller", bootstrap]
            .into_iter()
            .chain(args.iter().copied());
        match crate::Cli::try_parse_from(argv)?.command {
            crate::Command::Configs(c) => Ok(c),
            other => panic!("parsed as {other:?}"),
        }
    }

    fn selected(args: &[&str]) -> Result<Selection, AdminError> {
        let a = parse(args).unwrap();
        selection(a.entity_type, a.entity_name.as_deref(), a.entity_default)
    }

    #[test]
    fn entity_options_name_one_resource_or_all() {
        let one = |e| Ok(Selection::One(e));
        assert_eq!(
            selected(&["--entity-type", "topics", "--entity-name", "t", "describe"]),
            one(Entity::Topic("t".into()))
        );
        assert_eq!(
            selected(&["--entity-type", "topics", "describe"]),
            Ok(Selection::AllTopics)
        );
        assert_eq!(
            selected(&["--entity-type", "brokers", "--entity-name", "1", "describe"]),
            one(Entity::Broker(1))
        );
        assert_eq!(
            selected(&["--entity-type", "brokers", "--entity-default", "describe"]),
            one(Entity::BrokerDefault)
        );
        assert_eq!(
            selected(&["--entity-type", "brokers", "describe"]),
            Ok(Selection::AllBrokers)
        );
        assert!(selected(&[
            "--entity-type",
            "brokers",
            "--entity-name",
            "one",
            "describe"
        ])
        .is_err());
        assert!(selected(&["--entity-type", "topics", "--entity-default", "describe"]).is_err());
        assert!(parse(&[
            "--entity-type",
            "brokers",
            "--entity-name",
            "1",
            "--entity-default",
            "describe"
        ])
        .is_err());
        assert!(parse(&["--entity-type", "users", "describe"]).is_err());
    }

    impl PartialEq for AdminError {
        fn eq(&self, other: &Self) -> bool {
            self.to_string() == other.to_string()
        }
    }

    #[test]
    fn add_config_splits_outside_brackets() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            parse_add_config(&v(&["a=1, b=[x,y],c=", "d=e=f"])).unwrap(),
            vec![
                ("a".to_string(), "1".to_string()),
                ("b".to_string(), "x,y".to_string()),
                ("c".to_string(), String::new()),
                ("d".to_string(), "e=f".to_string()),
            ]
        );
        for bad in ["a", "=1", "a=[1", "a=1]", "a=1,a=2"] {
            assert!(parse_add_config(&v(&[bad])).is_err(), "{bad}");
        }
        assert_eq!(
            parse_delete_config(&v(&["a, b", "c"])).unwrap(),
            v(&["a", "b", "c"])
        );
        assert!(parse_delete_config(&v(&["a,a"])).is_err());
    }

    #[test]
    fn alter_sets_and_deletes_in_one_request() {
        let r = alter_request(
            &Entity::Topic("t".into()),
            &[("retention.ms".into(), "1000".into())],
            &["cleanup.policy".into()],
        );
        assert_encodes_in_range(&r, INCREMENTAL_ALTER_CONFIGS);
        assert!(!r.validate_only);
        let res = &r.resources[0];
        assert_eq!((res.resource_type, res.resource_name.as_str()), (2, "t"));
        let ops: Vec<(&str, i8, Option<&str>)> = res
            .configs
            .iter()
            .map(|c| {
                (
                    c.name.as_str(),
                    c.config_operation,
                    c.value.as_ref().map(|v| v.as_str()),
                )
            })
            .collect();
        assert_eq!(
            ops,
            vec![
                ("retention.ms", 0, Some("1000")),
                ("cleanup.policy", 1, None)
            ]
        );
        let d = alter_request(&Entity::BrokerDefault, &[("a".into(), "b".into())], &[]);
        assert_eq!(
            (
                d.resources[0].resource_type,
                d.resources[0].resource_name.as_str()
            ),
            (4, "")
        );
    }

    #[test]
    fn describe_requests_every_config_with_synonyms() {
        let r = describe_configs_request(
            &[
                (RESOURCE_BROKER, "1".into()),
                (RESOURCE_BROKER, String::new()),
            ],
            true,
        );
        assert_encodes_in_range(&r, DESCRIBE_CONFIGS);
        assert!(r.include_synonyms);
        assert_eq!(r.resources.len(), 2);
        assert!(r.resources[0].configuration_keys.is_none());
    }

    fn entry(
        name: &str,
        value: Option<&str>,
        source: ConfigSource,
    ) -> DescribeConfigsResourceResult {
        DescribeConfigsResourceResult::default()
            .with_name(StrBytes::from_string(name.into()))
            .with_value(value.map(|v| StrBytes::from_string(v.into())))
            .with_config_source(source.code())
            .with_is_sensitive(value.is_none())
    }

    fn topic_result() -> DescribeConfigsResult {
        let synonym = |s: ConfigSource, name: &str, value: &str| {
            DescribeConfigsSynonym::default()
                .with_source(s.code())
                .with_name(StrBytes::from_string(name.into()))
                .with_value(Some(StrBytes::from_string(value.into())))
        };
        DescribeConfigsResult::default()
            .with_resource_type(RESOURCE_TOPIC)
            .with_resource_name(StrBytes::from_static_str("t"))
            .with_configs(vec![
                entry(
                    "segment.bytes",
                    Some("1073741824"),
                    ConfigSource::DefaultConfig,
                ),
                entry(
                    "retention.ms",
                    Some("1000"),
                    ConfigSource::DynamicTopicConfig,
                )
                .with_synonyms(vec![
                    synonym(ConfigSource::DynamicTopicConfig, "retention.ms", "1000"),
                    synonym(ConfigSource::StaticBrokerConfig, "log.retention.ms", "5000"),
                ]),
                entry("a.secret", None, ConfigSource::DynamicTopicConfig),
            ])
    }

    // kafka-configs --describe: a header line, then "  k=v sensitive=... synonyms={...}" per
    // entry, sorted by name; dynamic entries only unless --all.
    #[test]
    fn describe_prints_kafka_configs_lines() {
        let t = Entity::Topic("t".into());
        assert_eq!(
            render_describe(&t, &topic_result(), false),
            "Dynamic configs for topic t are:\n\
             \x20 a.secret=null sensitive=true synonyms={}\n\
             \x20 retention.ms=1000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:retention.ms=1000, STATIC_BROKER_CONFIG:log.retention.ms=5000}\n"
        );
        let all = render_describe(&t, &topic_result(), true);
        assert!(all.starts_with("All configs for topic t are:\n"), "{all}");
        assert!(
            all.ends_with("  segment.bytes=1073741824 sensitive=false synonyms={}\n"),
            "{all}"
        );
        let empty = DescribeConfigsResult::default();
        assert_eq!(
            render_describe(&Entity::BrokerDefault, &empty, false),
            "Default configs for brokers in the cluster are:\n"
        );
        assert_eq!(
            render_describe(&Entity::Broker(3), &empty, true),
            "All configs for broker 3 are:\n"
        );
    }

    #[test]
    fn deleting_a_config_that_is_not_set_is_refused() {
        let t = Entity::Topic("t".into());
        assert!(check_deletable(&t, &topic_result(), &["retention.ms".into()]).is_ok());
        // segment.bytes is only a default: nothing to delete.
        let err = check_deletable(
            &t,
            &topic_result(),
            &["segment.bytes".into(), "typo".into()],
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid config(s): segment.bytes,typo (not set on topic t, so nothing to delete)"
        );
    }

    #[test]
    fn alter_lines_and_source_names() {
        assert_eq!(
            Entity::Topic("t".into()).altered_line(),
            "Completed updating config for topic t."
        );
        assert_eq!(
            Entity::Broker(1).altered_line(),
            "Completed updating config for broker 1."
        );
        assert_eq!(
            Entity::BrokerDefault.altered_line(),
            "Completed updating default config for brokers in the cluster."
        );
        assert_eq!(source_name(1), "DYNAMIC_TOPIC_CONFIG");
        assert_eq!(source_name(3), "DYNAMIC_DEFAULT_BROKER_CONFIG");
        assert_eq!(source_name(5), "DEFAULT_CONFIG");
        assert_eq!(source_name(99), "UNKNOWN");
    }

    #[test]
    fn alter_needs_one_entity_and_something_to_change() {
        let run = |args: &[&str]| crate::admin::block_on(execute(parse(args).unwrap()));
        for bad in [
            "--entity-type topics alter --add-config a=1",
            "--entity-type topics --entity-name t alter",
            "--entity-type topics --entity-name t alter --add-config a=1 --delete-config a",
            "--entity-type topics --entity-name t alter --add-config novalue",
        ] {
            let bad: Vec<&str> = bad.split_whitespace().collect();
            let bad = &bad[..];
            assert!(matches!(run(bad), Err(AdminError::Usage(_))), "{bad:?}");
        }
    }

    // alter over a socket: the current dynamic configs first (a key to delete must be set),
    // then one IncrementalAlterConfigs with the SETs and DELETEs.
    #[tokio::test]
    async fn alter_checks_deletions_against_the_current_configs_then_alters() {
        let altered: Arc<Mutex<Vec<(String, i8)>>> = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&altered);
        let script: Script = Arc::new(move |req| match req.api {
            ApiKey::DescribeConfigs => respond(
                req,
                &DescribeConfigsResponse::default().with_results(vec![topic_result()]),
            ),
            _ => {
                let r: IncrementalAlterConfigsRequest = decode(req);
                for c in &r.resources[0].configs {
                    seen.lock()
                        .unwrap()
                        .push((c.name.to_string(), c.config_operation));
                }
                respond(
                    req,
                    &IncrementalAlterConfigsResponse::default().with_responses(vec![
                        AlterConfigsResourceResponse::default()
                            .with_resource_type(RESOURCE_TOPIC)
                            .with_resource_name(StrBytes::from_static_str("t")),
                    ]),
                )
            }
        });
        let fake = fake_controller::start(
            fake_controller::listener().await,
            &[
                (ApiKey::DescribeConfigs, 4),
                (ApiKey::IncrementalAlterConfigs, 1),
            ],
            script,
        );
        let alter = |extra: &[&str]| {
            let mut argv = vec!["--entity-type", "topics", "--entity-name", "t", "alter"];
            argv.extend_from_slice(extra);
            parse_at(&fake.addr, &argv).unwrap()
        };
        let err = execute(alter(&["--delete-config", "typo"]))
            .await
            .unwrap_err();
        assert!(matches!(err, AdminError::Usage(_)), "{err}");
        assert!(altered.lock().unwrap().is_empty(), "nothing was altered");
        let text = execute(alter(&[
            "--add-config",
            "segment.ms=10",
            "--delete-config",
            "retention.ms",
        ]))
        .await
        .unwrap();
        assert_eq!(text, "Completed updating config for topic t.\n");
        assert_eq!(
            *altered.lock().unwrap(),
            vec![
                ("segment.ms".to_string(), OP_SET),
                ("retention.ms".to_string(), OP_DELETE)
            ]
        );
        let described = execute(
            parse_at(
                &fake.addr,
                &["--entity-type", "topics", "--entity-name", "t", "describe"],
            )
            .unwrap(),
        )
        .await
        .unwrap();
        assert!(
            described.starts_with("Dynamic configs for topic t are:\n  a.secret=null"),
            "{described}"
        );
    }
}
