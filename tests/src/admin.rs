//! A small admin and broker client for the multi-process tests: sends metadata requests to
//! whichever controller is active (found through DescribeQuorum, retried with a deadline on
//! NOT_CONTROLLER and connection errors), and plays a broker that registers and heartbeats.

use std::time::{Duration, Instant};

use kafka_protocol::messages::broker_registration_request::{Feature, Listener};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use metaquorum_controller::net::client::KafkaClient;

use crate::cluster::quorum_of;

/// Kafka's NOT_CONTROLLER error code.
pub const NOT_CONTROLLER: i16 = 41;

/// Responses that can say "not the active controller".
pub trait ControllerResponse {
    /// Whether any part of the response carries NOT_CONTROLLER.
    fn not_controller(&self) -> bool;
}

macro_rules! not_controller_in {
    ($t:ty, |$r:ident| $e:expr) => {
        impl ControllerResponse for $t {
            fn not_controller(&self) -> bool {
                let $r = self;
                $e
            }
        }
    };
}

not_controller_in!(CreateTopicsResponse, |r| r
    .topics
    .iter()
    .any(|t| t.error_code == NOT_CONTROLLER));
not_controller_in!(DeleteTopicsResponse, |r| r
    .responses
    .iter()
    .any(|t| t.error_code == NOT_CONTROLLER));
not_controller_in!(CreatePartitionsResponse, |r| r
    .results
    .iter()
    .any(|t| t.error_code == NOT_CONTROLLER));
not_controller_in!(CreateAclsResponse, |r| r
    .results
    .iter()
    .any(|t| t.error_code == NOT_CONTROLLER));
not_controller_in!(DeleteAclsResponse, |r| r
    .filter_results
    .iter()
    .any(|t| t.error_code == NOT_CONTROLLER));
not_controller_in!(DescribeAclsResponse, |r| r.error_code == NOT_CONTROLLER);
not_controller_in!(DescribeConfigsResponse, |r| r
    .results
    .iter()
    .any(|t| t.error_code == NOT_CONTROLLER));
not_controller_in!(IncrementalAlterConfigsResponse, |r| r
    .responses
    .iter()
    .any(|t| t.error_code == NOT_CONTROLLER));
not_controller_in!(BrokerRegistrationResponse, |r| r.error_code
    == NOT_CONTROLLER);
not_controller_in!(BrokerHeartbeatResponse, |r| r.error_code == NOT_CONTROLLER);
not_controller_in!(UnregisterBrokerResponse, |r| r.error_code == NOT_CONTROLLER);
not_controller_in!(MetadataResponse, |r| r.error_code == NOT_CONTROLLER);
not_controller_in!(AlterPartitionResponse, |r| r.error_code == NOT_CONTROLLER);

/// Sends one request to `addr` at the highest common version.
pub async fn send_to<R>(addr: &str, request: &R) -> Option<R::Response>
where
    R: Request + Encodable + HeaderVersion,
    R::Response: Decodable + HeaderVersion,
{
    let mut client = KafkaClient::connect(addr, 2_000).await.ok()?;
    client.send(request).await.ok().map(|(_, r)| r)
}

/// The controllers of a test cluster, addressed as one.
#[derive(Debug, Clone)]
pub struct Admin {
    /// The controller listeners.
    pub addrs: Vec<String>,
}

/// What happened to one attempt at a write.
#[derive(Debug)]
pub enum Attempt<T> {
    /// The active controller answered.
    Answered(T),
    /// No answer, or NOT_CONTROLLER: the outcome is unknown.
    Unknown,
}

impl Admin {
    /// The address of the leader of the newest epoch any reachable node knows, if any.
    pub async fn leader_addr(&self) -> Option<String> {
        let mut best: Option<(i32, i32)> = None;
        for a in &self.addrs {
            if let Some((leader, epoch, _, _)) = quorum_of(a).await {
                if leader >= 0 && best.is_none_or(|(_, e)| epoch > e) {
                    best = Some((leader, epoch));
                }
            }
        }
        // Node ids are positions + 1 (see `Cluster::start`).
        self.addrs.get(usize::try_from(best?.0 - 1).ok()?).cloned()
    }

    /// One attempt at `request` on the current leader.
    pub async fn attempt<R>(&self, request: &R) -> Attempt<R::Response>
    where
        R: Request + Encodable + HeaderVersion,
        R::Response: Decodable + HeaderVersion + ControllerResponse,
    {
        let Some(addr) = self.leader_addr().await else {
            return Attempt::Unknown;
        };
        match send_to(&addr, request).await {
            Some(r) if !r.not_controller() => Attempt::Answered(r),
            _ => Attempt::Unknown,
        }
    }

    /// Sends `request` to the active controller, retrying until it answers or `within` ends.
    pub async fn call<R>(&self, request: &R, within: Duration) -> R::Response
    where
        R: Request + Encodable + HeaderVersion,
        R::Response: Decodable + HeaderVersion + ControllerResponse,
    {
        let deadline = Instant::now() + within;
        loop {
            if let Attempt::Answered(r) = self.attempt(request).await {
                return r;
            }
            assert!(
                Instant::now() < deadline,
                "no active controller answered {} within {within:?}",
                std::any::type_name::<R>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A CreateTopics request for one topic.
pub fn create_topic(
    name: &str,
    partitions: i32,
    replication_factor: i16,
    configs: &[(&str, &str)],
) -> CreateTopicsRequest {
    use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
    CreateTopicsRequest::default()
        .with_timeout_ms(30_000)
        .with_topics(vec![CreatableTopic::default()
            .with_name(TopicName(StrBytes::from_string(name.into())))
            .with_num_partitions(partitions)
            .with_replication_factor(replication_factor)
            .with_configs(
                configs
                    .iter()
                    .map(|(k, v)| {
                        CreatableTopicConfig::default()
                            .with_name(StrBytes::from_string(k.to_string()))
                            .with_value(Some(StrBytes::from_string(v.to_string())))
                    })
                    .collect(),
            )])
}

/// A broker played by the test: registration, then heartbeats.
#[derive(Debug, Clone)]
pub struct TestBroker {
    /// The broker id.
    pub id: i32,
    /// The cluster id it registers with.
    pub cluster_id: String,
    /// The incarnation id of this "process".
    pub incarnation: uuid::Uuid,
    /// The epoch the controller gave it (-1 before registration).
    pub epoch: i64,
}

impl TestBroker {
    /// A broker with a fresh incarnation.
    pub fn new(id: i32, cluster_id: &str) -> Self {
        TestBroker {
            id,
            cluster_id: cluster_id.to_string(),
            incarnation: uuid::Uuid::new_v4(),
            epoch: -1,
        }
    }

    /// The BrokerRegistration request.
    pub fn registration(&self) -> BrokerRegistrationRequest {
        BrokerRegistrationRequest::default()
            .with_broker_id(BrokerId(self.id))
            .with_cluster_id(StrBytes::from_string(self.cluster_id.clone()))
            .with_incarnation_id(self.incarnation)
            .with_listeners(vec![Listener::default()
                .with_name(StrBytes::from_static_str("PLAINTEXT"))
                .with_host(StrBytes::from_static_str("127.0.0.1"))
                .with_port(19_000 + self.id as u16)
                .with_security_protocol(0)])
            .with_features(vec![Feature::default()
                .with_name(StrBytes::from_static_str("metadata.version"))
                .with_min_supported_version(1)
                .with_max_supported_version(21)])
            .with_rack(Some(StrBytes::from_string(format!("rack-{}", self.id % 2))))
    }

    /// Registers (retrying); returns the broker epoch.
    pub async fn register(&mut self, admin: &Admin, within: Duration) -> i64 {
        let r = admin.call(&self.registration(), within).await;
        assert_eq!(
            r.error_code, 0,
            "broker {} registration failed: {r:?}",
            self.id
        );
        self.epoch = r.broker_epoch;
        self.epoch
    }

    /// A heartbeat saying the broker has applied up to `offset`.
    pub fn heartbeat(&self, offset: i64) -> BrokerHeartbeatRequest {
        BrokerHeartbeatRequest::default()
            .with_broker_id(BrokerId(self.id))
            .with_broker_epoch(self.epoch)
            .with_current_metadata_offset(offset)
    }

    /// Heartbeats (caught up) until the controller reports the broker unfenced.
    pub async fn unfence(&self, admin: &Admin, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let r = admin.call(&self.heartbeat(i64::MAX / 2), within).await;
            assert_eq!(r.error_code, 0, "heartbeat of broker {}: {r:?}", self.id);
            if !r.is_fenced {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "broker {} stayed fenced",
                self.id
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Keeps heartbeating (caught up) every `every` until the task is aborted.
    pub fn spawn_heartbeats(&self, admin: Admin, every: Duration) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                let _ = admin.attempt(&me.heartbeat(i64::MAX / 2)).await;
                tokio::time::sleep(every).await;
            }
        })
    }
}
