"""Fixtures for end-to-end tests (helpers live in cluster.py)."""

from __future__ import annotations

import pytest

from directord.localcluster import Cluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    """Three clients, heartbeat 1 s, memory datastore; shared by a test module."""
    instance = Cluster(tmp_path_factory.mktemp("cluster"))
    try:
        instance.start()
        yield instance
    except Exception:
        print(instance.logs())
        raise
    finally:
        instance.stop()
