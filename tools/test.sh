#!/usr/bin/env bash
# The whole test suite: Rust unit, property, crash and golden tests, then the benchmark smoke run.
# CI runs exactly this (see .ci/run); it installs whatever the tests need by itself.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
# The server binary is built first so integration tests can start it on a loopback port.
cargo build --workspace --bins
cargo test --workspace --no-fail-fast

# Real-client tests (tests/clients/, issue 4): clickhouse-connect, pandas and pyarrow against the
# binary built above, from a venv under target/ so the packages are installed once.
if ! target/test-venv/bin/python -c 'import sys' 2>/dev/null; then
  rm -rf target/test-venv
fi
python3 -m venv target/test-venv
target/test-venv/bin/python -m pip install -q --disable-pip-version-check -r tests/clients/requirements.txt -r tests/ingest/requirements.txt
# Two runs: each directory has its own conftest with its own server fixture.
PYTHONDONTWRITEBYTECODE=1 target/test-venv/bin/python -m pytest -q -p no:cacheprovider tests/clients
PYTHONDONTWRITEBYTECODE=1 target/test-venv/bin/python -m pytest -q -p no:cacheprovider tests/ingest

# Benchmarks are not tests; this only checks that every suite runs and its answers agree.
if [ -f bench/src/main.rs ]; then
  # The http, ingest and peers suites start the real server (and http a tokio/hyper baseline).
  cargo build -p engine -p bench --profile smoke --bin ronto --bin ronto-ping-baseline
  cargo run -p bench --profile smoke -- all --quick --out target/bench-smoke
fi
