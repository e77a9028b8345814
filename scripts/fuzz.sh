#!/usr/bin/env bash
# Runs the cargo-fuzz targets for a bounded time each (opt-in; not part of scripts/test.sh).
# Usage: scripts/fuzz.sh [seconds per target, default 60] [target ...]
# Targets: batch_decode (batch framing, CRC, Kafka's record decoder), segment_recovery (the
# log's open/recovery scan on arbitrary segment bytes) and jute_decode (the ZooKeeper protocol's
# framing, requests and responses). Crashes land in fuzz/artifacts/<target>/.
# The machine's toolchain is stable; RUSTC_BOOTSTRAP=1 lets cargo-fuzz use its sanitizer flags.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(batch_decode segment_recovery jute_decode)
if ! command -v cargo-fuzz >/dev/null; then
    echo "installing cargo-fuzz"
    cargo install cargo-fuzz --locked --version 0.13.2
fi
export RUSTC_BOOTSTRAP=1
for t in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$t"
    echo "== fuzzing $t for ${seconds}s"
    (cd fuzz && cargo fuzz run "$t" -O "corpus/$t" "seeds/$t" -- -max_total_time="$seconds" -max_len=65536)
done
