//! `metaquorum-brokerbench`: the broker-shim benchmarks of issue 5, on real controller
//! processes on loopback (fsync on, default timeouts).
//!
//! - `propagation [--rate N] [--seconds S]`: 3 broker processes follow the log while topics
//!   are created at a fixed rate; reports p50/p99 of the time from a batch's append on the
//!   leader to its apply on each broker (the brokers' `metaquorum_broker_metadata_apply_lag_ms`
//!   histogram, scraped before and after the window). Append comes before commit, so this is
//!   an upper bound of commit → applied.
//! - `observers [--count N]`: the same load with N broker shims linked into this one process
//!   (the library, as a host broker would), each timing every update it receives.
//! - `catchup [--partitions N]`: builds a cluster holding N partitions (replication factor 3,
//!   100 per topic) with snapshots and retention on, then starts a new broker shim in this
//!   process and reports the time to RUNNING and its anonymous resident memory per partition.
//!
//! Build first: `cargo build --release -p metaquorum-tools -p metaquorum-benches`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::{CreateTopicsRequest, MetadataRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use metaquorum_broker_shim::{BrokerShim, BrokerState, ShimOptions, UpdateSource};
use metaquorum_controller::config::{free_loopback_ports, Config, LoopbackBroker};
use metaquorum_controller::net::client::KafkaClient;
use metaquorum_controller::storage::{self, FormatOptions, InitialControllers};
use metaquorum_tests::admin::Admin;
use metaquorum_tests::cluster::{scrape, wait_for, Cluster};

/// Topics per CreateTopics request while filling a cluster.
const TOPICS_PER_REQUEST: usize = 50;
/// Partitions per topic while filling a cluster.
const PARTITIONS_PER_TOPIC: i32 = 100;

fn topics_request(names: &[String], partitions: i32, rf: i16) -> CreateTopicsRequest {
    CreateTopicsRequest::default()
        .with_timeout_ms(60_000)
        .with_topics(
            names
                .iter()
                .map(|n| {
                    CreatableTopic::default()
                        .with_name(TopicName(StrBytes::from_string(n.clone())))
                        .with_num_partitions(partitions)
                        .with_replication_factor(rf)
                })
                .collect(),
        )
}

/// Waits until the broker at `addr` lists `count` brokers (all registered and unfenced).
async fn wait_for_brokers(addr: &str, count: usize) {
    wait_for(
        &format!("{count} unfenced brokers via {addr}"),
        Duration::from_secs(60),
        || async {
            let mut c = KafkaClient::connect(addr, 1_000).await.ok()?;
            let (_, r) = c
                .send(&MetadataRequest::default().with_topics(Some(vec![])))
                .await
                .ok()?;
            (r.brokers.len() == count).then_some(())
        },
    )
    .await;
}

/// Creates topics `prefix-<i>` one at a time at `rate` per second for `seconds`.
async fn create_at_rate(admin: &Admin, prefix: &str, rate: u64, seconds: u64) -> usize {
    let every = Duration::from_micros(1_000_000 / rate.max(1));
    let start = Instant::now();
    let mut n = 0;
    while start.elapsed() < Duration::from_secs(seconds) {
        let due = start + every * n as u32;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            tokio::time::sleep(wait).await;
        }
        let r = admin
            .call(
                &topics_request(&[format!("{prefix}-{n}")], 1, 1),
                Duration::from_secs(30),
            )
            .await;
        assert_eq!(r.topics[0].error_code, 0, "{r:?}");
        n += 1;
    }
    n
}

/// Cumulative bucket counts of the apply-lag histogram in a scrape: (upper bound, count).
fn buckets(body: &str) -> Vec<(f64, u64)> {
    let prefix = format!(
        "{}_bucket{{le=\"",
        metaquorum_controller::metrics::APPLY_LAG_METRIC
    );
    body.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix(&prefix)?;
            let (le, count) = rest.split_once("\"} ")?;
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            Some((le, count.trim().parse().ok()?))
        })
        .collect()
}

/// The smallest bucket bound holding quantile `q` of the difference of two bucket scrapes.
fn quantile_from_buckets(diff: &[(f64, u64)], q: f64) -> f64 {
    let total = diff.last().map_or(0, |b| b.1);
    let want = (total as f64 * q).ceil() as u64;
    diff.iter()
        .find(|(_, c)| *c >= want.max(1))
        .map_or(f64::NAN, |(le, _)| *le)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn controller_commit_latency(cluster: &Cluster) -> String {
    cluster
        .nodes
        .iter()
        .filter(|n| n.port != 0)
        .filter_map(|n| {
            let body = scrape(n.metrics_port)?;
            let avg = body
                .lines()
                .find(|l| l.starts_with("kafka_server_raftmetrics_commit_latency_avg "))?
                .split_whitespace()
                .nth(1)?
                .parse::<f64>()
                .ok()?;
            (avg > 0.0).then(|| format!("controller {} commit latency avg {avg:.2} ms", n.id))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

async fn propagation(rate: u64, seconds: u64) {
    let cluster = Cluster::start_with(3, 3, false, &[]);
    let brokers = cluster.brokers();
    wait_for_brokers(&brokers[0].1, 3).await;
    let admin = Admin {
        addrs: cluster.controller_addrs(),
    };
    // Warm up, then take the window.
    create_at_rate(&admin, "warm", rate, 2).await;
    let metrics: Vec<u16> = cluster
        .nodes
        .iter()
        .filter(|n| n.broker_port.is_some())
        .map(|n| n.metrics_port)
        .collect();
    let before: Vec<Vec<(f64, u64)>> = metrics
        .iter()
        .map(|p| buckets(&scrape(*p).expect("broker metrics")))
        .collect();
    let created = create_at_rate(&admin, "load", rate, seconds).await;
    // Let the last batches arrive.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut merged: BTreeMap<u64, (f64, u64)> = BTreeMap::new();
    for (i, p) in metrics.iter().enumerate() {
        let after = buckets(&scrape(*p).expect("broker metrics"));
        let diff: Vec<(f64, u64)> = after
            .iter()
            .zip(&before[i])
            .map(|((le, a), (_, b))| (*le, a - b))
            .collect();
        println!(
            "broker {}: {} batches, p50 <= {} ms, p99 <= {} ms",
            brokers[i].0,
            diff.last().map_or(0, |b| b.1),
            quantile_from_buckets(&diff, 0.50),
            quantile_from_buckets(&diff, 0.99)
        );
        for (j, (le, c)) in diff.iter().enumerate() {
            let e = merged.entry(j as u64).or_insert((*le, 0));
            e.1 += c;
        }
    }
    let merged: Vec<(f64, u64)> = merged.into_values().collect();
    println!(
        "propagation (append on leader -> applied on broker), {created} topics at {rate}/s over {seconds} s, 3 broker processes: p50 <= {} ms, p99 <= {} ms, p999 <= {} ms",
        quantile_from_buckets(&merged, 0.50),
        quantile_from_buckets(&merged, 0.99),
        quantile_from_buckets(&merged, 0.999),
    );
    println!("{}", controller_commit_latency(&cluster));
}

/// A broker-only configuration for an in-process shim, formatted into `dir`.
fn shim_config(id: i32, voters: &[String], cluster_id: &str, dir: &Path) -> Config {
    let port = free_loopback_ports(1).expect("a free port")[0];
    let text = LoopbackBroker {
        id,
        voters,
        port,
        controller_port: None,
        metrics_port: 0,
        data_dir: dir,
    }
    .properties(&[]);
    let props: BTreeMap<String, String> = text
        .lines()
        .filter(|l| !l.starts_with("metrics."))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let config = Config::from_properties(props)
        .expect("broker config")
        .config;
    storage::format(
        &config,
        &FormatOptions {
            cluster_id: cluster_id.to_string(),
            release_version: None,
            ignore_formatted: false,
            initial_controllers: InitialControllers::Unspecified,
        },
        &mut std::io::sink(),
    )
    .expect("format broker storage");
    config
}

fn voters_of(cluster: &Cluster) -> Vec<String> {
    cluster
        .controller_addrs()
        .iter()
        .enumerate()
        .map(|(i, a)| format!("{}@{a}", i + 1))
        .collect()
}

fn wall_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1e3)
}

async fn observers(count: usize, rate: u64, seconds: u64) {
    let cluster = Cluster::start(3, &[]);
    let voters = voters_of(&cluster);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut shims = Vec::new();
    for i in 0..count {
        let id = 1000 + i as i32;
        let d = dir.path().join(format!("shim-{id}"));
        let config = shim_config(id, &voters, &cluster.cluster_id, &d);
        let shim = BrokerShim::start_with(
            &config,
            ShimOptions {
                metadata_only_isr: false,
            },
        )
        .await
        .expect("start shim");
        shims.push(shim);
    }
    for s in &shims {
        let mut st = s.state_watch();
        let _ = tokio::time::timeout(
            Duration::from_secs(60),
            st.wait_for(|s| *s == BrokerState::Running),
        )
        .await;
    }
    println!("{count} shims RUNNING in this process");
    let admin = Admin {
        addrs: cluster.controller_addrs(),
    };
    create_at_rate(&admin, "warm", rate, 2).await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<f64>();
    let stop = tokio::sync::watch::channel(false);
    let mut tasks = Vec::new();
    for s in &shims {
        let mut sub = s.subscribe();
        let tx = tx.clone();
        let mut stop_rx = stop.1.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                tokio::select! {
                    u = sub.next() => {
                        let Some(u) = u else { return };
                        let ts = u.image.provenance.last_contained_timestamp_ms;
                        if u.source == UpdateSource::Log && ts > 0 {
                            let _ = tx.send(wall_ms() - ts as f64);
                        }
                    }
                    _ = stop_rx.changed() => return,
                }
            }
        }));
    }
    drop(tx);
    let created = create_at_rate(&admin, "load", rate, seconds).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _ = stop.0.send(true);
    for t in tasks {
        let _ = t.await;
    }
    let mut lags = Vec::new();
    while let Ok(v) = rx.try_recv() {
        lags.push(v);
    }
    lags.sort_by(f64::total_cmp);
    println!(
        "propagation (append on leader -> update received by the host), {created} topics at {rate}/s over {seconds} s, {count} shims in one process: {} updates, p50 {:.1} ms, p99 {:.1} ms, p999 {:.1} ms, max {:.1} ms",
        lags.len(),
        percentile(&lags, 0.50),
        percentile(&lags, 0.99),
        percentile(&lags, 0.999),
        lags.last().copied().unwrap_or(f64::NAN)
    );
    println!("{}", controller_commit_latency(&cluster));
    for s in shims {
        s.stop().await;
    }
}

async fn catchup(partitions: usize) {
    let extra = [
        "metadata.log.segment.min.bytes=1048576",
        "metadata.log.segment.bytes=4194304",
        "metadata.log.max.record.bytes.between.snapshots=4194304",
        "metadata.max.retention.bytes=1",
    ];
    let cluster = Cluster::start_with(3, 3, false, &extra);
    let brokers = cluster.brokers();
    wait_for_brokers(&brokers[0].1, 3).await;
    let admin = Admin {
        addrs: cluster.controller_addrs(),
    };
    let topics = partitions.div_ceil(PARTITIONS_PER_TOPIC as usize);
    let fill = Instant::now();
    let names: Vec<String> = (0..topics).map(|i| format!("big-{i:05}")).collect();
    for chunk in names.chunks(TOPICS_PER_REQUEST) {
        let r = admin
            .call(
                &topics_request(chunk, PARTITIONS_PER_TOPIC, 3),
                Duration::from_secs(60),
            )
            .await;
        assert!(r.topics.iter().all(|t| t.error_code == 0), "{r:?}");
    }
    println!(
        "created {topics} topics, {} partitions (RF 3) in {:.1} s",
        topics * PARTITIONS_PER_TOPIC as usize,
        fill.elapsed().as_secs_f64()
    );
    // A few writes more, so every node's next snapshot covers the fill and retention drops
    // the segments below it.
    create_at_rate(&admin, "tail", 50, 2).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = shim_config(
        2000,
        &voters_of(&cluster),
        &cluster.cluster_id,
        &dir.path().join("new-broker"),
    );
    let rss_before = metaquorum_benches::rss_anon_kib();
    let started = Instant::now();
    let shim = BrokerShim::start_with(
        &config,
        ShimOptions {
            metadata_only_isr: false,
        },
    )
    .await
    .expect("start the new broker");
    let mut state = shim.state_watch();
    tokio::time::timeout(
        Duration::from_secs(120),
        state.wait_for(|s| *s == BrokerState::Running),
    )
    .await
    .expect("RUNNING within 120 s")
    .expect("state");
    let elapsed = started.elapsed();
    let image = shim.image();
    let rss_after = metaquorum_benches::rss_anon_kib();
    let snapshot_fetched = std::fs::read_dir(dir.path().join("new-broker/__cluster_metadata-0"))
        .map(|d| {
            d.filter_map(Result::ok)
                .any(|e| e.file_name().to_string_lossy().ends_with(".checkpoint"))
        })
        .unwrap_or(false);
    println!(
        "new broker RUNNING in {:.0} ms with {} partitions in its image (offset {}; {}); anonymous RSS +{} KiB = {:.0} bytes per partition",
        elapsed.as_secs_f64() * 1e3,
        image.partition_count(),
        image.provenance.offset,
        if snapshot_fetched {
            "caught up through FetchSnapshot"
        } else {
            "caught up from the log"
        },
        rss_after.saturating_sub(rss_before),
        rss_after.saturating_sub(rss_before) as f64 * 1024.0 / image.partition_count().max(1) as f64
    );
    shim.stop().await;
}

fn arg(args: &[String], name: &str, default: u64) -> u64 {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rate = arg(&args, "--rate", 50);
    let seconds = arg(&args, "--seconds", 20);
    match args.first().map(String::as_str) {
        Some("propagation") => propagation(rate, seconds).await,
        Some("observers") => observers(arg(&args, "--count", 100) as usize, rate, seconds).await,
        Some("catchup") => catchup(arg(&args, "--partitions", 100_000) as usize).await,
        _ => {
            eprintln!(
                "usage: metaquorum-brokerbench propagation [--rate N --seconds S] | observers [--count N --rate N --seconds S] | catchup [--partitions N]"
            );
            std::process::exit(2);
        }
    }
}
