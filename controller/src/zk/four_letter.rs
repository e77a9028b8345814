//! The four-letter words the front answers on its client port (ZooKeeper's `4lw`), when
//! `4lw.commands.whitelist` allows them, in ZooKeeper's formats: `ruok`, `isro`, `envi`, `srvr`,
//! `stat`, `cons`, `wchs`, `conf`, `mntr` (the classic keys; latencies are not measured yet and
//! read 0). Any other known word gets a "not served" line; one not whitelisted gets
//! ZooKeeper's refusal text.

use std::sync::atomic::Ordering;

use super::listener::Front;

/// The version string kazoo and monitoring tools parse (`zookeeper.version=` in `envi`, the
/// first line of `srvr`).
pub const VERSION: &str = concat!(
    "3.8.4-metaquorum-",
    env!("CARGO_PKG_VERSION"),
    ", built on metaquorum"
);

/// The text answering `word`.
pub(crate) fn answer_four_letter_word(word: &str, front: &Front) -> String {
    let allowed = front
        .settings
        .four_letter_words
        .iter()
        .any(|w| w == "*" || w == word);
    if !allowed {
        return format!("{word} is not executed because it is not in the whitelist.\n");
    }
    let latest = front.feed.latest();
    match word {
        "ruok" => "imok".into(),
        "isro" => "rw".into(),
        "envi" => format!(
            "Environment:\nzookeeper.version={VERSION}\nhost.name={}\n",
            front.settings.listener.ip()
        ),
        "srvr" | "stat" => {
            let mut out = format!("Zookeeper version: {VERSION}\n");
            if word == "stat" {
                out.push_str("Clients:\n");
                out.push_str(&connection_lines(front, true));
                out.push('\n');
            }
            out.push_str(&format!(
                "Latency min/avg/max: 0/0.0/0\nReceived: {}\nSent: {}\nConnections: {}\n\
                 Outstanding: 0\nZxid: 0x{:x}\nMode: {}\nNode count: {}\n",
                front.received.load(Ordering::Relaxed),
                front.sent.load(Ordering::Relaxed),
                front.connections(),
                latest.zxid().max(0),
                front.feed.mode(),
                latest.image.zk.node_count(),
            ));
            out
        }
        "cons" => format!("{}\n", connection_lines(front, false)),
        "wchs" => {
            let conns = front.snapshot();
            let watching = conns.iter().filter(|c| c.watches > 0).count();
            let paths: usize = conns.iter().map(|c| c.watched_paths).sum();
            let total: usize = conns.iter().map(|c| c.watches).sum();
            format!("{watching} connections watching {paths} paths\nTotal watches:{total}\n")
        }
        "conf" => {
            let s = &front.settings;
            format!(
                "clientPort={}\nclientPortAddress={}\ntickTime={}\nmaxClientCnxns={}\n\
                 minSessionTimeout={}\nmaxSessionTimeout={}\nserverId={}\njute.maxbuffer={}\n",
                s.listener.port(),
                s.listener.ip(),
                s.limits.tick_time_ms,
                s.max_client_cnxns,
                s.limits.min_session_timeout_ms,
                s.limits.max_session_timeout_ms,
                s.node_id,
                s.frame_bytes_max,
            )
        }
        "mntr" => {
            let conns = front.snapshot();
            let zk = &latest.image.zk;
            let lines: [(&str, String); 14] = [
                ("zk_version", VERSION.to_string()),
                ("zk_server_state", front.feed.mode().to_string()),
                ("zk_avg_latency", "0.0".into()),
                ("zk_max_latency", "0".into()),
                ("zk_min_latency", "0".into()),
                (
                    "zk_packets_received",
                    front.received.load(Ordering::Relaxed).to_string(),
                ),
                (
                    "zk_packets_sent",
                    front.sent.load(Ordering::Relaxed).to_string(),
                ),
                ("zk_num_alive_connections", front.connections().to_string()),
                ("zk_outstanding_requests", "0".into()),
                ("zk_uptime", front.uptime_ms().to_string()),
                ("zk_znode_count", zk.node_count().to_string()),
                (
                    "zk_watch_count",
                    conns.iter().map(|c| c.watches).sum::<usize>().to_string(),
                ),
                ("zk_ephemerals_count", zk.ephemeral_count().to_string()),
                ("zk_global_sessions", zk.sessions().count().to_string()),
            ];
            lines.iter().map(|(k, v)| format!("{k}\t{v}\n")).collect()
        }
        other => format!("{other} is not served by this node yet.\n"),
    }
}

/// One line per connection, as ZooKeeper's `dumpConnectionInfo` writes them (brief for `stat`).
fn connection_lines(front: &Front, brief: bool) -> String {
    let mut out = String::new();
    for c in front.snapshot() {
        let peer = c.peer.map_or_else(|| "?".to_string(), |p| p.to_string());
        out.push_str(&format!(
            " /{peer}[1](queued={},recved={},sent={}",
            c.queued, c.received, c.sent
        ));
        if !brief {
            out.push_str(&format!(",sid=0x{:x}", c.session_id));
        }
        out.push_str(")\n");
    }
    out
}
