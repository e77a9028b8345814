#!/usr/bin/env bash
# The mutation score of the KRaft core (controller/src/raft/, see .cargo/mutants.toml), in three
# passes so it fits a small machine. Each pass tests only what the passes before left alive, and
# each is a subset of the default CI run, so what survives pass 3 survives CI:
#   1. every mutant against the controller crate's own tests (unit tests, the node's tests, the
#      store conformance suite), without the 10 s allocator test that has nothing to do with Raft;
#      built with the `mutants` profile (no optimisation, no debug info: the cheapest rebuild);
#   2. the survivors against the transcripts and the first 100 simulator seeds (the simulator
#      stops at its first failing seed, so this catches most of them in seconds); built with
#      `mutants-sim` (the simulator's usual optimisation);
#   3. what is left against the transcripts and the default simulator run (1,000 seeds).
#
# It takes hours on 2 cores, so it resumes: what each pass decided is kept, one line per mutant
# ("caught|missed|timeout|unviable <mutant>"), in docs/mutants/pass<N>.txt, which is committed;
# a pass skips what it already tested and what an earlier pass caught (cargo-mutants --iterate). A run that is stopped loses
# only the mutants in flight. docs/mutants/survivors.txt lists what survived all three passes.
# It runs at idle CPU priority so it can share the machine, from a clean worktree snapshot of
# HEAD (cargo-mutants copies the tree when each job starts; a copy taken mid-edit once made every
# mutant of one job unviable).
#
# Usage: scripts/mutants.sh [extra cargo-mutants args, e.g. -j 2]
#        scripts/mutants.sh --harvest    only fold finished outcomes from target/ into docs/mutants
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
state="$root/docs/mutants"
out="$root/target/mutants"
mkdir -p "$state" "$out"

# Folds the outcomes cargo-mutants has written for pass $1 into its state file.
harvest() {
    local pass=$1 dir="$out/pass$1/mutants.out" file="$state/pass$1.txt"
    touch "$file"
    {
        cat "$file"
        for kind in caught timeout unviable missed; do
            if [ -f "$dir/$kind.txt" ]; then sed "s/^/$kind /" "$dir/$kind.txt"; fi
        done
    } | sort -u -k2 | sort -k2 >"$file.new"
    mv "$file.new" "$file"
}

# The mutants pass $1 need not test: those an earlier pass caught (or found unviable or hanging),
# and those pass $1 itself already tested.
decided() {
    local pass
    for pass in $(seq 1 "$(($1 - 1))"); do
        grep -v '^missed ' "$state/pass$pass.txt" | cut -d' ' -f2- || true
    done
    cut -d' ' -f2- "$state/pass$1.txt"
}

for pass in 1 2 3; do harvest "$pass"; done
if [ "${1:-}" = "--harvest" ]; then
    exit 0
fi

command -v cargo-mutants >/dev/null || cargo install cargo-mutants --locked --version 27.1.0
src="$root/target/mutants-src"
git worktree remove --force "$src" 2>/dev/null || rm -rf "$src"
git worktree add --detach "$src" HEAD >/dev/null
trap 'git worktree remove --force "$src" 2>/dev/null || true' EXIT
echo "==> mutating $(git -C "$src" log --oneline -1)"
cd "$src"
idle=()
command -v chrt >/dev/null && idle=(chrt --idle 0)
# Property tests run the same cases for every mutant, and a failure is not written back into the
# scratch copy: otherwise a property that fails once by chance (as one did, with a real bug
# behind it) fails for every later mutant and marks them all "caught".
export PROPTEST_RNG_SEED=0 PROPTEST_DISABLE_FAILURE_PERSISTENCE=1

run_pass() {
    local pass=$1 profile=$2
    shift 2
    local dir="$out/pass$pass/mutants.out"
    mkdir -p "$dir"
    decided "$pass" >"$dir/previously_caught.txt"
    rm -f "$dir"/{caught,unviable,timeout,missed}.txt
    echo "==> pass $pass: $(wc -l <"$dir/previously_caught.txt") mutants already decided"
    local status=0
    "${idle[@]}" cargo mutants --profile "$profile" --output "$out/pass$pass" --iterate "$@" ||
        status=$?
    harvest "$pass"
    # 0: all caught, 2: some missed, 3: some timed out. Anything else (a failed baseline, an
    # interruption) leaves the pass unfinished, and the next pass must not start.
    case $status in
    0 | 2 | 3) ;;
    *)
        echo "==> pass $pass stopped (cargo-mutants exit $status); run again to resume" >&2
        exit "$status"
        ;;
    esac
}

all="$(cargo mutants --list 2>/dev/null | wc -l)"
run_pass 1 mutants "$@" -- -E 'not test(=alloc::tests::a_huge_untouched_allocation_is_a_cheap_reservation)'
# cargo-mutants 27.1 runs its baseline on the mutated package's tests whatever --test-package
# says (lab.rs, run_baseline), and the controller has no transcripts or simulation tests, so the
# baseline "fails". The full test run already shows these tests pass unmutated: skip the
# baseline and give each mutant a fixed limit instead of one derived from it.
sim=(--test-package metaquorum-tests --baseline skip --timeout 900 --build-timeout 900
    "$@" -- --test transcripts --test simulation)
export SIM_SEEDS=100
run_pass 2 mutants-sim "${sim[@]}"
unset SIM_SEEDS
run_pass 3 mutants-sim "${sim[@]}"
grep '^missed ' "$state/pass3.txt" | cut -d' ' -f2- >"$state/survivors.txt" || true
echo "==> $(wc -l <"$state/survivors.txt") of $all mutants survive (docs/mutants/survivors.txt)"
