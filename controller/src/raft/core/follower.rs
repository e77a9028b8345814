//! The follower's and observer's side: sending Fetch and FetchSnapshot, taking records, divergence
//! truncation and snapshots from the answers, and telling stale answers from current ones.

use super::*;

impl<S: LogStore> RaftCore<S> {
    pub(super) fn send_fetch(&mut self) {
        let Role::Follower(f) = &self.role else {
            return;
        };
        let Some(leader) = self.leader_id else { return };
        // A voter's fetch offset tells the leader what it holds durably, so it waits for its
        // flush; an observer's durability counts for nothing, so it fetches on at once.
        if self.unflushed_end.is_some() && self.is_voter() {
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
    pub(super) fn send_discovery_fetch(&mut self) {
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
    pub(super) fn handle_fetch_response(
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
            return; // stale, or from someone else
        }
        let in_flight = f.in_flight.is_some_and(|(c, _)| c == cid);
        if in_flight {
            f.in_flight = None;
        }
        if error != ErrorCode::None {
            if in_flight {
                // The leader we follow says it is not leading (it resigned): stop counting it
                // as alive, and ask again after a backoff.
                f.refetch_at = Some(self.now + self.cfg.retry_backoff_ms);
                self.leader_heard_ms = None;
            }
            return;
        }
        f.fetch_deadline = self.now + self.cfg.fetch_timeout_ms;
        self.leader_heard_ms = Some(self.now);
        if !in_flight {
            // The answer to a fetch this follower has since sent again (or a duplicate): it
            // shows the leader alive, but it asks for no new fetch. Acting on it would send one
            // fetch per such answer, and a leader answers a replaced fetch at once: the two
            // would ping-pong for ever. Whatever else it carries, the answer to the fetch in
            // flight, at the same position, carries too. Its high watermark is taken only when
            // it confirms this log (no divergence, no snapshot): a diverging log must be
            // truncated before any of it counts as committed.
            if diverging.is_none() && snapshot_id.is_none() {
                let hw = high_watermark.min(self.log_end);
                if hw > self.high_watermark {
                    self.set_high_watermark(hw);
                }
            }
            return;
        }
        f.refetch_at = None;
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
            let target = if target < self.store.end_offset()
                && target >= self.store.log_start_offset()
            {
                match self.store.read(target, 1) {
                    Ok(b) => b.first().map_or(target, |b| b.base_offset.min(target)),
                    Err(e) => {
                        let what = format!("reading the batch holding {target} to truncate there");
                        return self.storage_failed(&what, e);
                    }
                }
            } else {
                target
            };
            if target < self.high_watermark {
                tracing::error!(
                    target = %target,
                    hw = %self.high_watermark,
                    "leader asked to truncate below the high watermark; ignored"
                );
                self.schedule_refetch();
                return;
            }
            self.push_op(LogOp::Truncate(target));
            self.log_end = target;
            self.last_epoch = match self.last_epoch_at(target) {
                Ok(epoch) => epoch,
                Err(e) => {
                    let what = format!("reading the epoch of the record before {target}");
                    return self.storage_failed(&what, e);
                }
            };
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
                    base_offset = %b.base_offset,
                    batch_epoch = %b.epoch,
                    log_end = %self.log_end,
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
            if self.is_voter() {
                // The next Fetch waits for the flush (handle_log_flushed).
                self.out.flush = true;
            } else {
                if self.now >= self.observer_flush_at_ms {
                    self.out.flush = true;
                    self.observer_flush_at_ms = self.now + self.cfg.observer_flush_interval_ms;
                }
                self.send_fetch();
            }
        } else if rejected {
            // Asking again at once would get the same answer: back off.
            self.schedule_refetch();
        } else {
            self.send_fetch();
        }
    }

    /// Fetch again after the retry backoff rather than at once.
    pub(super) fn schedule_refetch(&mut self) {
        let at = self.now + self.cfg.retry_backoff_ms;
        if let Role::Follower(f) = &mut self.role {
            f.in_flight = None;
            f.refetch_at = Some(at);
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn handle_fetch_snapshot_response(
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
        if !Self::answers_in_flight(f, cid, next_cid) || epoch != self.epoch {
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

    /// The epoch of the record before `end`: of the snapshot when `end` is the log start.
    pub(super) fn last_epoch_at(&self, end: Offset) -> Result<Epoch, crate::raft::StoreError> {
        if end <= self.store.log_start_offset() {
            return Ok(self.store.latest_snapshot().map_or(Epoch(0), |s| s.epoch));
        }
        let batches = self.store.read(end - 1, 1)?;
        Ok(batches.first().map_or(self.last_epoch, |b| b.epoch))
    }

    /// Whether a response answers a request of this incarnation (whose next id is `next`) sent
    /// at the current position (ids from `floor`).
    pub(super) fn is_current_response(cid: u64, floor: u64, next: u64) -> bool {
        cid >> 32 == next >> 32 && cid >= floor && cid < next
    }

    /// Whether a response answers the one request the follower has in flight, sent at the
    /// current position (a snapshot download acts on nothing else).
    pub(super) fn answers_in_flight(f: &FollowerState, cid: u64, next: u64) -> bool {
        f.in_flight.is_some_and(|(c, _)| c == cid)
            && Self::is_current_response(cid, f.cid_floor, next)
    }
}
