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
use metaquorum_controller::node::{Effect, NodeConfig};
use metaquorum_controller::raft::{
    ElectionState, LogOp, LogStore, MemFlush, MemStore, Message, Millis, NodeId, Offset,
    ProposalOutcome, RaftConfig, RoleKind, SnapshotId,
};
use metaquorum_log::batch::RecordData;
use metaquorum_log::Epoch;

use crate::sim::{encode_snapshot, entries_of};
use crate::values::ValueLog;

/// The real node, over the in-memory store.
type Replica = metaquorum_controller::node::Node<ValueLog, MemStore>;

struct HNode {
    node: Option<Replica>,
    down_store: Option<MemStore>,
    persisted: Option<ElectionState>,
    auto_flush: bool,
    /// A flush the node began while auto-flush was off, waiting for `flush`.
    held_flush: Option<MemFlush>,
    /// (role, epoch, leader, hw) last printed.
    shown: Option<(RoleKind, Epoch, Option<NodeId>, Offset)>,
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
        let mut cfg = RaftConfig::new(NodeId(0));
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
                self.voters = (1..=voters).map(NodeId).collect();
                for id in 1..=voters + observers {
                    self.nodes.insert(
                        NodeId(id),
                        HNode {
                            node: None,
                            down_store: Some(MemStore::new()),
                            persisted: None,
                            auto_flush: true,
                            held_flush: None,
                            shown: None,
                        },
                    );
                }
                for id in 1..=voters + observers {
                    self.start(NodeId(id));
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
                    if let Some(node) = self.node_mut(id) {
                        let effects = node.tick(now);
                        self.perform(id, effects);
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
                let now = self.now;
                let node = self.node_mut(id).ok_or("node is down")?;
                node.request(now, records);
                match node.state_machine().last_proposal.clone() {
                    Some(Ok(p)) => writeln!(self.out, "{id}: proposal {} accepted", p.0).unwrap(),
                    Some(Err(e)) => writeln!(self.out, "{id}: proposal refused: {e}").unwrap(),
                    None => return Err("the state machine made no proposal".into()),
                }
                self.ready(id);
            }
            "unreachable" => {
                // The transport of `node` found `peer` refusing connections (a dead process).
                let (id, peer) = (id_arg(0)?, id_arg(1)?);
                let now = self.now;
                let node = self.node_mut(id).ok_or("node is down")?;
                let epoch = node.core().epoch();
                node.peer_unreachable(now, peer, epoch);
                self.ready(id);
            }
            "resign" => {
                let id = id_arg(0)?;
                self.node_mut(id).ok_or("node is down")?.resign();
                self.ready(id);
            }
            "snapshot" => {
                let id = id_arg(0)?;
                let node = self.node_mut(id).ok_or("node is down")?;
                let hw = node.core().high_watermark();
                let entries =
                    entries_of(node.core().store(), Offset(0), hw).ok_or("entries missing")?;
                let sid = SnapshotId {
                    end_offset: hw,
                    epoch: entries.last().map_or(Epoch(0), |e| e.epoch),
                };
                let store = node.store_mut();
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
                // Everything written becomes durable: a flush begun now covers what one held
                // since covers, so that one is done as well.
                let h = self.nodes.get_mut(&id).ok_or("no such node")?;
                h.held_flush = None;
                let node = h.node.as_mut().ok_or("node is down")?;
                let flush = node.core().store().begin_flush();
                node.flushed(now, Ok(flush));
                let durable = node.core().store().durable_end_offset();
                writeln!(self.out, "{id}: flushed to {durable}").unwrap();
                self.ready(id);
            }
            "crash" => {
                let id = id_arg(0)?;
                let node = self.nodes.get_mut(&id).ok_or("no such node")?;
                let replica = node.node.take().ok_or("already down")?;
                node.held_flush = None;
                let mut store = replica.into_store();
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
                let q = self
                    .node_mut(id)
                    .ok_or("node is down")?
                    .core()
                    .describe_quorum();
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
                    .node
                    .as_ref()
                    .map(|n| n.core().store())
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

    fn node_mut(&mut self, id: NodeId) -> Option<&mut Replica> {
        self.nodes.get_mut(&id).and_then(|n| n.node.as_mut())
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
        let config = NodeConfig {
            raft: cfg,
            voters,
            persisted: node.persisted,
            seed: 1000 + id.get() as u64,
            now_ms: now,
            wall_ms_at_zero: 0,
        };
        node.node = Some(Replica::new(config, store, ValueLog::default()).expect("node starts"));
        self.ready(id);
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
            if let Some(node) = self.node_mut(t) {
                node.step(now, f, cid, message);
                self.ready(t);
            }
        }
    }

    /// Performs what a node's inputs led to (no timers fire).
    fn ready(&mut self, id: NodeId) {
        let now = self.now;
        if let Some(node) = self.node_mut(id) {
            let effects = node.ready(now);
            self.perform(id, effects);
        }
    }

    /// Performs a node's effects: log changes worth showing, election state, messages (queued),
    /// flushes (at once with auto-flush, else held for `flush`), proposal outcomes.
    fn perform(&mut self, id: NodeId, mut effects: Vec<Effect<MemFlush>>) {
        loop {
            let mut flushed = None;
            for effect in effects {
                let node = self.nodes.get_mut(&id).expect("node");
                match effect {
                    Effect::Wrote {
                        op: LogOp::Truncate(o),
                        ..
                    } => writeln!(self.out, "{id}: truncate log to {o}").unwrap(),
                    Effect::Wrote {
                        op: LogOp::InstallSnapshot(s),
                        ..
                    } => writeln!(
                        self.out,
                        "{id}: install snapshot {}-{}",
                        s.end_offset, s.epoch
                    )
                    .unwrap(),
                    Effect::Wrote { .. } | Effect::Proposed(_) => {}
                    Effect::PersistElectionState(s) => node.persisted = Some(s),
                    Effect::Send {
                        to,
                        correlation_id,
                        message,
                    }
                    | Effect::Reply {
                        to,
                        correlation_id,
                        message,
                    } => self.queue.push_back((id, to, correlation_id, message)),
                    Effect::Flush(f) if node.auto_flush => flushed = Some(f),
                    Effect::Flush(f) => node.held_flush = Some(f),
                    Effect::ProposalDone(p, outcome) => {
                        let text = match outcome {
                            ProposalOutcome::Committed { last_offset } => {
                                format!("committed at {last_offset}")
                            }
                            ProposalOutcome::NotAppended => "not appended (leadership lost)".into(),
                            ProposalOutcome::LeaderChanged => {
                                "outcome unknown (leadership lost)".into()
                            }
                        };
                        writeln!(self.out, "{id}: proposal {} {text}", p.0).unwrap();
                    }
                    Effect::Exit(e) => {
                        writeln!(self.out, "{id}: exits ({:?}): {}", e.code, e.reason).unwrap()
                    }
                }
            }
            let now = self.now;
            match (flushed, self.node_mut(id)) {
                (Some(f), Some(node)) => {
                    node.flushed(now, Ok(f));
                    effects = node.ready(now);
                }
                _ => break,
            }
        }
        self.show_changes(id);
    }

    fn show_changes(&mut self, id: NodeId) {
        let node = self.nodes.get_mut(&id).expect("node");
        let Some(core) = node.node.as_ref().map(|n| n.core()) else {
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
            match n.node.as_ref().map(|r| r.core()) {
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
