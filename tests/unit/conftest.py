"""Shared fixtures for the unit tests (no network, no server processes)."""

from __future__ import annotations

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
