//! AlterPartition (KIP-497, KIP-841, KIP-903) on the active controller: a partition leader asks
//! to change its ISR; each partition is checked with [`super::partition_change::alter_partition`]
//! against the latest image and the sender's broker epoch, and accepted changes become
//! `PartitionChangeRecord`s. The response reports every partition's state after the change.

use crate::metadata::{BrokerEpoch, LeaderEpoch, PartitionEpoch};
use kafka_protocol::messages::alter_partition_request::AlterPartitionRequest;
use kafka_protocol::messages::alter_partition_response::{
    AlterPartitionResponse, PartitionData, TopicData,
};
use kafka_protocol::messages::BrokerId;

use super::brokers::unclean_allowed;
use super::errors::ErrorCode;
use super::outcome::{change_record, partition_state, ControlResult};
use super::partition_change::{
    alter_partition as alter_one, AlterPartitionData, BrokerStatus, IsrMember,
};
use super::topics::is_active;
use crate::metadata::image::MetadataImage;
use crate::raft::NodeId;

fn broker_status(image: &MetadataImage, id: i32) -> BrokerStatus {
    match image.broker(NodeId(id)) {
        None => BrokerStatus::NotRegistered,
        Some(b) if b.in_controlled_shutdown => BrokerStatus::ShuttingDown,
        Some(b) if b.fenced => BrokerStatus::Fenced,
        Some(b) => BrokerStatus::Active {
            broker_epoch: b.epoch,
        },
    }
}

/// AlterPartition from broker `request.broker_id` (partitions named by topic id, v2+).
pub fn alter_partition(
    image: &MetadataImage,
    request: &AlterPartitionRequest,
    version: i16,
) -> ControlResult<AlterPartitionResponse> {
    let sender = NodeId::from(request.broker_id);
    // KIP-903: the sender itself must be the registered incarnation.
    if !matches!(broker_status(image, sender.into()), BrokerStatus::Active { broker_epoch } if broker_epoch == BrokerEpoch(request.broker_epoch) || request.broker_epoch == -1)
    {
        let code = if image.broker(sender).is_some() {
            ErrorCode::StaleBrokerEpoch
        } else {
            ErrorCode::BrokerIdNotRegistered
        };
        return ControlResult::reply(
            AlterPartitionResponse::default().with_error_code(code.code()),
        );
    }
    let mut records = Vec::new();
    let mut topics = Vec::with_capacity(request.topics.len());
    for t in &request.topics {
        let topic = image.topic(&t.topic_id);
        let mut partitions = Vec::with_capacity(t.partitions.len());
        for p in &t.partitions {
            let mut out = PartitionData::default().with_partition_index(p.partition_index);
            let Some((topic, current)) =
                topic.and_then(|topic| Some((topic, topic.partition(p.partition_index)?)))
            else {
                out.error_code = if topic.is_none() {
                    ErrorCode::UnknownTopicId.code()
                } else {
                    ErrorCode::UnknownTopicOrPartition.code()
                };
                partitions.push(out);
                continue;
            };
            let new_isr: Vec<IsrMember> = if version >= 3 {
                p.new_isr_with_epochs
                    .iter()
                    .map(|m| IsrMember {
                        broker_id: NodeId(m.broker_id.0),
                        broker_epoch: BrokerEpoch(m.broker_epoch),
                    })
                    .collect()
            } else {
                p.new_isr
                    .iter()
                    .map(|b| IsrMember {
                        broker_id: NodeId::from(*b),
                        broker_epoch: BrokerEpoch::NONE,
                    })
                    .collect()
            };
            let data = AlterPartitionData {
                broker_id: sender,
                request_version: version,
                leader_epoch: LeaderEpoch(p.leader_epoch),
                partition_epoch: PartitionEpoch(p.partition_epoch),
                new_isr,
                leader_recovery_state: p.leader_recovery_state,
            };
            let state = partition_state(current);
            match alter_one(
                &state,
                &data,
                unclean_allowed(image, &topic.name),
                |b| broker_status(image, b.into()),
                |b| is_active(image, b.into()),
            ) {
                Ok(outcome) => {
                    if let Some(change) = &outcome.change {
                        records.push(change_record(topic.id, p.partition_index, change));
                    }
                    let next = outcome.partition;
                    out = out
                        .with_error_code(outcome.error.map_or(0, |e| e.code()))
                        .with_leader_id(next.leader.into())
                        .with_leader_epoch(next.leader_epoch.into())
                        .with_isr(next.isr.iter().map(|b| BrokerId((*b).into())).collect())
                        .with_leader_recovery_state(next.leader_recovery_state)
                        .with_partition_epoch(next.partition_epoch.into());
                }
                Err(e) => {
                    tracing::info!(
                        "rejected AlterPartition from broker {sender} for {}-{}: {e}",
                        topic.name,
                        p.partition_index
                    );
                    out.error_code = e.error_code(version).code();
                }
            }
            partitions.push(out);
        }
        topics.push(
            TopicData::default()
                .with_topic_id(t.topic_id)
                .with_partitions(partitions),
        );
    }
    ControlResult {
        records,
        response: AlterPartitionResponse::default().with_topics(topics),
    }
}
