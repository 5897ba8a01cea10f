"""Fixtures: the real proximadb-server on free loopback ports with a fresh data directory."""

import http.client
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.parse
import uuid

import pytest

from proximadb import AsyncProximaDBClient, ProximaDBClient

SERVER = os.environ.get("PROXIMADB_SERVER",
                        os.path.join(os.path.dirname(__file__), "..", "..", "..", "build", "bin",
                                     "proximadb-server"))


def http_get(url: str, timeout: float = 10,
             context: "ssl.SSLContext | None" = None) -> "tuple[int, bytes]":
    """(status, body) of a GET on a new connection (https:// with `context`); OSError if the
    server cannot be reached."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https":
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=timeout,
            context=context)
    else:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request("GET", parts.path)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def samples(server: "Server") -> "dict[tuple, float]":
    """/metrics as {(sample name, sorted label items): value}, parsed by prometheus_client."""
    from prometheus_client.parser import text_string_to_metric_families
    status, body = http_get(server.rest_url + "/metrics")
    assert status == 200
    out = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(metrics: "dict[tuple, float]", name: str, **labels: str) -> float:
    return metrics.get((name, tuple(sorted(labels.items()))), 0.0)


class Server:
    def __init__(self, ready_tls: "ssl.SSLContext | None" = None,
                 data_dir: "str | None" = None, log_level: str = "warn",
                 **settings: str) -> None:
        """`settings` are extra environment entries, e.g. PROXIMADB_API__MAX_K="100";
        `ready_tls`, for a server with [tls] enabled, what its readiness is asked over;
        `data_dir`, where the data goes instead of a directory of its own."""
        self.ready_tls = ready_tls
        self.log_level = log_level
        self.dir = tempfile.mkdtemp(prefix="proximadb-py-")
        self.data_dir = data_dir or os.path.join(self.dir, "data")
        self.rest_port, self.grpc_port = free_port(), free_port()
        self.env = dict(os.environ, PROXIMADB_API__MAX_BATCH_SIZE="2000", **settings)
        self.log = open(os.path.join(self.dir, "server.log"), "wb")
        self.start()

    def start(self) -> None:
        """Starts the server on this object's ports and data directory; waits until ready."""
        self.proc = subprocess.Popen(
            [SERVER, "--data-dir", self.data_dir, "--rest-port",
             str(self.rest_port), "--grpc-port", str(self.grpc_port), "--log-level", self.log_level],
            env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while True:
            try:
                if http_get(f"{self.rest_url}/ready", 1, self.ready_tls)[0] == 200:
                    break
            except (OSError, http.client.HTTPException):
                pass
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("proximadb-server did not start")
            time.sleep(0.05)

    def kill9(self) -> None:
        """SIGKILL: no shutdown of any kind."""
        self.proc.kill()
        self.proc.wait()

    @property
    def rest_url(self) -> str:
        scheme = "https" if self.ready_tls else "http"
        return f"{scheme}://127.0.0.1:{self.rest_port}"

    @property
    def grpc_url(self) -> str:
        return f"grpc://127.0.0.1:{self.grpc_port}"

    def url(self, protocol: str) -> str:
        return self.grpc_url if protocol == "grpc" else self.rest_url

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def server():
    s = Server()
    yield s
    s.stop()


@pytest.fixture(params=["rest", "grpc"])
def protocol(request) -> str:
    return request.param


@pytest.fixture
def client(server, protocol):
    with ProximaDBClient(server.url(protocol)) as c:
        yield c


@pytest.fixture
async def aclient(server, protocol):
    async with AsyncProximaDBClient(server.url(protocol)) as c:
        yield c


@pytest.fixture
def name() -> str:
    """A fresh collection name per test."""
    return "c" + uuid.uuid4().hex[:12]
