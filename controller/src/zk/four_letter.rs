//! The four-letter words the front answers on its client port (ZooKeeper's `4lw`), when
//! `4lw.commands.whitelist` allows them; any other gets ZooKeeper's refusal text.

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
        "srvr" | "stat" => format!(
            "Zookeeper version: {VERSION}\nLatency min/avg/max: 0/0/0\nReceived: {}\n\
             Sent: {}\nConnections: {}\nOutstanding: 0\nZxid: 0x{:x}\nMode: {}\nNode count: {}\n",
            front.received.load(Ordering::Relaxed),
            front.sent.load(Ordering::Relaxed),
            front.connections(),
            latest.zxid().max(0),
            front.feed.mode(),
            latest.image.zk.node_count(),
        ),
        other => format!("{other} is not served by this node yet.\n"),
    }
}
