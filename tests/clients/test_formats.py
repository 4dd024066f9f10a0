"""Every output format round-trips: one fixed query over inserted rows, fetched in each format and
decoded independently (csv/json modules, a Native reader, a RowBinary reader, pyarrow), must give
back exactly the inserted values. A result past one streamed block is checked too."""

import csv
import datetime
import io
import json
import struct

import pyarrow as pa
import pyarrow.ipc
import pytest
import requests

from ch_native import Reader, read_column, read_table

TABLE = "fmt_trades"
QUERY = f"SELECT timestamp, symbol, price, volume FROM {TABLE} ORDER BY timestamp"
NAMES = ["timestamp", "symbol", "price", "volume"]
BASE_NS = 1_704_164_645_000_000_000  # 2024-01-02 03:04:05 UTC
ROWS = [
    (BASE_NS + 123_456_789, "AAPL", 187.25, 100),
    (BASE_NS + 1_000_000_001, "tab\there", None, -7),
    (BASE_NS + 2_000_000_000, 'quote " and \' apostrophe', 0.1, 2**62),
    (BASE_NS + 3_000_000_000, "back\\slash, comma; semi", -1e300, -(2**63)),
    (BASE_NS + 4_000_000_000, "new\nline", 1e-7, 0),
    (BASE_NS + 5_999_999_999, "ünï ✓", 123456789.125, 2**63 - 1),
]


def stamp(ns):
    """ClickHouse's text form of a DateTime64(9) in UTC."""
    seconds, fraction = divmod(ns, 1_000_000_000)
    moment = datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%d %H:%M:%S") + f".{fraction:09d}"


def parse_stamp(text):
    head, _, fraction = text.partition(".")
    moment = datetime.datetime.strptime(head, "%Y-%m-%d %H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    return int(moment.timestamp()) * 1_000_000_000 + int(fraction.ljust(9, "0") or 0)


def sql_string(s):
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


@pytest.fixture(scope="module")
def url(server):
    base = f"http://127.0.0.1:{server.port}/"
    create = f"CREATE TABLE {TABLE} (timestamp DateTime64(9), symbol LowCardinality(String), price Nullable(Float64), volume Int64)"
    assert requests.post(base, data=create.encode(), timeout=10).status_code == 200
    values = ", ".join(
        f"({sql_string(stamp(ts))}, {sql_string(sym)}, {'NULL' if p is None else repr(p)}, {v})" for ts, sym, p, v in ROWS
    )
    r = requests.post(base, data=f"INSERT INTO {TABLE} (timestamp, symbol, price, volume) VALUES {values}".encode("utf-8"), timeout=10)
    assert r.status_code == 200, r.text
    return base


def fetch(url, fmt, **params):
    r = requests.post(url, params=params, data=f"{QUERY} FORMAT {fmt}".encode(), timeout=30)
    assert r.status_code == 200, f"{fmt}: {r.status_code} {r.text[:300]}"
    assert r.headers.get("X-ClickHouse-Format") == fmt
    return r


def typed(ts, symbol, price, volume):
    """One row from text fields (None for NULL) to the inserted Python values."""
    return (
        parse_stamp(ts) if isinstance(ts, str) else ts,
        symbol,
        None if price is None else float(price),
        None if volume is None else int(volume),
    )


def assert_rows(got):
    assert [typed(*row) for row in got] == ROWS


# ---- tab-separated ----

TSV_ESCAPES = {"t": "\t", "n": "\n", "\\": "\\", "'": "'", "r": "\r", "0": "\0", "b": "\b", "f": "\f", "a": "\a", "v": "\v"}


def tsv_field(text):
    if text == "\\N":
        return None
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            out.append(TSV_ESCAPES.get(text[i + 1], text[i + 1]))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def tsv_lines(body):
    assert body.endswith("\n")
    return [[tsv_field(f) for f in line.split("\t")] for line in body[:-1].split("\n")]


def test_tab_separated(url):
    assert_rows(tsv_lines(fetch(url, "TabSeparated").text))


def test_tab_separated_with_names(url):
    lines = tsv_lines(fetch(url, "TabSeparatedWithNames").text)
    assert lines[0] == NAMES
    assert_rows(lines[1:])


def test_tab_separated_with_names_and_types(url):
    lines = tsv_lines(fetch(url, "TabSeparatedWithNamesAndTypes").text)
    assert lines[0] == NAMES
    assert lines[1][0].startswith("DateTime64(9") and lines[1][2] == "Nullable(Float64)"
    assert lines[1][1] in ("String", "LowCardinality(String)")
    assert_rows(lines[2:])


# ---- CSV ----

def csv_rows(body):
    rows = list(csv.reader(io.StringIO(body, newline="")))
    return [[None if f == "\\N" else f for f in row] for row in rows]


def test_csv(url):
    assert_rows(csv_rows(fetch(url, "CSV").text))


def test_csv_with_names(url):
    rows = csv_rows(fetch(url, "CSVWithNames").text)
    assert rows[0] == NAMES
    assert_rows(rows[1:])


# ---- JSON family ----

def test_json(url):
    doc = fetch(url, "JSON").json()
    assert [m["name"] for m in doc["meta"]] == NAMES
    assert doc["rows"] == len(ROWS)
    assert {"elapsed", "rows_read", "bytes_read"} <= set(doc["statistics"])
    assert_rows([[row[n] for n in NAMES] for row in doc["data"]])


def test_json_with_limit_reports_rows_before_limit(url):
    r = requests.post(url, data=f"SELECT symbol FROM {TABLE} ORDER BY timestamp LIMIT 2 FORMAT JSON".encode(), timeout=10)
    doc = r.json()
    assert doc["rows"] == 2
    assert doc["rows_before_limit_at_least"] == len(ROWS)


def test_rows_before_limit_counts_filtered_rows_groups_and_offsets(url):
    def doc(sql):
        r = requests.post(url, data=f"{sql} FORMAT JSON".encode(), timeout=10)
        assert r.status_code == 200, r.text
        return r.json()

    positive = sum(1 for r in ROWS if r[3] > 0)
    d = doc(f"SELECT volume FROM {TABLE} WHERE volume > 0 ORDER BY volume DESC LIMIT 1")
    assert (d["rows"], d["rows_before_limit_at_least"]) == (1, positive)
    d = doc(f"SELECT symbol, count() FROM {TABLE} GROUP BY symbol ORDER BY symbol LIMIT 1 OFFSET 1")
    assert (d["rows"], d["rows_before_limit_at_least"]) == (1, len({r[1] for r in ROWS}))
    # Without LIMIT there is no such field, as in ClickHouse.
    assert "rows_before_limit_at_least" not in doc(f"SELECT symbol FROM {TABLE}")


def test_json_compact(url):
    doc = fetch(url, "JSONCompact").json()
    assert [m["name"] for m in doc["meta"]] == NAMES
    assert_rows(doc["data"])


def test_json_each_row(url):
    body = fetch(url, "JSONEachRow").text
    rows = [json.loads(line) for line in body.splitlines()]
    assert all(list(r) == NAMES for r in rows)
    assert_rows([[r[n] for n in NAMES] for r in rows])


def test_json_64bit_integers_can_be_quoted(url):
    doc = fetch(url, "JSONCompact", output_format_json_quote_64bit_integers="1").json()
    assert doc["data"][2][3] == str(2**62)
    assert_rows(doc["data"])


# ---- binary ----

@pytest.mark.parametrize("revision", [None, 54405, 54460])
def test_native(url, revision):
    params = {} if revision is None else {"client_protocol_version": str(revision)}
    names, types, rows = read_table(fetch(url, "Native", **params).content, revision or 0)
    assert names == NAMES
    assert types[0].startswith("DateTime64(9")
    assert_rows(rows)


def row_binary_value(reader, type_name):
    """One RowBinary value: like a one-row Native column, except that Nullable(T) is a null flag
    followed by the value only when it is not NULL."""
    if type_name.startswith("Nullable("):
        return None if reader.take(1)[0] else row_binary_value(reader, type_name[len("Nullable("):-1])
    if type_name.startswith("LowCardinality("):
        return row_binary_value(reader, type_name[len("LowCardinality("):-1])
    return read_column(reader, type_name, 1)[0]


def row_binary_rows(reader, types):
    rows = []
    while not reader.done():
        rows.append(tuple(row_binary_value(reader, t) for t in types))
    return rows


def test_row_binary_with_names_and_types(url):
    r = Reader(fetch(url, "RowBinaryWithNamesAndTypes").content)
    n = r.varint()
    names = [r.string() for _ in range(n)]
    types = [r.string() for _ in range(n)]
    assert names == NAMES
    assert_rows(row_binary_rows(r, types))


def test_row_binary(url):
    # RowBinary carries no header: take the column types from the self-describing variant.
    head = Reader(fetch(url, "RowBinaryWithNamesAndTypes").content)
    n = head.varint()
    [head.string() for _ in range(n)]
    types = [head.string() for _ in range(n)]
    assert_rows(row_binary_rows(Reader(fetch(url, "RowBinary").content), types))


def arrow_rows(table):
    assert table.column_names == NAMES
    assert pa.types.is_timestamp(table.schema.field("timestamp").type)
    assert table.schema.field("timestamp").type.unit == "ns"
    columns = [table.column("timestamp").cast(pa.int64()).to_pylist()] + [
        table.column(n).to_pylist() for n in NAMES[1:]
    ]
    return list(zip(*columns))


def test_arrow(url):
    table = pa.ipc.open_file(pa.BufferReader(fetch(url, "Arrow").content)).read_all()
    assert_rows(arrow_rows(table))


def test_arrow_stream(url):
    table = pa.ipc.open_stream(pa.BufferReader(fetch(url, "ArrowStream").content)).read_all()
    assert_rows(arrow_rows(table))


# ---- how the format is chosen ----

def test_format_precedence(url):
    """FORMAT clause, then X-ClickHouse-Format, then default_format."""
    r = requests.post(url, params={"default_format": "CSV"}, headers={"X-ClickHouse-Format": "JSONEachRow"}, data=QUERY.encode(), timeout=10)
    assert r.headers["X-ClickHouse-Format"] == "JSONEachRow"
    assert_rows([[json.loads(line)[n] for n in NAMES] for line in r.text.splitlines()])
    r = requests.post(url, params={"default_format": "CSV"}, data=QUERY.encode(), timeout=10)
    assert r.headers["X-ClickHouse-Format"] == "CSV"
    assert_rows(csv_rows(r.text))
    r = requests.post(url, params={"default_format": "CSV"}, headers={"X-ClickHouse-Format": "JSONEachRow"}, data=f"{QUERY} FORMAT TSV".encode(), timeout=10)
    assert r.headers["X-ClickHouse-Format"] == "TabSeparated"
    assert_rows(tsv_lines(r.text))
    # A ClickHouse client with no format at all gets TabSeparated.
    r = requests.post(url, params={"query_id": "q1"}, data=QUERY.encode(), timeout=10)
    assert r.headers["X-ClickHouse-Format"] == "TabSeparated"
    assert r.headers["X-ClickHouse-Query-Id"] == "q1"
    assert_rows(tsv_lines(r.text))
    # The query in the URL, a newline, then the body.
    r = requests.post(url, params={"query": f"SELECT timestamp, symbol, price, volume FROM {TABLE}", "default_format": "TSV"}, data=b"ORDER BY timestamp", timeout=10)
    assert r.status_code == 200, r.text
    assert_rows(tsv_lines(r.text))


def test_summary_header(url):
    r = fetch(url, "JSONCompact")
    summary = json.loads(r.headers["X-ClickHouse-Summary"])
    assert summary["result_rows"] == str(len(ROWS))
    assert int(summary["read_rows"]) >= len(ROWS)
    assert all(isinstance(v, str) for v in summary.values())


# ---- a result larger than one streamed block ----

BIG_TABLE = "fmt_big"
BIG_ROWS = 70_000  # past the 65,536-row block after which results are streamed in chunks


@pytest.fixture(scope="module")
def big(url):
    create = f"CREATE TABLE {BIG_TABLE} (timestamp DateTime64(9), symbol LowCardinality(String), price Nullable(Float64), volume Int64)"
    assert requests.post(url, data=create.encode(), timeout=10).status_code == 200
    step = 10_000
    for lo in range(0, BIG_ROWS, step):
        values = ",".join(
            f"({BASE_NS + i},'{'S%d' % (i % 7)}',{'NULL' if i % 11 == 0 else i / 8},{i})" for i in range(lo, lo + step)
        )
        r = requests.post(url, data=f"INSERT INTO {BIG_TABLE} VALUES {values}".encode(), timeout=60)
        assert r.status_code == 200, r.text
    return f"SELECT timestamp, symbol, price, volume FROM {BIG_TABLE} ORDER BY timestamp"


def big_expected():
    return [(BASE_NS + i, f"S{i % 7}", None if i % 11 == 0 else i / 8, i) for i in range(BIG_ROWS)]


@pytest.mark.parametrize("fmt", ["Native", "ArrowStream", "Arrow", "CSV", "JSONCompact", "RowBinaryWithNamesAndTypes"])
def test_streamed_result(url, big, fmt):
    r = requests.post(url, params={"client_protocol_version": "54460"} if fmt == "Native" else {}, data=f"{big} FORMAT {fmt}".encode(), timeout=60)
    assert r.status_code == 200, r.text[:300]
    want = big_expected()
    if fmt == "Native":
        _, _, rows = read_table(r.content, 54460)
    elif fmt == "ArrowStream":
        rows = arrow_rows(pa.ipc.open_stream(pa.BufferReader(r.content)).read_all())
    elif fmt == "Arrow":
        rows = arrow_rows(pa.ipc.open_file(pa.BufferReader(r.content)).read_all())
    elif fmt == "CSV":
        rows = [typed(*row) for row in csv_rows(r.text)]
    elif fmt == "JSONCompact":
        doc = r.json()
        assert doc["rows"] == BIG_ROWS
        rows = [typed(*row) for row in doc["data"]]
    else:
        reader = Reader(r.content)
        n = reader.varint()
        [reader.string() for _ in range(n)]
        types = [reader.string() for _ in range(n)]
        rows = row_binary_rows(reader, types)
    assert len(rows) == BIG_ROWS
    assert [tuple(row) for row in rows] == want


# ---- request and response encodings ----

@pytest.mark.parametrize("encoding", ["gzip", "lz4"])
def test_compressed_request_bodies(url, encoding):
    import gzip

    import lz4.frame

    body = f"{QUERY} FORMAT TSV".encode()
    packed = gzip.compress(body) if encoding == "gzip" else lz4.frame.compress(body)
    r = requests.post(url, headers={"Content-Encoding": encoding}, data=packed, timeout=10)
    assert r.status_code == 200, r.text
    assert_rows(tsv_lines(r.text))


def test_compressed_responses(url):
    r = requests.post(url, params={"enable_http_compression": "1"}, headers={"Accept-Encoding": "gzip"}, data=f"{QUERY} FORMAT TSV".encode(), timeout=10)
    assert r.headers.get("Content-Encoding") == "gzip"
    assert_rows(tsv_lines(r.text))


def test_responses_are_not_compressed_unless_enabled(url):
    # requests always sends Accept-Encoding: gzip, deflate; without the setting the body is plain.
    r = requests.post(url, data=f"{QUERY} FORMAT TSV".encode(), timeout=10)
    assert "Content-Encoding" not in r.headers
    assert_rows(tsv_lines(r.text))
    # An encoding Ronto does not produce (br) leaves the body plain too.
    r = requests.post(url, params={"enable_http_compression": "1"}, headers={"Accept-Encoding": "br"}, data=f"{QUERY} FORMAT TSV".encode(), timeout=10)
    assert "Content-Encoding" not in r.headers
    assert_rows(tsv_lines(r.text))


def test_compressed_streamed_response(url, big):
    """A result large enough to be streamed in chunks arrives as concatenated gzip members, which
    the client decodes as one body."""
    r = requests.post(url, params={"enable_http_compression": "1"}, headers={"Accept-Encoding": "gzip"},
                      data=f"SELECT volume FROM ({big}) FORMAT TSV".encode(), timeout=30)
    assert r.status_code == 200, r.text[:200]
    assert r.headers.get("Content-Encoding") == "gzip"
    assert r.headers.get("Transfer-Encoding") == "chunked"
    assert r.text.split("\n")[:-1] == [str(i) for i in range(BIG_ROWS)]
