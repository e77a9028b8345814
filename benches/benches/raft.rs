//! Criterion benchmark of the consensus core alone: 3 voters in memory (MemStore, no fsync), no
//! network (messages handed straight to their destination), one thread. Reports committed
//! records per second for proposals of 1, 100 and 1,000 records of 100 bytes:
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
use metaquorum_controller::raft::{
    LogStore, MemStore, Message, NodeId, RaftConfig, RaftCore, RoleKind,
};
use metaquorum_log::batch::RecordData;

struct Cluster {
    nodes: Vec<RaftCore<MemStore>>,
    queue: VecDeque<(NodeId, NodeId, u64, Message)>,
    now: u64,
}

impl Cluster {
    fn new() -> Cluster {
        let voters: BTreeSet<NodeId> = (1..=3).collect();
        let nodes = (1..=3)
            .map(|id| {
                RaftCore::new(
                    RaftConfig::new(id),
                    MemStore::new(),
                    voters.clone(),
                    None,
                    0,
                    id as u64,
                )
            })
            .collect();
        let mut c = Cluster {
            nodes,
            queue: VecDeque::new(),
            now: 0,
        };
        // Node 1's election timer fires first; run until it leads.
        c.now = 2_500;
        c.nodes[0].tick(c.now);
        c.pump();
        assert_eq!(c.nodes[0].role(), RoleKind::Leader);
        c
    }

    fn drive(&mut self, i: usize) {
        loop {
            let core = &mut self.nodes[i];
            let ready = core.ready();
            if ready.is_empty() {
                return;
            }
            for op in ready.log_ops {
                core.store_mut().apply(op).expect("apply");
            }
            let from = core.node_id();
            self.queue.extend(
                ready
                    .messages
                    .into_iter()
                    .map(|(to, cid, m)| (from, to, cid, m)),
            );
            if ready.flush {
                core.store_mut().flush().expect("flush");
                core.handle_log_flushed(self.now);
            }
            core.advance();
        }
    }

    fn pump(&mut self) {
        for i in 0..self.nodes.len() {
            self.drive(i);
        }
        while let Some((from, to, cid, m)) = self.queue.pop_front() {
            let i = (to - 1) as usize;
            self.nodes[i].step(self.now, from, cid, m);
            self.drive(i);
        }
    }

    /// Proposes `proposals` proposals of `records` records, runs until they commit.
    fn commit(&mut self, proposals: usize, records: usize, value: &Bytes) {
        let target = self.nodes[0].log_end_offset() + (proposals * records) as i64;
        for _ in 0..proposals {
            let batch = vec![
                RecordData {
                    key: None,
                    value: Some(value.clone()),
                };
                records
            ];
            self.nodes[0].propose(batch).expect("leader accepts");
        }
        self.drive(0);
        while self.nodes[0].high_watermark() < target {
            self.pump();
            if self.queue.is_empty() && self.nodes[0].high_watermark() < target {
                // Parked fetches answer on the long-poll deadline: let time pass.
                self.now += 1;
                for i in 0..self.nodes.len() {
                    self.nodes[i].tick(self.now);
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
