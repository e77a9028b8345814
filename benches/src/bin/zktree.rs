//! The ZooKeeper front's tree alone, before any network: how many bytes of memory a znode takes
//! in the image (growth of the process's anonymous RSS divided by the znodes) and how fast
//! writes are prepared and applied. Usage:
//! `metaquorum-zktree [--znodes N (default 1,000,000)] [--value-bytes B (default 100)]`.
//! Znodes go 1,000 to a parent (`/bench/p<k>/n<i>`), like Kafka's partition state nodes.

use std::time::Instant;

use bytes::Bytes;
use metaquorum_zk::proto::request::CreateRequest;
use metaquorum_zk::proto::{Acl, Request};
use metaquorum_zk::tree::DataTree;
use metaquorum_zk::txn::{apply, prepare, Caller, Features, TxnHeader};

/// The allocator the `metaquorum` binary runs with.
#[global_allocator]
static ALLOCATOR: metaquorum_controller::alloc::ReservingAllocator =
    metaquorum_controller::alloc::ReservingAllocator;

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn main() {
    let znodes = arg("--znodes", 1_000_000);
    let value_bytes = arg("--value-bytes", 100);
    let value = Bytes::from(vec![b'v'; value_bytes]);
    let acl = Acl::open_unsafe();
    let caller = Caller {
        session_id: 1,
        ids: &[],
    };
    let mut tree = DataTree::new();
    let mut zxid = 0i64;
    let mut create = |tree: &mut DataTree, path: String, data: Option<Bytes>| {
        let request = Request::Create(CreateRequest {
            path,
            data,
            acl: acl.clone(),
            flags: 0,
            ttl_ms: None,
        });
        let txn = prepare(tree, caller, &request, Features::default()).expect("a valid create");
        zxid += 1;
        let header = TxnHeader {
            session_id: 1,
            zxid,
            time_ms: 1_700_000_000_000 + zxid,
        };
        apply(tree, &header, &txn);
    };
    create(&mut tree, "/bench".into(), None);
    let before_kib = metaquorum_benches::rss_anon_kib();
    let started = Instant::now();
    for i in 0..znodes {
        if i % 1_000 == 0 {
            create(&mut tree, format!("/bench/p{}", i / 1_000), None);
        }
        create(
            &mut tree,
            format!("/bench/p{}/n{i}", i / 1_000),
            Some(value.clone()),
        );
    }
    let elapsed = started.elapsed();
    let grown = metaquorum_benches::rss_anon_kib().saturating_sub(before_kib) * 1024;
    let made = znodes + znodes.div_ceil(1_000);
    println!(
        "{made} znodes ({value_bytes}-byte values) in {:.2} s: {:.0} creates/s prepared and applied; \
         anonymous RSS grew {:.1} MiB, {:.0} bytes per znode; {} znodes in the tree",
        elapsed.as_secs_f64(),
        made as f64 / elapsed.as_secs_f64(),
        grown as f64 / 1048576.0,
        grown as f64 / made as f64,
        tree.node_count(),
    );
}
