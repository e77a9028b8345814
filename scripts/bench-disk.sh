#!/usr/bin/env bash
# The physical limits the log benchmarks are compared with, measured by fio on the same
# directory: fdatasync latency (4 KiB writes, each followed by fdatasync) and sequential durable
# write bandwidth (2 MiB writes, each followed by fdatasync, the shape of a large group commit).
# Usage: scripts/bench-disk.sh [dir]   (default: $METAQUORUM_BENCH_DIR or the system temp dir)
set -euo pipefail
dir="${1:-${METAQUORUM_BENCH_DIR:-${TMPDIR:-/tmp}}}"
command -v fio >/dev/null || { echo "fio is not installed (apt-get install fio)" >&2; exit 1; }
work=$(mktemp -d "$dir/fio.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "== fdatasync latency: 4 KiB sequential writes, fdatasync after each"
fio --name=fdatasync-latency --directory="$work" --rw=write --bs=4k --size=64m \
    --ioengine=sync --fdatasync=1 --output-format=json >"$work/lat.json"
python3 - "$work/lat.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))["jobs"][0]
sync = j.get("sync", {})
lat = sync.get("lat_ns") or {}
pct = lat.get("percentile", {})
print(f"fdatasync: {j['write']['total_ios']} calls, mean {lat.get('mean', 0)/1000:.1f} us, "
      f"p50 {pct.get('50.000000', 0)/1000:.1f} us, p99 {pct.get('99.000000', 0)/1000:.1f} us")
print(f"write IOPS with fdatasync: {j['write']['iops']:.0f}")
PY
echo "== sequential durable write bandwidth: 2 MiB writes, fdatasync after each"
fio --name=durable-seq-write --directory="$work" --rw=write --bs=2m --size=2g \
    --ioengine=sync --fdatasync=1 --output-format=json >"$work/bw.json"
python3 - "$work/bw.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))["jobs"][0]
print(f"durable sequential write: {j['write']['bw_bytes']/1e6:.1f} MB/s")
PY
