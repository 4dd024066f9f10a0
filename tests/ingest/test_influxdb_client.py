"""The InfluxDB 2.x Python client (`influxdb-client`) writing to /api/v2/write.

Every point is read back over POST / and compared exactly: values, column types, and
timestamps to the nanosecond.
"""

import datetime

import pytest
from influxdb_client import InfluxDBClient, Point, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.rest import ApiException

T0 = 1_700_000_000_123_456_789  # ns; the last digits catch any rounding to µs or ms


def client(server, **kwargs):
    return InfluxDBClient(url=server.url, token="unused", org="ronto", timeout=30_000, **kwargs)


def test_points_round_trip_with_types_and_nanoseconds(server):
    points = [
        Point("ifx_trades")
        .tag("symbol", "AAPL")
        .tag("venue", "XNAS")
        .field("price", 187.25)
        .field("qty", 100)
        .field("note", 'first "print"\nof the day \\ ok')
        .field("ok", True)
        .time(T0, WritePrecision.NS),
        Point("ifx_trades")
        .tag("symbol", "BRK B")  # escaped space in a tag value
        .tag("venue", "NY,SE=1")  # escaped comma and equals sign
        .field("price", 0.30000000000000004)
        .field("qty", -(2**63))
        .field("note", "")
        .field("ok", False)
        .time(T0 + 1, WritePrecision.NS),
        Point("ifx_trades")
        .tag("symbol", "MSFT")
        .field("price", 1e-300)
        .field("qty", 2**63 - 1)
        .time(T0 + 2, WritePrecision.NS),
    ]
    with client(server) as c:
        c.write_api(write_options=SYNCHRONOUS).write(bucket="b", org="ronto", record=points)
        # Raw line protocol through the same API: an unsigned field.
        c.write_api(write_options=SYNCHRONOUS).write(
            bucket="b", org="ronto", record=f"ifx_trades,symbol=TSLA price=250.5,u=18446744073709551615u {T0 + 3}"
        )
    # Tags become Symbol columns (LowCardinality), fields typed columns; all but the designated
    # timestamp and symbol are nullable.
    assert server.columns("ifx_trades") == {
        "timestamp": "DateTime64(9)",
        "symbol": "LowCardinality(String)",
        "venue": "LowCardinality(Nullable(String))",
        "note": "Nullable(String)",
        "ok": "Nullable(Bool)",
        "price": "Nullable(Float64)",
        "qty": "Nullable(Int64)",
        "u": "Nullable(UInt64)",
    }
    rows = server.rows(
        "SELECT toInt64(timestamp) AS ts, toString(timestamp) AS time, symbol, venue, price, qty, note, ok, u "
        "FROM ifx_trades ORDER BY ts"
    )
    assert rows == [
        {"ts": T0, "time": "2023-11-14 22:13:20.123456789", "symbol": "AAPL", "venue": "XNAS", "price": 187.25,
         "qty": 100, "note": 'first "print"\nof the day \\ ok', "ok": True, "u": None},
        {"ts": T0 + 1, "time": "2023-11-14 22:13:20.123456790", "symbol": "BRK B", "venue": "NY,SE=1",
         "price": 0.30000000000000004, "qty": -(2**63), "note": "", "ok": False, "u": None},
        {"ts": T0 + 2, "time": "2023-11-14 22:13:20.123456791", "symbol": "MSFT", "venue": None, "price": 1e-300,
         "qty": 2**63 - 1, "note": None, "ok": None, "u": None},
        {"ts": T0 + 3, "time": "2023-11-14 22:13:20.123456792", "symbol": "TSLA", "venue": None, "price": 250.5,
         "qty": None, "note": None, "ok": None, "u": 2**64 - 1},
    ]


@pytest.mark.parametrize(
    "precision,value,ns",
    [
        (WritePrecision.S, 1_700_000_001, 1_700_000_001_000_000_000),
        (WritePrecision.MS, 1_700_000_001_234, 1_700_000_001_234_000_000),
        (WritePrecision.US, 1_700_000_001_234_567, 1_700_000_001_234_567_000),
        (WritePrecision.NS, 1_700_000_001_234_567_891, 1_700_000_001_234_567_891),
    ],
)
def test_write_precision_scales_timestamps(server, precision, value, ns):
    table = f"ifx_precision_{precision}"
    with client(server) as c:
        c.write_api(write_options=SYNCHRONOUS).write(
            bucket="b", org="ronto", write_precision=precision,
            record=Point(table).tag("symbol", "A").field("x", 1).time(value, precision),
        )
    assert server.rows(f"SELECT toInt64(timestamp) AS ts, x FROM {table}") == [{"ts": ns, "x": 1}]


def test_datetime_timestamps_and_gzip(server):
    when = datetime.datetime(2026, 11, 20, 14, 30, 0, 123456, tzinfo=datetime.timezone.utc)
    points = [
        Point("ifx_gzip").tag("symbol", f"S{i % 7}").field("i", i).field("v", i / 8).time(when + datetime.timedelta(microseconds=i))
        for i in range(2000)
    ]
    with client(server, enable_gzip=True) as c:
        c.write_api(write_options=SYNCHRONOUS).write(bucket="b", org="ronto", record=points, write_precision=WritePrecision.US)
    rows = server.rows("SELECT toInt64(timestamp) AS ts, symbol, i, v FROM ifx_gzip ORDER BY i")
    base = 1_795_185_000_123_456_000
    assert len(rows) == 2000
    assert rows == [{"ts": base + i * 1000, "symbol": f"S{i % 7}", "i": i, "v": i / 8} for i in range(2000)]


def test_bad_lines_raise_with_the_line_and_good_lines_are_kept(server):
    with client(server) as c:
        with pytest.raises(ApiException) as raised:
            c.write_api(write_options=SYNCHRONOUS).write(
                bucket="b", org="ronto",
                record=["ifx_partial,symbol=A x=1i 1", "ifx_partial,symbol=A x=oops 2", "ifx_partial,symbol=B x=3i 3"],
            )
    assert raised.value.status == 400
    assert "line 2" in raised.value.body
    assert server.rows("SELECT toInt64(timestamp) AS ts, symbol, x FROM ifx_partial ORDER BY ts") == [
        {"ts": 1, "symbol": "A", "x": 1},
        {"ts": 3, "symbol": "B", "x": 3},
    ]
    server.assert_alive()
