//! The roles of a replica (KIP-595 with KIP-996's Prospective) and the election state persisted
//! in `quorum-state`.

use std::collections::{BTreeMap, BTreeSet};

use super::{Epoch, Millis, NodeId, Offset, SnapshotId};

/// The election state a node must persist before it grants a vote or adopts an epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ElectionState {
    /// Current epoch.
    pub epoch: Epoch,
    /// Leader of the epoch, once known.
    pub leader_id: Option<NodeId>,
    /// Candidate voted for in the epoch.
    pub voted_id: Option<NodeId>,
}

/// The role, without its private state, for status output and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleKind {
    /// No leader known, no vote cast.
    Unattached,
    /// Voted in this epoch, no leader known.
    Voted,
    /// Asking for pre-votes before bumping the epoch (KIP-996).
    Prospective,
    /// Campaigning in this epoch.
    Candidate,
    /// Leader of this epoch.
    Leader,
    /// Following a known leader.
    Follower,
    /// Stepped down from leading this epoch; waiting for a successor.
    Resigned,
}

impl RoleKind {
    /// Kafka's `current-state` metric value.
    pub fn name(self) -> &'static str {
        match self {
            RoleKind::Unattached => "unattached",
            RoleKind::Voted => "voted",
            RoleKind::Prospective => "prospective",
            RoleKind::Candidate => "candidate",
            RoleKind::Leader => "leader",
            RoleKind::Follower => "follower",
            RoleKind::Resigned => "resigned",
        }
    }
}

/// Votes gathered in an election round.
#[derive(Debug, Clone, Default)]
pub(crate) struct Election {
    pub granted: BTreeSet<NodeId>,
    pub rejected: BTreeSet<NodeId>,
    /// Correlation id and send time of the outstanding request per voter.
    pub sent: BTreeMap<NodeId, (u64, Millis)>,
    /// Pre-vote only: when each rejection arrived. A voter that rejected because it still
    /// followed a live leader may learn a moment later that the leader died, so it is asked
    /// again after [`PRE_VOTE_RETRY_MS`] (a pre-vote changes no state, so asking twice is
    /// harmless), until `retry_rejections_until`.
    pub rejected_at: BTreeMap<NodeId, Millis>,
    /// Pre-vote only: the round's start plus the fetch timeout. A voter believes in a dead
    /// leader for at most its fetch timeout after it last heard from it, which was before this
    /// round began; a rejection after that is for this node's log being behind, which asking
    /// again does not change (VoteResponse carries no reason, so time tells them apart).
    pub retry_rejections_until: Millis,
    /// When the round is lost.
    pub deadline: Millis,
}

/// How long a prospective waits before asking a voter that rejected its pre-vote again.
pub(crate) const PRE_VOTE_RETRY_MS: Millis = 100;

/// What the leader knows of one replica.
#[derive(Debug, Clone, Default)]
pub(crate) struct ReplicaProgress {
    /// Its log end offset from its last valid fetch (durable on it).
    pub end_offset: Option<Offset>,
    /// Time of its last fetch.
    pub last_fetch_ms: Option<Millis>,
    /// Last time it was caught up to the leader's log end.
    pub last_caught_up_ms: Option<Millis>,
    /// It has acknowledged this epoch (BeginQuorumEpoch response or a fetch).
    pub acknowledged: bool,
    /// Last BeginQuorumEpoch sent to it.
    pub begin_sent_ms: Option<Millis>,
    /// The high watermark in the last Fetch response sent to it: a fetch is held (long-poll)
    /// only while the replica already knows the current high watermark.
    pub high_watermark_sent: Option<Offset>,
}

/// A Fetch the leader holds until there is something new or its wait ends.
#[derive(Debug, Clone)]
pub(crate) struct ParkedFetch {
    pub replica_id: NodeId,
    pub correlation_id: u64,
    pub fetch_offset: Offset,
    pub max_bytes: usize,
    pub deadline: Millis,
    /// High watermark when parked: a change wakes the fetch.
    pub high_watermark: Offset,
}

/// The leader's private state.
#[derive(Debug, Clone)]
pub(crate) struct LeaderState {
    /// Offset of this epoch's LeaderChange record; the high watermark must pass it.
    pub epoch_start_offset: Offset,
    /// Voters (other than this node) and observers.
    pub replicas: BTreeMap<NodeId, ReplicaProgress>,
    pub check_quorum_deadline: Millis,
    pub parked: Vec<ParkedFetch>,
}

/// A follower downloading a snapshot.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SnapshotFetch {
    pub id: SnapshotId,
    pub position: u64,
}

/// The follower's private state.
#[derive(Debug, Clone)]
pub(crate) struct FollowerState {
    /// Without a successful fetch until then, start an election (voters) or rediscover the leader
    /// (observers).
    pub fetch_deadline: Millis,
    /// Outstanding request: correlation id and send time.
    pub in_flight: Option<(u64, Millis)>,
    /// After an error answer, fetch again at this time.
    pub refetch_at: Option<Millis>,
    /// Responses to requests with a correlation id below this were asked at an older log
    /// position and are stale; any at or above it (a resend of the same fetch included) is good.
    pub cid_floor: u64,
    pub snapshot: Option<SnapshotFetch>,
}

/// A role with its private state.
#[derive(Debug, Clone)]
pub(crate) enum Role {
    Unattached {
        election_deadline: Millis,
        discovery: Option<(u64, Millis)>,
    },
    Voted {
        election_deadline: Millis,
    },
    Prospective(Election),
    Candidate(Election),
    Leader(Box<LeaderState>),
    Follower(FollowerState),
    Resigned {
        deadline: Millis,
    },
}

impl Role {
    pub(crate) fn kind(&self) -> RoleKind {
        match self {
            Role::Unattached { .. } => RoleKind::Unattached,
            Role::Voted { .. } => RoleKind::Voted,
            Role::Prospective(_) => RoleKind::Prospective,
            Role::Candidate(_) => RoleKind::Candidate,
            Role::Leader(_) => RoleKind::Leader,
            Role::Follower(_) => RoleKind::Follower,
            Role::Resigned { .. } => RoleKind::Resigned,
        }
    }
}
