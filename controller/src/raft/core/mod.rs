//! [`RaftCore`]: one replica's KRaft state machine. Every input updates the state and queues
//! output; [`RaftCore::ready`] hands the output over, and [`RaftCore::advance`] tells the core
//! the driver has performed it.
//!
//! Durability order: a `Ready`'s log operations are applied first (written, not durable), then
//! its election state is persisted (durably), then its messages are sent, then the log is
//! flushed if `flush` is set; [`RaftCore::handle_log_flushed`] reports the flush. Messages that
//! depend on log durability (a follower's next Fetch, which tells the leader what it holds) are
//! kept inside the core until that report, so a `Ready` never carries one too early.

mod election;
mod follower;
mod leader;

use std::collections::{BTreeSet, VecDeque};

use bytes::Bytes;
use kafka_protocol::messages::leader_change_message::{LeaderChangeMessage, Voter};
use metaquorum_log::batch::RecordData;
use metaquorum_log::control::{control_record, ControlRecordType};

use super::config::RaftConfig;
use super::message::{ErrorCode, Message};
use super::rng::SplitMix64;
use super::role::{
    Election, ElectionState, FollowerState, LeaderState, ParkedFetch, ReplicaProgress, Role,
    RoleKind, SnapshotFetch,
};
use super::store::EpochEndOffset;
use super::store::{record_size_bytes, Batch, LogOp, LogStore};
use super::{Epoch, Millis, NodeId, Offset, SnapshotId};

/// Identifies one proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProposalId(pub u64);

/// How a proposal ended. Every accepted proposal ends in exactly one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProposalOutcome {
    /// Committed; its last record is at this offset.
    Committed {
        /// Offset of the proposal's last record.
        last_offset: Offset,
    },
    /// Leadership was lost before the records reached the log: certainly not committed.
    NotAppended,
    /// Leadership was lost after the records reached the log: they may or may not commit.
    LeaderChanged,
}

/// Why a proposal was refused at once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProposeError {
    /// This node is not the leader; try the hinted one.
    #[error("not the leader (epoch {epoch}, leader {leader_id:?})")]
    NotLeader {
        /// The node's epoch.
        epoch: Epoch,
        /// The leader it knows.
        leader_id: Option<NodeId>,
    },
    /// The proposal has no records or exceeds a batch's record or byte limit.
    #[error("proposal of {records} records / {bytes} bytes is outside 1..={records_max} records, {bytes_max} bytes")]
    Invalid {
        /// Records proposed.
        records: usize,
        /// Bytes proposed.
        bytes: usize,
        /// Batch record limit.
        records_max: usize,
        /// Batch byte limit.
        bytes_max: usize,
    },
    /// Too many uncommitted bytes are pending; retry later.
    #[error("{pending_bytes} bytes of proposals are pending; retry later")]
    Backpressure {
        /// Bytes pending.
        pending_bytes: usize,
    },
}

/// Output of the core, to be performed in field order.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Ready {
    /// Log operations to apply in order (written, not yet durable).
    pub log_ops: Vec<LogOp>,
    /// Election state to persist durably before any message is sent.
    pub election_state: Option<ElectionState>,
    /// Messages to send: (destination, correlation id, message). A response carries the
    /// correlation id of its request.
    pub messages: Vec<(NodeId, u64, Message)>,
    /// Start a flush of the log; report its end with [`RaftCore::handle_log_flushed`].
    pub flush: bool,
    /// The high watermark moved here: everything below it is committed.
    pub high_watermark: Option<Offset>,
    /// Proposals that ended.
    pub proposals: Vec<(ProposalId, ProposalOutcome)>,
    /// A read of the log failed (a damaged batch, an I/O error): the node must stop rather
    /// than answer or decide from a log it cannot read. Nothing in this `Ready` rests on the
    /// failed read.
    pub storage_failure: Option<String>,
}

impl Ready {
    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.log_ops.is_empty()
            && self.election_state.is_none()
            && self.messages.is_empty()
            && !self.flush
            && self.high_watermark.is_none()
            && self.proposals.is_empty()
            && self.storage_failure.is_none()
    }
}

/// One replica in [`QuorumInfo`] (DescribeQuorum's `ReplicaState`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaInfo {
    /// Node id.
    pub replica_id: NodeId,
    /// Its log end offset as the leader knows it.
    pub log_end_offset: Option<Offset>,
    /// Last fetch, in the driver's clock.
    pub last_fetch_ms: Option<Millis>,
    /// Last time it was caught up.
    pub last_caught_up_ms: Option<Millis>,
}

/// The answer to DescribeQuorum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumInfo {
    /// The leader, if known.
    pub leader_id: Option<NodeId>,
    /// The epoch.
    pub leader_epoch: Epoch,
    /// The high watermark.
    pub high_watermark: Offset,
    /// Voters (the leader itself included).
    pub voters: Vec<ReplicaInfo>,
    /// Observers that fetched in this epoch.
    pub observers: Vec<ReplicaInfo>,
}

/// A proposal accepted by the leader and not yet in a batch.
#[derive(Debug)]
struct Accumulated {
    id: ProposalId,
    records: Vec<RecordData>,
    bytes: usize,
}

/// A proposal in the log, waiting for the high watermark to pass its last record.
#[derive(Debug, Clone, Copy)]
struct Inflight {
    id: ProposalId,
    last_offset: Offset,
    bytes: usize,
}

/// One replica's KRaft state machine.
#[derive(Debug)]
pub struct RaftCore<S: LogStore> {
    cfg: RaftConfig,
    store: S,
    /// The voter set, from the VotersRecord of the bootstrap snapshot.
    voters: BTreeSet<NodeId>,
    rng: SplitMix64,
    now: Millis,
    epoch: Epoch,
    leader_id: Option<NodeId>,
    voted_id: Option<NodeId>,
    /// The election state last handed out for persistence.
    persisted: ElectionState,
    role: Role,
    /// Failed elections in a row, for the exponential backoff.
    election_retries: u32,
    /// Records appended but not yet reported flushed end here. A Fetch tells the leader the log
    /// end is durable, so none is sent while this is set, whatever the role (a leader that
    /// steps down, a follower back from a failed pre-vote).
    unflushed_end: Option<Offset>,
    /// When an observer flushes its log next (see `RaftConfig::observer_flush_interval_ms`).
    observer_flush_at_ms: Millis,
    /// Last time the leader of this epoch was heard from (BeginQuorumEpoch or a successful
    /// fetch); `None` once it resigned or said it is not the leader. A follower refuses
    /// pre-votes while this is within the fetch timeout (KIP-996).
    leader_heard_ms: Option<Millis>,
    /// Invariant: never decreases while this core lives; <= the log end.
    high_watermark: Offset,
    /// Log end including operations queued in `out` but not yet applied.
    log_end: Offset,
    /// Epoch of the last entry, including queued operations.
    last_epoch: Epoch,
    /// Correlation ids of this incarnation: a random 32-bit session tag in the high half, a
    /// counter in the low half, so a response to a request of an earlier run of this node is
    /// never taken for one of ours.
    next_correlation_id: u64,
    next_proposal_id: u64,
    accumulated: Vec<Accumulated>,
    /// Records in `accumulated`. Invariant: the sum of their record counts, so the next
    /// proposal's offset is known without walking them.
    accumulated_records: i64,
    /// Appended proposals waiting for commit: (id, last offset), in offset order.
    inflight: VecDeque<Inflight>,
    pending_bytes: usize,
    out: Ready,
}

impl<S: LogStore> RaftCore<S> {
    /// Starts a replica from its store and its persisted election state (`None` when it never
    /// persisted one). `seed` drives election jitter.
    pub fn new(
        cfg: RaftConfig,
        store: S,
        voters: BTreeSet<NodeId>,
        persisted: Option<ElectionState>,
        now: Millis,
        seed: u64,
    ) -> Self {
        let state = persisted.unwrap_or_default();
        let log_end = store.end_offset();
        let last_epoch = store.last_epoch();
        let high_watermark = store
            .latest_snapshot()
            .map_or(0, |s| s.end_offset.into())
            .max(store.log_start_offset().into());
        let mut core = RaftCore {
            cfg,
            store,
            voters,
            rng: SplitMix64::new(seed),
            now,
            epoch: state.epoch,
            leader_id: state.leader_id,
            voted_id: state.voted_id,
            persisted: state,
            role: Role::Resigned { deadline: now },
            election_retries: 0,
            unflushed_end: None,
            observer_flush_at_ms: 0,
            leader_heard_ms: None,
            high_watermark: Offset(high_watermark),
            log_end,
            last_epoch,
            next_correlation_id: 0,
            next_proposal_id: 1,
            accumulated: Vec::new(),
            accumulated_records: 0,
            inflight: VecDeque::new(),
            pending_bytes: 0,
            out: Ready::default(),
        };
        core.next_correlation_id = (core.rng.next_u64() & 0xffff_ffff_0000_0000) | 1;
        let me = core.cfg.node_id;
        core.role = match state.leader_id {
            // A leader that restarts may not lead the same epoch again.
            Some(l) if l == me => Role::Resigned {
                deadline: now + core.random_election_timeout(),
            },
            Some(_) => Role::Follower(core.new_follower_state()),
            None if state.voted_id.is_some() && core.is_voter() => Role::Voted {
                election_deadline: now + core.random_election_timeout(),
            },
            None => core.new_unattached(),
        };
        if matches!(core.role, Role::Follower(_)) {
            core.send_fetch();
        }
        core
    }

    /// This node's id.
    pub fn node_id(&self) -> NodeId {
        self.cfg.node_id
    }

    /// The current epoch.
    pub fn epoch(&self) -> Epoch {
        self.epoch
    }

    /// The leader of the current epoch, if known.
    pub fn leader_id(&self) -> Option<NodeId> {
        self.leader_id
    }

    /// The current role.
    pub fn role(&self) -> RoleKind {
        self.role.kind()
    }

    /// Whether this node is a voter (otherwise an observer).
    pub fn is_voter(&self) -> bool {
        self.voters.contains(&self.cfg.node_id)
    }

    /// The high watermark: everything below it is committed.
    pub fn high_watermark(&self) -> Offset {
        self.high_watermark
    }

    /// The high watermark this node tells others (Fetch responses, DescribeQuorum), -1 for
    /// unknown. A new leader knows only what it learned as a follower, possibly less than its
    /// predecessor told others, so it reports none until its own epoch commits (Kafka's
    /// `LeaderState`): what a quorum reports never goes back across a leader change.
    pub fn reported_high_watermark(&self) -> Offset {
        match &self.role {
            Role::Leader(l) if self.high_watermark <= l.epoch_start_offset => Offset(-1),
            _ => self.high_watermark,
        }
    }

    /// The log end offset, counting operations not yet applied.
    pub fn log_end_offset(&self) -> Offset {
        self.log_end
    }

    /// The voter set.
    pub fn voters(&self) -> &BTreeSet<NodeId> {
        &self.voters
    }

    /// The log store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The log store, for a driver applying a `Ready` or managing snapshots. Between
    /// [`RaftCore::ready`] and [`RaftCore::advance`] the driver applies exactly the `Ready`.
    pub fn store_mut(&mut self) -> &mut S {
        &mut self.store
    }

    /// Gives the store back (a simulated crash, or shutdown).
    pub fn into_store(self) -> S {
        self.store
    }

    /// The election state as last handed out for persistence.
    pub fn election_state(&self) -> ElectionState {
        self.persisted
    }

    /// The earliest time `tick` has something to do.
    pub fn next_deadline(&self) -> Millis {
        match &self.role {
            Role::Unattached {
                election_deadline,
                discovery,
            } => {
                if self.is_voter() {
                    *election_deadline
                } else {
                    // An observer looks for the leader now, then again after each timeout.
                    discovery.map_or(self.now, |(_, sent)| {
                        sent + self.cfg.fetch_request_timeout_ms()
                    })
                }
            }
            Role::Voted { election_deadline } => *election_deadline,
            Role::Prospective(e) | Role::Candidate(e) => {
                let resend = e
                    .sent
                    .values()
                    .map(|(_, t)| t + self.cfg.request_timeout_ms)
                    .chain(
                        e.rejected_at
                            .values()
                            .map(|t| t + crate::raft::role::PRE_VOTE_RETRY_MS)
                            .filter(|t| *t < e.retry_rejections_until),
                    )
                    .min()
                    .unwrap_or(Millis::MAX);
                e.deadline.min(resend)
            }
            Role::Leader(l) => {
                let parked = l
                    .parked
                    .iter()
                    .map(|p| p.deadline)
                    .min()
                    .unwrap_or(Millis::MAX);
                let begin = l
                    .replicas
                    .iter()
                    .filter(|(id, r)| self.voters.contains(id) && !r.acknowledged)
                    .map(|(_, r)| {
                        r.begin_sent_ms
                            .map_or(self.now, |t| t + self.cfg.request_timeout_ms)
                    })
                    .min()
                    .unwrap_or(Millis::MAX);
                l.check_quorum_deadline.min(parked).min(begin)
            }
            Role::Follower(f) => {
                if self.unflushed_end.is_some() {
                    if self.is_voter() {
                        // A voter fetches again once its flush is reported
                        // (`handle_log_flushed`); no timer of its own is due before.
                        return f.fetch_deadline;
                    }
                    // An observer flushes on a timer of its own, fetching meanwhile.
                    return f
                        .fetch_deadline
                        .min(self.follower_fetch_due(f))
                        .min(self.observer_flush_at_ms);
                }
                f.fetch_deadline.min(self.follower_fetch_due(f))
            }
            Role::Resigned { deadline } => *deadline,
        }
    }

    /// When a follower fetches next: its outstanding request timed out, or the backoff after an
    /// error answer ended.
    fn follower_fetch_due(&self, f: &FollowerState) -> Millis {
        let resend = f.in_flight.map_or(Millis::MAX, |(_, t)| {
            t + self.cfg.fetch_request_timeout_ms()
        });
        resend.min(f.refetch_at.unwrap_or(Millis::MAX))
    }

    /// DescribeQuorum, answered from this node's view (complete only on the leader).
    pub fn describe_quorum(&self) -> QuorumInfo {
        let me = self.cfg.node_id;
        let mut voters = Vec::new();
        let mut observers = Vec::new();
        if let Role::Leader(l) = &self.role {
            voters.push(ReplicaInfo {
                replica_id: me,
                log_end_offset: Some(self.log_end),
                last_fetch_ms: Some(self.now),
                last_caught_up_ms: Some(self.now),
            });
            for (id, r) in &l.replicas {
                let info = ReplicaInfo {
                    replica_id: *id,
                    log_end_offset: r.end_offset,
                    last_fetch_ms: r.last_fetch_ms,
                    last_caught_up_ms: r.last_caught_up_ms,
                };
                if self.voters.contains(id) {
                    voters.push(info);
                } else {
                    observers.push(info);
                }
            }
        } else {
            voters = self
                .voters
                .iter()
                .map(|id| ReplicaInfo {
                    replica_id: *id,
                    log_end_offset: (*id == me).then_some(self.log_end),
                    last_fetch_ms: None,
                    last_caught_up_ms: None,
                })
                .collect();
        }
        voters.sort_by_key(|r| r.replica_id);
        QuorumInfo {
            leader_id: self.leader_id,
            leader_epoch: self.epoch,
            high_watermark: self.reported_high_watermark(),
            voters,
            observers,
        }
    }

    /// Records that reading the log failed; the first failure is reported in the next
    /// [`Ready`].
    pub(super) fn storage_failed(&mut self, what: &str, e: impl std::fmt::Display) {
        tracing::error!("{what}: {e}");
        if self.out.storage_failure.is_none() {
            self.out.storage_failure = Some(format!("{what}: {e}"));
        }
    }

    /// Takes the queued output. Perform it, then call [`RaftCore::advance`].
    pub fn ready(&mut self) -> Ready {
        self.pack_proposals();
        std::mem::take(&mut self.out)
    }

    /// The driver performed the last `Ready` (log operations applied, state persisted, messages
    /// handed to the network): answer fetches waiting for the new data.
    pub fn advance(&mut self) {
        debug_assert_eq!(
            self.store.end_offset(),
            self.log_end,
            "Ready not applied before advance"
        );
        self.wake_parked_fetches();
    }

    /// Time passes: fire whatever deadline is due.
    pub fn tick(&mut self, now: Millis) {
        self.now = self.now.max(now);
        let now = self.now;
        let timeout = self.cfg.fetch_request_timeout_ms();
        let voter = self.is_voter();
        enum Due {
            Nothing,
            Campaign,
            Discover,
            ResendVotes,
            ElectionLost,
            Leader,
            Refetch,
            LostLeader,
        }
        let due = match &self.role {
            Role::Unattached {
                election_deadline,
                discovery,
            } => {
                if voter && now >= *election_deadline {
                    Due::Campaign
                } else if !voter && discovery.is_none_or(|(_, sent)| now >= sent + timeout) {
                    Due::Discover
                } else {
                    Due::Nothing
                }
            }
            Role::Voted { election_deadline } if now >= *election_deadline => Due::Campaign,
            Role::Resigned { deadline } if now >= *deadline => Due::Campaign,
            Role::Prospective(e) | Role::Candidate(e) => {
                if now >= e.deadline {
                    Due::ElectionLost
                } else {
                    Due::ResendVotes
                }
            }
            Role::Leader(_) => Due::Leader,
            Role::Follower(f) => {
                // A voter's next fetch waits for its flush (its fetch offset says what it holds
                // durably); an observer's does not.
                let may_fetch = self.unflushed_end.is_none() || !voter;
                if now >= f.fetch_deadline {
                    Due::LostLeader
                } else if may_fetch && now >= self.follower_fetch_due(f) {
                    Due::Refetch
                } else {
                    Due::Nothing
                }
            }
            _ => Due::Nothing,
        };
        match due {
            Due::Nothing => {}
            Due::Campaign => self.become_prospective(),
            Due::Discover => self.send_discovery_fetch(),
            Due::ResendVotes => self.resend_votes(),
            Due::ElectionLost => self.election_lost(),
            Due::Leader => self.leader_tick(),
            Due::Refetch => self.send_fetch(),
            Due::LostLeader if voter => self.become_prospective(),
            Due::LostLeader => {
                // An observer that lost its leader looks for it again (same epoch, leader kept).
                let role = self.new_unattached();
                self.transition(self.epoch, self.leader_id, self.voted_id, role);
                self.send_discovery_fetch();
            }
        }
        // An observer flushes on a timer of its own, whatever else was due.
        if !voter
            && matches!(self.role, Role::Follower(_))
            && self.unflushed_end.is_some()
            && now >= self.observer_flush_at_ms
        {
            self.out.flush = true;
            self.observer_flush_at_ms = now + self.cfg.observer_flush_interval_ms;
        }
    }

    /// Accepts records to replicate (leader only). They are appended as one batch, with other
    /// proposals, at the next `ready`; the outcome arrives in a later `Ready`.
    pub fn propose(&mut self, records: Vec<RecordData>) -> Result<ProposalId, ProposeError> {
        if !matches!(self.role, Role::Leader(_)) {
            return Err(ProposeError::NotLeader {
                epoch: self.epoch,
                leader_id: self.leader_id.filter(|l| *l != self.cfg.node_id),
            });
        }
        let bytes: usize = records.iter().map(record_size_bytes).sum();
        if records.is_empty()
            || records.len() > self.cfg.batch_records_max
            || bytes + crate::raft::store::BATCH_OVERHEAD_BYTES > self.cfg.batch_bytes_max
        {
            return Err(ProposeError::Invalid {
                records: records.len(),
                bytes,
                records_max: self.cfg.batch_records_max,
                bytes_max: self.cfg.batch_bytes_max,
            });
        }
        if self.pending_bytes + bytes > self.cfg.pending_bytes_max {
            return Err(ProposeError::Backpressure {
                pending_bytes: self.pending_bytes,
            });
        }
        let id = ProposalId(self.next_proposal_id);
        self.next_proposal_id += 1;
        self.pending_bytes += bytes;
        self.accumulated_records += records.len() as i64;
        self.accumulated.push(Accumulated { id, records, bytes });
        Ok(id)
    }

    /// The offset the next accepted proposal's first record will have if it commits (leader
    /// only): proposals are appended in order, after those already accumulated.
    pub fn next_proposal_offset(&self) -> Offset {
        debug_assert_eq!(
            self.accumulated_records,
            self.accumulated
                .iter()
                .map(|p| p.records.len() as i64)
                .sum::<i64>()
        );
        self.log_end + self.accumulated_records
    }

    /// The transport found `peer` gone: a connection to it was refused, so no process listens
    /// on its port. A follower of `peer` stops waiting out `fetch.timeout.ms` and asks for
    /// pre-votes almost at once; the other voters, told the same by their own transports, grant
    /// them. A refusal is far stronger evidence than silence (a slow or cut-off leader still
    /// accepts connections), so pre-vote still protects a live leader from disruption (KIP-996).
    ///
    /// Every follower of the dead leader learns of it within a few milliseconds, so they stagger
    /// their starts: the voter with the lowest id (the dead leader aside) starts at once, the
    /// next after `retry.backoff.ms`, and so on, so that one election is usually over before
    /// the next would start and the real vote is not split.
    ///
    /// `observed_epoch` is this node's epoch when the transport saw the refusal: news from an
    /// earlier epoch says nothing about the leader of this one (it may be the same node, back).
    pub fn peer_unreachable(&mut self, now: Millis, peer: NodeId, observed_epoch: Epoch) {
        self.now = self.now.max(now);
        let me = self.cfg.node_id;
        if self.leader_id != Some(peer) || peer == me || observed_epoch != self.epoch {
            return;
        }
        // Observers do not vote: they look for the new leader at once.
        let rank = if self.is_voter() {
            self.voters
                .iter()
                .filter(|v| **v != peer && **v < me)
                .count() as u64
        } else {
            0
        };
        let start = self.now + rank.saturating_mul(self.cfg.retry_backoff_ms);
        if let Role::Follower(f) = &mut self.role {
            tracing::info!(
                leader = %peer,
                epoch = %self.epoch,
                "the leader refuses connections; starting an election in {} ms",
                start - self.now
            );
            self.leader_heard_ms = None;
            f.fetch_deadline = f.fetch_deadline.min(start);
        }
    }

    /// Gracefully gives up leadership (shutdown): the leader becomes Resigned and asks the voters
    /// to elect a successor, the most caught-up first (EndQuorumEpoch).
    pub fn resign(&mut self) {
        let Role::Leader(l) = &self.role else { return };
        let mut successors: Vec<(Offset, NodeId)> = l
            .replicas
            .iter()
            .filter(|(id, _)| self.voters.contains(id))
            .map(|(id, r)| (r.end_offset.unwrap_or(Offset(-1)), *id))
            .collect();
        // Most caught up first; ties go to the lower id.
        successors.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let preferred: Vec<NodeId> = successors.into_iter().map(|(_, id)| id).collect();
        self.step_down(preferred);
    }

    /// The driver's log flush finished: the store's durable end offset moved.
    pub fn handle_log_flushed(&mut self, now: Millis) {
        self.now = self.now.max(now);
        let durable = self.store.durable_end_offset();
        if self.unflushed_end.is_some_and(|o| durable >= o) {
            self.unflushed_end = None;
        }
        match &self.role {
            Role::Leader(_) => self.maybe_advance_high_watermark(),
            Role::Follower(f) if f.in_flight.is_none() && self.unflushed_end.is_none() => {
                self.send_fetch()
            }
            _ => {}
        }
    }

    /// Handles a message from `from`. `correlation_id` is the request's id (for a response,
    /// the id of the request it answers).
    pub fn step(&mut self, now: Millis, from: NodeId, correlation_id: u64, message: Message) {
        self.now = self.now.max(now);
        match message {
            Message::VoteRequest {
                replica_epoch,
                replica_id,
                last_offset_epoch,
                last_offset,
                pre_vote,
            } => {
                let response = self.handle_vote_request(
                    replica_epoch,
                    replica_id,
                    last_offset_epoch,
                    last_offset,
                    pre_vote,
                );
                self.out.messages.push((from, correlation_id, response));
            }
            Message::VoteResponse {
                error,
                leader_epoch,
                leader_id,
                vote_granted,
                pre_vote,
            } => self.handle_vote_response(
                from,
                correlation_id,
                error,
                leader_epoch,
                leader_id,
                vote_granted,
                pre_vote,
            ),
            Message::BeginQuorumEpochRequest {
                leader_epoch,
                leader_id,
            } => {
                let error = if leader_id != from || leader_epoch == Epoch::MAX {
                    ErrorCode::InvalidRequest
                } else {
                    self.handle_begin_quorum_epoch(leader_epoch, leader_id)
                };
                self.out.messages.push((
                    from,
                    correlation_id,
                    Message::BeginQuorumEpochResponse {
                        error,
                        leader_epoch: self.epoch,
                        leader_id: self.leader_id,
                    },
                ));
            }
            Message::BeginQuorumEpochResponse {
                error,
                leader_epoch,
                leader_id,
            } => {
                if leader_epoch > self.epoch {
                    self.observe_epoch(leader_epoch, leader_id);
                } else if leader_epoch == self.epoch && error == ErrorCode::None {
                    if let Role::Leader(l) = &mut self.role {
                        l.replicas.entry(from).or_default().acknowledged = true;
                    }
                }
            }
            Message::EndQuorumEpochRequest {
                leader_epoch,
                leader_id,
                preferred_successors,
            } => {
                self.handle_end_quorum_epoch(leader_epoch, leader_id, &preferred_successors);
                self.out.messages.push((
                    from,
                    correlation_id,
                    Message::EndQuorumEpochResponse {
                        error: ErrorCode::None,
                        leader_epoch: self.epoch,
                        leader_id: self.leader_id,
                    },
                ));
            }
            Message::EndQuorumEpochResponse {
                leader_epoch,
                leader_id,
                ..
            } => {
                if leader_epoch > self.epoch {
                    self.observe_epoch(leader_epoch, leader_id);
                }
            }
            Message::FetchRequest {
                replica_id,
                current_leader_epoch,
                fetch_offset,
                last_fetched_epoch,
                max_bytes,
            } => {
                if replica_id != from {
                    // A replica reports only its own progress.
                    let response =
                        self.fetch_response(ErrorCode::InvalidRequest, Vec::new(), None, None);
                    self.out.messages.push((from, correlation_id, response));
                } else {
                    self.handle_fetch_request(
                        from,
                        correlation_id,
                        current_leader_epoch,
                        fetch_offset,
                        last_fetched_epoch,
                        max_bytes,
                    );
                }
            }
            Message::FetchResponse {
                error,
                leader_epoch,
                leader_id,
                high_watermark,
                records,
                diverging_epoch,
                snapshot_id,
                ..
            } => self.handle_fetch_response(
                from,
                correlation_id,
                error,
                leader_epoch,
                leader_id,
                high_watermark,
                records,
                diverging_epoch,
                snapshot_id,
            ),
            Message::FetchSnapshotRequest {
                replica_id,
                current_leader_epoch,
                snapshot_id,
                position,
                max_bytes,
            } => {
                let response = self.handle_fetch_snapshot_request(
                    from,
                    replica_id,
                    current_leader_epoch,
                    snapshot_id,
                    position,
                    max_bytes,
                );
                self.out.messages.push((from, correlation_id, response));
            }
            Message::FetchSnapshotResponse {
                error,
                leader_epoch,
                leader_id,
                snapshot_id,
                size,
                position,
                bytes,
            } => self.handle_fetch_snapshot_response(
                correlation_id,
                error,
                leader_epoch,
                leader_id,
                snapshot_id,
                size,
                position,
                bytes,
            ),
        }
    }

    /// Every role change goes through here. It checks the change is legal (epochs never go
    /// back; within an epoch the leader, once known, and the vote, once cast, never change; the
    /// role moves only along [`legal_transition`]) and queues the election state for
    /// persistence before any message of this `Ready` leaves. The checks stay on in release
    /// builds: a core that breaks them would break Raft's safety, and stopping is the only
    /// safe answer (Kafka's `QuorumState` throws).
    fn transition(
        &mut self,
        epoch: Epoch,
        leader_id: Option<NodeId>,
        voted_id: Option<NodeId>,
        role: Role,
    ) {
        let (from, to) = (self.role.kind(), role.kind());
        assert!(
            epoch >= self.epoch,
            "node {}: epoch going back: {} -> {epoch} ({from:?} -> {to:?})",
            self.cfg.node_id,
            self.epoch
        );
        if epoch == self.epoch {
            assert!(
                self.leader_id.is_none() || leader_id == self.leader_id,
                "node {}: leader changed within epoch {epoch}: {:?} -> {leader_id:?}",
                self.cfg.node_id,
                self.leader_id
            );
            assert!(
                self.voted_id.is_none() || voted_id == self.voted_id,
                "node {}: vote changed within epoch {epoch}: {:?} -> {voted_id:?}",
                self.cfg.node_id,
                self.voted_id
            );
        }
        assert!(
            legal_transition(from, to, epoch > self.epoch),
            "node {}: illegal transition {from:?} -> {to:?} (epoch {} -> {epoch})",
            self.cfg.node_id,
            self.epoch
        );
        let was_leader = matches!(self.role, Role::Leader(_));
        let becomes_leader = matches!(role, Role::Leader(_));
        let mut parked = Vec::new();
        if was_leader && !becomes_leader {
            self.fail_proposals();
            if let Role::Leader(l) = &mut self.role {
                parked = std::mem::take(&mut l.parked);
            }
        }
        if matches!(role, Role::Leader(_)) {
            self.election_retries = 0;
        }
        if epoch != self.epoch || leader_id != self.leader_id {
            self.leader_heard_ms = None;
        }
        self.epoch = epoch;
        self.leader_id = leader_id;
        self.voted_id = voted_id;
        self.role = role;
        let state = ElectionState {
            epoch,
            leader_id,
            voted_id,
        };
        if state != self.persisted {
            self.persisted = state;
            self.out.election_state = Some(state);
        }
        // Fetches held by a leader that stepped down are answered, not left to time out.
        for p in parked {
            let response =
                self.fetch_response(ErrorCode::NotLeaderOrFollower, Vec::new(), None, None);
            self.out
                .messages
                .push((p.replica_id, p.correlation_id, response));
        }
    }

    fn push_op(&mut self, op: LogOp) {
        match &op {
            LogOp::Append(b) => {
                self.unflushed_end =
                    Some(self.unflushed_end.unwrap_or(Offset(0)).max(b.next_offset()));
            }
            LogOp::Truncate(t) => {
                if let Some(o) = self.unflushed_end {
                    // A flush begun before a truncation does not count after it: flush again.
                    self.unflushed_end = Some(o.min(*t));
                    self.out.flush = true;
                }
            }
            // An installed snapshot is durable and replaces the log.
            LogOp::InstallSnapshot(_) => self.unflushed_end = None,
            LogOp::SnapshotChunk { .. } => {}
        }
        self.out.log_ops.push(op);
        // The log position moved: answers to fetches sent before are stale.
        let floor = self.next_correlation_id;
        if let Role::Follower(f) = &mut self.role {
            f.cid_floor = floor;
        }
    }

    fn next_cid(&mut self) -> u64 {
        let c = self.next_correlation_id;
        self.next_correlation_id += 1;
        c
    }
}

/// The role changes Raft allows (Kafka's `QuorumState.transitionTo*`). A newer epoch may be
/// entered as Unattached or Follower from any role, and as Candidate only from Prospective;
/// within an epoch, roles move as elections go.
pub(crate) fn legal_transition(from: RoleKind, to: RoleKind, new_epoch: bool) -> bool {
    use RoleKind::*;
    if new_epoch {
        return match to {
            Unattached | Follower => true,
            Candidate => from == Prospective,
            _ => false,
        };
    }
    match (from, to) {
        // Election timeouts, and a follower (or resigned leader) that lost its leader.
        (Unattached | Voted | Follower | Resigned, Prospective) => true,
        // A vote granted.
        (Unattached | Prospective, Voted) => true,
        // A leader of the epoch learned.
        (Unattached | Voted | Prospective | Candidate, Follower) => true,
        // An election round lost.
        (Prospective | Candidate, Unattached | Voted) => true,
        (Prospective, Resigned) => true,
        // An observer that lost its leader looks for it again.
        (Follower, Unattached) => true,
        (Candidate, Leader) => true,
        (Leader, Resigned) => true,
        _ => false,
    }
}
