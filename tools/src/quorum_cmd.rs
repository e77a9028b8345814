//! `metaquorum quorum --bootstrap-controller host:port describe --status | --replication`, with
//! the fields and columns of `kafka-metadata-quorum`. The answer comes from the leader: when the
//! bootstrap controller is not the leader, the tool asks the leader it names.

use std::process::ExitCode;

use clap::Subcommand;
use kafka_protocol::messages::describe_quorum_response::{DescribeQuorumResponse, ReplicaState};
use metaquorum_controller::net::client::KafkaClient;
use metaquorum_log::clock::wall_clock_ms;

use crate::admin::{describe_quorum_request, QuorumView};

/// The `quorum` subcommands.
#[derive(Debug, Subcommand)]
pub enum QuorumCommand {
    /// Describe the metadata quorum.
    Describe {
        /// Leader, epoch, high watermark, lag and the voters.
        #[arg(
            long,
            conflicts_with = "replication",
            required_unless_present = "replication"
        )]
        status: bool,
        /// One row per replica: offsets, lag, fetch times, role.
        #[arg(long)]
        replication: bool,
        /// Print timestamps as "N ms ago".
        #[arg(long)]
        human_readable: bool,
    },
}

const TIMEOUT_MS: u64 = 5_000;

/// Runs a `quorum` subcommand against `bootstrap` (`host:port`).
pub fn run(bootstrap: &str, command: QuorumCommand) -> Result<ExitCode, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let QuorumCommand::Describe {
        status,
        replication,
        human_readable,
    } = command;
    let (response, cluster_id) = runtime.block_on(describe(bootstrap))?;
    let p = response
        .topics
        .first()
        .and_then(|t| t.partitions.first())
        .ok_or("the DescribeQuorum response has no partition")?;
    if p.error_code != 0 {
        return Err(format!(
            "DescribeQuorum failed with error code {}{}",
            p.error_code,
            p.error_message
                .as_ref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        ));
    }
    if status {
        print!("{}", render_status(&response, &cluster_id));
    } else if replication {
        print!(
            "{}",
            render_replication(&response, human_readable, wall_clock_ms())
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Asks `bootstrap`, then the leader it names if that is another node.
async fn describe(bootstrap: &str) -> Result<(DescribeQuorumResponse, String), String> {
    let mut client = KafkaClient::connect(bootstrap, TIMEOUT_MS)
        .await
        .map_err(|e| e.to_string())?;
    let cluster_id = cluster_id(&mut client).await;
    let (_, first) = client
        .send(&describe_quorum_request())
        .await
        .map_err(|e| e.to_string())?;
    let leader = first
        .topics
        .first()
        .and_then(|t| t.partitions.first())
        .map(|p| p.leader_id.0)
        .unwrap_or(-1);
    let asked_leader = first
        .topics
        .first()
        .and_then(|t| t.partitions.first())
        .is_some_and(|p| {
            p.current_voters
                .iter()
                .any(|v| v.replica_id.0 == leader && v.last_fetch_timestamp >= 0)
        });
    if leader < 0 || asked_leader {
        return Ok((first, cluster_id));
    }
    let view = QuorumView::from_describe_quorum(&first).unwrap_or_default();
    let Some(addr) = view.leader_addr() else {
        return Ok((first, cluster_id));
    };
    match KafkaClient::connect(addr, TIMEOUT_MS).await {
        Ok(mut c) => match c.send(&describe_quorum_request()).await {
            Ok((_, r)) => Ok((r, cluster_id)),
            Err(_) => Ok((first, cluster_id)),
        },
        Err(_) => Ok((first, cluster_id)),
    }
}

async fn cluster_id(client: &mut KafkaClient) -> String {
    use kafka_protocol::messages::DescribeClusterRequest;
    let req = DescribeClusterRequest::default().with_endpoint_type(2);
    match client.send(&req).await {
        Ok((_, r)) => r.cluster_id.to_string(),
        Err(_) => "unknown".into(),
    }
}

fn voter_json(r: &ReplicaState, resp: &DescribeQuorumResponse) -> String {
    let endpoints: Vec<String> = resp
        .nodes
        .iter()
        .find(|n| n.node_id.0 == r.replica_id.0)
        .map(|n| {
            n.listeners
                .iter()
                .map(|l| format!("\"{}://{}:{}\"", l.name, l.host, l.port))
                .collect()
        })
        .unwrap_or_default();
    let dir = metaquorum_log::kafka_uuid::to_kafka_string(r.replica_directory_id);
    format!(
        "{{\"id\":{},\"directoryId\":\"{}\",\"endpoints\":[{}]}}",
        r.replica_id.0,
        dir,
        endpoints.join(",")
    )
}

/// The `--status` text.
pub fn render_status(resp: &DescribeQuorumResponse, cluster_id: &str) -> String {
    let Some(p) = resp.topics.first().and_then(|t| t.partitions.first()) else {
        return String::new();
    };
    let leader = p.leader_id.0;
    let leader_state = p.current_voters.iter().find(|v| v.replica_id.0 == leader);
    let (max_lag, max_lag_ms) = match leader_state {
        Some(l) => {
            let min_leo = p
                .current_voters
                .iter()
                .map(|v| v.log_end_offset)
                .min()
                .unwrap_or(l.log_end_offset);
            let laggiest = p.current_voters.iter().min_by_key(|v| v.log_end_offset);
            let lag_ms = match laggiest {
                Some(v) if v.replica_id.0 == leader => 0,
                Some(v) if v.last_caught_up_timestamp >= 0 && l.last_caught_up_timestamp >= 0 => {
                    l.last_caught_up_timestamp - v.last_caught_up_timestamp
                }
                _ => -1,
            };
            (l.log_end_offset - min_leo, lag_ms)
        }
        None => (-1, -1),
    };
    let voters: Vec<String> = p
        .current_voters
        .iter()
        .map(|v| voter_json(v, resp))
        .collect();
    let observers: Vec<String> = p
        .observers
        .iter()
        .map(|o| {
            format!(
                "{{\"id\":{},\"directoryId\":\"{}\"}}",
                o.replica_id.0,
                metaquorum_log::kafka_uuid::to_kafka_string(o.replica_directory_id)
            )
        })
        .collect();
    format!(
        "ClusterId:              {cluster_id}\n\
         LeaderId:               {leader}\n\
         LeaderEpoch:            {}\n\
         HighWatermark:          {}\n\
         MaxFollowerLag:         {max_lag}\n\
         MaxFollowerLagTimeMs:   {max_lag_ms}\n\
         CurrentVoters:          [{}]\n\
         CurrentObservers:       [{}]\n",
        p.leader_epoch,
        p.high_watermark,
        voters.join(","),
        observers.join(",")
    )
}

/// The `--replication` table.
pub fn render_replication(resp: &DescribeQuorumResponse, human: bool, now_ms: i64) -> String {
    let Some(p) = resp.topics.first().and_then(|t| t.partitions.first()) else {
        return String::new();
    };
    let leader = p.leader_id.0;
    let leader_leo = p
        .current_voters
        .iter()
        .find(|v| v.replica_id.0 == leader)
        .map_or(-1, |v| v.log_end_offset);
    let ts = |t: i64| {
        if t < 0 {
            "-1".to_string()
        } else if human {
            format!("{} ms ago", (now_ms - t).max(0))
        } else {
            t.to_string()
        }
    };
    let mut rows = vec![[
        "NodeId".to_string(),
        "DirectoryId".to_string(),
        "LogEndOffset".to_string(),
        "Lag".to_string(),
        "LastFetchTimestamp".to_string(),
        "LastCaughtUpTimestamp".to_string(),
        "Status".to_string(),
    ]];
    let mut push = |r: &ReplicaState, status: &str| {
        let lag = if leader_leo >= 0 && r.log_end_offset >= 0 {
            (leader_leo - r.log_end_offset).to_string()
        } else {
            "-1".to_string()
        };
        rows.push([
            r.replica_id.0.to_string(),
            metaquorum_log::kafka_uuid::to_kafka_string(r.replica_directory_id),
            r.log_end_offset.to_string(),
            lag,
            ts(r.last_fetch_timestamp),
            ts(r.last_caught_up_timestamp),
            status.to_string(),
        ]);
    };
    let mut voters: Vec<&ReplicaState> = p.current_voters.iter().collect();
    voters.sort_by_key(|v| (v.replica_id.0 != leader, v.replica_id.0));
    for v in voters {
        push(
            v,
            if v.replica_id.0 == leader {
                "Leader"
            } else {
                "Follower"
            },
        );
    }
    for o in &p.observers {
        push(o, "Observer");
    }
    let widths: Vec<usize> = (0..7)
        .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in &rows {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(c, cell)| format!("{cell:<w$}", w = widths[c]))
            .collect();
        out.push_str(line.join("\t").trim_end());
        out.push('\n');
    }
    out
}
