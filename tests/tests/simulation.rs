//! The seeded cluster simulator over many seeds: clusters of 1, 3 and 5 voters plus observers,
//! faults drawn from each seed, invariants after every event, then a liveness phase.
//!
//! `SIM_SEED=<n>` replays one seed (add `SIM_TRACE=1` to print the last events on failure);
//! `SIM_SEEDS=<n>` runs that many seeds (default 1,000), from `SIM_SEED_START` (default 0);
//! `SIM_KEEP_GOING=1` runs them all and lists every failing seed instead of stopping at the first.

use metaquorum_tests::sim::run_seed;

#[test]
fn seeded_clusters_stay_safe_and_converge() {
    if let Some(seed) = std::env::var("SIM_SEED").ok().and_then(|s| s.parse().ok()) {
        let stats = run_seed(seed);
        eprintln!("seed {seed}: {stats:?}");
        return;
    }
    let seeds: u64 = std::env::var("SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000);
    let mut total = metaquorum_tests::sim::SimStats::default();
    let first: u64 = std::env::var("SIM_SEED_START")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let keep_going = std::env::var_os("SIM_KEEP_GOING").is_some();
    let mut failed = Vec::new();
    for seed in first..first + seeds {
        let s = match std::panic::catch_unwind(|| run_seed(seed)) {
            Ok(s) => s,
            Err(_) if keep_going => {
                failed.push(seed);
                continue;
            }
            Err(_) => panic!("seed {seed} failed: replay with SIM_SEED={seed} SIM_TRACE=1"),
        };
        total.events += s.events;
        total.delivered += s.delivered;
        total.crashes += s.crashes;
        total.elections += s.elections;
        total.committed_proposals += s.committed_proposals;
        total.snapshots_installed += s.snapshots_installed;
        total.writes.0 += s.writes.0;
        total.writes.1 += s.writes.1;
        total.writes.2 += s.writes.2;
        total.images_checked += s.images_checked;
        total.controlled_shutdowns += s.controlled_shutdowns;
        total.star_holds += s.star_holds;
        total.star_progress_ms_max = total.star_progress_ms_max.max(s.star_progress_ms_max);
        total.cycles = total.cycles.max(s.cycles);
        total.long_histories += s.long_histories;
    }
    assert!(failed.is_empty(), "failing seeds: {failed:?}");
    eprintln!("{seeds} seeds: {total:?}");
    // The runs did something: leaders were elected, proposals committed, nodes crashed and
    // snapshots were installed.
    assert!(total.elections >= seeds);
    assert!(total.committed_proposals > seeds);
    if seeds >= 100 {
        assert!(
            total.crashes > 0 && total.snapshots_installed > 0,
            "{total:?}"
        );
        // Some seeds ran long histories: many leader changes, each heal checked for liveness.
        assert!(total.long_histories > 0 && total.cycles > 3, "{total:?}");
        // The metadata workload ran: writes were acknowledged and refused, images compared,
        // brokers shut down under control.
        assert!(
            total.writes.0 > seeds
                && total.writes.1 > 0
                && total.images_checked > seeds
                && total.controlled_shutdowns > 0,
            "{total:?}"
        );
    }
}
