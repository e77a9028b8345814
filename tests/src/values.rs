//! [`ValueLog`]: the state machine the simulator and the transcripts run inside the real
//! [`Node`](metaquorum_controller::node::Node): it proposes the records it is handed and keeps
//! an order-sensitive digest of every record it applies, so two replicas that applied the same
//! prefix agree on its digest and any difference (a skipped, repeated or changed batch) shows.
//! Its snapshots are the harness's (`crate::sim::encode_snapshot`); loading one restarts the
//! digest from the entries it holds.

use metaquorum_controller::node::{Ctx, StateMachine};
use metaquorum_controller::raft::{
    Batch, LogStore, MemStore, Millis, Offset, ProposalId, ProposalOutcome, ProposeError,
};
use metaquorum_controller::snapshots::SnapshotError;
use metaquorum_log::batch::RecordData;

use crate::sim::decode_snapshot;

/// FNV-1a offset basis: the digest of nothing.
const DIGEST_EMPTY: u64 = 0xcbf2_9ce4_8422_2325;

/// Folds bytes into a running FNV-1a digest.
fn fold(mut digest: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        digest ^= u64::from(*b);
        digest = digest.wrapping_mul(0x0100_0000_01b3);
    }
    digest
}

/// The simulator's state machine; see the module documentation.
#[derive(Debug, Clone)]
pub struct ValueLog {
    /// The outcome of the last proposal handed to it.
    pub last_proposal: Option<Result<ProposalId, ProposeError>>,
    /// Digest of every data record applied (or loaded from a snapshot), in offset order.
    pub digest: u64,
    /// The next offset to apply.
    pub applied: Offset,
}

impl Default for ValueLog {
    fn default() -> Self {
        ValueLog {
            last_proposal: None,
            digest: DIGEST_EMPTY,
            applied: Offset(0),
        }
    }
}

impl ValueLog {
    fn fold_record(&mut self, offset: Offset, value: &[u8]) {
        self.digest = fold(fold(self.digest, &offset.get().to_le_bytes()), value);
    }
}

impl StateMachine<MemStore> for ValueLog {
    type Request = Vec<RecordData>;

    fn load(&mut self, store: &MemStore) -> Result<Offset, SnapshotError> {
        self.digest = DIGEST_EMPTY;
        self.applied = Offset(0);
        let Some(id) = store.latest_snapshot() else {
            return Ok(Offset(0));
        };
        let bytes = store.snapshot(id).ok_or_else(|| SnapshotError::Open {
            id,
            reason: "listed but has no bytes".into(),
        })?;
        for (offset, entry) in decode_snapshot(bytes).iter().enumerate() {
            if !entry.control {
                self.fold_record(Offset(offset as i64), &entry.value);
            }
        }
        self.applied = id.end_offset;
        Ok(id.end_offset)
    }

    fn apply(&mut self, batch: &Batch, _ctx: &mut Ctx<'_, MemStore>) {
        assert_eq!(
            batch.base_offset, self.applied,
            "the node handed a batch that does not continue the applied prefix"
        );
        if !batch.control {
            for (k, r) in batch.records.iter().enumerate() {
                let value = r.value.as_deref().unwrap_or_default();
                self.fold_record(batch.base_offset + k as i64, value);
            }
        }
        self.applied = batch.next_offset();
    }

    fn handle(&mut self, records: Vec<RecordData>, ctx: &mut Ctx<'_, MemStore>) {
        self.last_proposal = Some(ctx.propose(records).map(|(id, _)| id));
    }

    fn proposal_done(
        &mut self,
        _id: ProposalId,
        _outcome: ProposalOutcome,
        _ctx: &mut Ctx<'_, MemStore>,
    ) {
    }

    fn tick(&mut self, _ctx: &mut Ctx<'_, MemStore>) -> Option<Millis> {
        None
    }
}
