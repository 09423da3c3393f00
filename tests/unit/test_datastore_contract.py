"""One contract, three stores: memory, file:///dir (SQLite WAL) and redis:// (a real redis-server).

Every operation the server uses, ordering, prune, clear, node expiry,
persistence, concurrent writers, and corrupt or foreign values written straight
into the backing store (logged and skipped, never executed).
"""

from __future__ import annotations

import json
import logging
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from directord.datastores import Datastore
from directord.datastores.file import DB_NAME, FileDatastore
from directord.datastores.memory import MemoryDatastore
from directord.datastores.redis import RedisDatastore
from directord.models import Control, JobRecord, Message, Node


class Backend:
    """How to open a store (again, on the same data) and write raw values behind its back."""

    kind = ""

    def __init__(self) -> None:
        self.opened: list[Datastore] = []

    def open(self) -> Datastore:
        store = self._open()
        self.opened.append(store)
        return store

    def _open(self) -> Datastore:
        raise NotImplementedError

    def inject_job(self, job_id: str, raw: bytes | str, last: float) -> None:
        raise NotImplementedError

    def inject_node(self, identity: str, raw: bytes | str, expire_time: float) -> None:
        raise NotImplementedError

    def close(self) -> None:
        for store in self.opened:
            store.close()


class MemoryBackend(Backend):
    kind = "memory"

    def __init__(self) -> None:
        super().__init__()
        self.store = MemoryDatastore("memory")

    def _open(self) -> Datastore:
        return self.store  # one process, one store: "reopening" is the same object


class FileBackend(Backend):
    kind = "file"

    def __init__(self, directory: Path) -> None:
        super().__init__()
        self.url = (directory / "store").as_uri()
        self.db = directory / "store" / DB_NAME

    def _open(self) -> Datastore:
        return FileDatastore(self.url)

    def _raw(self, sql: str, params: tuple) -> None:
        conn = sqlite3.connect(self.db, timeout=5)
        try:
            with conn:
                conn.execute(sql, params)
        finally:
            conn.close()

    def inject_job(self, job_id: str, raw: bytes | str, last: float) -> None:
        self._raw("INSERT INTO jobs(job_id, last, state) VALUES (?, ?, ?)", (job_id, last, raw))

    def inject_node(self, identity: str, raw: bytes | str, expire_time: float) -> None:
        self._raw("INSERT INTO nodes(identity, expire_time, state) VALUES (?, ?, ?)", (identity, expire_time, raw))


class RedisBackend(Backend):
    kind = "redis"

    def __init__(self, base: str) -> None:
        super().__init__()
        self.prefix = f"t{uuid.uuid4().hex[:12]}"
        self.url = f"{base}/0?prefix={self.prefix}"
        self.raw = redis.Redis.from_url(f"{base}/0")

    def _open(self) -> Datastore:
        return RedisDatastore(self.url)

    def key(self, name: str) -> str:
        return f"{self.prefix}:{name}"

    def inject_job(self, job_id: str, raw: bytes | str, last: float) -> None:
        seq = self.raw.incr(self.key("jobs:seq"))
        self.raw.set(self.key(f"job:{job_id}"), raw)
        self.raw.zadd(self.key("jobs:order"), {job_id: seq})
        self.raw.zadd(self.key("jobs:last"), {job_id: last})

    def inject_node(self, identity: str, raw: bytes | str, expire_time: float) -> None:
        self.raw.set(self.key(f"node:{identity}"), raw, ex=60)
        self.raw.zadd(self.key("nodes"), {identity: expire_time})

    def close(self) -> None:
        super().close()
        for key in self.raw.scan_iter(f"{self.prefix}:*"):  # test cleanup only
            self.raw.delete(key)
        self.raw.close()


def _backend(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if kind == "memory":
        backend: Backend = MemoryBackend()
    elif kind == "file":
        backend = FileBackend(tmp_path)
    else:
        backend = RedisBackend(request.getfixturevalue("redis_server"))
    try:
        yield backend
    finally:
        backend.close()


@pytest.fixture(params=["memory", "file", "redis"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    yield from _backend(request.param, request, tmp_path)


@pytest.fixture(params=["file", "redis"])
def persistent(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    yield from _backend(request.param, request, tmp_path)


@pytest.fixture
def store(backend: Backend) -> Datastore:
    return backend.open()


# -- helpers -----------------------------------------------------------------
def job(job_id: str | None = None, nodes: tuple[str, ...] = ("n1", "n2"), last: float | None = None,
        **definition) -> JobRecord:
    job_id = job_id or str(uuid.uuid4())
    record = JobRecord(job_id=job_id, definition={"verb": "RUN", "command": "echo hi", "job_id": job_id,
                                                  **definition}, nodes=list(nodes))
    if last is not None:
        record.created = record.last = last
    return record


def finished(record: JobRecord) -> JobRecord:
    record.apply("n1", Message(record.job_id, Control.JOB_END.value, "RUN", stdout="hi\n",
                               data={"execution_time": 0.25, "return_timestamp": "2024-01-01"}))
    record.apply("n2", Message(record.job_id, Control.JOB_FAILED.value, "RUN", stderr="boom", info="exit 1"))
    return record


def node(identity: str, ttl: float = 60.0, **fields) -> Node:
    return Node(identity=identity, expire_time=time.time() + ttl, machine_id=f"m-{identity}", version="0.13.0",
                host_uptime=12.5, agent_uptime=3.0, driver="zmq", session="s1", **fields)


def ids(records: list[JobRecord]) -> list[str]:
    return [r.job_id for r in records]


# -- the contract ------------------------------------------------------------
def test_empty_store(store: Datastore) -> None:
    assert store.nodes() == []
    assert store.jobs() == []
    assert store.last_job() is None
    assert store.get_job("nope") is None
    assert store.clear_jobs() == 0
    assert store.clear_nodes() == 0
    assert store.prune_jobs(time.time()) == 0
    store.put_jobs([])
    store.delete_node("nope")


def test_job_round_trip(store: Datastore) -> None:
    record = finished(job("j1", restrict=["abc"], vars={"x": [1, 2, {"y": None}]}))
    store.put_jobs([record])
    got = store.get_job("j1")
    assert got is not None
    assert got.to_state() == record.to_state()
    assert got.to_dict() == record.to_dict()
    assert got.success == ["n1"] and got.failed == ["n2"] and got.complete


def test_update_keeps_insertion_order(store: Datastore) -> None:
    records = [job(f"j{i}") for i in range(5)]
    store.put_jobs(records[:3])
    store.put_jobs(records[3:])
    assert ids(store.jobs()) == ["j0", "j1", "j2", "j3", "j4"]
    updated = finished(job("j1"))
    store.put_jobs([updated])  # a later update of an old record (a copy, as a persistent store hands back)
    assert ids(store.jobs()) == ["j0", "j1", "j2", "j3", "j4"]
    assert store.get_job("j1").complete
    assert store.last_job().job_id == "j4"


def test_large_batch(store: Datastore) -> None:
    records = [job(f"b{i:05d}") for i in range(2500)]
    store.put_jobs(iter(records))  # any iterable, e.g. dict.values()
    assert ids(store.jobs()) == ids(records)
    assert store.last_job().job_id == "b02499"
    assert store.get_job("b01234").job_id == "b01234"


def test_last_job_is_latest_insert(store: Datastore) -> None:
    store.put_jobs([job("a")])
    assert store.last_job().job_id == "a"
    store.put_jobs([job("b"), job("c")])
    assert store.last_job().job_id == "c"


def test_prune_by_age(store: Datastore) -> None:
    now = time.time()
    store.put_jobs([job("old", last=now - 100), job("mid", last=now - 50), job("new", last=now)])
    assert store.prune_jobs(now - 60) == 1
    assert ids(store.jobs()) == ["mid", "new"]
    assert store.get_job("old") is None
    assert store.prune_jobs(now - 50) == 0  # strictly older than
    # an update moves a record's age forward: it survives a prune that would have taken it
    fresh = job("mid", last=now - 50)
    fresh.last = now + 10
    store.put_jobs([fresh])
    assert store.prune_jobs(now + 1) == 1
    assert ids(store.jobs()) == ["mid"]
    assert store.prune_jobs(now + 100) == 1
    assert store.jobs() == [] and store.last_job() is None


def test_clear_jobs_counts_and_empties(store: Datastore) -> None:
    store.put_jobs([job(f"c{i}") for i in range(7)])
    assert store.clear_jobs() == 7
    assert store.jobs() == [] and store.last_job() is None and store.get_job("c3") is None
    assert store.clear_jobs() == 0
    store.put_jobs([job("after")])
    assert ids(store.jobs()) == ["after"]


def test_nodes(store: Datastore) -> None:
    a, b = node("alpha"), node("beta")
    store.put_node(a)
    store.put_node(b)
    listed = {n.identity: n for n in store.nodes()}
    assert set(listed) == {"alpha", "beta"}
    assert listed["alpha"].to_dict().keys() == a.to_dict().keys()
    for key in ("machine_id", "version", "driver", "session", "host_uptime", "agent_uptime", "joined"):
        assert getattr(listed["alpha"], key) == getattr(a, key)
    assert listed["alpha"].expire_time == pytest.approx(a.expire_time)
    refreshed = node("alpha", ttl=120)
    refreshed.machine_id = "m-new"
    store.put_node(refreshed)  # a refresh replaces, never duplicates
    listed = {n.identity: n for n in store.nodes()}
    assert len(store.nodes()) == 2 and listed["alpha"].machine_id == "m-new"
    store.delete_node("beta")
    store.delete_node("never-was")
    assert [n.identity for n in store.nodes()] == ["alpha"]
    store.put_node(node("gamma"))
    assert store.clear_nodes() == 2
    assert store.nodes() == []


def test_node_entries_expire(backend: Backend, store: Datastore, wait_for: Callable[..., bool]) -> None:
    store.put_node(node("past", ttl=-5))
    store.put_node(node("soon", ttl=1.0))
    store.put_node(node("later", ttl=60))
    assert sorted(n.identity for n in store.nodes()) == ["later", "soon"]
    assert wait_for(lambda: [n.identity for n in store.nodes()] == ["later"], timeout=6.0)
    if isinstance(backend, RedisBackend):  # the key itself is gone, by its own TTL
        assert wait_for(lambda: not backend.raw.exists(backend.key("node:soon")), timeout=6.0)
        assert 0 < backend.raw.ttl(backend.key("node:later")) <= 60


def test_reopen_keeps_jobs(persistent: Backend) -> None:
    first = persistent.open()
    first.put_jobs([job("p1"), finished(job("p2")), job("p3")])
    first.put_node(node("alive"))
    first.close()
    second = persistent.open()
    assert ids(second.jobs()) == ["p1", "p2", "p3"]
    assert second.get_job("p2").complete
    assert second.last_job().job_id == "p3"
    assert [n.identity for n in second.nodes()] == ["alive"]


def test_two_stores_on_the_same_data(persistent: Backend) -> None:
    one, two = persistent.open(), persistent.open()
    one.put_jobs([job("x1")])
    two.put_jobs([job("x2")])
    one.put_jobs([job("x3")])
    assert ids(one.jobs()) == ids(two.jobs()) == ["x1", "x2", "x3"]


def test_concurrent_writers_one_store(backend: Backend) -> None:
    _concurrent_writers(backend, shared=True)


def test_concurrent_writers_store_per_thread(persistent: Backend) -> None:
    _concurrent_writers(persistent, shared=False)


def _concurrent_writers(backend: Backend, shared: bool) -> None:
    threads_n, batches, per_batch = 8, 25, 8
    common = backend.open()
    errors: list[BaseException] = []
    start = threading.Barrier(threads_n)

    def writer(t: int) -> None:
        try:
            target = common if shared else backend.open()
            start.wait()
            for b in range(batches):
                target.put_jobs([job(f"w{t}-{b:03d}-{i}") for i in range(per_batch)])
                target.put_jobs([finished(job(f"w{t}-{b:03d}-0"))])  # an update racing other inserts
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    found = ids(common.jobs())
    assert len(found) == len(set(found)) == threads_n * batches * per_batch
    for t in range(threads_n):  # each writer's records keep that writer's order
        mine = [i for i in found if i.startswith(f"w{t}-")]
        assert mine == sorted(mine, key=lambda s: (s.split("-")[1], int(s.split("-")[2])))
    assert all(common.get_job(f"w{t}-{b:03d}-0").complete for t in range(threads_n) for b in range(batches))


# -- corrupt and foreign values ------------------------------------------------
def _garbage(marker: Path) -> dict[str, bytes | str]:
    good = finished(job("looks-fine")).to_state()
    wrong_nodes = {**job("wrong-nodes").to_state(), "nodes": "abc"}
    wrong_map = {**job("wrong-map").to_state(), "execution": {"n1": "slow"}}
    return {
        "not-json": b"\x80\x81\xfe not json at all",
        "pickle": f"cos\nsystem\n(S'touch {marker}'\ntR.".encode(),  # would run a command if unpickled
        "a-list": json.dumps([1, 2, 3]),
        "no-fields": json.dumps({"hello": "world"}),
        "wrong-nodes": json.dumps(wrong_nodes),
        "wrong-map": json.dumps(wrong_map),
        "other-id": json.dumps(good),  # a valid record stored under someone else's key
        "truncated": json.dumps(good)[:40],
    }


def test_corrupt_jobs_are_logged_and_skipped(persistent: Backend, tmp_path: Path,
                                             caplog: pytest.LogCaptureFixture) -> None:
    store = persistent.open()
    marker = tmp_path / "pwned"
    now = time.time()
    store.put_jobs([job("good1", last=now)])
    garbage = _garbage(marker)
    for key, raw in garbage.items():
        persistent.inject_job(key, raw, now)
    store.put_jobs([job("good2", last=now)])
    for key, raw in garbage.items():  # the newest entry is garbage too
        persistent.inject_job(f"z-{key}", raw, now)
    caplog.set_level(logging.WARNING)
    caplog.clear()

    assert ids(store.jobs()) == ["good1", "good2"]
    assert store.last_job().job_id == "good2"
    for key in garbage:
        assert store.get_job(key) is None
    assert not marker.exists()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings, "corrupt values must be logged"
    assert any("not-json" in w and "not JSON" in w for w in warnings)
    assert any("wrong-nodes" in w for w in warnings)
    assert any("other-id" in w and "looks-fine" in w for w in warnings)
    assert all("\n" not in w for w in warnings)
    # maintenance still works over them, and clears them out
    assert store.prune_jobs(now - 1) == 0
    assert store.clear_jobs() == 2 + 2 * len(garbage)
    assert store.jobs() == []


def test_corrupt_nodes_are_logged_and_skipped(persistent: Backend, tmp_path: Path,
                                              caplog: pytest.LogCaptureFixture) -> None:
    store = persistent.open()
    store.put_node(node("good"))
    later = time.time() + 60
    persistent.inject_node("junk", b"\xff\x00garbage", later)
    persistent.inject_node("list", json.dumps(["identity", "junk"]), later)
    persistent.inject_node("no-expiry", json.dumps({"identity": "no-expiry"}), later)
    persistent.inject_node("bad-type", json.dumps({"identity": "bad-type", "expire_time": later,
                                                   "host_uptime": "long"}), later)
    persistent.inject_node("impostor", json.dumps(node("good").to_dict()), later)
    caplog.set_level(logging.WARNING)
    assert [n.identity for n in store.nodes()] == ["good"]
    warned = " ".join(r.getMessage() for r in caplog.records)
    for name in ("junk", "list", "no-expiry", "bad-type", "impostor"):
        assert name in warned


# -- store-specific guarantees -----------------------------------------------
def test_file_store_survives_kill_9(tmp_path: Path) -> None:
    url = (tmp_path / "crash").as_uri()
    script = f"""
import os, signal
from directord.datastores.file import FileDatastore
from directord.models import JobRecord
store = FileDatastore({url!r})
for batch in range(20):
    store.put_jobs([JobRecord(job_id=f"k{{batch}}-{{i}}", definition={{"verb": "RUN"}}, nodes=["n1"])
                    for i in range(50)])
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
