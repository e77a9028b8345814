//! The shell: the one place with side effects around the deterministic [`Node`].
//!
//! One OS thread owns the node. It takes events (peer messages, requests for the state machine,
//! finished fsyncs) from a bounded channel, handles up to [`EVENTS_PER_TURN_MAX`] of them, ticks
//! the node, and performs the [`Effect`]s the node returns, in order: the election state
//! (written, fsynced and renamed before any later effect), messages to peers and answers to
//! their requests, flushes (the `fdatasync` runs on a second thread, so the leader keeps
//! appending and replicating while it runs; the node begins the next flush when it ends: group
//! commit), metrics, and exit. The shell decides nothing: the node chose every effect; the
//! shell owns the clock, the threads, the sockets and the process.
//!
//! Storage failures are fatal: the process logs the error with its context and exits (code 3),
//! as Kafka does, because a replica that cannot write its log must not vote or lead.

use crate::raft::{Epoch, StoreError};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use metaquorum_log::clock::wall_clock_ms;
use metaquorum_log::quorum_state::QuorumStateStore;
use metaquorum_log::{FlushDone, LogError, PendingFlush};
use tokio::sync::oneshot;

use crate::metrics::{RaftGauges, RaftMetrics};
use crate::net::peer::{PeerClient, PeerSettings, ResponseSink};
use crate::node::{Effect, Node, NodeConfig, QuorumView, StateMachine};
use crate::raft::segmented::SegmentedStore;
use crate::raft::{
    ElectionState, LogOp, Message, Millis, NodeId, ProposalId, ProposalOutcome, RaftConfig,
};

/// Events queued to the shell at most; senders see [`ShellError::Busy`] beyond it.
pub const EVENT_QUEUE_MAX: usize = 65_536;
/// Events handled before the node is ticked and its effects performed (batches bursts of
/// messages and proposals into one `Ready`).
pub const EVENTS_PER_TURN_MAX: usize = 256;

/// Why a call into the shell failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShellError {
    /// The event queue is full.
    #[error("the controller is overloaded (event queue full)")]
    Busy,
    /// The shell has stopped.
    #[error("the controller is shutting down")]
    Stopped,
}

/// A request for the state machine, or anything else the shell does.
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
    PeerUnreachable(NodeId, Epoch),
    Describe(oneshot::Sender<QuorumView>),
    StateMachine(R),
    Shutdown(oneshot::Sender<()>),
}

/// Sends events to the shell.
pub struct ShellHandle<R> {
    tx: SyncSender<Event<R>>,
    /// The core's epoch as of the shell's last turn, to stamp transport news with.
    epoch: Arc<AtomicI32>,
}

impl<R> Clone for ShellHandle<R> {
    fn clone(&self) -> Self {
        ShellHandle {
            tx: self.tx.clone(),
            epoch: Arc::clone(&self.epoch),
        }
    }
}

impl<R: Send + 'static> ShellHandle<R> {
    fn send(&self, event: Event<R>) -> Result<(), ShellError> {
        self.tx.try_send(event).map_err(|e| match e {
            TrySendError::Full(_) => ShellError::Busy,
            TrySendError::Disconnected(_) => ShellError::Stopped,
        })
    }

    /// Hands a peer's Raft request to the node; resolves to the node's answer.
    pub async fn raft_request(
        &self,
        from: NodeId,
        message: Message,
    ) -> Result<Message, ShellError> {
        let (reply, rx) = oneshot::channel();
        self.send(Event::Request {
            from,
            message,
            reply,
        })?;
        rx.await.map_err(|_| ShellError::Stopped)
    }

    /// This node's view of the quorum.
    pub async fn describe_quorum(&self) -> Result<QuorumView, ShellError> {
        let (reply, rx) = oneshot::channel();
        self.send(Event::Describe(reply))?;
        rx.await.map_err(|_| ShellError::Stopped)
    }

    /// Hands a request to the state machine.
    pub fn state_machine(&self, request: R) -> Result<(), ShellError> {
        self.send(Event::StateMachine(request))
    }

    /// Resigns leadership gracefully (EndQuorumEpoch) and stops the shell.
    pub async fn shutdown(&self) {
        let (reply, rx) = oneshot::channel();
        if self.send(Event::Shutdown(reply)).is_ok() {
            let _ = rx.await;
        }
    }
}

impl<R: Send + 'static> ResponseSink for ShellHandle<R> {
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
        let epoch = Epoch(self.epoch.load(Ordering::Relaxed));
        let _ = self.send(Event::PeerUnreachable(from, epoch));
    }
}

/// Everything the shell needs to start.
pub struct ShellConfig {
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

/// Starts the shell's threads over an open log; peer tasks are spawned on `runtime`.
pub fn start<S>(
    config: ShellConfig,
    store: SegmentedStore,
    state_machine: S,
    runtime: tokio::runtime::Handle,
) -> Result<(ShellHandle<S::Request>, std::thread::JoinHandle<()>), String>
where
    S: StateMachine + Send,
    S::Request: Send,
{
    let quorum_state = QuorumStateStore::new(&config.partition_dir);
    let persisted = quorum_state
        .read()
        .map_err(|e| format!("reading {}: {e}", quorum_state.path().display()))?
        .map(|s| ElectionState {
            epoch: s.epoch,
            leader_id: s.leader_id,
            voted_id: s.voted_id,
        });
    let base = Instant::now();
    let node = Node::new(
        NodeConfig {
            raft: config.raft,
            voters: config.voters.keys().copied().collect(),
            persisted,
            seed: config.seed,
            now_ms: 1,
            wall_ms_at_zero: wall_clock_ms(),
        },
        store,
        state_machine,
    )
    .map_err(|e| format!("loading the newest snapshot: {e}"))?;
    let (tx, rx) = mpsc::sync_channel(EVENT_QUEUE_MAX);
    let epoch = Arc::new(AtomicI32::new(persisted.map_or(0, |s| s.epoch.into())));
    let handle = ShellHandle {
        tx,
        epoch: Arc::clone(&epoch),
    };
    let me = node.core().node_id();
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
    let mut shell = Shell {
        node,
        epoch,
        quorum_state,
        peers,
        replies: HashMap::new(),
        flush_tx,
        base,
        next_inbound_id: 1,
        metrics: RaftMetrics::default(),
        proposed_at: HashMap::new(),
        published_at: None,
        leaderless_since: None,
    };
    let thread = std::thread::Builder::new()
        .name("metaquorum-driver".into())
        .spawn(move || shell.run(rx))
        .map_err(|e| format!("starting the node thread: {e}"))?;
    Ok((handle, thread))
}

struct Shell<S: StateMachine> {
    node: Node<S, SegmentedStore>,
    /// Shared with the handles: the epoch transport news is stamped with.
    epoch: Arc<AtomicI32>,
    quorum_state: QuorumStateStore,
    peers: HashMap<NodeId, PeerClient>,
    /// Inbound requests waiting for the node's answer, by the id the shell gave them.
    replies: HashMap<u64, oneshot::Sender<Message>>,
    flush_tx: mpsc::Sender<PendingFlush>,
    /// The node clock's zero.
    base: Instant,
    /// Inbound request ids live in the low half of the id space; the core's own requests carry
    /// a random tag in the high half.
    next_inbound_id: u64,
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

impl<S: StateMachine> Shell<S> {
    fn observe(&mut self) {
        let now = Instant::now();
        let core = self.node.core();
        match (core.leader_id(), self.leaderless_since) {
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
        let state = core.election_state();
        self.metrics.publish(
            now,
            RaftGauges {
                role: core.role(),
                is_voter: core.is_voter(),
                leader_id: core.leader_id(),
                voted_id: state.voted_id,
                epoch: core.epoch().into(),
                high_watermark: core.high_watermark().into(),
                log_end_offset: core.log_end_offset().into(),
            },
        );
    }

    /// The node clock: ms since the shell started, from 1.
    fn now(&self) -> Millis {
        self.base.elapsed().as_millis() as Millis + 1
    }

    fn fatal(&self, what: &str, e: impl std::fmt::Display) -> ! {
        tracing::error!("fatal storage error while {what}: {e}; stopping");
        eprintln!("metaquorum: fatal storage error while {what}: {e}");
        std::process::exit(crate::node::ExitCode::Storage as i32);
    }

    fn run(&mut self, rx: Receiver<Event<S::Request>>) {
        loop {
            let now = self.now();
            let wait = Duration::from_millis(self.node.next_deadline().saturating_sub(now));
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
            let effects = self.node.tick(self.now());
            self.perform(effects);
            self.epoch
                .store(self.node.core().epoch().into(), Ordering::Relaxed);
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
                self.node.step(now, from, id, message);
            }
            Event::Response {
                from,
                correlation_id,
                message,
            } => self.node.step(now, from, correlation_id, message),
            Event::Flushed(done) => self
                .node
                .flushed(now, done.map_err(|e| StoreError::Io(e.to_string()))),
            Event::PeerUnreachable(from, epoch) => self.node.peer_unreachable(now, from, epoch),
            Event::Describe(reply) => {
                let _ = reply.send(self.node.view());
            }
            Event::StateMachine(request) => self.node.request(now, request),
            Event::Shutdown(done) => {
                self.node.resign();
                let effects = self.node.ready(now);
                self.perform(effects);
                // Give the EndQuorumEpoch messages a moment to leave; peers time out otherwise.
                std::thread::sleep(Duration::from_millis(50));
                let _ = done.send(());
                return false;
            }
        }
        true
    }

    /// Performs the node's effects, in order.
    fn perform(&mut self, effects: Vec<Effect<PendingFlush>>) {
        for effect in effects {
            match effect {
                Effect::PersistElectionState(state) => {
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
                Effect::Send {
                    to,
                    correlation_id,
                    message,
                } => match self.peers.get(&to) {
                    Some(peer) => peer.send(correlation_id, message),
                    None => tracing::debug!("no connection to node {to} for {}", message.name()),
                },
                Effect::Reply {
                    correlation_id,
                    message,
                    ..
                } => {
                    if let Some(reply) = self.replies.remove(&correlation_id) {
                        let _ = reply.send(message);
                    }
                }
                Effect::Flush(pending) => {
                    if self.flush_tx.send(pending).is_err() {
                        self.fatal("handing a flush to the fsync thread", "thread gone");
                    }
                }
                Effect::Wrote {
                    op: LogOp::Append(b),
                    leading,
                } => {
                    if leading {
                        self.metrics
                            .record_appended(Instant::now(), b.records.len());
                    } else {
                        self.metrics.record_fetched(Instant::now(), b.records.len());
                    }
                }
                Effect::Wrote { .. } => {}
                Effect::Proposed(id) => {
                    self.proposed_at.insert(id, Instant::now());
                }
                Effect::ProposalDone(id, outcome) => {
                    if let Some(at) = self.proposed_at.remove(&id) {
                        if matches!(outcome, ProposalOutcome::Committed { .. }) {
                            let ms = at.elapsed().as_secs_f64() * 1e3;
                            self.metrics.record_commit_latency(Instant::now(), ms);
                        }
                    }
                }
                Effect::Exit(exit) => {
                    tracing::error!("fatal error: {}; stopping", exit.reason);
                    eprintln!("metaquorum: fatal error: {}", exit.reason);
                    std::process::exit(exit.code as i32);
                }
            }
        }
    }
}
