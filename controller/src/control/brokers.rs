//! Broker registration, heartbeats, fencing and controlled shutdown on the active controller
//! (KIP-631, KIP-841): BrokerRegistration writes a fenced `RegisterBrokerRecord` whose offset is
//! the broker epoch; BrokerHeartbeat unfences a broker once it has caught up to that offset,
//! fences it on request, and walks it through controlled shutdown; a broker silent for
//! `broker.session.timeout.ms` is fenced. Every fencing moves leaderships and ISR membership
//! away from the broker. Heartbeat contact times are soft state of the active controller only,
//! seeded for every registered broker on activation (KAFKA-18138).

use crate::metadata::BrokerEpoch;
use crate::raft::{Millis, NodeId, Offset};
use std::collections::HashMap;

use kafka_protocol::messages::broker_heartbeat_request::BrokerHeartbeatRequest;
use kafka_protocol::messages::broker_heartbeat_response::BrokerHeartbeatResponse;
use kafka_protocol::messages::broker_registration_request::BrokerRegistrationRequest;
use kafka_protocol::messages::broker_registration_response::BrokerRegistrationResponse;
use kafka_protocol::messages::unregister_broker_request::UnregisterBrokerRequest;
use kafka_protocol::messages::unregister_broker_response::UnregisterBrokerResponse;

use super::errors::ErrorCode;
use super::outcome::{change_record, partition_state, wire_message, ControlResult};
use super::partition_change::{
    elect_preferred, on_broker_removed, on_broker_unfenced, PartitionChange, PartitionState,
};
use super::topics::is_active;
use crate::metadata::configs::{CONFIG_RESOURCE_BROKER, CONFIG_RESOURCE_TOPIC};
use crate::metadata::image::MetadataImage;
use crate::metadata::record::{
    BrokerRegistrationChangeRecord, Endpoint, FeatureRange, MetadataRecord, RegisterBrokerRecord,
    UnregisterBrokerRecord,
};

/// `BrokerRegistrationChangeRecord.fenced` values.
const FENCE: i8 = 1;
const UNFENCE: i8 = -1;
/// `BrokerRegistrationChangeRecord.in_controlled_shutdown`: entering.
const ENTER_CONTROLLED_SHUTDOWN: i8 = 1;

/// The effective `unclean.leader.election.enable` of a topic: the topic's own value, else the
/// cluster-wide dynamic default, else false.
pub fn unclean_allowed(image: &MetadataImage, topic: &str) -> bool {
    let key = "unclean.leader.election.enable";
    image
        .configs
        .get(CONFIG_RESOURCE_TOPIC, topic)
        .and_then(|c| c.get(key))
        .or_else(|| {
            image
                .configs
                .get(CONFIG_RESOURCE_BROKER, "")
                .and_then(|c| c.get(key))
        })
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// The change records `rule` computes for every partition with `broker` among its replicas.
fn changes_for_replicas_of(
    image: &MetadataImage,
    broker: NodeId,
    rule: impl Fn(&PartitionState, bool) -> Option<PartitionChange>,
) -> Vec<MetadataRecord> {
    let mut out = Vec::new();
    for topic in image.topics.by_id.values() {
        let unclean = unclean_allowed(image, &topic.name);
        for (id, p) in topic.partitions.iter() {
            if p.replicas.contains(&broker) {
                if let Some(change) = rule(&partition_state(p), unclean) {
                    out.push(change_record(topic.id, *id, &change));
                }
            }
        }
    }
    out
}

/// Partition changes that take `broker` out of every ISR and leadership.
pub fn remove_from_partitions(image: &MetadataImage, broker: NodeId) -> Vec<MetadataRecord> {
    changes_for_replicas_of(image, broker, |state, unclean| {
        on_broker_removed(state, broker, unclean, |r| is_active(image, r.into()))
    })
}

/// Leader elections for leaderless partitions `broker` can lead once unfenced.
fn elect_with(image: &MetadataImage, broker: NodeId) -> Vec<MetadataRecord> {
    changes_for_replicas_of(image, broker, |state, unclean| {
        on_broker_unfenced(state, broker, unclean, |r| is_active(image, r.into()))
    })
}

/// Auto leader balancing (`auto.leader.rebalance.enable`): moves leadership back to the
/// preferred (first) replica of up to `max` partitions where that replica is in the ISR and
/// serving.
pub fn balance_leaders(image: &MetadataImage, max: usize) -> Vec<MetadataRecord> {
    let mut out = Vec::new();
    for topic in image.topics.by_id.values() {
        for (id, p) in topic.partitions.iter() {
            if out.len() >= max {
                return out;
            }
            let preferred = p.replicas.first().copied();
            if preferred.is_none() || preferred == Some(p.leader) {
                continue;
            }
            if let Ok(change) = elect_preferred(&partition_state(p), |r| is_active(image, r.into()))
            {
                out.push(change_record(topic.id, *id, &change));
            }
        }
    }
    out
}

/// Whether `broker` leads any partition.
fn leads_any(image: &MetadataImage, broker: NodeId) -> bool {
    image
        .topics
        .by_id
        .values()
        .any(|t| t.partitions.values().any(|p| p.leader == broker))
}

/// The soft state of broker heartbeats on the active controller.
#[derive(Debug, Default)]
pub struct BrokerLifecycle {
    /// Last heartbeat (or registration) per broker, in node milliseconds.
    last_contact_ms: HashMap<NodeId, Millis>,
    /// Offset after which a broker in controlled shutdown may stop (the offset of the records
    /// that moved its leaderships away).
    shutdown_offset: HashMap<NodeId, Offset>,
    /// Brokers fenced because their session expired, since start (a metric).
    pub timed_out_heartbeats: u64,
}

impl BrokerLifecycle {
    /// Starts tracking every registered broker as if it had just heartbeated (on activation).
    pub fn activate(&mut self, image: &MetadataImage, now_ms: Millis) {
        self.last_contact_ms.clear();
        self.shutdown_offset.clear();
        for id in image.cluster.brokers.keys() {
            self.last_contact_ms.insert(*id, now_ms);
        }
    }

    /// Forgets all soft state (on deactivation).
    pub fn deactivate(&mut self) {
        self.last_contact_ms.clear();
        self.shutdown_offset.clear();
    }

    fn session_alive(&self, broker: NodeId, now_ms: Millis, session_timeout_ms: u64) -> bool {
        self.last_contact_ms
            .get(&broker)
            .is_some_and(|t| now_ms.saturating_sub(*t) <= session_timeout_ms)
    }

    /// BrokerRegistration. `next_offset` is the offset the first returned record will get.
    pub fn register(
        &mut self,
        image: &MetadataImage,
        cluster_id: &str,
        request: &BrokerRegistrationRequest,
        next_offset: Offset,
        now_ms: Millis,
        session_timeout_ms: u64,
    ) -> ControlResult<BrokerRegistrationResponse> {
        let id = NodeId::from(request.broker_id);
        let fail = |code: ErrorCode| {
            ControlResult::reply(
                BrokerRegistrationResponse::default()
                    .with_error_code(code.code())
                    .with_broker_epoch(-1),
            )
        };
        if request.cluster_id.as_str() != cluster_id {
            tracing::warn!(
                "broker {id} tried to register with cluster id {}; this is {cluster_id}",
                request.cluster_id.as_str()
            );
            return fail(ErrorCode::InconsistentClusterId);
        }
        if id < NodeId(0) {
            return fail(ErrorCode::InvalidRequest);
        }
        let existing = image.broker(id);
        if let Some(b) = existing {
            if b.incarnation_id == request.incarnation_id {
                // A retried registration of the same process: same epoch, nothing written.
                self.last_contact_ms.insert(id, now_ms);
                return ControlResult::reply(
                    BrokerRegistrationResponse::default().with_broker_epoch(b.epoch.into()),
                );
            }
            if !b.fenced && self.session_alive(id, now_ms, session_timeout_ms) {
                tracing::warn!(
                    "broker {id} (incarnation {}) tried to register while incarnation {} is alive",
                    request.incarnation_id,
                    b.incarnation_id
                );
                return fail(ErrorCode::DuplicateBrokerRegistration);
            }
        }
        if let Some(level) = image.metadata_version() {
            let supported = request
                .features
                .iter()
                .find(|f| f.name.as_str() == "metadata.version")
                .is_some_and(|f| {
                    f.min_supported_version <= level && level <= f.max_supported_version
                });
            if !supported {
                tracing::warn!(
                    "broker {id} does not support metadata.version level {level}; refusing it"
                );
                return fail(ErrorCode::UnsupportedVersion);
            }
        }
        let mut records = Vec::new();
        if existing.is_some_and(|b| !b.fenced && !b.in_controlled_shutdown) {
            records.extend(remove_from_partitions(image, id));
        }
        // KIP-631: the broker epoch is the offset of the record that registers it.
        let epoch = BrokerEpoch::registered_at(next_offset + records.len() as i64);
        records.push(MetadataRecord::RegisterBroker(RegisterBrokerRecord {
            broker_id: id.get(),
            is_migrating_zk_broker: request.is_migrating_zk_broker,
            incarnation_id: request.incarnation_id,
            broker_epoch: epoch.get(),
            end_points: request
                .listeners
                .iter()
                .map(|l| Endpoint {
                    name: l.name.to_string(),
                    host: l.host.to_string(),
                    port: l.port,
                    security_protocol: l.security_protocol,
                })
                .collect(),
            features: request
                .features
                .iter()
                .map(|f| FeatureRange {
                    name: f.name.to_string(),
                    min_supported_version: f.min_supported_version,
                    max_supported_version: f.max_supported_version,
                })
                .collect(),
            rack: request.rack.as_ref().map(|r| r.to_string()),
            fenced: true,
            in_controlled_shutdown: false,
            log_dirs: request.log_dirs.clone(),
        }));
        self.last_contact_ms.insert(id, now_ms);
        self.shutdown_offset.remove(&id);
        ControlResult {
            records,
            response: BrokerRegistrationResponse::default().with_broker_epoch(epoch.into()),
        }
    }

    fn fence(image: &MetadataImage, broker: NodeId, epoch: BrokerEpoch) -> Vec<MetadataRecord> {
        let mut records = remove_from_partitions(image, broker);
        records.push(MetadataRecord::BrokerRegistrationChange(
            BrokerRegistrationChangeRecord {
                broker_id: broker.into(),
                broker_epoch: epoch.into(),
                fenced: FENCE,
                in_controlled_shutdown: 0,
                log_dirs: Vec::new(),
            },
        ));
        records
    }

    /// BrokerHeartbeat. `next_offset` is the offset the first returned record will get.
    pub fn heartbeat(
        &mut self,
        image: &MetadataImage,
        request: &BrokerHeartbeatRequest,
        next_offset: Offset,
        now_ms: Millis,
    ) -> ControlResult<BrokerHeartbeatResponse> {
        let id = NodeId::from(request.broker_id);
        let Some(broker) = image
            .broker(id)
            .filter(|b| b.epoch == BrokerEpoch(request.broker_epoch))
        else {
            return ControlResult::reply(
                BrokerHeartbeatResponse::default()
                    .with_error_code(ErrorCode::StaleBrokerEpoch.code())
                    .with_is_fenced(true),
            );
        };
        self.last_contact_ms.insert(id, now_ms);
        // KIP-631: caught up once its metadata has reached its own registration record.
        let caught_up =
            Offset(request.current_metadata_offset) >= broker.epoch.registration_offset();
        let response = BrokerHeartbeatResponse::default().with_is_caught_up(caught_up);
        if broker.fenced {
            if request.want_shut_down {
                return ControlResult::reply(
                    response.with_is_fenced(true).with_should_shut_down(true),
                );
            }
            if request.want_fence || !caught_up {
                return ControlResult::reply(response.with_is_fenced(true));
            }
            // KIP-631: caught up to its own registration, so it may serve.
            let mut records = vec![MetadataRecord::BrokerRegistrationChange(
                BrokerRegistrationChangeRecord {
                    broker_id: id.into(),
                    broker_epoch: broker.epoch.into(),
                    fenced: UNFENCE,
                    in_controlled_shutdown: 0,
                    log_dirs: Vec::new(),
                },
            )];
            let mut delta = crate::metadata::delta::MetadataDelta::new(image);
            if delta.replay(&records[0]).is_ok() {
                records.extend(elect_with(delta.current(), id));
            }
            return ControlResult {
                records,
                response: response.with_is_fenced(false),
            };
        }
        if request.want_fence {
            return ControlResult {
                records: Self::fence(image, id, broker.epoch),
                response: response.with_is_fenced(true),
            };
        }
        if broker.in_controlled_shutdown || request.want_shut_down {
            if !broker.in_controlled_shutdown && !leads_any(image, id) {
                // Nothing to move: shut down at once (fenced).
                return ControlResult {
                    records: Self::fence(image, id, broker.epoch),
                    response: response.with_is_fenced(true).with_should_shut_down(true),
                };
            }
            if !broker.in_controlled_shutdown {
                // KIP-841: persist the state, then move leaderships and ISR membership away.
                let mut records = vec![MetadataRecord::BrokerRegistrationChange(
                    BrokerRegistrationChangeRecord {
                        broker_id: id.into(),
                        broker_epoch: broker.epoch.into(),
                        fenced: 0,
                        in_controlled_shutdown: ENTER_CONTROLLED_SHUTDOWN,
                        log_dirs: Vec::new(),
                    },
                )];
                records.extend(remove_from_partitions(image, id));
                self.shutdown_offset
                    .insert(id, next_offset + records.len() as i64 - 1);
                return ControlResult {
                    records,
                    response: response.with_is_fenced(false),
                };
            }
            let moved_past = self
                .shutdown_offset
                .get(&id)
                .copied()
                .unwrap_or(Offset::ZERO);
            if !leads_any(image, id) && Offset(request.current_metadata_offset) >= moved_past {
                self.shutdown_offset.remove(&id);
                return ControlResult {
                    records: Self::fence(image, id, broker.epoch),
                    response: response.with_is_fenced(true).with_should_shut_down(true),
                };
            }
            // Leaderships still moving (or the broker has not seen that yet).
            let records = remove_from_partitions(image, id);
            return ControlResult {
                records,
                response: response.with_is_fenced(false),
            };
        }
        ControlResult::reply(response.with_is_fenced(false))
    }

    /// UnregisterBroker: the registration goes, with its ISR memberships and leaderships.
    pub fn unregister(
        &mut self,
        image: &MetadataImage,
        request: &UnregisterBrokerRequest,
    ) -> ControlResult<UnregisterBrokerResponse> {
        let id = NodeId::from(request.broker_id);
        let Some(broker) = image.broker(id) else {
            return ControlResult::reply(
                UnregisterBrokerResponse::default()
                    .with_error_code(ErrorCode::BrokerIdNotRegistered.code())
                    .with_error_message(wire_message(format!("Broker ID {id} not found."))),
            );
        };
        let mut records = remove_from_partitions(image, id);
        records.push(MetadataRecord::UnregisterBroker(UnregisterBrokerRecord {
            broker_id: id.into(),
            broker_epoch: broker.epoch.into(),
        }));
        self.last_contact_ms.remove(&id);
        self.shutdown_offset.remove(&id);
        ControlResult {
            records,
            response: UnregisterBrokerResponse::default(),
        }
    }

    /// The records fencing one broker whose session expired, if any (Kafka fences one per
    /// check, `maybeFenceOneStaleBroker`).
    pub fn fence_one_stale(
        &mut self,
        image: &MetadataImage,
        now_ms: Millis,
        session_timeout_ms: u64,
    ) -> Option<(NodeId, Vec<MetadataRecord>)> {
        let stale = image
            .cluster
            .brokers
            .values()
            .filter(|b| !b.fenced)
            .find(|b| !self.session_alive(b.id, now_ms, session_timeout_ms))?;
        tracing::info!(
            "fencing broker {} (epoch {}): no heartbeat within broker.session.timeout.ms = {session_timeout_ms}",
            stale.id,
            stale.epoch
        );
        self.timed_out_heartbeats += 1;
        Some((stale.id, Self::fence(image, stale.id, stale.epoch)))
    }

    /// When the next broker session expires, if any broker is unfenced.
    pub fn next_expiry_ms(&self, image: &MetadataImage, session_timeout_ms: u64) -> Option<Millis> {
        image
            .cluster
            .brokers
            .values()
            .filter(|b| !b.fenced)
            .filter_map(|b| self.last_contact_ms.get(&b.id))
            .map(|t| t + session_timeout_ms + 1)
            .min()
    }
}

#[cfg(test)]
mod tests {
    use kafka_protocol::messages::broker_registration_request::Feature;
    use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreateTopicsRequest};
    use kafka_protocol::messages::{BrokerId, TopicName};
    use rand::SeedableRng;

    use super::*;
    use crate::control::outcome::wire_str;
    use crate::control::topics::{create_topics, TopicDefaults};
    use crate::metadata::delta::MetadataDelta;
    use crate::metadata::image::MetadataProvenance;

    const SESSION_MS: u64 = 9_000;

    fn apply(image: &MetadataImage, records: &[MetadataRecord]) -> MetadataImage {
        let mut d = MetadataDelta::new(image);
        for r in records {
            d.replay(r).unwrap();
        }
        d.apply(MetadataProvenance::EMPTY)
    }

    fn registration(id: i32, incarnation: u128) -> BrokerRegistrationRequest {
        BrokerRegistrationRequest::default()
            .with_broker_id(BrokerId(id))
            .with_cluster_id(wire_str("c"))
            .with_incarnation_id(uuid::Uuid::from_u128(incarnation))
            .with_features(vec![Feature::default()
                .with_name(wire_str("metadata.version"))
                .with_min_supported_version(1)
                .with_max_supported_version(21)])
    }

    fn heartbeat(id: i32, epoch: i64, offset: i64) -> BrokerHeartbeatRequest {
        BrokerHeartbeatRequest::default()
            .with_broker_id(BrokerId(id))
            .with_broker_epoch(epoch)
            .with_current_metadata_offset(offset)
    }

    /// Registers and unfences brokers 1 and 2; returns the image and their epochs.
    fn two_live_brokers(l: &mut BrokerLifecycle) -> (MetadataImage, [i64; 2]) {
        let mut image = MetadataImage::empty();
        let mut epochs = [0; 2];
        for id in 1..=2 {
            let r = l.register(
                &image,
                "c",
                &registration(id, id as u128),
                Offset(100 * id as i64),
                0,
                SESSION_MS,
            );
            assert_eq!(r.response.error_code, 0);
            epochs[id as usize - 1] = r.response.broker_epoch;
            image = apply(&image, &r.records);
            let r = l.heartbeat(
                &image,
                &heartbeat(id, r.response.broker_epoch, 1_000),
                Offset(0),
                0,
            );
            assert!(!r.response.is_fenced);
            image = apply(&image, &r.records);
        }
        (image, epochs)
    }

    // KIP-631: fenced until caught up to the registration's own offset.
    #[test]
    fn a_broker_is_unfenced_once_caught_up_to_its_registration() {
        let mut l = BrokerLifecycle::default();
        let image = MetadataImage::empty();
        let r = l.register(&image, "c", &registration(1, 1), Offset(42), 0, SESSION_MS);
        assert_eq!(r.response.broker_epoch, 42);
        let image = apply(&image, &r.records);
        assert!(image.broker(NodeId(1)).unwrap().fenced);
        let behind = l.heartbeat(&image, &heartbeat(1, 42, 41), Offset(50), 10);
        assert!(behind.response.is_fenced && !behind.response.is_caught_up);
        assert!(behind.records.is_empty());
        let caught_up = l.heartbeat(&image, &heartbeat(1, 42, 42), Offset(50), 20);
        assert!(!caught_up.response.is_fenced);
        assert!(
            !apply(&image, &caught_up.records)
                .broker(NodeId(1))
                .unwrap()
                .fenced
        );
        let stale = l.heartbeat(&image, &heartbeat(1, 41, 42), Offset(50), 20);
        assert_eq!(
            stale.response.error_code,
            ErrorCode::StaleBrokerEpoch.code()
        );
        let wrong_cluster = l.register(
            &image,
            "other",
            &registration(2, 2),
            Offset(60),
            0,
            SESSION_MS,
        );
        assert_eq!(
            wrong_cluster.response.error_code,
            ErrorCode::InconsistentClusterId.code()
        );
    }

    #[test]
    fn a_silent_broker_is_fenced_and_loses_its_leaderships() {
        let mut l = BrokerLifecycle::default();
        let (image, _) = two_live_brokers(&mut l);
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let request = CreateTopicsRequest::default().with_topics(vec![CreatableTopic::default()
            .with_name(TopicName(wire_str("t")))
            .with_num_partitions(4)
            .with_replication_factor(2)]);
        let created = create_topics(&image, &request, 7, TopicDefaults::default(), &mut rng);
        let image = apply(&image, &created.records);
        // Broker 2 keeps heartbeating; broker 1 does not.
        let _ = l.heartbeat(
            &image,
            &heartbeat(2, image.broker(NodeId(2)).unwrap().epoch.into(), 1_000),
            Offset(0),
            SESSION_MS,
        );
        assert!(
            l.fence_one_stale(&image, SESSION_MS, SESSION_MS).is_none(),
            "not yet"
        );
        let (fenced, records) = l
            .fence_one_stale(&image, SESSION_MS + 1, SESSION_MS)
            .unwrap();
        assert_eq!(fenced, NodeId(1));
        assert_eq!(l.timed_out_heartbeats, 1);
        let image = apply(&image, &records);
        assert!(image.broker(NodeId(1)).unwrap().fenced);
        for p in image.topic_by_name("t").unwrap().partitions.values() {
            assert_eq!(
                (p.leader, p.isr.clone()),
                (NodeId(2), vec![NodeId(2)]),
                "{p:?}"
            );
        }
        assert!(l
            .fence_one_stale(&image, SESSION_MS + 1, SESSION_MS)
            .is_none());
    }

    // KIP-841: controlled shutdown moves leaderships first, then lets the broker go.
    #[test]
    fn controlled_shutdown_moves_leaderships_then_says_shut_down() {
        let mut l = BrokerLifecycle::default();
        let (image, epochs) = two_live_brokers(&mut l);
        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        let request = CreateTopicsRequest::default().with_topics(vec![CreatableTopic::default()
            .with_name(TopicName(wire_str("t")))
            .with_num_partitions(4)
            .with_replication_factor(2)]);
        let image = apply(
            &image,
            &create_topics(&image, &request, 7, TopicDefaults::default(), &mut rng).records,
        );
        let mut want = heartbeat(1, epochs[0], 1_000);
        want.want_shut_down = true;
        let first = l.heartbeat(&image, &want, Offset(500), 1);
        assert!(!first.response.should_shut_down && !first.response.is_fenced);
        let image = apply(&image, &first.records);
        assert!(image.broker(NodeId(1)).unwrap().in_controlled_shutdown);
        assert!(image
            .topic_by_name("t")
            .unwrap()
            .partitions
            .values()
            .all(|p| p.leader == NodeId(2)));
        // Not yet: the broker has not seen the records that moved its leaderships.
        let mut early = want.clone();
        early.current_metadata_offset = 400;
        assert!(
            !l.heartbeat(&image, &early, Offset(600), 2)
                .response
                .should_shut_down
        );
        want.current_metadata_offset = 10_000;
        let done = l.heartbeat(&image, &want, Offset(600), 3);
        assert!(done.response.should_shut_down && done.response.is_fenced);
        assert!(
            apply(&image, &done.records)
                .broker(NodeId(1))
                .unwrap()
                .fenced
        );
    }
}
