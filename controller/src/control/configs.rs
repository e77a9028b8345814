//! Dynamic configs on the active controller: DescribeConfigs reads topic and broker configs from
//! the image (dynamic values, cluster-wide broker defaults, built-in defaults, with their
//! sources), IncrementalAlterConfigs validates SET / DELETE / APPEND / SUBTRACT against the
//! catalogues of [`super::config_defs`] and writes `ConfigRecord`s.

use std::collections::{BTreeMap, HashSet};

use kafka_protocol::messages::describe_configs_request::{
    DescribeConfigsRequest, DescribeConfigsResource,
};
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResponse, DescribeConfigsResult,
    DescribeConfigsSynonym,
};
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, IncrementalAlterConfigsRequest,
};
use kafka_protocol::messages::incremental_alter_configs_response::{
    AlterConfigsResourceResponse, IncrementalAlterConfigsResponse,
};

use super::config_defs::{
    broker_dynamic_config, topic_config, validate_broker_config, validate_topic_configs, ConfigDef,
    ConfigSource, ConfigType, BROKER_DYNAMIC_CONFIGS, TOPIC_CONFIGS,
};
use super::errors::ErrorCode;
use super::outcome::{wire_message, wire_str, ControlResult};
use crate::metadata::configs::{CONFIG_RESOURCE_BROKER, CONFIG_RESOURCE_TOPIC};
use crate::metadata::image::MetadataImage;
use crate::metadata::record::{ConfigRecord, MetadataRecord};

/// IncrementalAlterConfigs operation codes.
const OP_SET: i8 = 0;
const OP_DELETE: i8 = 1;
const OP_APPEND: i8 = 2;
const OP_SUBTRACT: i8 = 3;

type ConfigFailure = (ErrorCode, String);

/// The dynamic configs of a resource, as a plain map.
fn dynamic(image: &MetadataImage, resource_type: i8, name: &str) -> BTreeMap<String, String> {
    image
        .configs
        .get(resource_type, name)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

/// Checks a resource exists and its name is well formed.
fn check_resource(
    image: &MetadataImage,
    resource_type: i8,
    name: &str,
) -> Result<(), ConfigFailure> {
    match resource_type {
        CONFIG_RESOURCE_TOPIC => {
            if image.topic_by_name(name).is_none() {
                return Err((
                    ErrorCode::UnknownTopicOrPartition,
                    format!("The topic '{name}' does not exist."),
                ));
            }
            Ok(())
        }
        CONFIG_RESOURCE_BROKER => {
            if name.is_empty() || name.parse::<i32>().is_ok_and(|id| id >= 0) {
                Ok(())
            } else {
                Err((
                    ErrorCode::InvalidRequest,
                    format!("Invalid broker name {name}"),
                ))
            }
        }
        other => Err((
            ErrorCode::InvalidRequest,
            format!("Unsupported resource type {other}"),
        )),
    }
}

/// One entry of a DescribeConfigs answer: (name, value, source, synonyms).
type Entry = (
    &'static ConfigDef,
    Option<String>,
    ConfigSource,
    Vec<(String, Option<String>, ConfigSource)>,
);

fn topic_entries(image: &MetadataImage, name: &str) -> Vec<Entry> {
    let own = dynamic(image, CONFIG_RESOURCE_TOPIC, name);
    let cluster = dynamic(image, CONFIG_RESOURCE_BROKER, "");
    TOPIC_CONFIGS
        .iter()
        .map(|def| {
            let mut synonyms = Vec::new();
            if let Some(v) = own.get(def.name) {
                synonyms.push((
                    def.name.to_string(),
                    Some(v.clone()),
                    ConfigSource::DynamicTopicConfig,
                ));
            }
            if let Some(server) = def.server_default {
                if let Some(v) = cluster.get(server) {
                    synonyms.push((
                        server.to_string(),
                        Some(v.clone()),
                        ConfigSource::DynamicDefaultBrokerConfig,
                    ));
                }
            }
            synonyms.push((
                def.server_default.unwrap_or(def.name).to_string(),
                def.default.map(str::to_string),
                ConfigSource::DefaultConfig,
            ));
            let (_, value, source) = synonyms[0].clone();
            (def, value, source, synonyms)
        })
        .collect()
}

fn broker_entries(image: &MetadataImage, name: &str) -> Vec<Entry> {
    let own = dynamic(image, CONFIG_RESOURCE_BROKER, name);
    let cluster = dynamic(image, CONFIG_RESOURCE_BROKER, "");
    BROKER_DYNAMIC_CONFIGS
        .iter()
        .filter_map(|def| {
            let mut synonyms = Vec::new();
            if !name.is_empty() {
                if let Some(v) = own.get(def.name) {
                    synonyms.push((
                        def.name.to_string(),
                        Some(v.clone()),
                        ConfigSource::DynamicBrokerConfig,
                    ));
                }
            }
            if let Some(v) = cluster.get(def.name) {
                synonyms.push((
                    def.name.to_string(),
                    Some(v.clone()),
                    ConfigSource::DynamicDefaultBrokerConfig,
                ));
            }
            if name.is_empty() && synonyms.is_empty() {
                // The default resource lists only the cluster-wide values that are set.
                return None;
            }
            synonyms.push((
                def.name.to_string(),
                def.default.map(str::to_string),
                ConfigSource::DefaultConfig,
            ));
            let (_, value, source) = synonyms[0].clone();
            Some((def, value, source, synonyms))
        })
        .collect()
}

fn describe_resource(
    image: &MetadataImage,
    r: &DescribeConfigsResource,
    include_synonyms: bool,
) -> DescribeConfigsResult {
    let name = r.resource_name.as_str();
    let mut result = DescribeConfigsResult::default()
        .with_resource_type(r.resource_type)
        .with_resource_name(r.resource_name.clone());
    if let Err((code, message)) = check_resource(image, r.resource_type, name) {
        result.error_code = code.code();
        result.error_message = wire_message(message);
        return result;
    }
    let entries = if r.resource_type == CONFIG_RESOURCE_TOPIC {
        topic_entries(image, name)
    } else {
        broker_entries(image, name)
    };
    let wanted: Option<HashSet<&str>> = r
        .configuration_keys
        .as_ref()
        .map(|keys| keys.iter().map(|k| k.as_str()).collect());
    result.configs = entries
        .into_iter()
        .filter(|(def, ..)| wanted.as_ref().is_none_or(|w| w.contains(def.name)))
        .map(|(def, value, source, synonyms)| {
            let sensitive = def.sensitive || def.config_type == ConfigType::Password;
            DescribeConfigsResourceResult::default()
                .with_name(wire_str(def.name))
                .with_value(if sensitive { None } else { value.map(wire_str) })
                .with_read_only(false)
                .with_config_source(source.code())
                .with_is_sensitive(sensitive)
                .with_config_type(def.config_type.code())
                .with_synonyms(if include_synonyms {
                    synonyms
                        .into_iter()
                        .map(|(n, v, s)| {
                            DescribeConfigsSynonym::default()
                                .with_name(wire_str(n))
                                .with_value(if sensitive { None } else { v.map(wire_str) })
                                .with_source(s.code())
                        })
                        .collect()
                } else {
                    Vec::new()
                })
        })
        .collect();
    result
}

/// DescribeConfigs for topics and brokers (the empty broker name is the cluster default).
pub fn describe_configs(
    image: &MetadataImage,
    request: &DescribeConfigsRequest,
) -> DescribeConfigsResponse {
    DescribeConfigsResponse::default().with_results(
        request
            .resources
            .iter()
            .map(|r| describe_resource(image, r, request.include_synonyms))
            .collect(),
    )
}

/// The definition of `key` for a resource type.
fn config_def(resource_type: i8, key: &str) -> Option<&'static ConfigDef> {
    if resource_type == CONFIG_RESOURCE_TOPIC {
        topic_config(key)
    } else {
        broker_dynamic_config(key)
    }
}

/// The resource's dynamic configs after the request's operations, or why not.
fn altered(
    image: &MetadataImage,
    r: &AlterConfigsResource,
) -> Result<BTreeMap<String, Option<String>>, ConfigFailure> {
    let name = r.resource_name.as_str();
    check_resource(image, r.resource_type, name)?;
    let current = dynamic(image, r.resource_type, name);
    let mut seen = HashSet::new();
    let mut changes: BTreeMap<String, Option<String>> = BTreeMap::new();
    for c in &r.configs {
        let key = c.name.as_str();
        if !seen.insert(key) {
            return Err((
                ErrorCode::InvalidRequest,
                format!("Error due to duplicate config keys: {key}"),
            ));
        }
        let def = config_def(r.resource_type, key);
        let new_value = match c.config_operation {
            OP_SET => Some(c.value.as_ref().map(|v| v.to_string()).ok_or((
                ErrorCode::InvalidRequest,
                format!("Null value not supported for {key}"),
            ))?),
            OP_DELETE => None,
            OP_APPEND | OP_SUBTRACT => {
                let def = def.ok_or_else(|| unknown_key(r.resource_type, key))?;
                if def.config_type != ConfigType::List {
                    return Err((
                        ErrorCode::InvalidConfig,
                        format!("Config value append is not allowed for config key: {key}"),
                    ));
                }
                let base = current
                    .get(key)
                    .cloned()
                    .or(def.default.map(str::to_string))
                    .unwrap_or_default();
                let mut items: Vec<String> = base
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect();
                let operand: Vec<String> = c
                    .value
                    .as_ref()
                    .map(|v| {
                        v.split(',')
                            .map(|s| s.trim().to_string())
                            .filter(|s| !s.is_empty())
                            .collect()
                    })
                    .unwrap_or_default();
                if c.config_operation == OP_APPEND {
                    for o in operand {
                        if !items.contains(&o) {
                            items.push(o);
                        }
                    }
                } else {
                    items.retain(|i| !operand.contains(i));
                }
                Some(items.join(","))
            }
            other => {
                return Err((
                    ErrorCode::InvalidRequest,
                    format!("Unknown config operation {other}"),
                ))
            }
        };
        if let Some(v) = &new_value {
            if r.resource_type == CONFIG_RESOURCE_BROKER {
                validate_broker_config(key, v).map_err(|e| (e.error_code(), e.to_string()))?;
            } else if def.is_none() {
                return Err(unknown_key(r.resource_type, key));
            }
        }
        changes.insert(key.to_string(), new_value);
    }
    if r.resource_type == CONFIG_RESOURCE_TOPIC {
        let mut result = current.clone();
        for (k, v) in &changes {
            match v {
                Some(v) => result.insert(k.clone(), v.clone()),
                None => result.remove(k),
            };
        }
        validate_topic_configs(result.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .map_err(|e| (e.error_code(), e.to_string()))?;
    }
    // Deleting a key that is not set writes nothing.
    changes.retain(|k, v| v.is_some() || current.contains_key(k));
    changes.retain(|k, v| current.get(k) != v.as_ref());
    Ok(changes)
}

fn unknown_key(resource_type: i8, key: &str) -> ConfigFailure {
    if resource_type == CONFIG_RESOURCE_TOPIC {
        (
            ErrorCode::InvalidConfig,
            format!("Unknown topic config name: {key}"),
        )
    } else {
        (
            ErrorCode::InvalidConfig,
            format!("Cannot update these configs dynamically: Set({key})"),
        )
    }
}

/// IncrementalAlterConfigs: each resource succeeds or fails on its own; with `validate_only`
/// nothing is written.
pub fn incremental_alter_configs(
    image: &MetadataImage,
    request: &IncrementalAlterConfigsRequest,
) -> ControlResult<IncrementalAlterConfigsResponse> {
    let mut counts: BTreeMap<(i8, &str), usize> = BTreeMap::new();
    for r in &request.resources {
        *counts
            .entry((r.resource_type, r.resource_name.as_str()))
            .or_default() += 1;
    }
    let mut records = Vec::new();
    let mut responses = Vec::with_capacity(request.resources.len());
    for r in &request.resources {
        let mut response = AlterConfigsResourceResponse::default()
            .with_resource_type(r.resource_type)
            .with_resource_name(r.resource_name.clone());
        let outcome = if counts[&(r.resource_type, r.resource_name.as_str())] > 1 {
            Err((
                ErrorCode::InvalidRequest,
                "Duplicate resource in request.".to_string(),
            ))
        } else {
            altered(image, r)
        };
        match outcome {
            Ok(changes) if !request.validate_only => {
                records.extend(changes.into_iter().map(|(name, value)| {
                    MetadataRecord::Config(ConfigRecord {
                        resource_type: r.resource_type,
                        resource_name: r.resource_name.to_string(),
                        name,
                        value,
                    })
                }));
            }
            Ok(_) => {}
            Err((code, message)) => {
                response.error_code = code.code();
                response.error_message = wire_message(message);
            }
        }
        responses.push(response);
    }
    ControlResult {
        records,
        response: IncrementalAlterConfigsResponse::default().with_responses(responses),
    }
}
