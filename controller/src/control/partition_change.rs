//! Partition leader election and ISR changes, after Kafka 3.9's `PartitionChangeBuilder` with
//! eligible leader replicas (KIP-966) disabled and no reassignment in flight, and the
//! validation of AlterPartition requests (`ReplicationControlManager.alterPartition`).
//!
//! The rules (KIP-631, KIP-841, KIP-704):
//! - a leader must be in the target ISR and *acceptable* (registered, unfenced, not in
//!   controlled shutdown; the caller's predicate decides);
//! - an online election keeps the current leader if it is still valid, else takes the first
//!   valid replica in replica order; a preferred election tries the first replica first;
//! - with no valid replica the partition goes offline (leader -1), unless unclean election is
//!   allowed: then the first acceptable replica leads, the ISR becomes just that replica and the
//!   leader recovery state becomes RECOVERING (KIP-704);
//! - the ISR is never written empty: removing its last member leaves the ISR as it was (the
//!   partition goes leaderless, and the old member can lead again once it is back).

use super::errors::ErrorCode;
use crate::metadata::{BrokerEpoch, LeaderEpoch, PartitionEpoch};
use crate::raft::NodeId;

/// The leader id of a partition without a leader.
pub const NO_LEADER: NodeId = NodeId::NONE;

/// A partition's leader recovery state (KIP-704), as stored in partition records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaderRecoveryState {
    /// The leader's log is consistent with the ISR (0).
    Recovered,
    /// The leader was elected uncleanly and has not yet recovered (1).
    Recovering,
}

impl LeaderRecoveryState {
    /// The value in PartitionRecord / PartitionChangeRecord / AlterPartition.
    pub const fn value(self) -> i8 {
        match self {
            LeaderRecoveryState::Recovered => 0,
            LeaderRecoveryState::Recovering => 1,
        }
    }

    /// The state with this wire value; `None` for anything else (including the -1 "no
    /// change" marker of change records).
    pub const fn from_value(value: i8) -> Option<LeaderRecoveryState> {
        match value {
            0 => Some(LeaderRecoveryState::Recovered),
            1 => Some(LeaderRecoveryState::Recovering),
            _ => None,
        }
    }
}

/// The part of a partition's registration that elections and ISR changes read.
///
/// Invariants (kept by the controller, assumed here): `isr` is a subset of `replicas` without
/// duplicates; `leader` is [`NO_LEADER`] or a member of `isr`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionState {
    /// All replicas, preferred leader first.
    pub replicas: Vec<NodeId>,
    /// The in-sync replicas.
    pub isr: Vec<NodeId>,
    /// The leader, or [`NO_LEADER`].
    pub leader: NodeId,
    /// Bumped on every leader change.
    pub leader_epoch: LeaderEpoch,
    /// Bumped on every change of the partition.
    pub partition_epoch: PartitionEpoch,
    /// The [`LeaderRecoveryState`] value.
    pub leader_recovery_state: i8,
}

/// What a PartitionChangeRecord would change; `None` fields stay as they are.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PartitionChange {
    /// The new leader ([`NO_LEADER`] to go offline).
    pub leader: Option<NodeId>,
    /// The new ISR.
    pub isr: Option<Vec<NodeId>>,
    /// The new leader recovery state value.
    pub leader_recovery_state: Option<i8>,
}

impl PartitionState {
    /// The partition after `change`, the way replaying the change record updates it: a new
    /// leader bumps the leader epoch; any change bumps the partition epoch (both wrapping, as
    /// replay does).
    pub fn apply(&self, change: &PartitionChange) -> PartitionState {
        let mut next = self.clone();
        if let Some(leader) = change.leader {
            next.leader = leader;
            next.leader_epoch = self.leader_epoch.next();
        }
        if let Some(isr) = &change.isr {
            next.isr = isr.clone();
        }
        if let Some(state) = change.leader_recovery_state {
            next.leader_recovery_state = state;
        }
        if *change != PartitionChange::default() {
            next.partition_epoch = self.partition_epoch.next();
        }
        next
    }
}

/// How to choose a leader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Election {
    /// The first replica if it is valid, else as [`Election::Online`].
    Preferred,
    /// Keep the current leader if valid, else the first valid replica; offline if none.
    Online,
    /// As [`Election::Online`], but with no valid replica take the first acceptable replica
    /// even outside the ISR (may lose data).
    Unclean,
}

/// Computes the change that moves `partition` to `target_isr` (and `target_recovery_state`, if
/// given) and elects a leader by `election`, or `None` if nothing would change.
///
/// `is_acceptable(broker)` says whether a broker may lead: registered, unfenced, not in
/// controlled shutdown, with its log directory online.
pub fn build_change(
    partition: &PartitionState,
    target_isr: &[NodeId],
    target_recovery_state: Option<i8>,
    election: Election,
    is_acceptable: impl Fn(NodeId) -> bool,
) -> Option<PartitionChange> {
    let is_valid = |replica: NodeId| target_isr.contains(&replica) && is_acceptable(replica);
    let mut change = PartitionChange::default();

    let (leader, unclean) = match election {
        Election::Preferred => {
            let preferred = partition.replicas.first().copied();
            match preferred {
                Some(p) if is_valid(p) => (p, false),
                _ if is_valid(partition.leader) => (partition.leader, false),
                _ => (
                    partition
                        .replicas
                        .iter()
                        .skip(1)
                        .copied()
                        .find(|r| is_valid(*r))
                        .unwrap_or(NodeId(NO_LEADER.into())),
                    false,
                ),
            }
        }
        Election::Online | Election::Unclean => {
            if is_valid(partition.leader) {
                (partition.leader, false)
            } else if let Some(r) = partition.replicas.iter().copied().find(|r| is_valid(*r)) {
                (r, false)
            } else if election == Election::Unclean {
                match partition
                    .replicas
                    .iter()
                    .copied()
                    .find(|r| is_acceptable(*r))
                {
                    Some(r) => (r, true),
                    None => (NO_LEADER, false),
                }
            } else {
                (NO_LEADER, false)
            }
        }
    };

    if leader != partition.leader {
        change.leader = Some(leader);
        if unclean {
            change.isr = Some(vec![leader]);
            if partition.leader_recovery_state != LeaderRecoveryState::Recovering.value() {
                change.leader_recovery_state = Some(LeaderRecoveryState::Recovering.value());
            }
        }
    }
    // Never write an empty ISR (ELR disabled): the last member stays.
    if change.isr.is_none() && !target_isr.is_empty() && target_isr != partition.isr.as_slice() {
        change.isr = Some(target_isr.to_vec());
    }
    if let Some(target) = target_recovery_state {
        if target != partition.leader_recovery_state {
            change.leader_recovery_state = Some(target);
        }
    }
    (change != PartitionChange::default()).then_some(change)
}

/// The change when `broker` is fenced (KIP-631) or enters controlled shutdown (KIP-841): it
/// leaves the ISR (unless it is the last member) and cannot lead. `unclean_allowed` is the
/// topic's effective `unclean.leader.election.enable`.
pub fn on_broker_removed(
    partition: &PartitionState,
    broker: NodeId,
    unclean_allowed: bool,
    is_active: impl Fn(NodeId) -> bool,
) -> Option<PartitionChange> {
    let target_isr: Vec<NodeId> = partition
        .isr
        .iter()
        .copied()
        .filter(|r| *r != broker)
        .collect();
    build_change(
        partition,
        &target_isr,
        None,
        online_or_unclean(unclean_allowed),
        |r| r != broker && is_active(r),
    )
}

/// The change when `broker` is unfenced: a leaderless partition elects a leader, counting
/// `broker` as acceptable even though the image still shows it fenced. Partitions that have a
/// leader are left alone, as Kafka only revisits leaderless ones.
pub fn on_broker_unfenced(
    partition: &PartitionState,
    broker: NodeId,
    unclean_allowed: bool,
    is_active: impl Fn(NodeId) -> bool,
) -> Option<PartitionChange> {
    if partition.leader != NodeId(NO_LEADER.into()) {
        return None;
    }
    build_change(
        partition,
        &partition.isr,
        None,
        online_or_unclean(unclean_allowed),
        |r| r == broker || is_active(r),
    )
}

/// Why an ElectLeaders request for one partition did nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ElectionError {
    /// The partition already has the leader asked for.
    #[error("Leader election not needed for topic partition.")]
    ElectionNotNeeded,
    /// A preferred election found no better leader.
    #[error("The preferred leader was not available.")]
    PreferredLeaderNotAvailable,
    /// An unclean election found no acceptable replica.
    #[error("Eligible topic partition leaders are not available.")]
    EligibleLeadersNotAvailable,
}

impl ElectionError {
    /// The Kafka error code for the partition's ElectLeaders result.
    pub fn error_code(self) -> ErrorCode {
        match self {
            ElectionError::ElectionNotNeeded => ErrorCode::ElectionNotNeeded,
            ElectionError::PreferredLeaderNotAvailable => ErrorCode::PreferredLeaderNotAvailable,
            ElectionError::EligibleLeadersNotAvailable => ErrorCode::EligibleLeadersNotAvailable,
        }
    }
}

/// ElectLeaders(PREFERRED) for one partition: not needed if the first replica already leads;
/// otherwise the change, or PREFERRED_LEADER_NOT_AVAILABLE if nothing would change.
pub fn elect_preferred(
    partition: &PartitionState,
    is_active: impl Fn(NodeId) -> bool,
) -> Result<PartitionChange, ElectionError> {
    if partition.replicas.first() == Some(&partition.leader) {
        return Err(ElectionError::ElectionNotNeeded);
    }
    build_change(
        partition,
        &partition.isr,
        None,
        Election::Preferred,
        is_active,
    )
    .ok_or(ElectionError::PreferredLeaderNotAvailable)
}

/// ElectLeaders(UNCLEAN) for one partition: not needed if it has a leader; otherwise the
/// change, or ELIGIBLE_LEADERS_NOT_AVAILABLE if no replica is acceptable.
pub fn elect_unclean(
    partition: &PartitionState,
    is_active: impl Fn(NodeId) -> bool,
) -> Result<PartitionChange, ElectionError> {
    if partition.leader != NodeId(NO_LEADER.into()) {
        return Err(ElectionError::ElectionNotNeeded);
    }
    build_change(
        partition,
        &partition.isr,
        None,
        Election::Unclean,
        is_active,
    )
    .ok_or(ElectionError::EligibleLeadersNotAvailable)
}

fn online_or_unclean(unclean_allowed: bool) -> Election {
    if unclean_allowed {
        Election::Unclean
    } else {
        Election::Online
    }
}

/// What the controller knows of a broker named in a new ISR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrokerStatus {
    /// No registration for this id.
    NotRegistered,
    /// Registered and in controlled shutdown.
    ShuttingDown,
    /// Registered and fenced.
    Fenced,
    /// Registered, unfenced, not shutting down, with this broker epoch.
    Active {
        /// The registered broker epoch.
        broker_epoch: BrokerEpoch,
    },
}

/// A member of an AlterPartition request's new ISR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IsrMember {
    /// The broker id.
    pub broker_id: NodeId,
    /// The broker epoch the leader saw (KIP-903), or -1 to skip the check (and in requests
    /// before version 3).
    pub broker_epoch: BrokerEpoch,
}

/// One partition of an AlterPartition request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlterPartitionData {
    /// The broker sending the request.
    pub broker_id: NodeId,
    /// The request's API version (error codes differ below version 2).
    pub request_version: i16,
    /// The leader epoch the sender holds.
    pub leader_epoch: LeaderEpoch,
    /// The partition epoch the sender holds.
    pub partition_epoch: PartitionEpoch,
    /// The proposed ISR.
    pub new_isr: Vec<IsrMember>,
    /// The proposed leader recovery state value.
    pub leader_recovery_state: i8,
}

/// Why an AlterPartition request for one partition is rejected, in the order Kafka checks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlterPartitionError {
    /// The sender's epochs are newer than ours: we are probably not the active controller.
    #[error("the request's leader or partition epoch is newer than the controller's")]
    NewerEpoch,
    /// The sender's leader epoch is older than the current one.
    #[error("the current leader epoch is {current}, not {requested}")]
    FencedLeaderEpoch {
        /// The controller's leader epoch.
        current: LeaderEpoch,
        /// The request's leader epoch.
        requested: LeaderEpoch,
    },
    /// The sender is not the partition's leader.
    #[error("the current leader is {0}")]
    NotLeader(NodeId),
    /// The sender's partition epoch is older than the current one.
    #[error("the current partition epoch is {current}, not {requested}")]
    InvalidUpdateVersion {
        /// The controller's partition epoch.
        current: PartitionEpoch,
        /// The request's partition epoch.
        requested: PartitionEpoch,
    },
    /// The new ISR has a duplicate, a negative id or a non-replica.
    #[error("the new ISR {0:?} is not a subset of the replicas")]
    IsrNotSubsetOfReplicas(Vec<NodeId>),
    /// The new ISR does not include the leader.
    #[error("the new ISR {0:?} does not include the leader")]
    IsrWithoutLeader(Vec<NodeId>),
    /// A recovering leader proposed more than itself as ISR.
    #[error("the ISR {0:?} has more than one replica while the leader is recovering")]
    RecoveringWithLargerIsr(Vec<NodeId>),
    /// The request moves the leader recovery state from RECOVERED back to RECOVERING.
    #[error("the leader recovery state cannot change from RECOVERED to RECOVERING")]
    RecoveredToRecovering,
    /// Some proposed ISR members may not join it (KIP-841, KIP-903).
    #[error("ineligible replicas in the new ISR: {}", describe_ineligible(.0))]
    IneligibleReplicas(Vec<(NodeId, String)>),
}

fn describe_ineligible(replicas: &[(NodeId, String)]) -> String {
    replicas
        .iter()
        .map(|(id, why)| format!("{id} ({why})"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl AlterPartitionError {
    /// The partition's error code in the response to a request of `request_version`.
    pub fn error_code(&self, request_version: i16) -> ErrorCode {
        match self {
            AlterPartitionError::NewerEpoch => ErrorCode::NotController,
            AlterPartitionError::FencedLeaderEpoch { .. } => ErrorCode::FencedLeaderEpoch,
            AlterPartitionError::InvalidUpdateVersion { .. } => ErrorCode::InvalidUpdateVersion,
            AlterPartitionError::NotLeader(_)
            | AlterPartitionError::IsrNotSubsetOfReplicas(_)
            | AlterPartitionError::IsrWithoutLeader(_)
            | AlterPartitionError::RecoveringWithLargerIsr(_)
            | AlterPartitionError::RecoveredToRecovering => ErrorCode::InvalidRequest,
            AlterPartitionError::IneligibleReplicas(_) if request_version > 1 => {
                ErrorCode::IneligibleReplica
            }
            AlterPartitionError::IneligibleReplicas(_) => ErrorCode::OperationNotAttempted,
        }
    }
}

/// Validates one partition of an AlterPartition request against the current state, in Kafka
/// 3.9's order: newer epochs (NOT_CONTROLLER), stale leader epoch (FENCED_LEADER_EPOCH),
/// sender not leader (INVALID_REQUEST), stale partition epoch (INVALID_UPDATE_VERSION), ISR not
/// a subset of the replicas, ISR without the leader, recovering leader with a larger ISR,
/// RECOVERED to RECOVERING (all INVALID_REQUEST), ineligible ISR members (INELIGIBLE_REPLICA,
/// or OPERATION_NOT_ATTEMPTED before version 2).
///
/// The sender's own broker epoch (STALE_BROKER_EPOCH) and unknown topics or partitions are
/// checked before this by the caller.
pub fn validate_alter_partition(
    partition: &PartitionState,
    request: &AlterPartitionData,
    broker_status: impl Fn(NodeId) -> BrokerStatus,
) -> Result<(), AlterPartitionError> {
    if request.leader_epoch > partition.leader_epoch
        || request.partition_epoch > partition.partition_epoch
    {
        return Err(AlterPartitionError::NewerEpoch);
    }
    if request.leader_epoch < partition.leader_epoch {
        return Err(AlterPartitionError::FencedLeaderEpoch {
            current: partition.leader_epoch,
            requested: request.leader_epoch,
        });
    }
    if request.broker_id != partition.leader {
        return Err(AlterPartitionError::NotLeader(partition.leader));
    }
    if request.partition_epoch < partition.partition_epoch {
        return Err(AlterPartitionError::InvalidUpdateVersion {
            current: partition.partition_epoch,
            requested: request.partition_epoch,
        });
    }
    let new_isr: Vec<NodeId> = request.new_isr.iter().map(|m| m.broker_id).collect();
    if !is_valid_isr(&partition.replicas, &new_isr) {
        return Err(AlterPartitionError::IsrNotSubsetOfReplicas(new_isr));
    }
    if !new_isr.contains(&partition.leader) {
        return Err(AlterPartitionError::IsrWithoutLeader(new_isr));
    }
    let recovering = LeaderRecoveryState::Recovering.value();
    if request.leader_recovery_state == recovering && new_isr.len() > 1 {
        return Err(AlterPartitionError::RecoveringWithLargerIsr(new_isr));
    }
    if partition.leader_recovery_state == LeaderRecoveryState::Recovered.value()
        && request.leader_recovery_state == recovering
    {
        return Err(AlterPartitionError::RecoveredToRecovering);
    }
    let ineligible: Vec<(NodeId, String)> = request
        .new_isr
        .iter()
        .filter_map(|member| {
            let why = match broker_status(member.broker_id) {
                BrokerStatus::NotRegistered => "not registered".to_owned(),
                BrokerStatus::ShuttingDown => "shutting down".to_owned(),
                BrokerStatus::Fenced => "fenced".to_owned(),
                BrokerStatus::Active { broker_epoch }
                    if member.broker_epoch != BrokerEpoch::NONE
                        && member.broker_epoch != broker_epoch =>
                {
                    format!(
                        "broker epoch mismatch: requested={} VS expected={}",
                        member.broker_epoch, broker_epoch
                    )
                }
                BrokerStatus::Active { .. } => return None,
            };
            Some((member.broker_id, why))
        })
        .collect();
    if !ineligible.is_empty() {
        return Err(AlterPartitionError::IneligibleReplicas(ineligible));
    }
    Ok(())
}

/// Whether `isr` has no duplicates, no negative ids, and only members of `replicas`. An empty
/// ISR passes (the leader check rejects it next).
fn is_valid_isr(replicas: &[NodeId], isr: &[NodeId]) -> bool {
    isr.iter().enumerate().all(|(i, member)| {
        *member >= NodeId(0) && replicas.contains(member) && !isr[..i].contains(member)
    })
}

/// The outcome of an accepted AlterPartition for one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlterPartitionOutcome {
    /// The change to write, if any.
    pub change: Option<PartitionChange>,
    /// The partition after the change, which the response reports.
    pub partition: PartitionState,
    /// Set when the change moved leadership away from the sender: Kafka still writes the
    /// change but answers NEW_LEADER_ELECTED (FENCED_LEADER_EPOCH before version 2).
    pub error: Option<ErrorCode>,
}

/// Validates and applies one partition of an AlterPartition request: the ISR becomes the
/// requested one and the leader is re-elected online (or unclean if allowed), keeping the
/// sender when it is still acceptable.
///
/// `is_acceptable_leader` is the election's predicate: in Kafka, an active broker (see
/// [`BrokerStatus::Active`]) whose log directory for this partition is online.
pub fn alter_partition(
    partition: &PartitionState,
    request: &AlterPartitionData,
    unclean_allowed: bool,
    broker_status: impl Fn(NodeId) -> BrokerStatus,
    is_acceptable_leader: impl Fn(NodeId) -> bool,
) -> Result<AlterPartitionOutcome, AlterPartitionError> {
    validate_alter_partition(partition, request, &broker_status)?;
    let target_isr: Vec<NodeId> = request.new_isr.iter().map(|m| m.broker_id).collect();
    let change = build_change(
        partition,
        &target_isr,
        Some(request.leader_recovery_state),
        online_or_unclean(unclean_allowed),
        is_acceptable_leader,
    );
    let next = change
        .as_ref()
        .map_or_else(|| partition.clone(), |c| partition.apply(c));
    let error = match &change {
        Some(PartitionChange {
            leader: Some(leader),
            ..
        }) if *leader != request.broker_id => Some(if request.request_version > 1 {
            ErrorCode::NewLeaderElected
        } else {
            ErrorCode::FencedLeaderEpoch
        }),
        _ => None,
    };
    Ok(AlterPartitionOutcome {
        change,
        partition: next,
        error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::node_ids;

    const RECOVERED: i8 = 0;
    const RECOVERING: i8 = 1;

    fn partition(replicas: &[i32], isr: &[i32], leader: i32) -> PartitionState {
        PartitionState {
            replicas: node_ids(replicas),
            isr: node_ids(isr),
            leader: NodeId(leader),
            leader_epoch: LeaderEpoch(5),
            partition_epoch: PartitionEpoch(9),
            leader_recovery_state: RECOVERED,
        }
    }

    fn active_except(down: &'static [i32]) -> impl Fn(NodeId) -> bool {
        move |b| !down.contains(&b.get())
    }

    fn change(leader: Option<i32>, isr: Option<&[i32]>, lrs: Option<i8>) -> PartitionChange {
        PartitionChange {
            leader: leader.map(NodeId),
            isr: isr.map(node_ids),
            leader_recovery_state: lrs,
        }
    }

    // KIP-631: fencing a follower shrinks the ISR; the leader stays.
    #[test]
    fn fencing_a_follower_removes_it_from_the_isr() {
        let p = partition(&[1, 2, 3], &[1, 2, 3], 1);
        let c = on_broker_removed(&p, NodeId(2), false, active_except(&[2])).unwrap();
        assert_eq!(c, change(None, Some(&[1, 3]), None));
        let next = p.apply(&c);
        assert_eq!(
            next.leader_epoch,
            LeaderEpoch(5),
            "no leader change, no leader epoch bump"
        );
        assert_eq!(next.partition_epoch, PartitionEpoch(10));
    }

    // KIP-631: fencing the leader moves leadership to the first ISR member in replica order.
    #[test]
    fn fencing_the_leader_elects_the_next_isr_member_in_replica_order() {
        let p = partition(&[1, 2, 3], &[3, 2, 1], 1);
        let c = on_broker_removed(&p, NodeId(1), false, active_except(&[1])).unwrap();
        assert_eq!(c, change(Some(2), Some(&[3, 2]), None));
        let next = p.apply(&c);
        assert_eq!(
            (next.leader, next.leader_epoch, next.partition_epoch),
            (NodeId(2), LeaderEpoch(6), PartitionEpoch(10))
        );
    }

    // Unacceptable ISR members (fenced elsewhere) are skipped.
    #[test]
    fn election_skips_unacceptable_isr_members() {
        let p = partition(&[1, 2, 3], &[1, 2, 3], 1);
        let c = on_broker_removed(&p, NodeId(1), false, active_except(&[1, 2])).unwrap();
        assert_eq!(c, change(Some(3), Some(&[2, 3]), None));
    }

    // The ISR is never written empty: the last member stays and the partition goes offline.
    #[test]
    fn fencing_the_last_isr_member_keeps_it_and_goes_offline() {
        let p = partition(&[1, 2], &[1], 1);
        let c = on_broker_removed(&p, NodeId(1), false, active_except(&[1])).unwrap();
        assert_eq!(c, change(Some(NO_LEADER.into()), None, None));
        let offline = p.apply(&c);
        assert_eq!(offline.isr, vec![NodeId(1)]);
        assert_eq!(offline.leader, NO_LEADER);

        // When the last member comes back it leads again, cleanly (KIP-631 unfencing).
        let c = on_broker_unfenced(&offline, NodeId(1), false, active_except(&[1])).unwrap();
        assert_eq!(c, change(Some(1), None, None));
        // Another replica coming back cannot lead: it is not in the ISR.
        assert_eq!(
            on_broker_unfenced(&offline, NodeId(2), false, active_except(&[1])),
            None
        );
    }

    // KIP-704: with unclean election allowed, the first acceptable replica leads, the ISR is
    // just that replica and the state is RECOVERING.
    #[test]
    fn unclean_election_picks_first_live_replica_and_marks_recovering() {
        let p = partition(&[1, 2, 3], &[1], 1);
        let c = on_broker_removed(&p, NodeId(1), true, active_except(&[1])).unwrap();
        assert_eq!(c, change(Some(2), Some(&[2]), Some(RECOVERING)));
        // Already RECOVERING: the state is not rewritten.
        let mut p2 = p.clone();
        p2.leader_recovery_state = RECOVERING;
        let c = on_broker_removed(&p2, NodeId(1), true, active_except(&[1])).unwrap();
        assert_eq!(c, change(Some(2), Some(&[2]), None));
        // Nobody acceptable: offline even with unclean allowed.
        let c = on_broker_removed(&p, NodeId(1), true, active_except(&[1, 2, 3])).unwrap();
        assert_eq!(c, change(Some(NO_LEADER.into()), None, None));
    }

    // Unclean election never picks a fenced replica, and prefers a clean one when possible.
    #[test]
    fn unclean_allowed_still_prefers_clean_leaders() {
        let p = partition(&[1, 2, 3], &[1, 3], 1);
        let c = on_broker_removed(&p, NodeId(1), true, active_except(&[1])).unwrap();
        assert_eq!(c, change(Some(3), Some(&[3]), None));
    }

    // KIP-841: a broker in controlled shutdown is handled like a fenced one.
    #[test]
    fn controlled_shutdown_moves_leadership_away() {
        let p = partition(&[4, 5], &[4, 5], 4);
        let c = on_broker_removed(&p, NodeId(4), false, active_except(&[4])).unwrap();
        assert_eq!(c, change(Some(5), Some(&[5]), None));
    }

    #[test]
    fn removing_a_broker_outside_the_partition_changes_nothing() {
        let p = partition(&[1, 2], &[1, 2], 1);
        assert_eq!(
            on_broker_removed(&p, NodeId(9), false, active_except(&[9])),
            None
        );
        assert_eq!(
            on_broker_unfenced(&p, NodeId(2), false, active_except(&[])),
            None
        );
    }

    #[test]
    fn preferred_election() {
        // Preferred replica in ISR and acceptable: it takes over.
        let p = partition(&[1, 2, 3], &[1, 2, 3], 2);
        assert_eq!(
            elect_preferred(&p, active_except(&[])),
            Ok(change(Some(1), None, None))
        );
        // Already leading: not needed.
        let p = partition(&[1, 2, 3], &[1, 2, 3], 1);
        assert_eq!(
            elect_preferred(&p, active_except(&[])),
            Err(ElectionError::ElectionNotNeeded)
        );
        // Preferred not in ISR: the current leader stays, so nothing to do.
        let p = partition(&[1, 2, 3], &[2, 3], 2);
        let err = elect_preferred(&p, active_except(&[])).unwrap_err();
        assert_eq!(err, ElectionError::PreferredLeaderNotAvailable);
        assert_eq!(err.error_code().code(), 80);
        // Preferred fenced, current leader gone: the next valid replica.
        let p = partition(&[1, 2, 3], &[1, 3], NO_LEADER.into());
        assert_eq!(
            elect_preferred(&p, active_except(&[1])),
            Ok(change(Some(3), None, None))
        );
    }

    #[test]
    fn unclean_elect_leaders() {
        let p = partition(&[1, 2], &[1], NO_LEADER.into());
        assert_eq!(
            elect_unclean(&p, active_except(&[1])),
            Ok(change(Some(2), Some(&[2]), Some(RECOVERING)))
        );
        assert_eq!(
            elect_unclean(&p, active_except(&[1, 2])),
            Err(ElectionError::EligibleLeadersNotAvailable)
        );
        let led = partition(&[1, 2], &[1], 1);
        assert_eq!(
            elect_unclean(&led, active_except(&[])),
            Err(ElectionError::ElectionNotNeeded)
        );
    }

    fn request(broker_id: i32, isr: &[i32]) -> AlterPartitionData {
        AlterPartitionData {
            broker_id: NodeId(broker_id),
            request_version: 3,
            leader_epoch: LeaderEpoch(5),
            partition_epoch: PartitionEpoch(9),
            new_isr: isr
                .iter()
                .map(|b| IsrMember {
                    broker_id: NodeId(*b),
                    broker_epoch: BrokerEpoch::NONE,
                })
                .collect(),
            leader_recovery_state: RECOVERED,
        }
    }

    fn all_active(_: NodeId) -> BrokerStatus {
        BrokerStatus::Active {
            broker_epoch: BrokerEpoch(100),
        }
    }

    #[test]
    fn alter_partition_expands_isr() {
        let p = partition(&[1, 2, 3], &[1, 2], 1);
        let out =
            alter_partition(&p, &request(1, &[1, 2, 3]), false, all_active, |_| true).unwrap();
        assert_eq!(out.change, Some(change(None, Some(&[1, 2, 3]), None)));
        assert_eq!(out.partition.isr, vec![NodeId(1), NodeId(2), NodeId(3)]);
        assert_eq!(out.partition.partition_epoch, PartitionEpoch(10));
        assert_eq!(out.error, None);
        // The same ISR again: nothing to write.
        let out = alter_partition(&p, &request(1, &[1, 2]), false, all_active, |_| true).unwrap();
        assert_eq!(out.change, None);
        assert_eq!(out.partition, p);
    }

    #[test]
    fn alter_partition_validation_order_and_codes() {
        let p = partition(&[1, 2, 3], &[1, 2], 1);
        let code = |r: &AlterPartitionData| {
            validate_alter_partition(&p, r, all_active)
                .unwrap_err()
                .error_code(r.request_version)
        };
        let mut r = request(1, &[1, 2]);
        r.leader_epoch = LeaderEpoch(6);
        assert_eq!(code(&r), ErrorCode::NotController);
        let mut r = request(1, &[1, 2]);
        r.partition_epoch = PartitionEpoch(10);
        assert_eq!(code(&r), ErrorCode::NotController);
        // A stale leader epoch wins over a wrong sender.
        let mut r = request(2, &[1, 2]);
        r.leader_epoch = LeaderEpoch(4);
        assert_eq!(code(&r), ErrorCode::FencedLeaderEpoch);
        assert_eq!(code(&request(2, &[1, 2])), ErrorCode::InvalidRequest);
        let mut r = request(1, &[1, 2]);
        r.partition_epoch = PartitionEpoch(8);
        assert_eq!(code(&r), ErrorCode::InvalidUpdateVersion);
        assert_eq!(code(&request(1, &[1, 4])), ErrorCode::InvalidRequest);
        assert_eq!(code(&request(1, &[1, 1])), ErrorCode::InvalidRequest);
        assert_eq!(code(&request(1, &[2, 3])), ErrorCode::InvalidRequest);
        assert_eq!(code(&request(1, &[])), ErrorCode::InvalidRequest);
        let mut r = request(1, &[1, 2]);
        r.leader_recovery_state = RECOVERING;
        assert!(matches!(
            validate_alter_partition(&p, &r, all_active),
            Err(AlterPartitionError::RecoveringWithLargerIsr(_))
        ));
        let mut r = request(1, &[1]);
        r.leader_recovery_state = RECOVERING;
        assert_eq!(
            validate_alter_partition(&p, &r, all_active),
            Err(AlterPartitionError::RecoveredToRecovering)
        );
    }

    // KIP-841 / KIP-903: fenced, shutting-down, unknown or re-registered brokers may not join.
    #[test]
    fn alter_partition_rejects_ineligible_replicas() {
        let p = partition(&[1, 2, 3, 4, 5], &[1], 1);
        let status = |b: NodeId| match b.get() {
            2 => BrokerStatus::Fenced,
            3 => BrokerStatus::ShuttingDown,
            4 => BrokerStatus::NotRegistered,
            _ => BrokerStatus::Active {
                broker_epoch: BrokerEpoch(100),
            },
        };
        let mut r = request(1, &[1, 2, 3, 4, 5]);
        r.new_isr[4].broker_epoch = BrokerEpoch(99);
        let err = validate_alter_partition(&p, &r, status).unwrap_err();
        assert_eq!(
            err,
            AlterPartitionError::IneligibleReplicas(vec![
                (NodeId(2), "fenced".to_owned()),
                (NodeId(3), "shutting down".to_owned()),
                (NodeId(4), "not registered".to_owned()),
                (
                    NodeId(5),
                    "broker epoch mismatch: requested=99 VS expected=100".to_owned()
                ),
            ])
        );
        assert_eq!(err.error_code(3), ErrorCode::IneligibleReplica);
        assert_eq!(err.error_code(1), ErrorCode::OperationNotAttempted);
        // -1 skips the epoch check.
        let r = request(1, &[1, 5]);
        assert!(validate_alter_partition(&p, &r, status).is_ok());
    }

    // KIP-704: a recovering leader reports RECOVERED once its ISR may grow.
    #[test]
    fn alter_partition_completes_recovery() {
        let mut p = partition(&[1, 2], &[1], 1);
        p.leader_recovery_state = RECOVERING;
        let out = alter_partition(&p, &request(1, &[1]), false, all_active, |_| true).unwrap();
        assert_eq!(out.change, Some(change(None, None, Some(RECOVERED))));
        assert_eq!(out.partition.leader_recovery_state, RECOVERED);
    }

    // A sender that is no longer acceptable as leader (its log directory went offline, say)
    // loses leadership: the change is written and the sender told NEW_LEADER_ELECTED
    // (FENCED_LEADER_EPOCH for versions 0-1).
    #[test]
    fn alter_partition_reports_new_leader() {
        let p = partition(&[1, 2], &[1, 2], 1);
        let out = alter_partition(&p, &request(1, &[1, 2]), false, all_active, |b| {
            b != NodeId(1)
        })
        .unwrap();
        assert_eq!(out.change, Some(change(Some(2), None, None)));
        assert_eq!(out.error, Some(ErrorCode::NewLeaderElected));
        assert_eq!(
            (out.partition.leader, out.partition.leader_epoch),
            (NodeId(2), LeaderEpoch(6))
        );
        let mut r = request(1, &[1, 2]);
        r.request_version = 1;
        let out = alter_partition(&p, &r, false, all_active, |b| b != NodeId(1)).unwrap();
        assert_eq!(out.error, Some(ErrorCode::FencedLeaderEpoch));
        // A shutting-down member cannot even be proposed (KIP-841).
        let status = |b: NodeId| {
            if b == NodeId(2) {
                BrokerStatus::ShuttingDown
            } else {
                BrokerStatus::Active {
                    broker_epoch: BrokerEpoch(7),
                }
            }
        };
        assert!(matches!(
            alter_partition(&p, &request(1, &[1, 2]), false, status, |_| true),
            Err(AlterPartitionError::IneligibleReplicas(_))
        ));
    }

    #[test]
    fn recovery_state_values() {
        assert_eq!(LeaderRecoveryState::Recovered.value(), 0);
        assert_eq!(LeaderRecoveryState::Recovering.value(), 1);
        assert_eq!(
            LeaderRecoveryState::from_value(1),
            Some(LeaderRecoveryState::Recovering)
        );
        assert_eq!(LeaderRecoveryState::from_value(-1), None);
    }
}
