//! Prometheus metrics under the names Kafka dashboards expect (`reference/kraft.md` §5.6):
//! `kafka_server_raftmetrics_*` for the Raft layer and `kafka_controller_kafkacontroller_*` for
//! the controller. Values go through the `metrics` facade into a
//! `metrics-exporter-prometheus` recorder; [`serve`] answers `GET /metrics` on
//! `metrics.prometheus.listener` with a deliberately tiny HTTP/1.1 responder.
//!
//! Kafka's `*-avg`, `*-max` and `*-rate` attributes are windowed; [`Window`] keeps the last
//! 30 seconds of samples (Kafka's default `metrics.sample.window.ms` × samples) to compute them.

use crate::raft::{NodeId, RoleKind};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Length of the window behind avg, max and rate values.
pub const WINDOW: Duration = Duration::from_secs(30);
/// Largest HTTP request head read from a scraper.
const HTTP_REQUEST_BYTES_MAX: usize = 8 * 1024;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// A broker's time from a batch's append on the leader to its apply (a histogram with
/// [`APPLY_LAG_BUCKETS_MS`], so a benchmark can subtract two scrapes).
pub const APPLY_LAG_METRIC: &str = "metaquorum_broker_metadata_apply_lag_ms";
/// Bucket bounds of [`APPLY_LAG_METRIC`], in ms (batch timestamps have ms resolution).
pub const APPLY_LAG_BUCKETS_MS: &[f64] = &[
    0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 15.0, 20.0, 30.0, 50.0, 100.0, 250.0, 500.0,
    1000.0, 5000.0,
];

/// Installs the process-wide recorder (once) and returns its handle.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full(APPLY_LAG_METRIC.to_string()),
                    APPLY_LAG_BUCKETS_MS,
                )
                .map_or_else(
                    |_| PrometheusBuilder::new().build_recorder(),
                    |b| b.build_recorder(),
                );
            let handle = recorder.handle();
            // Another recorder may already be installed (tests in one process); keep ours
            // for rendering either way.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// Binds `addr` and serves `GET /metrics` until the runtime stops; returns the bound address.
pub async fn serve(addr: SocketAddr, handle: PrometheusHandle) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            let handle = handle.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; HTTP_REQUEST_BYTES_MAX];
                let mut len = 0;
                let read = tokio::time::timeout(Duration::from_secs(5), async {
                    while len < buf.len() {
                        let n = stream.read(&mut buf[len..]).await.ok()?;
                        if n == 0 {
                            return None;
                        }
                        len += n;
                        if buf[..len].windows(4).any(|w| w == b"\r\n\r\n") {
                            return Some(());
                        }
                    }
                    None
                })
                .await;
                if !matches!(read, Ok(Some(()))) {
                    return;
                }
                let head = String::from_utf8_lossy(&buf[..len]);
                let response = if head.starts_with("GET /metrics ") || head.starts_with("GET / ") {
                    let body = handle.render();
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    )
                } else {
                    "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        .to_string()
                };
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    Ok(bound)
}

/// Samples of one windowed metric.
#[derive(Debug, Default)]
pub struct Window {
    samples: VecDeque<(Instant, f64)>,
}

impl Window {
    /// Adds a sample at `now`, dropping those older than [`WINDOW`].
    pub fn record(&mut self, now: Instant, value: f64) {
        self.samples.push_back((now, value));
        self.expire(now);
    }

    fn expire(&mut self, now: Instant) {
        while self
            .samples
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) > WINDOW)
        {
            self.samples.pop_front();
        }
    }

    /// Average of the samples in the window (0 without samples, as Kafka reports NaN as 0).
    pub fn avg(&mut self, now: Instant) -> f64 {
        self.expire(now);
        if self.samples.is_empty() {
            return 0.0;
        }
        self.samples.iter().map(|(_, v)| v).sum::<f64>() / self.samples.len() as f64
    }

    /// Largest sample in the window (0 without samples).
    pub fn max(&mut self, now: Instant) -> f64 {
        self.expire(now);
        self.samples.iter().map(|(_, v)| *v).fold(0.0, f64::max)
    }

    /// Sum of the samples per second over the window.
    pub fn rate(&mut self, now: Instant) -> f64 {
        self.expire(now);
        self.samples.iter().map(|(_, v)| v).sum::<f64>() / WINDOW.as_secs_f64()
    }
}

/// The Raft layer's metrics (`kafka.server:type=raft-metrics`).
#[derive(Debug, Default)]
pub struct RaftMetrics {
    commit_latency_ms: Window,
    election_latency_ms: Window,
    append_records: Window,
    fetch_records: Window,
    last_state: Option<&'static str>,
}

/// The value of `current-state`, as Kafka names it.
pub fn state_name(role: RoleKind, is_voter: bool) -> &'static str {
    if !is_voter {
        return "observer";
    }
    match role {
        RoleKind::Leader => "leader",
        RoleKind::Follower => "follower",
        RoleKind::Candidate => "candidate",
        RoleKind::Prospective => "prospective",
        RoleKind::Voted => "voted",
        RoleKind::Resigned => "resigned",
        _ => "unattached",
    }
}

/// A snapshot of the core's state for the gauges.
#[derive(Debug, Clone, Copy)]
pub struct RaftGauges {
    /// Role.
    pub role: RoleKind,
    /// Whether this node is a voter.
    pub is_voter: bool,
    /// Leader id, if known.
    pub leader_id: Option<NodeId>,
    /// Voted-for id, if any.
    pub voted_id: Option<NodeId>,
    /// Epoch.
    pub epoch: i32,
    /// High watermark.
    pub high_watermark: i64,
    /// Log end offset.
    pub log_end_offset: i64,
}

impl RaftMetrics {
    /// A commit took this long (proposal to committed).
    pub fn record_commit_latency(&mut self, now: Instant, ms: f64) {
        self.commit_latency_ms.record(now, ms);
    }

    /// An election took this long (leader lost to leader known).
    pub fn record_election_latency(&mut self, now: Instant, ms: f64) {
        self.election_latency_ms.record(now, ms);
    }

    /// Records appended by this node as leader.
    pub fn record_appended(&mut self, now: Instant, records: usize) {
        self.append_records.record(now, records as f64);
    }

    /// Records fetched from the leader.
    pub fn record_fetched(&mut self, now: Instant, records: usize) {
        self.fetch_records.record(now, records as f64);
    }

    /// Publishes every gauge.
    pub fn publish(&mut self, now: Instant, g: RaftGauges) {
        let state = state_name(g.role, g.is_voter);
        if self.last_state != Some(state) {
            if let Some(old) = self.last_state {
                metrics::gauge!("kafka_server_raftmetrics_current_state", "current_state" => old)
                    .set(0.0);
            }
            metrics::gauge!("kafka_server_raftmetrics_current_state", "current_state" => state)
                .set(1.0);
            self.last_state = Some(state);
        }
        metrics::gauge!("kafka_server_raftmetrics_current_leader")
            .set(g.leader_id.unwrap_or(NodeId::NONE).get() as f64);
        metrics::gauge!("kafka_server_raftmetrics_current_vote")
            .set(g.voted_id.unwrap_or(NodeId::NONE).get() as f64);
        metrics::gauge!("kafka_server_raftmetrics_current_epoch").set(g.epoch as f64);
        metrics::gauge!("kafka_server_raftmetrics_high_watermark").set(g.high_watermark as f64);
        metrics::gauge!("kafka_server_raftmetrics_log_end_offset").set(g.log_end_offset as f64);
        metrics::gauge!("kafka_server_raftmetrics_commit_latency_avg")
            .set(self.commit_latency_ms.avg(now));
        metrics::gauge!("kafka_server_raftmetrics_commit_latency_max")
            .set(self.commit_latency_ms.max(now));
        metrics::gauge!("kafka_server_raftmetrics_election_latency_avg")
            .set(self.election_latency_ms.avg(now));
        metrics::gauge!("kafka_server_raftmetrics_election_latency_max")
            .set(self.election_latency_ms.max(now));
        metrics::gauge!("kafka_server_raftmetrics_append_records_rate")
            .set(self.append_records.rate(now));
        metrics::gauge!("kafka_server_raftmetrics_fetch_records_rate")
            .set(self.fetch_records.rate(now));
    }
}

/// The controller's gauges (`kafka.controller:type=KafkaController,name=*`, §5.3).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ControllerGauges {
    /// 1 on the active controller, else 0.
    pub active: bool,
    /// Unfenced brokers.
    pub active_brokers: usize,
    /// Fenced brokers.
    pub fenced_brokers: usize,
    /// Topics.
    pub topics: usize,
    /// Partitions.
    pub partitions: usize,
    /// Partitions without a leader.
    pub offline_partitions: usize,
    /// Offset of the last record applied to the image.
    pub last_applied_offset: i64,
    /// Offset of the last committed record.
    pub last_committed_offset: i64,
    /// Wall-clock ms between the append and the apply of the last applied record.
    pub last_applied_lag_ms: i64,
    /// Append time of the last applied record, ms since the Unix epoch.
    pub last_applied_timestamp_ms: i64,
    /// Times this node became the active controller.
    pub new_active_controllers: u64,
    /// Brokers fenced because their heartbeats stopped.
    pub timed_out_broker_heartbeats: u64,
    /// Metadata records that failed to load or replay.
    pub metadata_errors: u64,
}

/// Publishes the controller gauges under Kafka's JMX-exporter names.
pub fn publish_controller(g: &ControllerGauges) {
    let set = |name: &'static str, v: f64| metrics::gauge!(name).set(v);
    set(
        "kafka_controller_kafkacontroller_activecontrollercount",
        if g.active { 1.0 } else { 0.0 },
    );
    set(
        "kafka_controller_kafkacontroller_activebrokercount",
        g.active_brokers as f64,
    );
    set(
        "kafka_controller_kafkacontroller_fencedbrokercount",
        g.fenced_brokers as f64,
    );
    set(
        "kafka_controller_kafkacontroller_globaltopiccount",
        g.topics as f64,
    );
    set(
        "kafka_controller_kafkacontroller_globalpartitioncount",
        g.partitions as f64,
    );
    set(
        "kafka_controller_kafkacontroller_offlinepartitionscount",
        g.offline_partitions as f64,
    );
    set(
        "kafka_controller_kafkacontroller_lastappliedrecordoffset",
        g.last_applied_offset as f64,
    );
    set(
        "kafka_controller_kafkacontroller_lastcommittedrecordoffset",
        g.last_committed_offset as f64,
    );
    set(
        "kafka_controller_kafkacontroller_lastappliedrecordlagms",
        g.last_applied_lag_ms as f64,
    );
    set(
        "kafka_controller_kafkacontroller_lastappliedrecordtimestamp",
        g.last_applied_timestamp_ms as f64,
    );
    set(
        "kafka_controller_kafkacontroller_newactivecontrollerscount",
        g.new_active_controllers as f64,
    );
    set(
        "kafka_controller_kafkacontroller_timedoutbrokerheartbeatcount",
        g.timed_out_broker_heartbeats as f64,
    );
    set(
        "kafka_controller_kafkacontroller_metadataerrorcount",
        g.metadata_errors as f64,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_forget_old_samples() {
        let t0 = Instant::now();
        let mut w = Window::default();
        w.record(t0, 10.0);
        w.record(t0 + Duration::from_secs(1), 30.0);
        assert_eq!(w.avg(t0 + Duration::from_secs(1)), 20.0);
        assert_eq!(w.max(t0 + Duration::from_secs(1)), 30.0);
        assert_eq!(w.rate(t0 + Duration::from_secs(1)), 40.0 / 30.0);
        let later = t0 + WINDOW + Duration::from_secs(2);
        assert_eq!(w.avg(later), 0.0);
        assert_eq!(w.max(later), 0.0);
    }
}
