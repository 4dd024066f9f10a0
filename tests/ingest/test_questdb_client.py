"""The QuestDB Python client's ILP-over-HTTP sender (`questdb` package) writing to /write.

What it sends (observed with questdb 6.0): `GET /settings` first, to pick a protocol version;
Ronto answers 404, and the client falls back to text line protocol version 1, which it then
POSTs to `/write?precision=n` (`Content-Type: text/plain; charset=utf-8`), expecting a 2xx
(204). Errors come back as the client's exception carrying the server's answer.
"""

import datetime
import time

import pytest

questdb = pytest.importorskip("questdb", reason="the `questdb` package is not installed (see requirements.txt)")
try:  # questdb 6 exports the sender at the top level and deprecates questdb.ingress
    from questdb import QuestDBError as SendError
    from questdb import Sender, ServerTimestamp, TimestampNanos
except ImportError:  # pragma: no cover - older versions
    from questdb.ingress import IngressError as SendError
    from questdb.ingress import Sender, ServerTimestamp, TimestampNanos

import pandas as pd

T0 = 1_700_000_000_123_456_789


def sender(server):
    return Sender.from_conf(f"http::addr=127.0.0.1:{server.port};")


def test_rows_round_trip_with_types_and_nanoseconds(server):
    with sender(server) as s:
        s.row("qdb_trades", symbols={"symbol": "AAPL", "venue": "XNAS"},
              columns={"price": 187.25, "qty": 100, "note": 'a "quoted", spaced=note', "flag": True},
              at=TimestampNanos(T0))
        s.row("qdb_trades", symbols={"symbol": "MSFT"},
              columns={"price": -0.5, "qty": -(2**63), "note": "naïve ✓", "flag": False},
              at=TimestampNanos(T0 + 1))
        s.row("qdb_trades", symbols={"symbol": "TSLA"}, columns={"price": 1.7976931348623157e308, "qty": 2**63 - 1},
              at=datetime.datetime(2026, 11, 20, 14, 30, 0, 654321, tzinfo=datetime.timezone.utc))
        s.flush()
    assert server.columns("qdb_trades") == {
        "timestamp": "DateTime64(9)",
        "symbol": "LowCardinality(String)",
        "venue": "LowCardinality(Nullable(String))",
        "price": "Nullable(Float64)",
        "qty": "Nullable(Int64)",
        "note": "Nullable(String)",
        "flag": "Nullable(Bool)",
    }
    rows = server.rows("SELECT toInt64(timestamp) AS ts, symbol, venue, price, qty, note, flag FROM qdb_trades ORDER BY ts")
    assert rows == [
        {"ts": T0, "symbol": "AAPL", "venue": "XNAS", "price": 187.25, "qty": 100,
         "note": 'a "quoted", spaced=note', "flag": True},
        {"ts": T0 + 1, "symbol": "MSFT", "venue": None, "price": -0.5, "qty": -(2**63), "note": "naïve ✓", "flag": False},
        {"ts": 1_795_185_000_654_321_000, "symbol": "TSLA", "venue": None, "price": 1.7976931348623157e308,
         "qty": 2**63 - 1, "note": None, "flag": None},
    ]


def test_server_timestamp_is_the_arrival_time(server):
    before = time.time_ns()
    with sender(server) as s:
        s.row("qdb_now", symbols={"symbol": "A"}, columns={"x": 1}, at=ServerTimestamp)
        s.flush()
    after = time.time_ns()
    [row] = server.rows("SELECT toInt64(timestamp) AS ts, x FROM qdb_now")
    assert row["x"] == 1
    assert before - 1_000_000_000 <= row["ts"] <= after + 1_000_000_000


def test_dataframe_round_trip(server):
    n = 1000
    df = pd.DataFrame({
        "symbol": pd.Categorical([f"S{i % 5}" for i in range(n)]),
        "price": [i * 0.25 for i in range(n)],
        "qty": pd.array(range(n), dtype="int64"),
        "ts": pd.to_datetime([T0 + i * 1_001 for i in range(n)], unit="ns", utc=True),
    })
    with sender(server) as s:
        s.dataframe(df, table_name="qdb_df", symbols=["symbol"], at="ts")
        s.flush()
    rows = server.rows("SELECT toInt64(timestamp) AS ts, symbol, price, qty FROM qdb_df ORDER BY ts")
    assert rows == [{"ts": T0 + i * 1_001, "symbol": f"S{i % 5}", "price": i * 0.25, "qty": i} for i in range(n)]


def test_rejected_rows_raise_with_the_servers_reason(server):
    with sender(server) as s:
        s.row("qdb_conflict", symbols={"symbol": "A"}, columns={"x": 1}, at=TimestampNanos(1))
        s.flush()
    with pytest.raises(SendError) as raised:
        with sender(server) as s:
            s.row("qdb_conflict", symbols={"symbol": "A"}, columns={"x": "text"}, at=TimestampNanos(2))
            s.flush()
    # The client passes the server's JSON answer on.
    message = str(raised.value)
    assert "partial write: 1 rejected, 0 written" in message, message
    assert "column 'x' of table 'qdb_conflict' is Int64" in message, message
    assert server.rows("SELECT toInt64(timestamp) AS ts, x FROM qdb_conflict") == [{"ts": 1, "x": 1}]
    server.assert_alive()
