//! Dynamic configs on the active controller: IncrementalAlterConfigs validates SET / DELETE /
//! APPEND / SUBTRACT against the catalogues of [`super::config_defs`] and writes
//! `ConfigRecord`s. Reading them (DescribeConfigs) is [`crate::apis::describe_configs`].

use std::collections::{BTreeMap, HashSet};

use imbl::OrdMap;

use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, IncrementalAlterConfigsRequest,
};
use kafka_protocol::messages::incremental_alter_configs_response::{
    AlterConfigsResourceResponse, IncrementalAlterConfigsResponse,
};

use super::config_defs::{
    broker_dynamic_config, topic_config, validate_broker_config, validate_topic_configs, ConfigDef,
    ConfigType,
};
use super::errors::ErrorCode;
use super::outcome::{wire_message, ControlResult};
use crate::metadata::configs::{CONFIG_RESOURCE_BROKER, CONFIG_RESOURCE_TOPIC};
use crate::metadata::image::MetadataImage;
use crate::metadata::record::{ConfigRecord, MetadataRecord};

/// IncrementalAlterConfigs operation codes.
const OP_SET: i8 = 0;
const OP_DELETE: i8 = 1;
const OP_APPEND: i8 = 2;
const OP_SUBTRACT: i8 = 3;

pub(crate) type ConfigFailure = (ErrorCode, String);

/// The dynamic configs of a resource: the image's own persistent map, so the copy is O(1).
pub(crate) fn dynamic(
    image: &MetadataImage,
    resource_type: i8,
    name: &str,
) -> OrdMap<String, String> {
    image
        .configs
        .get(resource_type, name)
        .cloned()
        .unwrap_or_default()
}

/// Checks a resource exists and its name is well formed.
pub(crate) fn check_resource(
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
    // A change to the value a key already has (deleting an unset key included) writes nothing.
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

#[cfg(test)]
mod tests {
    use kafka_protocol::messages::incremental_alter_configs_request::AlterableConfig;

    use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
    use kafka_protocol::messages::describe_configs_response::DescribeConfigsResourceResult;
    use kafka_protocol::messages::DescribeConfigsRequest;

    use super::*;
    use crate::apis::describe_configs::describe_configs;
    use crate::control::config_defs::ConfigSource;
    use crate::control::outcome::wire_str;
    use crate::metadata::delta::MetadataDelta;
    use crate::metadata::image::MetadataProvenance;
    use crate::metadata::record::TopicRecord;

    fn apply(image: &MetadataImage, records: &[MetadataRecord]) -> MetadataImage {
        let mut d = MetadataDelta::new(image);
        for r in records {
            d.replay(r).unwrap();
        }
        d.apply(MetadataProvenance::EMPTY)
    }

    fn with_topic() -> MetadataImage {
        apply(
            &MetadataImage::empty(),
            &[MetadataRecord::Topic(TopicRecord {
                name: "t".into(),
                topic_id: uuid::Uuid::from_u128(9),
            })],
        )
    }

    fn alter(
        resource_type: i8,
        name: &str,
        ops: &[(&str, i8, Option<&str>)],
    ) -> IncrementalAlterConfigsRequest {
        IncrementalAlterConfigsRequest::default().with_resources(vec![
            AlterConfigsResource::default()
                .with_resource_type(resource_type)
                .with_resource_name(wire_str(name))
                .with_configs(
                    ops.iter()
                        .map(|(k, op, v)| {
                            AlterableConfig::default()
                                .with_name(wire_str(*k))
                                .with_config_operation(*op)
                                .with_value(v.map(wire_str))
                        })
                        .collect(),
                ),
        ])
    }

    fn describe(
        image: &MetadataImage,
        resource_type: i8,
        name: &str,
        key: &str,
    ) -> DescribeConfigsResourceResult {
        let r = describe_configs(
            image,
            &DescribeConfigsRequest::default()
                .with_include_synonyms(true)
                .with_resources(vec![DescribeConfigsResource::default()
                    .with_resource_type(resource_type)
                    .with_resource_name(wire_str(name))
                    .with_configuration_keys(Some(vec![wire_str(key)]))]),
        );
        assert_eq!(r.results[0].error_code, 0, "{r:?}");
        for version in 1..=4 {
            let mut out = bytes::BytesMut::new();
            kafka_protocol::protocol::Encodable::encode(&r, &mut out, version)
                .unwrap_or_else(|e| panic!("DescribeConfigs v{version}: {e}"));
        }
        r.results[0].configs[0].clone()
    }

    #[test]
    fn set_append_subtract_and_delete_on_a_topic() {
        let image = with_topic();
        let r = incremental_alter_configs(
            &image,
            &alter(
                CONFIG_RESOURCE_TOPIC,
                "t",
                &[
                    ("retention.ms", OP_SET, Some("1000")),
                    ("cleanup.policy", OP_APPEND, Some("compact")),
                ],
            ),
        );
        assert_eq!(r.response.responses[0].error_code, 0, "{r:?}");
        let image = apply(&image, &r.records);
        let entry = describe(&image, CONFIG_RESOURCE_TOPIC, "t", "cleanup.policy");
        assert_eq!(entry.value.unwrap().as_str(), "delete,compact");
        assert_eq!(entry.config_source, ConfigSource::DynamicTopicConfig.code());
        let r = incremental_alter_configs(
            &image,
            &alter(
                CONFIG_RESOURCE_TOPIC,
                "t",
                &[
                    ("cleanup.policy", OP_SUBTRACT, Some("delete")),
                    ("retention.ms", OP_DELETE, None),
                ],
            ),
        );
        let image = apply(&image, &r.records);
        assert_eq!(
            describe(&image, CONFIG_RESOURCE_TOPIC, "t", "cleanup.policy")
                .value
                .unwrap()
                .as_str(),
            "compact"
        );
        let retention = describe(&image, CONFIG_RESOURCE_TOPIC, "t", "retention.ms");
        assert_eq!(retention.config_source, ConfigSource::DefaultConfig.code());
        // Deleting a key that is not set writes nothing.
        let r = incremental_alter_configs(
            &image,
            &alter(
                CONFIG_RESOURCE_TOPIC,
                "t",
                &[("retention.ms", OP_DELETE, None)],
            ),
        );
        assert_eq!(r.response.responses[0].error_code, 0);
        assert!(r.records.is_empty());
    }

    #[test]
    fn bad_changes_are_refused_with_kafkas_codes() {
        let image = with_topic();
        let code = |req: IncrementalAlterConfigsRequest| {
            incremental_alter_configs(&image, &req).response.responses[0].error_code
        };
        assert_eq!(
            code(alter(
                CONFIG_RESOURCE_TOPIC,
                "nope",
                &[("retention.ms", OP_SET, Some("1"))]
            )),
            ErrorCode::UnknownTopicOrPartition.code()
        );
        assert_eq!(
            code(alter(
                CONFIG_RESOURCE_TOPIC,
                "t",
                &[("no.such", OP_SET, Some("1"))]
            )),
            ErrorCode::InvalidConfig.code()
        );
        assert_eq!(
            code(alter(
                CONFIG_RESOURCE_TOPIC,
                "t",
                &[("retention.ms", OP_SET, Some("x"))]
            )),
            ErrorCode::InvalidConfig.code()
        );
        assert_eq!(
            code(alter(
                CONFIG_RESOURCE_TOPIC,
                "t",
                &[("retention.ms", OP_APPEND, Some("1"))]
            )),
            ErrorCode::InvalidConfig.code()
        );
        assert_eq!(
            code(alter(
                CONFIG_RESOURCE_TOPIC,
                "t",
                &[
                    ("retention.ms", OP_SET, Some("1")),
                    ("retention.ms", OP_SET, Some("2"))
                ]
            )),
            ErrorCode::InvalidRequest.code()
        );
        assert_eq!(
            code(alter(
                CONFIG_RESOURCE_BROKER,
                "x",
                &[("background.threads", OP_SET, Some("2"))]
            )),
            ErrorCode::InvalidRequest.code()
        );
        assert_eq!(
            code(alter(
                CONFIG_RESOURCE_BROKER,
                "1",
                &[("log.dirs", OP_SET, Some("/x"))]
            )),
            ErrorCode::InvalidConfig.code()
        );
        assert_eq!(code(alter(8, "1", &[])), ErrorCode::InvalidRequest.code());
    }

    #[test]
    fn broker_values_resolve_per_broker_then_cluster_default_then_built_in() {
        let image = MetadataImage::empty();
        let r = incremental_alter_configs(
            &image,
            &alter(
                CONFIG_RESOURCE_BROKER,
                "",
                &[("background.threads", OP_SET, Some("4"))],
            ),
        );
        let image = apply(&image, &r.records);
        let b1 = describe(&image, CONFIG_RESOURCE_BROKER, "1", "background.threads");
        assert_eq!(b1.value.unwrap().as_str(), "4");
        assert_eq!(
            b1.config_source,
            ConfigSource::DynamicDefaultBrokerConfig.code()
        );
        let r = incremental_alter_configs(
            &image,
            &alter(
                CONFIG_RESOURCE_BROKER,
                "1",
                &[("background.threads", OP_SET, Some("6"))],
            ),
        );
        let image = apply(&image, &r.records);
        let b1 = describe(&image, CONFIG_RESOURCE_BROKER, "1", "background.threads");
        assert_eq!(
            (b1.value.unwrap().as_str(), b1.config_source),
            ("6", ConfigSource::DynamicBrokerConfig.code())
        );
        assert_eq!(b1.synonyms.len(), 3, "own, cluster default, built-in");
        let b2 = describe(&image, CONFIG_RESOURCE_BROKER, "2", "background.threads");
        assert_eq!(b2.value.unwrap().as_str(), "4");
    }
}
