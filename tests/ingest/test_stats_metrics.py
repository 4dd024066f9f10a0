"""`/stats` and `/metrics` after writes through every ingest path.

`/stats` counters must add up to exactly what was written and rejected; `/metrics` must be
valid Prometheus text (`promtool check metrics` when promtool is installed, Debian package
`prometheus`, and always this file's own parser) and agree with `/stats`.
"""

import http.client
import json
import math
import re
import shutil
import subprocess

import msgpack
import pytest
import requests

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (\S+)(?: (-?\d+))?$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')


def write_everything(server):
    """Writes through each path; returns (rows written, rows rejected)."""
    url = server.url
    # Line protocol: 3 good, 2 bad (partial write).
    r = requests.post(url + "/write", data=b"obs,symbol=A x=1i 1\nobs,symbol=B x=2i 2\nobs,symbol=C x=oops 3\n"
                                           b"obs,symbol=D x 4\nobs,symbol=E x=5i 5\n", timeout=30)
    assert r.status_code == 400 and r.json()["written"] == 3 and r.json()["rejected"] == 2, r.text
    r = requests.post(url + "/api/v2/write", params={"org": "o", "bucket": "b", "precision": "ms"},
                      data=b"obs,symbol=F x=6i 6\nobs,symbol=G x=7i 7\n", timeout=30)
    assert r.status_code == 204, r.text
    # MessagePack: 4 good (1 row + 3 columnar), 1 bad item.
    body = msgpack.packb({"batch": [
        {"m": "obs_mp", "t": 1, "h": "a", "fields": {"v": 1.5}},
        {"m": "obs_mp", "columns": {"time": [2, 3, 4], "v": [2.5, 3.5, 4.5], "host": ["b", "c", "d"]}},
        {"m": "obs_mp", "t": 5, "h": "e", "fields": {"v": "text"}},
    ]})
    r = requests.post(url + "/write/v2/msgpack", data=body, headers={"Content-Type": "application/msgpack"}, timeout=30)
    assert r.status_code == 400 and r.json()["written"] == 4 and r.json()["rejected"] == 1, r.text
    # JSON: 2 good, 1 bad.
    r = requests.post(url + "/write/json", data=json.dumps({"table": "trades", "rows": [
        {"timestamp": 1, "symbol": "A", "price": 1.5, "volume": 1},
        {"timestamp": 2, "symbol": "B", "price": 2.5, "volume": 2},
        {"timestamp": 3, "symbol": "C", "price": "x", "volume": 3},
    ]}), timeout=30)
    assert r.status_code == 400 and r.json()["written"] == 2, r.text
    # ClickHouse INSERT: 3 rows.
    r = requests.post(url + "/", params={"query": "INSERT INTO quotes (timestamp, symbol, bid, ask) FORMAT CSV"},
                      data=b"1,A,1.0,1.5\n2,B,2.0,2.5\n3,C,3.0,3.5\n", timeout=30)
    assert r.status_code == 200, r.text
    return 3 + 2 + 4 + 2 + 3, 2 + 1 + 1


def test_stats_count_what_was_written_and_rejected(fresh_server):
    written, rejected = write_everything(fresh_server)
    stats = fresh_server.stats()
    assert stats["ticks_ingested"] == written, stats
    assert stats["ticks_rejected"] == rejected, stats
    assert stats["ticks_stored"] == written, stats
    assert sum(s["ticks_stored"] for s in stats["shards"]) == written, stats
    assert sum(s["ticks_ingested"] for s in stats["shards"]) == written, stats
    assert stats["cores"] == len(stats["shards"]) == 2
    assert stats["wal_bytes"] > 0 and stats["memory_in_use_bytes"] > 0, stats
    assert stats["last_ingest_latency_ns"] > 0, stats
    before = stats["queries_executed"]
    assert fresh_server.rows("SELECT count() AS n FROM obs") == [{"n": 5}]
    # Every successful SQL statement is counted: the SELECT, an INSERT, a DDL statement; a
    # failing one is not. HTTP line-protocol writes are not SQL and count as ticks only.
    assert fresh_server.stats()["queries_executed"] == before + 1
    fresh_server.query("CREATE TABLE counted (timestamp DateTime64(9), symbol String, x Int64)")
    fresh_server.query("INSERT INTO counted VALUES (1, 'A', 1)")
    with pytest.raises(AssertionError):
        fresh_server.query("SELECT * FROM no_such_table")
    assert fresh_server.stats()["queries_executed"] == before + 3


def parse_metrics(text):
    """Prometheus text format 0.0.4 -> {family: {"help", "type", "samples": [(name, labels, value)]}}."""
    families, current = {}, None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            _, kind, name, *rest = line.split(" ", 3)
            family = families.setdefault(name, {"help": None, "type": None, "samples": []})
            assert family[kind.lower()] is None, f"line {number}: second {kind} for {name}"
            family[kind.lower()] = rest[0] if rest else ""
            current = name
            continue
        assert not line.startswith("#"), f"line {number}: stray comment {line!r}"
        m = SAMPLE.match(line)
        assert m, f"line {number}: not a sample: {line!r}"
        name, _, labels, value = m.group(1), m.group(2), m.group(3) or "", m.group(4)
        parsed = dict(LABEL.findall(labels))
        assert ",".join(f'{k}="{v}"' for k, v in parsed.items()) == labels, f"line {number}: bad labels {labels!r}"
        assert current is not None and (name == current or name in (current + "_sum", current + "_count")), \
            f"line {number}: sample {name} outside its family {current}"
        families[current]["samples"].append((name, parsed, float(value)))
    return families


def check_families(families):
    assert families, "no metrics"
    for name, family in families.items():
        assert name.startswith("ronto_"), name
        assert family["help"], f"{name}: no HELP"
        assert family["type"] in ("counter", "gauge", "summary", "histogram"), f"{name}: TYPE {family['type']}"
        assert family["samples"], f"{name}: no samples"
        for sample, labels, value in family["samples"]:
            assert not math.isnan(value), f"{sample}{labels} is NaN"
            if family["type"] == "counter":
                assert name.endswith("_total"), name
                assert value >= 0 and value == int(value), f"{sample}{labels} = {value}"
            if family["type"] == "summary" and sample == name:
                assert 0 <= float(labels["quantile"]) <= 1, labels
                assert value >= 0
        if family["type"] == "summary":
            names = [s for s, _, _ in family["samples"]]
            assert names.count(name + "_sum") == 1 and names.count(name + "_count") == 1, name
            quantiles = [v for s, _, v in family["samples"] if s == name]
            assert quantiles == sorted(quantiles), f"{name}: quantiles not monotonic {quantiles}"


def total(families, name):
    return sum(v for _, _, v in families[name]["samples"])


def test_metrics_are_valid_prometheus_text_and_agree_with_stats(fresh_server):
    written, rejected = write_everything(fresh_server)
    fresh_server.rows("SELECT count() AS n FROM obs")
    r = requests.get(fresh_server.url + "/metrics", timeout=30)
    assert r.status_code == 200
    families = parse_metrics(r.text)
    check_families(families)
    assert total(families, "ronto_ticks_ingested_total") == written
    assert total(families, "ronto_ticks_rejected_total") == rejected
    assert total(families, "ronto_ticks_stored_total") == written
    assert {l["shard"] for _, l, _ in families["ronto_ticks_stored_total"]["samples"]} == {"0", "1"}
    # Five successful ingest requests were timed (the INSERT is counted with queries).
    counts = {s: v for s, _, v in families["ronto_ingest_ack_latency_seconds"]["samples"] if s.endswith("_count")}
    assert counts["ronto_ingest_ack_latency_seconds_count"] >= 4, counts
    stats = fresh_server.stats()
    assert total(families, "ronto_wal_bytes") == stats["wal_bytes"]


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed (apt-get install prometheus)")
def test_promtool_check_metrics(fresh_server):
    write_everything(fresh_server)
    fresh_server.rows("SELECT count() AS n FROM obs")
    text = requests.get(fresh_server.url + "/metrics", timeout=30).text
    result = subprocess.run(["promtool", "check", "metrics"], input=text.encode(), capture_output=True, timeout=60)
    assert result.returncode == 0, (result.stdout + result.stderr).decode()
    assert result.stdout.decode().strip() == "" and result.stderr.decode().strip() == "", \
        (result.stdout + result.stderr).decode()


def test_metrics_have_one_prometheus_content_type(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request("GET", "/metrics")
        response = conn.getresponse()
        response.read()
        assert response.status == 200
        assert response.msg.get_all("Content-Type") == ["text/plain; version=0.0.4; charset=utf-8"]
    finally:
        conn.close()
