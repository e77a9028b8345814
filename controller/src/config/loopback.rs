//! The configuration of a controller, broker or combined node on 127.0.0.1, as `metaquorum
//! local-cluster` and the multi-process tests write it: one place, so the quick start runs what
//! the tests test.

use std::path::Path;

/// One loopback controller's settings.
#[derive(Debug, Clone, Copy)]
pub struct LoopbackController<'a> {
    /// `node.id`.
    pub id: i32,
    /// Every voter as `id@127.0.0.1:port`.
    pub voters: &'a [String],
    /// The controller listener's port.
    pub port: u16,
    /// The `/metrics` port.
    pub metrics_port: u16,
    /// `log.dirs`.
    pub data_dir: &'a Path,
}

impl LoopbackController<'_> {
    /// The `.properties` text, with `extra` lines (`key=value`) appended.
    pub fn properties(&self, extra: &[&str]) -> String {
        let mut text = format!(
            "node.id={}\n\
             process.roles=controller\n\
             controller.quorum.voters={}\n\
             listeners=CONTROLLER://127.0.0.1:{}\n\
             controller.listener.names=CONTROLLER\n\
             log.dirs={}\n\
             metrics.prometheus.listener=127.0.0.1:{}\n",
            self.id,
            self.voters.join(","),
            self.port,
            self.data_dir.display(),
            self.metrics_port
        );
        for line in extra {
            text.push_str(line);
            text.push('\n');
        }
        text
    }
}

/// One loopback broker's settings (`process.roles=broker`), or a combined node's
/// (`broker,controller`) when `controller_port` is set.
#[derive(Debug, Clone, Copy)]
pub struct LoopbackBroker<'a> {
    /// `node.id`.
    pub id: i32,
    /// Every voter as `id@127.0.0.1:port`.
    pub voters: &'a [String],
    /// The client (PLAINTEXT) listener's port.
    pub port: u16,
    /// Combined mode: the controller listener's port.
    pub controller_port: Option<u16>,
    /// The `/metrics` port.
    pub metrics_port: u16,
    /// `log.dirs`.
    pub data_dir: &'a Path,
}

impl LoopbackBroker<'_> {
    /// The `.properties` text, with `extra` lines (`key=value`) appended.
    pub fn properties(&self, extra: &[&str]) -> String {
        let (roles, listeners) = match self.controller_port {
            Some(c) => (
                "broker,controller",
                format!(
                    "PLAINTEXT://127.0.0.1:{},CONTROLLER://127.0.0.1:{c}",
                    self.port
                ),
            ),
            None => ("broker", format!("PLAINTEXT://127.0.0.1:{}", self.port)),
        };
        let mut text = format!(
            "node.id={}\n\
             process.roles={roles}\n\
             controller.quorum.voters={}\n\
             listeners={listeners}\n\
             controller.listener.names=CONTROLLER\n\
             log.dirs={}\n\
             metrics.prometheus.listener=127.0.0.1:{}\n",
            self.id,
            self.voters.join(","),
            self.data_dir.display(),
            self.metrics_port
        );
        for line in extra {
            text.push_str(line);
            text.push('\n');
        }
        text
    }
}

/// `n` distinct free TCP ports on 127.0.0.1. All are held open until every one is chosen: the
/// kernel may hand a just-released port out again, so choosing them one at a time can return
/// the same port twice. Another process may still take one before it is bound; that is a
/// loopback-cluster risk, not a production one.
pub fn free_loopback_ports(n: usize) -> std::io::Result<Vec<u16>> {
    let held = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<std::io::Result<Vec<_>>>()?;
    held.iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect()
}
