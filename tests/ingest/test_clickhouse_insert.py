"""ClickHouse-style inserts: `clickhouse-connect` `insert_df()` of a pandas DataFrame, and CSV
posted as curl does (`INSERT ... FORMAT CSV` in the `query` parameter or the body, the data in
the body). Rows are read back and compared exactly, with clickhouse-connect and over POST /.
"""

import clickhouse_connect
import clickhouse_connect.driver.exceptions
import pandas as pd
import pytest
import requests

T0 = 1_700_000_000_123_456_789

COLUMNS = "timestamp DateTime64(9), symbol LowCardinality(String), price Float64, qty Int64, note String, flag Bool"
# The declared types, as ClickHouse reports them: no column here is Nullable.
TYPES = {
    "timestamp": "DateTime64(9)",
    "symbol": "LowCardinality(String)",
    "price": "Float64",
    "qty": "Int64",
    "note": "String",
    "flag": "Bool",
}
EXPECTED = [
    {"ts": T0, "symbol": "AAPL", "price": 187.25, "qty": 100, "note": "first", "flag": True},
    {"ts": T0 + 1, "symbol": "MSFT", "price": 0.30000000000000004, "qty": -(2**63), "note": 'say "hi", then go', "flag": False},
    {"ts": T0 + 2, "symbol": "TSLA", "price": -1e-300, "qty": 2**63 - 1, "note": "", "flag": True},
]

@pytest.fixture(scope="module")
def client(server):
    c = clickhouse_connect.get_client(host="127.0.0.1", port=server.port, connect_timeout=10, send_receive_timeout=30)
    yield c
    c.close()


def create(server, table):
    server.query(f"CREATE TABLE {table} ({COLUMNS})")


def read_back(server, table):
    assert server.columns(table) == TYPES
    return server.rows(f"SELECT toInt64(timestamp) AS ts, symbol, price, qty, note, flag FROM {table} ORDER BY ts")


def frame():
    return pd.DataFrame({
        "timestamp": pd.to_datetime([r["ts"] for r in EXPECTED], unit="ns"),
        "symbol": [r["symbol"] for r in EXPECTED],
        "price": [r["price"] for r in EXPECTED],
        "qty": pd.array([r["qty"] for r in EXPECTED], dtype="int64"),
        "note": [r["note"] for r in EXPECTED],
        "flag": [r["flag"] for r in EXPECTED],
    })


def csv_bytes():
    lines = []
    for r in EXPECTED:
        note = '"' + r["note"].replace('"', '""') + '"'
        lines.append(f'{r["ts"]},{r["symbol"]},{r["price"]!r},{r["qty"]},{note},{str(r["flag"]).lower()}')
    return ("\n".join(lines) + "\n").encode()


def test_clickhouse_connect_reads_back_what_line_protocol_wrote(server, client):
    # The read side of clickhouse-connect works: rows written by line protocol, queried as a frame.
    body = "".join(
        f'ch_read,symbol={r["symbol"]} price={r["price"]!r},qty={r["qty"]}i,note="{r["note"].replace(chr(34), chr(92) + chr(34))}",'
        f'flag={"t" if r["flag"] else "f"} {r["ts"]}\n'
        for r in EXPECTED
    )
    r = requests.post(server.url + "/write", data=body.encode(), timeout=30)
    assert r.status_code == 204, r.text
    df = client.query_df("SELECT timestamp, symbol, price, qty, note, flag FROM ch_read ORDER BY timestamp")
    assert [int(t.value) for t in df["timestamp"]] == [r["ts"] for r in EXPECTED]
    assert list(df["symbol"]) == [r["symbol"] for r in EXPECTED]
    assert list(df["price"]) == [r["price"] for r in EXPECTED]
    assert list(df["qty"]) == [r["qty"] for r in EXPECTED]
    assert list(df["note"]) == [r["note"] for r in EXPECTED]
    assert list(df["flag"]) == [r["flag"] for r in EXPECTED]


def test_insert_df(server, client):
    create(server, "ch_df")
    client.insert_df("ch_df", frame())
    assert read_back(server, "ch_df") == EXPECTED


def test_insert_df_with_column_types_given(server, client):
    # With names and types given, clickhouse-connect skips DESCRIBE and sends the INSERT alone.
    create(server, "ch_df_typed")
    df = frame()
    client.insert_df("ch_df_typed", df, column_names=list(df.columns),
                     column_type_names=["DateTime64(9)", "LowCardinality(String)", "Float64", "Int64", "String", "Bool"])
    assert read_back(server, "ch_df_typed") == EXPECTED


def test_csv_with_the_query_in_the_url(server):
    create(server, "ch_csv_param")
    r = requests.post(server.url + "/", params={"query": "INSERT INTO ch_csv_param FORMAT CSV"}, data=csv_bytes(), timeout=30)
    assert r.status_code == 200, r.text
    assert read_back(server, "ch_csv_param") == EXPECTED


def test_csv_with_the_query_in_the_body(server):
    create(server, "ch_csv_body")
    r = requests.post(server.url + "/", data=b"INSERT INTO ch_csv_body FORMAT CSV\n" + csv_bytes(), timeout=30)
    assert r.status_code == 200, r.text
    assert read_back(server, "ch_csv_body") == EXPECTED


def test_csv_with_column_list_and_gzip(server):
    import gzip

    create(server, "ch_csv_gzip")
    r = requests.post(server.url + "/",
                      params={"query": "INSERT INTO ch_csv_gzip (timestamp, symbol, price, qty, note, flag) FORMAT CSV"},
                      data=gzip.compress(csv_bytes()), headers={"Content-Encoding": "gzip"}, timeout=30)
    assert r.status_code == 200, r.text
    assert read_back(server, "ch_csv_gzip") == EXPECTED


def test_insert_values(server):
    create(server, "ch_values")
    values = ", ".join(
        f"({r['ts']}, '{r['symbol']}', {r['price']!r}, {r['qty']}, '{r['note'].replace(chr(39), chr(92) + chr(39))}', "
        f"{str(r['flag']).lower()})"
        for r in EXPECTED
    )
    server.query(f"INSERT INTO ch_values VALUES {values}")
    assert read_back(server, "ch_values") == EXPECTED
