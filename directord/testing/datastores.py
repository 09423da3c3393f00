"""DatastoreContract: the behaviour every job and node store must have, and kits for the built-in stores.

Subclass a contract in a test module and give it a ``store_kit`` fixture::

    class TestMyStore(PersistentDatastoreContract):
        @pytest.fixture
        def store_kit(self, tmp_path):
            kit = MyStoreKit(tmp_path)   # a StoreKit: open the store, write raw values behind its back
            yield kit
            kit.close()

``DatastoreContract`` is what the server relies on from any store: every
operation, ordering, prune, clear, node expiry and concurrent writers.
``PersistentDatastoreContract`` adds what a store that outlives its process
must do: reopen with its data, share it between stores, and log and skip
corrupt or foreign values written straight into its backing store (never
turning them into records, let alone executing them).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from directord.datastores import Datastore
from directord.job import Job
from directord.models import Control, JobRecord, Message, Node
from directord.testing.processes import wait_for

DEADLINE_S = 10.0


class StoreKit:
    """How to open one kind of store (again, on the same data) and write raw values behind its back."""

    def __init__(self) -> None:
        self.opened: list[Datastore] = []

    def open(self) -> Datastore:
        store = self._open()
        self.opened.append(store)
        return store

    def _open(self) -> Datastore:
        raise NotImplementedError("override StoreKit._open")

    def inject_job(self, job_id: str, raw: bytes | str, last: float) -> None:
        """Write ``raw`` as the stored value of job ``job_id`` (persistent stores)."""
        raise NotImplementedError("override StoreKit.inject_job for a persistent store")

    def inject_node(self, identity: str, raw: bytes | str, expire_time: float) -> None:
        """Write ``raw`` as the stored value of node ``identity`` (persistent stores)."""
        raise NotImplementedError("override StoreKit.inject_node for a persistent store")

    def close(self) -> None:
        for store in self.opened:
            store.close()


class MemoryStoreKit(StoreKit):
    """One process, one store: "reopening" hands back the same object."""

    def __init__(self) -> None:
        super().__init__()
        from directord.datastores.memory import MemoryDatastore

        self.store = MemoryDatastore("memory")

    def _open(self) -> Datastore:
        return self.store


class FileStoreKit(StoreKit):
    """``file://DIR``: SQLite in WAL mode; raw rows written with sqlite3."""

    def __init__(self, directory: Path) -> None:
        super().__init__()
        from directord.datastores.file import DB_NAME

        self.url = (directory / "store").as_uri()
        self.db = directory / "store" / DB_NAME

    def _open(self) -> Datastore:
        from directord.datastores.file import FileDatastore

        return FileDatastore(self.url)

    def _raw(self, sql: str, params: tuple[Any, ...]) -> None:
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


class RedisStoreKit(StoreKit):
    """``redis://``: a key prefix of this kit's own on the server at ``base`` (``redis://host:port``)."""

    def __init__(self, base: str) -> None:
        super().__init__()
        import redis

        self.prefix = f"t{uuid.uuid4().hex[:12]}"
        self.url = f"{base}/0?prefix={self.prefix}"
        self.raw = redis.Redis.from_url(f"{base}/0")

    def _open(self) -> Datastore:
        from directord.datastores.redis import RedisDatastore

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


# -- records to store ----------------------------------------------------------
def job(job_id: str | None = None, nodes: tuple[str, ...] = ("n1", "n2"), last: float | None = None,
        **fields: Any) -> JobRecord:
    """A RUN job's record on ``nodes`` (``fields``: more job fields)."""
    job_id = job_id or str(uuid.uuid4())
    definition = Job.from_dict({"verb": "RUN", "command": "echo hi", "job_id": job_id, **fields})
    record = JobRecord(job_id=job_id, definition=definition, nodes=list(nodes))
    if last is not None:
        record.created = record.last = last
    return record


def finished(record: JobRecord) -> JobRecord:
    """``record`` ended: n1 succeeded, n2 failed."""
    record.apply("n1", Message(record.job_id, Control.JOB_END.value, "RUN", stdout="hi\n",
                               data={"execution_time": 0.25, "return_timestamp": "2024-01-01"}))
    record.apply("n2", Message(record.job_id, Control.JOB_FAILED.value, "RUN", stderr="boom", info="exit 1"))
    return record


def node(identity: str, ttl: float = 60.0, **fields: Any) -> Node:
    return Node(identity=identity, expire_time=time.time() + ttl, machine_id=f"m-{identity}", version="0.13.0",
                host_uptime=12.5, agent_uptime=3.0, driver="zmq", session="s1", **fields)


def ids(records: list[JobRecord]) -> list[str]:
    return [r.job_id for r in records]


def _concurrent_writers(kit: StoreKit, shared: bool) -> None:
    threads_n, batches, per_batch = 8, 25, 8
    common = kit.open()
    errors: list[BaseException] = []
    start = threading.Barrier(threads_n)

    def writer(t: int) -> None:
        try:
            target = common if shared else kit.open()
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


class DatastoreContract:
    """What the server relies on from every store (needs a ``store_kit`` fixture, see the module)."""

    def test_empty_store(self, store_kit: StoreKit) -> None:
        store = store_kit.open()
        assert store.nodes() == []
        assert store.jobs() == []
        assert store.last_job() is None
        assert store.get_job("nope") is None
        assert store.clear_jobs() == 0
        assert store.clear_nodes() == 0
        assert store.prune_jobs(time.time()) == 0
        store.put_jobs([])
        store.delete_node("nope")

    def test_job_round_trip(self, store_kit: StoreKit) -> None:
        store = store_kit.open()
        record = finished(job("j1", restrict=["abc"], vars={"x": [1, 2, {"y": None}]}))
        record.coordinated = True
        store.put_jobs([record])
        got = store.get_job("j1")
        assert got is not None
        assert got.to_state() == record.to_state()
        assert got.to_dict() == record.to_dict()
        assert got.definition == record.definition and got.coordinated
        assert got.success == ["n1"] and got.failed == ["n2"] and got.complete

    def test_update_keeps_insertion_order(self, store_kit: StoreKit) -> None:
        store = store_kit.open()
        records = [job(f"j{i}") for i in range(5)]
        store.put_jobs(records[:3])
        store.put_jobs(records[3:])
        assert ids(store.jobs()) == ["j0", "j1", "j2", "j3", "j4"]
        updated = finished(job("j1"))
        store.put_jobs([updated])  # a later update of an old record (a copy, as a persistent store hands back)
        assert ids(store.jobs()) == ["j0", "j1", "j2", "j3", "j4"]
        assert store.get_job("j1").complete
        assert store.last_job().job_id == "j4"

    def test_large_batch(self, store_kit: StoreKit) -> None:
        store = store_kit.open()
        records = [job(f"b{i:05d}") for i in range(2500)]
        store.put_jobs(iter(records))  # any iterable, e.g. dict.values()
        assert ids(store.jobs()) == ids(records)
        assert store.last_job().job_id == "b02499"
        assert store.get_job("b01234").job_id == "b01234"

    def test_last_job_is_latest_insert(self, store_kit: StoreKit) -> None:
        store = store_kit.open()
        store.put_jobs([job("a")])
        assert store.last_job().job_id == "a"
        store.put_jobs([job("b"), job("c")])
        assert store.last_job().job_id == "c"

    def test_prune_by_age(self, store_kit: StoreKit) -> None:
        store = store_kit.open()
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

    def test_clear_jobs_counts_and_empties(self, store_kit: StoreKit) -> None:
        store = store_kit.open()
        store.put_jobs([job(f"c{i}") for i in range(7)])
        assert store.clear_jobs() == 7
        assert store.jobs() == [] and store.last_job() is None and store.get_job("c3") is None
        assert store.clear_jobs() == 0
        store.put_jobs([job("after")])
        assert ids(store.jobs()) == ["after"]

    def test_nodes(self, store_kit: StoreKit) -> None:
        store = store_kit.open()
        a, b = node("alpha"), node("beta")
        store.put_node(a)
        store.put_node(b)
        listed = {n.identity: n for n in store.nodes()}
        assert set(listed) == {"alpha", "beta"}
        assert listed["alpha"].to_dict().keys() == a.to_dict().keys()
        for key in ("machine_id", "version", "driver", "session", "host_uptime", "agent_uptime", "joined"):
            assert getattr(listed["alpha"], key) == getattr(a, key)
        assert abs(listed["alpha"].expire_time - a.expire_time) < 1e-3
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

    def test_node_entries_expire(self, store_kit: StoreKit) -> None:
        store = store_kit.open()
        store.put_node(node("past", ttl=-5))
        store.put_node(node("soon", ttl=1.0))
        store.put_node(node("later", ttl=60))
        assert sorted(n.identity for n in store.nodes()) == ["later", "soon"]
        wait_for(lambda: [n.identity for n in store.nodes()] == ["later"], DEADLINE_S, what="node 'soon' to expire")

    def test_concurrent_writers_one_store(self, store_kit: StoreKit) -> None:
        _concurrent_writers(store_kit, shared=True)


class PersistentDatastoreContract(DatastoreContract):
    """A store whose data outlives the process: everything above, plus reopening,
    sharing, and corrupt values logged and skipped (its kit must inject raw values)."""

    def test_reopen_keeps_jobs(self, store_kit: StoreKit) -> None:
        first = store_kit.open()
        first.put_jobs([job("p1"), finished(job("p2")), job("p3")])
        first.put_node(node("alive"))
        first.close()
        second = store_kit.open()
        assert ids(second.jobs()) == ["p1", "p2", "p3"]
        assert second.get_job("p2").complete
        assert second.last_job().job_id == "p3"
        assert [n.identity for n in second.nodes()] == ["alive"]

    def test_two_stores_on_the_same_data(self, store_kit: StoreKit) -> None:
        one, two = store_kit.open(), store_kit.open()
        one.put_jobs([job("x1")])
        two.put_jobs([job("x2")])
        one.put_jobs([job("x3")])
        assert ids(one.jobs()) == ids(two.jobs()) == ["x1", "x2", "x3"]

    def test_concurrent_writers_store_per_thread(self, store_kit: StoreKit) -> None:
        _concurrent_writers(store_kit, shared=False)

    def test_corrupt_jobs_are_logged_and_skipped(self, store_kit: StoreKit, tmp_path: Path, caplog: Any) -> None:
        store = store_kit.open()
        marker = tmp_path / "pwned"
        now = time.time()
        store.put_jobs([job("good1", last=now)])
        garbage = _garbage(marker)
        for key, raw in garbage.items():
            store_kit.inject_job(key, raw, now)
        store.put_jobs([job("good2", last=now)])
        for key, raw in garbage.items():  # the newest entry is garbage too
            store_kit.inject_job(f"z-{key}", raw, now)
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
        assert any("bad-job" in w and "verb" in w for w in warnings)
        assert any("other-id" in w and "looks-fine" in w for w in warnings)
        assert all("\n" not in w for w in warnings)
        # maintenance still works over them, and clears them out
        assert store.prune_jobs(now - 1) == 0
        assert store.clear_jobs() == 2 + 2 * len(garbage)
        assert store.jobs() == []

    def test_corrupt_nodes_are_logged_and_skipped(self, store_kit: StoreKit, caplog: Any) -> None:
        store = store_kit.open()
        store.put_node(node("good"))
        later = time.time() + 60
        store_kit.inject_node("junk", b"\xff\x00garbage", later)
        store_kit.inject_node("list", json.dumps(["identity", "junk"]), later)
        store_kit.inject_node("no-expiry", json.dumps({"identity": "no-expiry"}), later)
        store_kit.inject_node("bad-type", json.dumps({"identity": "bad-type", "expire_time": later,
                                                      "host_uptime": "long"}), later)
        store_kit.inject_node("impostor", json.dumps(node("good").to_dict()), later)
        caplog.set_level(logging.WARNING)
        assert [n.identity for n in store.nodes()] == ["good"]
        warned = " ".join(r.getMessage() for r in caplog.records)
        for name in ("junk", "list", "no-expiry", "bad-type", "impostor"):
            assert name in warned


def _garbage(marker: Path) -> dict[str, bytes | str]:
    """Values no store wrote, by the key they are stored under."""
    good = finished(job("looks-fine")).to_state()
    wrong_nodes = {**job("wrong-nodes").to_state(), "nodes": "abc"}
    wrong_map = {**job("wrong-map").to_state(), "execution": {"n1": "slow"}}
    bad_job = {**job("bad-job").to_state(), "definition": {"command": "no verb"}}
    return {
        "not-json": b"\x80\x81\xfe not json at all",
        "pickle": f"cos\nsystem\n(S'touch {marker}'\ntR.".encode(),  # would run a command if unpickled
        "a-list": json.dumps([1, 2, 3]),
        "no-fields": json.dumps({"hello": "world"}),
        "wrong-nodes": json.dumps(wrong_nodes),
        "wrong-map": json.dumps(wrong_map),
        "bad-job": json.dumps(bad_job),
        "other-id": json.dumps(good),  # a valid record stored under someone else's key
        "truncated": json.dumps(good)[:40],
    }
