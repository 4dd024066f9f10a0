"""Starts the real `ronto` binary for the ingestion tests (issue 5).

Each server gets its own free loopback port and temporary data directory; every wait is bounded
and the process is killed on teardown. The binary is `$RONTO_BIN`, else `target/debug/ronto`
(built by `cargo build -p engine`).
"""

import http.client
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 20.0
EXIT_TIMEOUT_S = 20.0
REQUEST_TIMEOUT_S = 30.0


def ronto_binary():
    path = Path(os.environ.get("RONTO_BIN") or ROOT / "target" / "debug" / "ronto")
    if not path.is_file():
        pytest.fail(f"no ronto binary at {path}: run `cargo build -p engine` first")
    return path


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_status(port, path):
    """The status of `GET path`, or None when nothing answers."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            conn.request("GET", path)
            return conn.getresponse().status
        finally:
            conn.close()
    except OSError:
        return None


class Server:
    """A `ronto serve` child process with helpers to read back what was written."""

    def __init__(self, args=()):
        self.dir = Path(tempfile.mkdtemp(prefix="ronto-ingest-"))
        self.data_dir = self.dir / "data"
        self.args = list(args)
        self.proc = None
        self.port = free_port()
        log = open(self.dir / "server.log", "ab")
        cmd = [
            str(ronto_binary()), "serve",
            "--http-port", str(self.port),
            "--data-dir", str(self.data_dir),
            "--cores", "2",
            *self.args,
        ]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
        log.close()
        for path in ("/ping", "/ready"):
            deadline = time.monotonic() + START_TIMEOUT_S
            while http_status(self.port, path) != 200:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"server exited with {self.proc.returncode}; log:\n{self.log()}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no 200 from {path} in {START_TIMEOUT_S}s; log:\n{self.log()}")
                time.sleep(0.02)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def log(self):
        try:
            return (self.dir / "server.log").read_text(errors="replace")
        except OSError:
            return ""

    def query(self, sql):
        """Runs `sql` over POST / and returns the body; fails the test on a non-200 answer."""
        r = requests.post(self.url + "/", data=sql.encode(), timeout=REQUEST_TIMEOUT_S)
        assert r.status_code == 200, f"{sql}: {r.status_code} {r.text}"
        return r.text

    def rows(self, sql):
        """Rows of `sql` (without a FORMAT clause) as dicts, read as JSONEachRow."""
        text = self.query(sql + " FORMAT JSONEachRow")
        return [json.loads(line) for line in text.splitlines() if line]

    def columns(self, table):
        """Column name -> ClickHouse type name, in table order."""
        return {
            r["name"]: r["type"]
            for r in self.rows(f"SELECT name, type FROM system.columns WHERE table = '{table}'")
        }

    def stats(self):
        r = requests.get(self.url + "/stats", timeout=REQUEST_TIMEOUT_S)
        assert r.status_code == 200, r.text
        return r.json()

    def assert_alive(self):
        assert http_status(self.port, "/ping") == 200, f"server stopped answering; log:\n{self.log()}"

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=EXIT_TIMEOUT_S)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def server():
    """One server per test module; the tests of a module use distinct table names."""
    s = Server()
    yield s
    s.stop()


@pytest.fixture
def fresh_server():
    """A server of the test's own, for counters that must start at zero."""
    s = Server()
    yield s
    s.stop()
