"""Arc's MessagePack forms (`msgpack` + `requests`) written to /write/v2/msgpack.

Both forms, rows `{"m", "t", "h", "tags", "fields"}` and columnar `{"m", "columns"}`, inside
`{"batch": [...]}` and as a top-level array, mixed; `t`/`time` in milliseconds by default.
Every value is read back and compared exactly, with its column type and the timestamp in ns.
"""

import gzip

import msgpack
import pytest
import requests

HEADERS = {"Content-Type": "application/msgpack"}
MS0 = 1_700_000_000_123  # ms
NS_PER_MS = 1_000_000


def post(server, body, params=None, headers=None, raw=False):
    data = body if raw else msgpack.packb(body)
    r = requests.post(server.url + "/write/v2/msgpack", data=data, params=params,
                      headers={**HEADERS, **(headers or {})}, timeout=30)
    return r


def write(server, body, **kwargs):
    r = post(server, body, **kwargs)
    assert r.status_code == 204, r.text
    assert r.content == b""


def rows_item(table, t, host, tags, fields):
    return {"m": table, "t": t, "h": host, "tags": tags, "fields": fields}


def test_rows_form_in_a_batch(server):
    write(server, {"batch": [
        rows_item("mp_rows", MS0, "server01", {"region": "eu-west", "dc": "a"},
                  {"usage": 64.5, "cores": 8, "state": "ok", "up": True}),
        rows_item("mp_rows", MS0 + 1, "server02", {"region": "us-east"},
                  {"usage": 0.1, "cores": -3, "state": "degraded, \"slow\"", "up": False}),
        rows_item("mp_rows", MS0 + 2, "server01", {}, {"usage": None, "cores": 2**63 - 1}),
    ]})
    assert server.columns("mp_rows") == {
        "timestamp": "DateTime64(9)",
        "symbol": "LowCardinality(String)",
        "host": "LowCardinality(Nullable(String))",
        "region": "LowCardinality(Nullable(String))",
        "dc": "LowCardinality(Nullable(String))",
        "usage": "Nullable(Float64)",
        "cores": "Nullable(Int64)",
        "state": "Nullable(String)",
        "up": "Nullable(Bool)",
    }
    rows = server.rows("SELECT toInt64(timestamp) AS ts, symbol, host, region, dc, usage, cores, state, up "
                       "FROM mp_rows ORDER BY ts")
    assert rows == [
        {"ts": MS0 * NS_PER_MS, "symbol": "server01", "host": "server01", "region": "eu-west", "dc": "a",
         "usage": 64.5, "cores": 8, "state": "ok", "up": True},
        {"ts": (MS0 + 1) * NS_PER_MS, "symbol": "server02", "host": "server02", "region": "us-east", "dc": None,
         "usage": 0.1, "cores": -3, "state": "degraded, \"slow\"", "up": False},
        {"ts": (MS0 + 2) * NS_PER_MS, "symbol": "server01", "host": "server01", "region": None, "dc": None,
         "usage": None, "cores": 2**63 - 1, "state": None, "up": None},
    ]


def test_columnar_form_in_a_batch(server):
    n = 500
    write(server, {"batch": [{
        "m": "mp_cols",
        "columns": {
            "time": [MS0 + i for i in range(n)],
            "host": [f"h{i % 4}" for i in range(n)],
            "usage": [i / 4 for i in range(n)],
            "count": [i * 3 for i in range(n)],
        },
    }]})
    assert server.columns("mp_cols") == {
        "timestamp": "DateTime64(9)",
        "symbol": "LowCardinality(String)",
        "host": "LowCardinality(Nullable(String))",
        "usage": "Nullable(Float64)",
        "count": "Nullable(Int64)",
    }
    rows = server.rows("SELECT toInt64(timestamp) AS ts, symbol, host, usage, count FROM mp_cols ORDER BY ts")
    assert rows == [
        {"ts": (MS0 + i) * NS_PER_MS, "symbol": f"h{i % 4}", "host": f"h{i % 4}", "usage": i / 4, "count": i * 3}
        for i in range(n)
    ]


def test_both_forms_mixed_in_a_top_level_array(server):
    write(server, [
        rows_item("mp_mixed", MS0, "a", {"region": "eu"}, {"v": 1.5}),
        {"m": "mp_mixed", "h": "b", "tags": {"region": "us"},
         "columns": {"time": [MS0 + 1, MS0 + 2], "v": [2.5, 3.5]}},
        rows_item("mp_mixed_other", MS0, "c", {}, {"w": 7}),
    ])
    assert server.rows("SELECT toInt64(timestamp) AS ts, symbol, host, region, v FROM mp_mixed ORDER BY ts") == [
        {"ts": MS0 * NS_PER_MS, "symbol": "a", "host": "a", "region": "eu", "v": 1.5},
        {"ts": (MS0 + 1) * NS_PER_MS, "symbol": "b", "host": "b", "region": "us", "v": 2.5},
        {"ts": (MS0 + 2) * NS_PER_MS, "symbol": "b", "host": "b", "region": "us", "v": 3.5},
    ]
    assert server.rows("SELECT toInt64(timestamp) AS ts, symbol, w FROM mp_mixed_other") == [
        {"ts": MS0 * NS_PER_MS, "symbol": "c", "w": 7},
    ]


def test_nanosecond_precision_is_kept(server):
    t0 = 1_700_000_000_123_456_789
    # precision=ns: integers are nanoseconds, kept whole (Arc truncates to µs; Ronto does not).
    write(server, [rows_item("mp_ns", t0, "a", {}, {"i": 0}),
                   {"m": "mp_ns", "h": "b", "columns": {"time": [t0 + 1, t0 + 2], "i": [1, 2]}}],
          params={"precision": "ns"})
    # MessagePack timestamp extension (type -1) is exact whatever the precision.
    write(server, [rows_item("mp_ns", msgpack.Timestamp.from_unix_nano(t0 + 3), "c", {}, {"i": 3})])
    # A float in ms: near 1.7e12 ms a double resolves only ~244 ns, and Ronto scales it in f64,
    # so the stored time is within 256 ns of the exact 1_700_000_000_123_250_000.
    write(server, [rows_item("mp_ns", 1_700_000_000_123.25, "d", {}, {"i": 4})])
    [float_row] = server.rows("SELECT toInt64(timestamp) AS ts FROM mp_ns WHERE symbol = 'd'")
    assert abs(float_row["ts"] - 1_700_000_000_123_250_000) < 256, float_row
    for precision, value, ns in [("us", 1_700_000_000_123_457, 1_700_000_000_123_457_000),
                                 ("s", 1_700_000_001, 1_700_000_001_000_000_000),
                                 ("ms", 1_700_000_000_124, 1_700_000_000_124_000_000)]:
        write(server, [rows_item("mp_ns", value, precision, {}, {"i": 5})], params={"precision": precision})
    rows = server.rows("SELECT toInt64(timestamp) AS ts, toString(timestamp) AS time, symbol, i FROM mp_ns "
                       "WHERE symbol != 'd' ORDER BY ts, symbol")
    assert rows == [
        {"ts": t0, "time": "2023-11-14 22:13:20.123456789", "symbol": "a", "i": 0},
        {"ts": t0 + 1, "time": "2023-11-14 22:13:20.123456790", "symbol": "b", "i": 1},
        {"ts": t0 + 2, "time": "2023-11-14 22:13:20.123456791", "symbol": "b", "i": 2},
        {"ts": t0 + 3, "time": "2023-11-14 22:13:20.123456792", "symbol": "c", "i": 3},
        {"ts": 1_700_000_000_123_457_000, "time": "2023-11-14 22:13:20.123457000", "symbol": "us", "i": 5},
        {"ts": 1_700_000_000_124_000_000, "time": "2023-11-14 22:13:20.124000000", "symbol": "ms", "i": 5},
        {"ts": 1_700_000_001_000_000_000, "time": "2023-11-14 22:13:21.000000000", "symbol": "s", "i": 5},
    ]


def test_number_types(server):
    write(server, [
        rows_item("mp_numbers", MS0, "a", {}, {"big": 2**64 - 1, "mixed": 1, "neg": -(2**63)}),
        # An Int64 column that also receives floats in the same request becomes Float64.
        rows_item("mp_numbers", MS0 + 1, "a", {}, {"big": 2**63, "mixed": 2.5, "neg": -1}),
    ])
    types = server.columns("mp_numbers")
    assert (types["big"], types["mixed"], types["neg"]) == ("Nullable(UInt64)", "Nullable(Float64)", "Nullable(Int64)")
    assert server.rows("SELECT big, mixed, neg FROM mp_numbers ORDER BY timestamp") == [
        {"big": 2**64 - 1, "mixed": 1, "neg": -(2**63)},
        {"big": 2**63, "mixed": 2.5, "neg": -1},
    ]
    # Later requests convert numbers that fit the column.
    write(server, [rows_item("mp_numbers", MS0 + 2, "a", {}, {"big": 5, "mixed": 4, "neg": 3.0})])
    assert server.rows("SELECT big, mixed, neg FROM mp_numbers WHERE toInt64(timestamp) = %d" % ((MS0 + 2) * NS_PER_MS)) == [
        {"big": 5, "mixed": 4, "neg": 3},
    ]


def test_gzip_body(server):
    body = msgpack.packb({"batch": [rows_item("mp_gzip", MS0 + i, f"h{i % 3}", {}, {"i": i}) for i in range(300)]})
    write(server, gzip.compress(body), raw=True, headers={"Content-Encoding": "gzip"})
    assert server.rows("SELECT toInt64(timestamp) AS ts, symbol, i FROM mp_gzip ORDER BY ts") == [
        {"ts": (MS0 + i) * NS_PER_MS, "symbol": f"h{i % 3}", "i": i} for i in range(300)
    ]


def test_truncated_body_is_refused_whole(server):
    body = msgpack.packb({"batch": [rows_item("mp_truncated", MS0, "a", {}, {"i": 1})]})
    r = post(server, body[:-3], raw=True)
    assert r.status_code == 400, r.text
    assert r.json()["error"].startswith("byte "), r.text
    assert server.rows("SELECT name FROM system.tables WHERE name = 'mp_truncated'") == []
    server.assert_alive()
