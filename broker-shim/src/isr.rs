//! ISR expansion for a broker without a data plane.
//!
//! In Kafka a partition leader adds a follower back to the ISR (AlterPartition, KIP-497) once
//! the follower's fetches have caught up with the leader's log. A broker shim running alone
//! (`process.roles=broker`, no host broker) holds no partition data, so every replica that is
//! registered, unfenced and not shutting down is trivially caught up: [`IsrExpander`] asks the
//! controller to take such replicas back into the ISR of every partition this broker leads.
//! That is what lets a restarted broker rejoin the ISRs and then win preferred-leader
//! elections. A host broker with real replication disables it and sends AlterPartition
//! itself, from its own replica offsets.

use metaquorum_log::NodeId;
use std::collections::BTreeMap;
use std::time::Duration;

use kafka_protocol::messages::alter_partition_request::{
    BrokerState as IsrBroker, PartitionData, TopicData,
};
use kafka_protocol::messages::{AlterPartitionRequest, ApiKey, BrokerId, RequestKind};
use metaquorum_controller::metadata::image::MetadataImage;
use tokio::sync::watch;

use crate::channel::ControllerChannel;

/// AlterPartition version sent (v3: ISR members with their broker epochs, KIP-903).
const ALTER_PARTITION_VERSION: i16 = 3;
/// Partitions per AlterPartition request at most.
const PARTITIONS_PER_REQUEST_MAX: usize = 1_000;
/// Wait for the controller's answer at most.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause between rounds, so a refused change is not retried in a tight loop.
const ROUND_PAUSE: Duration = Duration::from_millis(100);

/// See the module documentation.
pub struct IsrExpander {
    broker_id: i32,
    channel: ControllerChannel,
    image: watch::Receiver<MetadataImage>,
}

impl IsrExpander {
    /// An expander for broker `broker_id`.
    pub fn new(
        broker_id: i32,
        channel: ControllerChannel,
        image: watch::Receiver<MetadataImage>,
    ) -> Self {
        IsrExpander {
            broker_id,
            channel,
            image,
        }
    }

    /// The AlterPartition request adding every serving replica to the ISR of the partitions
    /// this broker leads, or `None` when no ISR needs to grow.
    pub fn request_for(image: &MetadataImage, me: NodeId) -> Option<AlterPartitionRequest> {
        let my_epoch = image.broker(me).filter(|b| !b.fenced)?.epoch;
        let serving = |id: NodeId| {
            image
                .broker(id)
                .filter(|b| !b.fenced && !b.in_controlled_shutdown)
                .map(|b| b.epoch)
        };
        let mut topics: BTreeMap<uuid::Uuid, Vec<PartitionData>> = BTreeMap::new();
        let mut count = 0;
        'topics: for topic in image.topics.by_id.values() {
            for (index, p) in topic.partitions.iter() {
                if p.leader != me {
                    continue;
                }
                let missing = p
                    .replicas
                    .iter()
                    .any(|r| !p.isr.contains(r) && serving(*r).is_some());
                if !missing {
                    continue;
                }
                let new_isr = p
                    .replicas
                    .iter()
                    .filter(|r| p.isr.contains(r) || serving(**r).is_some())
                    .filter_map(|r| {
                        serving(*r).or((*r == me).then_some(my_epoch)).map(|e| {
                            IsrBroker::default()
                                .with_broker_id(BrokerId((*r).into()))
                                .with_broker_epoch(e.into())
                        })
                    })
                    .collect();
                topics.entry(topic.id).or_default().push(
                    PartitionData::default()
                        .with_partition_index(*index)
                        .with_leader_epoch(p.leader_epoch.into())
                        .with_partition_epoch(p.partition_epoch.into())
                        .with_new_isr_with_epochs(new_isr),
                );
                count += 1;
                if count >= PARTITIONS_PER_REQUEST_MAX {
                    break 'topics;
                }
            }
        }
        if topics.is_empty() {
            return None;
        }
        Some(
            AlterPartitionRequest::default()
                .with_broker_id(me.into())
                .with_broker_epoch(my_epoch.into())
                .with_topics(
                    topics
                        .into_iter()
                        .map(|(id, partitions)| {
                            TopicData::default()
                                .with_topic_id(id)
                                .with_partitions(partitions)
                        })
                        .collect(),
                ),
        )
    }

    /// Runs until the image's sender is gone.
    pub async fn run(mut self) {
        loop {
            let image = self.image.borrow_and_update().clone();
            if let Some(request) = Self::request_for(&image, NodeId(self.broker_id)) {
                let request = RequestKind::AlterPartition(request);
                if let Err(e) = self
                    .channel
                    .call(
                        ApiKey::AlterPartition,
                        ALTER_PARTITION_VERSION,
                        &request,
                        REQUEST_TIMEOUT,
                    )
                    .await
                {
                    tracing::debug!("broker {}: AlterPartition: {e}", self.broker_id);
                }
                tokio::time::sleep(ROUND_PAUSE).await;
            }
            if self.image.changed().await.is_err() {
                return;
            }
        }
    }
}
