//! The leader's side: answering Fetch and FetchSnapshot (divergence, snapshot ids, long-poll),
//! the high watermark, check-quorum, packing proposals into batches, stepping down.

use super::*;

impl<S: LogStore> RaftCore<S> {
    /// Leaves leadership for Resigned and tells the other voters with EndQuorumEpoch, naming
    /// `preferred` successors in order (none after a failed check-quorum).
    pub(super) fn step_down(&mut self, preferred: Vec<NodeId>) {
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

    pub(super) fn handle_fetch_request(
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
        if fetch_offset < Offset(0) || last_fetched_epoch < Epoch(0) || last_fetched_epoch > epoch {
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
            || (fetch_offset > Offset(0)
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
        if fetch_offset > Offset(0) {
            let ours = self.leader_end_offset_for_epoch(last_fetched_epoch);
            let diverging = match ours {
                Some(e) if e.epoch == last_fetched_epoch && e.end_offset >= fetch_offset => None,
                Some(e) => Some(EpochEndOffset {
                    epoch: e.epoch,
                    end_offset: e.end_offset.min(fetch_offset),
                }),
                None => Some(EpochEndOffset {
                    epoch: Epoch(0),
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
        let mut replaced = Vec::new();
        if let Role::Leader(l) = &mut self.role {
            let r = l.replicas.entry(replica).or_default();
            r.end_offset = Some(fetch_offset);
            if fetch_offset >= log_end {
                r.last_caught_up_ms = Some(now);
            }
            // A replica that sends a new fetch has given up on the one held for it. That one is
            // still answered (with nothing): a request left unanswered would hold back every
            // later answer on the replica's connection, which answers in request order.
            if l.parked.iter().any(|p| p.replica_id == replica) {
                let (old, keep) = std::mem::take(&mut l.parked)
                    .into_iter()
                    .partition(|p| p.replica_id == replica);
                l.parked = keep;
                replaced = old;
            }
        }
        for p in replaced {
            let response = self.fetch_response(ErrorCode::None, Vec::new(), None, None);
            self.out
                .messages
                .push((p.replica_id, p.correlation_id, response));
        }
        let hw_known = match &self.role {
            Role::Leader(l) => l.replicas.get(&replica).and_then(|r| r.high_watermark_sent),
            _ => None,
        };
        if is_voter {
            self.maybe_advance_high_watermark();
        }
        let records = match self
            .store
            .read(fetch_offset, max_bytes.min(self.cfg.fetch_bytes_max))
        {
            Ok(r) => self.only_committed_for_observers(replica, r),
            Err(e) => {
                // Never answer from a log that cannot be read: the node stops instead.
                let what = format!("reading the log at {fetch_offset} for a fetch of {replica}");
                return self.storage_failed(&what, e);
            }
        };
        if records.is_empty() && hw_known == Some(self.high_watermark) {
            // Long-poll: hold the fetch until new records, a new high watermark, or its deadline.
            // (A replica that has not been told the current high watermark, e.g. because a
            // voter's fetch moved it just now, is answered at once, so the news reaches it
            // without waiting for the next record.)
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
        self.note_high_watermark_sent(replica);
        let response = self.fetch_response(ErrorCode::None, records, None, None);
        self.out.messages.push((replica, cid, response));
    }

    /// Observers are sent committed batches only (below the high watermark): they need nothing
    /// else, their copy never has to be truncated, and each new batch costs the leader one
    /// response per observer instead of two (records, then the high watermark).
    fn only_committed_for_observers(&self, replica: NodeId, mut batches: Vec<Batch>) -> Vec<Batch> {
        if !self.voters.contains(&replica) {
            let hw = self.high_watermark;
            batches.retain(|b| b.next_offset() <= hw);
        }
        batches
    }

    /// Records that `replica` is being told the current high watermark.
    fn note_high_watermark_sent(&mut self, replica: NodeId) {
        let hw = self.high_watermark;
        if let Role::Leader(l) = &mut self.role {
            l.replicas.entry(replica).or_default().high_watermark_sent = Some(hw);
        }
    }

    /// A replica fetched (records or a snapshot chunk) in our epoch.
    pub(super) fn record_contact(&mut self, replica: NodeId) {
        let now = self.now;
        if let Role::Leader(l) = &mut self.role {
            let r = l.replicas.entry(replica).or_default();
            r.last_fetch_ms = Some(now);
            r.acknowledged = true;
        }
    }

    /// Our end offset for an epoch, counting the current epoch's unapplied appends.
    pub(super) fn leader_end_offset_for_epoch(&self, epoch: Epoch) -> Option<EpochEndOffset> {
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

    pub(super) fn fetch_response(
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
            high_watermark: self.reported_high_watermark(),
            log_start_offset: self.store.log_start_offset(),
            records,
            diverging_epoch,
            snapshot_id,
        }
    }

    /// Answers parked fetches that have new records or a new high watermark, or whose wait ended.
    pub(super) fn wake_parked_fetches(&mut self) {
        let Role::Leader(l) = &mut self.role else {
            return;
        };
        if l.parked.is_empty() {
            return;
        }
        let store_end = self.store.end_offset();
        let log_start = self.store.log_start_offset();
        let now = self.now;
        let hw = self.high_watermark;
        let voters = &self.voters;
        let (ready, keep): (Vec<ParkedFetch>, Vec<ParkedFetch>) =
            l.parked.drain(..).partition(|p| {
                // An observer is sent committed records only: new records alone do not wake it.
                (store_end > p.fetch_offset && voters.contains(&p.replica_id))
                    || hw != p.high_watermark
                    || now >= p.deadline
            });
        l.parked = keep;
        // Many replicas wait at the same offset: read each position once per wake-up (the
        // batches share their records).
        let mut reads: Vec<((Offset, usize), Vec<Batch>)> = Vec::new();
        for p in ready {
            // A fetch parked below a log start that retention has since moved answers empty;
            // the replica's next fetch is told to load the snapshot.
            let records = if store_end > p.fetch_offset && p.fetch_offset >= log_start {
                let key = (p.fetch_offset, p.max_bytes.min(self.cfg.fetch_bytes_max));
                let read = match reads.iter().find(|(k, _)| *k == key) {
                    Some((_, r)) => r.clone(),
                    None => match self.store.read(key.0, key.1) {
                        Ok(r) => {
                            reads.push((key, r.clone()));
                            r
                        }
                        Err(e) => {
                            let what = format!("reading the log at {} for a parked fetch", key.0);
                            return self.storage_failed(&what, e);
                        }
                    },
                };
                self.only_committed_for_observers(p.replica_id, read)
            } else {
                Vec::new()
            };
            self.note_high_watermark_sent(p.replica_id);
            let response = self.fetch_response(ErrorCode::None, records, None, None);
            self.out
                .messages
                .push((p.replica_id, p.correlation_id, response));
        }
    }

    pub(super) fn handle_fetch_snapshot_request(
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
    pub(super) fn maybe_advance_high_watermark(&mut self) {
        let Role::Leader(l) = &self.role else { return };
        let own = self.store.durable_end_offset();
        let mut ends: Vec<Offset> = Vec::with_capacity(self.voters.len());
        for v in &self.voters {
            if *v == self.cfg.node_id {
                ends.push(own);
            } else {
                ends.push(
                    l.replicas
                        .get(v)
                        .and_then(|r| r.end_offset)
                        .unwrap_or(Offset(-1)),
                );
            }
        }
        ends.sort_unstable_by(|a, b| b.cmp(a));
        let candidate = ends[self.majority() - 1];
        if candidate > l.epoch_start_offset && candidate > self.high_watermark {
            self.set_high_watermark(candidate);
            self.wake_parked_fetches();
        }
    }

    pub(super) fn set_high_watermark(&mut self, hw: Offset) {
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

    pub(super) fn leader_tick(&mut self) {
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
                tracing::warn!(epoch = %self.epoch, "check-quorum failed: resigning");
                self.step_down(Vec::new());
                return;
            }
        }
        self.send_begin_quorum_epoch();
        self.wake_parked_fetches();
    }

    pub(super) fn append_batch(&mut self, batch: Batch) {
        debug_assert_eq!(batch.base_offset, self.log_end);
        self.log_end = batch.next_offset();
        self.last_epoch = batch.epoch;
        self.push_op(LogOp::Append(batch));
        self.out.flush = true;
    }

    /// Packs accumulated proposals into batches bounded by records and bytes (never splitting
    /// one proposal) and appends them: adaptive batching, no linger.
    pub(super) fn pack_proposals(&mut self) {
        if self.accumulated.is_empty() || !matches!(self.role, Role::Leader(_)) {
            return;
        }
        let mut records: Vec<RecordData> = Vec::new();
        let mut bytes = crate::raft::store::BATCH_OVERHEAD_BYTES;
        let mut members: Vec<(ProposalId, usize, usize)> = Vec::new();
        let accumulated = std::mem::take(&mut self.accumulated);
        self.accumulated_records = 0;
        for p in accumulated {
            if !records.is_empty()
                && (records.len() + p.records.len() > self.cfg.batch_records_max
                    || bytes + p.bytes > self.cfg.batch_bytes_max)
            {
                self.flush_packed(&mut records, &mut members);
                bytes = crate::raft::store::BATCH_OVERHEAD_BYTES;
            }
            bytes += p.bytes;
            members.push((p.id, p.records.len(), p.bytes));
            records.extend(p.records);
        }
        self.flush_packed(&mut records, &mut members);
    }

    pub(super) fn flush_packed(
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
            end += n as i64;
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
    pub(super) fn fail_proposals(&mut self) {
        self.accumulated_records = 0;
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
}
