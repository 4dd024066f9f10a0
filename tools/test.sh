#!/usr/bin/env bash
# The whole test suite: Rust unit, property, crash and golden tests, then the benchmark smoke run.
# CI runs exactly this (see .ci/run); it installs whatever the tests need by itself.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
# The server binary is built first so integration tests can start it on a loopback port.
cargo build --workspace --bins
cargo test --workspace --no-fail-fast

# Benchmarks are not tests; this only checks that every suite runs and its answers agree.
if [ -f bench/src/main.rs ]; then
  cargo run -p bench --release -- all --quick --out target/bench-smoke
fi
