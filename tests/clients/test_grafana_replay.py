"""A replay of the requests Grafana's ClickHouse data source (clickhouse-go v2 over HTTP) sends:
`default_format=Native&client_protocol_version=54460`, the connect handshake, ping, the schema
browser's queries and a time-series panel query with Grafana's macros expanded. Responses are
decoded with a Native reader at revision 54460, as the Go client does."""

import base64

import pytest
import requests

from ch_native import read_table

REVISION = 54460
TABLE = "gf_trades"
BASE_S = 1_704_164_640  # 2024-01-02 03:04:00 UTC, a minute boundary
# (seconds after BASE_S, symbol, price, volume): three minutes of two symbols.
TICKS = [
    (5, "AAPL", 10.0, 1),
    (25, "MSFT", 20.0, 2),
    (50, "AAPL", 12.0, 3),
    (61, "AAPL", 11.0, 4),
    (65, "MSFT", 21.0, 5),
    (119, "MSFT", 23.0, 6),
    (125, "AAPL", 13.0, 7),
    (170, "MSFT", 22.0, 8),
]


class Grafana:
    """The HTTP requests of clickhouse-go v2 as the data source configures it."""

    def __init__(self, port):
        self.url = f"http://127.0.0.1:{port}/"
        self.session = requests.Session()
        self.session.headers.update({
            "User-Agent": "clickhouse-go/2.40.1 (lv:go/1.24.4; os:linux) grafana-clickhouse-datasource/4.10.1",
            "Authorization": "Basic " + base64.b64encode(b"default:").decode(),
            "Content-Type": "text/plain; charset=utf-8",
        })

    def post(self, sql, **params):
        query = {"default_format": "Native", "client_protocol_version": str(REVISION), "database": "default"}
        query.update(params)
        return self.session.post(self.url, params=query, data=sql.encode(), timeout=10)

    def query(self, sql, **params):
        response = self.post(sql, **params)
        assert response.status_code == 200, f"{sql!r} -> {response.status_code} {response.text}"
        assert response.headers.get("X-ClickHouse-Format") == "Native"
        return read_table(response.content, REVISION)


@pytest.fixture(scope="module")
def grafana(server):
    g = Grafana(server.port)
    create = f"CREATE TABLE {TABLE} (timestamp DateTime64(9), symbol LowCardinality(String), price Nullable(Float64), volume Int64)"
    r = g.post(create)
    assert r.status_code == 200, r.text
    values = ", ".join(f"({(BASE_S + s) * 1_000_000_000}, '{sym}', {p!r}, {v})" for s, sym, p, v in TICKS)
    r = g.post(f"INSERT INTO {TABLE} (timestamp, symbol, price, volume) VALUES {values}")
    assert r.status_code == 200, r.text
    yield g
    g.session.close()


def test_connect_handshake(grafana):
    names, types, rows = grafana.query("SELECT displayName(), version(), revision(), timezone()")
    assert names == ["displayName()", "version()", "revision()", "timezone()"]
    assert len(rows) == 1
    display, version, revision, tz = rows[0]
    assert display and version
    assert revision >= REVISION
    assert tz == "UTC"


def test_connect_handshake_types(grafana):
    """clickhouse-go scans revision() into a uint32: a UInt64 fails the handshake."""
    _, types, _ = grafana.query("SELECT displayName(), version(), revision(), timezone()")
    assert types == ["String", "String", "UInt32", "String"]


def test_ping(grafana):
    names, types, rows = grafana.query("SELECT 1")
    assert names == ["1"]
    assert rows == [(1,)]


def test_ping_type(grafana):
    """ClickHouse (and the spec's byte example) types the literal 1 UInt8."""
    _, types, _ = grafana.query("SELECT 1")
    assert types == ["UInt8"]


def test_ping_bytes_without_protocol_version(server):
    """Without client_protocol_version, Native has no BlockInfo and no serialization byte."""
    r = requests.post(f"http://127.0.0.1:{server.port}/", data=b"SELECT 1 FORMAT Native", timeout=10)
    assert r.status_code == 200
    names, _, rows = read_table(r.content, 0)
    assert names == ["1"] and rows == [(1,)]


def test_schema_browser(grafana):
    _, _, rows = grafana.query("SELECT name FROM system.databases")
    assert ("default",) in rows
    _, _, rows = grafana.query("SELECT name FROM system.tables WHERE database = 'default'")
    assert {"trades", "quotes", TABLE} <= {r[0] for r in rows}
    names, _, rows = grafana.query(f"SELECT name, type FROM system.columns WHERE table = '{TABLE}' AND database = 'default'")
    assert names == ["name", "type"]
    assert [r[0] for r in rows] == ["timestamp", "symbol", "price", "volume"]
    assert dict(rows)["timestamp"].startswith("DateTime64(9")
    assert dict(rows)["price"] == "Nullable(Float64)"
    assert dict(rows)["symbol"] in ("LowCardinality(String)", "String")
    _, _, rows = grafana.query("SELECT currentDatabase()")
    assert rows == [("default",)]
    # The column picker's query.
    names, _, rows = grafana.query(
        f"SELECT database, table, name, type, comment, position FROM system.columns WHERE database = 'default' AND table = '{TABLE}' ORDER BY position"
    )
    assert [r[2] for r in rows] == ["timestamp", "symbol", "price", "volume"]
    assert [r[5] for r in rows] == [1, 2, 3, 4]
    names, _, rows = grafana.query(f"DESCRIBE TABLE {TABLE}")
    assert names == ["name", "type", "default_type", "default_expression", "comment", "codec_expression", "ttl_expression"]
    assert [r[0] for r in rows] == ["timestamp", "symbol", "price", "volume"]


def expected_buckets(lo_s, hi_s):
    """(minute start in seconds, symbol) -> (count, avg price, sum volume) for lo <= t <= hi."""
    out = {}
    for s, sym, p, v in TICKS:
        t = BASE_S + s
        if lo_s <= t <= hi_s:
            key = (t - t % 60, sym)
            n, total, vol = out.get(key, (0, 0.0, 0))
            out[key] = (n + 1, total + p, vol + v)
    return {k: (n, total / n, vol) for k, (n, total, vol) in sorted(out.items())}


def check_time_series(types, rows, lo_s, hi_s):
    want = expected_buckets(lo_s, hi_s)
    assert types[0].startswith("DateTime")
    # DateTime carries seconds, DateTime64(9) nanoseconds.
    scale = 1 if types[0].startswith("DateTime(") or types[0] == "DateTime" else 1_000_000_000
    got = {(t // scale, sym): (n, avg, vol) for t, sym, n, avg, vol in rows}
    assert list(got) == list(want), f"{got} != {want}"
    for key, (n, avg, vol) in want.items():
        assert got[key][0] == n and got[key][2] == vol
        assert got[key][1] == pytest.approx(avg, rel=1e-12)


def test_time_series_with_datetime_filter(grafana):
    # $__timeInterval(timestamp) and $__timeFilter(timestamp) as the data source expands them.
    lo, hi = BASE_S, BASE_S + 119
    sql = (
        "SELECT toStartOfInterval(toDateTime(timestamp), INTERVAL 60 second) AS time, symbol, count(*) AS n, "
        "avg(price) AS price, sum(volume) AS volume "
        f"FROM {TABLE} WHERE timestamp >= toDateTime({lo}) AND timestamp <= toDateTime({hi}) "
        "GROUP BY time, symbol ORDER BY time, symbol"
    )
    names, types, rows = grafana.query(sql, max_result_rows="1000000")
    assert names == ["time", "symbol", "n", "price", "volume"]
    check_time_series(types, rows, lo, hi)


def test_time_series_with_millisecond_filter(grafana):
    # $__timeFilter_ms(timestamp): fromUnixTimestamp64Milli bounds.
    lo_ms, hi_ms = (BASE_S + 60) * 1000, (BASE_S + 170) * 1000
    sql = (
        "SELECT toStartOfInterval(timestamp, INTERVAL 60 second) AS time, symbol, count() AS n, "
        "avg(price) AS price, sum(volume) AS volume "
        f"FROM {TABLE} WHERE timestamp >= fromUnixTimestamp64Milli({lo_ms}) AND timestamp <= fromUnixTimestamp64Milli({hi_ms}) "
        "GROUP BY time, symbol ORDER BY time, symbol"
    )
    _, types, rows = grafana.query(sql)
    check_time_series(types, rows, lo_ms // 1000, hi_ms // 1000)


def test_time_series_with_no_rows_in_range(grafana):
    sql = (
        "SELECT toStartOfInterval(toDateTime(timestamp), INTERVAL 60 second) AS time, count() "
        f"FROM {TABLE} WHERE timestamp >= toDateTime({BASE_S + 3600}) AND timestamp <= toDateTime({BASE_S + 7200}) "
        "GROUP BY time ORDER BY time"
    )
    _, _, rows = grafana.query(sql)
    assert rows == []


def days_since_epoch(type_name, value):
    if type_name == "Date":
        return value
    if type_name.startswith("DateTime64"):
        return value // (86_400 * 1_000_000_000)
    return value // 86_400


def test_date_filter_macro(grafana):
    # $__dateFilter(timestamp) expands to toDate('YYYY-MM-DD') bounds.
    _, types, rows = grafana.query("SELECT toDate('2024-01-02') AS d")
    assert days_since_epoch(types[0], rows[0][0]) == 19724  # 2024-01-02
    _, _, rows = grafana.query(
        f"SELECT count() FROM {TABLE} WHERE timestamp >= toDate('2024-01-02') AND timestamp < toDate('2024-01-03')"
    )
    assert rows == [(len(TICKS),)]


def test_errors_reach_the_go_client(grafana):
    r = grafana.post("SELECT * FROM no_such_table")
    assert r.status_code == 404
    assert r.headers.get("X-ClickHouse-Exception-Code") == "60"
    assert r.text.startswith("Code: 60. DB::Exception: ")
