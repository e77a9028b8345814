//! A deterministic, seeded simulator of whole KRaft clusters built from the sans-IO core: voters
//! and observers, each a [`RaftCore`] over a [`MemStore`], joined by a model of the real
//! transport ([`net`]), all in one thread over virtual time.
//!
//! Faults are drawn from the seed, swarm-style: each run enables its own subset of fault kinds
//! with its own weights (partitions that drop or reject, one-way and star-shaped cuts, crashes
//! losing unflushed data, crashes aimed at the leader, connection resets, slow disks; message
//! loss, duplication and reordering in datagram mode). A run is a history of cycles: chaos, then
//! a *hold* (a random topology kept still, in which progress is required whenever some voter can
//! reach every live voter, a majority, with the best log), then a full heal in which the cluster
//! must converge. After every event the safety invariants are checked; a violation panics with
//! the seed so `SIM_SEED=<n>` replays it.

mod metadata;
mod net;

use std::collections::{BTreeMap, BTreeSet};

pub use net::{Block, Transport};
use net::{Conn, ConnRef};

use bytes::{Bytes, BytesMut};
use metaquorum_controller::node::{Effect, NodeConfig};
use metaquorum_controller::raft::{
    Batch, ElectionState, Epoch, ErrorCode, LogOp, LogStore, MemFlush, MemStore, Message, Millis,
    NodeId, Offset, ProposalOutcome, RaftConfig, RaftCore, RoleKind, SnapshotId,
};

use crate::values::ValueLog;
use kafka_protocol::messages::{RequestKind, ResponseKind};
use metadata::{
    check_acknowledged, check_image, comparable, outcome_of, request_for, timed_out, BrokerSim,
    CallKind, Outcome, SimMachine, SimRequest, Waiting, Workload, BROKER_HEARTBEAT_MS,
};
use metaquorum_broker_shim::lifecycle::CallFailure;
use metaquorum_controller::apis::ControllerCall;
use metaquorum_controller::control::errors::ErrorCode as ControlErrorCode;
use metaquorum_controller::metadata::image::MetadataImage;

/// The real node, over the in-memory store, running the simulator's state machine.
type Replica = metaquorum_controller::node::Node<SimMachine, MemStore>;

/// What the simulated clients do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkloadKind {
    /// Propose opaque values to the leader's core and check each proposal's outcome.
    Values,
    /// Run the real controllers and broker metadata, with admin clients and brokers.
    Metadata,
}
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

/// The kinds of fault the simulator injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// Cut one node off from every other.
    PartitionAway,
    /// Block one direction of one link.
    OneWay,
    /// A node that sees only one peer.
    SeesOnlyOne,
    /// Remove every partition.
    Heal,
    /// Crash a random node, or restart it if it is down.
    CrashOrRestart,
    /// Restart the most recently crashed node.
    Restart,
    /// Make a node's disk (and sends) slow, or fast again.
    Slow,
    /// Reset one connection (both ends see it close).
    ResetConnection,
    /// Crash the leader.
    CrashLeader,
    /// Stop a process for 0.5–5 s (SIGSTOP): it handles nothing, its disk does nothing, and
    /// then it goes on with everything that waited, in order. The leader half the time.
    Pause,
    /// Crash an observer and lose its whole disk: it comes back empty and catches up.
    WipeObserver,
}

impl FaultKind {
    /// Every kind, in weight order.
    pub const ALL: [FaultKind; 11] = [
        FaultKind::PartitionAway,
        FaultKind::OneWay,
        FaultKind::SeesOnlyOne,
        FaultKind::Heal,
        FaultKind::CrashOrRestart,
        FaultKind::Restart,
        FaultKind::Slow,
        FaultKind::ResetConnection,
        FaultKind::CrashLeader,
        FaultKind::Pause,
        FaultKind::WipeObserver,
    ];
}

/// How hostile the run is.
#[derive(Debug, Clone)]
pub struct Faults {
    /// Relative weight of each of [`FaultKind::ALL`]; zero leaves the kind out of this run
    /// (swarm testing: a run without, say, heals or restarts reaches schedules that they would
    /// otherwise cut short).
    pub weights: [u32; FaultKind::ALL.len()],
    /// Probability that a partition rejects (resets, refuses) rather than drops.
    pub reject: f64,
    /// Probability a message is lost (datagram transport).
    pub drop: f64,
    /// Probability a message is delivered twice (datagram transport).
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
            weights: [0; FaultKind::ALL.len()],
            reject: 0.0,
            drop: 0.0,
            duplicate: 0.0,
            delay_ms: (1, 2),
            fault_interval_ms: u64::MAX,
            flush_ms: (0, 1),
        }
    }

    /// Faults drawn from the seed, from mild to harsh.
    pub fn from_seed(rng: &mut SimRng) -> Self {
        let mut weights = [0u32; FaultKind::ALL.len()];
        for w in &mut weights {
            *w = [0, 1, 3, 10][rng.range(0, 4) as usize];
        }
        if weights.iter().all(|w| *w == 0) {
            weights[rng.range(0, weights.len() as u64) as usize] = 1;
        }
        Faults {
            weights,
            reject: [0.0, 0.5, 1.0][rng.range(0, 3) as usize],
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
    /// Probability that a leader crashes within one flush of appending a batch of records
    /// (the batch reached some followers, or none, but not durably a majority).
    pub crash_after_append: f64,
    /// Probability that a leader crashes right after sending a batch of an earlier epoch (the
    /// Raft paper's Figure 8: counting such a batch's replicas to commit it is the classic bug).
    pub crash_after_old_epoch_send: f64,
    /// How messages travel.
    pub transport: Transport,
    /// A client closes a connection whose request waited this long (`None`: never).
    pub peer_request_timeout_ms: Option<Millis>,
    /// Fault/hold/heal cycles in the run, at least.
    pub cycles: u32,
    /// Leader changes the run must see before it stops (0: none asked): a tenth of the seeds
    /// run more cycles until this many leaders were elected, up to [`CYCLES_MAX`], so that
    /// histories also reach many epochs, each heal followed by its liveness check.
    pub leader_changes_min: u64,
    /// What the clients do.
    pub workload: WorkloadKind,
    /// Metadata workload: committed bytes between the state machines' own snapshots.
    pub snapshot_bytes: u64,
}

impl SimConfig {
    /// A cluster with fast timeouts, faults drawn from the seed.
    pub fn from_seed(seed: u64) -> Self {
        let mut rng = SimRng::new(seed);
        let voters = [1, 3, 5, 5][rng.range(0, 4) as usize];
        let mut observers = rng.range(0, 3) as usize;
        // A third of the runs run the real metadata state machines, with one to three brokers.
        let workload = if rng.chance(1.0 / 3.0) {
            observers += 1;
            WorkloadKind::Metadata
        } else {
            WorkloadKind::Values
        };
        let mut raft = RaftConfig::new(NodeId(0));
        raft.election_timeout_ms = 150;
        raft.fetch_timeout_ms = 300;
        raft.request_timeout_ms = 100;
        raft.retry_backoff_ms = 10;
        raft.election_backoff_max_ms = 150;
        // Sometimes longer than the request timeout, which the config accepts: a follower then
        // sends a new fetch while the leader still holds the last.
        raft.fetch_max_wait_ms = [50, 50, 150][rng.range(0, 3) as usize];
        // One batch per fetch sometimes: old-epoch records then arrive before the new leader's
        // LeaderChange, the schedule of the Raft paper's Figure 8.
        raft.fetch_bytes_max = [1, 300, 2048][rng.range(0, 3) as usize];
        raft.snapshot_chunk_bytes_max = 4096;
        // Small batches make the schedules above; the controller's own batches (a topic with
        // its partitions, a broker fenced with its leaderships moved) need room.
        raft.batch_records_max = match workload {
            WorkloadKind::Values => 8,
            WorkloadKind::Metadata => 1_000,
        };
        SimConfig {
            voters,
            observers,
            seed,
            faults: Faults::from_seed(&mut rng),
            snapshot_every: match workload {
                WorkloadKind::Values => [0, 20, 60][rng.range(0, 3) as usize],
                WorkloadKind::Metadata => 0,
            },
            snapshot_bytes: [4_000, 30_000, 1 << 40][rng.range(0, 3) as usize],
            workload,
            propose_interval_ms: match workload {
                WorkloadKind::Values => [5, 20][rng.range(0, 2) as usize],
                WorkloadKind::Metadata => [20, 50][rng.range(0, 2) as usize],
            },
            crash_after_vote: [0.0, 0.0, 0.1, 0.5][rng.range(0, 4) as usize],
            crash_new_leader: [0.0, 0.0, 0.2, 0.6][rng.range(0, 4) as usize],
            crash_after_append: [0.0, 0.0, 0.05, 0.2][rng.range(0, 4) as usize],
            crash_after_old_epoch_send: [0.0, 0.3, 0.9][rng.range(0, 3) as usize],
            transport: if rng.chance(0.75) {
                Transport::Tcp
            } else {
                Transport::Datagram
            },
            peer_request_timeout_ms: Some(raft.fetch_request_timeout_ms()),
            cycles: rng.range(1, 4) as u32,
            leader_changes_min: if rng.chance(0.1) { rng.range(4, 9) } else { 0 },
            raft,
        }
    }
}

#[derive(Debug)]
enum Event {
    Deliver {
        from: NodeId,
        to: NodeId,
        /// Datagram transport: the receiver's incarnation when sent (connections die with the
        /// process, so a message to an earlier run of the receiver is lost).
        to_incarnation: u32,
        cid: u64,
        message: Message,
        /// Tcp transport: the connection it travels on.
        conn: Option<ConnRef>,
    },
    /// A node's transport found `peer` refusing connections.
    Unreachable {
        node: NodeId,
        incarnation: u32,
        peer: NodeId,
        /// The node's epoch when its transport saw the refusal.
        epoch: Epoch,
    },
    /// A client's request timeout for request `cid` on a connection.
    ConnTimeout {
        conn: ConnRef,
        cid: u64,
    },
    /// A server may read the next request waiting on a connection.
    ServerRead {
        conn: ConnRef,
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
    /// Metadata workload: a client's call reaches its controller.
    CallArrives {
        id: u64,
    },
    /// Metadata workload: a broker's heartbeat timer.
    BrokerBeat {
        node: NodeId,
    },
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
    /// The running replica; `None` while crashed.
    node: Option<Replica>,
    /// The store while crashed.
    down_store: Option<MemStore>,
    persisted: Option<ElectionState>,
    incarnation: u32,
    /// The flush the node began and the simulated disk is performing.
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
    /// (role, epoch, leader, hw) last traced.
    shown: Option<(RoleKind, Epoch, Option<NodeId>, Offset)>,
    /// The applied offset (and incarnation) whose state was last compared with the others'.
    compared: (u32, Offset),
    /// A paused process handles nothing before this time (its events wait, in order).
    paused_until: Millis,
}

impl Node {
    /// The running replica's core.
    fn core(&self) -> Option<&RaftCore<MemStore>> {
        self.node.as_ref().map(Replica::core)
    }
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
    /// Blocked links: (from, to).
    blocked: BTreeMap<(NodeId, NodeId), Block>,
    /// Open connections, by (client, server) (Tcp transport).
    conns: BTreeMap<(NodeId, NodeId), Conn>,
    next_gen: u64,
    faults_on: bool,
    /// The topology is held still: no faults, crashes or restarts.
    holding: bool,
    /// A chain of fault events is scheduled.
    fault_chain: bool,
    /// Crashed nodes, most recent last.
    crashed: Vec<NodeId>,
    /// The committed log, as first learned from a node's high watermark.
    committed: Vec<Entry>,
    /// Values in the committed log (data records): each commits at most once.
    committed_values: BTreeSet<Bytes>,
    /// Last values of proposals reported `NotAppended`: none may ever commit.
    not_appended: BTreeSet<Bytes>,
    /// The highest high watermark a leader reported, by epoch.
    reported_hw: BTreeMap<Epoch, Offset>,
    /// The digest of the applied prefix `[0, offset)`, as the first replica to apply it saw it.
    applied_digests: BTreeMap<Offset, u64>,
    /// Metadata workload: the image after applying `[0, offset)`, as the first replica to
    /// apply it had it (provenance cleared).
    applied_images: BTreeMap<Offset, MetadataImage>,
    /// Metadata workload: the clients, the brokers and what was acknowledged.
    workload: Option<Workload>,
    /// The leader each epoch's persisted election states name.
    persisted_leaders: BTreeMap<Epoch, NodeId>,
    /// The leader of each epoch, and when it was elected.
    leaders: BTreeMap<Epoch, (NodeId, Millis)>,
    next_value: u64,
    /// Proposals accepted and not yet resolved: (node, incarnation, proposal id) -> the value
    /// of their last record.
    pending: BTreeMap<(NodeId, u32, u64), Bytes>,
    /// Counters for the report.
    pub stats: SimStats,
    /// Trace of events, kept when `trace` is on (for replaying a failing seed).
    pub trace: Option<Vec<String>>,
    /// `SIM_TRACE=all`: print the trace as it happens, failure or not.
    trace_all: bool,
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
    /// Holds in which some voter could win, all of which made progress.
    pub star_holds: u64,
    /// The longest such a hold waited for progress, ms.
    pub star_progress_ms_max: Millis,
    /// Metadata workload: admin writes acknowledged, refused for certain, of unknown outcome.
    pub writes: (u64, u64, u64),
    /// Metadata workload: distinct applied offsets whose images were compared and checked.
    pub images_checked: u64,
    /// Metadata workload: brokers that completed a controlled shutdown.
    pub controlled_shutdowns: u64,
    /// Fault/hold/heal cycles run (in a total: the most any seed ran).
    pub cycles: u32,
    /// Seeds that ran until their [`SimConfig::leader_changes_min`] leader changes.
    pub long_histories: u64,
}

/// Encodes committed entries as a snapshot's bytes: (epoch i32, control u8, len u32, value)*.
pub fn encode_snapshot(entries: &[Entry]) -> Bytes {
    let mut out = BytesMut::new();
    for e in entries {
        out.extend_from_slice(&e.epoch.get().to_be_bytes());
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
        let epoch = Epoch(i32::from_be_bytes([b[0], b[1], b[2], b[3]]));
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
        if Offset(snap.len() as i64) < start.min(to) {
            return None;
        }
        out.extend(
            snap[from.get() as usize..start.min(to).get() as usize]
                .iter()
                .cloned(),
        );
    }
    if to > start {
        let mut at = from.max(start);
        let batches = store.batches();
        let mut i = batches.partition_point(|b| b.next_offset() <= at);
        while at < to {
            let b = batches.get(i)?;
            for (k, e) in batch_entries(b).enumerate() {
                let o = b.base_offset + k as i64;
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
            voters: (1..=cfg.voters as i32).map(NodeId).collect(),
            blocked: BTreeMap::new(),
            conns: BTreeMap::new(),
            next_gen: 0,
            faults_on: true,
            holding: false,
            fault_chain: false,
            crashed: Vec::new(),
            committed: Vec::new(),
            leaders: BTreeMap::new(),
            reported_hw: BTreeMap::new(),
            applied_digests: BTreeMap::new(),
            applied_images: BTreeMap::new(),
            persisted_leaders: BTreeMap::new(),
            workload: (cfg.workload == WorkloadKind::Metadata).then(Workload::default),
            committed_values: BTreeSet::new(),
            not_appended: BTreeSet::new(),
            next_value: 0,
            pending: BTreeMap::new(),
            stats: SimStats::default(),
            trace: std::env::var_os("SIM_TRACE").map(|_| Vec::new()),
            trace_all: std::env::var("SIM_TRACE").is_ok_and(|v| v == "all"),
            cfg,
        };
        let total = (sim.cfg.voters + sim.cfg.observers) as i32;
        for id in 1..=total {
            sim.nodes.insert(
                NodeId(id),
                Node {
                    id: NodeId(id),
                    node: None,
                    down_store: Some(MemStore::new()),
                    persisted: None,
                    incarnation: 0,
                    flush: None,
                    slow: false,
                    tick_at: Millis::MAX,
                    hw: Offset(0),
                    verified: Offset(0),
                    held: Offset(0),
                    shown: None,
                    compared: (0, Offset(-1)),
                    paused_until: 0,
                },
            );
        }
        for id in 1..=total {
            sim.start(NodeId(id));
        }
        if sim.workload.is_some() {
            for id in (sim.cfg.voters as i32 + 1..=total).map(NodeId) {
                let t = sim.rng.range(1, BROKER_HEARTBEAT_MS);
                sim.schedule(t, Event::BrokerBeat { node: id });
            }
        }
        let t = sim.rng.range(1, sim.cfg.propose_interval_ms * 2);
        sim.schedule(t, Event::Propose);
        if sim.cfg.faults.fault_interval_ms != u64::MAX {
            let t = sim.rng.range(1, sim.cfg.faults.fault_interval_ms * 2);
            sim.schedule(t, Event::Fault);
            sim.fault_chain = true;
        }
        sim
    }

    fn fail(&self, what: String) -> ! {
        if let Some(trace) = &self.trace {
            let lines = std::env::var("SIM_TRACE_LINES")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(60);
            for line in trace.iter().rev().take(lines).rev() {
                eprintln!("  {line}");
            }
        }
        panic!("seed={} t={}ms: {what}", self.cfg.seed, self.now);
    }

    fn note(&mut self, line: impl FnOnce() -> String) {
        if let Some(t) = &mut self.trace {
            let line = format!("{:>6} {}", self.now, line());
            if self.trace_all {
                eprintln!("{line}");
            }
            t.push(line);
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
        let config = NodeConfig {
            raft: cfg,
            voters,
            persisted: node.persisted,
            seed,
            now_ms: now,
            wall_ms_at_zero: 0,
        };
        let machine = match self.cfg.workload {
            WorkloadKind::Values => SimMachine::Values(ValueLog::default()),
            WorkloadKind::Metadata if self.voters.contains(&id) => {
                SimMachine::controller(&self.voters, self.cfg.snapshot_bytes, seed)
            }
            WorkloadKind::Metadata => {
                // A broker process starts: a new incarnation that must register.
                let incarnation_id =
                    uuid::Uuid::from_u64_pair(self.rng.next_u64(), id.get() as u64);
                let now = self.now;
                if let Some(w) = self.workload.as_mut() {
                    w.brokers
                        .insert(id, BrokerSim::new(id, incarnation_id, now));
                }
                SimMachine::broker(self.cfg.snapshot_bytes)
            }
        };
        let replica = match Replica::new(config, store, machine) {
            Ok(r) => r,
            Err(e) => self.fail(format!("node {id} cannot start: {e}")),
        };
        let node = self.nodes.get_mut(&id).expect("node");
        node.hw = replica.core().high_watermark();
        node.incarnation += 1;
        node.node = Some(replica);
        node.tick_at = Millis::MAX;
        self.ready(id);
    }

    /// Takes a node's process down, keeping its store as a restart will find it: a crash loses
    /// what was not flushed; a clean stop (`flush_first`) flushes everything first. False if
    /// it was already down.
    fn take_down(&mut self, id: NodeId, flush_first: bool) -> bool {
        let node = self.nodes.get_mut(&id).expect("node");
        let Some(replica) = node.node.take() else {
            return false;
        };
        let mut store = replica.into_store();
        if flush_first {
            if let Err(e) = store.flush() {
                self.fail(format!("node {id}: flush at stop: {e}"));
            }
        }
        store.crash();
        let node = self.nodes.get_mut(&id).expect("node");
        node.verified = node.verified.min(store.durable_end_offset());
        node.flush = None;
        node.down_store = Some(store);
        true
    }

    fn crash(&mut self, id: NodeId) {
        if !self.take_down(id, false) {
            return;
        }
        self.stats.crashes += 1;
        self.crashed.retain(|c| *c != id);
        self.crashed.push(id);
        self.note(|| format!("crash {id}"));
        self.close_conns_of(id);
    }

    /// Metadata workload: a broker stops after its controlled shutdown: everything written is
    /// flushed, the process exits, and it starts again (a new incarnation) a little later.
    fn stop_cleanly(&mut self, id: NodeId) {
        if !self.take_down(id, true) {
            return;
        }
        self.note(|| format!("stop {id} (controlled shutdown)"));
        self.close_conns_of(id);
        let t = self.now + self.rng.range(100, 500);
        self.schedule(t, Event::Restart { node: id });
    }

    /// Restarts a crashed node.
    fn restart(&mut self, id: NodeId) {
        if self.nodes[&id].node.is_none() {
            self.crashed.retain(|c| *c != id);
            self.note(|| format!("restart {id}"));
            self.start(id);
        }
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
            if self.workload.is_some() {
                self.poll_calls();
            }
            if stop(self) {
                return true;
            }
        }
        self.now = self.now.max(until);
        false
    }

    fn process(&mut self, event: Event) {
        if let Some(x) = self.event_node(&event) {
            let until = self.nodes[&x].paused_until;
            if until > self.now {
                // Re-queued in the order they came: a stopped process finds them all waiting.
                if matches!(event, Event::Tick { .. }) {
                    self.nodes.get_mut(&x).expect("node").tick_at = until;
                }
                self.schedule(until, event);
                return;
            }
        }
        match event {
            Event::Deliver {
                from,
                to,
                to_incarnation,
                cid,
                message,
                conn,
            } => {
                let message = match conn {
                    Some(c) => match self.arrive_tcp(c, to, cid, message) {
                        Some(m) => m,
                        None => return,
                    },
                    None if self.nodes[&to].incarnation != to_incarnation => return,
                    None => message,
                };
                self.step(from, to, cid, message);
            }
            Event::ServerRead { conn } => {
                if let Some((cid, message)) = self.read_next(conn) {
                    self.step(conn.client, conn.server, cid, message);
                }
            }
            Event::ConnTimeout { conn, cid } => self.request_timed_out(conn, cid),
            Event::Unreachable {
                node,
                incarnation,
                peer,
                epoch,
            } => {
                let now = self.now;
                let n = self.nodes.get_mut(&node).expect("node");
                if n.incarnation != incarnation {
                    return;
                }
                let Some(replica) = n.node.as_mut() else {
                    return;
                };
                replica.peer_unreachable(now, peer, epoch);
                self.note(|| format!("{node}: {peer} unreachable"));
                self.ready(node);
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
                let (Some(replica), Some(flush)) = (node.node.as_mut(), node.flush.take()) else {
                    return;
                };
                replica.flushed(now, Ok(flush));
                self.ready(id);
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
                let Some(replica) = node.node.as_mut() else {
                    return;
                };
                let effects = replica.tick(now);
                self.drive(id, effects);
                // A tick does what is due: a deadline left in the past would have the shell
                // call again at once, spinning a core.
                if let Some(replica) = self.nodes[&id].node.as_ref() {
                    let next = replica.next_deadline();
                    if next <= now {
                        let msg = format!(
                            "node {id} ({:?}) names a deadline of {next} ms after its tick at {now} ms: its shell would spin",
                            replica.core().role()
                        );
                        self.fail(msg);
                    }
                }
            }
            Event::Crash { node, incarnation } => {
                if self.faults_on
                    && !self.holding
                    && self.nodes[&node].incarnation == incarnation
                    && self.nodes[&node].node.is_some()
                {
                    self.crash(node);
                    let t = self.now + self.rng.range(1, 60);
                    self.schedule(t, Event::Restart { node });
                }
            }
            Event::Restart { node } => {
                if !self.holding {
                    self.restart(node);
                }
            }
            Event::CallArrives { id } => self.call_arrives(id),
            Event::BrokerBeat { node } => {
                self.broker_beat(node);
                // Polled at least every 50 ms (the lifecycle's transition period), sooner when
                // it names an earlier deadline.
                let due = self
                    .workload
                    .as_ref()
                    .and_then(|w| w.brokers.get(&node))
                    .map_or(Millis::MAX, |b| b.lifecycle.next_deadline());
                let next = due.clamp(self.now + 1, self.now + 50);
                self.schedule(next, Event::BrokerBeat { node });
            }
            Event::Propose => {
                if self.workload.is_some() {
                    self.admin_op();
                } else {
                    self.propose_somewhere();
                }
                let t = self.now + self.rng.range(1, self.cfg.propose_interval_ms * 2);
                self.schedule(t, Event::Propose);
            }
            Event::Fault => {
                if self.faults_on {
                    if !self.holding {
                        self.inject_fault();
                    }
                    let i = self.cfg.faults.fault_interval_ms;
                    let t = self.now + self.rng.range(i / 2, i * 3 / 2);
                    self.schedule(t, Event::Fault);
                } else {
                    self.fault_chain = false;
                }
            }
        }
    }

    fn propose_somewhere(&mut self) {
        let leaders: Vec<NodeId> = self
            .nodes
            .values()
            .filter(|n| {
                n.core().is_some_and(|c| {
                    // Clients wait for answers: a leader holds a bounded uncommitted tail.
                    c.role() == RoleKind::Leader
                        && c.log_end_offset() - c.high_watermark() < UNCOMMITTED_MAX.into()
                })
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
        let now = self.now;
        let node = self.nodes.get_mut(&id).expect("leader");
        let incarnation = node.incarnation;
        let replica = node.node.as_mut().expect("leader");
        replica.request(now, SimRequest::Values(records));
        if let Some(Ok(pid)) = replica
            .state_machine()
            .values()
            .and_then(|v| v.last_proposal.clone())
        {
            self.pending.insert((id, incarnation, pid.0), last);
        }
        self.ready(id);
    }

    /// Steps one message into its receiver's core.
    fn step(&mut self, from: NodeId, to: NodeId, cid: u64, message: Message) {
        let now = self.now;
        if self.nodes.get(&to).is_none_or(|n| n.node.is_none()) {
            return;
        }
        if self.trace.is_some() {
            let line = crate::transcript::describe(&message);
            self.note(|| format!("{from}->{to} #{:x} {line}", cid & 0xffff_ffff));
        }
        let replica = self
            .nodes
            .get_mut(&to)
            .and_then(|n| n.node.as_mut())
            .expect("up");
        replica.step(now, from, cid, message);
        self.stats.delivered += 1;
        self.ready(to);
    }

    /// The current leader of the highest epoch, if any.
    fn leader(&self) -> Option<NodeId> {
        self.nodes
            .values()
            .filter_map(|n| n.core().map(|c| (c.epoch(), c.role(), n.id)))
            .filter(|(_, r, _)| *r == RoleKind::Leader)
            .max_by_key(|(epoch, _, _)| *epoch)
            .map(|(_, _, id)| id)
    }

    /// Blocks `from -> to`, dropping or rejecting.
    fn block_link(&mut self, from: NodeId, to: NodeId, block: Block) {
        self.blocked.insert((from, to), block);
        if block == Block::Reject && self.cfg.transport == Transport::Tcp {
            self.reset_between(from, to);
        }
    }

    fn random_block(&mut self) -> Block {
        if self.rng.chance(self.cfg.faults.reject) {
            Block::Reject
        } else {
            Block::Drop
        }
    }

    fn inject_fault(&mut self) {
        let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
        let pick = |rng: &mut SimRng| ids[rng.range(0, ids.len() as u64) as usize];
        let weights = self.cfg.faults.weights;
        let total: u64 = weights.iter().map(|w| *w as u64).sum();
        let mut roll = self.rng.range(0, total);
        let mut kind = FaultKind::Heal;
        for (k, w) in FaultKind::ALL.iter().zip(weights) {
            if roll < w as u64 {
                kind = *k;
                break;
            }
            roll -= w as u64;
        }
        match kind {
            FaultKind::PartitionAway => {
                let x = pick(&mut self.rng);
                let block = self.random_block();
                for &y in &ids {
                    if y != x {
                        self.block_link(x, y, block);
                        self.block_link(y, x, block);
                    }
                }
                self.note(|| format!("partition {x} away ({block:?})"));
            }
            FaultKind::OneWay => {
                let (a, b) = (pick(&mut self.rng), pick(&mut self.rng));
                if a != b {
                    let block = self.random_block();
                    self.block_link(a, b, block);
                    self.note(|| format!("one-way block {a}->{b} ({block:?})"));
                }
            }
            FaultKind::SeesOnlyOne => {
                let (x, y) = (pick(&mut self.rng), pick(&mut self.rng));
                let block = self.random_block();
                for &z in &ids {
                    if z != x && z != y {
                        self.block_link(x, z, block);
                        self.block_link(z, x, block);
                    }
                }
                self.note(|| format!("{x} sees only {y} ({block:?})"));
            }
            FaultKind::Heal => {
                self.heal_links();
                self.note(|| "heal".to_string());
            }
            FaultKind::CrashOrRestart => {
                let x = pick(&mut self.rng);
                if self.nodes[&x].node.is_some() {
                    self.crash(x);
                } else {
                    self.restart(x);
                }
            }
            FaultKind::Restart => {
                // The most recently crashed first: a crashed leader comes back to a cluster
                // that moved on without it.
                if let Some(&x) = self.crashed.last() {
                    self.restart(x);
                }
            }
            FaultKind::Slow => {
                let x = pick(&mut self.rng);
                let node = self.nodes.get_mut(&x).expect("node");
                node.slow = !node.slow;
                let slow = node.slow;
                self.note(|| format!("node {x} slow={slow}"));
            }
            FaultKind::ResetConnection => {
                let keys: Vec<(NodeId, NodeId)> = self.conns.keys().copied().collect();
                if !keys.is_empty() {
                    let (c, sv) = keys[self.rng.range(0, keys.len() as u64) as usize];
                    self.close_conn(c, sv, "reset by a fault");
                }
            }
            FaultKind::CrashLeader => {
                if let Some(l) = self.leader() {
                    self.crash(l);
                }
            }
            FaultKind::Pause => {
                let x = match self.leader() {
                    Some(l) if self.rng.chance(0.5) => l,
                    _ => pick(&mut self.rng),
                };
                let until = self.now + self.rng.range(500, 5_001);
                let node = self.nodes.get_mut(&x).expect("node");
                node.paused_until = node.paused_until.max(until);
                self.note(|| format!("pause {x} until {until}"));
            }
            FaultKind::WipeObserver => {
                let observers: Vec<NodeId> = ids
                    .iter()
                    .copied()
                    .filter(|x| !self.voters.contains(x))
                    .collect();
                if observers.is_empty() {
                    return;
                }
                let x = observers[self.rng.range(0, observers.len() as u64) as usize];
                self.crash(x);
                // A voter's disk is its vote and its share of the committed log (KIP-853
                // gives a wiped voter a new directory id; without it Raft cannot survive the
                // loss). An observer holds nothing the quorum relies on.
                let node = self.nodes.get_mut(&x).expect("node");
                node.down_store = Some(MemStore::new());
                node.persisted = None;
                node.verified = Offset(0);
                node.held = Offset(0);
                self.note(|| format!("wipe {x}'s disk"));
            }
        }
    }

    /// The node an event is handled by, if it is one node's.
    fn event_node(&self, event: &Event) -> Option<NodeId> {
        match event {
            Event::Deliver { to, .. } => Some(*to),
            Event::ServerRead { conn } => Some(conn.server),
            Event::Unreachable { node, .. }
            | Event::FlushDone { node, .. }
            | Event::Tick { node, .. } => Some(*node),
            Event::CallArrives { id } => self
                .workload
                .as_ref()
                .and_then(|w| w.in_transit.get(id))
                .map(|(to, _, _)| *to),
            _ => None,
        }
    }

    fn send(&mut self, from: NodeId, to: NodeId, cid: u64, message: Message) {
        if from == to {
            return;
        }
        if self.cfg.transport == Transport::Tcp {
            self.send_tcp(from, to, cid, message);
            return;
        }
        let mut f = if self.faults_on {
            self.cfg.faults.clone()
        } else {
            Faults::none()
        };
        if self.holding {
            // A hold keeps the network as it is: partitions and delays stay, random loss stops.
            f.drop = 0.0;
            f.duplicate = 0.0;
        }
        if self.block(from, to).is_some() {
            return;
        }
        if self.rng.chance(f.drop) {
            return;
        }
        let to_incarnation = self.nodes.get(&to).map_or(0, |n| n.incarnation);
        let extra = self.slow_extra(from);
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
                conn: None,
            };
            self.schedule(t, event);
        }
    }

    /// The node began a flush: the simulated disk completes it after its latency.
    fn request_flush(&mut self, id: NodeId, flush: MemFlush) {
        let (lo, hi) = if self.faults_on {
            self.cfg.faults.flush_ms
        } else {
            (0, 1)
        };
        let latency = self.rng.range(lo, hi + 1);
        let now = self.now;
        let node = self.nodes.get_mut(&id).expect("node");
        if node.flush.is_some() {
            // Group commit is the node's decision: one flush in flight, the next one after it.
            self.fail(format!("node {id} begins a flush while one is in flight"));
        }
        node.flush = Some(flush);
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

    /// Performs what a node's inputs led to (no timers fire).
    fn ready(&mut self, id: NodeId) {
        let now = self.now;
        let Some(replica) = self.nodes.get_mut(&id).and_then(|n| n.node.as_mut()) else {
            return;
        };
        let effects = replica.ready(now);
        self.drive(id, effects);
    }

    /// Performs a node's effects in order, as the shell would, checking each against the
    /// invariants; then checks the node and schedules its next tick.
    fn drive(&mut self, id: NodeId, effects: Vec<Effect<MemFlush>>) {
        let mut crash_at: Option<(Millis, u32)> = None;
        let mut proposals = Vec::new();
        let voter = self.voters.contains(&id);
        let targeting = self.faults_on && !self.holding;
        for effect in effects {
            let node = self.nodes.get_mut(&id).expect("node");
            let incarnation = node.incarnation;
            let epoch = node.core().map_or(Epoch::ZERO, |c| c.epoch());
            match effect {
                // 1. The log operations, written but not durable.
                Effect::Wrote { op, leading } => {
                    if let Some(trace) = &mut self.trace {
                        let what = match &op {
                            LogOp::Append(b) => {
                                format!("append {}..{}@{}", b.base_offset, b.next_offset(), b.epoch)
                            }
                            LogOp::Truncate(o) => format!("truncate to {o}"),
                            LogOp::SnapshotChunk { id, position, .. } => {
                                format!(
                                    "snapshot {}-{} chunk at {position}",
                                    id.end_offset, id.epoch
                                )
                            }
                            LogOp::InstallSnapshot(s) => {
                                format!("install snapshot {}-{}", s.end_offset, s.epoch)
                            }
                        };
                        let line = format!("{:>6} {id}: {what}", self.now);
                        if self.trace_all {
                            eprintln!("{line}");
                        }
                        trace.push(line);
                    }
                    match &op {
                        LogOp::Truncate(_) if !voter => {
                            // Observers are sent committed records only: nothing to take back.
                            let msg = format!("observer {id} truncates its log: {op:?}");
                            self.fail(msg);
                        }
                        LogOp::InstallSnapshot(_) if leading => {
                            let msg = format!("leader {id} installs a snapshot: {op:?}");
                            self.fail(msg);
                        }
                        LogOp::Truncate(t) => {
                            node.verified = node.verified.min(*t);
                            node.held = node.held.min(*t);
                        }
                        LogOp::InstallSnapshot(_) => {
                            node.verified = Offset(0);
                            node.held = Offset(0);
                            self.stats.snapshots_installed += 1;
                        }
                        LogOp::Append(b)
                            if leading
                                && !b.control
                                && targeting
                                && self.rng.chance(self.cfg.crash_after_append) =>
                        {
                            let flush_max = self.cfg.faults.flush_ms.1;
                            let t = self.now + self.rng.range(0, flush_max + 1);
                            crash_at = Some(
                                crash_at.map_or((t, incarnation), |c| c.min((t, incarnation))),
                            );
                        }
                        _ => {}
                    }
                }
                // 2. The election state, durably, before any message leaves.
                Effect::PersistElectionState(state) => {
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
                    if let Some(l) = state.leader_id {
                        match self.persisted_leaders.get(&state.epoch) {
                            Some(other) if *other != l => self.fail(format!(
                                "node {id} persists leader {l} for epoch {}, another node persisted {other}",
                                state.epoch
                            )),
                            Some(_) => {}
                            None => {
                                self.persisted_leaders.insert(state.epoch, l);
                            }
                        }
                    }
                    if state.voted_id.is_some_and(|v| v != id)
                        && state.leader_id.is_none()
                        && self.faults_on
                        && self.rng.chance(self.cfg.crash_after_vote)
                    {
                        crash_at = Some((self.now + self.rng.range(0, 5), incarnation));
                    }
                }
                // 3. The messages — none may claim an election state the node has not persisted.
                Effect::Send {
                    to,
                    correlation_id: cid,
                    message,
                }
                | Effect::Reply {
                    to,
                    correlation_id: cid,
                    message,
                } => {
                    let persisted = node.persisted.unwrap_or_default();
                    let leading = node.core().is_some_and(|c| c.role() == RoleKind::Leader);
                    if let Some(why) = unpersisted_claim(&message, to, id, persisted) {
                        self.fail(format!("node {id} sends {} to {to} before persisting it: {why} (persisted {persisted:?})", message.name()));
                    }
                    if let Message::FetchResponse {
                        leader_epoch,
                        high_watermark,
                        error: ErrorCode::None,
                        records,
                        ..
                    } = &message
                    {
                        self.check_reported_high_watermark(id, *leader_epoch, *high_watermark);
                        if leading
                            && targeting
                            && records.iter().any(|b| b.epoch < epoch)
                            && self.rng.chance(self.cfg.crash_after_old_epoch_send)
                        {
                            let t = self.now + self.rng.range(0, 4);
                            crash_at = Some(
                                crash_at.map_or((t, incarnation), |c| c.min((t, incarnation))),
                            );
                        }
                    }
                    self.send(id, to, cid, message);
                }
                // 4. The flush.
                Effect::Flush(flush) => self.request_flush(id, flush),
                Effect::Proposed(_) => {}
                // The value workload's proposals are the simulator's own; the controllers'
                // are checked through their clients' answers.
                Effect::ProposalDone(pid, outcome) if self.workload.is_none() => {
                    proposals.push((pid, outcome, incarnation))
                }
                Effect::ProposalDone(..) => {}
                Effect::Exit(exit) => self.fail(format!(
                    "node {id} exits ({:?}): {}",
                    exit.code, exit.reason
                )),
            }
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
        for (pid, outcome, incarnation) in proposals {
            let Some(value) = self.pending.remove(&(id, incarnation, pid.0)) else {
                self.fail(format!(
                    "node {id}: outcome {outcome:?} for proposal {} that is not pending",
                    pid.0
                ));
            };
            if outcome == ProposalOutcome::NotAppended {
                // Certainly not committed: it must never be, now or later.
                if self.committed_values.contains(&value) {
                    self.fail(format!(
                        "proposal {} reported NotAppended, but {value:?} is committed",
                        pid.0
                    ));
                }
                self.not_appended.insert(value.clone());
            }
            if let ProposalOutcome::Committed { last_offset } = outcome {
                self.stats.committed_proposals += 1;
                let found = self
                    .committed
                    .get(last_offset.get() as usize)
                    .map(|e| e.value.clone());
                if found.as_ref() != Some(&value) {
                    self.fail(format!(
                        "proposal {} committed at {last_offset}, but the committed log holds {found:?} there, not {value:?}",
                        pid.0
                    ));
                }
            }
        }
        self.check_applied(id);
        self.maybe_snapshot(id);
        self.check_node(id);
        if self.trace.is_some() {
            let shown = self.nodes[&id]
                .core()
                .map(|c| (c.role(), c.epoch(), c.leader_id(), c.high_watermark()));
            if let Some((role, epoch, leader, hw)) = shown {
                if shown != self.nodes[&id].shown {
                    self.nodes.get_mut(&id).expect("node").shown = shown;
                    self.note(|| format!("{id}: {role:?} epoch {epoch} leader {leader:?} hw {hw}"));
                }
            }
        }
        self.check_majority();
        // The next tick.
        let now = self.now;
        let node = self.nodes.get_mut(&id).expect("node");
        if let Some(replica) = node.node.as_ref() {
            let at = replica.next_deadline().max(now + 1);
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

    /// The node applied exactly its high watermark's prefix, and every replica that applied a
    /// prefix agrees on the state it holds: the value log's digest, or the metadata image
    /// (log replay, adopted proposals, snapshot loads and installs alike).
    fn check_applied(&mut self, id: NodeId) {
        let Some(replica) = self.nodes[&id].node.as_ref() else {
            return;
        };
        let (applied, hw) = (replica.applied(), replica.core().high_watermark());
        if applied != hw {
            self.fail(format!(
                "node {id} applied up to {applied}, its high watermark is {hw}"
            ));
        }
        let key = (self.nodes[&id].incarnation, applied);
        if self.nodes[&id].compared == key {
            return;
        }
        self.nodes.get_mut(&id).expect("node").compared = key;
        let Some(replica) = self.nodes[&id].node.as_ref() else {
            return;
        };
        let machine = replica.state_machine();
        if let Some(why) = machine.failure() {
            self.fail(format!("node {id}: broker metadata stopped: {why}"));
        }
        if let Some(values) = machine.values() {
            if values.applied != applied {
                self.fail(format!(
                    "node {id} applied up to {applied}, its state machine up to {}",
                    values.applied
                ));
            }
            let digest = values.digest;
            match self.applied_digests.get(&applied) {
                Some(d) if *d != digest => self.fail(format!(
                    "node {id} applied [0, {applied}) with digest {digest:x}; another replica's is {d:x}"
                )),
                Some(_) => {}
                None => {
                    self.applied_digests.insert(applied, digest);
                }
            }
        }
        if let Some(image) = machine.image() {
            let image = comparable(image);
            match self.applied_images.get(&applied) {
                Some(first) if *first != image => {
                    let mine: Vec<String> = image
                        .to_records()
                        .iter()
                        .map(|r| format!("{r:?}"))
                        .collect();
                    let theirs: Vec<String> = first
                        .to_records()
                        .iter()
                        .map(|r| format!("{r:?}"))
                        .collect();
                    let only_mine: Vec<&String> =
                        mine.iter().filter(|r| !theirs.contains(r)).collect();
                    let only_theirs: Vec<&String> =
                        theirs.iter().filter(|r| !mine.contains(r)).collect();
                    self.fail(format!(
                        "node {id}'s image after [0, {applied}) differs from another replica's: only here {only_mine:?}; only there {only_theirs:?}"
                    ));
                }
                Some(_) => {}
                None => {
                    if let Err(e) = check_image(&image) {
                        self.fail(format!("node {id}, image after [0, {applied}): {e}"));
                    }
                    if let Some(w) = &self.workload {
                        if let Err(e) = check_acknowledged(w, &image, applied) {
                            self.fail(format!("node {id}: {e}"));
                        }
                    }
                    self.applied_images.insert(applied, image);
                    self.stats.images_checked += 1;
                }
            }
        }
    }

    /// Metadata workload: a client sends one admin request to the controller it believes
    /// active.
    fn admin_op(&mut self) {
        let Some(w) = self.workload.as_mut() else {
            return;
        };
        let pick = self.rng.range(0, 100);
        w.next_name += 1;
        let n = w.next_name;
        let acked: Vec<String> = w
            .topics
            .iter()
            .filter(|(_, t)| t.acked.is_some() && !t.delete_sent)
            .map(|(name, _)| name.clone())
            .collect();
        // A bounded cluster: past 40 live topics, creating gives way to deleting.
        let pick = if acked.len() >= 40 && pick < 45 {
            60
        } else {
            pick
        };
        let kind = match pick {
            0..=44 => CallKind::CreateTopic(format!("t{n}")),
            45..=54 => CallKind::CreateInvalidTopic(format!("bad{n}")),
            55..=69 if !acked.is_empty() => {
                let name = acked[self.rng.range(0, acked.len() as u64) as usize].clone();
                CallKind::DeleteTopic(name)
            }
            70..=84 => CallKind::CreateAcl(format!("User:u{n}")),
            _ => {
                let fresh: Vec<&String> = acked
                    .iter()
                    .filter(|name| !w.topics[*name].config_sent)
                    .collect();
                if fresh.is_empty() {
                    CallKind::CreateTopic(format!("t{n}"))
                } else {
                    let name = fresh[self.rng.range(0, fresh.len() as u64) as usize].clone();
                    CallKind::AlterConfig(name, format!("{}", 60_000 + n))
                }
            }
        };
        match &kind {
            CallKind::CreateTopic(name) | CallKind::CreateInvalidTopic(name) => {
                w.topics.entry(name.clone()).or_default();
            }
            CallKind::DeleteTopic(name) => {
                if let Some(t) = w.topics.get_mut(name) {
                    t.delete_sent = true;
                }
            }
            CallKind::AlterConfig(name, _) => {
                if let Some(t) = w.topics.get_mut(name) {
                    t.config_sent = true;
                }
            }
            _ => {}
        }
        self.send_call(kind, None);
    }

    /// Metadata workload: a broker's timer fires. Its lifecycle (the shim's own) sends a
    /// registration or a heartbeat when one is due, with the observer's applied offset; during
    /// the chaos a broker now and then asks for a controlled shutdown (KIP-841).
    fn broker_beat(&mut self, id: NodeId) {
        let now = self.now;
        let Some(offset) = self.nodes[&id]
            .node
            .as_ref()
            .and_then(|r| r.state_machine().image())
            .map(|i| i.provenance.offset)
        else {
            return;
        };
        let stop_now = self.faults_on && !self.holding && self.rng.chance(0.002);
        let incarnation = self.nodes[&id].incarnation;
        let Some(b) = self.workload.as_mut().and_then(|w| w.brokers.get_mut(&id)) else {
            return;
        };
        b.want_shut_down |= stop_now;
        let want = b.want_shut_down;
        if let Some(r) = b.lifecycle.poll(now, offset, false, want) {
            let kind = CallKind::Lifecycle(id, want, incarnation);
            self.send_call(kind, Some((r.request, r.version)));
        }
    }

    /// Sends a call towards the controller the client believes active (now and then another
    /// voter, which must refuse it): it arrives after a few ms. `request` is the lifecycle's;
    /// admin calls make theirs from `kind`.
    fn send_call(&mut self, kind: CallKind, request: Option<(RequestKind, i16)>) {
        let voters: Vec<NodeId> = self.voters.iter().copied().collect();
        let to = match self.leader() {
            Some(l) if self.rng.chance(0.85) => l,
            _ => voters[self.rng.range(0, voters.len() as u64) as usize],
        };
        let Some((request, version)) = request.or_else(|| request_for(&kind, &mut self.rng)) else {
            return;
        };
        let Some(w) = self.workload.as_mut() else {
            return;
        };
        let (reply, rx) = tokio::sync::oneshot::channel();
        let id = w.next_call;
        w.next_call += 1;
        w.in_transit.insert(
            id,
            (
                to,
                ControllerCall {
                    request,
                    version,
                    reply,
                },
                kind.clone(),
            ),
        );
        w.waiting.push(Waiting {
            kind,
            node: to,
            sent_at: self.now,
            rx,
        });
        let t = self.now + self.rng.range(1, 6);
        self.schedule(t, Event::CallArrives { id });
    }

    /// A call reaches its controller; a node that is down drops it (the client sees the
    /// connection close).
    fn call_arrives(&mut self, id: u64) {
        let now = self.now;
        let Some((to, call, kind)) = self
            .workload
            .as_mut()
            .and_then(|w| w.in_transit.remove(&id))
        else {
            return;
        };
        self.note(|| format!("client -> {to}: {kind:?}"));
        let Some(replica) = self.nodes.get_mut(&to).and_then(|n| n.node.as_mut()) else {
            return;
        };
        replica.request(now, SimRequest::Call(Box::new(call)));
        self.ready(to);
    }

    /// Takes every answer that has arrived and checks it against the images.
    fn poll_calls(&mut self) {
        let Some(w) = self.workload.as_mut() else {
            return;
        };
        if w.waiting.is_empty() {
            return;
        }
        let now = self.now;
        let mut done = Vec::new();
        let mut i = 0;
        while i < w.waiting.len() {
            let answer = match w.waiting[i].rx.try_recv() {
                Ok(r) => Some(Some(r)),
                Err(tokio::sync::oneshot::error::TryRecvError::Closed) => Some(None),
                Err(tokio::sync::oneshot::error::TryRecvError::Empty) => {
                    timed_out(&w.waiting[i], now).then_some(None)
                }
            };
            match answer {
                Some(a) => done.push((w.waiting.swap_remove(i), a)),
                None => i += 1,
            }
        }
        for (waiting, answer) in done {
            self.answered(waiting, answer);
        }
    }

    /// One answer (or none: the connection closed or the client gave up).
    fn answered(&mut self, waiting: Waiting, answer: Option<ResponseKind>) {
        let node = waiting.node;
        let outcome = answer.as_ref().map_or(Outcome::Unknown, outcome_of);
        self.note(|| format!("client <- {node}: {:?} {outcome:?}", waiting.kind));
        // The answering node's committed image and applied offset, for acknowledged writes.
        let at = self.nodes[&node].node.as_ref().map(|r| {
            (
                r.applied(),
                r.state_machine().image().cloned().unwrap_or_default(),
            )
        });
        let Some(w) = self.workload.as_mut() else {
            return;
        };
        match (&waiting.kind, &outcome) {
            (CallKind::Lifecycle(b, want_shut_down, incarnation), _) => {
                let b = *b;
                let want_shut_down = *want_shut_down;
                // An answer to an earlier process of the broker reaches nobody.
                if self.nodes[&b].incarnation != *incarnation {
                    return;
                }
                let Some(sim_broker) = w.brokers.get_mut(&b) else {
                    return;
                };
                // The shim's channel tries another controller on NOT_CONTROLLER, and reports
                // "no controller" when none answers; here that is one try.
                let not_controller = ControlErrorCode::NotController.code();
                let result = match answer {
                    Some(ResponseKind::BrokerHeartbeat(r)) if r.error_code == not_controller => {
                        Err(CallFailure::NoController("NOT_CONTROLLER".into()))
                    }
                    Some(ResponseKind::BrokerRegistration(r)) if r.error_code == not_controller => {
                        Err(CallFailure::NoController("NOT_CONTROLLER".into()))
                    }
                    Some(r) => Ok(r),
                    None => Err(CallFailure::Other("no answer".into())),
                };
                let granted = matches!(&result, Ok(ResponseKind::BrokerHeartbeat(r)) if r.error_code == 0 && r.should_shut_down);
                let now = self.now;
                sim_broker.lifecycle.answered(now, result, want_shut_down);
                let finished = sim_broker.lifecycle.finished().cloned();
                if granted {
                    // KIP-841: the controller lets a broker go once it is fenced and leads
                    // nothing, in its committed image.
                    let image = at.map(|(_, i)| i).unwrap_or_default();
                    let fenced = image.broker(b).is_none_or(|r| r.fenced);
                    let leads: Vec<String> = image
                        .topics
                        .by_id
                        .values()
                        .flat_map(|t| {
                            t.partitions
                                .iter()
                                .filter(|(_, p)| p.leader == b)
                                .map(move |(i, _)| format!("{}-{i}", t.name))
                        })
                        .collect();
                    if !fenced || !leads.is_empty() {
                        self.fail(format!(
                            "node {node} let broker {b} shut down while it is fenced={fenced} and leads {leads:?}"
                        ));
                    }
                }
                match finished {
                    Some(Ok(())) => {
                        self.stats.controlled_shutdowns += 1;
                        self.stop_cleanly(b);
                    }
                    Some(Err(e)) => self.fail(format!("broker {b}'s lifecycle ended: {e}")),
                    None => {}
                }
                return;
            }
            (_, Outcome::Unknown) => {
                self.stats.writes.2 += 1;
                return;
            }
            (_, Outcome::Refused(_)) => self.stats.writes.1 += 1,
            (_, Outcome::Acked) => self.stats.writes.0 += 1,
        }
        let acked = outcome == Outcome::Acked;
        let Some((applied, image)) = at else {
            if acked {
                self.fail(format!(
                    "node {node} acknowledged {:?} while down",
                    waiting.kind
                ));
            }
            return;
        };
        let problem = match &waiting.kind {
            CallKind::CreateTopic(name) | CallKind::CreateInvalidTopic(name) => {
                if acked {
                    match image.topic_by_name(name) {
                        Some(t) => {
                            if let Some(m) = w.topics.get_mut(name) {
                                m.acked = Some((t.id, applied));
                            }
                            None
                        }
                        None => Some(format!(
                            "node {node} acknowledged topic {name}, which its committed image at {applied} does not hold"
                        )),
                    }
                } else {
                    w.never_topics.insert(name.clone());
                    None
                }
            }
            CallKind::DeleteTopic(name) => {
                let id = w.topics.get(name).and_then(|t| t.acked).map(|(id, _)| id);
                if !acked {
                    None
                } else if image.topic_by_name(name).is_some() {
                    Some(format!(
                        "node {node} acknowledged deleting {name}, which its committed image at {applied} still holds"
                    ))
                } else {
                    if let Some(id) = id {
                        w.deleted.insert(id, (name.clone(), applied));
                    }
                    None
                }
            }
            CallKind::CreateAcl(principal) => {
                if acked {
                    if image.acls.values().any(|a| &a.principal == principal) {
                        w.acls.insert(principal.clone(), applied);
                        None
                    } else {
                        Some(format!(
                            "node {node} acknowledged the ACL of {principal}, which its committed image at {applied} does not hold"
                        ))
                    }
                } else {
                    w.never_acls.insert(principal.clone());
                    None
                }
            }
            CallKind::AlterConfig(name, value) => {
                let got = image
                    .configs
                    .get(2, name)
                    .and_then(|c| c.get("retention.ms"))
                    .cloned();
                // A delete sent meanwhile may have taken the topic's configs with it.
                let deleting = w.topics.get(name).is_some_and(|t| t.delete_sent);
                if !acked || deleting {
                    None
                } else if got.as_deref() != Some(value.as_str()) {
                    Some(format!(
                        "node {node} acknowledged retention.ms={value} for {name}; its committed image at {applied} has {got:?}"
                    ))
                } else {
                    if let Some(m) = w.topics.get_mut(name) {
                        m.config_acked = Some((value.clone(), applied));
                    }
                    None
                }
            }
            CallKind::Lifecycle(..) => None,
        };
        if let Some(p) = problem {
            self.fail(p);
        }
    }

    fn maybe_snapshot(&mut self, id: NodeId) {
        let every = self.cfg.snapshot_every;
        if every == 0 {
            return;
        }
        let node = self.nodes.get_mut(&id).expect("node");
        let Some(replica) = node.node.as_mut() else {
            return;
        };
        let core = replica.core();
        let hw = core.high_watermark();
        let last = core
            .store()
            .latest_snapshot()
            .map_or(0, |s| s.end_offset.into());
        if hw - last < Offset(every) || hw > core.store().end_offset() {
            return;
        }
        let Some(entries) = entries_of(core.store(), Offset(0), hw) else {
            return;
        };
        let epoch = entries.last().map_or(Epoch::ZERO, |e| e.epoch);
        let id_ = SnapshotId {
            end_offset: hw,
            epoch,
        };
        // As the real state machine does, from its thread: written beside the log, then
        // retention drops what the snapshot covers.
        let store = replica.store_mut();
        store.create_snapshot(id_, encode_snapshot(&entries));
        store.delete_before_latest_snapshot(3);
    }

    /// The high watermark a leader reports (-1: not known yet) never goes below what a leader
    /// of an earlier epoch reported: what a quorum tells its followers and clients never goes
    /// back across a leader change.
    fn check_reported_high_watermark(&mut self, id: NodeId, epoch: Epoch, hw: Offset) {
        if hw < Offset(0) {
            return;
        }
        let earlier = self
            .reported_hw
            .range(..epoch)
            .map(|(_, h)| *h)
            .max()
            .unwrap_or(Offset(-1));
        if hw < earlier {
            self.fail(format!(
                "node {id} reports high watermark {hw} in epoch {epoch}, below the {earlier} reported in an earlier epoch"
            ));
        }
        let e = self.reported_hw.entry(epoch).or_insert(hw);
        *e = (*e).max(hw);
    }

    /// Per-node invariants: one leader per epoch, the high watermark never goes back, and the
    /// node's entries below its high watermark are exactly the committed log.
    fn check_node(&mut self, id: NodeId) {
        let Some(core) = self.nodes[&id].core() else {
            return;
        };
        if core.role() == RoleKind::Leader {
            let epoch = core.epoch();
            match self.leaders.get(&epoch) {
                Some(&(l, _)) if l != id => {
                    self.fail(format!("two leaders in epoch {epoch}: {l} and {id}"))
                }
                Some(_) => {}
                None => {
                    self.leaders.insert(epoch, (id, self.now));
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
        let Some(core) = node.core() else {
            return;
        };
        let hw = core.high_watermark();
        if hw < node.hw {
            self.fail(format!(
                "node {id}: high watermark went back from {} to {hw}",
                node.hw
            ));
        }
        let start = core.store().log_start_offset();
        let covered = core
            .store()
            .latest_snapshot()
            .map_or(0, |s| s.end_offset.into());
        if start > Offset(covered) {
            self.fail(format!(
                "node {id}: its log starts at {start}, its newest snapshot ends at {covered}: a gap"
            ));
        }
        if hw > core.store().end_offset() {
            self.fail(format!(
                "node {id}: high watermark {hw} beyond its log end {}",
                core.store().end_offset()
            ));
        }
        // Extend the committed reference from this node.
        let len = Offset(self.committed.len() as i64);
        if hw > len {
            match entries_of(core.store(), len, hw) {
                Some(new) => {
                    // Values are unique in the value workload; metadata records repeat.
                    let values = self.cfg.workload == WorkloadKind::Values;
                    for e in new.iter().filter(|e| values && !e.control) {
                        if self.not_appended.contains(&e.value) {
                            self.fail(format!(
                                "{:?} commits, though its proposal was reported NotAppended",
                                e.value
                            ));
                        }
                        if !self.committed_values.insert(e.value.clone()) {
                            self.fail(format!("{:?} committed twice", e.value));
                        }
                    }
                    self.committed.extend(new)
                }
                None => self.fail(format!(
                    "node {id}: high watermark {hw} but entries from {len} are missing"
                )),
            }
        }
        let from = self.checkable_from(core.store(), node.verified);
        if hw > from {
            match entries_of(core.store(), from, hw) {
                Some(mine) => {
                    if mine[..] != self.committed[from.get() as usize..hw.get() as usize] {
                        let at = Offset(
                            mine.iter()
                                .zip(&self.committed[from.get() as usize..])
                                .position(|(a, b)| a != b)
                                .unwrap_or(0) as i64,
                        ) + from.into();
                        self.fail(format!(
                            "node {id}: entry {at} below its high watermark {hw} differs from the committed log: {:?} vs {:?}",
                            mine.get((at - from) as usize),
                            self.committed.get(at.get() as usize)
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

    /// Where a store's entries can be compared with the committed log from, at `from` or
    /// later. The value workload's snapshots hold the log's entries; the metadata workload's
    /// hold the image, so below the log start there is nothing to compare (the images are
    /// compared instead, and a durable snapshot holds what it covers).
    fn checkable_from(&self, store: &MemStore, from: Offset) -> Offset {
        match self.cfg.workload {
            WorkloadKind::Values => from,
            WorkloadKind::Metadata => from.max(store.log_start_offset()),
        }
    }

    /// The committed log is held durably by a majority of voters.
    fn check_majority(&mut self) {
        let total = Offset(self.committed.len() as i64);
        let mut holders = 0;
        let ids: Vec<NodeId> = self.voters.iter().copied().collect();
        for id in ids {
            let node = &self.nodes[&id];
            let store = match (node.core(), &node.down_store) {
                (Some(c), _) => c.store(),
                (None, Some(s)) => s,
                (None, None) => continue,
            };
            let durable = store
                .durable_end_offset()
                .max(store.log_start_offset())
                .min(total);
            let mut held = self.checkable_from(store, node.held.min(durable));
            if held < durable {
                if let Some(entries) = entries_of(store, held, durable) {
                    let ok = entries
                        .iter()
                        .zip(&self.committed[held.get() as usize..])
                        .take_while(|(a, b)| a == b)
                        .count();
                    held += ok as i64;
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

    /// Makes every node's disk (and sends) fast again.
    fn make_disks_fast(&mut self) {
        for n in self.nodes.values_mut() {
            n.slow = false;
        }
    }

    /// Ends the faults: heals the network, restarts crashed nodes, fixes slow disks.
    pub fn heal_all(&mut self) {
        self.heal_links();
        self.faults_on = false;
        let down: Vec<NodeId> = self
            .nodes
            .values()
            .filter(|n| n.node.is_none())
            .map(|n| n.id)
            .collect();
        self.make_disks_fast();
        self.crashed.clear();
        for id in down {
            self.start(id);
        }
        self.note(|| "liveness phase: all healed".to_string());
    }

    /// Stability (KIP-996, check-quorum): with a leader whose majority stays connected, one
    /// follower's links go down and up (dropping or rejecting) every few hundred ms for `ms`;
    /// no other fault happens. The epoch must not change: pre-vote keeps the flapping follower
    /// from disrupting a leader the others still hear from.
    pub fn flap_one_follower(&mut self, ms: Millis) {
        let Some(leader) = self.leader() else { return };
        let epoch = self.nodes[&leader]
            .core()
            .map_or(Epoch::ZERO, |c| c.epoch());
        let followers: Vec<NodeId> = self
            .voters
            .iter()
            .copied()
            .filter(|v| *v != leader)
            .collect();
        // The flapping node must be a minority: with it cut, the leader keeps a majority.
        if self.voters.len() < 3 {
            return;
        }
        let x = followers[self.rng.range(0, followers.len() as u64) as usize];
        self.faults_on = true;
        self.holding = true;
        self.make_disks_fast();
        self.note(|| {
            format!("stability: {x} flaps for {ms} ms under leader {leader} (epoch {epoch})")
        });
        let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
        let end = self.now + ms;
        let mut cut = false;
        while self.now < end {
            cut = !cut;
            if cut {
                let block = self.random_block();
                for &y in &ids {
                    if y != x {
                        self.block_link(x, y, block);
                        self.block_link(y, x, block);
                    }
                }
            } else {
                self.heal_links();
            }
            let next = (self.now + self.rng.range(100, 600)).min(end);
            self.run_until(next, |_| false);
        }
        self.heal_links();
        self.holding = false;
        self.faults_on = false;
        let max_epoch = self
            .nodes
            .values()
            .filter_map(|n| n.core().map(|c| c.epoch()))
            .max()
            .unwrap_or(Epoch(0));
        if max_epoch != epoch {
            let msg = format!(
                "stability: the epoch moved from {epoch} to {max_epoch} while only follower {x} flapped: {}",
                self.describe()
            );
            self.fail(msg);
        }
    }

    /// Starts injecting faults again after a heal.
    pub fn resume_faults(&mut self) {
        self.faults_on = true;
        // One chain of fault events at a time: one still pending carries on.
        if self.cfg.faults.fault_interval_ms != u64::MAX && !self.fault_chain {
            self.fault_chain = true;
            let t = self.now + self.rng.range(1, self.cfg.faults.fault_interval_ms);
            self.schedule(t, Event::Fault);
        }
        self.note(|| "faults resume".to_string());
    }

    /// Holds a random topology still for `ms`: crashes the leader half the time (faults aimed
    /// at the leader), sometimes one more voter, cuts random links (dropping or rejecting),
    /// makes every disk fast, then lets no fault, crash or restart happen. If some live voter reaches every live voter, they
    /// are a majority, and its log is at least as up to date as each of theirs, Raft promises
    /// progress: the committed log must grow before the hold ends.
    pub fn hold(&mut self, ms: Millis) {
        // Paused processes resume first: the hold is about a topology that stays still.
        self.holding = true;
        let resumed = self
            .nodes
            .values()
            .map(|n| n.paused_until)
            .max()
            .unwrap_or(0);
        if resumed > self.now {
            self.run_until(resumed, |_| false);
        }
        if self.rng.chance(0.5) {
            if let Some(l) = self.leader() {
                self.crash(l);
            }
        }
        if self.rng.chance(0.3) {
            let voters: Vec<NodeId> = self.voters.iter().copied().collect();
            let x = voters[self.rng.range(0, voters.len() as u64) as usize];
            self.crash(x);
        }
        let cut = [0.0, 0.15, 0.3][self.rng.range(0, 3) as usize];
        let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
        for (i, &a) in ids.iter().enumerate() {
            for &b in &ids[i + 1..] {
                if self.rng.chance(cut) {
                    let block = self.random_block();
                    self.block_link(a, b, block);
                    self.block_link(b, a, block);
                }
            }
        }
        // Raft is live only with timely processes: no disk in the hold is slower than the
        // timeouts.
        self.make_disks_fast();
        self.holding = true;
        // What was already on the wire when the topology froze lands first (a crashed
        // leader's last appends among it): the promise is about the logs after that.
        let settled = self.now + HOLD_SETTLE_MS;
        self.run_until(settled, |_| false);
        let star = self.viable_star();
        let before = self.committed.len();
        let blocked: Vec<String> = self
            .blocked
            .iter()
            .map(|((a, b), k)| format!("{a}->{b} {k:?}"))
            .collect();
        self.note(|| {
            format!(
                "hold for {ms} ms; blocked: {}; a voter that can win: {star:?}",
                blocked.join(", ")
            )
        });
        let until = self.now + ms;
        let start = self.now;
        let mut progress_ms = None;
        if star.is_some() {
            let progressed =
                self.run_until(until, |s| s.committed.len() > before || s.settled_leader());
            if progressed {
                let took = self.now - start;
                progress_ms = Some(took);
                self.stats.star_holds += 1;
                self.stats.star_progress_ms_max = self.stats.star_progress_ms_max.max(took);
                if std::env::var_os("SIM_HOLD_STATS").is_some() {
                    eprintln!(
                        "hold seed={} progress after {took} ms {:?}",
                        self.cfg.seed, self.cfg.transport
                    );
                }
            }
        }
        self.run_until(until, |_| false);
        self.holding = false;
        if let Some(v) = star {
            let took = progress_ms.unwrap_or(ms);
            // Over connections a dead leader is noticed at once (refused) or after the fetch
            // timeout (dropped): an election is due within a few rounds. Datagram loss and
            // reordering before the hold may leave longer tails.
            let bound = match self.cfg.transport {
                Transport::Tcp => HOLD_PROGRESS_TCP_MS,
                Transport::Datagram => ms,
            };
            if took >= bound {
                let msg = format!(
                    "liveness: voter {v} reaches every live voter with the best log, yet in {took} ms nothing committed and no leader settled (bound {bound} ms): {}",
                    self.describe()
                );
                self.fail(msg);
            }
        }
    }

    /// Whether a live node leads the highest live epoch and has led it for a check-quorum
    /// window (so a majority follows it: it may still be catching them up).
    fn settled_leader(&self) -> bool {
        let max_epoch = self
            .nodes
            .values()
            .filter_map(|n| n.core().map(|c| c.epoch()))
            .max();
        let Some(l) = self.leader() else { return false };
        let epoch = self.nodes[&l].core().map(|c| c.epoch());
        epoch == max_epoch
            && epoch
                .and_then(|e| self.leaders.get(&e))
                .is_some_and(|(_, since)| {
                    self.now >= since + self.cfg.raft.check_quorum_timeout_ms()
                })
    }

    /// A live voter that reaches every live voter (a majority) in both directions and whose log
    /// is at least as up to date as each of theirs.
    fn viable_star(&self) -> Option<NodeId> {
        let live: Vec<(NodeId, (Epoch, Offset))> = self
            .voters
            .iter()
            .filter_map(|id| {
                let c = self.nodes[id].core()?;
                Some((*id, (c.store().last_epoch(), c.store().end_offset())))
            })
            .collect();
        if live.len() < self.voters.len() / 2 + 1 {
            return None;
        }
        live.iter()
            .find(|(v, log)| {
                live.iter().all(|(u, other)| {
                    u == v
                        || (self.block(*v, *u).is_none()
                            && self.block(*u, *v).is_none()
                            && log >= other)
                })
            })
            .map(|(v, _)| *v)
    }

    /// Whether every live node has a high watermark of at least `offset` and one leader leads
    /// the highest epoch.
    pub fn converged(&self, offset: Offset) -> bool {
        let max_epoch = self
            .nodes
            .values()
            .filter_map(|n| n.core())
            .map(|c| c.epoch())
            .max()
            .unwrap_or(Epoch(0));
        let leader = self
            .nodes
            .values()
            .filter_map(|n| n.core())
            .any(|c| c.role() == RoleKind::Leader && c.epoch() == max_epoch);
        leader
            && self
                .nodes
                .values()
                .all(|n| n.core().is_some_and(|c| c.high_watermark() >= offset))
    }

    /// A description of every node, for failure messages.
    pub fn describe(&self) -> String {
        self.nodes
            .values()
            .map(|n| match n.core() {
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
            .chain(
                self.stuck_connections(1_000)
                    .into_iter()
                    .map(|c| format!("stuck connection {c}")),
            )
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

/// Records a leader may hold uncommitted before the clients wait (they wait for answers, so
/// the offered load never outruns replication for good).
const UNCOMMITTED_MAX: Offset = Offset(100);

/// How long one follower's links flap in a stability check.
const FLAP_MS: Millis = 2_000;

/// How long a hold lasts.
const HOLD_MS: Millis = 4_000;
/// Time for messages in flight to land before a hold's topology is judged (the longest
/// datagram delay is 80 ms).
const HOLD_SETTLE_MS: Millis = 200;
/// Over the Tcp transport, a hold with a voter that can win must progress within this long.
const HOLD_PROGRESS_TCP_MS: Millis = 3_000;
/// How long a healed cluster has to converge.
const LIVENESS_MS: Millis = 20_000;

/// The most cycles a seed runs while it waits for its leader changes.
pub const CYCLES_MAX: u32 = 12;

/// Runs one seed: cycles of chaos, a hold and a full heal after which the cluster must elect a
/// leader and commit on every node; a seed asking for leader changes runs cycles until it has
/// seen them (or [`CYCLES_MAX`]). Panics with the seed on any violation.
pub fn run_seed(seed: u64) -> SimStats {
    let cfg = SimConfig::from_seed(seed);
    let (cycles, leader_changes_min) = (cfg.cycles, cfg.leader_changes_min);
    let mut sim = Sim::new(cfg);
    let mut cycle = 0;
    while cycle < cycles || (sim.stats.elections < leader_changes_min && cycle < CYCLES_MAX) {
        if cycle > 0 {
            sim.resume_faults();
        }
        let chaos = sim.rng.range(1_000, 4_000);
        let until = sim.now() + chaos;
        sim.run_until(until, |_| false);
        sim.hold(HOLD_MS);
        sim.heal_all();
        // Liveness: the committed log must grow past where it is now, on every node.
        let target = Offset(sim.committed_len() as i64) + 1;
        let deadline = sim.now() + LIVENESS_MS;
        if !sim.run_until(deadline, |s| s.converged(target)) {
            let msg = format!(
                "liveness: no convergence within {LIVENESS_MS} ms after healing: {}",
                sim.describe()
            );
            sim.fail(msg);
        }
        if sim.rng.chance(0.3) {
            sim.flap_one_follower(FLAP_MS);
        }
        cycle += 1;
    }
    sim.stats.cycles = cycle;
    if leader_changes_min > 0 && sim.stats.elections >= leader_changes_min {
        sim.stats.long_histories = 1;
    }
    sim.stats.clone()
}
