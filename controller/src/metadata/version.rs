//! `metadata.version`: Kafka's ladder of feature levels (`MetadataVersion`), by name and level.

/// (level, name) for every metadata.version a KRaft cluster can run, oldest first.
pub const METADATA_VERSIONS: &[(i16, &str)] = &[
    (1, "3.0-IV1"),
    (2, "3.1-IV0"),
    (3, "3.2-IV0"),
    (4, "3.3-IV0"),
    (5, "3.3-IV1"),
    (6, "3.3-IV2"),
    (7, "3.3-IV3"),
    (8, "3.4-IV0"),
    (9, "3.5-IV0"),
    (10, "3.5-IV1"),
    (11, "3.5-IV2"),
    (12, "3.6-IV0"),
    (13, "3.6-IV1"),
    (14, "3.6-IV2"),
    (15, "3.7-IV0"),
    (16, "3.7-IV1"),
    (17, "3.7-IV2"),
    (18, "3.7-IV3"),
    (19, "3.7-IV4"),
    (20, "3.8-IV0"),
    (21, "3.9-IV0"),
];

/// The version `storage format` bootstraps by default (Kafka's `LATEST_PRODUCTION`, 3.9-IV0).
pub const LATEST_PRODUCTION: (i16, &str) = (21, "3.9-IV0");
/// The oldest version a cluster may be bootstrapped at (`MINIMUM_BOOTSTRAP_VERSION`, 3.3-IV0).
pub const MINIMUM_BOOTSTRAP_LEVEL: i16 = 4;

/// Why a `--release-version` or `metadata.version` name is refused; the texts are Kafka's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataVersionError {
    /// A version older than the oldest a cluster may be bootstrapped at.
    #[error("metadata.version {0} is below the minimum bootstrap version 3.3-IV0")]
    BelowMinimum(&'static str),
    /// A name no version has.
    #[error("Unknown metadata.version '{0}'. Supported metadata.version are 3.3-IV0 to {latest}", latest = LATEST_PRODUCTION.1)]
    Unknown(String),
}

/// Resolves a release (`3.9`) or a full name (`3.9-IV0`) to (level, name): a release means its
/// latest IV, as `kafka-storage format --release-version` does.
pub fn parse_metadata_version(s: &str) -> Result<(i16, &'static str), MetadataVersionError> {
    let s = s.trim();
    let found = METADATA_VERSIONS
        .iter()
        .rev()
        .find(|(_, name)| *name == s || name.split('-').next() == Some(s))
        .copied();
    match found {
        Some((level, name)) if level >= MINIMUM_BOOTSTRAP_LEVEL => Ok((level, name)),
        Some((_, name)) => Err(MetadataVersionError::BelowMinimum(name)),
        None => Err(MetadataVersionError::Unknown(s.into())),
    }
}

/// The name of a level, if known.
pub fn metadata_version_name(level: i16) -> Option<&'static str> {
    METADATA_VERSIONS
        .iter()
        .find(|(l, _)| *l == level)
        .map(|(_, n)| *n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_resolve_to_their_latest_iv() {
        assert_eq!(parse_metadata_version("3.9").unwrap(), (21, "3.9-IV0"));
        assert_eq!(parse_metadata_version("3.7").unwrap(), (19, "3.7-IV4"));
        assert_eq!(parse_metadata_version("3.3-IV1").unwrap(), (5, "3.3-IV1"));
        assert_eq!(
            parse_metadata_version("3.1"),
            Err(MetadataVersionError::BelowMinimum("3.1-IV0"))
        );
        assert_eq!(
            parse_metadata_version("9.9"),
            Err(MetadataVersionError::Unknown("9.9".into()))
        );
        assert_eq!(metadata_version_name(21), Some("3.9-IV0"));
    }
}
