//! Configuration from outside the file: `METAQUORUM_*` environment variables, mapped to keys the
//! way Kafka's Docker image maps `KAFKA_*`, and `--override key=value` arguments.

use super::ConfigError;

/// Prefix of environment variables that carry configuration (`KAFKA_` in Kafka's Docker image).
pub const ENV_PREFIX: &str = "METAQUORUM_";

/// `METAQUORUM_*` variables that are not configuration keys: they are neither applied nor
/// reported as unknown. `METAQUORUM_LOG` is the log filter.
pub const NON_CONFIG_ENV_VARS: &[&str] = &["METAQUORUM_LOG"];

/// Maps an environment variable name to a property key the way Kafka's Docker image does, with
/// the prefix [`ENV_PREFIX`]: strip the prefix, lower-case, then `___` → `-`, `__` → `_`,
/// `_` → `.` (runs of underscores are read from the left). `METAQUORUM_NODE_ID` → `node.id`;
/// `METAQUORUM_ZOOKEEPER_FRONT_TICKTIME` → `zookeeper.front.tickTime` (the known key's case).
/// `None` for a name without the prefix, with nothing after it, or in [`NON_CONFIG_ENV_VARS`].
pub fn env_key_to_property(name: &str) -> Option<String> {
    if NON_CONFIG_ENV_VARS.contains(&name) {
        return None;
    }
    let rest = name.strip_prefix(ENV_PREFIX)?;
    if rest.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(rest.len());
    let mut chars = rest.chars().flat_map(char::to_lowercase).peekable();
    while let Some(c) = chars.next() {
        if c != '_' {
            out.push(c);
            continue;
        }
        let mut run = 1;
        while chars.next_if_eq(&'_').is_some() {
            run += 1;
        }
        while run >= 3 {
            out.push('-');
            run -= 3;
        }
        match run {
            2 => out.push('_'),
            1 => out.push('.'),
            _ => {}
        }
    }
    // Keys with capitals (ZooKeeper's `tickTime` under `zookeeper.front.`) are found by their
    // lower-case form, which is all an environment variable name can spell.
    let known = super::keys::KNOWN_KEYS
        .iter()
        .find(|k| k.name.to_ascii_lowercase() == out);
    Some(known.map_or(out, |k| k.name.to_string()))
}

/// Splits one `--override` argument `key=value` at the first `=`. The key is trimmed and must
/// not be empty; the value may be empty.
pub fn parse_override(s: &str) -> Result<(String, String), ConfigError> {
    match s.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_string(), value.to_string()))
        }
        _ => Err(ConfigError::MalformedOverride { arg: s.to_string() }),
    }
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn env_names_map_like_kafkas_docker_image() {
        let cases = [
            ("METAQUORUM_NODE_ID", Some("node.id")),
            (
                "METAQUORUM_CONTROLLER_QUORUM_VOTERS",
                Some("controller.quorum.voters"),
            ),
            ("METAQUORUM_A___B", Some("a-b")),
            ("METAQUORUM_A__B", Some("a_b")),
            ("METAQUORUM_A____B", Some("a-.b")),
            ("METAQUORUM_A_____B", Some("a-_b")),
            ("METAQUORUM_LOG", None),
            ("METAQUORUM_", None),
            ("KAFKA_NODE_ID", None),
            ("metaquorum_node_id", None),
        ];
        for (name, property) in cases {
            assert_eq!(env_key_to_property(name).as_deref(), property, "{name}");
        }
        for key in Config::known_keys() {
            let name = format!(
                "{ENV_PREFIX}{}",
                key.name
                    .replace('_', "__")
                    .replace('.', "_")
                    .replace('-', "___")
                    .to_uppercase()
            );
            assert_eq!(
                env_key_to_property(&name).as_deref(),
                Some(key.name),
                "{name}"
            );
        }
    }

    proptest! {
        #[test]
        fn parse_override_never_panics_and_splits_at_the_first_equals(s in ".*") {
            match parse_override(&s) {
                Ok((key, value)) => {
                    prop_assert!(!key.is_empty());
                    let (k, v) = s.split_once('=').unwrap();
                    prop_assert_eq!(key, k.trim());
                    prop_assert_eq!(value, v);
                }
                Err(_) => prop_assert!(s.split_once('=').is_none_or(|(k, _)| k.trim().is_empty())),
            }
        }

        #[test]
        fn env_mapping_never_panics(s in "METAQUORUM_[A-Za-z_]{0,20}|.*") {
            if let Some(p) = env_key_to_property(&s) {
                prop_assert!(s.starts_with(ENV_PREFIX));
                prop_assert!(!p.is_empty());
            }
        }
    }
}
