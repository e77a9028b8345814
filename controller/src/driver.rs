//! The driver: the one place with side effects around the consensus core.
//!
//! One OS thread owns the [`RaftCore`] and the [`StateMachine`]. It takes events (peer
//! messages, requests for the state machine, finished fsyncs) from a bounded channel, ticks the
//! core at the deadline it names, and performs every [`Ready`](crate::raft::Ready) in order:
//! log writes (to the page cache, on this thread, never on the async threads), the election
//! state (fsynced before any message leaves), messages, then a flush request. The `fdatasync`
//! itself runs on a second thread: while it runs, the leader keeps appending and replicating,
//! and the next flush covers everything written meanwhile (group commit). Committed batches go
//! to the state machine in order, and every proposal's outcome reaches whoever made it.
//!
//! Storage failures are fatal: the process logs the error with its context and exits, as Kafka
//! does, because a replica that cannot write its log must not vote or lead.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use metaquorum_log::batch::RecordData;
use metaquorum_log::clock::wall_clock_ms;
use metaquorum_log::quorum_state::QuorumStateStore;
use metaquorum_log::{FlushDone, LogError, PendingFlush};
use tokio::sync::oneshot;

use crate::metrics::{RaftGauges, RaftMetrics};
use crate::net::peer::{PeerClient, PeerSettings, ResponseSink};
use crate::raft::segmented::SegmentedStore;
use crate::raft::{
    Batch, ElectionState, LogOp, LogStore, Message, Millis, NodeId, Offset, ProposalId,
    ProposalOutcome, ProposeError, QuorumInfo, RaftConfig, RaftCore, RoleKind,
};

/// Events queued to the driver at most; senders see [`DriverError::Busy`] beyond it.
pub const EVENT_QUEUE_MAX: usize = 65_536;
/// Events handled before the driver performs a `Ready` (batches bursts of messages).
const EVENTS_PER_TURN_MAX: usize = 256;

/// Why a call into the driver failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DriverError {
    /// The event queue is full.
    #[error("the controller is overloaded (event queue full)")]
    Busy,
    /// The driver has stopped.
    #[error("the controller is shutting down")]
    Stopped,
}

/// What the state machine may do from its callbacks: propose records, read the quorum's state.
pub struct Ctx<'a> {
    core: &'a mut RaftCore<SegmentedStore>,
    proposed_at: &'a mut HashMap<ProposalId, Instant>,
    now_ms: Millis,
    /// Wall-clock ms at the driver clock's zero.
    wall_ms_at_zero: i64,
}

impl Ctx<'_> {
    /// Proposes records; returns the proposal id and the offset its first record will have if
    /// it commits.
    pub fn propose(
        &mut self,
        records: Vec<RecordData>,
    ) -> Result<(ProposalId, Offset), ProposeError> {
        let first = self.core.next_proposal_offset();
        let id = self.core.propose(records)?;
        self.proposed_at.insert(id, Instant::now());
        Ok((id, first))
    }

    /// The offset the first record of the next proposal will get.
    pub fn next_offset(&self) -> Offset {
        self.core.next_proposal_offset()
    }

    /// This node's id.
    pub fn node_id(&self) -> NodeId {
        self.core.node_id()
    }

    /// The leader this node knows.
    pub fn leader_id(&self) -> Option<NodeId> {
        self.core.leader_id()
    }

    /// The current epoch.
    pub fn epoch(&self) -> i32 {
        self.core.epoch()
    }

    /// The role.
    pub fn role(&self) -> RoleKind {
        self.core.role()
    }

    /// The high watermark.
    pub fn high_watermark(&self) -> Offset {
        self.core.high_watermark()
    }

    /// The driver's monotonic clock.
    pub fn now_ms(&self) -> Millis {
        self.now_ms
    }

    /// Wall-clock milliseconds since the Unix epoch.
    pub fn wall_ms(&self) -> i64 {
        self.wall_ms_at_zero + self.now_ms as i64
    }

    /// The quorum as this node sees it.
    pub fn describe_quorum(&self) -> QuorumInfo {
        self.core.describe_quorum()
    }

    /// The on-disk log, for snapshot generation.
    pub fn store_mut(&mut self) -> &mut SegmentedStore {
        self.core.store_mut()
    }
}

/// The replicated state machine the driver feeds: the metadata image and, on the leader, the
/// active controller. Every callback runs on the driver thread; none may block.
pub trait StateMachine: Send + 'static {
    /// Requests the network hands to the state machine.
    type Request: Send + 'static;

    /// Loads state from the newest snapshot at startup (before any `apply`). Returns the offset
    /// the snapshot ends at (the next offset to apply), or 0 without a snapshot.
    fn load(&mut self, store: &SegmentedStore) -> Result<Offset, String>;
    /// A committed batch, in log order (control batches included).
    fn apply(&mut self, batch: &Batch, ctx: &mut Ctx<'_>);
    /// A request from the network.
    fn handle(&mut self, request: Self::Request, ctx: &mut Ctx<'_>);
    /// A proposal ended.
    fn proposal_done(&mut self, id: ProposalId, outcome: ProposalOutcome, ctx: &mut Ctx<'_>);
    /// Called after every turn of the driver (a good place for timers); returns the next time
    /// it wants to be called at the latest.
    fn tick(&mut self, ctx: &mut Ctx<'_>) -> Option<Millis>;
}

/// A request for the state machine, or anything else the driver does.
enum Event<R> {
    Request {
        from: NodeId,
        message: Message,
        reply: oneshot::Sender<Message>,
    },
    Response {
        from: NodeId,
        correlation_id: u64,
        message: Message,
    },
    Flushed(Result<FlushDone, LogError>),
    /// A peer refused a connection, seen while this node was in the given epoch.
    PeerUnreachable(NodeId, i32),
    Describe(oneshot::Sender<QuorumView>),
    StateMachine(R),
    Shutdown(oneshot::Sender<()>),
}

/// The quorum as one node sees it, for DescribeQuorum and metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct QuorumView {
    /// The core's view.
    pub info: QuorumInfo,
    /// This node's role.
    pub role: RoleKind,
    /// This node's id.
    pub node_id: NodeId,
    /// This node's log end offset.
    pub log_end_offset: Offset,
    /// Wall-clock ms of the driver clock's zero, to turn the core's times into timestamps.
    pub wall_ms_at_zero: i64,
}

/// Sends events to the driver.
pub struct DriverHandle<R> {
    tx: SyncSender<Event<R>>,
    /// The core's epoch as of the driver's last turn, to stamp transport news with.
    epoch: Arc<AtomicI32>,
}

impl<R> Clone for DriverHandle<R> {
    fn clone(&self) -> Self {
        DriverHandle {
            tx: self.tx.clone(),
            epoch: Arc::clone(&self.epoch),
        }
    }
}

impl<R: Send + 'static> DriverHandle<R> {
    fn send(&self, event: Event<R>) -> Result<(), DriverError> {
        self.tx.try_send(event).map_err(|e| match e {
            TrySendError::Full(_) => DriverError::Busy,
            TrySendError::Disconnected(_) => DriverError::Stopped,
        })
    }

    /// Hands a peer's Raft request to the core; resolves to the core's response.
    pub async fn raft_request(
        &self,
        from: NodeId,
        message: Message,
    ) -> Result<Message, DriverError> {
        let (reply, rx) = oneshot::channel();
        self.send(Event::Request {
            from,
            message,
            reply,
        })?;
        rx.await.map_err(|_| DriverError::Stopped)
    }

    /// This node's view of the quorum.
    pub async fn describe_quorum(&self) -> Result<QuorumView, DriverError> {
        let (reply, rx) = oneshot::channel();
        self.send(Event::Describe(reply))?;
        rx.await.map_err(|_| DriverError::Stopped)
    }

    /// Hands a request to the state machine.
    pub fn state_machine(&self, request: R) -> Result<(), DriverError> {
        self.send(Event::StateMachine(request))
    }

    /// Resigns leadership gracefully (EndQuorumEpoch) and stops the driver.
    pub async fn shutdown(&self) {
        let (reply, rx) = oneshot::channel();
        if self.send(Event::Shutdown(reply)).is_ok() {
            let _ = rx.await;
        }
    }
}

impl<R: Send + 'static> ResponseSink for DriverHandle<R> {
    fn deliver(&self, from: NodeId, correlation_id: u64, message: Message) {
        if let Err(e) = self.send(Event::Response {
            from,
            correlation_id,
            message,
        }) {
            tracing::debug!("dropping a response from node {from}: {e}");
        }
    }

    fn unreachable(&self, from: NodeId) {
        let epoch = self.epoch.load(Ordering::Relaxed);
        let _ = self.send(Event::PeerUnreachable(from, epoch));
    }
}

/// Everything the driver needs to start.
pub struct DriverConfig {
    /// Timeouts and limits of the core.
    pub raft: RaftConfig,
    /// The voters and their Raft listener addresses (`host:port`).
    pub voters: BTreeMap<NodeId, String>,
    /// Settings of connections to peers.
    pub peer: PeerSettings,
    /// The metadata partition directory (`<metadata.log.dir>/__cluster_metadata-0`).
    pub partition_dir: std::path::PathBuf,
    /// Seed of the core's election jitter.
    pub seed: u64,
}

/// Starts the driver thread over an open log; peer tasks are spawned on `runtime`.
pub fn start<S: StateMachine>(
    config: DriverConfig,
    store: SegmentedStore,
    mut state_machine: S,
    runtime: tokio::runtime::Handle,
) -> Result<(DriverHandle<S::Request>, std::thread::JoinHandle<()>), String> {
    let quorum_state = QuorumStateStore::new(&config.partition_dir);
    let persisted = quorum_state
        .read()
        .map_err(|e| format!("reading {}: {e}", quorum_state.path().display()))?
        .map(|s| ElectionState {
            epoch: s.epoch,
            leader_id: s.leader_id,
            voted_id: s.voted_id,
        });
    let applied = state_machine.load(&store)?;
    let (tx, rx) = mpsc::sync_channel(EVENT_QUEUE_MAX);
    let epoch = Arc::new(AtomicI32::new(persisted.map_or(0, |s| s.epoch)));
    let handle = DriverHandle {
        tx,
        epoch: Arc::clone(&epoch),
    };
    let me = config.raft.node_id;
    let mut peers = HashMap::new();
    {
        let _guard = runtime.enter();
        for (id, addr) in &config.voters {
            if *id != me {
                let sink = Arc::new(handle.clone());
                peers.insert(
                    *id,
                    PeerClient::spawn(*id, addr.clone(), config.peer.clone(), sink),
                );
            }
        }
    }
    let (flush_tx, flush_rx) = mpsc::channel::<PendingFlush>();
    let flushed = handle.clone();
    std::thread::Builder::new()
        .name("metaquorum-fsync".into())
        .spawn(move || {
            for pending in flush_rx {
                let done = pending.sync();
                // Blocking: a full queue must delay a flush result, never lose it.
                if flushed.tx.send(Event::Flushed(done)).is_err() {
                    return;
                }
            }
        })
        .map_err(|e| format!("starting the fsync thread: {e}"))?;
    let base = Instant::now();
    let wall_ms_at_zero = wall_clock_ms();
    let voters: BTreeSet<NodeId> = config.voters.keys().copied().collect();
    let core = RaftCore::new(config.raft, store, voters, persisted, 1, config.seed);
    let mut driver = Driver {
        core,
        epoch,
        sm: state_machine,
        quorum_state,
        peers,
        replies: HashMap::new(),
        flush_tx,
        flush_in_flight: false,
        flush_again: false,
        applied,
        base,
        wall_ms_at_zero,
        next_inbound_id: 1,
        sm_deadline: None,
        metrics: RaftMetrics::default(),
        proposed_at: HashMap::new(),
        published_at: None,
        leaderless_since: None,
    };
    let thread = std::thread::Builder::new()
        .name("metaquorum-driver".into())
        .spawn(move || driver.run(rx))
        .map_err(|e| format!("starting the driver thread: {e}"))?;
    Ok((handle, thread))
}

struct Driver<S: StateMachine> {
    core: RaftCore<SegmentedStore>,
    /// Shared with the handles: the epoch transport news is stamped with.
    epoch: Arc<AtomicI32>,
    sm: S,
    quorum_state: QuorumStateStore,
    peers: HashMap<NodeId, PeerClient>,
    /// Inbound requests waiting for the core's answer, by the id the driver gave them.
    replies: HashMap<u64, oneshot::Sender<Message>>,
    flush_tx: mpsc::Sender<PendingFlush>,
    flush_in_flight: bool,
    /// The core asked for a flush while one was running: start another when it ends.
    flush_again: bool,
    /// Next offset to hand to the state machine. Invariant: <= high watermark.
    applied: Offset,
    base: Instant,
    wall_ms_at_zero: i64,
    /// Inbound request ids live in the low half of the id space; the core's own requests carry
    /// a random tag in the high half.
    next_inbound_id: u64,
    sm_deadline: Option<Millis>,
    metrics: RaftMetrics,
    /// When each pending proposal was made (for commit latency).
    proposed_at: HashMap<ProposalId, Instant>,
    /// When the gauges were last published (they are throttled to [`PUBLISH_EVERY`]).
    published_at: Option<Instant>,
    /// Since when no leader is known (for election latency).
    leaderless_since: Option<Instant>,
}

/// Gauges are published at most this often.
const PUBLISH_EVERY: Duration = Duration::from_millis(200);

impl<S: StateMachine> Driver<S> {
    fn observe(&mut self) {
        let now = Instant::now();
        match (self.core.leader_id(), self.leaderless_since) {
            (None, None) => self.leaderless_since = Some(now),
            (Some(_), Some(since)) => {
                self.metrics
                    .record_election_latency(now, now.duration_since(since).as_secs_f64() * 1e3);
                self.leaderless_since = None;
            }
            _ => {}
        }
        if self
            .published_at
            .is_some_and(|t| now.duration_since(t) < PUBLISH_EVERY)
        {
            return;
        }
        self.published_at = Some(now);
        let state = self.core.election_state();
        self.metrics.publish(
            now,
            RaftGauges {
                role: self.core.role(),
                is_voter: self.core.is_voter(),
                leader_id: self.core.leader_id(),
                voted_id: state.voted_id,
                epoch: self.core.epoch(),
                high_watermark: self.core.high_watermark(),
                log_end_offset: self.core.log_end_offset(),
            },
        );
    }

    fn now(&self) -> Millis {
        self.base.elapsed().as_millis() as Millis + 1
    }

    fn fatal(&self, what: &str, e: impl std::fmt::Display) -> ! {
        tracing::error!("fatal storage error while {what}: {e}; stopping");
        eprintln!("metaquorum: fatal storage error while {what}: {e}");
        std::process::exit(3);
    }

    fn run(&mut self, rx: Receiver<Event<S::Request>>) {
        loop {
            let now = self.now();
            let mut deadline = self.core.next_deadline();
            if let Some(d) = self.sm_deadline {
                deadline = deadline.min(d);
            }
            let wait = Duration::from_millis(deadline.saturating_sub(now));
            let mut handled = 0;
            match rx.recv_timeout(wait) {
                Ok(ev) => {
                    if !self.handle(ev) {
                        return;
                    }
                    handled += 1;
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            while handled < EVENTS_PER_TURN_MAX {
                match rx.try_recv() {
                    Ok(ev) => {
                        if !self.handle(ev) {
                            return;
                        }
                        handled += 1;
                    }
                    Err(_) => break,
                }
            }
            let now = self.now();
            if now >= self.core.next_deadline() {
                self.core.tick(now);
            }
            self.perform_ready();
            let now = self.now();
            let mut ctx = Ctx {
                core: &mut self.core,
                proposed_at: &mut self.proposed_at,
                now_ms: now,
                wall_ms_at_zero: self.wall_ms_at_zero,
            };
            self.sm_deadline = self.sm.tick(&mut ctx);
            self.perform_ready();
            self.epoch.store(self.core.epoch(), Ordering::Relaxed);
            self.observe();
        }
    }

    /// Handles one event; false to stop.
    fn handle(&mut self, event: Event<S::Request>) -> bool {
        let now = self.now();
        match event {
            Event::Request {
                from,
                message,
                reply,
            } => {
                let id = self.next_inbound_id;
                self.next_inbound_id = (self.next_inbound_id + 1) & 0xffff_ffff;
                self.replies.insert(id, reply);
                self.core.step(now, from, id, message);
            }
            Event::Response {
                from,
                correlation_id,
                message,
            } => self.core.step(now, from, correlation_id, message),
            Event::Flushed(Ok(done)) => {
                self.flush_in_flight = false;
                self.core.store_mut().log_mut().complete_flush(done);
                self.core.handle_log_flushed(now);
                if std::mem::take(&mut self.flush_again) {
                    self.start_flush();
                }
            }
            Event::Flushed(Err(e)) => self.fatal("syncing the log", e),
            Event::PeerUnreachable(from, epoch) => self.core.peer_unreachable(now, from, epoch),
            Event::Describe(reply) => {
                let _ = reply.send(QuorumView {
                    info: self.core.describe_quorum(),
                    role: self.core.role(),
                    node_id: self.core.node_id(),
                    log_end_offset: self.core.log_end_offset(),
                    wall_ms_at_zero: self.wall_ms_at_zero,
                });
            }
            Event::StateMachine(request) => {
                let mut ctx = Ctx {
                    core: &mut self.core,
                    proposed_at: &mut self.proposed_at,
                    now_ms: now,
                    wall_ms_at_zero: self.wall_ms_at_zero,
                };
                self.sm.handle(request, &mut ctx);
            }
            Event::Shutdown(done) => {
                self.core.resign();
                self.perform_ready();
                // Give the EndQuorumEpoch messages a moment to leave; peers time out otherwise.
                std::thread::sleep(Duration::from_millis(50));
                let _ = done.send(());
                return false;
            }
        }
        true
    }

    fn start_flush(&mut self) {
        if self.flush_in_flight {
            self.flush_again = true;
            return;
        }
        let pending = self.core.store().log().begin_flush();
        self.flush_in_flight = true;
        if self.flush_tx.send(pending).is_err() {
            self.fatal("handing a flush to the fsync thread", "thread gone");
        }
    }

    fn perform_ready(&mut self) {
        loop {
            let ready = self.core.ready();
            if ready.is_empty() {
                break;
            }
            for op in ready.log_ops {
                if let LogOp::Append(b) = &op {
                    if self.core.role() == RoleKind::Leader {
                        self.metrics
                            .record_appended(Instant::now(), b.records.len());
                    } else {
                        self.metrics.record_fetched(Instant::now(), b.records.len());
                    }
                }
                let what = match &op {
                    LogOp::Append(_) => "appending to the log",
                    LogOp::Truncate(_) => "truncating the log",
                    LogOp::SnapshotChunk { .. } => "writing a snapshot chunk",
                    LogOp::InstallSnapshot(_) => "installing a snapshot",
                };
                let installed = matches!(op, LogOp::InstallSnapshot(_));
                if let Err(e) = self.core.store_mut().apply(op) {
                    self.fatal(what, e);
                }
                if installed {
                    match self.sm.load(self.core.store()) {
                        Ok(next) => self.applied = next,
                        Err(e) => self.fatal("loading an installed snapshot", e),
                    }
                }
            }
            if let Some(state) = ready.election_state {
                let file_state = metaquorum_log::quorum_state::ElectionState {
                    epoch: state.epoch,
                    leader_id: state.leader_id,
                    voted_id: state.voted_id,
                    voted_directory_id: None,
                };
                if let Err(e) = self.quorum_state.write(&file_state) {
                    self.fatal("persisting the election state", e);
                }
            }
            for (to, cid, message) in ready.messages {
                if !message.is_request() {
                    if let Some(reply) = self.replies.remove(&cid) {
                        let _ = reply.send(message);
                    }
                } else if let Some(peer) = self.peers.get(&to) {
                    peer.send(cid, message);
                } else {
                    tracing::debug!("no connection to node {to} for {}", message.name());
                }
            }
            if ready.flush {
                self.start_flush();
            }
            let now = self.now();
            if ready.high_watermark.is_some() {
                self.apply_committed(now);
            }
            for (id, outcome) in ready.proposals {
                if let Some(at) = self.proposed_at.remove(&id) {
                    if matches!(outcome, ProposalOutcome::Committed { .. }) {
                        let ms = at.elapsed().as_secs_f64() * 1e3;
                        self.metrics.record_commit_latency(Instant::now(), ms);
                    }
                }
                let mut ctx = Ctx {
                    core: &mut self.core,
                    proposed_at: &mut self.proposed_at,
                    now_ms: now,
                    wall_ms_at_zero: self.wall_ms_at_zero,
                };
                self.sm.proposal_done(id, outcome, &mut ctx);
            }
            self.core.advance();
        }
    }

    /// Hands batches below the high watermark to the state machine.
    fn apply_committed(&mut self, now: Millis) {
        let hw = self.core.high_watermark();
        while self.applied < hw {
            let batches = match self.core.store().read(self.applied, 1 << 20) {
                Ok(b) => b,
                Err(e) => self.fatal("reading committed batches", e),
            };
            if batches.is_empty() {
                break;
            }
            for batch in batches {
                if batch.next_offset() <= self.applied {
                    continue;
                }
                if batch.next_offset() > hw {
                    return;
                }
                self.applied = batch.next_offset();
                let mut ctx = Ctx {
                    core: &mut self.core,
                    proposed_at: &mut self.proposed_at,
                    now_ms: now,
                    wall_ms_at_zero: self.wall_ms_at_zero,
                };
                self.sm.apply(&batch, &mut ctx);
            }
        }
    }
}
