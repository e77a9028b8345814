//! [`PartitionRegistration`]: one partition's state in the image, built from a
//! `PartitionRecord` and changed by `PartitionChangeRecord`s.

use uuid::Uuid;

use super::ids::{node_ids, raw_node_ids, LeaderEpoch, PartitionEpoch};
use super::record::{
    PartitionChangeRecord, PartitionRecord, NO_LEADER_CHANGE, NO_LEADER_RECOVERY_STATE_CHANGE,
};
use super::replay_error::ReplayError;
use crate::raft::NodeId;

/// The leader `-1`: the partition has no leader (it is offline).
pub const NO_LEADER: NodeId = NodeId::NONE;

/// Kafka's `DirectoryId.MIGRATING` (the all-zero uuid): a replica's directory is not known
/// yet, as for partitions created before KIP-858.
pub const DIRECTORY_MIGRATING: Uuid = Uuid::nil();

/// Kafka's `defaultToMigrating`: a directory list that is empty or all MIGRATING becomes one
/// MIGRATING entry per replica.
fn default_to_migrating(directories: Vec<Uuid>, replica_count: usize) -> Vec<Uuid> {
    if directories.iter().all(|d| *d == DIRECTORY_MIGRATING) {
        vec![DIRECTORY_MIGRATING; replica_count]
    } else {
        directories
    }
}

/// Rejects assigned directories whose count differs from the replica count.
fn check_directories(directories: &[Uuid], replicas: &[NodeId]) -> Result<(), ReplayError> {
    if directories.iter().any(|d| *d != DIRECTORY_MIGRATING) && directories.len() != replicas.len()
    {
        return Err(ReplayError::InvalidReplicaDirectories {
            replicas: replicas.len(),
            directories: directories.len(),
        });
    }
    Ok(())
}

/// Whether the leader's log is known complete (KIP-704).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LeaderRecoveryState {
    /// The leader is a member of the ISR with a complete log (code 0).
    #[default]
    Recovered,
    /// The leader was elected uncleanly and is recovering (code 1).
    Recovering,
}

impl LeaderRecoveryState {
    /// Kafka's code.
    pub fn code(self) -> i8 {
        match self {
            LeaderRecoveryState::Recovered => 0,
            LeaderRecoveryState::Recovering => 1,
        }
    }

    /// The state for a code; anything but 0 and 1 is an error.
    pub fn from_code(code: i8) -> Result<Self, ReplayError> {
        match code {
            0 => Ok(LeaderRecoveryState::Recovered),
            1 => Ok(LeaderRecoveryState::Recovering),
            other => Err(ReplayError::InvalidLeaderRecoveryState(other)),
        }
    }
}

/// One partition's replica assignment, ISR, leadership and epochs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PartitionRegistration {
    /// Replica broker ids, preferred leader first.
    pub replicas: Vec<NodeId>,
    /// Log directory per replica (KIP-858), [`DIRECTORY_MIGRATING`] where unknown. Invariant:
    /// one entry per replica.
    pub directories: Vec<Uuid>,
    /// In-sync replicas.
    pub isr: Vec<NodeId>,
    /// Replicas a reassignment is removing.
    pub removing_replicas: Vec<NodeId>,
    /// Replicas a reassignment is adding.
    pub adding_replicas: Vec<NodeId>,
    /// Leader broker id, [`NO_LEADER`] if none.
    pub leader: NodeId,
    /// KIP-704 recovery state of the leader.
    pub leader_recovery_state: LeaderRecoveryState,
    /// Bumped on every leader change.
    pub leader_epoch: LeaderEpoch,
    /// Bumped on every change of any kind.
    pub partition_epoch: PartitionEpoch,
    /// Eligible leader replicas (KIP-966).
    pub elr: Vec<NodeId>,
    /// Last known ELR (KIP-966).
    pub last_known_elr: Vec<NodeId>,
}

impl PartitionRegistration {
    /// The registration a `PartitionRecord` describes. Missing directories become
    /// [`DIRECTORY_MIGRATING`], as in Kafka.
    pub fn from_record(r: &PartitionRecord) -> Result<Self, ReplayError> {
        if !r.directories.is_empty() && r.directories.len() != r.replicas.len() {
            return Err(ReplayError::InvalidReplicaDirectories {
                replicas: r.replicas.len(),
                directories: r.directories.len(),
            });
        }
        Ok(PartitionRegistration {
            replicas: node_ids(&r.replicas),
            directories: default_to_migrating(r.directories.clone(), r.replicas.len()),
            isr: node_ids(&r.isr),
            removing_replicas: node_ids(&r.removing_replicas),
            adding_replicas: node_ids(&r.adding_replicas),
            leader: NodeId(r.leader),
            leader_recovery_state: LeaderRecoveryState::from_code(r.leader_recovery_state)?,
            leader_epoch: LeaderEpoch(r.leader_epoch),
            partition_epoch: PartitionEpoch(r.partition_epoch),
            elr: node_ids(r.eligible_leader_replicas.as_deref().unwrap_or_default()),
            last_known_elr: node_ids(r.last_known_elr.as_deref().unwrap_or_default()),
        })
    }

    /// The `PartitionRecord` that recreates this registration (snapshot form).
    pub fn to_record(&self, topic_id: Uuid, partition_id: i32) -> PartitionRecord {
        let non_empty = |v: &Vec<NodeId>| (!v.is_empty()).then(|| raw_node_ids(v));
        PartitionRecord {
            partition_id,
            topic_id,
            replicas: raw_node_ids(&self.replicas),
            isr: raw_node_ids(&self.isr),
            removing_replicas: raw_node_ids(&self.removing_replicas),
            adding_replicas: raw_node_ids(&self.adding_replicas),
            leader: self.leader.get(),
            leader_recovery_state: self.leader_recovery_state.code(),
            leader_epoch: self.leader_epoch.get(),
            partition_epoch: self.partition_epoch.get(),
            directories: self.directories.clone(),
            eligible_leader_replicas: non_empty(&self.elr),
            last_known_elr: non_empty(&self.last_known_elr),
        }
    }

    /// The registration after `change`, following Kafka's `PartitionRegistration.merge`: every
    /// list the record carries replaces the current one and every absent (null) list keeps it;
    /// a leader of -2 keeps the leader and its epoch, any other value (including -1, no leader)
    /// becomes the leader and bumps the leader epoch by one; a recovery state of -1 keeps it;
    /// the partition epoch goes up by one for every change record, whatever it carries.
    /// Directories that are empty or all MIGRATING are widened to the new replica count.
    /// Stricter than Kafka: assigned directories must number as many as the new replicas
    /// (Kafka checks this only when the record also carries replicas), so that every image
    /// can be written as a snapshot that replays.
    pub fn merge(&self, change: &PartitionChangeRecord) -> Result<Self, ReplayError> {
        let pick = |new: &Option<Vec<i32>>, old: &Vec<NodeId>| {
            new.as_deref().map_or_else(|| old.clone(), node_ids)
        };
        let (leader, leader_epoch) = if change.leader == NO_LEADER_CHANGE {
            (self.leader, self.leader_epoch)
        } else {
            (NodeId(change.leader), self.leader_epoch.next())
        };
        let leader_recovery_state =
            if change.leader_recovery_state == NO_LEADER_RECOVERY_STATE_CHANGE {
                self.leader_recovery_state
            } else {
                LeaderRecoveryState::from_code(change.leader_recovery_state)?
            };
        let replicas = pick(&change.replicas, &self.replicas);
        let directories = default_to_migrating(
            change
                .directories
                .clone()
                .unwrap_or_else(|| self.directories.clone()),
            replicas.len(),
        );
        check_directories(&directories, &replicas)?;
        Ok(PartitionRegistration {
            replicas,
            directories,
            isr: pick(&change.isr, &self.isr),
            removing_replicas: pick(&change.removing_replicas, &self.removing_replicas),
            adding_replicas: pick(&change.adding_replicas, &self.adding_replicas),
            leader,
            leader_recovery_state,
            leader_epoch,
            partition_epoch: self.partition_epoch.next(),
            elr: pick(&change.eligible_leader_replicas, &self.elr),
            last_known_elr: pick(&change.last_known_elr, &self.last_known_elr),
        })
    }

    /// Whether the partition has a leader.
    pub fn has_leader(&self) -> bool {
        self.leader != NO_LEADER
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // KIP-858: directories default to MIGRATING, one per replica, and follow replica changes.
    #[test]
    fn directories_default_to_migrating_and_must_match_replicas() {
        let mut c = PartitionChangeRecord::new(Uuid::nil(), 0);
        c.replicas = Some(vec![1, 2, 3, 4]);
        assert_eq!(base().merge(&c).unwrap().directories.len(), 4);
        let d = Uuid::from_u128(7);
        c.directories = Some(vec![d, d, d, d]);
        let p = base().merge(&c).unwrap();
        assert_eq!(p.directories, vec![d; 4]);
        let mut shrink = PartitionChangeRecord::new(Uuid::nil(), 0);
        shrink.replicas = Some(vec![1]);
        assert_eq!(
            p.merge(&shrink),
            Err(ReplayError::InvalidReplicaDirectories {
                replicas: 1,
                directories: 4
            })
        );
        let rec = base().to_record(Uuid::nil(), 0);
        let mut rec0 = rec.clone();
        rec0.directories.clear();
        assert_eq!(PartitionRegistration::from_record(&rec0).unwrap(), base());
        rec0.directories = vec![d];
        assert!(PartitionRegistration::from_record(&rec0).is_err());
    }

    fn base() -> PartitionRegistration {
        PartitionRegistration {
            replicas: vec![NodeId(1), NodeId(2), NodeId(3)],
            directories: vec![DIRECTORY_MIGRATING; 3],
            isr: vec![NodeId(1), NodeId(2), NodeId(3)],
            removing_replicas: vec![],
            adding_replicas: vec![],
            leader: NodeId(1),
            leader_recovery_state: LeaderRecoveryState::Recovered,
            leader_epoch: LeaderEpoch(4),
            partition_epoch: PartitionEpoch(7),
            elr: vec![],
            last_known_elr: vec![],
        }
    }

    #[test]
    fn isr_only_change_keeps_leader_epoch_and_bumps_partition_epoch() {
        let mut c = PartitionChangeRecord::new(Uuid::nil(), 0);
        c.isr = Some(vec![1, 2]);
        let p = base().merge(&c).unwrap();
        assert_eq!(p.isr, vec![NodeId(1), NodeId(2)]);
        assert_eq!(
            (p.leader, p.leader_epoch, p.partition_epoch),
            (NodeId(1), LeaderEpoch(4), PartitionEpoch(8))
        );
    }

    #[test]
    fn leader_change_bumps_both_epochs_and_minus_one_means_offline() {
        let mut c = PartitionChangeRecord::new(Uuid::nil(), 0);
        c.leader = 2;
        let p = base().merge(&c).unwrap();
        assert_eq!(
            (p.leader, p.leader_epoch, p.partition_epoch),
            (NodeId(2), LeaderEpoch(5), PartitionEpoch(8))
        );
        c.leader = NO_LEADER.into();
        let p = p.merge(&c).unwrap();
        assert!(!p.has_leader());
        assert_eq!(
            (p.leader_epoch, p.partition_epoch),
            (LeaderEpoch(6), PartitionEpoch(9))
        );
    }

    #[test]
    fn empty_change_still_bumps_partition_epoch_and_bad_recovery_state_fails() {
        let c = PartitionChangeRecord::new(Uuid::nil(), 0);
        let p = base().merge(&c).unwrap();
        assert_eq!(p.partition_epoch, PartitionEpoch(8));
        assert_eq!(p.replicas, base().replicas);
        let mut c = c;
        c.leader_recovery_state = 1;
        assert_eq!(
            base().merge(&c).unwrap().leader_recovery_state,
            LeaderRecoveryState::Recovering
        );
        c.leader_recovery_state = 5;
        assert_eq!(
            base().merge(&c),
            Err(ReplayError::InvalidLeaderRecoveryState(5))
        );
    }
}
