//! Transcript tests of the consensus core, in the manner of etcd's `datadriven`: a text file of
//! commands, each followed by `----` and the output it must produce. `REWRITE=1` rewrites the
//! files with the actual output, to be read as a diff.
//!
//! The [`Harness`] drives a cluster by hand: time moves only on `elapse`, a node's timers fire
//! only when it is ticked, and messages move only on `deliver` / `stabilize`, so every schedule
//! (the Raft paper's Figure 8, a partition that heals) can be written down exactly.
//!
//! Commands:
//! - `cluster voters=<n> [observers=<m>] [fetch-bytes=<b>] [chunk-bytes=<b>]`
//! - `elapse <ms> [nodes=<id,...>]` — move time, tick those nodes (default all running)
//! - `deliver [from=<id>] [to=<id>] [drop]` — deliver (or drop) the queued messages that match
//! - `stabilize` — deliver until nothing is queued
//! - `propose <id> <value>...`, `resign <id>`, `snapshot <id>`
//! - `partition <ids> / <ids>`, `block <from> <to>` (one way), `heal`
//! - `auto-flush <id> on|off`, `flush <id>`
//! - `crash <id>` (loses what was not flushed), `restart <id>`
//! - `unreachable <id> <peer>` — the transport of `<id>` found `<peer>` refusing connections
//! - `status`, `describe <id>` (DescribeQuorum), `log <id>`, `queue`

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Write as _;

use bytes::Bytes;
use metaquorum_controller::raft::{
    ElectionState, LogOp, LogStore, MemStore, Message, Millis, NodeId, Offset, ProposalOutcome,
    RaftConfig, RaftCore, RoleKind, SnapshotId,
};
use metaquorum_log::batch::RecordData;

use crate::sim::{encode_snapshot, entries_of};

struct HNode {
    core: Option<RaftCore<MemStore>>,
    down_store: Option<MemStore>,
    persisted: Option<ElectionState>,
    auto_flush: bool,
    /// (role, epoch, leader, hw) last printed.
    shown: Option<(RoleKind, i32, Option<NodeId>, Offset)>,
}

/// A hand-driven cluster.
pub struct Harness {
    now: Millis,
    cfg: RaftConfig,
    voters: BTreeSet<NodeId>,
    nodes: BTreeMap<NodeId, HNode>,
    queue: VecDeque<(NodeId, NodeId, u64, Message)>,
    blocked: BTreeSet<(NodeId, NodeId)>,
    out: String,
}

impl Default for Harness {
    fn default() -> Self {
        Self::new()
    }
}

impl Harness {
    /// An empty harness; `cluster` creates the nodes.
    pub fn new() -> Self {
        let mut cfg = RaftConfig::new(0);
        cfg.election_timeout_ms = 100;
        cfg.fetch_timeout_ms = 200;
        cfg.request_timeout_ms = 50;
        cfg.retry_backoff_ms = 10;
        cfg.election_backoff_max_ms = 100;
        cfg.fetch_max_wait_ms = 40;
        Harness {
            now: 0,
            cfg,
            voters: BTreeSet::new(),
            nodes: BTreeMap::new(),
            queue: VecDeque::new(),
            blocked: BTreeSet::new(),
            out: String::new(),
        }
    }

    /// Runs one command with its arguments and returns its output.
    pub fn run(&mut self, line: &str) -> Result<String, String> {
        self.out.clear();
        let words: Vec<&str> = line.split_whitespace().collect();
        let (cmd, args) = words.split_first().ok_or("empty command")?;
        let kv = |key: &str| -> Option<&str> {
            args.iter()
                .find_map(|a| a.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
        };
        let id_arg = |i: usize| -> Result<NodeId, String> {
            args.get(i)
                .ok_or(format!("{cmd}: missing node id"))?
                .parse()
                .map_err(|_| format!("{cmd}: bad node id"))
        };
        match *cmd {
            "cluster" => {
                let voters: i32 = kv("voters")
                    .ok_or("cluster needs voters=")?
                    .parse()
                    .map_err(|_| "bad voters")?;
                let observers: i32 = kv("observers")
                    .map_or(Ok(0), str::parse)
                    .map_err(|_| "bad observers")?;
                if let Some(b) = kv("fetch-bytes") {
                    self.cfg.fetch_bytes_max = b.parse().map_err(|_| "bad fetch-bytes")?;
                }
                if let Some(b) = kv("chunk-bytes") {
                    self.cfg.snapshot_chunk_bytes_max = b.parse().map_err(|_| "bad chunk-bytes")?;
                }
                self.voters = (1..=voters).collect();
                for id in 1..=voters + observers {
                    self.nodes.insert(
                        id,
                        HNode {
                            core: None,
                            down_store: Some(MemStore::new()),
                            persisted: None,
                            auto_flush: true,
                            shown: None,
                        },
                    );
                }
                for id in 1..=voters + observers {
                    self.start(id);
                }
            }
            "elapse" => {
                let ms: u64 = args
                    .first()
                    .ok_or("elapse needs ms")?
                    .parse()
                    .map_err(|_| "bad ms")?;
                self.now += ms;
                let targets: Vec<NodeId> = match kv("nodes") {
                    Some(list) => list
                        .split(',')
                        .map(|x| x.parse().map_err(|_| "bad nodes"))
                        .collect::<Result<_, _>>()?,
                    None => self.nodes.keys().copied().collect(),
                };
                for id in targets {
                    let now = self.now;
                    if let Some(core) = self.core_mut(id) {
                        core.tick(now);
                        self.drive(id);
                    }
                }
            }
            "deliver" => {
                let from = kv("from")
                    .map(str::parse::<NodeId>)
                    .transpose()
                    .map_err(|_| "bad from")?;
                let to = kv("to")
                    .map(str::parse::<NodeId>)
                    .transpose()
                    .map_err(|_| "bad to")?;
                let drop = args.contains(&"drop");
                self.deliver(from, to, drop);
            }
            "stabilize" => {
                let mut rounds = 0;
                while !self.queue.is_empty() {
                    rounds += 1;
                    if rounds > 200 {
                        return Err("stabilize: still not stable after 200 rounds".into());
                    }
                    self.deliver(None, None, false);
                }
            }
            "propose" => {
                let id = id_arg(0)?;
                let records = args[1..]
                    .iter()
                    .map(|v| RecordData {
                        key: None,
                        value: Some(Bytes::from(v.to_string())),
                    })
                    .collect();
                let core = self.core_mut(id).ok_or("node is down")?;
                match core.propose(records) {
                    Ok(p) => writeln!(self.out, "{id}: proposal {} accepted", p.0).unwrap(),
                    Err(e) => writeln!(self.out, "{id}: proposal refused: {e}").unwrap(),
                }
                self.drive(id);
            }
            "unreachable" => {
                // The transport of `node` found `peer` refusing connections (a dead process).
                let (id, peer) = (id_arg(0)?, id_arg(1)?);
                let now = self.now;
                let core = self.core_mut(id).ok_or("node is down")?;
                let epoch = core.epoch();
                core.peer_unreachable(now, peer, epoch);
                self.drive(id);
            }
            "resign" => {
                let id = id_arg(0)?;
                self.core_mut(id).ok_or("node is down")?.resign();
                self.drive(id);
            }
            "snapshot" => {
                let id = id_arg(0)?;
                let core = self.core_mut(id).ok_or("node is down")?;
                let hw = core.high_watermark();
                let entries = entries_of(core.store(), 0, hw).ok_or("entries missing")?;
                let sid = SnapshotId {
                    end_offset: hw,
                    epoch: entries.last().map_or(0, |e| e.epoch),
                };
                let store = core.store_mut();
                store.create_snapshot(sid, encode_snapshot(&entries));
                store.delete_before_latest_snapshot(1);
                let start = store.log_start_offset();
                writeln!(
                    self.out,
                    "{id}: snapshot {}-{}, log starts at {start}",
                    sid.end_offset, sid.epoch
                )
                .unwrap();
            }
            "partition" => {
                let text = args.join(" ");
                let (a, b) = text.split_once('/').ok_or("partition a b / c")?;
                let parse = |s: &str| {
                    s.split_whitespace()
                        .map(|x| x.parse::<NodeId>().map_err(|_| "bad id".to_string()))
                        .collect::<Result<Vec<_>, _>>()
                };
                let (a, b) = (parse(a)?, parse(b)?);
                for x in &a {
                    for y in &b {
                        self.blocked.insert((*x, *y));
                        self.blocked.insert((*y, *x));
                    }
                }
            }
            "block" => {
                let (a, b) = (id_arg(0)?, id_arg(1)?);
                self.blocked.insert((a, b));
            }
            "heal" => self.blocked.clear(),
            "auto-flush" => {
                let id = id_arg(0)?;
                let on = args.get(1) == Some(&"on");
                self.nodes.get_mut(&id).ok_or("no such node")?.auto_flush = on;
            }
            "flush" => {
                let id = id_arg(0)?;
                let now = self.now;
                let core = self.core_mut(id).ok_or("node is down")?;
                core.store_mut().flush().map_err(|e| e.to_string())?;
                core.handle_log_flushed(now);
                let durable = core.store().durable_end_offset();
                writeln!(self.out, "{id}: flushed to {durable}").unwrap();
                self.drive(id);
            }
            "crash" => {
                let id = id_arg(0)?;
                let node = self.nodes.get_mut(&id).ok_or("no such node")?;
                let core = node.core.take().ok_or("already down")?;
                let mut store = core.into_store();
                store.crash();
                writeln!(
                    self.out,
                    "{id}: crashed; log end {} (durable)",
                    store.end_offset()
                )
                .unwrap();
                node.down_store = Some(store);
                node.shown = None;
                self.queue.retain(|m| m.1 != id);
            }
            "restart" => {
                let id = id_arg(0)?;
                self.start(id);
            }
            "status" => self.status(),
            "describe" => {
                // DescribeQuorum, as the named node answers it.
                let id = id_arg(0)?;
                let q = self.core_mut(id).ok_or("node is down")?.describe_quorum();
                writeln!(
                    self.out,
                    "leader {} epoch {} high-watermark {}",
                    show_leader(q.leader_id),
                    q.leader_epoch,
                    q.high_watermark
                )
                .unwrap();
                for (kind, list) in [("voter", &q.voters), ("observer", &q.observers)] {
                    for r in list {
                        writeln!(
                            self.out,
                            "  {kind} {} log-end {} last-fetch {} last-caught-up {}",
                            r.replica_id,
                            r.log_end_offset.map_or("-1".into(), |o| o.to_string()),
                            r.last_fetch_ms.map_or("-1".into(), |t| t.to_string()),
                            r.last_caught_up_ms.map_or("-1".into(), |t| t.to_string())
                        )
                        .unwrap();
                    }
                }
            }
            "log" => {
                let id = id_arg(0)?;
                let node = self.nodes.get(&id).ok_or("no such node")?;
                let store = node
                    .core
                    .as_ref()
                    .map(|c| c.store())
                    .or(node.down_store.as_ref())
                    .ok_or("no store")?;
                writeln!(
                    self.out,
                    "{id}: log [{}, {}) durable {} snapshot {:?}",
                    store.log_start_offset(),
                    store.end_offset(),
                    store.durable_end_offset(),
                    store.latest_snapshot().map(|s| (s.end_offset, s.epoch))
                )
                .unwrap();
                for b in store.batches() {
                    let values: Vec<String> = b
                        .records
                        .iter()
                        .map(|r| {
                            if b.control {
                                "<leader-change>".to_string()
                            } else {
                                String::from_utf8_lossy(r.value.as_deref().unwrap_or_default())
                                    .into_owned()
                            }
                        })
                        .collect();
                    writeln!(
                        self.out,
                        "  {}..{} epoch {} {}",
                        b.base_offset,
                        b.next_offset() - 1,
                        b.epoch,
                        values.join(" ")
                    )
                    .unwrap();
                }
            }
            "queue" => {
                for (from, to, _, m) in &self.queue {
                    writeln!(self.out, "{from}->{to} {}", describe(m)).unwrap();
                }
            }
            other => return Err(format!("unknown command {other}")),
        }
        Ok(std::mem::take(&mut self.out))
    }

    fn core_mut(&mut self, id: NodeId) -> Option<&mut RaftCore<MemStore>> {
        self.nodes.get_mut(&id).and_then(|n| n.core.as_mut())
    }

    fn start(&mut self, id: NodeId) {
        let mut cfg = self.cfg.clone();
        cfg.node_id = id;
        let voters = self.voters.clone();
        let now = self.now;
        let node = self.nodes.get_mut(&id).expect("node");
        let Some(store) = node.down_store.take() else {
            return;
        };
        // A fixed seed per node: the election jitter is part of the transcript.
        node.core = Some(RaftCore::new(
            cfg,
            store,
            voters,
            node.persisted,
            now,
            1000 + id as u64,
        ));
        self.drive(id);
    }

    fn deliver(&mut self, from: Option<NodeId>, to: Option<NodeId>, drop: bool) {
        let batch: Vec<_> = std::mem::take(&mut self.queue).into_iter().collect();
        for m in batch {
            let matches = from.is_none_or(|f| f == m.0) && to.is_none_or(|t| t == m.1);
            if !matches {
                self.queue.push_back(m);
                continue;
            }
            let (f, t, cid, message) = m;
            if drop {
                writeln!(self.out, "{f}->{t} {} (dropped)", describe(&message)).unwrap();
                continue;
            }
            if self.blocked.contains(&(f, t)) {
                writeln!(self.out, "{f}->{t} {} (blocked)", describe(&message)).unwrap();
                continue;
            }
            writeln!(self.out, "{f}->{t} {}", describe(&message)).unwrap();
            let now = self.now;
            if let Some(core) = self.core_mut(t) {
                core.step(now, f, cid, message);
                self.drive(t);
            }
        }
    }

    /// Performs the node's Readys: log operations, election state, messages, flush.
    fn drive(&mut self, id: NodeId) {
        loop {
            let now = self.now;
            let node = self.nodes.get_mut(&id).expect("node");
            let Some(core) = node.core.as_mut() else {
                return;
            };
            let ready = core.ready();
            if ready.is_empty() {
                break;
            }
            for op in ready.log_ops {
                let line = match &op {
                    LogOp::Truncate(o) => Some(format!("{id}: truncate log to {o}")),
                    LogOp::InstallSnapshot(s) => Some(format!(
                        "{id}: install snapshot {}-{}",
                        s.end_offset, s.epoch
                    )),
                    _ => None,
                };
                if let Some(l) = line {
                    writeln!(self.out, "{l}").unwrap();
                }
                core.store_mut()
                    .apply(op)
                    .expect("store applies the core's operations");
            }
            if let Some(s) = ready.election_state {
                node.persisted = Some(s);
            }
            for (to, cid, m) in ready.messages {
                self.queue.push_back((id, to, cid, m));
            }
            if ready.flush && node.auto_flush {
                core.store_mut().flush().expect("flush");
                core.handle_log_flushed(now);
            }
            for (p, outcome) in ready.proposals {
                let text = match outcome {
                    ProposalOutcome::Committed { last_offset } => {
                        format!("committed at {last_offset}")
                    }
                    ProposalOutcome::NotAppended => "not appended (leadership lost)".into(),
                    ProposalOutcome::LeaderChanged => "outcome unknown (leadership lost)".into(),
                };
                writeln!(self.out, "{id}: proposal {} {text}", p.0).unwrap();
            }
            core.advance();
        }
        self.show_changes(id);
    }

    fn show_changes(&mut self, id: NodeId) {
        let node = self.nodes.get_mut(&id).expect("node");
        let Some(core) = node.core.as_ref() else {
            return;
        };
        let now = (
            core.role(),
            core.epoch(),
            core.leader_id(),
            core.high_watermark(),
        );
        let before = node.shown.replace(now);
        if before.map(|b| (b.0, b.1, b.2)) != Some((now.0, now.1, now.2)) {
            writeln!(
                self.out,
                "{id}: {:?} epoch {} leader {}",
                now.0,
                now.1,
                show_leader(now.2)
            )
            .unwrap();
        }
        if before.map(|b| b.3) != Some(now.3) && before.is_some() {
            writeln!(self.out, "{id}: high watermark {}", now.3).unwrap();
        }
    }

    fn status(&mut self) {
        for (id, n) in &self.nodes {
            match &n.core {
                Some(c) => writeln!(
                    self.out,
                    "{id}: {:?}{} epoch {} leader {} hw {} end {} durable {}",
                    c.role(),
                    if c.is_voter() { "" } else { " (observer)" },
                    c.epoch(),
                    show_leader(c.leader_id()),
                    c.high_watermark(),
                    c.store().end_offset(),
                    c.store().durable_end_offset()
                )
                .unwrap(),
                None => writeln!(self.out, "{id}: down").unwrap(),
            }
        }
    }
}

fn show_leader(l: Option<NodeId>) -> String {
    l.map_or("none".into(), |l| l.to_string())
}

/// One line per message, with the fields that matter.
pub fn describe(m: &Message) -> String {
    match m {
        Message::VoteRequest {
            replica_epoch,
            last_offset_epoch,
            last_offset,
            pre_vote,
            ..
        } => format!("{} epoch={replica_epoch} last={last_offset_epoch}@{last_offset}", if *pre_vote { "PreVote" } else { "Vote" }),
        Message::VoteResponse {
            error,
            leader_epoch,
            leader_id,
            vote_granted,
            pre_vote,
        } => format!(
            "{} {} epoch={leader_epoch} leader={}{}",
            if *pre_vote { "PreVoteResponse" } else { "VoteResponse" },
            if *vote_granted { "granted" } else { "rejected" },
            show_leader(*leader_id),
            show_error(*error)
        ),
        Message::BeginQuorumEpochRequest { leader_epoch, leader_id } => format!("BeginQuorumEpoch epoch={leader_epoch} leader={leader_id}"),
        Message::BeginQuorumEpochResponse { error, leader_epoch, .. } => format!("BeginQuorumEpochResponse epoch={leader_epoch}{}", show_error(*error)),
        Message::EndQuorumEpochRequest {
            leader_epoch,
            leader_id,
            preferred_successors,
        } => format!("EndQuorumEpoch epoch={leader_epoch} leader={leader_id} successors={preferred_successors:?}"),
        Message::EndQuorumEpochResponse { leader_epoch, .. } => format!("EndQuorumEpochResponse epoch={leader_epoch}"),
        Message::FetchRequest {
            current_leader_epoch,
            fetch_offset,
            last_fetched_epoch,
            ..
        } => format!("Fetch epoch={current_leader_epoch} offset={fetch_offset} last-epoch={last_fetched_epoch}"),
        Message::FetchResponse {
            error,
            leader_epoch,
            high_watermark,
            records,
            diverging_epoch,
            snapshot_id,
            ..
        } => {
            let mut s = format!("FetchResponse epoch={leader_epoch} hw={high_watermark}");
            if !records.is_empty() {
                let r: Vec<String> = records.iter().map(|b| format!("{}..{}@{}", b.base_offset, b.next_offset() - 1, b.epoch)).collect();
                write!(s, " records={}", r.join(",")).unwrap();
            }
            if let Some(d) = diverging_epoch {
                write!(s, " diverging={}@{}", d.epoch, d.end_offset).unwrap();
            }
            if let Some(id) = snapshot_id {
                write!(s, " snapshot={}-{}", id.end_offset, id.epoch).unwrap();
            }
            s + &show_error(*error)
        }
        Message::FetchSnapshotRequest { snapshot_id, position, .. } => format!("FetchSnapshot id={}-{} position={position}", snapshot_id.end_offset, snapshot_id.epoch),
        Message::FetchSnapshotResponse {
            error,
            snapshot_id,
            size,
            position,
            bytes,
            ..
        } => format!(
            "FetchSnapshotResponse id={}-{} position={position} bytes={} size={size}{}",
            snapshot_id.end_offset,
            snapshot_id.epoch,
            bytes.len(),
            show_error(*error)
        ),
    }
}

fn show_error(e: metaquorum_controller::raft::ErrorCode) -> String {
    match e {
        metaquorum_controller::raft::ErrorCode::None => String::new(),
        other => format!(" error={other:?}"),
    }
}

/// Runs a transcript file's text; returns the text with every command's actual output.
pub fn run_transcript(text: &str) -> Result<String, String> {
    let mut h = Harness::new();
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if line.trim().is_empty() || line.starts_with('#') {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        // A command, then `----`, then its expected output up to a blank line.
        out.push_str(line);
        out.push('\n');
        if lines.peek() == Some(&"----") {
            lines.next();
            while let Some(l) = lines.peek() {
                if l.is_empty() {
                    break;
                }
                lines.next();
            }
        }
        let actual = h.run(line).map_err(|e| format!("`{line}`: {e}"))?;
        out.push_str("----\n");
        out.push_str(if actual.is_empty() { "ok\n" } else { &actual });
        out.push('\n');
        // Swallow the blank line that ended the expected block.
        if lines.peek() == Some(&"") {
            lines.next();
        }
    }
    Ok(out)
}
