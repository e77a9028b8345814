//! Unit tests of the node: the order of its effects, group commit, applying what committed
//! exactly once, stopping on storage and state-machine failures, and replaying identically
//! from the same inputs. Whole clusters of nodes run in the simulator (`tests/src/sim`).

use std::collections::BTreeSet;

use bytes::Bytes;
use metaquorum_log::batch::RecordData;

use super::*;
use metaquorum_log::PendingFlush;

use crate::raft::segmented::SegmentedStore;
use crate::raft::{
    Batch, LogStore, MemFlush, MemStore, Message, ProposalOutcome, ProposeError, StoreError,
};

/// A state machine that proposes what it is handed and records what it sees; it asks the
/// node to stop when it applies a batch starting at `exit_at`.
#[derive(Default)]
struct Recorder {
    applied: Vec<(Offset, usize)>,
    done: Vec<(ProposalId, ProposalOutcome)>,
    refused: Vec<ProposeError>,
    loads: usize,
    exit_at: Option<Offset>,
}

impl StateMachine<MemStore> for Recorder {
    type Request = Vec<RecordData>;

    fn load(&mut self, store: &MemStore) -> Result<Offset, crate::snapshots::SnapshotError> {
        self.loads += 1;
        Ok(store.latest_snapshot().map_or(Offset(0), |s| s.end_offset))
    }

    fn apply(&mut self, batch: &Batch, ctx: &mut Ctx<'_, MemStore>) {
        if batch.control {
            return;
        }
        if self.exit_at == Some(batch.base_offset) {
            ctx.exit(
                ExitCode::Metadata,
                format!("batch at {}", batch.base_offset),
            );
            return;
        }
        self.applied.push((batch.base_offset, batch.records.len()));
    }

    fn handle(&mut self, records: Vec<RecordData>, ctx: &mut Ctx<'_, MemStore>) {
        if let Err(e) = ctx.propose(records) {
            self.refused.push(e);
        }
    }

    fn proposal_done(
        &mut self,
        id: ProposalId,
        outcome: ProposalOutcome,
        _ctx: &mut Ctx<'_, MemStore>,
    ) {
        self.done.push((id, outcome));
    }

    fn tick(&mut self, _ctx: &mut Ctx<'_, MemStore>) -> Option<Millis> {
        None
    }
}

type TestNode = Node<Recorder, MemStore>;

fn config(voters: &[NodeId], seed: u64) -> NodeConfig {
    NodeConfig {
        raft: RaftConfig::new(NodeId(1)),
        voters: voters.iter().copied().collect::<BTreeSet<_>>(),
        persisted: None,
        seed,
        now_ms: 0,
        wall_ms_at_zero: 1_700_000_000_000,
    }
}

fn records(n: usize) -> Vec<RecordData> {
    (0..n)
        .map(|i| RecordData {
            key: None,
            value: Some(Bytes::from(format!("r{i}"))),
        })
        .collect()
}

/// Completes every flush the effects begin, at once, until the node has nothing more to do;
/// returns every effect seen, flushes included.
fn settle<S: StateMachine<MemStore>>(
    node: &mut Node<S, MemStore>,
    now: Millis,
    mut effects: Vec<Effect<MemFlush>>,
) -> Vec<Effect<MemFlush>> {
    let mut seen = Vec::new();
    loop {
        let mut flush = None;
        for e in effects {
            if let Effect::Flush(f) = &e {
                flush = Some(*f);
            }
            seen.push(e);
        }
        match flush {
            Some(f) => {
                node.flushed(now, Ok(f));
                effects = node.ready(now);
            }
            None => return seen,
        }
    }
}

/// A single voter that has elected itself, everything flushed.
fn solo_leader() -> TestNode {
    solo_leader_with(Recorder::default())
}

fn solo_leader_with(recorder: Recorder) -> TestNode {
    let mut node = TestNode::new(config(&[NodeId(1)], 7), MemStore::new(), recorder).unwrap();
    let effects = node.tick(5_000);
    settle(&mut node, 5_000, effects);
    assert_eq!(node.core().role(), RoleKind::Leader);
    node
}

#[test]
fn committed_batches_are_applied_once_in_order_and_every_proposal_ends() {
    let mut node = solo_leader();
    node.request(5_001, records(2));
    node.request(5_001, records(3));
    let effects = node.ready(5_001);
    settle(&mut node, 5_001, effects);
    node.request(5_002, records(1));
    let effects = node.ready(5_002);
    settle(&mut node, 5_002, effects);
    let sm = node.state_machine();
    // Offset 0 is the LeaderChange control batch; the two first proposals are packed into one
    // batch, the third is its own.
    assert_eq!(sm.applied, vec![(Offset(1), 5), (Offset(6), 1)]);
    assert_eq!(sm.done.len(), 3);
    assert!(sm
        .done
        .iter()
        .all(|(_, o)| matches!(o, ProposalOutcome::Committed { .. })));
    assert_eq!(node.applied(), node.core().high_watermark());
    assert_eq!(node.applied(), Offset(7));
}

#[test]
fn one_flush_in_flight_and_the_next_covers_what_was_written_meanwhile() {
    let mut node = solo_leader();
    node.request(6_000, records(1));
    let first: Vec<MemFlush> = node
        .ready(6_000)
        .into_iter()
        .filter_map(|e| match e {
            Effect::Flush(f) => Some(f),
            _ => None,
        })
        .collect();
    assert_eq!(first.len(), 1, "one flush begun for the append");
    // More appends while the flush runs: no second flush until the first ends.
    for _ in 0..3 {
        node.request(6_001, records(1));
        let effects = node.ready(6_001);
        assert!(
            !effects.iter().any(|e| matches!(e, Effect::Flush(_))),
            "a second flush began while one was in flight: {effects:?}"
        );
    }
    assert!(node.state_machine().done.is_empty(), "nothing durable yet");
    node.flushed(6_002, Ok(first[0]));
    let effects = node.ready(6_002);
    let again: Vec<MemFlush> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::Flush(f) => Some(*f),
            _ => None,
        })
        .collect();
    assert_eq!(again.len(), 1, "the flush that ended begins the next one");
    assert_eq!(
        node.state_machine().done.len(),
        1,
        "the first append committed"
    );
    node.flushed(6_003, Ok(again[0]));
    let effects = node.ready(6_003);
    settle(&mut node, 6_003, effects);
    assert_eq!(node.state_machine().done.len(), 4);
    assert_eq!(
        node.core().store().durable_end_offset(),
        node.core().store().end_offset()
    );
}

#[test]
fn the_election_state_is_persisted_before_any_message_leaves() {
    // KIP-595: a candidate's vote for itself is durable before it asks for votes. The
    // election timeout starts a pre-vote (KIP-996), which changes nothing durable; a granted
    // pre-vote makes the node a candidate.
    let mut node = TestNode::new(
        config(&[NodeId(1), NodeId(2), NodeId(3)], 7),
        MemStore::new(),
        Recorder::default(),
    )
    .unwrap();
    let effects = node.tick(10_000);
    let Some((to, cid)) = effects.iter().find_map(|e| match e {
        Effect::Send {
            to,
            correlation_id,
            message: Message::VoteRequest { pre_vote: true, .. },
        } => Some((*to, *correlation_id)),
        _ => None,
    }) else {
        panic!("an election timeout starts a pre-vote: {effects:?}");
    };
    node.step(
        10_001,
        to,
        cid,
        Message::VoteResponse {
            error: crate::raft::ErrorCode::None,
            leader_epoch: Epoch(0),
            leader_id: None,
            vote_granted: true,
            pre_vote: true,
        },
    );
    let effects = node.ready(10_001);
    let persisted = effects
        .iter()
        .position(|e| matches!(e, Effect::PersistElectionState(_)));
    let first_send = effects
        .iter()
        .position(|e| matches!(e, Effect::Send { .. }));
    let (Some(p), Some(s)) = (persisted, first_send) else {
        panic!("an election timeout persists a state and sends requests: {effects:?}");
    };
    assert!(
        p < s,
        "a message left before the election state: {effects:?}"
    );
}

#[test]
fn requests_are_answered_on_the_id_they_came_with() {
    let mut node = TestNode::new(
        config(&[NodeId(1), NodeId(2), NodeId(3)], 7),
        MemStore::new(),
        Recorder::default(),
    )
    .unwrap();
    node.step(
        100,
        NodeId(2),
        42,
        Message::VoteRequest {
            replica_epoch: Epoch(1),
            replica_id: NodeId(2),
            last_offset_epoch: Epoch(0),
            last_offset: Offset(0),
            pre_vote: true,
        },
    );
    let effects = node.ready(100);
    assert!(
        effects.iter().any(|e| matches!(
            e,
            Effect::Reply {
                to: NodeId(2),
                correlation_id: 42,
                message: Message::VoteResponse { .. }
            }
        )),
        "{effects:?}"
    );
}

#[test]
fn a_failed_flush_stops_the_node_and_nothing_follows() {
    let mut node = solo_leader();
    node.request(6_000, records(1));
    let flush = node
        .ready(6_000)
        .iter()
        .any(|e| matches!(e, Effect::Flush(_)));
    assert!(flush, "the append begins a flush");
    node.flushed(6_001, Err(StoreError::Io("fdatasync: I/O error".into())));
    let effects = node.ready(6_001);
    assert!(
        matches!(
            effects.as_slice(),
            [Effect::Exit(Exit {
                code: ExitCode::Storage,
                ..
            })]
        ),
        "{effects:?}"
    );
    assert!(node.stopped());
    node.request(7_000, records(1));
    assert!(node.tick(7_000).is_empty(), "a stopped node does nothing");
    assert!(node.state_machine().done.is_empty());
}

#[test]
fn a_state_machine_exit_stops_applying_at_that_batch() {
    let mut node = solo_leader_with(Recorder {
        exit_at: Some(Offset(2)),
        ..Recorder::default()
    });
    node.request(5_001, records(1));
    let effects = node.ready(5_001);
    settle(&mut node, 5_001, effects);
    node.request(5_002, records(1));
    let effects = node.ready(5_002);
    let seen = settle(&mut node, 5_002, effects);
    node.request(5_003, records(1));
    let effects = node.ready(5_003);
    let after = settle(&mut node, 5_003, effects);
    assert_eq!(node.state_machine().applied, vec![(Offset(1), 1)]);
    assert!(
        seen.iter().any(|e| matches!(
            e,
            Effect::Exit(Exit {
                code: ExitCode::Metadata,
                ..
            })
        )),
        "{seen:?}"
    );
    assert!(node.stopped());
    assert!(after.is_empty(), "{after:?}");
}

#[test]
fn the_same_inputs_give_the_same_effects() {
    let run = || {
        let mut node = TestNode::new(
            config(&[NodeId(1), NodeId(2), NodeId(3)], 99),
            MemStore::new(),
            Recorder::default(),
        )
        .unwrap();
        let mut seen = Vec::new();
        for t in (0..20_000).step_by(250) {
            let effects = node.tick(t);
            seen.extend(
                settle(&mut node, t, effects)
                    .iter()
                    .map(|e| format!("{e:?}")),
            );
            node.peer_unreachable(t, NodeId(2), node.core().epoch());
            let effects = node.ready(t);
            seen.extend(
                settle(&mut node, t, effects)
                    .iter()
                    .map(|e| format!("{e:?}")),
            );
        }
        seen
    };
    let a = run();
    assert!(a.len() > 10, "the node did something: {a:?}");
    assert_eq!(a, run());
}

#[test]
fn a_committed_batch_the_controller_cannot_replay_stops_it_with_code_4() {
    use crate::control::controller::QuorumController;
    use crate::raft::{ElectionState, LogOp};

    // A log whose first batch is not a metadata record: written by an earlier leader, durable.
    let mut store = MemStore::new();
    let garbage = Batch::new(
        Offset(0),
        Epoch(1),
        false,
        vec![RecordData {
            key: None,
            value: Some(Bytes::from_static(b"not a metadata record")),
        }],
    );
    store.apply(LogOp::Append(garbage)).unwrap();
    store.flush().unwrap();
    let settings = controller_settings();
    let mut config = config(&[NodeId(1)], 7);
    config.persisted = Some(ElectionState {
        epoch: Epoch(1),
        leader_id: None,
        voted_id: None,
    });
    let mut node: Node<QuorumController, MemStore> =
        Node::new(config, store, QuorumController::new(settings, 7)).unwrap();
    let mut seen = Vec::new();
    for t in [5_000, 5_001, 5_002] {
        let effects = node.tick(t);
        seen.extend(
            settle(&mut node, t, effects)
                .into_iter()
                .filter_map(|e| match e {
                    Effect::Exit(x) => Some(x),
                    _ => None,
                }),
        );
    }
    assert!(node.stopped());
    match seen.as_slice() {
        [Exit {
            code: ExitCode::Metadata,
            reason,
        }] => assert!(reason.contains("offset 0"), "{reason}"),
        other => panic!("expected one metadata exit, got {other:?}"),
    }
    assert_eq!(ExitCode::Metadata as i32, 4);
    assert_eq!(ExitCode::Storage as i32, 3);
}

/// A controller's settings for a single voter, snapshots off.
fn controller_settings() -> crate::control::controller::ControllerSettings {
    use crate::config::HostPort;
    use crate::control::controller::ControllerSettings;
    use crate::control::topics::TopicDefaults;
    use crate::snapshots::SnapshotPolicy;
    ControllerSettings {
        cluster_id: "c".into(),
        voters: [(
            NodeId(1),
            HostPort {
                host: "localhost".into(),
                port: 9093,
            },
        )]
        .into(),
        bootstrap_metadata_version: crate::metadata::version::LATEST_PRODUCTION.0,
        broker_session_timeout_ms: 9_000,
        idle_interval_ms: 0,
        snapshots: SnapshotPolicy {
            bytes_max: u64::MAX,
            interval_ms: 0,
            retention: metaquorum_log::Retention {
                bytes_max: -1,
                ms: -1,
            },
        },
        topic_defaults: TopicDefaults::default(),
        leader_balance_interval_ms: None,
    }
}

/// A controller node of the tests below.
type ControllerNode = Node<crate::control::controller::QuorumController, MemStore>;

/// Ticks `node` at every millisecond of `from..to`, completing flushes at once.
fn run_controller(node: &mut ControllerNode, from: Millis, to: Millis) {
    for t in from..to {
        let effects = node.tick(t);
        settle(node, t, effects);
    }
}

/// Hands the node an ask of the ZooKeeper front at `now` and returns its answer, which must
/// have come once the node settled.
fn zk_ask(
    node: &mut ControllerNode,
    now: Millis,
    op: crate::control::zk::ZkOp,
) -> crate::control::zk::ZkOutcome {
    let (reply, mut rx) = tokio::sync::oneshot::channel();
    node.request(now, crate::control::zk::ZkCall { op, reply }.into());
    let effects = node.ready(now);
    settle(node, now, effects);
    rx.try_recv().expect("answered once applied")
}

// The ZooKeeper front's asks on the active controller: a session opens with an id and
// password drawn there, a write commits at the offset that is its zxid, a refusal names the
// offset it rests on, and a session not heard from for its timeout expires with its
// ephemerals, in one record.
#[test]
fn zookeeper_sessions_and_writes_on_the_active_controller() {
    use crate::control::controller::QuorumController;
    use crate::control::zk::{ZkOp, ZkOutcome};
    use metaquorum_zk::proto::request::CreateRequest;
    use metaquorum_zk::proto::{Acl, CreateMode, ErrorCode, Request};

    let mut node: Node<QuorumController, MemStore> = Node::new(
        config(&[NodeId(1)], 7),
        MemStore::new(),
        QuorumController::new(controller_settings(), 7),
    )
    .unwrap();
    run_controller(&mut node, 5_000, 5_003);
    let now = 5_003;
    let ask = zk_ask;
    let opened = ask(&mut node, now, ZkOp::OpenSession { timeout_ms: 6_000 });
    let ZkOutcome::Committed { zxid } = opened else {
        panic!("{opened:?}")
    };
    let image = node.state_machine().image().clone();
    assert_eq!(image.provenance.offset.0, zxid);
    let (session_id, session) = image.zk.sessions().next().expect("the session is open");
    assert_eq!(session.timeout_ms, 6_000);
    assert_eq!(session.passwd.len(), 16);

    let create = |path: &str, flags| {
        Request::Create(CreateRequest {
            path: path.into(),
            data: None,
            acl: Acl::open_unsafe(),
            flags,
            ttl_ms: None,
        })
    };
    let write = |request| ZkOp::Write {
        session_id,
        ids: Vec::new(),
        request,
    };
    let ephemeral = CreateMode::Ephemeral as i32;
    let created = ask(&mut node, now, write(create("/e", ephemeral)));
    let ZkOutcome::Committed { zxid } = created else {
        panic!("{created:?}")
    };
    let image = node.state_machine().image().clone();
    assert_eq!(image.zk.get("/e").unwrap().stat.czxid, zxid);
    assert_eq!(image.zk.get("/e").unwrap().stat.ephemeral_owner, session_id);
    assert_eq!(
        ask(&mut node, now, write(create("/e", 0))),
        ZkOutcome::Answer {
            code: ErrorCode::NodeExists,
            after_zxid: zxid
        }
    );

    // Touched at 7 s, the session lives until 13 s, then expires with its ephemeral.
    assert_eq!(
        ask(
            &mut node,
            7_000,
            ZkOp::Touch {
                session_ids: vec![session_id]
            }
        ),
        ZkOutcome::Touched
    );
    let effects = node.tick(12_999);
    settle(&mut node, 12_999, effects);
    assert!(node
        .state_machine()
        .image()
        .zk
        .session(session_id)
        .is_some());
    let effects = node.tick(13_000);
    settle(&mut node, 13_000, effects);
    let image = node.state_machine().image().clone();
    assert!(image.zk.session(session_id).is_none(), "expired");
    assert!(image.zk.get("/e").is_none(), "its ephemeral went with it");
    assert_eq!(
        ask(&mut node, 13_001, write(create("/f", 0))),
        ZkOutcome::Answer {
            code: ErrorCode::SessionExpired,
            after_zxid: image.provenance.offset.0
        }
    );
}

// A restarted controller replays the ZooKeeper sessions from its log and keeps them once it
// is active again (each with a fresh timeout).
#[test]
fn zookeeper_sessions_survive_a_restart_of_the_active_controller() {
    use crate::control::controller::QuorumController;
    use crate::control::zk::{ZkOp, ZkOutcome};
    use crate::raft::ElectionState;

    let new_node = |store: MemStore, persisted: Option<ElectionState>| {
        let mut config = config(&[NodeId(1)], 7);
        config.persisted = persisted;
        // Idle NoOp records on: the active controller's own proposals are adopted as images.
        let settings = crate::control::controller::ControllerSettings {
            idle_interval_ms: 500,
            ..controller_settings()
        };
        Node::<QuorumController, MemStore>::new(config, store, QuorumController::new(settings, 7))
            .unwrap()
    };
    let run = run_controller;
    let mut node = new_node(MemStore::new(), None);
    run(&mut node, 5_000, 5_003);
    let op = ZkOp::OpenSession { timeout_ms: 6_000 };
    assert!(matches!(
        zk_ask(&mut node, 5_003, op),
        ZkOutcome::Committed { .. }
    ));
    let sessions: Vec<i64> = node
        .state_machine()
        .image()
        .zk
        .sessions()
        .map(|(i, _)| i)
        .collect();
    assert_eq!(sessions.len(), 1);
    let persisted = Some(ElectionState {
        epoch: node.core().epoch(),
        leader_id: Some(NodeId(1)),
        voted_id: Some(NodeId(1)),
    });
    let store = node.into_store();
    let mut node = new_node(store, persisted);
    run(&mut node, 0, 3_000);
    assert_eq!(node.core().role(), RoleKind::Leader);
    let after: Vec<i64> = node
        .state_machine()
        .image()
        .zk
        .sessions()
        .map(|(i, _)| i)
        .collect();
    assert_eq!(
        after, sessions,
        "the session is still open after the restart"
    );
}

// The active controller deletes an empty container that has had children, and a TTL node
// unchanged for longer than its TTL, at its check interval (ZooKeeper's ContainerManager).
#[test]
fn the_active_controller_reaps_containers_and_ttl_nodes() {
    use crate::control::controller::QuorumController;
    use crate::control::zk::{ZkOp, ZkOutcome, ZkSettings};
    use metaquorum_zk::proto::request::{CreateRequest, VersionRequest};
    use metaquorum_zk::proto::{Acl, CreateMode, Request};

    let settings = ZkSettings {
        extended_types: true,
        container_check_interval_ms: 1_000,
        container_max_per_minute: 10_000,
    };
    let controller = QuorumController::new(controller_settings(), 7).with_zk(settings);
    let mut node: Node<QuorumController, MemStore> =
        Node::new(config(&[NodeId(1)], 7), MemStore::new(), controller).unwrap();
    let (run, ask) = (run_controller, zk_ask);
    run(&mut node, 5_000, 5_003);
    let ZkOutcome::Committed { .. } =
        ask(&mut node, 5_003, ZkOp::OpenSession { timeout_ms: 60_000 })
    else {
        panic!("no session")
    };
    let session_id = node.state_machine().image().zk.sessions().next().unwrap().0;
    let write = |request| ZkOp::Write {
        session_id,
        ids: Vec::new(),
        request,
    };
    let create = |path: &str, request: fn(CreateRequest) -> Request, ttl_ms: Option<i64>| {
        request(CreateRequest {
            path: path.into(),
            data: None,
            acl: Acl::open_unsafe(),
            flags: if ttl_ms.is_some() {
                CreateMode::PersistentWithTtl as i32
            } else {
                CreateMode::Container as i32
            },
            ttl_ms,
        })
    };
    for op in [
        create("/c", Request::CreateContainer, None),
        create("/c/x", Request::Create2, None),
        create("/empty", Request::CreateContainer, None),
        create("/t", Request::CreateTtl, Some(2_000)),
        Request::Delete(VersionRequest {
            path: "/c/x".into(),
            version: -1,
        }),
    ] {
        let outcome = ask(&mut node, 5_004, write(op.clone()));
        assert!(
            matches!(outcome, ZkOutcome::Committed { .. }),
            "{op:?}: {outcome:?}"
        );
    }
    run(&mut node, 5_004, 6_500);
    let zk = &node.state_machine().image().zk;
    assert!(
        zk.get("/c").is_none(),
        "the emptied container is deleted at the first check"
    );
    assert!(
        zk.get("/empty").is_some(),
        "a container that never had children stays"
    );
    assert!(zk.get("/t").is_some(), "the TTL has not passed");
    run(&mut node, 6_500, 8_100);
    let zk = &node.state_machine().image().zk;
    assert!(
        zk.get("/t").is_none(),
        "the TTL node is deleted once its TTL passed"
    );
    assert!(zk.get("/empty").is_some());
}

/// A state machine over any store that counts what it applies; it claims a snapshot up to
/// `start`, so the node applies only from there.
struct Counter {
    start: Offset,
    applied: Vec<Offset>,
}

impl<L: FlushStore> StateMachine<L> for Counter {
    type Request = Vec<RecordData>;

    fn load(&mut self, _store: &L) -> Result<Offset, crate::snapshots::SnapshotError> {
        Ok(self.start)
    }

    fn apply(&mut self, batch: &Batch, _ctx: &mut Ctx<'_, L>) {
        if !batch.control {
            self.applied.push(batch.base_offset);
        }
    }

    fn handle(&mut self, records: Vec<RecordData>, ctx: &mut Ctx<'_, L>) {
        ctx.propose(records).expect("proposal accepted");
    }

    fn proposal_done(&mut self, _: ProposalId, _: ProposalOutcome, _: &mut Ctx<'_, L>) {}

    fn tick(&mut self, _ctx: &mut Ctx<'_, L>) -> Option<Millis> {
        None
    }
}

type DiskNode = Node<Counter, SegmentedStore>;

/// The production log settings (older segments are not scanned at open), with small
/// segments so a few batches fill several.
fn production_log(dir: &std::path::Path) -> SegmentedStore {
    let config = metaquorum_log::LogConfig {
        segment_bytes_max: 1024,
        batch_bytes_max: 1024,
        ..Default::default()
    };
    assert!(!config.verify_all_on_open);
    let (log, _) = metaquorum_log::Log::open(dir, config).expect("the log opens");
    SegmentedStore::new(log)
}

/// [`settle`] for the on-disk store: every flush really syncs.
fn settle_disk(
    node: &mut DiskNode,
    now: Millis,
    mut effects: Vec<Effect<PendingFlush>>,
) -> Vec<Effect<PendingFlush>> {
    let mut seen = Vec::new();
    loop {
        let mut flush = None;
        for e in effects {
            match e {
                Effect::Flush(f) => flush = Some(f),
                other => seen.push(other),
            }
        }
        match flush {
            Some(f) => {
                node.flushed(now, f.sync().map_err(|e| StoreError::Io(e.to_string())));
                effects = node.ready(now);
            }
            None => return seen,
        }
    }
}

/// Writes `batches` committed batches through a solo voter; returns the log's end offset.
fn write_committed(dir: &std::path::Path, batches: usize) -> Offset {
    let counter = Counter {
        start: Offset(0),
        applied: Vec::new(),
    };
    let mut node = DiskNode::new(config(&[NodeId(1)], 7), production_log(dir), counter).unwrap();
    let effects = node.tick(5_000);
    settle_disk(&mut node, 5_000, effects);
    assert_eq!(node.core().role(), RoleKind::Leader);
    for i in 0..batches {
        node.request(
            5_000,
            (0..4)
                .map(|j| RecordData {
                    key: None,
                    value: Some(Bytes::from(format!(
                        "batch {i} record {j} {}",
                        "x".repeat(40)
                    ))),
                })
                .collect(),
        );
        let effects = node.ready(5_000);
        settle_disk(&mut node, 5_000, effects);
    }
    assert_eq!(node.state_machine().applied.len(), batches);
    node.core().log_end_offset()
}

/// Flips one payload byte of the second batch of the oldest segment (covered by its CRC).
fn damage_oldest_segment(dir: &std::path::Path) -> std::path::PathBuf {
    let mut segments: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    segments.sort();
    assert!(segments.len() >= 3, "several segments: {segments:?}");
    let oldest = segments[0].clone();
    let mut bytes = std::fs::read(&oldest).unwrap();
    let first = metaquorum_log::batch::BatchHeader::parse(&bytes, usize::MAX)
        .unwrap()
        .total_bytes();
    let second = metaquorum_log::batch::BatchHeader::parse(&bytes[first..], usize::MAX)
        .unwrap()
        .total_bytes();
    bytes[first + second - 3] ^= 0x10;
    std::fs::write(&oldest, bytes).unwrap();
    oldest
}

// A flipped bit in a sealed segment is not looked for at open with production settings (only
// the last segment is scanned there), so the CRC is checked where batches leave the log: a
// replay of the damaged batch stops the node with code 3, naming the offset, before the
// state machine sees it or anything after it.
#[test]
fn damage_in_a_sealed_segment_stops_the_node_before_replay() {
    let dir = tempfile::tempdir().unwrap();
    write_committed(dir.path(), 40);
    damage_oldest_segment(dir.path());
    let counter = Counter {
        start: Offset(0),
        applied: Vec::new(),
    };
    let mut node = DiskNode::new(config(&[NodeId(1)], 7), production_log(dir.path()), counter)
        .expect("older segments are not scanned at open");
    let effects = node.tick(5_000);
    let seen = settle_disk(&mut node, 5_000, effects);
    let exit = seen.iter().find_map(|e| match e {
        Effect::Exit(exit) => Some((exit.code, exit.reason.clone())),
        _ => None,
    });
    let (code, reason) = exit.expect("the node stops");
    assert_eq!(code, ExitCode::Storage);
    assert!(reason.contains("Cyclic redundancy check"), "{reason}");
    // The first batch (offset 0 is the LeaderChange, then batch 1) replayed; nothing after.
    assert!(
        node.state_machine().applied.len() <= 1,
        "{:?}",
        node.state_machine().applied
    );
}

// The same damage is refused where the leader would serve it: a replica fetching it stops the
// leader (code 3) and gets no answer built from the damaged batch.
#[test]
fn damage_in_a_sealed_segment_is_never_served_to_a_fetching_replica() {
    let dir = tempfile::tempdir().unwrap();
    let end = write_committed(dir.path(), 40);
    damage_oldest_segment(dir.path());
    // Everything is "in the snapshot", so the leader's own replay reads nothing old.
    let counter = Counter {
        start: end,
        applied: Vec::new(),
    };
    let mut node =
        DiskNode::new(config(&[NodeId(1)], 7), production_log(dir.path()), counter).unwrap();
    let effects = node.tick(5_000);
    let seen = settle_disk(&mut node, 5_000, effects);
    assert!(
        seen.iter().all(|e| !matches!(e, Effect::Exit(_))),
        "{seen:?}"
    );
    assert_eq!(node.core().role(), RoleKind::Leader);
    let epoch = node.core().epoch();
    node.step(
        5_001,
        NodeId(9),
        77,
        Message::FetchRequest {
            replica_id: NodeId(9),
            current_leader_epoch: epoch,
            fetch_offset: Offset(0),
            last_fetched_epoch: Epoch(0),
            max_bytes: 1 << 20,
        },
    );
    let effects = node.ready(5_001);
    let seen = settle_disk(&mut node, 5_001, effects);
    assert!(
        seen.iter().all(|e| !matches!(
            e,
            Effect::Reply {
                correlation_id: 77,
                ..
            }
        )),
        "{seen:?}"
    );
    let reason = seen
        .iter()
        .find_map(|e| match e {
            Effect::Exit(Exit {
                code: ExitCode::Storage,
                reason,
            }) => Some(reason.clone()),
            _ => None,
        })
        .expect("the leader stops");
    assert!(reason.contains("for a fetch of 9"), "{reason}");
}
