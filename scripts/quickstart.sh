#!/usr/bin/env bash
# The README's "run" command until `metaquorum local-cluster` exists: builds the binary and shows
# the storage tool end to end on a throw-away directory — a new cluster id, format, info, and a
# dump of the bootstrap files format wrote.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release -p metaquorum-tools
bin=target/release/metaquorum
work=$(mktemp -d "${TMPDIR:-/tmp}/metaquorum-quickstart.XXXXXX")
trap 'rm -rf "$work"' EXIT
run() { printf '\n$ %s\n' "$*"; "$@"; }

cluster_id=$($bin storage random-uuid)
printf '$ metaquorum storage random-uuid\n%s\n' "$cluster_id"
run "$bin" storage format -c config/controller.properties --override "log.dirs=$work/controller-1" -t "$cluster_id"
run "$bin" storage info -c config/controller.properties --override "log.dirs=$work/controller-1"
printf '\n$ find %s\n' "$work/controller-1"
find "$work/controller-1" | sort
run "$bin" log dump "$work/controller-1/__cluster_metadata-0"
printf '\nFormatting again is refused:\n'
run "$bin" storage format -c config/controller.properties --override "log.dirs=$work/controller-1" -t "$cluster_id" || echo "(exit code $?)"
