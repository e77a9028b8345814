//! A deterministic, seeded simulator of whole KRaft clusters built from the sans-IO core: voters
//! and observers, each a [`RaftCore`] over a [`MemStore`], joined by a simulated network, all in
//! one thread over virtual time. Faults are drawn from the seed: partitions (symmetric, one-way, a
//! node that sees only one peer), crash-restart losing unflushed data, message drop, duplication,
//! reordering and delay, slow disks. After every event the safety invariants are checked; a
//! violation panics with the seed so `SIM_SEED=<n>` replays it.

use std::collections::{BTreeMap, BTreeSet};

use bytes::{Bytes, BytesMut};
use metaquorum_controller::raft::{
    Batch, ElectionState, Epoch, LogOp, LogStore, MemFlush, MemStore, Message, Millis, NodeId,
    Offset, ProposalOutcome, RaftConfig, RaftCore, RoleKind, SnapshotId,
};
use metaquorum_log::batch::RecordData;

/// One committed log position, as the invariants compare it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Epoch of the batch holding it.
    pub epoch: Epoch,
    /// Control record or data.
    pub control: bool,
    /// The record value.
    pub value: Bytes,
}

/// A small deterministic generator for the simulator's own choices.
#[derive(Debug, Clone)]
pub struct SimRng(u64);

impl SimRng {
    /// Seeded generator.
    pub fn new(seed: u64) -> Self {
        SimRng(seed ^ 0x5eed_cafe_f00d_d00d)
    }
    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..hi` (`lo` if empty).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            lo
        } else {
            lo + self.next_u64() % (hi - lo)
        }
    }
    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64 / ((1u64 << 53) as f64)) < p
    }
}

/// How hostile the run is.
#[derive(Debug, Clone)]
pub struct Faults {
    /// Probability a message is lost.
    pub drop: f64,
    /// Probability a message is delivered twice.
    pub duplicate: f64,
    /// Network delay range, ms (random delays reorder messages).
    pub delay_ms: (u64, u64),
    /// Mean time between fault events (partition, heal, crash, restart, slow disk), ms.
    pub fault_interval_ms: u64,
    /// Fsync latency range of a normal node, ms.
    pub flush_ms: (u64, u64),
}

impl Faults {
    /// No faults at all: a perfect network and instant disks.
    pub fn none() -> Self {
        Faults {
            drop: 0.0,
            duplicate: 0.0,
            delay_ms: (1, 2),
            fault_interval_ms: u64::MAX,
            flush_ms: (0, 1),
        }
    }

    /// Faults drawn from the seed, from mild to harsh.
    pub fn from_seed(rng: &mut SimRng) -> Self {
        Faults {
            drop: [0.0, 0.01, 0.05, 0.15][rng.range(0, 4) as usize],
            duplicate: [0.0, 0.02, 0.1][rng.range(0, 3) as usize],
            delay_ms: [(1, 3), (1, 20), (5, 80)][rng.range(0, 3) as usize],
            fault_interval_ms: [300, 1000, 3000][rng.range(0, 3) as usize],
            flush_ms: [(0, 2), (1, 10)][rng.range(0, 2) as usize],
        }
    }
}

/// The shape of a simulated cluster.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Number of voters (ids 1..=voters).
    pub voters: usize,
    /// Number of observers (ids after the voters).
    pub observers: usize,
    /// The run's seed.
    pub seed: u64,
    /// Faults during the safety phase.
    pub faults: Faults,
    /// Core timeouts (node id is set per node).
    pub raft: RaftConfig,
    /// Take a snapshot every this many committed records (0: never).
    pub snapshot_every: i64,
    /// Mean time between client proposals, ms.
    pub propose_interval_ms: u64,
    /// Probability that a node crashes just after it persists a vote (a targeted fault, to
    /// reach the schedules where forgetting a vote would elect two leaders).
    pub crash_after_vote: f64,
    /// Probability that a newly elected leader crashes within a few ms (before or while it
    /// replicates its first records).
    pub crash_new_leader: f64,
}

impl SimConfig {
    /// A cluster with fast timeouts, faults drawn from the seed.
    pub fn from_seed(seed: u64) -> Self {
        let mut rng = SimRng::new(seed);
        let voters = [1, 3, 5, 5][rng.range(0, 4) as usize];
        let observers = rng.range(0, 3) as usize;
        let mut raft = RaftConfig::new(0);
        raft.election_timeout_ms = 150;
        raft.fetch_timeout_ms = 300;
        raft.request_timeout_ms = 100;
        raft.retry_backoff_ms = 10;
        raft.election_backoff_max_ms = 150;
        raft.fetch_max_wait_ms = 50;
        // One batch per fetch sometimes: old-epoch records then arrive before the new leader's
        // LeaderChange, the schedule of the Raft paper's Figure 8.
        raft.fetch_bytes_max = [1, 300, 2048][rng.range(0, 3) as usize];
        raft.snapshot_chunk_bytes_max = 4096;
        raft.batch_records_max = 8;
        SimConfig {
            voters,
            observers,
            seed,
            faults: Faults::from_seed(&mut rng),
            raft,
            snapshot_every: [0, 20, 60][rng.range(0, 3) as usize],
            propose_interval_ms: [5, 20][rng.range(0, 2) as usize],
            crash_after_vote: [0.0, 0.0, 0.1, 0.5][rng.range(0, 4) as usize],
            crash_new_leader: [0.0, 0.0, 0.2, 0.6][rng.range(0, 4) as usize],
        }
    }
}

#[derive(Debug)]
enum Event {
    Deliver {
        from: NodeId,
        to: NodeId,
        /// The receiver's incarnation when sent: connections die with the process, so a
        /// message to an earlier run of the receiver is lost.
        to_incarnation: u32,
        cid: u64,
        message: Message,
    },
    FlushDone {
        node: NodeId,
        incarnation: u32,
    },
    Tick {
        node: NodeId,
        incarnation: u32,
    },
    Propose,
    Fault,
    /// Crash a node (if still on the same incarnation), and restart it soon after.
    Crash {
        node: NodeId,
        incarnation: u32,
    },
    /// Restart a crashed node.
    Restart {
        node: NodeId,
    },
}

struct Node {
    id: NodeId,
    core: Option<RaftCore<MemStore>>,
    /// The store while crashed.
    down_store: Option<MemStore>,
    persisted: Option<ElectionState>,
    incarnation: u32,
    flush_again: bool,
    flush: Option<MemFlush>,
    slow: bool,
    /// Tick scheduled for this time (later ticks replace it).
    tick_at: Millis,
    /// Highest high watermark seen in this incarnation.
    hw: Offset,
    /// Prefix of the committed reference this node's entries were checked against.
    verified: Offset,
    /// Prefix of the reference held durably (for the majority check).
    held: Offset,
}

/// A simulated cluster.
pub struct Sim {
    /// Its configuration.
    pub cfg: SimConfig,
    rng: SimRng,
    now: Millis,
    seq: u64,
    /// The event queue, in (time, sequence) order.
    events: BTreeMap<(Millis, u64), Event>,
    nodes: BTreeMap<NodeId, Node>,
    voters: BTreeSet<NodeId>,
    /// Links that drop everything: (from, to).
    blocked: BTreeSet<(NodeId, NodeId)>,
    faults_on: bool,
    /// The committed log, as first learned from a node's high watermark.
    committed: Vec<Entry>,
    leaders: BTreeMap<Epoch, NodeId>,
    next_value: u64,
    /// Proposals accepted and not yet resolved: (node, incarnation, proposal id) -> the value
    /// of their last record.
    pending: BTreeMap<(NodeId, u32, u64), Bytes>,
    /// Counters for the report.
    pub stats: SimStats,
    /// Trace of events, kept when `trace` is on (for replaying a failing seed).
    pub trace: Option<Vec<String>>,
}

/// What a run did.
#[derive(Debug, Default, Clone)]
pub struct SimStats {
    /// Events processed.
    pub events: u64,
    /// Messages delivered.
    pub delivered: u64,
    /// Crashes injected.
    pub crashes: u64,
    /// Proposals committed.
    pub committed_proposals: u64,
    /// Leaders elected.
    pub elections: u64,
    /// Snapshots installed from a leader.
    pub snapshots_installed: u64,
}

/// Encodes committed entries as a snapshot's bytes: (epoch i32, control u8, len u32, value)*.
pub fn encode_snapshot(entries: &[Entry]) -> Bytes {
    let mut out = BytesMut::new();
    for e in entries {
        out.extend_from_slice(&e.epoch.to_be_bytes());
        out.extend_from_slice(&[e.control as u8]);
        out.extend_from_slice(&(e.value.len() as u32).to_be_bytes());
        out.extend_from_slice(&e.value);
    }
    out.freeze()
}

/// Decodes [`encode_snapshot`]'s bytes.
pub fn decode_snapshot(mut b: &[u8]) -> Vec<Entry> {
    let mut out = Vec::new();
    while b.len() >= 9 {
        let epoch = i32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        let control = b[4] != 0;
        let len = u32::from_be_bytes([b[5], b[6], b[7], b[8]]) as usize;
        let value = Bytes::copy_from_slice(&b[9..9 + len]);
        out.push(Entry {
            epoch,
            control,
            value,
        });
        b = &b[9 + len..];
    }
    out
}

fn batch_entries(b: &Batch) -> impl Iterator<Item = Entry> + '_ {
    b.records.iter().map(move |r| Entry {
        epoch: b.epoch,
        control: b.control,
        value: r.value.clone().unwrap_or_default(),
    })
}

/// Entries `[from, to)` of a store: from its newest snapshot below the log start, then its log.
/// `None` if the store does not hold them all.
pub fn entries_of(store: &MemStore, from: Offset, to: Offset) -> Option<Vec<Entry>> {
    let mut out = Vec::with_capacity((to - from).max(0) as usize);
    let start = store.log_start_offset();
    if from < start {
        let id = store.latest_snapshot()?;
        let snap = decode_snapshot(store.snapshot(id)?);
        if (snap.len() as Offset) < start.min(to) {
            return None;
        }
        out.extend(snap[from as usize..start.min(to) as usize].iter().cloned());
    }
    if to > start {
        let mut at = from.max(start);
        let batches = store.batches();
        let mut i = batches.partition_point(|b| b.next_offset() <= at);
        while at < to {
            let b = batches.get(i)?;
            for (k, e) in batch_entries(b).enumerate() {
                let o = b.base_offset + k as Offset;
                if o >= at && o < to {
                    out.push(e);
                }
            }
            at = b.next_offset();
            i += 1;
        }
    }
    Some(out)
}

impl Sim {
    /// Builds the cluster and schedules its first events.
    pub fn new(cfg: SimConfig) -> Sim {
        let mut sim = Sim {
            rng: SimRng::new(cfg.seed),
            now: 0,
            seq: 0,
            events: BTreeMap::new(),
            nodes: BTreeMap::new(),
            voters: (1..=cfg.voters as NodeId).collect(),
            blocked: BTreeSet::new(),
            faults_on: true,
            committed: Vec::new(),
            leaders: BTreeMap::new(),
            next_value: 0,
            pending: BTreeMap::new(),
            stats: SimStats::default(),
            trace: std::env::var_os("SIM_TRACE").map(|_| Vec::new()),
            cfg,
        };
        let total = (sim.cfg.voters + sim.cfg.observers) as NodeId;
        for id in 1..=total {
            sim.nodes.insert(
                id,
                Node {
                    id,
                    core: None,
                    down_store: Some(MemStore::new()),
                    persisted: None,
                    incarnation: 0,
                    flush: None,
                    flush_again: false,
                    slow: false,
                    tick_at: Millis::MAX,
                    hw: 0,
                    verified: 0,
                    held: 0,
                },
            );
        }
        for id in 1..=total {
            sim.start(id);
        }
        let t = sim.rng.range(1, sim.cfg.propose_interval_ms * 2);
        sim.schedule(t, Event::Propose);
        if sim.cfg.faults.fault_interval_ms != u64::MAX {
            let t = sim.rng.range(1, sim.cfg.faults.fault_interval_ms * 2);
            sim.schedule(t, Event::Fault);
        }
        sim
    }

    fn fail(&self, what: String) -> ! {
        if let Some(trace) = &self.trace {
            for line in trace.iter().rev().take(60).rev() {
                eprintln!("  {line}");
            }
        }
        panic!("seed={} t={}ms: {what}", self.cfg.seed, self.now);
    }

    fn note(&mut self, line: impl FnOnce() -> String) {
        if let Some(t) = &mut self.trace {
            t.push(format!("{:>6} {}", self.now, line()));
        }
    }

    fn schedule(&mut self, at: Millis, event: Event) {
        self.seq += 1;
        self.events.insert((at, self.seq), event);
    }

    fn raft_config(&self, id: NodeId) -> RaftConfig {
        let mut c = self.cfg.raft.clone();
        c.node_id = id;
        c
    }

    fn start(&mut self, id: NodeId) {
        let cfg = self.raft_config(id);
        let voters = self.voters.clone();
        let now = self.now;
        let seed = self.rng.next_u64();
        let node = self.nodes.get_mut(&id).expect("node");
        let store = node
            .down_store
            .take()
            .expect("a stopped node keeps its store");
        let core = RaftCore::new(cfg, store, voters, node.persisted, now, seed);
        node.hw = core.high_watermark();
        node.incarnation += 1;
        node.core = Some(core);
        node.tick_at = Millis::MAX;
        self.drive(id);
    }

    fn crash(&mut self, id: NodeId) {
        let node = self.nodes.get_mut(&id).expect("node");
        let Some(core) = node.core.take() else { return };
        let mut store = core.into_store();
        store.crash();
        node.verified = node.verified.min(store.durable_end_offset());
        node.flush = None;
        node.flush_again = false;
        node.down_store = Some(store);
        self.stats.crashes += 1;
        self.note(|| format!("crash {id}"));
    }

    /// Runs events until `until` (virtual ms) or until `stop` holds.
    pub fn run_until(&mut self, until: Millis, mut stop: impl FnMut(&Sim) -> bool) -> bool {
        while let Some((&(t, seq), _)) = self.events.first_key_value() {
            if t > until {
                break;
            }
            let event = self.events.remove(&(t, seq)).expect("present");
            self.now = t;
            self.stats.events += 1;
            self.process(event);
            if stop(self) {
                return true;
            }
        }
        self.now = self.now.max(until);
        false
    }

    fn process(&mut self, event: Event) {
        match event {
            Event::Deliver {
                from,
                to,
                to_incarnation,
                cid,
                message,
            } => {
                let now = self.now;
                let name = message.name();
                let Some(node) = self.nodes.get_mut(&to) else {
                    return;
                };
                if node.incarnation != to_incarnation {
                    return;
                }
                let Some(core) = node.core.as_mut() else {
                    return;
                };
                core.step(now, from, cid, message);
                self.stats.delivered += 1;
                self.note(|| format!("{from}->{to} {name} #{cid}"));
                self.drive(to);
            }
            Event::FlushDone {
                node: id,
                incarnation,
            } => {
                let now = self.now;
                let node = self.nodes.get_mut(&id).expect("node");
                if node.incarnation != incarnation {
                    return;
                }
                let (Some(core), Some(flush)) = (node.core.as_mut(), node.flush.take()) else {
                    return;
                };
                core.store_mut().complete_flush(flush);
                core.handle_log_flushed(now);
                let again = std::mem::take(&mut node.flush_again);
                if again {
                    self.request_flush(id);
                }
                self.drive(id);
            }
            Event::Tick {
                node: id,
                incarnation,
            } => {
                let now = self.now;
                let node = self.nodes.get_mut(&id).expect("node");
                if node.incarnation != incarnation || node.tick_at != now {
                    return;
                }
                node.tick_at = Millis::MAX;
                let Some(core) = node.core.as_mut() else {
                    return;
                };
                core.tick(now);
                self.drive(id);
            }
            Event::Crash { node, incarnation } => {
                if self.faults_on
                    && self.nodes[&node].incarnation == incarnation
                    && self.nodes[&node].core.is_some()
                {
                    self.crash(node);
                    let t = self.now + self.rng.range(1, 60);
                    self.schedule(t, Event::Restart { node });
                }
            }
            Event::Restart { node } => {
                if self.nodes[&node].core.is_none() {
                    self.note(|| format!("restart {node}"));
                    self.start(node);
                }
            }
            Event::Propose => {
                self.propose_somewhere();
                let t = self.now + self.rng.range(1, self.cfg.propose_interval_ms * 2);
                self.schedule(t, Event::Propose);
            }
            Event::Fault => {
                if self.faults_on {
                    self.inject_fault();
                    let i = self.cfg.faults.fault_interval_ms;
                    let t = self.now + self.rng.range(i / 2, i * 3 / 2);
                    self.schedule(t, Event::Fault);
                }
            }
        }
    }

    fn propose_somewhere(&mut self) {
        let leaders: Vec<NodeId> = self
            .nodes
            .values()
            .filter(|n| {
                n.core
                    .as_ref()
                    .is_some_and(|c| c.role() == RoleKind::Leader)
            })
            .map(|n| n.id)
            .collect();
        let Some(&id) = leaders.get(self.rng.range(0, leaders.len().max(1) as u64) as usize) else {
            return;
        };
        let n = self.rng.range(1, 4) as usize;
        let value = self.next_value;
        self.next_value += 1;
        let records: Vec<RecordData> = (0..n)
            .map(|i| RecordData {
                key: None,
                value: Some(Bytes::from(format!("v{value}.{i}"))),
            })
            .collect();
        let last = records
            .last()
            .and_then(|r| r.value.clone())
            .unwrap_or_default();
        let node = self.nodes.get_mut(&id).expect("leader");
        let incarnation = node.incarnation;
        let core = node.core.as_mut().expect("leader");
        if let Ok(pid) = core.propose(records) {
            self.pending.insert((id, incarnation, pid.0), last);
        }
        self.drive(id);
    }

    fn inject_fault(&mut self) {
        let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
        let pick = |rng: &mut SimRng| ids[rng.range(0, ids.len() as u64) as usize];
        let kind = self.rng.range(0, 8);
        match kind {
            0 => {
                let x = pick(&mut self.rng);
                for &y in &ids {
                    if y != x {
                        self.blocked.insert((x, y));
                        self.blocked.insert((y, x));
                    }
                }
                self.note(|| format!("partition {x} away"));
            }
            1 => {
                let (a, b) = (pick(&mut self.rng), pick(&mut self.rng));
                if a != b {
                    self.blocked.insert((a, b));
                    self.note(|| format!("one-way block {a}->{b}"));
                }
            }
            2 => {
                let (x, y) = (pick(&mut self.rng), pick(&mut self.rng));
                for &z in &ids {
                    if z != x && z != y {
                        self.blocked.insert((x, z));
                        self.blocked.insert((z, x));
                    }
                }
                self.note(|| format!("{x} sees only {y}"));
            }
            3 | 4 => {
                self.blocked.clear();
                self.note(|| "heal".to_string());
            }
            5 => {
                let x = pick(&mut self.rng);
                if self.nodes[&x].core.is_some() {
                    self.crash(x);
                } else {
                    self.note(|| format!("restart {x}"));
                    self.start(x);
                }
            }
            6 => {
                let down: Vec<NodeId> = self
                    .nodes
                    .values()
                    .filter(|n| n.core.is_none())
                    .map(|n| n.id)
                    .collect();
                if let Some(&x) = down.first() {
                    self.note(|| format!("restart {x}"));
                    self.start(x);
                }
            }
            _ => {
                let x = pick(&mut self.rng);
                let node = self.nodes.get_mut(&x).expect("node");
                node.slow = !node.slow;
                let slow = node.slow;
                self.note(|| format!("node {x} slow={slow}"));
            }
        }
    }

    fn send(&mut self, from: NodeId, to: NodeId, cid: u64, message: Message) {
        if from == to {
            return;
        }
        let f = if self.faults_on {
            self.cfg.faults.clone()
        } else {
            Faults::none()
        };
        if self.faults_on && self.blocked.contains(&(from, to)) {
            return;
        }
        if self.rng.chance(f.drop) {
            return;
        }
        let slow = self.nodes.get(&from).is_some_and(|n| n.slow) && self.faults_on;
        let to_incarnation = self.nodes.get(&to).map_or(0, |n| n.incarnation);
        let extra = if slow { 30 } else { 0 };
        // A duplicate is a second copy with its own delay: the copies may arrive in either order.
        let copies = if self.rng.chance(f.duplicate) { 2 } else { 1 };
        for _ in 0..copies {
            let t = self.now + self.rng.range(f.delay_ms.0, f.delay_ms.1) + extra;
            let event = Event::Deliver {
                from,
                to,
                to_incarnation,
                cid,
                message: message.clone(),
            };
            self.schedule(t, event);
        }
    }

    fn request_flush(&mut self, id: NodeId) {
        let (lo, hi) = if self.faults_on {
            self.cfg.faults.flush_ms
        } else {
            (0, 1)
        };
        let latency = self.rng.range(lo, hi + 1);
        let now = self.now;
        let node = self.nodes.get_mut(&id).expect("node");
        let Some(core) = node.core.as_ref() else {
            return;
        };
        if node.flush.is_some() {
            node.flush_again = true;
            return;
        }
        node.flush = Some(core.store().begin_flush());
        let latency = if node.slow && self.faults_on {
            latency * 40 + 200
        } else {
            latency
        };
        let incarnation = node.incarnation;
        self.schedule(
            now + latency,
            Event::FlushDone {
                node: id,
                incarnation,
            },
        );
    }

    /// Performs a node's `Ready`s until it has nothing more, then checks the invariants.
    fn drive(&mut self, id: NodeId) {
        loop {
            let mut crash_at: Option<(Millis, u32)> = None;
            let node = self.nodes.get_mut(&id).expect("node");
            let Some(core) = node.core.as_mut() else {
                return;
            };
            let ready = core.ready();
            if ready.is_empty() {
                break;
            }
            // 1. The log operations, written but not durable.
            for op in ready.log_ops {
                match &op {
                    LogOp::Truncate(t) => {
                        node.verified = node.verified.min(*t);
                        node.held = node.held.min(*t);
                    }
                    LogOp::InstallSnapshot(_) => {
                        node.verified = 0;
                        node.held = 0;
                        self.stats.snapshots_installed += 1;
                    }
                    _ => {}
                }
                if let Err(e) = core.store_mut().apply(op) {
                    let msg = format!("node {id}: store refused an operation: {e}");
                    self.fail(msg);
                }
            }
            // 2. The election state, durably, before any message leaves.
            if let Some(state) = ready.election_state {
                if let Some(old) = node.persisted {
                    let ok = state.epoch > old.epoch
                        || (state.epoch == old.epoch
                            && (old.voted_id.is_none() || old.voted_id == state.voted_id)
                            && (old.leader_id.is_none() || old.leader_id == state.leader_id));
                    if !ok {
                        let msg =
                            format!("node {id}: election state went from {old:?} to {state:?}");
                        self.fail(msg);
                    }
                }
                node.persisted = Some(state);
                if state.voted_id.is_some_and(|v| v != id)
                    && state.leader_id.is_none()
                    && self.faults_on
                    && self.rng.chance(self.cfg.crash_after_vote)
                {
                    crash_at = Some((self.now + self.rng.range(0, 5), node.incarnation));
                }
            }
            let proposals = ready.proposals;
            let persisted = node.persisted.unwrap_or_default();
            // 3. The messages — none may claim an election state the node has not persisted.
            for (to, cid, message) in ready.messages {
                if let Some(why) = unpersisted_claim(&message, to, id, persisted) {
                    self.fail(format!("node {id} sends {} to {to} before persisting it: {why} (persisted {persisted:?})", message.name()));
                }
                self.send(id, to, cid, message);
            }
            // 4. The flush.
            if ready.flush {
                self.request_flush(id);
            }
            if let Some((t, incarnation)) = crash_at {
                self.schedule(
                    t,
                    Event::Crash {
                        node: id,
                        incarnation,
                    },
                );
            }
            self.check_node(id);
            // Every proposal ends once; a committed one is in the committed log where it says.
            let incarnation = self.nodes[&id].incarnation;
            for (pid, outcome) in proposals {
                let Some(value) = self.pending.remove(&(id, incarnation, pid.0)) else {
                    self.fail(format!(
                        "node {id}: outcome {outcome:?} for proposal {} that is not pending",
                        pid.0
                    ));
                };
                if let ProposalOutcome::Committed { last_offset } = outcome {
                    self.stats.committed_proposals += 1;
                    let found = self
                        .committed
                        .get(last_offset as usize)
                        .map(|e| e.value.clone());
                    if found.as_ref() != Some(&value) {
                        self.fail(format!(
                            "proposal {} committed at {last_offset}, but the committed log holds {found:?} there, not {value:?}",
                            pid.0
                        ));
                    }
                }
            }
            let node = self.nodes.get_mut(&id).expect("node");
            if let Some(core) = node.core.as_mut() {
                core.advance();
            }
        }
        self.maybe_snapshot(id);
        self.check_node(id);
        self.check_majority();
        // The next tick.
        let now = self.now;
        let node = self.nodes.get_mut(&id).expect("node");
        if let Some(core) = node.core.as_ref() {
            let at = core.next_deadline().max(now + 1);
            if at < node.tick_at || node.tick_at <= now {
                node.tick_at = at;
                let incarnation = node.incarnation;
                self.schedule(
                    at,
                    Event::Tick {
                        node: id,
                        incarnation,
                    },
                );
            }
        }
    }

    fn maybe_snapshot(&mut self, id: NodeId) {
        let every = self.cfg.snapshot_every;
        if every == 0 {
            return;
        }
        let node = self.nodes.get_mut(&id).expect("node");
        let Some(core) = node.core.as_mut() else {
            return;
        };
        let hw = core.high_watermark();
        let last = core.store().latest_snapshot().map_or(0, |s| s.end_offset);
        if hw - last < every || hw > core.store().end_offset() {
            return;
        }
        let Some(entries) = entries_of(core.store(), 0, hw) else {
            return;
        };
        let epoch = entries.last().map_or(0, |e| e.epoch);
        let id_ = SnapshotId {
            end_offset: hw,
            epoch,
        };
        let store = core.store_mut();
        store.create_snapshot(id_, encode_snapshot(&entries));
        store.delete_before_latest_snapshot(3);
    }

    /// Per-node invariants: one leader per epoch, the high watermark never goes back, and the
    /// node's entries below its high watermark are exactly the committed log.
    fn check_node(&mut self, id: NodeId) {
        let Some(core) = self.nodes[&id].core.as_ref() else {
            return;
        };
        if core.role() == RoleKind::Leader {
            let epoch = core.epoch();
            match self.leaders.get(&epoch) {
                Some(&l) if l != id => {
                    self.fail(format!("two leaders in epoch {epoch}: {l} and {id}"))
                }
                Some(_) => {}
                None => {
                    self.leaders.insert(epoch, id);
                    self.stats.elections += 1;
                    self.note(|| format!("{id} leads epoch {epoch}"));
                    if self.faults_on && self.rng.chance(self.cfg.crash_new_leader) {
                        let t = self.now + self.rng.range(0, 40);
                        let incarnation = self.nodes[&id].incarnation;
                        self.schedule(
                            t,
                            Event::Crash {
                                node: id,
                                incarnation,
                            },
                        );
                    }
                }
            }
        }
        let node = &self.nodes[&id];
        let Some(core) = node.core.as_ref() else {
            return;
        };
        let hw = core.high_watermark();
        if hw < node.hw {
            self.fail(format!(
                "node {id}: high watermark went back from {} to {hw}",
                node.hw
            ));
        }
        if hw > core.store().end_offset() {
            self.fail(format!(
                "node {id}: high watermark {hw} beyond its log end {}",
                core.store().end_offset()
            ));
        }
        // Extend the committed reference from this node.
        let len = self.committed.len() as Offset;
        if hw > len {
            match entries_of(core.store(), len, hw) {
                Some(new) => self.committed.extend(new),
                None => self.fail(format!(
                    "node {id}: high watermark {hw} but entries from {len} are missing"
                )),
            }
        }
        if hw > node.verified {
            let from = node.verified;
            match entries_of(core.store(), from, hw) {
                Some(mine) => {
                    if mine[..] != self.committed[from as usize..hw as usize] {
                        let at = mine
                            .iter()
                            .zip(&self.committed[from as usize..])
                            .position(|(a, b)| a != b)
                            .unwrap_or(0) as Offset
                            + from;
                        self.fail(format!(
                            "node {id}: entry {at} below its high watermark {hw} differs from the committed log: {:?} vs {:?}",
                            mine.get((at - from) as usize),
                            self.committed.get(at as usize)
                        ));
                    }
                }
                None => self.fail(format!(
                    "node {id}: entries [{from}, {hw}) missing below its high watermark"
                )),
            }
        }
        let node = self.nodes.get_mut(&id).expect("node");
        node.hw = hw;
        node.verified = node.verified.max(hw);
    }

    /// The committed log is held durably by a majority of voters.
    fn check_majority(&mut self) {
        let total = self.committed.len() as Offset;
        let mut holders = 0;
        let ids: Vec<NodeId> = self.voters.iter().copied().collect();
        for id in ids {
            let node = &self.nodes[&id];
            let store = match (&node.core, &node.down_store) {
                (Some(c), _) => c.store(),
                (None, Some(s)) => s,
                (None, None) => continue,
            };
            let durable = store
                .durable_end_offset()
                .max(store.log_start_offset())
                .min(total);
            let mut held = node.held.min(durable);
            if held < durable {
                if let Some(entries) = entries_of(store, held, durable) {
                    let ok = entries
                        .iter()
                        .zip(&self.committed[held as usize..])
                        .take_while(|(a, b)| a == b)
                        .count();
                    held += ok as Offset;
                }
            }
            self.nodes.get_mut(&id).expect("node").held = held;
            if held >= total {
                holders += 1;
            }
        }
        if holders < self.voters.len() / 2 + 1 {
            self.fail(format!(
                "only {holders} of {} voters hold the committed log (length {total}) durably",
                self.voters.len()
            ));
        }
    }

    /// Current virtual time.
    pub fn now(&self) -> Millis {
        self.now
    }

    /// Length of the committed log.
    pub fn committed_len(&self) -> usize {
        self.committed.len()
    }

    /// Ends the faults: heals the network, restarts crashed nodes, fixes slow disks.
    pub fn heal_all(&mut self) {
        self.faults_on = false;
        self.blocked.clear();
        let down: Vec<NodeId> = self
            .nodes
            .values()
            .filter(|n| n.core.is_none())
            .map(|n| n.id)
            .collect();
        for n in self.nodes.values_mut() {
            n.slow = false;
        }
        for id in down {
            self.start(id);
        }
        self.note(|| "liveness phase: all healed".to_string());
    }

    /// Whether every live node has a high watermark of at least `offset` and one leader leads
    /// the highest epoch.
    pub fn converged(&self, offset: Offset) -> bool {
        let max_epoch = self
            .nodes
            .values()
            .filter_map(|n| n.core.as_ref())
            .map(|c| c.epoch())
            .max()
            .unwrap_or(0);
        let leader = self
            .nodes
            .values()
            .filter_map(|n| n.core.as_ref())
            .any(|c| c.role() == RoleKind::Leader && c.epoch() == max_epoch);
        leader
            && self.nodes.values().all(|n| {
                n.core
                    .as_ref()
                    .is_some_and(|c| c.high_watermark() >= offset)
            })
    }

    /// A description of every node, for failure messages.
    pub fn describe(&self) -> String {
        self.nodes
            .values()
            .map(|n| match &n.core {
                Some(c) => format!(
                    "{}: {:?} epoch {} leader {:?} hw {} end {} start {}",
                    n.id,
                    c.role(),
                    c.epoch(),
                    c.leader_id(),
                    c.high_watermark(),
                    c.store().end_offset(),
                    c.store().log_start_offset()
                ),
                None => format!("{}: down", n.id),
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// What a message claims about the sender's election state that its persisted state does not
/// back: the epoch it speaks in, the vote it grants, the leadership it announces. (The durability
/// order: raft-rs `persisted_messages`, Kafka's QuorumState writes before transitions.)
fn unpersisted_claim(m: &Message, to: NodeId, me: NodeId, p: ElectionState) -> Option<String> {
    let epoch = match m {
        // A pre-vote asks about the next epoch without adopting it.
        Message::VoteRequest { pre_vote: true, .. } => None,
        Message::VoteRequest { replica_epoch, .. } => Some(*replica_epoch),
        Message::VoteResponse { leader_epoch, .. }
        | Message::BeginQuorumEpochRequest { leader_epoch, .. }
        | Message::BeginQuorumEpochResponse { leader_epoch, .. }
        | Message::EndQuorumEpochRequest { leader_epoch, .. }
        | Message::EndQuorumEpochResponse { leader_epoch, .. }
        | Message::FetchResponse { leader_epoch, .. }
        | Message::FetchSnapshotResponse { leader_epoch, .. } => Some(*leader_epoch),
        Message::FetchRequest {
            current_leader_epoch,
            ..
        }
        | Message::FetchSnapshotRequest {
            current_leader_epoch,
            ..
        } => Some(*current_leader_epoch),
    };
    if let Some(e) = epoch {
        if e > p.epoch {
            return Some(format!("epoch {e}"));
        }
    }
    match m {
        Message::VoteRequest {
            pre_vote: false,
            replica_epoch,
            ..
        } if p.voted_id != Some(me) || p.epoch != *replica_epoch => {
            Some("its own candidacy".into())
        }
        Message::VoteResponse {
            vote_granted: true,
            pre_vote: false,
            leader_epoch,
            ..
        } if p.voted_id != Some(to) || p.epoch != *leader_epoch => Some(format!("a vote for {to}")),
        Message::BeginQuorumEpochRequest { leader_epoch, .. }
            if p.leader_id != Some(me) || p.epoch != *leader_epoch =>
        {
            Some("its leadership".into())
        }
        _ => None,
    }
}

/// Runs one seed: a safety phase with faults, then a liveness phase in which the healed cluster
/// must elect a leader and commit on every node. Panics with the seed on any violation.
pub fn run_seed(seed: u64) -> SimStats {
    let cfg = SimConfig::from_seed(seed);
    let mut sim = Sim::new(cfg);
    const SAFETY_MS: Millis = 4_000;
    const LIVENESS_MS: Millis = 20_000;
    sim.run_until(SAFETY_MS, |_| false);
    sim.heal_all();
    // Liveness: the committed log must grow past where it is now, on every node.
    let target = sim.committed_len() as Offset + 1;
    let deadline = sim.now() + LIVENESS_MS;
    if !sim.run_until(deadline, |s| s.converged(target)) {
        let msg = format!(
            "liveness: no convergence within {LIVENESS_MS} ms after healing: {}",
            sim.describe()
        );
        sim.fail(msg);
    }
    sim.stats.clone()
}
