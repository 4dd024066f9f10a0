"""Starts the real `ronto` binary for the real-client tests (issue 4).

Each server gets its own free loopback port and temporary data directory; every wait is bounded
and the process is killed on teardown. The binary is `$RONTO_BIN`, else `debug/ronto` under
`$CARGO_TARGET_DIR` or `target/` (tools/test.sh builds it before running these tests).
"""

import http.client
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 20.0
EXIT_TIMEOUT_S = 20.0


def ronto_binary():
    target = ROOT / os.environ.get("CARGO_TARGET_DIR", "target")  # an absolute path replaces ROOT
    path = Path(os.environ.get("RONTO_BIN") or target / "debug" / "ronto")
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
    """A `ronto serve` child process with its own port and data directory."""

    def __init__(self, args=(), env=None):
        self.dir = Path(tempfile.mkdtemp(prefix="ronto-clients-"))
        self.data_dir = self.dir / "data"
        self.args = list(args)
        self.env = dict(os.environ)
        self.env.update(env or {})
        self.proc = None
        self.port = None
        self.start()

    def start(self):
        self.port = free_port()
        log = open(self.dir / "server.log", "ab")
        cmd = [
            str(ronto_binary()), "serve",
            "--http-port", str(self.port),
            "--data-dir", str(self.data_dir),
            "--cores", "2",
            "--fsync", "never",
            *self.args,
        ]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log, env=self.env)
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
        return f"http://127.0.0.1:{self.port}/"

    def log(self):
        try:
            return (self.dir / "server.log").read_text(errors="replace")
        except OSError:
            return ""

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=EXIT_TIMEOUT_S)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def server():
    """One server per test module (the modules use distinct table names)."""
    s = Server()
    yield s
    s.stop()


@pytest.fixture
def make_server():
    """Starts servers with extra flags for one test; all are stopped afterwards."""
    started = []

    def make(*args, env=None):
        s = Server(args, env)
        started.append(s)
        return s

    yield make
    for s in started:
        s.stop()
