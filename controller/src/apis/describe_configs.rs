//! DescribeConfigs (API 32): topic and broker configs from a committed image (dynamic values,
//! cluster-wide broker defaults, built-in defaults, with their sources and synonyms). The
//! active controller answers it; a broker answers its clients from its own image.

use std::collections::HashSet;

use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::{
    ApiKey, DescribeConfigsRequest, DescribeConfigsResponse, RequestKind, ResponseKind,
};

use super::{kind_conversions, Handled, Handling, MetadataApi, OnBroker};
use crate::control::config_defs::{
    ConfigDef, ConfigSource, ConfigType, BROKER_DYNAMIC_CONFIGS, TOPIC_CONFIGS,
};
use crate::control::configs::{check_resource, dynamic};
use crate::control::errors::ErrorCode;
use crate::control::outcome::{wire_message, wire_str};
use crate::metadata::configs::{CONFIG_RESOURCE_BROKER, CONFIG_RESOURCE_TOPIC};
use crate::metadata::image::MetadataImage;

/// See the module documentation.
pub struct DescribeConfigs;

impl MetadataApi for DescribeConfigs {
    type Request = DescribeConfigsRequest;
    type Response = DescribeConfigsResponse;
    const KEY: ApiKey = ApiKey::DescribeConfigs;
    const NAME: &'static str = "DescribeConfigsRequest";
    const VERSIONS: (i16, i16) = (1, 4);
    const ON_BROKER: OnBroker = OnBroker::Local;
    kind_conversions!(DescribeConfigs);

    fn handle(r: &Self::Request, h: &mut Handling<'_>) -> Handled<Self::Response> {
        Handled::Read(describe_configs(h.committed, r))
    }

    fn error_response(r: &Self::Request, code: ErrorCode, message: &str) -> Self::Response {
        DescribeConfigsResponse::default().with_results(
            r.resources
                .iter()
                .map(|res| {
                    DescribeConfigsResult::default()
                        .with_resource_type(res.resource_type)
                        .with_resource_name(res.resource_name.clone())
                        .with_error_code(code.code())
                        .with_error_message(wire_message(message))
                })
                .collect(),
        )
    }

    fn fail(r: &mut Self::Response, code: ErrorCode, message: &str) {
        for t in &mut r.results {
            t.error_code = code.code();
            t.error_message = wire_message(message);
            t.configs.clear();
        }
    }

    fn error_codes(r: &Self::Response) -> Vec<(i16, Option<&str>)> {
        r.results
            .iter()
            .map(|t| (t.error_code, t.error_message.as_deref()))
            .collect()
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
