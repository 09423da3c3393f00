"""Fixtures for end-to-end tests (helpers live in cluster.py).

A module marked ``pytestmark = pytest.mark.transports("zmq", "redis")`` runs its
cluster tests once per driver; ``transport`` gives the ``Cluster`` options of the
current one (a key prefix of its own on a private redis-server for each call).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from directord import testing
from directord.testing import Cluster

ClusterOptions = Callable[[], dict[str, Any]]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker("transports")
    if marker is not None and "transport" in metafunc.fixturenames:
        metafunc.parametrize("transport", marker.args, indirect=True, scope="module")


@pytest.fixture(scope="session")
def redis_base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``redis://127.0.0.1:PORT`` of a private redis-server for the redis transport."""
    with testing.redis_server(tmp_path_factory.mktemp("redis-transport")) as url:
        yield url


@pytest.fixture(scope="module")
def transport(request: pytest.FixtureRequest) -> ClusterOptions:
    name = getattr(request, "param", "zmq")
    if name != "redis":
        return lambda: {"driver": name}
    base = request.getfixturevalue("redis_base")
    return lambda: {"driver": "redis", "driver_url": f"{base}/0?prefix=e2e-{uuid.uuid4().hex[:12]}"}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, transport: ClusterOptions) -> Iterator[Cluster]:
    """Three clients, heartbeat 1 s, memory datastore; shared by a test module."""
    with Cluster(tmp_path_factory.mktemp("cluster"), **transport()).running() as instance:
        yield instance
