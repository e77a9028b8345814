//! `metaquorum-loadgen`: the end-to-end benchmark of issue 4. It starts 3 real controller
//! processes on loopback (fsync on, default timeouts) and measures, through the Kafka protocol:
//!
//! - `saturation`: committed metadata records per second with IncrementalAlterConfigs requests
//!   of many resources each, from several connections;
//! - `latency --rate N`: p50/p99/p999 commit latency of single-record writes sent open-loop at a
//!   fixed rate (latency counts from the intended send time, so queueing is not hidden);
//! - `failover --signal kill|stop`: how long writes are unavailable after SIGKILL or SIGSTOP of
//!   the leader, as the gap between the last write acknowledged before and the first after.
//!
//! Run with `cargo run --release -p metaquorum-benches --bin metaquorum-loadgen -- <mode>`
//! after `cargo build --release -p metaquorum-tools`; `--config key=value` (repeatable) adds
//! controller configuration.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::IncrementalAlterConfigsRequest;
use kafka_protocol::protocol::StrBytes;
use metaquorum_controller::net::client::KafkaClient;
use metaquorum_tests::admin::{Admin, NOT_CONTROLLER};
use metaquorum_tests::cluster::{wait_for_agreed_leader, Cluster};

const KEY: &str = "log.cleaner.backoff.ms";

/// A write of `resources` broker-config records, values made unique by `seq`.
fn write(first_broker: usize, resources: usize, seq: u64) -> IncrementalAlterConfigsRequest {
    IncrementalAlterConfigsRequest::default().with_resources(
        (first_broker..first_broker + resources)
            .map(|b| {
                AlterConfigsResource::default()
                    .with_resource_type(4)
                    .with_resource_name(StrBytes::from_string(b.to_string()))
                    .with_configs(vec![AlterableConfig::default()
                        .with_name(StrBytes::from_static_str(KEY))
                        .with_config_operation(0)
                        .with_value(Some(StrBytes::from_string((1000 + seq).to_string())))])
            })
            .collect(),
    )
}

/// Sends on an open connection; true if every resource was written.
async fn send(client: &mut KafkaClient, request: &IncrementalAlterConfigsRequest) -> bool {
    match client.send(request).await {
        Ok((_, r)) => r.responses.iter().all(|x| x.error_code == 0),
        Err(_) => false,
    }
}

async fn leader_client(admin: &Admin) -> KafkaClient {
    loop {
        if let Some(addr) = admin.leader_addr().await {
            if let Ok(c) = KafkaClient::connect(&addr, 5_000).await {
                // Probe: a follower answers NOT_CONTROLLER.
                let mut c = c;
                if let Ok((_, r)) = c.send(&write(1_000_000, 1, 0)).await {
                    if r.responses.iter().all(|x| x.error_code != NOT_CONTROLLER) {
                        return c;
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn saturation(admin: &Admin, connections: usize, resources: usize, seconds: u64) {
    let records = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..connections {
        let admin = admin.clone();
        let records = Arc::clone(&records);
        tasks.push(tokio::spawn(async move {
            let mut client = leader_client(&admin).await;
            let mut seq = 0u64;
            while Instant::now() < deadline {
                seq += 1;
                if send(&mut client, &write(c * resources, resources, seq)).await {
                    records.fetch_add(resources as u64, Ordering::Relaxed);
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let n = records.load(Ordering::Relaxed);
    println!(
        "saturation: {connections} connections x {resources} records/request: {n} records committed in {elapsed:.1} s = {:.0} records/s",
        n as f64 / elapsed
    );
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

async fn latency(admin: &Admin, rate: u64, seconds: u64, connections: usize) {
    let (tx, rx) = tokio::sync::mpsc::channel::<(Instant, u64)>(1 << 20);
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<Option<u64>>();
    for c in 0..connections {
        let admin = admin.clone();
        let rx = Arc::clone(&rx);
        let done = done_tx.clone();
        tokio::spawn(async move {
            let mut client = leader_client(&admin).await;
            loop {
                let next = rx.lock().await.recv().await;
                let Some((intended, seq)) = next else { return };
                let ok = send(&mut client, &write(c, 1, seq)).await;
                let _ = done.send(ok.then(|| intended.elapsed().as_micros() as u64));
            }
        });
    }
    drop(done_tx);
    // Warm up the connections.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let total = rate * seconds;
    let start = Instant::now();
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    for seq in 0..total {
        let intended = start + interval.mul_f64(seq as f64);
        let now = Instant::now();
        if intended > now {
            tokio::time::sleep(intended - now).await;
        }
        if tx.send((intended, seq)).await.is_err() {
            break;
        }
    }
    drop(tx);
    let mut lat = Vec::with_capacity(total as usize);
    let mut failed = 0;
    for _ in 0..total {
        match done_rx.recv().await {
            Some(Some(us)) => lat.push(us),
            Some(None) => failed += 1,
            None => break,
        }
    }
    let achieved = lat.len() as f64 / start.elapsed().as_secs_f64();
    lat.sort_unstable();
    println!(
        "latency at {rate} ops/s ({connections} connections, {} ok, {failed} failed, achieved {achieved:.0} ops/s): p50 {:.2} ms, p99 {:.2} ms, p999 {:.2} ms, max {:.2} ms",
        lat.len(),
        percentile(&lat, 0.50),
        percentile(&lat, 0.99),
        percentile(&lat, 0.999),
        percentile(&lat, 1.0),
    );
}

async fn failover(cluster: &mut Cluster, admin: &Admin, stop: bool, runs: usize) {
    for run in 0..runs {
        let (leader, _) = wait_for_agreed_leader(&admin.addrs, Duration::from_secs(60)).await;
        // One writer per node, so finding the new leader costs the client nothing: followers
        // answer NOT_CONTROLLER at once; the writer of a stopped node just waits. Every
        // acknowledged write's time is recorded.
        let acks = Arc::new(std::sync::Mutex::new(Vec::<Instant>::new()));
        let stop_flag = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut writers = Vec::new();
        for (n, addr) in admin.addrs.iter().enumerate() {
            let addr = addr.clone();
            let acks = Arc::clone(&acks);
            let stop_flag = Arc::clone(&stop_flag);
            writers.push(tokio::spawn(async move {
                let mut seq = 0;
                while !stop_flag.load(Ordering::Relaxed) {
                    let Ok(mut c) = KafkaClient::connect(&addr, 60_000).await else {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        continue;
                    };
                    while !stop_flag.load(Ordering::Relaxed) {
                        seq += 1;
                        match c.send(&write(10 + n, 1, seq)).await {
                            Ok((_, r)) if r.responses.iter().all(|x| x.error_code == 0) => {
                                acks.lock().unwrap().push(Instant::now());
                                tokio::time::sleep(Duration::from_millis(2)).await;
                            }
                            Ok(_) => tokio::time::sleep(Duration::from_millis(2)).await,
                            Err(_) => break,
                        }
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let fault_at = Instant::now();
        if stop {
            cluster.pause(leader);
        } else {
            cluster.kill(leader);
        }
        // Wait for writes to resume.
        let resumed = loop {
            if let Some(t) = acks.lock().unwrap().iter().find(|t| **t > fault_at) {
                break *t;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
            assert!(
                fault_at.elapsed() < Duration::from_secs(60),
                "writes never resumed"
            );
        };
        stop_flag.store(true, Ordering::Relaxed);
        let last_before = acks
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|t| **t <= fault_at)
            .copied()
            .unwrap_or(fault_at);
        println!(
            "failover run {run} ({}): writes unavailable for {} ms (fault to first write {} ms)",
            if stop { "SIGSTOP" } else { "SIGKILL" },
            resumed.duration_since(last_before).as_millis(),
            resumed.duration_since(fault_at).as_millis()
        );
        if resumed.duration_since(fault_at) > Duration::from_secs(1)
            && std::env::var_os("LOADGEN_VERBOSE").is_some()
        {
            for n in &cluster.nodes {
                let out = cluster.output(n.id);
                let tail: Vec<&str> = out.lines().rev().take(15).collect();
                eprintln!("--- node {} (leader was {leader}):", n.id);
                for l in tail.into_iter().rev() {
                    eprintln!("{l}");
                }
            }
        }
        if stop {
            cluster.resume(leader);
        } else {
            cluster.launch(leader);
        }
        for w in writers {
            w.abort();
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |name: &str, default: u64| -> u64 {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let mode = args.first().map(String::as_str).unwrap_or("all");
    // `--config key=value` (repeatable): extra configuration for every controller.
    let extra: Vec<&str> = args
        .windows(2)
        .filter(|w| w[0] == "--config")
        .map(|w| w[1].as_str())
        .collect();
    let mut cluster = Cluster::start(3, &extra);
    let admin = Admin {
        addrs: cluster.nodes.iter().map(|n| n.addr()).collect(),
    };
    wait_for_agreed_leader(&admin.addrs, Duration::from_secs(60)).await;
    let seconds = arg("--seconds", 10);
    match mode {
        "saturation" => {
            saturation(
                &admin,
                arg("--connections", 8) as usize,
                arg("--records", 2000) as usize,
                seconds,
            )
            .await
        }
        "latency" => {
            latency(
                &admin,
                arg("--rate", 1000),
                seconds,
                arg("--connections", 64) as usize,
            )
            .await
        }
        "failover" => {
            let stop = args.iter().any(|a| a == "stop");
            failover(&mut cluster, &admin, stop, arg("--runs", 5) as usize).await
        }
        _ => {
            saturation(&admin, 8, 2000, seconds).await;
            latency(&admin, 1000, seconds, 64).await;
            latency(&admin, 10_000, seconds, 64).await;
            failover(&mut cluster, &admin, false, 3).await;
            failover(&mut cluster, &admin, true, 3).await;
        }
    }
}
