#!/usr/bin/env bash
# Hand-written mutants of the consensus core, each run against the simulator's default seeds:
# every one must be caught (the simulator fails). Opt-in (it rebuilds and simulates once per
# mutant, several minutes): `scripts/sim-mutants.sh [seeds]`. Restores the sources when done or
# interrupted; exits non-zero if a mutant survives. docs/testing.md records the results.
set -euo pipefail
cd "$(dirname "$0")/.."
SEEDS=${1:-1000}
backup=$(mktemp -d)
restore() {
    for f in "$backup"/*.path; do
        [ -e "$f" ] || continue
        cp "${f%.path}" "$(cat "$f")"
    done
}
trap restore EXIT

survivors=0
mutant() {
    local name=$1 file=$2 from=$3 to=$4
    local key
    key=$(echo "$file" | tr '/' '_')
    cp "$file" "$backup/$key"
    echo "$file" > "$backup/$key.path"
    python3 - "$file" "$from" "$to" <<'PY'
import sys
path, old, new = sys.argv[1:]
text = open(path).read()
if text.count(old) != 1:
    sys.exit(f"{path}: the mutated line is not there exactly once: {old!r}")
open(path, "w").write(text.replace(old, new))
PY
    local out
    out=$(SIM_SEEDS=$SEEDS timeout 1800 cargo test -q -p metaquorum-tests --test simulation 2>&1 || true)
    cp "$backup/$key" "$file"
    local caught
    caught=$(echo "$out" | grep -a -o -m1 'seed=[0-9]* t=[0-9]*ms: .*' | cut -c1-160 || true)
    if [ -n "$caught" ]; then
        echo "caught   $name: $caught"
    else
        echo "SURVIVED $name"
        survivors=$((survivors + 1))
    fi
}

mutant figure8 controller/src/raft/core/leader.rs \
    "if candidate > l.epoch_start_offset && candidate > self.high_watermark {" \
    "if candidate > self.high_watermark {"
mutant leader_counts_before_fsync controller/src/raft/core/leader.rs \
    "let own = self.store.durable_end_offset();" \
    "let own = self.log_end;"
mutant vote_not_persisted controller/src/raft/core/election.rs \
    "            self.transition(self.epoch, None, Some(candidate), role);" \
    "            let _ = role;"
mutant diverging_epoch_ignored controller/src/raft/core/follower.rs \
    "if let Some(d) = diverging {" \
    "if let Some(d) = diverging.filter(|_| false) {"

[ "$survivors" -eq 0 ] || { echo "$survivors mutant(s) survived"; exit 1; }
echo "every mutant was caught"
