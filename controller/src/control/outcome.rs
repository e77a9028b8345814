//! What every write handler of the active controller returns: the records to commit and the
//! response to send once they are committed. Plus the small conversions the handlers share
//! between Kafka's wire types and the image's types.

use kafka_protocol::protocol::StrBytes;

use crate::control::partition_change::{PartitionChange, PartitionState};
use crate::metadata::partition::PartitionRegistration;
use crate::metadata::raw_node_ids;
use crate::metadata::record::{MetadataRecord, PartitionChangeRecord};
use crate::metadata::records::NO_LEADER_CHANGE;
use crate::raft::NodeId;

/// Records to append and the response to answer with once they are committed (at once, if
/// there are none).
#[derive(Debug, Clone, PartialEq)]
pub struct ControlResult<R> {
    /// The records, in order; they commit atomically (one batch).
    pub records: Vec<MetadataRecord>,
    /// The response.
    pub response: R,
}

impl<R> ControlResult<R> {
    /// A result without records.
    pub fn reply(response: R) -> Self {
        ControlResult {
            records: Vec::new(),
            response,
        }
    }
}

/// A wire string.
pub fn wire_str(s: impl Into<String>) -> StrBytes {
    StrBytes::from_string(s.into())
}

/// An optional wire message: `None` for an empty text.
pub fn wire_message(s: impl Into<String>) -> Option<StrBytes> {
    let s = s.into();
    (!s.is_empty()).then(|| StrBytes::from_string(s))
}

/// The part of a registration the election rules read.
pub fn partition_state(p: &PartitionRegistration) -> PartitionState {
    PartitionState {
        replicas: p.replicas.clone(),
        isr: p.isr.clone(),
        leader: p.leader,
        leader_epoch: p.leader_epoch,
        partition_epoch: p.partition_epoch,
        leader_recovery_state: p.leader_recovery_state.code(),
    }
}

/// The `PartitionChangeRecord` carrying `change`.
pub fn change_record(
    topic_id: uuid::Uuid,
    partition_id: i32,
    change: &PartitionChange,
) -> MetadataRecord {
    let mut r = PartitionChangeRecord::new(topic_id, partition_id);
    r.leader = change.leader.unwrap_or(NodeId(NO_LEADER_CHANGE)).into();
    r.isr = change.isr.as_deref().map(raw_node_ids);
    if let Some(state) = change.leader_recovery_state {
        r.leader_recovery_state = state;
    }
    MetadataRecord::PartitionChange(r)
}
