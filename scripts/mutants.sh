#!/usr/bin/env bash
# The mutation score of the KRaft core (controller/src/raft/, see .cargo/mutants.toml), in two
# passes so it fits a small machine:
#   1. every mutant against the controller crate's own tests (unit tests, the node's tests,
#      the store conformance suite): cheap to build, and they catch most mutants;
#   2. only the mutants that survived pass 1 (--iterate), against the transcripts and the
#      default simulator run of the tests crate.
# What survives pass 2 survives the default CI run. Results land in $MUTANTS_OUT (default
# target/mutants); docs/testing.md has the last numbers. It takes hours on 2 cores; it runs at
# idle CPU priority so it can share the machine, and builds with the `mutants` profile (no
# debug info, less optimisation: about half the rebuild time per mutant). Usage: scripts/mutants.sh [extra cargo-mutants
# args, e.g. --shard 1/4]
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
echo "==> pass 1: the controller crate's tests"
"${idle[@]}" cargo mutants --profile mutants --output "$out" "$@" || true
echo "==> pass 2: the survivors against the transcripts and the simulator"
"${idle[@]}" cargo mutants --profile mutants --output "$out" --iterate --test-package metaquorum-tests "$@" \
    -- -E 'binary(transcripts) | binary(simulation)' || true
echo "==> survivors (missed.txt):"
cat "$out/mutants.out/missed.txt" 2>/dev/null || true
