//! [`Node`]: one replica of the metadata log as a deterministic value, the way etcd's `RawNode`
//! wraps its Raft state machine.
//!
//! The node owns the consensus core with its log store, the state machine the core feeds
//! ([`StateMachine`]: the active or standby controller, a broker's loader and publishers, or
//! both), the applied offset, the group-commit decision (one flush in flight, the next one
//! covering everything written meanwhile) and the state machine's timer. It reads no clock, no
//! RNG and no file system of its own: time arrives with every input, wall time is fixed at
//! start, randomness is a seed. Whoever drives it — the process's shell (`crate::shell`), the
//! simulator, the transcript harness — feeds inputs and performs the [`Effect`]s it returns, in
//! order:
//!
//! - inputs (`step`, `flushed`, `peer_unreachable`, `request`, `resign`) queue work;
//! - [`Node::ready`] performs the core's `Ready`s (log writes go to the store: the page cache
//!   for the segmented log, memory for the simulator's), applies what committed, and returns
//!   the effects; [`Node::tick`] also fires due timers, the core's and the state machine's.
//!
//! Effects are ordered: the election state is persisted before any later message leaves (KIP-595:
//! a vote must be durable before it is granted), and a flush is begun only after the writes it
//! must cover. Every proposal ends in a [`Effect::ProposalDone`]: committed, not appended, or
//! "leader changed, outcome unknown".
//!
//! Storage failures stop the node ([`Effect::Exit`], code 3) as Kafka stops a replica that cannot
//! write its log: it must not vote or lead. A state machine stops it the same way (code 4 for a
//! committed batch that does not replay). After an exit the node performs nothing more.

mod state_machine;
#[cfg(test)]
mod tests;

use crate::raft::{Epoch, StoreError};
use std::collections::BTreeSet;

pub use state_machine::{Ctx, StateMachine};

use crate::raft::{
    ElectionState, FlushStore, LogOp, Message, Millis, NodeId, Offset, ProposalId, ProposalOutcome,
    QuorumInfo, RaftConfig, RaftCore, RoleKind,
};

/// Bytes of committed batches read from the store per read while applying.
const APPLY_READ_BYTES_MAX: usize = 1 << 20;

/// Why the node asks the process to stop; the value is the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// The log or the election state could not be written, synced or read.
    Storage = 3,
    /// A committed batch does not replay into the image.
    Metadata = 4,
}

/// A request to stop the process, with its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exit {
    /// The exit code.
    pub code: ExitCode,
    /// What failed, with its context.
    pub reason: String,
}

/// Something whoever drives the node (the shell, the simulator) must do, in the order given. `F` is the store's begun flush.
#[derive(Debug)]
pub enum Effect<F> {
    /// Persist the election state (`quorum-state`) durably before performing any later effect.
    PersistElectionState(ElectionState),
    /// Send a request to a peer; its answer comes back through [`Node::step`] with the same
    /// correlation id.
    Send {
        /// The peer.
        to: NodeId,
        /// Chosen by the core; the answer carries it back.
        correlation_id: u64,
        /// The request.
        message: Message,
    },
    /// Answer a request a peer sent (the correlation id it was stepped in with).
    Reply {
        /// The peer that asked.
        to: NodeId,
        /// The id the request was stepped in with.
        correlation_id: u64,
        /// The answer.
        message: Message,
    },
    /// Make the log durable up to what this flush covers, then call [`Node::flushed`].
    Flush(F),
    /// The node wrote this operation to its store (readable now, durable after a flush), as
    /// the leader (`leading`) or as a replica; for metrics and the simulator's checks.
    Wrote {
        /// The operation.
        op: LogOp,
        /// Whether the node was the leader.
        leading: bool,
    },
    /// The state machine made a proposal (for commit latency).
    Proposed(ProposalId),
    /// A proposal ended.
    ProposalDone(ProposalId, ProposalOutcome),
    /// Stop the process; nothing after this is performed.
    Exit(Exit),
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
    /// Wall-clock ms of the node clock's zero, to turn the core's times into timestamps.
    pub wall_ms_at_zero: i64,
}

/// What a node is made of at start, besides its store and state machine.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Timeouts and limits of the core.
    pub raft: RaftConfig,
    /// The voters.
    pub voters: BTreeSet<NodeId>,
    /// The election state read from `quorum-state`, if any.
    pub persisted: Option<ElectionState>,
    /// Seed of the core's election jitter.
    pub seed: u64,
    /// The node clock at start (ms).
    pub now_ms: Millis,
    /// Wall-clock ms at the node clock's zero.
    pub wall_ms_at_zero: i64,
}

/// One replica; see the module documentation.
pub struct Node<S: StateMachine<L>, L: FlushStore> {
    core: RaftCore<L>,
    sm: S,
    /// Next offset to hand to the state machine. Invariant: <= the high watermark after every
    /// `ready`.
    applied: Offset,
    /// A flush is with the shell.
    flush_in_flight: bool,
    /// The core asked for a flush while one was running: begin another when it ends.
    flush_again: bool,
    /// When the state machine wants its next tick.
    sm_deadline: Option<Millis>,
    wall_ms_at_zero: i64,
    /// The node clock as of the last input.
    now: Millis,
    /// Effects not yet handed out.
    effects: Vec<Effect<L::Flush>>,
    /// An exit was requested: nothing more is performed.
    stopped: bool,
}

/// Stops a node once: the first exit requested is the one performed.
fn request_exit<F>(
    effects: &mut Vec<Effect<F>>,
    stopped: &mut bool,
    code: ExitCode,
    reason: String,
) {
    if !*stopped {
        *stopped = true;
        effects.push(Effect::Exit(Exit { code, reason }));
    }
}

/// Builds a [`Ctx`] over a node's parts (a macro: the state machine is borrowed beside it).
macro_rules! ctx {
    ($node:expr) => {
        Ctx {
            core: &mut $node.core,
            effects: &mut $node.effects,
            stopped: &mut $node.stopped,
            now_ms: $node.now,
            wall_ms_at_zero: $node.wall_ms_at_zero,
        }
    };
}

impl<S: StateMachine<L>, L: FlushStore> Node<S, L> {
    /// A node over an open store: the state machine loads the newest snapshot first (the
    /// error is why it could not).
    pub fn new(
        config: NodeConfig,
        store: L,
        mut sm: S,
    ) -> Result<Self, crate::snapshots::SnapshotError> {
        let applied = sm.load(&store)?;
        let core = RaftCore::new(
            config.raft,
            store,
            config.voters,
            config.persisted,
            config.now_ms,
            config.seed,
        );
        Ok(Node {
            core,
            sm,
            applied,
            flush_in_flight: false,
            flush_again: false,
            sm_deadline: None,
            wall_ms_at_zero: config.wall_ms_at_zero,
            now: config.now_ms,
            effects: Vec::new(),
            stopped: false,
        })
    }

    /// The consensus core, to read its state.
    pub fn core(&self) -> &RaftCore<L> {
        &self.core
    }

    /// The state machine, to read its state.
    pub fn state_machine(&self) -> &S {
        &self.sm
    }

    /// The store, for a harness that generates snapshots or damages it on purpose.
    pub fn store_mut(&mut self) -> &mut L {
        self.core.store_mut()
    }

    /// Stops the node and returns its store (a simulated crash or stop).
    pub fn into_store(self) -> L {
        self.core.into_store()
    }

    /// The next offset the state machine will be handed.
    pub fn applied(&self) -> Offset {
        self.applied
    }

    /// Whether an exit was requested.
    pub fn stopped(&self) -> bool {
        self.stopped
    }

    /// When [`Node::tick`] should be called next at the latest.
    pub fn next_deadline(&self) -> Millis {
        let core = self.core.next_deadline();
        self.sm_deadline.map_or(core, |d| d.min(core))
    }

    /// This node's view of the quorum.
    pub fn view(&self) -> QuorumView {
        QuorumView {
            info: self.core.describe_quorum(),
            role: self.core.role(),
            node_id: self.core.node_id(),
            log_end_offset: self.core.log_end_offset(),
            wall_ms_at_zero: self.wall_ms_at_zero,
        }
    }

    fn advance_clock(&mut self, now: Millis) {
        self.now = self.now.max(now);
    }

    fn exit(&mut self, code: ExitCode, reason: String) {
        request_exit(&mut self.effects, &mut self.stopped, code, reason);
    }

    /// A message from a peer: a request (answered by an [`Effect::Reply`] with the same
    /// correlation id, which the caller chooses and keeps unique among its pending requests)
    /// or the answer to an [`Effect::Send`].
    pub fn step(&mut self, now: Millis, from: NodeId, correlation_id: u64, message: Message) {
        if self.stopped {
            return;
        }
        self.advance_clock(now);
        self.core.step(self.now, from, correlation_id, message);
    }

    /// A flush the shell performed: durable, or failed (which stops the node).
    pub fn flushed(&mut self, now: Millis, done: Result<L::Flushed, StoreError>) {
        if self.stopped {
            return;
        }
        self.advance_clock(now);
        match done {
            Ok(done) => {
                self.flush_in_flight = false;
                self.core.store_mut().complete_flush(done);
                self.core.handle_log_flushed(self.now);
                if std::mem::take(&mut self.flush_again) {
                    self.begin_flush();
                }
            }
            Err(e) => self.exit(ExitCode::Storage, format!("syncing the log: {e}")),
        }
    }

    /// The transport found `peer` refusing connections while this node was in `epoch`.
    pub fn peer_unreachable(&mut self, now: Millis, peer: NodeId, epoch: Epoch) {
        if self.stopped {
            return;
        }
        self.advance_clock(now);
        self.core.peer_unreachable(self.now, peer, epoch);
    }

    /// A request for the state machine.
    pub fn request(&mut self, now: Millis, request: S::Request) {
        if self.stopped {
            return;
        }
        self.advance_clock(now);
        let mut ctx = ctx!(self);
        self.sm.handle(request, &mut ctx);
    }

    /// Gives up leadership gracefully (EndQuorumEpoch to the voters), before a stop.
    pub fn resign(&mut self) {
        if !self.stopped {
            self.core.resign();
        }
    }

    /// Fires the core's due timers and the state machine's tick, and performs everything that
    /// follows; returns the effects in order.
    pub fn tick(&mut self, now: Millis) -> Vec<Effect<L::Flush>> {
        self.advance_clock(now);
        if !self.stopped && self.now >= self.core.next_deadline() {
            self.core.tick(self.now);
        }
        self.perform_ready();
        if !self.stopped {
            let mut ctx = ctx!(self);
            self.sm_deadline = self.sm.tick(&mut ctx);
        }
        self.perform_ready();
        std::mem::take(&mut self.effects)
    }

    /// Performs the core's `Ready`s without firing timers; returns the effects in order.
    pub fn ready(&mut self, now: Millis) -> Vec<Effect<L::Flush>> {
        self.advance_clock(now);
        self.perform_ready();
        std::mem::take(&mut self.effects)
    }

    fn begin_flush(&mut self) {
        if self.flush_in_flight {
            self.flush_again = true;
            return;
        }
        self.flush_in_flight = true;
        let flush = self.core.store().begin_flush();
        self.effects.push(Effect::Flush(flush));
    }

    fn perform_ready(&mut self) {
        while !self.stopped {
            let ready = self.core.ready();
            if ready.is_empty() {
                return;
            }
            if let Some(why) = ready.storage_failure {
                return self.exit(ExitCode::Storage, why);
            }
            let leading = self.core.role() == RoleKind::Leader;
            for op in ready.log_ops {
                let what = match &op {
                    LogOp::Append(_) => "appending to the log",
                    LogOp::Truncate(_) => "truncating the log",
                    LogOp::SnapshotChunk { .. } => "writing a snapshot chunk",
                    LogOp::InstallSnapshot(_) => "installing a snapshot",
                };
                let installed = matches!(op, LogOp::InstallSnapshot(_));
                self.effects.push(Effect::Wrote {
                    op: op.clone(),
                    leading,
                });
                if let Err(e) = self.core.store_mut().apply(op) {
                    return self.exit(ExitCode::Storage, format!("{what}: {e}"));
                }
                if installed {
                    match self.sm.load(self.core.store()) {
                        Ok(next) => self.applied = next,
                        Err(e) => {
                            return self.exit(
                                ExitCode::Storage,
                                format!("loading an installed snapshot: {e}"),
                            )
                        }
                    }
                }
            }
            if let Some(state) = ready.election_state {
                self.effects.push(Effect::PersistElectionState(state));
            }
            for (to, correlation_id, message) in ready.messages {
                self.effects.push(if message.is_request() {
                    Effect::Send {
                        to,
                        correlation_id,
                        message,
                    }
                } else {
                    Effect::Reply {
                        to,
                        correlation_id,
                        message,
                    }
                });
            }
            if ready.flush {
                self.begin_flush();
            }
            if ready.high_watermark.is_some() {
                self.apply_committed();
            }
            for (id, outcome) in ready.proposals {
                if self.stopped {
                    return;
                }
                self.effects.push(Effect::ProposalDone(id, outcome));
                let mut ctx = ctx!(self);
                self.sm.proposal_done(id, outcome, &mut ctx);
            }
            if self.stopped {
                return;
            }
            self.core.advance();
        }
    }

    /// Hands batches below the high watermark to the state machine.
    fn apply_committed(&mut self) {
        let hw = self.core.high_watermark();
        while self.applied < hw && !self.stopped {
            let batches = match self.core.store().read(self.applied, APPLY_READ_BYTES_MAX) {
                Ok(b) => b,
                Err(e) => {
                    return self.exit(
                        ExitCode::Storage,
                        format!("reading committed batches at {}: {e}", self.applied),
                    )
                }
            };
            if batches.is_empty() {
                return;
            }
            for batch in batches {
                if batch.next_offset() <= self.applied {
                    continue;
                }
                if batch.next_offset() > hw || self.stopped {
                    return;
                }
                self.applied = batch.next_offset();
                let mut ctx = ctx!(self);
                self.sm.apply(&batch, &mut ctx);
            }
        }
    }
}
