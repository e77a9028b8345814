//! Metadata records in Kafka's encoding and the `metadata.version` ladder. Today: the record
//! frame and `FeatureLevelRecord` (what formatting bootstraps); the other record types, the image
//! and replay follow with the controller-nodes work.

pub mod record;
pub mod version;
