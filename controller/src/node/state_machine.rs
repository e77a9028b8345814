//! The seam between the node and what it replicates: the [`StateMachine`] trait, and [`Ctx`],
//! what a state machine may do from its callbacks (propose, read the quorum's state, ask the
//! process to stop).

use metaquorum_log::batch::RecordData;

use super::{Effect, ExitCode};
use crate::raft::segmented::SegmentedStore;
use crate::raft::{
    Batch, Epoch, FlushStore, Millis, NodeId, Offset, ProposalId, ProposalOutcome, ProposeError,
    QuorumInfo, RaftCore, RoleKind,
};

/// What a state machine may do from its callbacks: propose records, read the quorum's state,
/// ask the process to stop. Time is the node's: the same inputs give the same calls.
pub struct Ctx<'a, L: FlushStore = SegmentedStore> {
    pub(super) core: &'a mut RaftCore<L>,
    pub(super) effects: &'a mut Vec<Effect<L::Flush>>,
    pub(super) stopped: &'a mut bool,
    pub(super) now_ms: Millis,
    /// Wall-clock ms at the node clock's zero.
    pub(super) wall_ms_at_zero: i64,
}

impl<L: FlushStore> Ctx<'_, L> {
    /// Proposes records; returns the proposal id and the offset its first record will have if
    /// it commits.
    pub fn propose(
        &mut self,
        records: Vec<RecordData>,
    ) -> Result<(ProposalId, Offset), ProposeError> {
        let first = self.core.next_proposal_offset();
        let id = self.core.propose(records)?;
        self.effects.push(Effect::Proposed(id));
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
    pub fn epoch(&self) -> Epoch {
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

    /// The node's monotonic clock.
    pub fn now_ms(&self) -> Millis {
        self.now_ms
    }

    /// Wall-clock milliseconds since the Unix epoch, as the node was told.
    pub fn wall_ms(&self) -> i64 {
        self.wall_ms_at_zero + self.now_ms as i64
    }

    /// The quorum as this node sees it.
    pub fn describe_quorum(&self) -> QuorumInfo {
        self.core.describe_quorum()
    }

    /// The log store, for snapshot generation and retention.
    pub fn store_mut(&mut self) -> &mut L {
        self.core.store_mut()
    }

    /// Asks the process to stop with `code`: the node performs nothing after this callback,
    /// and the shell exits once the effects before it are done. The first request wins.
    pub fn exit(&mut self, code: ExitCode, reason: String) {
        super::request_exit(self.effects, self.stopped, code, reason);
    }

    /// Whether the node has been asked to stop.
    pub fn stopped(&self) -> bool {
        *self.stopped
    }
}

/// The replicated state machine a node feeds: the metadata image and, on the leader, the
/// active controller; or a broker's loader and publishers; or both. Callbacks run on the
/// node's thread, must not block, and take their time from the [`Ctx`]: a state machine that
/// reads no clock, RNG or file system outside it replays identically under the simulator.
pub trait StateMachine<L: FlushStore = SegmentedStore>: 'static {
    /// Requests the network hands to the state machine.
    type Request;

    /// Loads state from the newest snapshot at start and after a snapshot install (before any
    /// `apply`). Returns the offset the snapshot ends at (the next offset to apply), or 0
    /// without a snapshot.
    fn load(&mut self, store: &L) -> Result<Offset, crate::snapshots::SnapshotError>;
    /// A committed batch, in log order (control batches included).
    fn apply(&mut self, batch: &Batch, ctx: &mut Ctx<'_, L>);
    /// A request from the network.
    fn handle(&mut self, request: Self::Request, ctx: &mut Ctx<'_, L>);
    /// A proposal ended.
    fn proposal_done(&mut self, id: ProposalId, outcome: ProposalOutcome, ctx: &mut Ctx<'_, L>);
    /// Called at every tick of the node (a good place for timers); returns the next time it
    /// wants to be called at the latest.
    fn tick(&mut self, ctx: &mut Ctx<'_, L>) -> Option<Millis>;
}
