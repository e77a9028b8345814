//! [`FeaturesImage`]: finalized feature levels (`metadata.version`, `kraft.version`, ...) and,
//! as in Kafka, the ZooKeeper migration state.

use imbl::OrdMap;

use super::record::{FeatureLevelRecord, MetadataRecord, ZkMigrationStateRecord};

/// The first metadata.version level (3.4-IV0) whose snapshots carry the ZK migration state.
const MIGRATION_SUPPORTED_LEVEL: i16 = 8;

/// The feature name of `metadata.version`.
pub const METADATA_VERSION_FEATURE: &str = "metadata.version";

/// Finalized feature levels by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeaturesImage {
    /// Feature name → finalized level. A level of 0 is never stored for features other than
    /// `metadata.version` (a `FeatureLevelRecord` with level 0 removes the feature).
    pub levels: OrdMap<String, i16>,
    /// `ZkMigrationState` code (0 NONE, 1 MIGRATION, 2 PRE_MIGRATION, 3 POST_MIGRATION, 4 ZK).
    pub zk_migration_state: i8,
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

    /// The records that recreate this image: feature levels (`metadata.version` first) and
    /// then, from 3.4-IV0 on or when it is not NONE, the ZK migration state, as Kafka writes
    /// them.
    pub fn to_records(&self) -> Vec<MetadataRecord> {
        let mut out: Vec<MetadataRecord> = self
            .feature_level_records()
            .into_iter()
            .map(MetadataRecord::FeatureLevel)
            .collect();
        if self.zk_migration_state != 0
            || self.metadata_version() >= Some(MIGRATION_SUPPORTED_LEVEL)
        {
            out.push(MetadataRecord::ZkMigrationState(ZkMigrationStateRecord {
                zk_migration_state: self.zk_migration_state,
            }));
        }
        out
    }

    /// The feature level records, `metadata.version` first.
    pub fn feature_level_records(&self) -> Vec<FeatureLevelRecord> {
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
