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
    let mut core = RaftCore::new(
        cfg,
        MemStore::new(),
        BTreeSet::from([NodeId(1)]),
        None,
        0,
        7,
    );
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
    let mut cfg = RaftConfig::new(NodeId(1));
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
            (
                a,
                ProposalOutcome::Committed {
                    last_offset: Offset(1)
                }
            ),
            (
                b,
                ProposalOutcome::Committed {
                    last_offset: Offset(3)
                }
            ),
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
    let mut cfg = RaftConfig::new(NodeId(1));
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
    let voters = BTreeSet::from([1, 2, 3].map(NodeId));
    let persisted = ElectionState {
        epoch: Epoch(4),
        leader_id: Some(NodeId(2)),
        voted_id: None,
    };
    let mut follower = RaftCore::new(
        RaftConfig::new(NodeId(1)),
        MemStore::new(),
        voters,
        Some(persisted),
        0,
        1,
    );
    assert_eq!(
        follower.propose(vec![record(1)]),
        Err(ProposeError::NotLeader {
            epoch: Epoch(4),
            leader_id: Some(NodeId(2))
        })
    );
}

#[test]
fn a_restarted_leader_resigns_and_a_restarted_voter_keeps_its_vote() {
    let voters = BTreeSet::from([1, 2, 3].map(NodeId));
    let was_leader = ElectionState {
        epoch: Epoch(3),
        leader_id: Some(NodeId(1)),
        voted_id: Some(NodeId(1)),
    };
    let core = RaftCore::new(
        RaftConfig::new(NodeId(1)),
        MemStore::new(),
        voters.clone(),
        Some(was_leader),
        0,
        1,
    );
    assert_eq!(core.role(), RoleKind::Resigned);
    let voted = ElectionState {
        epoch: Epoch(3),
        leader_id: None,
        voted_id: Some(NodeId(2)),
    };
    let mut core = RaftCore::new(
        RaftConfig::new(NodeId(1)),
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
        NodeId(3),
        9,
        Message::VoteRequest {
            replica_epoch: Epoch(3),
            replica_id: NodeId(3),
            last_offset_epoch: Epoch(5),
            last_offset: Offset(100),
            pre_vote: false,
        },
    );
    let ready = core.ready();
    assert!(matches!(
        ready.messages.as_slice(),
        [(
            NodeId(3),
            9,
            Message::VoteResponse {
                vote_granted: false,
                ..
            }
        )]
    ));
}

/// A small hand-driven cluster for tests of message exchanges: every node's `Ready` is applied
/// at once (flushes included), and messages move only when delivered.
struct Cluster {
    now: Millis,
    cores: std::collections::BTreeMap<NodeId, RaftCore<MemStore>>,
    queue: std::collections::VecDeque<(NodeId, NodeId, u64, Message)>,
    /// Every message delivered: (from, to, correlation id, message).
    delivered: Vec<(NodeId, NodeId, u64, Message)>,
}

impl Cluster {
    /// `voters` voters and `observers` observers (ids after the voters); node 1 is elected.
    fn new(voters: i32, observers: i32, cfg: &RaftConfig) -> Cluster {
        let ids: BTreeSet<NodeId> = (1..=voters).map(NodeId).collect();
        let mut cores = std::collections::BTreeMap::new();
        for id in 1..=voters + observers {
            let mut c = cfg.clone();
            c.node_id = NodeId(id);
            cores.insert(
                NodeId(id),
                RaftCore::new(c, MemStore::new(), ids.clone(), None, 0, id as u64),
            );
        }
        let mut cluster = Cluster {
            now: 0,
            cores,
            queue: Default::default(),
            delivered: Vec::new(),
        };
        cluster.now = 5_000;
        cluster.tick(NodeId(1));
        cluster.deliver_all();
        assert_eq!(cluster.cores[&NodeId(1)].role(), RoleKind::Leader);
        cluster
    }

    /// Applies `id`'s Readys, queueing what it sends.
    fn pump(&mut self, id: NodeId) {
        let now = self.now;
        let core = self.cores.get_mut(&id).expect("node");
        loop {
            let ready = core.ready();
            if ready.is_empty() {
                return;
            }
            for op in ready.log_ops {
                core.store_mut().apply(op).unwrap();
            }
            for (to, cid, m) in ready.messages {
                self.queue.push_back((id, to, cid, m));
            }
            if ready.flush {
                core.store_mut().flush().unwrap();
                core.handle_log_flushed(now);
            }
            core.advance();
        }
    }

    fn tick(&mut self, id: NodeId) {
        let now = self.now;
        self.cores.get_mut(&id).expect("node").tick(now);
        self.pump(id);
    }

    fn deliver(&mut self, from: NodeId, to: NodeId, cid: u64, m: Message) {
        let now = self.now;
        self.delivered.push((from, to, cid, m.clone()));
        self.cores
            .get_mut(&to)
            .expect("node")
            .step(now, from, cid, m);
        self.pump(to);
    }

    /// The correlation id of the last fetch `from` delivered to `to`.
    fn last_fetch(&self, from: NodeId, to: NodeId) -> u64 {
        self.delivered
            .iter()
            .rev()
            .find(|(f, t, _, m)| {
                *f == from && *t == to && matches!(m, Message::FetchRequest { .. })
            })
            .map(|(_, _, cid, _)| *cid)
            .expect("a fetch was delivered")
    }

    /// Delivers until nothing is queued (fetches the leader holds stay held).
    fn deliver_all(&mut self) {
        while let Some((from, to, cid, m)) = self.queue.pop_front() {
            self.deliver(from, to, cid, m);
        }
    }

    /// Takes the queued messages from `from`.
    fn take_from(&mut self, from: NodeId) -> Vec<(NodeId, u64, Message)> {
        let (mine, rest) = std::mem::take(&mut self.queue)
            .into_iter()
            .partition(|(f, ..)| *f == from);
        self.queue = rest;
        mine.into_iter()
            .map(|(_, to, cid, m)| (to, cid, m))
            .collect()
    }
}

fn cluster_config() -> RaftConfig {
    let mut cfg = RaftConfig::new(NodeId(0));
    cfg.election_timeout_ms = 100;
    cfg.fetch_timeout_ms = 10_000;
    cfg.request_timeout_ms = 50;
    cfg.fetch_max_wait_ms = 500;
    cfg.retry_backoff_ms = 10;
    cfg
}

#[test]
fn a_fetch_replaced_while_held_is_still_answered() {
    // A follower that sends a new fetch while its last is held (long-poll) must get an answer to
    // the old one: the leader's connection answers in request order, so a request left
    // unanswered holds back every later answer to that follower until leadership changes.
    let mut c = Cluster::new(3, 0, &cluster_config());
    let held = c.last_fetch(NodeId(2), NodeId(1));
    assert!(c.queue.is_empty(), "the follower's fetch is held");
    let epoch = c.cores[&NodeId(1)].epoch();
    let end = c.cores[&NodeId(1)].log_end_offset();
    let again = Message::FetchRequest {
        replica_id: NodeId(2),
        current_leader_epoch: epoch,
        fetch_offset: end,
        last_fetched_epoch: epoch,
        max_bytes: 1 << 20,
    };
    c.deliver(NodeId(2), NodeId(1), held + 1_000, again);
    let answers = c.take_from(NodeId(1));
    assert!(
        matches!(
            answers.as_slice(),
            [(NodeId(2), cid, Message::FetchResponse { error: ErrorCode::None, records, .. })]
                if *cid == held && records.is_empty()
        ),
        "the replaced fetch is answered at once, the new one held: {answers:?}"
    );
}

#[test]
fn a_follower_acts_only_on_the_answer_to_the_fetch_in_flight() {
    // The answer to a fetch the follower gave up on must not make it fetch again: the leader
    // answers a replaced fetch at once, so each such answer would bring another fetch, forever.
    let cfg = cluster_config();
    let mut c = Cluster::new(3, 0, &cfg);
    let first = c.last_fetch(NodeId(2), NodeId(1));
    // Before the long-poll ends, no resend: it would only replace the held fetch.
    c.now += cfg.request_timeout_ms + 1;
    c.tick(NodeId(2));
    assert!(
        c.take_from(NodeId(2)).is_empty(),
        "no resend within the long-poll"
    );
    c.now += cfg.fetch_max_wait_ms;
    c.tick(NodeId(2));
    let sent = c.take_from(NodeId(2));
    assert!(
        matches!(sent.as_slice(), [(NodeId(1), cid, Message::FetchRequest { .. })] if *cid != first),
        "{sent:?}"
    );
    let epoch = c.cores[&NodeId(1)].epoch();
    let late = Message::FetchResponse {
        error: ErrorCode::None,
        leader_epoch: epoch,
        leader_id: Some(NodeId(1)),
        high_watermark: Offset(1),
        log_start_offset: Offset(0),
        records: Vec::new(),
        diverging_epoch: None,
        snapshot_id: None,
    };
    c.deliver(NodeId(1), NodeId(2), first, late);
    assert!(
        c.take_from(NodeId(2)).is_empty(),
        "an answer to a replaced fetch changes nothing"
    );
}

#[test]
fn an_observer_told_to_back_off_fetches_again_with_unflushed_records() {
    // An observer flushes at most once a second and fetches without waiting for its flush. After
    // an error answer it must fetch again after the backoff even with records unflushed, and
    // never name a deadline in the past (the driver would spin a core until the fetch timeout).
    let mut cfg = cluster_config();
    cfg.observer_flush_interval_ms = 60_000;
    let mut c = Cluster::new(1, 1, &cfg);
    c.tick(NodeId(2));
    c.deliver_all();
    // Two committed batches reach the observer; the second is not flushed (interval).
    for v in 0..2 {
        c.cores
            .get_mut(&NodeId(1))
            .unwrap()
            .propose(vec![record(10 + v)])
            .unwrap();
        c.pump(NodeId(1));
        c.deliver_all();
    }
    assert_eq!(c.cores[&NodeId(2)].role(), RoleKind::Follower);
    assert!(
        c.cores[&NodeId(2)].store().durable_end_offset() < c.cores[&NodeId(2)].store().end_offset()
    );
    // The leader resigns: the observer's held fetch is answered NOT_LEADER_OR_FOLLOWER.
    c.cores.get_mut(&NodeId(1)).unwrap().resign();
    c.pump(NodeId(1));
    c.deliver_all();
    let after_error = c.now;
    assert!(c.cores[&NodeId(2)].next_deadline() > after_error);
    c.now = c.cores[&NodeId(2)].next_deadline();
    c.tick(NodeId(2));
    let sent = c.take_from(NodeId(2));
    assert!(
        matches!(
            sent.as_slice(),
            [(NodeId(1), _, Message::FetchRequest { .. })]
        ),
        "the observer fetches again after the backoff: {sent:?}"
    );
    assert!(
        c.cores[&NodeId(2)].next_deadline() > c.now,
        "a tick leaves no deadline in the past"
    );
}

#[test]
fn a_refused_connection_seen_in_an_earlier_epoch_is_no_news_about_this_leader() {
    let mut c = Cluster::new(3, 0, &cluster_config());
    let epoch = c.cores[&NodeId(2)].epoch();
    let now = c.now;
    // Seen before this epoch began: it may have been this same leader's previous life.
    c.cores
        .get_mut(&NodeId(2))
        .unwrap()
        .peer_unreachable(now, NodeId(1), Epoch(epoch.get() - 1));
    c.tick(NodeId(2));
    assert_eq!(c.cores[&NodeId(2)].role(), RoleKind::Follower);
    // Seen in this epoch: node 2, the lowest id left, asks for pre-votes at once.
    c.cores
        .get_mut(&NodeId(2))
        .unwrap()
        .peer_unreachable(now, NodeId(1), epoch);
    c.tick(NodeId(2));
    assert_eq!(c.cores[&NodeId(2)].role(), RoleKind::Prospective);
    // Node 3, second in line, waits `retry.backoff.ms` before it asks.
    c.cores
        .get_mut(&NodeId(3))
        .unwrap()
        .peer_unreachable(now, NodeId(1), epoch);
    c.tick(NodeId(3));
    assert_eq!(c.cores[&NodeId(3)].role(), RoleKind::Follower);
    c.now += cluster_config().retry_backoff_ms;
    c.tick(NodeId(3));
    assert_eq!(c.cores[&NodeId(3)].role(), RoleKind::Prospective);
}

#[test]
fn role_changes_follow_kafkas_table() {
    use crate::raft::core::legal_transition;
    use RoleKind::*;
    // Raft §5.2: a leader is only ever a candidate that won, in the same epoch.
    for from in [Unattached, Voted, Prospective, Follower, Resigned, Leader] {
        assert!(!legal_transition(from, Leader, false), "{from:?} -> Leader");
        assert!(!legal_transition(from, Leader, true), "{from:?} -> Leader");
    }
    assert!(legal_transition(Candidate, Leader, false));
    // KIP-996: a candidate's epoch is entered through a pre-vote only.
    assert!(legal_transition(Prospective, Candidate, true));
    assert!(!legal_transition(Follower, Candidate, true));
    assert!(!legal_transition(Prospective, Candidate, false));
    // A leader of an epoch steps down by resigning, never by following someone in it.
    assert!(!legal_transition(Leader, Follower, false));
    assert!(legal_transition(Leader, Follower, true));
    assert!(legal_transition(Leader, Resigned, false));
    // A vote is cast only by a node without one in the epoch.
    assert!(!legal_transition(Follower, Voted, false));
    assert!(!legal_transition(Voted, Voted, false));
}

#[test]
fn an_answer_to_a_replaced_fetch_commits_nothing_it_does_not_confirm() {
    // A follower may act on the answer to a fetch it has since sent again only as news from the
    // leader. If that answer says the follower's log diverges, none of its high watermark may
    // count: the diverging suffix must be truncated before anything in it is committed.
    let cfg = cluster_config();
    let mut c = Cluster::new(3, 0, &cfg);
    c.cores
        .get_mut(&NodeId(1))
        .unwrap()
        .propose(vec![record(8)])
        .unwrap();
    c.pump(NodeId(1));
    // Only follower 2 gets the new record; the high watermark it learns stays behind it.
    let to_2: Vec<_> = c
        .take_from(NodeId(1))
        .into_iter()
        .filter(|(to, ..)| *to == NodeId(2))
        .collect();
    for (_, cid, m) in to_2 {
        c.deliver(NodeId(1), NodeId(2), cid, m);
    }
    let end = c.cores[&NodeId(2)].log_end_offset();
    let hw = c.cores[&NodeId(2)].high_watermark();
    assert!(
        hw < end,
        "follower 2 holds an uncommitted record ({hw} < {end})"
    );
    let first = c.take_from(NodeId(2));
    let [(NodeId(1), first, Message::FetchRequest { .. })] = first.as_slice() else {
        panic!("follower 2 fetches on: {first:?}");
    };
    let first = *first;
    // The fetch goes unanswered long enough to be sent again.
    c.now += cfg.fetch_request_timeout_ms() + 1;
    c.tick(NodeId(2));
    assert_eq!(c.take_from(NodeId(2)).len(), 1, "the fetch is sent again");
    let epoch = c.cores[&NodeId(2)].epoch();
    let diverging = Message::FetchResponse {
        error: ErrorCode::None,
        leader_epoch: epoch,
        leader_id: Some(NodeId(1)),
        high_watermark: end,
        log_start_offset: Offset(0),
        records: Vec::new(),
        diverging_epoch: Some(EpochEndOffset {
            epoch: Epoch(0),
            end_offset: hw,
        }),
        snapshot_id: None,
    };
    c.deliver(NodeId(1), NodeId(2), first, diverging);
    assert_eq!(
        c.cores[&NodeId(2)].high_watermark(),
        hw,
        "a diverging answer committed the suffix it disowns"
    );
}

/// KIP-996 pre-votes are asked again after a rejection only while a voter may still believe
/// in the dead leader (the fetch timeout from the round's start); a later rejection is for this
/// node's log, and asking again would change nothing.
#[test]
fn a_pre_vote_rejected_after_the_fetch_timeout_is_not_asked_again() {
    let mut cfg = RaftConfig::new(NodeId(1));
    cfg.fetch_timeout_ms = 300;
    let voters: BTreeSet<NodeId> = [1, 2, 3].map(NodeId).into();
    let mut core = RaftCore::new(cfg, MemStore::new(), voters, None, 0, 1);
    let t0 = 10_000;
    core.tick(t0);
    assert_eq!(core.role(), RoleKind::Prospective);
    let sent: Vec<(NodeId, u64)> = core
        .ready()
        .messages
        .into_iter()
        .filter(|(_, _, m)| matches!(m, Message::VoteRequest { pre_vote: true, .. }))
        .map(|(to, cid, _)| (to, cid))
        .collect();
    assert_eq!(sent.len(), 2);
    core.advance();
    let reject = Message::VoteResponse {
        error: ErrorCode::None,
        leader_epoch: Epoch(0),
        leader_id: None,
        vote_granted: false,
        pre_vote: true,
    };
    let cid_of = |to: NodeId| sent.iter().find(|(t, _)| *t == to).unwrap().1;
    // Voter 2 rejects early: asked again after the retry period.
    core.step(t0 + 10, NodeId(2), cid_of(NodeId(2)), reject.clone());
    core.ready();
    core.advance();
    assert_eq!(core.next_deadline(), t0 + 10 + role::PRE_VOTE_RETRY_MS);
    core.tick(t0 + 10 + role::PRE_VOTE_RETRY_MS);
    let again: Vec<NodeId> = core.ready().messages.iter().map(|(to, _, _)| *to).collect();
    assert_eq!(again, vec![NodeId(2)], "voter 2 is asked again");
    core.advance();
    // Voter 3 rejects after the window: that rejection stands, and no deadline is set for it.
    core.step(t0 + 250, NodeId(3), cid_of(NodeId(3)), reject);
    core.ready();
    core.advance();
    let next = core.next_deadline();
    assert!(
        next > t0 + 300,
        "a retry at {next} for a rejection that stands"
    );
    core.tick(t0 + 360);
    assert!(
        core.ready()
            .messages
            .iter()
            .all(|(to, _, _)| *to != NodeId(3)),
        "voter 3 was asked again"
    );
}

// A new leader reports no high watermark (-1) until a record of its own epoch commits (Kafka's
// `LeaderState`): what it learned as a follower may be less than its predecessor told others,
// and what the quorum reports must never go back across a leader change. Then it reports the
// high watermark itself.
#[test]
fn a_new_leader_reports_no_high_watermark_until_its_epoch_commits() {
    let mut core = RaftCore::new(
        RaftConfig::new(NodeId(1)),
        MemStore::new(),
        BTreeSet::from([NodeId(1)]),
        None,
        0,
        7,
    );
    core.tick(5_000);
    // Perform the Readys without flushing: the LeaderChange record is written, not durable.
    let mut flush_asked = false;
    for _ in 0..10 {
        let ready = core.ready();
        if ready.is_empty() {
            break;
        }
        for op in ready.log_ops {
            core.store_mut().apply(op).unwrap();
        }
        flush_asked |= ready.flush;
        core.advance();
    }
    assert!(flush_asked);
    assert_eq!(core.role(), RoleKind::Leader);
    assert_eq!(core.high_watermark(), Offset(0));
    assert_eq!(
        core.reported_high_watermark(),
        Offset(-1),
        "its LeaderChange is not committed yet"
    );
    core.store_mut().flush().unwrap();
    core.handle_log_flushed(5_000);
    run(&mut core);
    assert!(core.high_watermark() >= Offset(1));
    assert_eq!(core.reported_high_watermark(), core.high_watermark());
    core.propose(vec![record(8)]).expect("accepted");
    run(&mut core);
    assert_eq!(core.reported_high_watermark(), core.high_watermark());
    assert_eq!(core.high_watermark(), core.log_end_offset());
}
