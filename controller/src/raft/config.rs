//! Timeouts and limits of the consensus core, with Kafka's defaults (`QuorumConfig`).

use super::NodeId;

/// What the core needs to know; every queue and message is bounded by a value here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaftConfig {
    /// This node.
    pub node_id: NodeId,
    /// Election timeout T; the actual timeout is random in [T, 2T)
    /// (`controller.quorum.election.timeout.ms`).
    pub election_timeout_ms: u64,
    /// A follower without a successful fetch for this long starts an election (through
    /// pre-vote); a leader without fetches from a majority for 1.5 × this resigns
    /// (`controller.quorum.fetch.timeout.ms`).
    pub fetch_timeout_ms: u64,
    /// Cap of the exponential backoff after a failed election
    /// (`controller.quorum.election.backoff.max.ms`).
    pub election_backoff_max_ms: u64,
    /// A request without an answer for this long is sent again
    /// (`controller.quorum.request.timeout.ms`).
    pub request_timeout_ms: u64,
    /// Base of the election backoff and of resends (`controller.quorum.retry.backoff.ms`).
    pub retry_backoff_ms: u64,
    /// Longest a leader holds a Fetch with nothing new (Kafka's `MAX_FETCH_WAIT_MS`, 500).
    pub fetch_max_wait_ms: u64,
    /// Largest records payload of one Fetch response.
    pub fetch_bytes_max: usize,
    /// Largest chunk of one FetchSnapshot response.
    pub snapshot_chunk_bytes_max: usize,
    /// Most records in one log batch (Kafka's `MAX_RECORDS_PER_BATCH`, 10,000), which is also the
    /// largest proposal.
    pub batch_records_max: usize,
    /// Most bytes in one log batch (Kafka's `MAX_BATCH_SIZE_BYTES`, 8 MiB).
    pub batch_bytes_max: usize,
    /// Most bytes of proposals accepted but not yet committed; beyond it `propose` pushes back.
    pub pending_bytes_max: usize,
    /// An observer flushes its copy of the log at most this often. Its durability counts for
    /// nothing in the quorum: a crash loses at most this much, which it fetches again. (Voters
    /// flush every append: their fetch offsets are promises.)
    pub observer_flush_interval_ms: u64,
}

impl RaftConfig {
    /// Kafka's defaults for `node_id`.
    pub fn new(node_id: NodeId) -> Self {
        RaftConfig {
            node_id,
            election_timeout_ms: 1000,
            fetch_timeout_ms: 2000,
            election_backoff_max_ms: 1000,
            request_timeout_ms: 2000,
            retry_backoff_ms: 20,
            fetch_max_wait_ms: 500,
            fetch_bytes_max: 1024 * 1024,
            snapshot_chunk_bytes_max: 1024 * 1024,
            batch_records_max: 10_000,
            batch_bytes_max: 8 * 1024 * 1024,
            pending_bytes_max: 64 * 1024 * 1024,
            observer_flush_interval_ms: 1000,
        }
    }

    /// Check-quorum window of a leader: 1.5 × the fetch timeout.
    pub fn check_quorum_timeout_ms(&self) -> u64 {
        self.fetch_timeout_ms + self.fetch_timeout_ms / 2
    }

    /// How long a Fetch may go unanswered before it is sent again: the request timeout plus
    /// the time the leader may hold it (long-poll). Sent again any sooner, it would only
    /// replace the one the leader holds.
    pub fn fetch_request_timeout_ms(&self) -> u64 {
        self.request_timeout_ms
            .saturating_add(self.fetch_max_wait_ms)
    }
}
