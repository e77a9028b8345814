//! The messages of the KRaft RPCs as plain Rust values, one variant per request and response,
//! with the fields of Kafka's `VoteRequest` (v2, with `PreVote`), `BeginQuorumEpoch`,
//! `EndQuorumEpoch`, `Fetch` and `FetchSnapshot` schemas that the core uses. The wire mapping
//! comes with the networking work.

use bytes::Bytes;

use super::store::{Batch, EpochEndOffset};
use super::{Epoch, NodeId, Offset, SnapshotId};

/// Kafka error codes the RPCs carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// Success.
    None,
    /// The request's epoch is older than the receiver's (`FENCED_LEADER_EPOCH`).
    FencedLeaderEpoch,
    /// The receiver is not the leader (`NOT_LEADER_OR_FOLLOWER`).
    NotLeaderOrFollower,
    /// The request's epoch is newer than the receiver knows (`UNKNOWN_LEADER_EPOCH`).
    UnknownLeaderEpoch,
    /// The sender is not a voter (`INCONSISTENT_VOTER_SET`).
    InconsistentVoterSet,
    /// A snapshot position is outside the snapshot (`POSITION_OUT_OF_RANGE`).
    PositionOutOfRange,
    /// The requested snapshot does not exist (`SNAPSHOT_NOT_FOUND`).
    SnapshotNotFound,
    /// The request's fields are impossible (`INVALID_REQUEST`).
    InvalidRequest,
}

/// One KRaft RPC request or response.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// Vote / pre-vote request (`VoteRequest` v2).
    VoteRequest {
        /// The epoch the candidate campaigns in (for a pre-vote: the one it would campaign in).
        replica_epoch: Epoch,
        /// The candidate.
        replica_id: NodeId,
        /// Epoch of the candidate's last entry.
        last_offset_epoch: Epoch,
        /// The candidate's log end offset.
        last_offset: Offset,
        /// KIP-996: a pre-vote asks without bumping anyone's epoch.
        pre_vote: bool,
    },
    /// Vote / pre-vote response.
    VoteResponse {
        /// Error, if any.
        error: ErrorCode,
        /// The voter's epoch.
        leader_epoch: Epoch,
        /// The leader the voter knows, if any.
        leader_id: Option<NodeId>,
        /// Whether the (pre-)vote is granted.
        vote_granted: bool,
        /// Echo of the request's flag.
        pre_vote: bool,
    },
    /// A new leader announces itself.
    BeginQuorumEpochRequest {
        /// The new epoch.
        leader_epoch: Epoch,
        /// The leader.
        leader_id: NodeId,
    },
    /// Acknowledgement of BeginQuorumEpoch.
    BeginQuorumEpochResponse {
        /// Error, if any.
        error: ErrorCode,
        /// The responder's epoch.
        leader_epoch: Epoch,
        /// The leader the responder knows.
        leader_id: Option<NodeId>,
    },
    /// A leader resigns gracefully, naming its preferred successors in order.
    EndQuorumEpochRequest {
        /// The epoch ending.
        leader_epoch: Epoch,
        /// The resigning leader.
        leader_id: NodeId,
        /// Voters in the order they should campaign.
        preferred_successors: Vec<NodeId>,
    },
    /// Acknowledgement of EndQuorumEpoch.
    EndQuorumEpochResponse {
        /// Error, if any.
        error: ErrorCode,
        /// The responder's epoch.
        leader_epoch: Epoch,
        /// The leader the responder knows.
        leader_id: Option<NodeId>,
    },
    /// Pull replication: a follower or observer asks for records from `fetch_offset`.
    FetchRequest {
        /// The fetcher.
        replica_id: NodeId,
        /// The epoch the fetcher believes current.
        current_leader_epoch: Epoch,
        /// The fetcher's log end offset (durable).
        fetch_offset: Offset,
        /// Epoch of the fetcher's last entry.
        last_fetched_epoch: Epoch,
        /// Largest response payload wanted.
        max_bytes: usize,
    },
    /// Records, a divergence, or a snapshot to fetch instead.
    FetchResponse {
        /// Error, if any.
        error: ErrorCode,
        /// The leader's epoch (or the responder's, on error).
        leader_epoch: Epoch,
        /// The leader, if known.
        leader_id: Option<NodeId>,
        /// The leader's high watermark.
        high_watermark: Offset,
        /// The leader's log start offset.
        log_start_offset: Offset,
        /// Batches from the fetch offset.
        records: Vec<Batch>,
        /// Set when the fetcher's log diverges: truncate to this.
        diverging_epoch: Option<EpochEndOffset>,
        /// Set when the fetch offset is below the log start: fetch this snapshot.
        snapshot_id: Option<SnapshotId>,
    },
    /// Ask for a chunk of a snapshot.
    FetchSnapshotRequest {
        /// The fetcher.
        replica_id: NodeId,
        /// The epoch the fetcher believes current.
        current_leader_epoch: Epoch,
        /// The snapshot.
        snapshot_id: SnapshotId,
        /// Byte position of the chunk.
        position: u64,
        /// Largest chunk wanted.
        max_bytes: usize,
    },
    /// A chunk of a snapshot.
    FetchSnapshotResponse {
        /// Error, if any.
        error: ErrorCode,
        /// The leader's epoch.
        leader_epoch: Epoch,
        /// The leader, if known.
        leader_id: Option<NodeId>,
        /// The snapshot.
        snapshot_id: SnapshotId,
        /// Its total size.
        size: u64,
        /// Position of `bytes`.
        position: u64,
        /// The chunk (Kafka's `UnalignedRecords`).
        bytes: Bytes,
    },
}

impl Message {
    /// The RPC's name, as Kafka spells it.
    pub fn name(&self) -> &'static str {
        match self {
            Message::VoteRequest { pre_vote: true, .. } => "PreVoteRequest",
            Message::VoteRequest { .. } => "VoteRequest",
            Message::VoteResponse { pre_vote: true, .. } => "PreVoteResponse",
            Message::VoteResponse { .. } => "VoteResponse",
            Message::BeginQuorumEpochRequest { .. } => "BeginQuorumEpochRequest",
            Message::BeginQuorumEpochResponse { .. } => "BeginQuorumEpochResponse",
            Message::EndQuorumEpochRequest { .. } => "EndQuorumEpochRequest",
            Message::EndQuorumEpochResponse { .. } => "EndQuorumEpochResponse",
            Message::FetchRequest { .. } => "FetchRequest",
            Message::FetchResponse { .. } => "FetchResponse",
            Message::FetchSnapshotRequest { .. } => "FetchSnapshotRequest",
            Message::FetchSnapshotResponse { .. } => "FetchSnapshotResponse",
        }
    }

    /// Whether this is a request (sent on the sender's own connection, answered by the
    /// receiver) rather than a response (which travels back on the requester's connection).
    pub fn is_request(&self) -> bool {
        matches!(
            self,
            Message::VoteRequest { .. }
                | Message::BeginQuorumEpochRequest { .. }
                | Message::EndQuorumEpochRequest { .. }
                | Message::FetchRequest { .. }
                | Message::FetchSnapshotRequest { .. }
        )
    }
}
