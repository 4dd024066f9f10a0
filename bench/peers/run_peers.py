#!/usr/bin/env python3
"""Runs the `peers` benchmark queries in chDB (ClickHouse in-process) and DuckDB.

Driven by `ronto-bench peers` (bench/src/suites/peers.rs), which writes a JSON spec and reads
back a JSON result. Not meant to be run by hand, but it can be:

    python3 bench/peers/run_peers.py --spec SPEC.json --out RESULT.json --venv target/bench-venv

Started with any python3, it first makes sure that a virtual environment at --venv holds the
pinned packages of requirements.txt beside this file (creating it with `python3 -m venv` and
`pip install` when missing or stale), then re-runs itself with that environment's interpreter.
If that is impossible (no venv module, no network to PyPI), it prints a line starting with
`SKIP:` on stderr and exits with status 3, so that a smoke run can skip the peers cleanly.

Spec (written by the Rust side):
    {"csv": "/abs/trades.csv", "rows": 10000000, "work_dir": "/abs/scratch",
     "engines": ["chdb", "duckdb"], "thread_counts": [null, 1],
     "warmup": 3, "min_iters": 10, "max_iters": 100000, "budget_s": 3.0,
     "queries": [{"id": "vwap-one", "chdb": "SELECT ...", "duckdb": "SELECT ..."}, ...]}

The CSV has a header `timestamp,symbol,price,volume`; timestamp is integer nanoseconds since
the epoch (UTC), price has at most 2 decimals.

Each engine is loaded the way its users would load ticks:
  * chDB: a Session on a directory, `MergeTree ORDER BY (symbol, timestamp)` with
    `timestamp DateTime64(9)`, `symbol LowCardinality(String)`, filled by INSERT ... SELECT
    from file(CSVWithNames) and merged to one part with OPTIMIZE TABLE ... FINAL. Queries run
    with `Session.query(sql, "ArrowTable")`: a columnar result the caller can use.
  * DuckDB: an in-memory connection, `timestamp BIGINT` (nanoseconds: the fastest type for
    nanosecond bucketing in DuckDB), `symbol VARCHAR`, rows inserted sorted by (symbol,
    timestamp) so zone maps prune by symbol. Queries run with
    `con.execute(sql).fetchnumpy()`: a columnar result.
Each engine is loaded once, then every query is run at each entry of `thread_counts` (null:
the engine's default, which is every core; 1: one thread, for a per-core comparison).

Each query runs `warmup` times (the first run's answer is reported), then is timed until
`budget_s` has passed and at least `min_iters` runs were made (at most `max_iters`). A sample
is the wall time of the client call that returns the complete result, from
time.perf_counter_ns().

Result:
    {"python": "3.11.7", "engines": {"chdb": {"version": "...", "load_s": 5.0, "rows": 10000000,
     "select1_p50_ns": 640000,
     "runs": [{"threads": 2, "default": true,
               "queries": {"vwap-one": {"samples_ns": [...], "answer": [[...], ...]}}}]}}}
Answers are lists of rows; timestamps are integer nanoseconds.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REQUIREMENTS = os.path.join(HERE, "requirements.txt")
SKIP_STATUS = 3
MARKER = "ronto-requirements.txt"
# A slow or unreachable PyPI must not stall a CI smoke run: past this, the peers are skipped.
PIP_TIMEOUT_S = 300


def log(msg):
    print("  [peers.py] " + msg, file=sys.stderr, flush=True)


def skip(msg):
    print("SKIP: " + msg, file=sys.stderr, flush=True)
    sys.exit(SKIP_STATUS)


def in_venv(venv):
    return os.path.realpath(sys.prefix) == os.path.realpath(venv)


def ensure_venv_and_reexec(venv):
    """Creates or refreshes the virtual environment, then replaces this process with the same
    script under the environment's interpreter."""
    py = os.path.join(venv, "bin", "python")
    marker = os.path.join(venv, MARKER)
    with open(REQUIREMENTS) as f:
        wanted = f.read()
    current = None
    if os.path.exists(marker):
        with open(marker) as f:
            current = f.read()
    if not os.path.exists(py) or current != wanted:
        started = time.time()
        log("installing %s into %s" % (os.path.relpath(REQUIREMENTS), venv))
        try:
            if not os.path.exists(py):
                subprocess.run([sys.executable, "-m", "venv", venv], check=True,
                               stdout=sys.stderr)
            subprocess.run([py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                            "-r", REQUIREMENTS], check=True, stdout=sys.stderr,
                           timeout=PIP_TIMEOUT_S)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as e:
            skip("cannot set up the peer engines' virtual environment at %s (%s); "
                 "install python3-venv and reach PyPI, or set RONTO_BENCH_VENV" % (venv, e))
        with open(marker, "w") as f:
            f.write(wanted)
        log("installed in %.1f s" % (time.time() - started))
    os.execv(py, [py, os.path.abspath(__file__)] + sys.argv[1:])


# ---------------------------------------------------------------------------------------------
# Result normalization: every engine's answer becomes a list of rows of JSON scalars, with
# timestamps as integer nanoseconds, so the Rust side compares values, not types.

def arrow_rows(table):
    import pyarrow as pa
    cols = []
    for col in table.columns:
        t = col.type
        if pa.types.is_timestamp(t):
            scale = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}[t.unit]
            vals = [None if v is None else v * scale for v in col.cast(pa.int64()).to_pylist()]
        elif pa.types.is_uint32(t):
            # ClickHouse's Arrow output encodes DateTime (seconds) as uint32; no benchmark
            # query returns a real UInt32 (a wrong guess here fails the answer check loudly).
            vals = [None if v is None else v * 10**9 for v in col.to_pylist()]
        elif pa.types.is_decimal(t):
            vals = [None if v is None else float(v) for v in col.to_pylist()]
        else:
            vals = col.to_pylist()
        cols.append(vals)
    return [list(r) for r in zip(*cols)] if cols else []


def numpy_rows(result):
    import numpy as np
    cols = []
    for arr in result.values():
        if np.ma.isMaskedArray(arr):
            arr = arr.filled(None) if arr.mask.any() else arr.data
        if arr.dtype.kind == "M":
            arr = arr.astype("datetime64[ns]").astype(np.int64)
        vals = [v.item() if hasattr(v, "item") else v for v in arr.tolist()] \
            if arr.dtype == object else arr.tolist()
        cols.append([float(v) if type(v).__name__ == "Decimal" else v for v in vals])
    return [list(r) for r in zip(*cols)] if cols else []


# ---------------------------------------------------------------------------------------------
# Engines

class ChDB:
    name = "chdb"

    def __init__(self, work_dir):
        import chdb
        from chdb import session
        self.session = session.Session(os.path.join(work_dir, "chdb"))
        self.q("SET session_timezone = 'UTC'")
        ch_version = str(self.session.query("SELECT version()", "TabSeparated")).strip()
        self.version = "chdb %s (ClickHouse %s)" % (chdb.__version__, ch_version)

    def threads(self):
        return int(str(self.q("SELECT getSetting('max_threads')")).strip())

    def set_threads(self, n):
        self.q("SET max_threads = %d" % n)

    def q(self, sql):
        return self.session.query(sql, "TabSeparated")

    def load(self, csv):
        self.q("DROP TABLE IF EXISTS trades")
        self.q("CREATE TABLE trades (timestamp DateTime64(9), symbol LowCardinality(String), "
               "price Float64, volume Int64) ENGINE = MergeTree ORDER BY (symbol, timestamp)")
        self.q("INSERT INTO trades SELECT fromUnixTimestamp64Nano(timestamp), symbol, price, "
               "volume FROM file('%s', CSVWithNames, "
               "'timestamp Int64, symbol String, price Float64, volume Int64') "
               "SETTINGS precise_float_parsing = 1" % csv.replace("'", "\\'"))
        self.q("OPTIMIZE TABLE trades FINAL")
        return int(str(self.q("SELECT count() FROM trades")).strip())

    def run(self, sql):
        return self.session.query(sql, "ArrowTable")

    def rows(self, result):
        return arrow_rows(result)

    def close(self):
        self.session.close()


class DuckDB:
    name = "duckdb"

    def __init__(self, work_dir):
        import duckdb
        self.con = duckdb.connect(":memory:")
        self.version = "duckdb %s" % duckdb.__version__

    def threads(self):
        return int(self.con.execute("SELECT current_setting('threads')").fetchone()[0])

    def set_threads(self, n):
        self.con.execute("SET threads = %d" % n)

    def load(self, csv):
        self.con.execute("CREATE TABLE trades (timestamp BIGINT, symbol VARCHAR, "
                         "price DOUBLE, volume BIGINT)")
        self.con.execute("INSERT INTO trades SELECT * FROM read_csv(?, header = true, "
                         "columns = {'timestamp': 'BIGINT', 'symbol': 'VARCHAR', "
                         "'price': 'DOUBLE', 'volume': 'BIGINT'}) ORDER BY symbol, timestamp",
                         [csv])
        self.con.execute("CHECKPOINT")
        return self.con.execute("SELECT count(*) FROM trades").fetchone()[0]

    def run(self, sql):
        return self.con.execute(sql).fetchnumpy()

    def rows(self, result):
        return numpy_rows(result)

    def close(self):
        self.con.close()


ENGINES = {"chdb": ChDB, "duckdb": DuckDB}


def run_queries(engine, spec):
    budget_ns = int(spec["budget_s"] * 1e9)
    queries = {}
    for q in spec["queries"]:
        sql = q[engine.name]
        answer = engine.rows(engine.run(sql))
        for _ in range(max(0, spec["warmup"] - 1)):
            engine.run(sql)
        samples = []
        spent = 0
        while len(samples) < spec["max_iters"] and (spent < budget_ns
                                                    or len(samples) < spec["min_iters"]):
            t0 = time.perf_counter_ns()
            result = engine.run(sql)
            ns = time.perf_counter_ns() - t0
            del result
            samples.append(ns)
            spent += ns
        median = sorted(samples)[len(samples) // 2]
        log("%-7s %2d thr  %-16s p50 %10.1f us  (%d runs)" % (
            engine.name, engine.threads(), q["id"], median / 1e3, len(samples)))
        queries[q["id"]] = {"samples_ns": samples, "answer": answer}
    return queries


def run_engine(cls, spec):
    engine = cls(spec["work_dir"])
    default_threads = engine.threads()
    log("%s: loading %s (%d threads)" % (engine.version, spec["csv"], default_threads))
    started = time.time()
    rows = engine.load(spec["csv"])
    load_s = time.time() - started
    if rows != spec["rows"]:
        raise SystemExit("%s loaded %d rows, expected %d" % (engine.name, rows, spec["rows"]))
    log("%s: loaded %d rows in %.1f s" % (engine.name, rows, load_s))
    # The client path's fixed cost per call, for reading small-query latencies.
    floor = []
    for _ in range(200):
        t0 = time.perf_counter_ns()
        engine.run("SELECT 1")
        floor.append(time.perf_counter_ns() - t0)
    out = {"version": engine.version, "load_s": load_s, "rows": rows, "runs": [],
           "select1_p50_ns": sorted(floor)[len(floor) // 2]}
    for threads in spec["thread_counts"]:
        engine.set_threads(threads or default_threads)
        out["runs"].append({"threads": engine.threads(), "default": threads is None,
                            "queries": run_queries(engine, spec)})
    engine.close()
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--spec", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--venv", required=True)
    args = ap.parse_args()
    if not in_venv(args.venv):
        ensure_venv_and_reexec(args.venv)
    with open(args.spec) as f:
        spec = json.load(f)
    try:
        for name in spec["engines"]:
            __import__(name)
    except ImportError as e:
        skip("peer package missing in %s: %s" % (args.venv, e))
    result = {"python": platform.python_version(), "engines": {}}
    for name in spec["engines"]:
        result["engines"][name] = run_engine(ENGINES[name], spec)
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f, allow_nan=False)
    os.replace(tmp, args.out)


if __name__ == "__main__":
    main()
