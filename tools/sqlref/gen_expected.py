#!/usr/bin/env python3
"""Regenerates the expected results in sql/tests/slt/*.slt by running every record on
ClickHouse (the `chdb` Python package), never on Ronto.

    pip install chdb        # once
    python3 tools/sqlref/gen_expected.py [FILE.slt ...]   # default: every .slt file

For each file a fresh set of tables is created in an in-process chdb session and loaded from
sql/tests/slt/data/*.csv, exactly as the Rust runner (sql/tests/slt.rs) loads Ronto. Then,
in file order:

  * `statement ok`: runs the statement (or its `-- ref:`); it must succeed.
  * `statement error`: runs it; it must fail. The ClickHouse error code is written into the
    header; the message substring after it is Ronto's and is kept as written.
  * `query`: runs the `-- ref:` query if there is one, else the query itself, and rewrites the
    type letters and the rows after `----` from ClickHouse's answer.

Values are normalized so that the runner can compare values rather than type names:
timestamps of every ClickHouse date/time type are printed as `YYYY-MM-DD hh:mm:ss.fffffffff`,
NULL as `NULL`, the empty string as `(empty)`, Bool as true/false; numbers as ClickHouse prints
them (the runner compares them numerically, floats with a relative tolerance of 1e-9).
"""

import glob
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import slt  # noqa: E402

ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
SLT_DIR = os.path.join(ROOT, "sql", "tests", "slt")
DATA_DIR = os.path.join(SLT_DIR, "data")

# The base tables, with the types Ronto gives them: the timestamp and the symbol are never
# NULL, every other column may be.
TABLES = [
    ("trades",
     "timestamp DateTime64(9), symbol LowCardinality(String), price Nullable(Float64), "
     "volume Nullable(Int64)",
     "timestamp Int64, symbol String, price Nullable(Float64), volume Nullable(Int64)",
     "fromUnixTimestamp64Nano(timestamp), symbol, price, volume",
     "(symbol, timestamp)"),
    ("quotes",
     "timestamp DateTime64(9), symbol LowCardinality(String), bid Nullable(Float64), "
     "ask Nullable(Float64), bid_size Nullable(Int64), ask_size Nullable(Int64)",
     "timestamp Int64, symbol String, bid Nullable(Float64), ask Nullable(Float64), "
     "bid_size Nullable(Int64), ask_size Nullable(Int64)",
     "fromUnixTimestamp64Nano(timestamp), symbol, bid, ask, bid_size, ask_size",
     "(symbol, timestamp)"),
    ("ticks",
     "ts DateTime64(9), symbol Int64, px Nullable(Float64)",
     "ts Int64, symbol Int64, px Nullable(Float64)",
     "fromUnixTimestamp64Nano(ts), symbol, px",
     "(symbol, ts)"),
]


class Engine:
    def __init__(self):
        from chdb import session
        import chdb

        self.version = chdb.__version__
        self.s = session.Session()
        self.s.query("SET session_timezone = 'UTC'")
        # Parse decimal text to the nearest double, as Rust does.
        self.s.query("SET precise_float_parsing = 1")
        self.server_version = self.query_text("SELECT version()").strip()

    def query_text(self, sql, fmt="TabSeparated"):
        return str(self.s.query(sql, fmt))

    def reset(self):
        for name in self.query_text("SHOW TABLES").split("\n"):
            if name.strip():
                self.s.query("DROP TABLE `%s`" % name.strip())
        for name, cols, structure, select, order in TABLES:
            self.s.query("CREATE TABLE %s (%s) ENGINE = MergeTree ORDER BY %s"
                         % (name, cols, order))
            with open(os.path.join(DATA_DIR, name + ".csv")) as f:
                csv = f.read()
            assert "$$" not in csv
            self.s.query("INSERT INTO %s SELECT %s FROM format(CSVWithNames, '%s', $$%s$$)"
                         % (name, select, structure, csv))


def strip_wrappers(t):
    while True:
        m = re.fullmatch(r"(Nullable|LowCardinality)\((.*)\)", t)
        if not m:
            return t
        t = m.group(2)


def type_letter(t):
    t = strip_wrappers(t)
    if t == "Bool":
        return "B"
    if re.fullmatch(r"U?Int\d+", t):
        return "I"
    if t.startswith("Float") or t.startswith("Decimal"):
        return "R"
    if t.startswith("DateTime") or t.startswith("Date"):
        return "D"
    if t == "Nothing":
        return "N"
    return "T"


def unescape_tsv(v):
    out, i = [], 0
    while i < len(v):
        c = v[i]
        if c == "\\" and i + 1 < len(v):
            n = v[i + 1]
            out.append({"t": "\t", "n": "\n", "r": "\r", "0": "\0", "b": "\b",
                        "f": "\f"}.get(n, n))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def normalize(value, t):
    if value == "\\N":
        return "NULL"
    base = strip_wrappers(t)
    if base.startswith("DateTime") or base.startswith("Date"):
        m = re.fullmatch(r"(\d{4}-\d\d-\d\d)(?: (\d\d:\d\d:\d\d))?(?:\.(\d+))?", value)
        if not m:
            raise ValueError("unexpected %s value %r" % (t, value))
        return "%s %s.%s" % (m.group(1), m.group(2) or "00:00:00",
                             (m.group(3) or "").ljust(9, "0"))
    v = unescape_tsv(value)
    if type_letter(t) == "T":
        if v == "":
            return "(empty)"
        return v.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
    return v


def run_query(engine, sql):
    text = engine.query_text(sql, "TabSeparatedWithNamesAndTypes")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) < 2:
        raise RuntimeError("no header in chdb output for: %s" % sql)
    types = lines[1].split("\t")
    types = [unescape_tsv(t) for t in types]
    rows = []
    for line in lines[2:]:
        vals = line.split("\t")
        rows.append("\t".join(normalize(v, t) for v, t in zip(vals, types)))
    return "".join(type_letter(t) for t in types), rows


def error_code(engine, sql):
    try:
        engine.s.query(sql)
    except Exception as e:  # chdb raises RuntimeError-like exceptions
        m = re.search(r"Code: (\d+)", str(e))
        if not m:
            raise RuntimeError("chdb error without a code for %r: %s" % (sql, e))
        return m.group(1)
    return None


STAMP = "# Expected results: "
# Statements whose row order both engines fix without ORDER BY.
ORDERED_BY_NATURE = ("DESCRIBE", "DESC ", "SHOW", "EXISTS", "EXPLAIN")


def stamp(items, engine):
    """Records which engine produced the expectations in the file's first comment block."""
    line = "%schdb %s (ClickHouse %s), written by tools/sqlref/gen_expected.py" % (
        STAMP, engine.version, engine.server_version)
    if items and not isinstance(items[0], slt.Record):
        block = [l for l in items[0] if not l.startswith(STAMP)]
        items[0] = block + [line]
    else:
        items.insert(0, [line])


def unordered(it, rows):
    """A multi-row query whose row order neither SQL nor `rowsort` pins down."""
    if len(rows) < 2 or "rowsort" in it.header.split():
        return False
    sql = it.sql().upper()
    return "ORDER BY" not in sql and not sql.startswith(ORDERED_BY_NATURE)


def process(path, engine):
    with open(path) as f:
        items = slt.parse(f.read())
    engine.reset()
    stamp(items, engine)
    name = os.path.relpath(path, ROOT)
    count = 0
    for it in items:
        if not isinstance(it, slt.Record):
            continue
        count += 1
        where = "%s:%d" % (name, it.line)
        ref = it.ref() or it.sql()
        words = it.header.split()
        try:
            if words[0] == "statement" and words[1] == "ok":
                if ref != "-":
                    engine.s.query(ref)
            elif words[0] == "statement" and words[1] == "error":
                if len(words) < 3:
                    raise RuntimeError("statement error needs a code (or ?) and a message")
                code = error_code(engine, ref)
                if code is None:
                    raise RuntimeError("ClickHouse accepted a statement expected to fail")
                it.header = " ".join(["statement", "error", code] + words[3:])
            elif words[0] == "query":
                sort = [w for w in words[1:] if w in ("rowsort",)]
                types, rows = run_query(engine, ref)
                if unordered(it, rows):
                    raise RuntimeError("%d rows but no ORDER BY (add one, or `rowsort`)"
                                       % len(rows))
                if sort:
                    rows.sort()
                it.header = " ".join(["query", types] + sort)
                it.results = rows
            else:
                raise RuntimeError("unknown record header %r" % it.header)
        except Exception as e:
            sys.exit("%s: %s\n  SQL: %s" % (where, str(e).strip()[:2000], ref))
    with open(path, "w") as f:
        f.write(slt.render(items))
    print("%s: %d records" % (name, count))


def main():
    files = sys.argv[1:] or sorted(glob.glob(os.path.join(SLT_DIR, "*.slt")))
    engine = Engine()
    print("chdb %s (ClickHouse %s)" % (engine.version, engine.server_version))
    for f in files:
        process(os.path.abspath(f), engine)


if __name__ == "__main__":
    main()
