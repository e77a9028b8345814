//! [`RaftCore`]: one replica's KRaft state machine. Every input updates the state and queues
//! output; [`RaftCore::ready`] hands the output over, and [`RaftCore::advance`] tells the core
//! the driver has performed it.
//!
//! Durability order: a `Ready`'s log operations are applied first (written, not durable), then
//! its election state is persisted (durably), then its messages are sent, then the log is
//! flushed if `flush` is set; [`RaftCore::handle_log_flushed`] reports the flush. Messages that
//! depend on log durability (a follower's next Fetch, which tells the leader what it holds) are
//! kept inside the core until that report, so a `Ready` never carries one too early.

use std::collections::{BTreeSet, VecDeque};

use bytes::Bytes;
use kafka_protocol::messages::leader_change_message::{LeaderChangeMessage, Voter};
use kafka_protocol::messages::BrokerId;
use metaquorum_log::batch::RecordData;
use metaquorum_log::control::{control_record, ControlRecordType};

use super::config::RaftConfig;
use super::message::{EpochEndOffset, ErrorCode, Message};
use super::rng::SplitMix64;
use super::role::{
    Election, ElectionState, FollowerState, LeaderState, ParkedFetch, ReplicaProgress, Role,
    RoleKind, SnapshotFetch,
};
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
            .map_or(0, |s| s.end_offset)
            .max(store.log_start_offset());
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
            leader_heard_ms: None,
            high_watermark,
            log_end,
            last_epoch,
            next_correlation_id: 0,
            next_proposal_id: 1,
            accumulated: Vec::new(),
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

    // ----- accessors -----

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
                    discovery.map_or(self.now, |(_, sent)| sent + self.cfg.request_timeout_ms)
                }
            }
            Role::Voted { election_deadline } => *election_deadline,
            Role::Prospective(e) | Role::Candidate(e) => {
                let resend = e
                    .sent
                    .values()
                    .map(|(_, t)| t + self.cfg.request_timeout_ms)
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
                let resend = f
                    .in_flight
                    .map_or(Millis::MAX, |(_, t)| t + self.cfg.request_timeout_ms);
                let refetch = f.refetch_at.unwrap_or(Millis::MAX);
                f.fetch_deadline.min(resend).min(refetch)
            }
            Role::Resigned { deadline } => *deadline,
        }
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
            high_watermark: self.high_watermark,
            voters,
            observers,
        }
    }

    // ----- the driver loop -----

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
        self.wake_parked_fetches(false);
    }

    /// Time passes: fire whatever deadline is due.
    pub fn tick(&mut self, now: Millis) {
        self.now = self.now.max(now);
        let now = self.now;
        let timeout = self.cfg.request_timeout_ms;
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
                if now >= f.fetch_deadline {
                    Due::LostLeader
                } else if self.unflushed_end.is_none()
                    && (f.in_flight.is_some_and(|(_, sent)| now >= sent + timeout)
                        || f.refetch_at.is_some_and(|t| now >= t))
                {
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
                self.role = role;
                self.send_discovery_fetch();
            }
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
            || bytes + super::store::BATCH_OVERHEAD_BYTES > self.cfg.batch_bytes_max
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
        self.accumulated.push(Accumulated { id, records, bytes });
        Ok(id)
    }

    /// Gracefully gives up leadership (shutdown): the leader becomes Resigned and asks the voters
    /// to elect a successor, the most caught-up first (EndQuorumEpoch).
    pub fn resign(&mut self) {
        let Role::Leader(l) = &self.role else { return };
        let mut successors: Vec<(Offset, NodeId)> = l
            .replicas
            .iter()
            .filter(|(id, _)| self.voters.contains(id))
            .map(|(id, r)| (r.end_offset.unwrap_or(-1), *id))
            .collect();
        // Most caught up first; ties go to the lower id.
        successors.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let preferred: Vec<NodeId> = successors.into_iter().map(|(_, id)| id).collect();
        self.step_down(preferred);
    }

    /// Leaves leadership for Resigned and tells the other voters with EndQuorumEpoch, naming
    /// `preferred` successors in order (none after a failed check-quorum).
    fn step_down(&mut self, preferred: Vec<NodeId>) {
        let deadline = self.now + self.random_election_timeout();
        self.transition(
            self.epoch,
            self.leader_id,
            self.voted_id,
            Role::Resigned { deadline },
        );
        let me = self.cfg.node_id;
        let others: Vec<NodeId> = self.voters.iter().copied().filter(|v| *v != me).collect();
        for to in others {
            let cid = self.next_cid();
            self.out.messages.push((
                to,
                cid,
                Message::EndQuorumEpochRequest {
                    leader_epoch: self.epoch,
                    leader_id: me,
                    preferred_successors: preferred.clone(),
                },
            ));
        }
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

    // ----- transitions: the one gate -----

    /// Every role change goes through here. It checks the change is legal (epochs never go
    /// back; within an epoch the leader, once known, and the vote, once cast, never change) and
    /// queues the election state for persistence before any message of this `Ready` leaves.
    fn transition(
        &mut self,
        epoch: Epoch,
        leader_id: Option<NodeId>,
        voted_id: Option<NodeId>,
        role: Role,
    ) {
        debug_assert!(
            epoch >= self.epoch,
            "epoch going back: {} -> {epoch}",
            self.epoch
        );
        if epoch == self.epoch {
            debug_assert!(
                self.leader_id.is_none() || leader_id == self.leader_id,
                "leader changed within epoch {epoch}"
            );
            debug_assert!(
                self.voted_id.is_none() || voted_id == self.voted_id,
                "vote changed within epoch {epoch}"
            );
        }
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

    fn new_unattached(&mut self) -> Role {
        Role::Unattached {
            election_deadline: self.now + self.random_election_timeout(),
            discovery: None,
        }
    }

    fn new_follower_state(&mut self) -> FollowerState {
        FollowerState {
            fetch_deadline: self.now + self.cfg.fetch_timeout_ms,
            in_flight: None,
            refetch_at: None,
            cid_floor: self.next_correlation_id,
            snapshot: None,
        }
    }

    /// Learned of a newer epoch (or the leader of ours): follow it if the leader is known.
    fn observe_epoch(&mut self, epoch: Epoch, leader_id: Option<NodeId>) {
        if epoch < self.epoch {
            return;
        }
        if epoch == self.epoch {
            if self.leader_id.is_none() {
                if let Some(l) = leader_id {
                    if l != self.cfg.node_id {
                        self.become_follower(epoch, l);
                    }
                }
            }
            return;
        }
        match leader_id {
            Some(l) if l != self.cfg.node_id => self.become_follower(epoch, l),
            _ => {
                let role = self.new_unattached();
                self.transition(epoch, None, None, role);
            }
        }
    }

    fn become_follower(&mut self, epoch: Epoch, leader: NodeId) {
        let voted = if epoch == self.epoch {
            self.voted_id
        } else {
            None
        };
        let state = self.new_follower_state();
        self.transition(epoch, Some(leader), voted, Role::Follower(state));
        self.send_fetch();
    }

    /// KIP-996: ask for pre-votes at the current epoch before campaigning.
    fn become_prospective(&mut self) {
        if !self.is_voter() {
            return;
        }
        let election = Election {
            deadline: self.now + self.random_election_timeout(),
            ..Election::default()
        };
        self.transition(
            self.epoch,
            self.leader_id,
            self.voted_id,
            Role::Prospective(election),
        );
        self.record_own_vote();
    }

    fn become_candidate(&mut self) {
        let Some(next_epoch) = self.epoch.checked_add(1).filter(|e| *e < Epoch::MAX) else {
            tracing::error!(epoch = self.epoch, "epoch space exhausted; not campaigning");
            return;
        };
        let election = Election {
            deadline: self.now + self.random_election_timeout(),
            ..Election::default()
        };
        let me = self.cfg.node_id;
        self.transition(next_epoch, None, Some(me), Role::Candidate(election));
        self.record_own_vote();
    }

    /// Counts this node's own (pre-)vote and asks the others; wins at once if alone.
    fn record_own_vote(&mut self) {
        let me = self.cfg.node_id;
        if let Role::Prospective(e) | Role::Candidate(e) = &mut self.role {
            e.granted.insert(me);
        }
        self.resend_votes();
        self.maybe_election_won();
    }

    fn resend_votes(&mut self) {
        let (pre_vote, epoch) = match &self.role {
            Role::Prospective(_) => (true, self.epoch),
            Role::Candidate(_) => (false, self.epoch),
            _ => return,
        };
        let me = self.cfg.node_id;
        let now = self.now;
        let timeout = self.cfg.request_timeout_ms;
        let targets: Vec<NodeId> = match &self.role {
            Role::Prospective(e) | Role::Candidate(e) => self
                .voters
                .iter()
                .copied()
                .filter(|v| *v != me && !e.granted.contains(v) && !e.rejected.contains(v))
                .filter(|v| e.sent.get(v).is_none_or(|(_, t)| now >= t + timeout))
                .collect(),
            _ => Vec::new(),
        };
        for to in targets {
            let cid = self.next_cid();
            if let Role::Prospective(e) | Role::Candidate(e) = &mut self.role {
                e.sent.insert(to, (cid, now));
            }
            self.out.messages.push((
                to,
                cid,
                Message::VoteRequest {
                    replica_epoch: epoch,
                    replica_id: me,
                    last_offset_epoch: self.last_epoch,
                    last_offset: self.log_end,
                    pre_vote,
                },
            ));
        }
    }

    fn majority(&self) -> usize {
        self.voters.len() / 2 + 1
    }

    fn maybe_election_won(&mut self) {
        let majority = self.majority();
        let (won, lost, pre) = match &self.role {
            Role::Prospective(e) => (
                e.granted.len() >= majority,
                e.rejected.len() >= majority,
                true,
            ),
            Role::Candidate(e) => (
                e.granted.len() >= majority,
                e.rejected.len() >= majority,
                false,
            ),
            _ => return,
        };
        if won {
            if pre {
                self.become_candidate();
            } else {
                self.become_leader();
            }
        } else if lost {
            self.election_lost();
        }
    }

    /// An election round failed (rejected by a majority, or timed out): back off, then try
    /// again through pre-vote. A prospective that knows a leader goes back to following it.
    fn election_lost(&mut self) {
        self.election_retries = self.election_retries.saturating_add(1);
        let backoff = self.election_backoff_ms();
        match (&self.role, self.leader_id) {
            (Role::Prospective(_), Some(l)) if l != self.cfg.node_id => {
                // Back to following (KIP-996), with a fresh fetch timeout plus the growing
                // backoff, so a node cut off from the leader alone does not ask over and over.
                let epoch = self.epoch;
                self.become_follower(epoch, l);
                let deadline = self.now + self.cfg.fetch_timeout_ms + backoff;
                if let Role::Follower(f) = &mut self.role {
                    f.fetch_deadline = deadline;
                }
            }
            (Role::Prospective(_), Some(_)) => {
                // Resigned leader whose pre-vote failed: wait and try again.
                let deadline = self.now + backoff;
                self.transition(
                    self.epoch,
                    self.leader_id,
                    self.voted_id,
                    Role::Resigned { deadline },
                );
            }
            _ => {
                let deadline = self.now + backoff;
                let role = if self.voted_id.is_some() {
                    Role::Voted {
                        election_deadline: deadline,
                    }
                } else {
                    Role::Unattached {
                        election_deadline: deadline,
                        discovery: None,
                    }
                };
                self.transition(self.epoch, self.leader_id, self.voted_id, role);
            }
        }
    }

    fn become_leader(&mut self) {
        let me = self.cfg.node_id;
        let granting: Vec<NodeId> = match &self.role {
            Role::Candidate(e) => e.granted.iter().copied().collect(),
            _ => Vec::new(),
        };
        let replicas = self
            .voters
            .iter()
            .filter(|v| **v != me)
            .map(|v| (*v, ReplicaProgress::default()))
            .collect();
        let leader = LeaderState {
            epoch_start_offset: self.log_end,
            replicas,
            check_quorum_deadline: self.now + self.cfg.check_quorum_timeout_ms(),
            parked: Vec::new(),
        };
        self.transition(
            self.epoch,
            Some(me),
            self.voted_id,
            Role::Leader(Box::new(leader)),
        );
        // KIP-595: the epoch starts with a LeaderChange control record; the high watermark may
        // not pass into this epoch until it is committed.
        let voter = |id: &NodeId| Voter::default().with_voter_id(*id);
        let message = LeaderChangeMessage::default()
            .with_version(0)
            .with_leader_id(BrokerId(me))
            .with_voters(self.voters.iter().map(voter).collect())
            .with_granting_voters(granting.iter().map(voter).collect());
        match control_record(ControlRecordType::LeaderChange, &message, 0) {
            Ok(record) => {
                self.append_batch(Batch::new(self.log_end, self.epoch, true, vec![record]))
            }
            Err(e) => tracing::error!(error = %e, "encoding LeaderChange failed"),
        }
        self.send_begin_quorum_epoch();
        self.maybe_advance_high_watermark();
    }

    fn send_begin_quorum_epoch(&mut self) {
        let now = self.now;
        let timeout = self.cfg.request_timeout_ms;
        let targets: Vec<NodeId> = match &self.role {
            Role::Leader(l) => l
                .replicas
                .iter()
                .filter(|(id, r)| {
                    self.voters.contains(id)
                        && !r.acknowledged
                        && r.begin_sent_ms.is_none_or(|t| now >= t + timeout)
                })
                .map(|(id, _)| *id)
                .collect(),
            _ => return,
        };
        for to in targets {
            if let Role::Leader(l) = &mut self.role {
                if let Some(r) = l.replicas.get_mut(&to) {
                    r.begin_sent_ms = Some(now);
                }
            }
            let cid = self.next_cid();
            self.out.messages.push((
                to,
                cid,
                Message::BeginQuorumEpochRequest {
                    leader_epoch: self.epoch,
                    leader_id: self.cfg.node_id,
                },
            ));
        }
    }

    // ----- votes -----

    fn handle_vote_request(
        &mut self,
        epoch: Epoch,
        candidate: NodeId,
        last_offset_epoch: Epoch,
        last_offset: Offset,
        pre_vote: bool,
    ) -> Message {
        let reject = |core: &Self, error| Message::VoteResponse {
            error,
            leader_epoch: core.epoch,
            leader_id: core.leader_id,
            vote_granted: false,
            pre_vote,
        };
        if !self.voters.contains(&candidate) || !self.is_voter() {
            return reject(self, ErrorCode::InconsistentVoterSet);
        }
        if last_offset < 0
            || last_offset_epoch < 0
            || last_offset_epoch > epoch
            || epoch == Epoch::MAX
        {
            return reject(self, ErrorCode::InvalidRequest);
        }
        if epoch < self.epoch {
            return reject(self, ErrorCode::FencedLeaderEpoch);
        }
        // Raft §5.4.1: grant only to a log at least as up to date as ours.
        let log_ok = (last_offset_epoch, last_offset) >= (self.last_epoch, self.log_end);
        if pre_vote {
            // KIP-996: the request carries the prospective's current epoch; it would campaign in
            // the next one, so no vote of ours conflicts. No state changes here, not even a
            // newer epoch. Refuse while a live leader is being followed or led.
            let leader_alive = match &self.role {
                Role::Leader(_) => true,
                Role::Follower(_) => self
                    .leader_heard_ms
                    .is_some_and(|t| self.now < t + self.cfg.fetch_timeout_ms),
                _ => false,
            };
            let granted = log_ok && !leader_alive;
            return Message::VoteResponse {
                error: ErrorCode::None,
                leader_epoch: self.epoch,
                leader_id: self.leader_id,
                vote_granted: granted,
                pre_vote,
            };
        }
        if epoch > self.epoch {
            let role = self.new_unattached();
            self.transition(epoch, None, None, role);
        }
        let granted = match self.voted_id {
            Some(v) => v == candidate && self.leader_id.is_none(),
            None => self.leader_id.is_none() && log_ok,
        };
        if granted && self.voted_id.is_none() {
            let role = Role::Voted {
                election_deadline: self.now + self.random_election_timeout(),
            };
            // Persisted (Ready.election_state) before this response leaves.
            self.transition(self.epoch, None, Some(candidate), role);
        }
        Message::VoteResponse {
            error: ErrorCode::None,
            leader_epoch: self.epoch,
            leader_id: self.leader_id,
            vote_granted: granted,
            pre_vote,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn handle_vote_response(
        &mut self,
        from: NodeId,
        cid: u64,
        error: ErrorCode,
        epoch: Epoch,
        leader_id: Option<NodeId>,
        granted: bool,
        pre_vote: bool,
    ) {
        if epoch > self.epoch {
            self.observe_epoch(epoch, leader_id);
            return;
        }
        let expected_pre = matches!(self.role, Role::Prospective(_));
        let (Role::Prospective(e) | Role::Candidate(e)) = &mut self.role else {
            return;
        };
        if pre_vote != expected_pre
            || e.sent.get(&from).is_none_or(|(c, _)| *c != cid)
            || epoch < self.epoch
        {
            return; // stale or for another round
        }
        e.sent.remove(&from);
        if granted && error == ErrorCode::None {
            e.granted.insert(from);
        } else {
            e.rejected.insert(from);
        }
        if let (Some(l), true) = (leader_id, epoch == self.epoch && self.leader_id.is_none()) {
            if l != self.cfg.node_id && pre_vote {
                // A voter follows a leader of our epoch that we did not know: follow it too.
                self.observe_epoch(epoch, Some(l));
                return;
            }
        }
        self.maybe_election_won();
    }

    // ----- BeginQuorumEpoch / EndQuorumEpoch -----

    fn handle_begin_quorum_epoch(&mut self, epoch: Epoch, leader: NodeId) -> ErrorCode {
        if !self.voters.contains(&leader) {
            return ErrorCode::InconsistentVoterSet;
        }
        if epoch < self.epoch {
            return ErrorCode::FencedLeaderEpoch;
        }
        if epoch == self.epoch && self.leader_id.is_some_and(|l| l != leader) {
            return ErrorCode::FencedLeaderEpoch;
        }
        if leader == self.cfg.node_id {
            return ErrorCode::None;
        }
        if epoch > self.epoch || !matches!(self.role, Role::Follower(_)) {
            self.become_follower(epoch, leader);
        }
        self.leader_heard_ms = Some(self.now);
        ErrorCode::None
    }

    fn handle_end_quorum_epoch(&mut self, epoch: Epoch, leader: NodeId, preferred: &[NodeId]) {
        if epoch < self.epoch {
            return;
        }
        if epoch > self.epoch {
            self.observe_epoch(epoch, Some(leader));
        }
        let position = preferred.iter().position(|p| *p == self.cfg.node_id);
        // Strict exponential order (Kafka's `strictExponentialElectionBackoffMs`): the first
        // successor campaigns at once, the next after retry.backoff, then 2×, 4×, ... capped;
        // voters not named wait the longest backoff.
        let cap = self.cfg.election_backoff_max_ms;
        let delay = match position {
            Some(0) => 0,
            Some(p) => self
                .cfg
                .retry_backoff_ms
                .saturating_mul(1u64 << (p - 1).min(16))
                .min(cap),
            None => cap,
        };
        let now = self.now;
        if let (Role::Follower(f), Some(l)) = (&mut self.role, self.leader_id) {
            if l == leader {
                f.fetch_deadline = now + delay;
                self.leader_heard_ms = None;
            }
        }
    }

    // ----- fetch, leader side -----

    fn handle_fetch_request(
        &mut self,
        replica: NodeId,
        cid: u64,
        epoch: Epoch,
        fetch_offset: Offset,
        last_fetched_epoch: Epoch,
        max_bytes: usize,
    ) {
        let error = if epoch < self.epoch {
            Some(ErrorCode::FencedLeaderEpoch)
        } else if epoch > self.epoch {
            Some(ErrorCode::UnknownLeaderEpoch)
        } else if !matches!(self.role, Role::Leader(_)) {
            Some(ErrorCode::NotLeaderOrFollower)
        } else {
            None
        };
        if let Some(error) = error {
            let response = self.fetch_response(error, Vec::new(), None, None);
            self.out.messages.push((replica, cid, response));
            return;
        }
        if fetch_offset < 0 || last_fetched_epoch < 0 || last_fetched_epoch > epoch {
            let response = self.fetch_response(ErrorCode::InvalidRequest, Vec::new(), None, None);
            self.out.messages.push((replica, cid, response));
            return;
        }
        // Any fetch in our epoch shows the replica is alive and follows us (check-quorum), even
        // one answered with a divergence or a snapshot id.
        self.record_contact(replica);
        // Snapshot needed: the offset is below our log start, or its epoch is older than it.
        let log_start = self.store.log_start_offset();
        let snapshot = self.store.latest_snapshot();
        if fetch_offset < log_start
            || (fetch_offset > 0
                && self
                    .store
                    .end_offset_for_epoch(last_fetched_epoch)
                    .is_none())
        {
            if let Some(id) = snapshot {
                let response = self.fetch_response(ErrorCode::None, Vec::new(), None, Some(id));
                self.out.messages.push((replica, cid, response));
                return;
            }
        }
        // Divergence (KIP-595): our end of the fetcher's last epoch is before its fetch offset.
        if fetch_offset > 0 {
            let ours = self.leader_end_offset_for_epoch(last_fetched_epoch);
            let diverging = match ours {
                Some(e) if e.epoch == last_fetched_epoch && e.end_offset >= fetch_offset => None,
                Some(e) => Some(EpochEndOffset {
                    epoch: e.epoch,
                    end_offset: e.end_offset.min(fetch_offset),
                }),
                None => Some(EpochEndOffset {
                    epoch: 0,
                    end_offset: log_start,
                }),
            };
            if diverging.is_some() {
                let response = self.fetch_response(ErrorCode::None, Vec::new(), diverging, None);
                self.out.messages.push((replica, cid, response));
                return;
            }
        }
        if fetch_offset > self.store.end_offset() {
            // A valid prefix of ours we have not applied yet cannot exist; answer empty.
            let response = self.fetch_response(ErrorCode::None, Vec::new(), None, None);
            self.out.messages.push((replica, cid, response));
            return;
        }
        // A valid fetch: the replica holds our log up to fetch_offset, durably.
        let now = self.now;
        let log_end = self.log_end;
        let is_voter = self.voters.contains(&replica);
        if let Role::Leader(l) = &mut self.role {
            let r = l.replicas.entry(replica).or_default();
            r.end_offset = Some(fetch_offset);
            if fetch_offset >= log_end {
                r.last_caught_up_ms = Some(now);
            }
            l.parked.retain(|p| p.replica_id != replica);
        }
        let hw_before = self.high_watermark;
        if is_voter {
            self.maybe_advance_high_watermark();
        }
        let records = match self
            .store
            .read(fetch_offset, max_bytes.min(self.cfg.fetch_bytes_max))
        {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, fetch_offset, "reading the log for a fetch failed");
                Vec::new()
            }
        };
        if records.is_empty() && self.high_watermark == hw_before {
            // Long-poll: hold the fetch until new records, a new high watermark, or its deadline.
            // (A fetch that just moved the high watermark is answered at once, so the news
            // reaches the fetcher without waiting for the next record.)
            let hw = self.high_watermark;
            let deadline = now + self.cfg.fetch_max_wait_ms;
            if let Role::Leader(l) = &mut self.role {
                l.parked.push(ParkedFetch {
                    replica_id: replica,
                    correlation_id: cid,
                    fetch_offset,
                    max_bytes,
                    deadline,
                    high_watermark: hw,
                });
            }
            return;
        }
        let response = self.fetch_response(ErrorCode::None, records, None, None);
        self.out.messages.push((replica, cid, response));
    }

    /// A replica fetched (records or a snapshot chunk) in our epoch.
    fn record_contact(&mut self, replica: NodeId) {
        let now = self.now;
        if let Role::Leader(l) = &mut self.role {
            let r = l.replicas.entry(replica).or_default();
            r.last_fetch_ms = Some(now);
            r.acknowledged = true;
        }
    }

    /// Our end offset for an epoch, counting the current epoch's unapplied appends.
    fn leader_end_offset_for_epoch(&self, epoch: Epoch) -> Option<EpochEndOffset> {
        if epoch >= self.epoch {
            // The leader's own epoch runs to the log end.
            return Some(match self.store.end_offset_for_epoch(epoch) {
                Some(e) if e.epoch == self.epoch => EpochEndOffset {
                    epoch: e.epoch,
                    end_offset: self.log_end,
                },
                Some(e) if epoch > self.epoch => e,
                _ => self.store.end_offset_for_epoch(epoch)?,
            });
        }
        self.store.end_offset_for_epoch(epoch)
    }

    fn fetch_response(
        &self,
        error: ErrorCode,
        records: Vec<Batch>,
        diverging_epoch: Option<EpochEndOffset>,
        snapshot_id: Option<SnapshotId>,
    ) -> Message {
        Message::FetchResponse {
            error,
            leader_epoch: self.epoch,
            leader_id: self.leader_id,
            high_watermark: self.high_watermark,
            log_start_offset: self.store.log_start_offset(),
            records,
            diverging_epoch,
            snapshot_id,
        }
    }

    /// Answers parked fetches that have new records or a new high watermark, or whose wait ended.
    fn wake_parked_fetches(&mut self, all_due: bool) {
        let Role::Leader(l) = &mut self.role else {
            return;
        };
        if l.parked.is_empty() {
            return;
        }
        let store_end = self.store.end_offset();
        let now = self.now;
        let hw = self.high_watermark;
        let (ready, keep): (Vec<ParkedFetch>, Vec<ParkedFetch>) =
            l.parked.drain(..).partition(|p| {
                store_end > p.fetch_offset || hw != p.high_watermark || now >= p.deadline || all_due
            });
        l.parked = keep;
        for p in ready {
            let records = if store_end > p.fetch_offset {
                self.store
                    .read(p.fetch_offset, p.max_bytes.min(self.cfg.fetch_bytes_max))
                    .unwrap_or_default()
            } else {
                Vec::new()
            };
            let response = self.fetch_response(ErrorCode::None, records, None, None);
            self.out
                .messages
                .push((p.replica_id, p.correlation_id, response));
        }
    }

    fn handle_fetch_snapshot_request(
        &mut self,
        from: NodeId,
        replica: NodeId,
        epoch: Epoch,
        id: SnapshotId,
        position: u64,
        max_bytes: usize,
    ) -> Message {
        let respond = |core: &Self, error, size, bytes| Message::FetchSnapshotResponse {
            error,
            leader_epoch: core.epoch,
            leader_id: core.leader_id,
            snapshot_id: id,
            size,
            position,
            bytes,
        };
        if replica != from {
            return respond(self, ErrorCode::InvalidRequest, 0, Bytes::new());
        }
        if epoch < self.epoch {
            return respond(self, ErrorCode::FencedLeaderEpoch, 0, Bytes::new());
        }
        if epoch > self.epoch {
            return respond(self, ErrorCode::UnknownLeaderEpoch, 0, Bytes::new());
        }
        if !matches!(self.role, Role::Leader(_)) {
            return respond(self, ErrorCode::NotLeaderOrFollower, 0, Bytes::new());
        }
        self.record_contact(replica);
        let Some(size) = self.store.snapshot_size(id) else {
            return respond(self, ErrorCode::SnapshotNotFound, 0, Bytes::new());
        };
        if position > size {
            return respond(self, ErrorCode::PositionOutOfRange, size, Bytes::new());
        }
        match self.store.read_snapshot_chunk(
            id,
            position,
            max_bytes.min(self.cfg.snapshot_chunk_bytes_max),
        ) {
            Ok(bytes) => respond(self, ErrorCode::None, size, bytes),
            Err(_) => respond(self, ErrorCode::SnapshotNotFound, 0, Bytes::new()),
        }
    }

    /// The high watermark: the largest end offset a majority of voters holds durably (the
    /// leader counts only what it has fsynced), once it passes this epoch's start (KIP-595).
    fn maybe_advance_high_watermark(&mut self) {
        let Role::Leader(l) = &self.role else { return };
        let own = self.store.durable_end_offset();
        let mut ends: Vec<Offset> = Vec::with_capacity(self.voters.len());
        for v in &self.voters {
            if *v == self.cfg.node_id {
                ends.push(own);
            } else {
                ends.push(l.replicas.get(v).and_then(|r| r.end_offset).unwrap_or(-1));
            }
        }
        ends.sort_unstable_by(|a, b| b.cmp(a));
        let candidate = ends[self.majority() - 1];
        if candidate > l.epoch_start_offset && candidate > self.high_watermark {
            self.set_high_watermark(candidate);
            self.wake_parked_fetches(false);
        }
    }

    fn set_high_watermark(&mut self, hw: Offset) {
        debug_assert!(hw >= self.high_watermark, "high watermark going back");
        if hw <= self.high_watermark {
            return;
        }
        self.high_watermark = hw;
        self.out.high_watermark = Some(hw);
        while let Some(&p) = self.inflight.front() {
            if p.last_offset >= hw {
                break;
            }
            self.inflight.pop_front();
            self.pending_bytes = self.pending_bytes.saturating_sub(p.bytes);
            self.out.proposals.push((
                p.id,
                ProposalOutcome::Committed {
                    last_offset: p.last_offset,
                },
            ));
        }
    }

    fn leader_tick(&mut self) {
        let now = self.now;
        let window = self.cfg.check_quorum_timeout_ms();
        let majority = self.majority();
        let Role::Leader(l) = &mut self.role else {
            return;
        };
        if now >= l.check_quorum_deadline {
            // Check-quorum: the voters that fetched within the window, plus ourselves.
            let mut recent: Vec<Millis> = l
                .replicas
                .iter()
                .filter(|(id, _)| self.voters.contains(id))
                .filter_map(|(_, r)| r.last_fetch_ms)
                .filter(|t| now < t + window)
                .collect();
            if recent.len() + 1 >= majority {
                recent.sort_unstable_by(|a, b| b.cmp(a));
                // The window closes when the (majority-1)-th most recent fetch ages out.
                l.check_quorum_deadline = if majority >= 2 {
                    recent[majority - 2] + window
                } else {
                    now + window
                };
            } else {
                tracing::warn!(epoch = self.epoch, "check-quorum failed: resigning");
                self.step_down(Vec::new());
                return;
            }
        }
        self.send_begin_quorum_epoch();
        self.wake_parked_fetches(false);
    }

    // ----- fetch, follower side -----

    fn send_fetch(&mut self) {
        let Role::Follower(f) = &self.role else {
            return;
        };
        let Some(leader) = self.leader_id else { return };
        if self.unflushed_end.is_some() {
            return;
        }
        let snapshot = f.snapshot;
        let cid = self.next_cid();
        let now = self.now;
        let message = match snapshot {
            Some(s) => Message::FetchSnapshotRequest {
                replica_id: self.cfg.node_id,
                current_leader_epoch: self.epoch,
                snapshot_id: s.id,
                position: s.position,
                max_bytes: self.cfg.snapshot_chunk_bytes_max,
            },
            None => Message::FetchRequest {
                replica_id: self.cfg.node_id,
                current_leader_epoch: self.epoch,
                fetch_offset: self.log_end,
                last_fetched_epoch: self.last_epoch,
                max_bytes: self.cfg.fetch_bytes_max,
            },
        };
        if let Role::Follower(f) = &mut self.role {
            f.in_flight = Some((cid, now));
            f.refetch_at = None;
        }
        self.out.messages.push((leader, cid, message));
    }

    /// An observer without a leader asks a random voter; the answer names the leader.
    fn send_discovery_fetch(&mut self) {
        let voters: Vec<NodeId> = self
            .voters
            .iter()
            .copied()
            .filter(|v| *v != self.cfg.node_id)
            .collect();
        if voters.is_empty() {
            return;
        }
        let to = voters[self.rng.below(voters.len() as u64) as usize];
        let cid = self.next_cid();
        let now = self.now;
        if let Role::Unattached { discovery, .. } = &mut self.role {
            *discovery = Some((cid, now));
        }
        self.out.messages.push((
            to,
            cid,
            Message::FetchRequest {
                replica_id: self.cfg.node_id,
                current_leader_epoch: self.epoch,
                fetch_offset: self.log_end,
                last_fetched_epoch: self.last_epoch,
                max_bytes: self.cfg.fetch_bytes_max,
            },
        ));
    }

    #[allow(clippy::too_many_arguments)]
    fn handle_fetch_response(
        &mut self,
        from: NodeId,
        cid: u64,
        error: ErrorCode,
        epoch: Epoch,
        leader_id: Option<NodeId>,
        high_watermark: Offset,
        records: Vec<Batch>,
        diverging: Option<EpochEndOffset>,
        snapshot_id: Option<SnapshotId>,
    ) {
        if epoch > self.epoch || (epoch == self.epoch && self.leader_id.is_none()) {
            self.observe_epoch(epoch, leader_id);
            return;
        }
        if let (Role::Unattached { .. }, Some(l)) = (&self.role, leader_id) {
            // An observer's discovery fetch found the leader of its epoch.
            if epoch == self.epoch && self.leader_id == Some(l) && l != self.cfg.node_id {
                self.become_follower(epoch, l);
            }
            return;
        }
        let next = self.next_correlation_id;
        let Role::Follower(f) = &mut self.role else {
            return;
        };
        if !Self::is_current_response(cid, f.cid_floor, next)
            || Some(from) != self.leader_id
            || epoch != self.epoch
        {
            return; // stale, duplicated, or from someone else
        }
        f.in_flight = None;
        if error != ErrorCode::None {
            // The leader we follow says it is not leading (it resigned): stop counting it as
            // alive, and ask again after a backoff.
            f.refetch_at = Some(self.now + self.cfg.retry_backoff_ms);
            self.leader_heard_ms = None;
            return;
        }
        f.fetch_deadline = self.now + self.cfg.fetch_timeout_ms;
        f.refetch_at = None;
        self.leader_heard_ms = Some(self.now);
        self.election_retries = 0;
        if let Some(id) = snapshot_id {
            f.snapshot = Some(SnapshotFetch { id, position: 0 });
            self.send_fetch();
            return;
        }
        if let Some(d) = diverging {
            let ours = self
                .store
                .end_offset_for_epoch(d.epoch)
                .map_or(self.store.log_start_offset(), |e| e.end_offset);
            let target = d.end_offset.min(ours).min(self.log_end);
            // Truncation removes whole batches: land on the start of the batch holding target.
            let target = if target < self.store.end_offset() {
                match self.store.read(target, 1) {
                    Ok(b) => b.first().map_or(target, |b| b.base_offset.min(target)),
                    Err(_) => target,
                }
            } else {
                target
            };
            if target < self.high_watermark {
                tracing::error!(
                    target,
                    hw = self.high_watermark,
                    "leader asked to truncate below the high watermark; ignored"
                );
                self.schedule_refetch();
                return;
            }
            self.push_op(LogOp::Truncate(target));
            self.log_end = target;
            self.last_epoch = self.last_epoch_at(target);
            self.send_fetch();
            return;
        }
        let mut appended = false;
        let mut rejected = false;
        for b in records {
            // Only contiguous, non-empty batches of epochs between our last and the leader's.
            if b.base_offset != self.log_end
                || b.records.is_empty()
                || b.epoch < self.last_epoch
                || b.epoch > epoch
            {
                tracing::warn!(
                    base_offset = b.base_offset,
                    batch_epoch = b.epoch,
                    log_end = self.log_end,
                    "leader sent a batch that does not continue the log; ignored"
                );
                rejected = true;
                break;
            }
            self.log_end = b.next_offset();
            self.last_epoch = b.epoch;
            self.push_op(LogOp::Append(b));
            appended = true;
        }
        let hw = high_watermark.min(self.log_end);
        if hw > self.high_watermark {
            self.set_high_watermark(hw);
        }
        if appended {
            // The next Fetch waits for the flush (handle_log_flushed).
            self.out.flush = true;
        } else if rejected {
            // Asking again at once would get the same answer: back off.
            self.schedule_refetch();
        } else {
            self.send_fetch();
        }
    }

    /// Fetch again after the retry backoff rather than at once.
    fn schedule_refetch(&mut self) {
        let at = self.now + self.cfg.retry_backoff_ms;
        if let Role::Follower(f) = &mut self.role {
            f.in_flight = None;
            f.refetch_at = Some(at);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn handle_fetch_snapshot_response(
        &mut self,
        cid: u64,
        error: ErrorCode,
        epoch: Epoch,
        leader_id: Option<NodeId>,
        id: SnapshotId,
        size: u64,
        position: u64,
        bytes: Bytes,
    ) {
        if epoch > self.epoch {
            self.observe_epoch(epoch, leader_id);
            return;
        }
        let next_cid = self.next_correlation_id;
        let now = self.now;
        let Role::Follower(f) = &mut self.role else {
            return;
        };
        if !Self::is_current_response(cid, f.cid_floor, next_cid) || epoch != self.epoch {
            return;
        }
        // A late answer to a snapshot request after the download ended: not ours to act on.
        let Some(s) = f.snapshot else { return };
        f.in_flight = None;
        match error {
            ErrorCode::None
                if s.id == id && s.position == position && id.end_offset >= self.log_end => {}
            ErrorCode::NotLeaderOrFollower
            | ErrorCode::FencedLeaderEpoch
            | ErrorCode::UnknownLeaderEpoch => {
                // The leader stopped leading: count it as gone and ask again after a backoff.
                f.snapshot = None;
                f.refetch_at = Some(now + self.cfg.retry_backoff_ms);
                self.leader_heard_ms = None;
                return;
            }
            _ => {
                // The leader moved on (a newer snapshot, say): start over with a plain fetch.
                f.snapshot = None;
                self.send_fetch();
                return;
            }
        }
        f.fetch_deadline = now + self.cfg.fetch_timeout_ms;
        self.leader_heard_ms = Some(now);
        self.election_retries = 0;
        let next = position + bytes.len() as u64;
        if bytes.is_empty() && next < size {
            self.send_fetch();
            return;
        }
        self.push_op(LogOp::SnapshotChunk {
            id,
            position,
            bytes,
        });
        if next >= size {
            self.push_op(LogOp::InstallSnapshot(id));
            if let Role::Follower(f) = &mut self.role {
                f.snapshot = None;
            }
            self.log_end = id.end_offset;
            self.last_epoch = id.epoch;
            if id.end_offset > self.high_watermark {
                self.set_high_watermark(id.end_offset);
            }
        } else if let Role::Follower(f) = &mut self.role {
            f.snapshot = Some(SnapshotFetch { id, position: next });
        }
        self.send_fetch();
    }

    // ----- proposals and appends -----

    fn push_op(&mut self, op: LogOp) {
        match &op {
            LogOp::Append(b) => {
                self.unflushed_end = Some(self.unflushed_end.unwrap_or(0).max(b.next_offset()));
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

    fn append_batch(&mut self, batch: Batch) {
        debug_assert_eq!(batch.base_offset, self.log_end);
        self.log_end = batch.next_offset();
        self.last_epoch = batch.epoch;
        self.push_op(LogOp::Append(batch));
        self.out.flush = true;
    }

    /// Packs accumulated proposals into batches bounded by records and bytes (never splitting
    /// one proposal) and appends them: adaptive batching, no linger.
    fn pack_proposals(&mut self) {
        if self.accumulated.is_empty() || !matches!(self.role, Role::Leader(_)) {
            return;
        }
        let mut records: Vec<RecordData> = Vec::new();
        let mut bytes = super::store::BATCH_OVERHEAD_BYTES;
        let mut members: Vec<(ProposalId, usize, usize)> = Vec::new();
        let accumulated = std::mem::take(&mut self.accumulated);
        for p in accumulated {
            if !records.is_empty()
                && (records.len() + p.records.len() > self.cfg.batch_records_max
                    || bytes + p.bytes > self.cfg.batch_bytes_max)
            {
                self.flush_packed(&mut records, &mut members);
                bytes = super::store::BATCH_OVERHEAD_BYTES;
            }
            bytes += p.bytes;
            members.push((p.id, p.records.len(), p.bytes));
            records.extend(p.records);
        }
        self.flush_packed(&mut records, &mut members);
    }

    fn flush_packed(
        &mut self,
        records: &mut Vec<RecordData>,
        members: &mut Vec<(ProposalId, usize, usize)>,
    ) {
        if records.is_empty() {
            return;
        }
        let base = self.log_end;
        let mut end = base;
        for (id, n, bytes) in members.drain(..) {
            end += n as Offset;
            self.inflight.push_back(Inflight {
                id,
                last_offset: end - 1,
                bytes,
            });
        }
        self.append_batch(Batch::new(base, self.epoch, false, std::mem::take(records)));
    }

    /// Leadership lost: proposals never appended are certainly not committed; appended ones
    /// may still commit under the next leader.
    fn fail_proposals(&mut self) {
        for p in self.accumulated.drain(..) {
            self.out
                .proposals
                .push((p.id, ProposalOutcome::NotAppended));
        }
        for p in self.inflight.drain(..) {
            self.out
                .proposals
                .push((p.id, ProposalOutcome::LeaderChanged));
        }
        self.pending_bytes = 0;
    }

    // ----- helpers -----

    fn last_epoch_at(&self, end: Offset) -> Epoch {
        if end <= self.store.log_start_offset() {
            return self.store.latest_snapshot().map_or(0, |s| s.epoch);
        }
        self.store
            .read(end - 1, 1)
            .ok()
            .and_then(|b| b.first().map(|b| b.epoch))
            .unwrap_or(self.last_epoch)
    }

    /// Whether a response answers a request of this incarnation (whose next id is `next`) sent
    /// at the current position (ids from `floor`).
    fn is_current_response(cid: u64, floor: u64, next: u64) -> bool {
        cid >> 32 == next >> 32 && cid >= floor && cid < next
    }

    fn next_cid(&mut self) -> u64 {
        let c = self.next_correlation_id;
        self.next_correlation_id += 1;
        c
    }

    fn random_election_timeout(&mut self) -> u64 {
        let t = self.cfg.election_timeout_ms.max(1);
        t + self.rng.below(t)
    }

    /// Binary exponential backoff after failed elections (Kafka's
    /// `binaryExponentialElectionBackoffMs`): `retry.backoff · random[1, 2^retries]`, capped by
    /// `election.backoff.max.ms`.
    fn election_backoff_ms(&mut self) -> u64 {
        let span = 1u64 << self.election_retries.min(16);
        let backoff = self
            .cfg
            .retry_backoff_ms
            .max(1)
            .saturating_mul(1 + self.rng.below(span));
        backoff.min(self.cfg.election_backoff_max_ms.max(1))
    }
}
