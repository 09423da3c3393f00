"""Shared fixtures for the unit tests (no network, no server processes).

The one exception is ``redis_server``: a private redis-server on 127.0.0.1 for
the datastore contract, started once per session and stopped afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from directord import testing
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


@pytest.fixture
def closed_port() -> int:
    """A local port with no listener (for "cannot reach" errors)."""
    return testing.free_port()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``redis://127.0.0.1:PORT`` of a throwaway redis-server (no persistence, own dir)."""
    try:
        with testing.redis_server(tmp_path_factory.mktemp("redis")) as url:
            yield url
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
