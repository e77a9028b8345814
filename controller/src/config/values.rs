//! Typed values of the structured keys (roles, voters, addresses, listeners, protocols) and their
//! parsers. A parser's error names the key, the whole value and the offending entry.

use crate::raft::NodeId;
use std::collections::BTreeMap;
use std::fmt;

use super::error::invalid;
use super::keys::{
    KeySpec, CONTROLLER_LISTENER_NAMES, LISTENER_SECURITY_PROTOCOL_MAP, PROCESS_ROLES,
    QUORUM_BOOTSTRAP_SERVERS, QUORUM_VOTERS,
};
use super::ConfigError;

/// The roles a node plays (`process.roles`). A parsed value has at least one role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcessRoles {
    /// The node runs the broker shim.
    pub broker: bool,
    /// The node is a controller (a voter or an observer of the metadata quorum).
    pub controller: bool,
}

impl ProcessRoles {
    /// Broker role only.
    pub fn is_broker_only(&self) -> bool {
        self.broker && !self.controller
    }

    /// Controller role only.
    pub fn is_controller_only(&self) -> bool {
        self.controller && !self.broker
    }

    /// Both roles in one process (combined mode).
    pub fn is_combined(&self) -> bool {
        self.broker && self.controller
    }
}

impl fmt::Display for ProcessRoles {
    /// As Kafka writes it: `broker`, `controller` or `broker,controller`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match (self.broker, self.controller) {
            (true, true) => "broker,controller",
            (true, false) => "broker",
            (false, true) => "controller",
            (false, false) => "",
        })
    }
}

/// Writes a host, bracketing an IPv6 address.
fn fmt_host(f: &mut fmt::Formatter<'_>, host: &str) -> fmt::Result {
    if host.contains(':') {
        write!(f, "[{host}]")
    } else {
        f.write_str(host)
    }
}

/// One static voter from `controller.quorum.voters`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuorumVoter {
    /// The voter's node id.
    pub id: NodeId,
    /// Host name or address, without brackets for IPv6.
    pub host: String,
    /// Port of the voter's controller listener.
    pub port: u16,
}

impl fmt::Display for QuorumVoter {
    /// `{id}@{host}:{port}`, with an IPv6 host in brackets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@", self.id)?;
        fmt_host(f, &self.host)?;
        write!(f, ":{}", self.port)
    }
}

/// A `host:port` address, e.g. one of `controller.quorum.bootstrap.servers`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPort {
    /// Host name or address, without brackets for IPv6.
    pub host: String,
    /// Port.
    pub port: u16,
}

impl fmt::Display for HostPort {
    /// `{host}:{port}`, with an IPv6 host in brackets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_host(f, &self.host)?;
        write!(f, ":{}", self.port)
    }
}

impl HostPort {
    /// Parses `host:port` or `[ipv6]:port` (a host is required).
    pub fn parse(s: &str) -> Result<HostPort, AddressError> {
        split_host_port(s, false).map(|(host, port)| HostPort { host, port })
    }
}

/// Security protocol of a listener (`listener.security.protocol.map` values).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SecurityProtocol {
    /// No encryption, no authentication.
    Plaintext,
    /// TLS.
    Ssl,
    /// SASL authentication without encryption.
    SaslPlaintext,
    /// SASL authentication over TLS.
    SaslSsl,
}

impl SecurityProtocol {
    /// Every protocol, in Kafka's order.
    pub const ALL: [SecurityProtocol; 4] = [
        SecurityProtocol::Plaintext,
        SecurityProtocol::Ssl,
        SecurityProtocol::SaslPlaintext,
        SecurityProtocol::SaslSsl,
    ];

    /// Kafka's name, e.g. `SASL_SSL`.
    pub fn name(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "PLAINTEXT",
            SecurityProtocol::Ssl => "SSL",
            SecurityProtocol::SaslPlaintext => "SASL_PLAINTEXT",
            SecurityProtocol::SaslSsl => "SASL_SSL",
        }
    }

    /// Parses Kafka's name, ignoring ASCII case.
    fn from_name(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for SecurityProtocol {
    /// Kafka's name, e.g. `SASL_SSL`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One entry of `listeners` or `advertised.listeners`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listener {
    /// Listener name, upper-case, e.g. `CONTROLLER`.
    pub name: String,
    /// Host; empty means all interfaces. IPv6 without brackets.
    pub host: String,
    /// Port; 0 asks the OS for a free port.
    pub port: u16,
    /// The name's protocol from `listener.security.protocol.map`.
    pub security_protocol: SecurityProtocol,
}

impl fmt::Display for Listener {
    /// `NAME://host:port`, with an IPv6 host in brackets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://", self.name)?;
        fmt_host(f, &self.host)?;
        write!(f, ":{}", self.port)
    }
}

/// Items of a comma-separated list, trimmed; empty items (e.g. a trailing comma) are skipped.
pub(super) fn list_items(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty())
}

pub(super) fn parse_process_roles(value: &str) -> Result<ProcessRoles, ConfigError> {
    let spec = &PROCESS_ROLES;
    let mut roles = ProcessRoles {
        broker: false,
        controller: false,
    };
    for item in list_items(value) {
        let seen = match item {
            "broker" => &mut roles.broker,
            "controller" => &mut roles.controller,
            other => {
                return Err(invalid(
                    spec,
                    value,
                    format!("unknown role '{other}'; only 'broker' and 'controller' are allowed"),
                ))
            }
        };
        if *seen {
            return Err(invalid(
                spec,
                value,
                format!("role '{item}' appears more than once"),
            ));
        }
        *seen = true;
    }
    if !roles.broker && !roles.controller {
        return Err(invalid(
            spec,
            value,
            "expected 'broker', 'controller' or 'broker,controller'",
        ));
    }
    Ok(roles)
}

/// A port: decimal digits only, 0..=65535.
fn parse_port(s: &str) -> Option<u16> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

/// Why a `host:port` address does not parse. Its text is the reason of a
/// [`ConfigError::InvalidValue`] or a command-line error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// `[` without its `]`.
    #[error("'{0}' has '[' without a closing ']'")]
    UnclosedBracket(String),
    /// Nothing of the form `:port` after `]`.
    #[error("'{0}' has no ':port' after ']'")]
    NoPortAfterBracket(String),
    /// A bracketed host that is not an IPv6 address.
    #[error("'[{host}]' in '{address}' is not an IPv6 address")]
    NotIpv6 {
        /// The bracketed host.
        host: String,
        /// The whole address.
        address: String,
    },
    /// No `:` at all.
    #[error("'{0}' is not of the form host:port")]
    NotHostPort(String),
    /// An unbracketed host with a `:` in it.
    #[error("host '{host}' in '{address}' must be in brackets if it is an IPv6 address, e.g. [::1]:9093")]
    UnbracketedIpv6 {
        /// The host.
        host: String,
        /// The whole address.
        address: String,
    },
    /// No host where one is required.
    #[error("'{0}' has an empty host")]
    EmptyHost(String),
    /// A host with characters no host name has.
    #[error("host '{host}' in '{address}' has characters not allowed in a host")]
    BadHostCharacters {
        /// The host.
        host: String,
        /// The whole address.
        address: String,
    },
    /// A port that is not a number in 0..=65535.
    #[error("port '{port}' in '{address}' is not a number in 0..=65535")]
    BadPort {
        /// The port text.
        port: String,
        /// The whole address.
        address: String,
    },
}

/// Splits `host:port` or `[ipv6]:port`; the host comes back without brackets. An IPv6 address
/// must be bracketed, so that a typo such as `host:1:2` is not read as an address.
fn split_host_port(s: &str, allow_empty_host: bool) -> Result<(String, u16), AddressError> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| AddressError::UnclosedBracket(s.into()))?;
        let port = after
            .strip_prefix(':')
            .ok_or_else(|| AddressError::NoPortAfterBracket(s.into()))?;
        let ipv6_chars = host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '.' | '%'));
        if !host.contains(':') || !ipv6_chars {
            return Err(AddressError::NotIpv6 {
                host: host.into(),
                address: s.into(),
            });
        }
        (host, port)
    } else {
        let (host, port) = s
            .rsplit_once(':')
            .ok_or_else(|| AddressError::NotHostPort(s.into()))?;
        if host.contains(':') {
            return Err(AddressError::UnbracketedIpv6 {
                host: host.into(),
                address: s.into(),
            });
        }
        if host.is_empty() && !allow_empty_host {
            return Err(AddressError::EmptyHost(s.into()));
        }
        if !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        {
            return Err(AddressError::BadHostCharacters {
                host: host.into(),
                address: s.into(),
            });
        }
        (host, port)
    };
    let port = parse_port(port).ok_or_else(|| AddressError::BadPort {
        port: port.into(),
        address: s.into(),
    })?;
    Ok((host.to_string(), port))
}

pub(super) fn parse_voters(value: &str) -> Result<Vec<QuorumVoter>, ConfigError> {
    let spec = &QUORUM_VOTERS;
    let mut voters: Vec<QuorumVoter> = Vec::new();
    for item in list_items(value) {
        let (id, address) = item.split_once('@').ok_or_else(|| {
            invalid(
                spec,
                value,
                format!("entry '{item}' is not of the form {{id}}@{{host}}:{{port}}"),
            )
        })?;
        let id = id.trim();
        let id = (!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
            .then(|| id.parse::<i32>().ok())
            .flatten()
            .ok_or_else(|| {
                invalid(
                    spec,
                    value,
                    format!("voter id '{id}' in '{item}' is not an integer >= 0"),
                )
            })?;
        let (host, port) = split_host_port(address.trim(), false)
            .map_err(|reason| invalid(spec, value, reason.to_string()))?;
        if voters.iter().any(|v| v.id == NodeId(id)) {
            return Err(invalid(
                spec,
                value,
                format!("voter id {id} appears more than once"),
            ));
        }
        voters.push(QuorumVoter {
            id: NodeId(id),
            host,
            port,
        });
    }
    Ok(voters)
}

pub(super) fn parse_bootstrap_servers(value: &str) -> Result<Vec<HostPort>, ConfigError> {
    list_items(value)
        .map(|item| {
            split_host_port(item, false)
                .map(|(host, port)| HostPort { host, port })
                .map_err(|reason| invalid(&QUORUM_BOOTSTRAP_SERVERS, value, reason.to_string()))
        })
        .collect()
}

/// A listener name, upper-cased (Kafka's `ListenerName.normalised`). Limited to letters, digits,
/// `_`, `-` and `.` so that it cannot clash with the `:` and `,` of the list syntaxes.
fn parse_listener_name(s: &str) -> Option<String> {
    let s = s.trim();
    let ok = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    ok.then(|| s.to_ascii_uppercase())
}

const LISTENER_NAME_RULE: &str =
    "is empty or has characters other than letters, digits, '_', '-' and '.'";

/// A parsed listener before its protocol is known.
pub(super) struct Endpoint {
    pub(super) name: String,
    host: String,
    port: u16,
}

pub(super) fn parse_endpoints(spec: &KeySpec, value: &str) -> Result<Vec<Endpoint>, ConfigError> {
    let mut endpoints: Vec<Endpoint> = Vec::new();
    for item in list_items(value) {
        let (name, address) = item.split_once("://").ok_or_else(|| {
            invalid(
                spec,
                value,
                format!("entry '{item}' is not of the form NAME://host:port"),
            )
        })?;
        let name = parse_listener_name(name).ok_or_else(|| {
            invalid(
                spec,
                value,
                format!("listener name '{name}' {LISTENER_NAME_RULE}"),
            )
        })?;
        let (host, port) = split_host_port(address, true)
            .map_err(|reason| invalid(spec, value, reason.to_string()))?;
        if endpoints.iter().any(|e| e.name == name) {
            return Err(invalid(
                spec,
                value,
                format!("listener name '{name}' appears more than once; names must be unique"),
            ));
        }
        endpoints.push(Endpoint { name, host, port });
    }
    Ok(endpoints)
}

pub(super) fn parse_controller_listener_names(value: &str) -> Result<Vec<String>, ConfigError> {
    let spec = &CONTROLLER_LISTENER_NAMES;
    let mut names: Vec<String> = Vec::new();
    for item in list_items(value) {
        let name = parse_listener_name(item).ok_or_else(|| {
            invalid(
                spec,
                value,
                format!("listener name '{item}' {LISTENER_NAME_RULE}"),
            )
        })?;
        if names.contains(&name) {
            return Err(invalid(
                spec,
                value,
                format!("listener name '{name}' appears more than once"),
            ));
        }
        names.push(name);
    }
    if names.is_empty() {
        return Err(invalid(spec, value, "expected at least one listener name"));
    }
    Ok(names)
}

pub(super) fn parse_protocol_map(
    value: &str,
) -> Result<BTreeMap<String, SecurityProtocol>, ConfigError> {
    let spec = &LISTENER_SECURITY_PROTOCOL_MAP;
    let mut map = BTreeMap::new();
    for item in list_items(value) {
        let (name, protocol) = item.split_once(':').ok_or_else(|| {
            invalid(
                spec,
                value,
                format!("entry '{item}' is not of the form LISTENER_NAME:PROTOCOL"),
            )
        })?;
        let name = parse_listener_name(name).ok_or_else(|| {
            invalid(
                spec,
                value,
                format!("listener name '{name}' {LISTENER_NAME_RULE}"),
            )
        })?;
        let protocol = SecurityProtocol::from_name(protocol.trim()).ok_or_else(|| {
            invalid(
                spec,
                value,
                format!(
                    "unknown security protocol '{}' for listener {name}; expected one of \
                     PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL",
                    protocol.trim()
                ),
            )
        })?;
        if map.insert(name.clone(), protocol).is_some() {
            return Err(invalid(
                spec,
                value,
                format!("listener name '{name}' appears more than once"),
            ));
        }
    }
    Ok(map)
}

pub(super) fn resolve_listeners(
    spec: &KeySpec,
    endpoints: Vec<Endpoint>,
    map: &BTreeMap<String, SecurityProtocol>,
) -> Result<Vec<Listener>, ConfigError> {
    endpoints
        .into_iter()
        .map(|e| match map.get(&e.name) {
            Some(&security_protocol) => Ok(Listener {
                name: e.name,
                host: e.host,
                port: e.port,
                security_protocol,
            }),
            None => Err(ConfigError::UnmappedListener {
                listener: e.name,
                key: spec.name,
            }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::keys::LISTENERS;
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn voters_parse_hosts_ipv6_and_reject_bad_entries() {
        let voters =
            parse_voters("1@localhost:9093, 2@[::1]:9094,3@10.0.0.3:9095,4@[fe80::1%eth0]:1,")
                .unwrap();
        let shown: Vec<String> = voters.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "1@localhost:9093",
                "2@[::1]:9094",
                "3@10.0.0.3:9095",
                "4@[fe80::1%eth0]:1"
            ]
        );
        assert_eq!(voters[1].host, "::1");
        assert_eq!(parse_voters("").unwrap(), vec![]);
        let cases = [
            ("1@localhost", "not of the form host:port"),
            ("1localhost:9093", "not of the form {id}@{host}:{port}"),
            ("x@h:1", "voter id 'x'"),
            ("-1@h:1", "voter id '-1'"),
            ("+1@h:1", "voter id '+1'"),
            ("1@h:70000", "port '70000'"),
            ("1@h:", "port ''"),
            ("1@::1:9093", "must be in brackets"),
            ("1@[::1:9093", "without a closing ']'"),
            ("1@[::1]9093", "no ':port' after ']'"),
            ("1@[]:9093", "is not an IPv6 address"),
            ("1@:9093", "empty host"),
            ("1@ho st:9093", "characters not allowed"),
            ("1@h:1,1@g:2", "voter id 1 appears more than once"),
        ];
        for (value, reason) in cases {
            let message = parse_voters(value).unwrap_err().to_string();
            assert!(
                message.contains("controller.quorum.voters"),
                "{value}: {message}"
            );
            assert!(
                message.contains(&format!("'{value}'")),
                "{value}: {message}"
            );
            assert!(message.contains(reason), "{value}: {message}");
        }
    }

    fn voter_strategy() -> impl Strategy<Value = QuorumVoter> {
        let host = prop_oneof![
            "[a-z][a-z0-9.-]{0,20}",
            Just("::1".to_string()),
            "[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}",
        ];
        (0..=i32::MAX, host, any::<u16>()).prop_map(|(id, host, port)| QuorumVoter {
            id: NodeId(id),
            host,
            port,
        })
    }

    proptest! {
        #[test]
        fn voter_parsing_never_panics(s in ".*") {
            if let Ok(voters) = parse_voters(&s) {
                let mut ids: Vec<NodeId> = voters.iter().map(|v| v.id).collect();
                ids.sort_unstable();
                ids.dedup();
                prop_assert_eq!(ids.len(), voters.len());
            }
        }

        #[test]
        fn voter_parsing_near_valid_input_never_panics(s in "[0-9@:\\[\\], a-z%.-]{0,40}") {
            let _ = parse_voters(&s);
            let _ = parse_endpoints(&LISTENERS, &s);
            let _ = parse_bootstrap_servers(&s);
        }

        #[test]
        fn voters_round_trip_through_display(voters in proptest::collection::vec(voter_strategy(), 0..5)) {
            let mut unique: Vec<QuorumVoter> = Vec::new();
            for v in voters {
                if !unique.iter().any(|u| u.id == v.id) {
                    unique.push(v);
                }
            }
            let text: Vec<String> = unique.iter().map(ToString::to_string).collect();
            prop_assert_eq!(parse_voters(&text.join(",")).unwrap(), unique);
        }
    }
}
