"""The datastore contracts (``directord.testing``) for the built-in stores: memory,
file:///dir (SQLite WAL) and redis:// (a real redis-server); then what each store
guarantees beyond them."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from directord.datastores.file import DB_NAME, FileDatastore
from directord.datastores.redis import RedisDatastore
from directord.testing import DatastoreContract, PersistentDatastoreContract, wait_for
from directord.testing.datastores import (
    FileStoreKit,
    MemoryStoreKit,
    RedisStoreKit,
    StoreKit,
    finished,
    ids,
    job,
    node,
)


def _kit(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreKit]:
    if kind == "memory":
        kit: StoreKit = MemoryStoreKit()
    elif kind == "file":
        kit = FileStoreKit(tmp_path)
    else:
        kit = RedisStoreKit(request.getfixturevalue("redis_server"))
    try:
        yield kit
    finally:
        kit.close()


class TestMemoryStore(DatastoreContract):
    @pytest.fixture
    def store_kit(self, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreKit]:
        yield from _kit("memory", request, tmp_path)


class TestPersistentStores(PersistentDatastoreContract):
    @pytest.fixture(params=["file", "redis"])
    def store_kit(self, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreKit]:
        yield from _kit(request.param, request, tmp_path)


def test_redis_node_keys_expire_by_their_own_ttl(redis_server: str) -> None:
    kit = RedisStoreKit(redis_server)
    try:
        store = kit.open()
        store.put_node(node("soon", ttl=1.0))
        store.put_node(node("later", ttl=60))
        wait_for(lambda: not kit.raw.exists(kit.key("node:soon")), 6.0, what="the key of node 'soon' to expire")
        assert 0 < kit.raw.ttl(kit.key("node:later")) <= 60
    finally:
        kit.close()


# -- store-specific guarantees -----------------------------------------------
def test_file_store_survives_kill_9(tmp_path: Path) -> None:
    url = (tmp_path / "crash").as_uri()
    script = f"""
import os, signal
from directord.datastores.file import FileDatastore
from directord.job import Job
from directord.models import JobRecord
store = FileDatastore({url!r})
for batch in range(20):
    ids = [f"k{{batch}}-{{i}}" for i in range(50)]
    store.put_jobs([JobRecord(job_id=i, definition=Job(verb="RUN", job_id=i), nodes=["n1"]) for i in ids])
print("written", flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert proc.stdout.strip() == "written"
    store = FileDatastore(url)
    try:
        found = ids(store.jobs())
        assert len(found) == 1000
        assert found[0] == "k0-0" and found[-1] == "k19-49"
        assert store.last_job().job_id == "k19-49"
    finally:
        store.close()


def test_file_store_layout(tmp_path: Path) -> None:
    store = FileDatastore((tmp_path / "layout").as_uri())
    store.put_jobs([job("j1")])
    store.put_node(node("n1"))
    store.close()
    db = tmp_path / "layout" / DB_NAME
    assert oct(db.stat().st_mode & 0o777) == oct(0o600)
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'index')")}
        assert {"jobs", "nodes", "jobs_last"} <= tables
        state = conn.execute("SELECT state FROM jobs WHERE job_id='j1'").fetchone()[0]
        assert json.loads(state)["job_id"] == "j1"
        assert json.loads(conn.execute("SELECT state FROM nodes").fetchone()[0])["identity"] == "n1"
    finally:
        conn.close()


def test_redis_layout_and_no_key_scans(redis_server: str) -> None:
    raw = redis.Redis.from_url(f"{redis_server}/3")
    raw.flushdb()
    raw.config_resetstat()
    store = RedisDatastore(f"{redis_server}/3?job_ttl=100")
    try:
        store.put_jobs([finished(job("j1")), job("j2")])
        store.put_node(node("n1", ttl=30))
        assert store.get_job("j1").complete and ids(store.jobs()) == ["j1", "j2"]
        assert store.last_job().job_id == "j2" and [n.identity for n in store.nodes()] == ["n1"]
        store.prune_jobs(time.time() - 3600)
        assert not {"cmdstat_keys", "cmdstat_scan"} & set(raw.info("commandstats"))
        assert sorted(raw.keys()) == [b"directord:job:j1", b"directord:job:j2", b"directord:jobs:last",
                                      b"directord:jobs:order", b"directord:jobs:seq", b"directord:node:n1",
                                      b"directord:nodes"]
        assert json.loads(raw.get("directord:job:j1"))["stdout"]["n1"] == "hi\n"  # plain JSON, no pickle
        assert 0 < raw.ttl("directord:job:j1") <= 100
        assert 0 < raw.ttl("directord:node:n1") <= 30
        assert raw.type("directord:jobs:order") == b"zset" and raw.type("directord:nodes") == b"zset"
        raw.config_resetstat()
        store.clear_nodes()
        store.clear_jobs()
        stats = raw.info("commandstats")
        assert not {"cmdstat_keys", "cmdstat_scan", "cmdstat_flushdb"} & set(stats), sorted(stats)
        assert raw.dbsize() == 1  # only the sequence counter is left
    finally:
        store.close()
        raw.flushdb()
        raw.close()


def test_redis_prefixes_share_a_db(redis_server: str) -> None:
    one = RedisDatastore(f"{redis_server}/0?prefix=ns-{uuid.uuid4().hex[:8]}")
    two = RedisDatastore(f"{redis_server}/0?prefix=ns-{uuid.uuid4().hex[:8]}")
    try:
        one.put_jobs([job("same-id", verb="ONE")])
        two.put_jobs([job("same-id", verb="TWO")])
        one.put_node(node("n"))
        assert one.get_job("same-id").verb == "ONE" and two.get_job("same-id").verb == "TWO"
        assert two.nodes() == []
        assert two.clear_jobs() == 1
        assert ids(one.jobs()) == ["same-id"]
    finally:
        one.clear_jobs()
        one.clear_nodes()
        one.close()
        two.close()
