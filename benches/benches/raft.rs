//! Criterion benchmark of the replica alone: 3 voters, each the real node (the consensus core
//! with the node's loop: `Ready`s performed, effects handed out, group commit) over a
//! `MemStore` (flushes complete at once, no fsync), no network (messages handed straight to their
//! destination), one thread, and a state machine that only proposes. Reports committed records
//! per second for proposals of 1, 100 and 1,000 records of 100 bytes:
//!
//! - `raft_core/pipelined/<B>`: 10,000 records proposed at once as 10,000/B proposals, then the
//!   cluster is run until the leader's high watermark covers them (the core packs proposals
//!   into batches of up to 10,000 records);
//! - `raft_core/one_at_a_time/<B>`: one proposal, run to commit, repeat — every proposal pays the
//!   full fetch round trips.

use std::collections::{BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use metaquorum_controller::node::{Ctx, Effect, Node, NodeConfig, StateMachine};
use metaquorum_controller::raft::{
    Batch, MemStore, Message, Millis, NodeId, Offset, ProposalId, ProposalOutcome, RaftConfig,
    RoleKind,
};
use metaquorum_log::batch::RecordData;

/// Proposes what it is handed; applies nothing.
struct Proposer;

impl StateMachine<MemStore> for Proposer {
    type Request = Vec<RecordData>;

    fn load(
        &mut self,
        _store: &MemStore,
    ) -> Result<Offset, metaquorum_controller::snapshots::SnapshotError> {
        Ok(Offset(0))
    }

    fn apply(&mut self, _batch: &Batch, _ctx: &mut Ctx<'_, MemStore>) {}

    fn handle(&mut self, records: Vec<RecordData>, ctx: &mut Ctx<'_, MemStore>) {
        ctx.propose(records).expect("the leader accepts");
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

struct Cluster {
    nodes: Vec<Node<Proposer, MemStore>>,
    queue: VecDeque<(NodeId, NodeId, u64, Message)>,
    now: u64,
}

impl Cluster {
    fn new() -> Cluster {
        let voters: BTreeSet<NodeId> = (1..=3).map(NodeId).collect();
        let nodes = (1..=3)
            .map(|id| {
                let config = NodeConfig {
                    raft: RaftConfig::new(NodeId(id)),
                    voters: voters.clone(),
                    persisted: None,
                    seed: id as u64,
                    now_ms: 0,
                    wall_ms_at_zero: 0,
                };
                Node::new(config, MemStore::new(), Proposer).expect("node")
            })
            .collect();
        let mut c = Cluster {
            nodes,
            queue: VecDeque::new(),
            now: 0,
        };
        // Node 1's election timer fires first; run until it leads.
        c.now = 2_500;
        let effects = c.nodes[0].tick(c.now);
        c.perform(0, effects);
        c.pump();
        assert_eq!(c.nodes[0].core().role(), RoleKind::Leader);
        c
    }

    /// Performs one node's effects: messages queued, flushes completed at once.
    fn perform(
        &mut self,
        i: usize,
        mut effects: Vec<Effect<metaquorum_controller::raft::MemFlush>>,
    ) {
        loop {
            let from = self.nodes[i].core().node_id();
            let mut flush = None;
            for e in effects {
                match e {
                    Effect::Send {
                        to,
                        correlation_id,
                        message,
                    }
                    | Effect::Reply {
                        to,
                        correlation_id,
                        message,
                    } => self.queue.push_back((from, to, correlation_id, message)),
                    Effect::Flush(f) => flush = Some(f),
                    Effect::Exit(e) => panic!("node {from} exits: {}", e.reason),
                    _ => {}
                }
            }
            match flush {
                Some(f) => {
                    self.nodes[i].flushed(self.now, Ok(f));
                    effects = self.nodes[i].ready(self.now);
                }
                None => return,
            }
        }
    }

    fn pump(&mut self) {
        for i in 0..self.nodes.len() {
            let effects = self.nodes[i].ready(self.now);
            self.perform(i, effects);
        }
        while let Some((from, to, cid, m)) = self.queue.pop_front() {
            let i = (to.get() - 1) as usize;
            self.nodes[i].step(self.now, from, cid, m);
            let effects = self.nodes[i].ready(self.now);
            self.perform(i, effects);
        }
    }

    /// Proposes `proposals` proposals of `records` records, runs until they commit.
    fn commit(&mut self, proposals: usize, records: usize, value: &Bytes) {
        let target = self.nodes[0].core().log_end_offset() + (proposals * records) as i64;
        for _ in 0..proposals {
            let batch = vec![
                RecordData {
                    key: None,
                    value: Some(value.clone()),
                };
                records
            ];
            self.nodes[0].request(self.now, batch);
        }
        let effects = self.nodes[0].ready(self.now);
        self.perform(0, effects);
        while self.nodes[0].core().high_watermark() < target {
            self.pump();
            if self.queue.is_empty() && self.nodes[0].core().high_watermark() < target {
                // Parked fetches answer on the long-poll deadline: let time pass.
                self.now += 1;
                for i in 0..self.nodes.len() {
                    let effects = self.nodes[i].tick(self.now);
                    self.perform(i, effects);
                }
            }
        }
    }
}

const RECORDS_PER_ITERATION: usize = 10_000;

fn bench_core(c: &mut Criterion) {
    let value = Bytes::from(vec![0x5a; 100]);
    let mut group = c.benchmark_group("raft_core");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(6));
    for batch in [1usize, 100, 1000] {
        group.throughput(Throughput::Elements(RECORDS_PER_ITERATION as u64));
        group.bench_with_input(BenchmarkId::new("pipelined", batch), &batch, |b, &batch| {
            b.iter_batched_ref(
                Cluster::new,
                |cluster| cluster.commit(RECORDS_PER_ITERATION / batch, batch, &value),
                criterion::BatchSize::LargeInput,
            )
        });
    }
    for batch in [1usize, 100] {
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_with_input(
            BenchmarkId::new("one_at_a_time", batch),
            &batch,
            |b, &batch| {
                b.iter_custom(|iters| {
                    let mut spent = Duration::ZERO;
                    let mut cluster = Cluster::new();
                    for i in 0..iters {
                        // A fresh cluster now and then keeps memory flat (no snapshots here).
                        if i % 5_000 == 4_999 {
                            cluster = Cluster::new();
                        }
                        let start = Instant::now();
                        cluster.commit(1, batch, &value);
                        spent += start.elapsed();
                    }
                    spent
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, bench_core);
criterion_main!(benches);
