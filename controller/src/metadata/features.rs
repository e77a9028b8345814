//! [`FeaturesImage`]: finalized feature levels (`metadata.version`, `kraft.version`, ...).

use imbl::OrdMap;

use super::record::FeatureLevelRecord;

/// The feature name of `metadata.version`.
pub const METADATA_VERSION_FEATURE: &str = "metadata.version";

/// Finalized feature levels by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeaturesImage {
    /// Feature name → finalized level. A level of 0 is never stored for features other than
    /// `metadata.version` (a `FeatureLevelRecord` with level 0 removes the feature).
    pub levels: OrdMap<String, i16>,
}

impl FeaturesImage {
    /// The finalized `metadata.version` level, if one was set.
    pub fn metadata_version(&self) -> Option<i16> {
        self.levels.get(METADATA_VERSION_FEATURE).copied()
    }

    /// A feature's level, if finalized.
    pub fn level(&self, name: &str) -> Option<i16> {
        self.levels.get(name).copied()
    }

    /// Applies a `FeatureLevelRecord` as Kafka's `FeaturesDelta` does.
    pub(crate) fn replay(&mut self, r: &FeatureLevelRecord) {
        if r.feature_level == 0 && r.name != METADATA_VERSION_FEATURE {
            self.levels.remove(&r.name);
        } else {
            self.levels.insert(r.name.clone(), r.feature_level);
        }
    }

    /// The records that recreate this image, `metadata.version` first as Kafka writes it.
    pub fn to_records(&self) -> Vec<FeatureLevelRecord> {
        let mut out = Vec::with_capacity(self.levels.len());
        if let Some(level) = self.metadata_version() {
            out.push(FeatureLevelRecord {
                name: METADATA_VERSION_FEATURE.into(),
                feature_level: level,
            });
        }
        out.extend(
            self.levels
                .iter()
                .filter(|(name, _)| name.as_str() != METADATA_VERSION_FEATURE)
                .map(|(name, level)| FeatureLevelRecord {
                    name: name.clone(),
                    feature_level: *level,
                }),
        );
        out
    }
}
