//! Elections: pre-vote (KIP-996), votes, candidacy, winning (the LeaderChange record and
//! BeginQuorumEpoch), losing with backoff, and EndQuorumEpoch from a resigning leader.

use super::*;

impl<S: LogStore> RaftCore<S> {
    pub(super) fn new_unattached(&mut self) -> Role {
        Role::Unattached {
            election_deadline: self.now + self.random_election_timeout(),
            discovery: None,
        }
    }

    pub(super) fn new_follower_state(&mut self) -> FollowerState {
        FollowerState {
            fetch_deadline: self.now + self.cfg.fetch_timeout_ms,
            in_flight: None,
            refetch_at: None,
            cid_floor: self.next_correlation_id,
            snapshot: None,
        }
    }

    /// Learned of a newer epoch (or the leader of ours): follow it if the leader is known.
    pub(super) fn observe_epoch(&mut self, epoch: Epoch, leader_id: Option<NodeId>) {
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

    pub(super) fn become_follower(&mut self, epoch: Epoch, leader: NodeId) {
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
    pub(super) fn become_prospective(&mut self) {
        if !self.is_voter() {
            return;
        }
        let election = Election {
            deadline: self.now + self.random_election_timeout(),
            retry_rejections_until: self.now + self.cfg.fetch_timeout_ms,
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

    pub(super) fn become_candidate(&mut self) {
        let Some(next_epoch) = self.epoch.checked_next().filter(|e| *e < Epoch::MAX) else {
            tracing::error!(epoch = %self.epoch, "epoch space exhausted; not campaigning");
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
    pub(super) fn record_own_vote(&mut self) {
        let me = self.cfg.node_id;
        if let Role::Prospective(e) | Role::Candidate(e) = &mut self.role {
            e.granted.insert(me);
        }
        self.resend_votes();
        self.maybe_election_won();
    }

    pub(super) fn resend_votes(&mut self) {
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
                .filter(|v| *v != me && !e.granted.contains(v))
                .filter(|v| {
                    !e.rejected.contains(v)
                        || (pre_vote
                            && now < e.retry_rejections_until
                            && e.rejected_at
                                .get(v)
                                .is_some_and(|t| now >= t + crate::raft::role::PRE_VOTE_RETRY_MS))
                })
                .filter(|v| e.sent.get(v).is_none_or(|(_, t)| now >= t + timeout))
                .collect(),
            _ => Vec::new(),
        };
        for to in targets {
            let cid = self.next_cid();
            if let Role::Prospective(e) | Role::Candidate(e) = &mut self.role {
                e.sent.insert(to, (cid, now));
                e.rejected.remove(&to);
                e.rejected_at.remove(&to);
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

    pub(super) fn majority(&self) -> usize {
        self.voters.len() / 2 + 1
    }

    pub(super) fn maybe_election_won(&mut self) {
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
    pub(super) fn election_lost(&mut self) {
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

    pub(super) fn become_leader(&mut self) {
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
        let voter = |id: &NodeId| Voter::default().with_voter_id(id.get());
        let message = LeaderChangeMessage::default()
            .with_version(0)
            .with_leader_id(me.into())
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

    pub(super) fn send_begin_quorum_epoch(&mut self) {
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

    pub(super) fn handle_vote_request(
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
        if last_offset < Offset(0)
            || last_offset_epoch < Epoch(0)
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
            // Any up-to-date prospective is granted, as in Kafka, even by a prospective: refusing
            // one (say the higher id of two with equal logs) can leave no prospective with a
            // majority when the network is cut in part. Two prospectives that saw the leader die
            // at the same moment are kept from splitting the real vote by time instead: a
            // refused connection starts the lower ids' elections first (`peer_unreachable`).
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
    pub(super) fn handle_vote_response(
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
            if pre_vote && self.now < e.retry_rejections_until {
                e.rejected_at.insert(from, self.now);
            }
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

    pub(super) fn handle_begin_quorum_epoch(&mut self, epoch: Epoch, leader: NodeId) -> ErrorCode {
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

    pub(super) fn handle_end_quorum_epoch(
        &mut self,
        epoch: Epoch,
        leader: NodeId,
        preferred: &[NodeId],
    ) {
        if epoch < self.epoch {
            return;
        }
        if epoch > self.epoch {
            self.observe_epoch(epoch, Some(leader));
        }
        let position = preferred.iter().position(|p| *p == self.cfg.node_id);
        tracing::info!(
            "leader {leader} resigned epoch {epoch} with EndQuorumEpoch; this node is {}",
            match position {
                Some(p) => format!("successor number {} of {:?}", p + 1, preferred),
                None => format!("not among the preferred successors {preferred:?}"),
            }
        );
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

    pub(super) fn random_election_timeout(&mut self) -> u64 {
        let t = self.cfg.election_timeout_ms.max(1);
        t + self.rng.below(t)
    }

    /// Binary exponential backoff after failed elections (Kafka's
    /// `binaryExponentialElectionBackoffMs`): `retry.backoff · random[1, 2^retries]`, capped by
    /// `election.backoff.max.ms`.
    pub(super) fn election_backoff_ms(&mut self) -> u64 {
        let span = 1u64 << self.election_retries.min(16);
        let backoff = self
            .cfg
            .retry_backoff_ms
            .max(1)
            .saturating_mul(1 + self.rng.below(span));
        backoff.min(self.cfg.election_backoff_max_ms.max(1))
    }
}
