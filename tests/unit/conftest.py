"""Shared fixtures for the unit tests (no network, no server processes).

The one exception is ``redis_server``: a private redis-server on 127.0.0.1 for
the datastore contract, started once per session and stopped afterwards.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from directord.cache import Cache


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[Cache]:
    """A real SQLite client cache in a temporary directory."""
    store = Cache(str(tmp_path / "client" / "cache.db"))
    try:
        yield store
    finally:
        store.close()


def _wait_for(condition: Callable[[], bool], timeout: float = 5.0, interval: float = 0.01) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` seconds pass; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return bool(condition())
        time.sleep(interval)


@pytest.fixture
def wait_for() -> Callable[..., bool]:
    """``wait_for(condition, timeout=5.0)``: poll a condition against a deadline."""
    return _wait_for


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def closed_port() -> int:
    """A local port with no listener (for "cannot reach" errors)."""
    return free_port()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``redis://127.0.0.1:PORT`` of a throwaway redis-server (no persistence, own dir)."""
    import redis

    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed: run `make test` (it apt-get installs redis-server) "
                    "or `apt-get install redis-server`", pytrace=False)
    directory = tmp_path_factory.mktemp("redis")
    port = free_port()
    log = directory / "redis.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory),
             "--save", "", "--appendonly", "no", "--daemonize", "no"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
    client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1)
    try:
        deadline = time.monotonic() + 10.0
        while True:
            try:
                if client.ping():
                    break
            except redis.RedisError:
                pass
            if proc.poll() is not None or time.monotonic() >= deadline:
                pytest.fail(f"redis-server did not come up on port {port}:\n{log.read_text()[-2000:]}",
                            pytrace=False)
            time.sleep(0.02)
        yield f"redis://127.0.0.1:{port}"
    finally:
        client.close()
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
