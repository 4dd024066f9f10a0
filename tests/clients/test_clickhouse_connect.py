"""clickhouse-connect, unmodified, against the real server (io_uring and epoll drivers): connect
probes, command(), query / query_df / query_arrow reading rows back exactly, and insert() with its
DESCRIBE and chunked LZ4-frame `INSERT ... FORMAT Native` body (strict xfail while the server
rejects `INSERT ... FORMAT`)."""

import datetime
import gc

import clickhouse_connect
import clickhouse_connect.driver.exceptions
import pyarrow as pa
import pytest
import requests

from conftest import Server

COLUMNS = ["timestamp", "symbol", "price", "volume"]
TYPES = ["DateTime64(9)", "LowCardinality(String)", "Nullable(Float64)", "Int64"]
CREATE = "CREATE TABLE {name} (timestamp DateTime64(9), symbol LowCardinality(String), price Nullable(Float64), volume Int64)"

BASE_NS = 1_704_164_645_000_000_000  # 2024-01-02 03:04:05 UTC
# Timestamps as integer ticks so nanoseconds survive the round trip.
ROWS = [
    [BASE_NS + 123_456_789, "AAPL", 187.25, 100],
    [BASE_NS + 1_000_000_001, "MSFT", None, -7],
    [BASE_NS + 2_000_000_000, "AAPL", 0.1, 2**62],
    [BASE_NS + 3_999_999_999, "é \"x\"\t,", -1e300, 0],
]


def utc(ns):
    return datetime.datetime.fromtimestamp(ns // 1_000_000_000, tz=datetime.timezone.utc).replace(tzinfo=None) + datetime.timedelta(
        microseconds=(ns % 1_000_000_000) // 1000
    )


@pytest.fixture(scope="module", params=["io_uring", "epoll"])
def driver_server(request):
    """Every test here runs twice: on the io_uring driver and on monoio's legacy epoll driver."""
    env = {"MONOIO_FORCE_LEGACY_DRIVER": "1"} if request.param == "epoll" else {}
    s = Server(env=env)
    health = requests.get(f"{s.url}health", timeout=10).json()
    if request.param == "epoll":
        assert health["driver"] == "epoll"
    yield s
    s.stop()


@pytest.fixture(scope="module")
def client(driver_server):
    c = clickhouse_connect.get_client(host="127.0.0.1", port=driver_server.port)
    yield c
    c.close()


def sql_literal(v):
    if v is None:
        return "NULL"
    if isinstance(v, str):
        return "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return repr(v)


def values_sql(name, rows):
    """`INSERT ... VALUES` with timestamps as date-time strings carrying all nine digits."""
    tuples = []
    for ts, *rest in rows:
        stamp = utc(ts - ts % 1_000_000_000).strftime("%Y-%m-%d %H:%M:%S") + f".{ts % 1_000_000_000:09d}"
        tuples.append("(" + ", ".join([sql_literal(stamp)] + [sql_literal(v) for v in rest]) + ")")
    return f"INSERT INTO {name} (timestamp, symbol, price, volume) VALUES " + ", ".join(tuples)


@pytest.fixture(scope="module")
def trades(client):
    """A table filled with SQL `INSERT ... VALUES` through `client.command`."""
    client.command(CREATE.format(name="cc_trades"))
    client.command(values_sql("cc_trades", ROWS))
    return "cc_trades"


def test_get_client_probes_pass(client):
    assert client.server_version == client.query("SELECT version()").result_rows[0][0]
    result = client.query("SELECT version(), timezone()")
    assert result.column_names == ("version()", "timezone()")
    version, tz = result.result_rows[0]
    assert version and tz == "UTC"
    # The system.settings probe: the client took the server's settings list.
    assert "max_result_rows" in client.server_settings
    # The `SELECT 1 AS check` probe with client_protocol_version=54405 matched the bytes it wants.
    assert client.protocol_version == 54405


def test_settings_probe_query(client):
    result = client.query("SELECT name, value, readonly FROM system.settings LIMIT 10000")
    assert result.column_names == ("name", "value", "readonly")
    names = {row[0] for row in result.result_rows}
    assert {"max_result_rows", "timezone"} <= names
    assert all(isinstance(row[2], int) for row in result.result_rows)


def test_command_returns_scalars(client):
    assert client.command("SELECT 1") == 1
    assert client.command("SELECT currentDatabase()") == "default"
    assert client.command("EXISTS TABLE trades") == 1


def test_insert_and_query_round_trip(client, trades):
    result = client.query(f"SELECT timestamp, symbol, price, volume FROM {trades} ORDER BY timestamp")
    assert result.column_names == tuple(COLUMNS)
    got = result.result_rows
    assert len(got) == len(ROWS)
    for row, want in zip(got, ROWS):
        assert row[0] == utc(want[0])
        assert row[1:] == tuple(want[1:])


def test_query_df_keeps_nanoseconds_and_nulls(client, trades):
    df = client.query_df(f"SELECT timestamp, symbol, price, volume FROM {trades} ORDER BY timestamp")
    assert list(df.columns) == COLUMNS
    assert [ts.value for ts in df["timestamp"]] == [r[0] for r in ROWS]
    assert list(df["symbol"]) == [r[1] for r in ROWS]
    prices = df["price"].tolist()
    assert prices[0] == 187.25 and prices[2] == 0.1 and prices[3] == -1e300
    assert prices[1] is None or prices[1] != prices[1]  # None or NaN: pandas' null
    assert df["price"].isna().tolist() == [False, True, False, False]
    assert df["volume"].tolist() == [r[3] for r in ROWS]


def test_query_arrow_types_and_values(client, trades):
    table = client.query_arrow(f"SELECT timestamp, symbol, price, volume FROM {trades} ORDER BY timestamp")
    assert table.column_names == COLUMNS
    # ClickHouse labels DateTime64 in Arrow with the server time zone.
    assert table.schema.field("timestamp").type in (pa.timestamp("ns"), pa.timestamp("ns", tz="UTC"))
    assert table.schema.field("price").type == pa.float64()
    assert table.schema.field("volume").type == pa.int64()
    assert table.column("timestamp").cast(pa.int64()).to_pylist() == [r[0] for r in ROWS]
    assert table.column("symbol").to_pylist() == [r[1] for r in ROWS]
    assert table.column("price").to_pylist() == [r[2] for r in ROWS]
    assert table.column("volume").to_pylist() == [r[3] for r in ROWS]


def test_aggregate_over_inserted_rows(client, trades):
    result = client.query(f"SELECT symbol, count(*), sum(volume) FROM {trades} WHERE symbol = 'AAPL' GROUP BY symbol")
    assert result.result_rows == [("AAPL", 2, 100 + 2**62)]
    assert client.command(f"SELECT count() FROM {trades}") == len(ROWS)


INSERT_FORMAT_BUG = (
    "server bug: every `INSERT INTO t [(cols)] FORMAT X` answers 400 Code 62 'Expected: SELECT, VALUES, "
    "or a subquery in the query body, found: EOF' (sql::plan::plan parses the text before FORMAT alone)"
)
DESCRIBE_FORMAT_BUG = (
    "server bug: `DESCRIBE TABLE t FORMAT Native` answers 400 Code 62 'Expected: end of statement, found: FORMAT'"
)


def test_insert_lz4_native_round_trip(client):
    """`insert()` with known types: one chunked POST, LZ4-frame body `INSERT ... FORMAT Native\n<block>`."""
    client.command(CREATE.format(name="cc_inserted"))
    client.insert("cc_inserted", ROWS, column_names=COLUMNS, column_type_names=TYPES)
    df = client.query_df("SELECT timestamp, symbol, price, volume FROM cc_inserted ORDER BY timestamp")
    assert [ts.value for ts in df["timestamp"]] == [r[0] for r in ROWS]
    assert list(df["symbol"]) == [r[1] for r in ROWS]
    assert df["price"].isna().tolist() == [r[2] is None for r in ROWS]
    assert df["volume"].tolist() == [r[3] for r in ROWS]


def test_insert_datetimes_and_dataframe(client):
    client.command(CREATE.format(name="cc_more"))
    moments = [datetime.datetime(2024, 3, 4, 5, 6, 7, 891011), datetime.datetime(2024, 3, 4, 5, 6, 8)]
    client.insert("cc_more", [[moments[0], "X", 1.0, 1], [moments[1], "Y", None, 2]], column_names=COLUMNS, column_type_names=TYPES)
    df = client.query_df("SELECT * FROM cc_more ORDER BY timestamp")
    client.insert_df("cc_more", df.assign(volume=df["volume"] + 10), column_names=COLUMNS, column_type_names=TYPES)
    got = client.query("SELECT timestamp, symbol, price, volume FROM cc_more ORDER BY volume").result_rows
    assert got == [
        (moments[0], "X", 1.0, 1),
        (moments[1], "Y", None, 2),
        (moments[0], "X", 1.0, 11),
        (moments[1], "Y", None, 12),
    ]


def test_insert_with_describe(client):
    """`insert()` without types runs `DESCRIBE TABLE t FORMAT Native` first (7 columns)."""
    client.command(CREATE.format(name="cc_described"))
    client.insert("cc_described", [[BASE_NS, "AAPL", 1.5, 3]], column_names=COLUMNS)
    assert client.query("SELECT symbol, price, volume FROM cc_described").result_rows == [("AAPL", 1.5, 3)]


def test_describe_columns(client):
    result = client.query("DESCRIBE TABLE cc_trades")
    assert result.column_names == ("name", "type", "default_type", "default_expression", "comment", "codec_expression", "ttl_expression")
    assert [row[:2] for row in result.result_rows] == list(zip(COLUMNS, TYPES))


def test_result_column_types(client, trades):
    result = client.query(f"SELECT timestamp, symbol, price FROM {trades} LIMIT 1")
    names = [t.name for t in result.column_types]
    # Ronto answers LowCardinality(String) columns as plain String, which clients accept.
    assert names in (TYPES[:3], [TYPES[0], "String", TYPES[2]])


def test_not_null_column_type(client, trades):
    result = client.query(f"SELECT volume FROM {trades} LIMIT 1")
    assert [t.name for t in result.column_types] == ["Int64"]


def test_limit_zero_reads_the_json_meta(client, trades):
    """A query ending in LIMIT 0 is sent with FORMAT JSON; the client reads names and types from meta."""
    result = client.query(f"SELECT symbol, price FROM {trades} LIMIT 0")
    assert result.column_names == ("symbol", "price")
    assert result.result_rows == []


def test_client_side_parameters(client, trades):
    result = client.query(f"SELECT count() FROM {trades} WHERE symbol = %(sym)s", parameters={"sym": "AAPL"})
    assert result.result_rows == [(2,)]


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_server_side_parameters(client, trades):
    failure = None
    try:
        result = client.query(f"SELECT count() FROM {trades} WHERE symbol = {{sym:String}}", parameters={"sym": "AAPL"})
    except Exception as error:  # noqa: BLE001 - reported below
        failure = str(error)
    # The client's failed response buffer raises when it is freed; free it here, not in the
    # middle of pytest's own reporting (which it breaks).
    gc.collect()
    assert failure is None, failure
    assert result.result_rows == [(2,)]


def test_server_side_parameters_of_several_types(client, trades):
    result = client.query(
        f"SELECT symbol, count() FROM {trades} WHERE symbol IN ({{a:String}}, {{b:String}}) "
        f"AND volume >= {{v:Int64}} AND price > {{p:Float64}} GROUP BY symbol ORDER BY symbol",
        parameters={"a": "AAPL", "b": "it's not a symbol", "v": 0, "p": -1.5},
    )
    want = client.query(f"SELECT symbol, count() FROM {trades} WHERE symbol = 'AAPL' AND volume >= 0 AND price > -1.5 GROUP BY symbol").result_rows
    assert result.result_rows == want


def test_an_unset_parameter_is_an_error(client, trades):
    with pytest.raises(clickhouse_connect.driver.exceptions.DatabaseError) as error:
        client.query(f"SELECT count() FROM {trades} WHERE symbol = {{missing:String}}", parameters={"sym": "AAPL"})
    assert "456" in str(error.value) or "missing" in str(error.value)
    gc.collect()
