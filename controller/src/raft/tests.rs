//! Unit tests of the core's proposal path on a single voter (multi-node behaviour is covered by
//! the transcripts and the simulator in `tests/`).

use std::collections::BTreeSet;

use bytes::Bytes;
use metaquorum_log::batch::RecordData;

use super::*;

fn record(n: usize) -> RecordData {
    RecordData {
        key: None,
        value: Some(Bytes::from(vec![1u8; n])),
    }
}

/// A single voter that has elected itself, with its Readys applied.
fn solo(cfg: RaftConfig) -> RaftCore<MemStore> {
    let mut core = RaftCore::new(cfg, MemStore::new(), BTreeSet::from([1]), None, 0, 7);
    core.tick(5_000);
    run(&mut core);
    assert_eq!(core.role(), RoleKind::Leader);
    core
}

/// Applies Readys until there is nothing left; returns the proposal outcomes seen.
fn run(core: &mut RaftCore<MemStore>) -> Vec<(ProposalId, ProposalOutcome)> {
    let mut outcomes = Vec::new();
    loop {
        let ready = core.ready();
        if ready.is_empty() {
            return outcomes;
        }
        for op in ready.log_ops {
            core.store_mut().apply(op).unwrap();
        }
        outcomes.extend(ready.proposals);
        if ready.flush {
            core.store_mut().flush().unwrap();
            core.handle_log_flushed(5_000);
        }
        core.advance();
    }
}

#[test]
fn proposals_commit_in_order_and_release_their_bytes() {
    let mut cfg = RaftConfig::new(1);
    cfg.pending_bytes_max = 1000;
    let mut core = solo(cfg);
    let a = core.propose(vec![record(300)]).unwrap();
    let b = core.propose(vec![record(300), record(300)]).unwrap();
    // 900 bytes pending (plus overheads): the next one is pushed back, not dropped.
    assert!(matches!(
        core.propose(vec![record(300)]),
        Err(ProposeError::Backpressure { .. })
    ));
    let outcomes = run(&mut core);
    assert_eq!(
        outcomes,
        vec![
            (a, ProposalOutcome::Committed { last_offset: 1 }),
            (b, ProposalOutcome::Committed { last_offset: 3 }),
        ]
    );
    // Committing released the bytes: proposing works again, over and over.
    for _ in 0..10 {
        core.propose(vec![record(300), record(300)]).unwrap();
        assert_eq!(run(&mut core).len(), 1);
    }
}

#[test]
fn bad_proposals_are_refused_with_a_reason() {
    let mut cfg = RaftConfig::new(1);
    cfg.batch_records_max = 3;
    cfg.batch_bytes_max = 500;
    let mut core = solo(cfg.clone());
    assert!(matches!(
        core.propose(vec![]),
        Err(ProposeError::Invalid { .. })
    ));
    assert!(matches!(
        core.propose(vec![record(1); 4]),
        Err(ProposeError::Invalid { .. })
    ));
    assert!(matches!(
        core.propose(vec![record(600)]),
        Err(ProposeError::Invalid { .. })
    ));
    // Several small proposals share a batch, but a batch never exceeds the record limit.
    for _ in 0..5 {
        core.propose(vec![record(1), record(1)]).unwrap();
    }
    let ready = core.ready();
    let sizes: Vec<usize> = ready
        .log_ops
        .iter()
        .filter_map(|op| match op {
            LogOp::Append(b) => Some(b.records.len()),
            _ => None,
        })
        .collect();
    assert_eq!(sizes, vec![2, 2, 2, 2, 2]);

    // A follower refuses with the leader it knows.
    let voters = BTreeSet::from([1, 2, 3]);
    let persisted = ElectionState {
        epoch: 4,
        leader_id: Some(2),
        voted_id: None,
    };
    let mut follower = RaftCore::new(
        RaftConfig::new(1),
        MemStore::new(),
        voters,
        Some(persisted),
        0,
        1,
    );
    assert_eq!(
        follower.propose(vec![record(1)]),
        Err(ProposeError::NotLeader {
            epoch: 4,
            leader_id: Some(2)
        })
    );
}

#[test]
fn a_restarted_leader_resigns_and_a_restarted_voter_keeps_its_vote() {
    let voters = BTreeSet::from([1, 2, 3]);
    let was_leader = ElectionState {
        epoch: 3,
        leader_id: Some(1),
        voted_id: Some(1),
    };
    let core = RaftCore::new(
        RaftConfig::new(1),
        MemStore::new(),
        voters.clone(),
        Some(was_leader),
        0,
        1,
    );
    assert_eq!(core.role(), RoleKind::Resigned);
    let voted = ElectionState {
        epoch: 3,
        leader_id: None,
        voted_id: Some(2),
    };
    let mut core = RaftCore::new(
        RaftConfig::new(1),
        MemStore::new(),
        voters,
        Some(voted),
        0,
        1,
    );
    assert_eq!(core.role(), RoleKind::Voted);
    // Raft §5.2: at most one vote per epoch, across restarts.
    core.step(
        1,
        3,
        9,
        Message::VoteRequest {
            replica_epoch: 3,
            replica_id: 3,
            last_offset_epoch: 5,
            last_offset: 100,
            pre_vote: false,
        },
    );
    let ready = core.ready();
    assert!(matches!(
        ready.messages.as_slice(),
        [(
            3,
            9,
            Message::VoteResponse {
                vote_granted: false,
                ..
            }
        )]
    ));
}
