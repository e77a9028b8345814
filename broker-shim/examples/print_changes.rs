//! A host broker in a few lines: joins a metaquorum cluster as broker `<broker-id>` and prints
//! every metadata change as it arrives, through the listener API.
//!
//! ```text
//! metaquorum local-cluster --brokers 0            # note "bootstrap controllers" and the id
//! cargo run -p metaquorum-broker-shim --example print_changes -- \
//!     1@127.0.0.1:PORT1,2@127.0.0.1:PORT2,3@127.0.0.1:PORT3 <cluster-id> 201
//! metaquorum topics --bootstrap-controller 127.0.0.1:PORT1 create --topic demo --partitions 3
//! ```
//!
//! The cluster id is in any node's `data/meta.properties`. The broker's data goes to a fresh
//! temporary directory; Ctrl-C shuts it down with a controlled shutdown.

use metaquorum_log::NodeId;
use std::collections::BTreeMap;

use metaquorum_broker_shim::{BrokerShim, MetadataEvent};
use metaquorum_controller::config::Config;
use metaquorum_controller::storage::{self, FormatOptions, InitialControllers};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("METAQUORUM_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (voters, cluster_id) = match (args.first(), args.get(1)) {
        (Some(v), Some(c)) => (v.clone(), c.clone()),
        _ => {
            eprintln!("usage: print_changes <id@host:port,...> <cluster-id> [broker-id]");
            std::process::exit(2);
        }
    };
    let broker_id: i32 = args.get(2).map_or(Ok(201), |s| s.parse())?;
    let dir = tempfile::tempdir()?;
    let port = metaquorum_controller::config::free_loopback_ports(1)?[0];
    let props: BTreeMap<String, String> = [
        ("node.id", broker_id.to_string()),
        ("process.roles", "broker".into()),
        ("controller.quorum.voters", voters),
        ("listeners", format!("PLAINTEXT://127.0.0.1:{port}")),
        ("controller.listener.names", "CONTROLLER".into()),
        ("log.dirs", dir.path().display().to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let config: Config = Config::from_properties(props)?.config;
    storage::format(
        &config,
        &FormatOptions {
            cluster_id,
            release_version: None,
            ignore_formatted: false,
            initial_controllers: InitialControllers::Unspecified,
        },
        &mut std::io::sink(),
    )?;
    let shim = BrokerShim::start(&config).await?;
    println!("broker {broker_id} started; waiting for metadata changes (Ctrl-C stops)");
    let mut updates = shim.subscribe();
    loop {
        tokio::select! {
            update = updates.next() => {
                let Some(update) = update else { break };
                for event in update.events(NodeId(broker_id)) {
                    println!("offset {:>6}  {}", update.offset(), describe(&event));
                }
            }
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    println!("controlled shutdown...");
    shim.shutdown().await;
    Ok(())
}

/// One line per event.
fn describe(event: &MetadataEvent) -> String {
    match event {
        MetadataEvent::TopicCreated {
            name, partitions, ..
        } => {
            format!("topic {name} created with {partitions} partitions")
        }
        MetadataEvent::TopicDeleted { name, .. } => format!("topic {name} deleted"),
        MetadataEvent::PartitionChanged {
            topic,
            partition,
            leader,
            isr,
            ..
        } => format!("{topic}-{partition}: leader {leader}, isr {isr:?}"),
        MetadataEvent::LocalLeader {
            topic,
            partition,
            leader_epoch,
            ..
        } => {
            format!("{topic}-{partition}: this broker leads (epoch {leader_epoch})")
        }
        MetadataEvent::LocalFollower {
            topic,
            partition,
            leader,
            ..
        } => {
            format!("{topic}-{partition}: this broker follows {leader}")
        }
        MetadataEvent::LocalReplicaRemoved { topic, partition } => {
            format!("{topic}-{partition}: replica removed from this broker")
        }
        other => format!("{other:?}"),
    }
}
