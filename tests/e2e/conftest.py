"""Fixtures for end-to-end tests (helpers live in cluster.py)."""

from __future__ import annotations

import pytest

from directord.testing import Cluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    """Three clients, heartbeat 1 s, memory datastore; shared by a test module."""
    with Cluster(tmp_path_factory.mktemp("cluster")).running() as instance:
        yield instance
