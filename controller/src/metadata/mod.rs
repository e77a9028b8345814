//! Metadata records in Kafka's encoding ([`record`], [`records`]), the immutable metadata image
//! and the delta that replays records into the next image, the loader that feeds committed
//! batches through it, ACL filters, and the `metadata.version` ladder.

pub(crate) mod codec;
pub mod record;
pub mod records;
pub mod version;

#[cfg(test)]
mod record_tests;
