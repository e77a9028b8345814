#!/usr/bin/env bash
# The README's test command: installs what the tests need when it is missing (idempotent), then
# runs cargo fmt --check, clippy with warnings denied, and every test of the workspace. Exits
# non-zero on the first failing step. Every step is bounded in time.
#
# Opt-in extras (off by default, they take long):
#   METAQUORUM_FUZZ_SECONDS=N   also run each fuzz target for N seconds (scripts/fuzz.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests start for real (kcat; ZooKeeper 3.8, run with the system JRE).
# Installed only when missing.
APT_PACKAGES=(kcat zookeeper)
# Python packages the tests drive (pip). Installed only when missing.
PIP_PACKAGES=(kafka-python==3.0.12 confluent-kafka==2.16.1 kazoo==2.10.0)

step() { printf '\n==> %s\n' "$*"; }

install_apt() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        step "installing Debian packages: ${missing[*]}"
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
    fi
}

install_pip() {
    local missing=()
    for p in "$@"; do
        python3 -m pip show -q "${p%%==*}" >/dev/null 2>&1 || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        step "installing Python packages: ${missing[*]}"
        python3 -m pip install -q "${missing[@]}"
    fi
}

for tool in cargo rustfmt cargo-clippy; do
    command -v "$tool" >/dev/null || { echo "missing $tool: install the Rust toolchain with rustfmt and clippy" >&2; exit 1; }
done
[ ${#APT_PACKAGES[@]} -eq 0 ] || install_apt "${APT_PACKAGES[@]}"
[ ${#PIP_PACKAGES[@]} -eq 0 ] || install_pip "${PIP_PACKAGES[@]}"

step "cargo fmt --check"
timeout 300 cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
timeout 1800 cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo check the fuzz targets (running them is opt-in: METAQUORUM_FUZZ_SECONDS)"
timeout 1200 cargo check --manifest-path fuzz/Cargo.toml --locked --bins

step "build the metaquorum binary (the multi-process tests run it)"
timeout 1800 cargo build -p metaquorum-tools --locked

step "tests"
if command -v cargo-nextest >/dev/null; then
    timeout 1800 cargo nextest run --workspace --locked --profile ci
    timeout 600 cargo test --workspace --locked --doc
else
    timeout 1800 cargo test --workspace --locked
fi

if [ -n "${METAQUORUM_FUZZ_SECONDS:-}" ]; then
    step "fuzzing, ${METAQUORUM_FUZZ_SECONDS}s per target"
    scripts/fuzz.sh "$METAQUORUM_FUZZ_SECONDS"
fi

step "all checks passed"
