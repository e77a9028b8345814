#!/usr/bin/env bash
# The mutation score of the KRaft core (controller/src/raft/, see .cargo/mutants.toml), in three
# passes so it fits a small machine. Each pass tests only what the one before left alive
# (--iterate), and each is a subset of the default CI run, so what survives pass 3 survives CI:
#   1. every mutant against the controller crate's own tests (unit tests, the node's tests, the
#      store conformance suite), without the 10 s allocator test that has nothing to do with Raft;
#   2. the survivors against the transcripts and the first 100 simulator seeds: the simulator
#      stops at its first failing seed, so this catches most of them in seconds;
#   3. what is left against the transcripts and the default simulator run (1,000 seeds).
# Results land in $MUTANTS_OUT (default target/mutants); docs/testing.md has the last numbers.
# It takes hours on 2 cores; it runs at idle CPU priority so it can share the machine, and builds
# with the `mutants` profile (no debug info, less optimisation: about half the rebuild time per
# mutant). Usage: scripts/mutants.sh [extra cargo-mutants args, e.g. -j 2 or --shard 1/4]
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo-mutants >/dev/null || cargo install cargo-mutants --locked --version 27.1.0
out="$(pwd)/${MUTANTS_OUT:-target/mutants}"
mkdir -p "$out"
# cargo-mutants copies the source tree once per job, when the job starts: run it from a clean
# snapshot of HEAD so edits made meanwhile cannot leak into a copy (they did: a half-made
# change turned every mutant of one job into "unviable").
src="$(pwd)/target/mutants-src"
git worktree remove --force "$src" 2>/dev/null || rm -rf "$src"
git worktree add --detach "$src" HEAD >/dev/null
trap 'git worktree remove --force "$src" 2>/dev/null || true' EXIT
echo "==> mutating $(git -C "$src" log --oneline -1)"
cd "$src"
idle=()
command -v chrt >/dev/null && idle=(chrt --idle 0)
mutants=("${idle[@]}" cargo mutants --profile mutants --output "$out")
sim=(--iterate --test-package metaquorum-tests "$@" -- --test transcripts --test simulation)
echo "==> pass 1: the controller crate's tests"
"${mutants[@]}" "$@" -- -E 'not test(=alloc::tests::a_huge_untouched_allocation_is_a_cheap_reservation)' || true
echo "==> pass 2: the survivors against the transcripts and the first 100 seeds"
SIM_SEEDS=100 "${mutants[@]}" "${sim[@]}" || true
echo "==> pass 3: the survivors against the transcripts and the default 1,000 seeds"
"${mutants[@]}" "${sim[@]}" || true
echo "==> survivors (missed.txt):"
cat "$out/mutants.out/missed.txt" 2>/dev/null || true
