"""The client cache: SQLite, JSON values, tags, TTLs, eviction, persistence."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from directord import cache as cache_module
from directord.cache import Cache


def test_get_set_and_default(cache: Cache) -> None:
    assert cache.get("missing") is None
    assert cache.get("missing", "fallback") == "fallback"
    assert "missing" not in cache
    with pytest.raises(KeyError):
        cache["missing"]
    assert cache.set("k", {"a": [1, 2], "b": None}) is True
    assert cache.get("k") == {"a": [1, 2], "b": None}
    assert cache["k"] == {"a": [1, 2], "b": None}
    assert "k" in cache
    assert 42 not in cache  # non-str keys are never present
    cache["k"] = "replaced"
    assert cache.get("k") == "replaced"


def test_falsy_values_are_stored(cache: Cache) -> None:
    for key, value in (("zero", 0), ("empty", ""), ("false", False), ("none", None), ("list", [])):
        cache.set(key, value)
        assert key in cache
        assert cache.get(key, "default") == value


def test_delete(cache: Cache) -> None:
    cache.set("k", 1)
    assert cache.delete("k") is True
    assert cache.delete("k") is False
    cache.set("j", 1)
    del cache["j"]
    assert "j" not in cache
    with pytest.raises(KeyError):
        del cache["j"]


def test_values_are_json_only(cache: Cache) -> None:
    with pytest.raises(TypeError):
        cache.set("obj", object())
    with pytest.raises(TypeError):
        cache.set("set", {1, 2})
    assert "obj" not in cache
    assert "set" not in cache
    cache.set("tuple", (1, "two"))
    assert cache.get("tuple") == [1, "two"]  # JSON has no tuples
    cache.set("ctrl", "\x04")
    assert cache.get("ctrl") == "\x04"


def test_values_are_stored_as_json_text(cache: Cache) -> None:
    cache.set("k", {"a": 1})
    with sqlite3.connect(cache.path) as db:
        (raw,) = db.execute("SELECT value FROM cache WHERE key = 'k'").fetchone()
    assert raw == '{"a": 1}'


def test_tags_and_evict(cache: Cache) -> None:
    cache.set("args", {"a": 1}, tag="args")
    cache.set("envs", {"E": "1"}, tag="envs")
    cache.set("sha-1", "\x04", tag="jobs")
    cache.set("sha-2", "\x15", tag="jobs")
    cache.set("parent", "\x04", tag="parents")
    cache.set("untagged", 1)
    assert dict(cache.items("jobs")) == {"sha-1": "\x04", "sha-2": "\x15"}
    assert cache.evict("jobs") == 2
    assert "sha-1" not in cache and "sha-2" not in cache
    assert cache.evict("jobs") == 0
    assert set(cache.dump()) == {"args", "envs", "parent", "untagged"}
    assert cache.evict("args") == 1
    assert set(cache.dump()) == {"envs", "parent", "untagged"}


def test_retagging_on_update(cache: Cache) -> None:
    cache.set("k", 1, tag="jobs")
    cache.set("k", 2, tag="parents")
    assert cache.evict("jobs") == 0
    assert cache.get("k") == 2
    assert cache.evict("parents") == 1


def test_documented_tags_and_ttls() -> None:
    assert set(cache_module.TAGS) == {"args", "envs", "jobs", "parents", "query"}
    hour = 3600.0
    assert cache_module.DEFAULT_TTLS == {"args": 12 * hour, "envs": 12 * hour, "query": 12 * hour,
                                         "jobs": 72 * hour, "parents": 72 * hour}


def test_tag_ttl_is_applied(cache: Cache) -> None:
    before = time.time()
    cache.set("sha", "\x04", tag="jobs")
    cache.set("plain", 1)
    with sqlite3.connect(cache.path) as db:
        rows = dict(db.execute("SELECT key, expire FROM cache").fetchall())
    assert rows["plain"] is None
    assert before + 72 * 3600 <= rows["sha"] <= time.time() + 72 * 3600


def test_ttl_expiry(cache: Cache, wait_for: Callable[..., bool]) -> None:
    started = time.time()
    cache.set("short", "v", expire=0.3)
    value = cache.get("short")
    if time.time() - started < 0.3:  # still inside its lifetime (not a timing assumption)
        assert value == "v"
    cache.set("long", "v", expire=3600)
    cache.set("forever", "v")
    assert wait_for(lambda: cache.get("short") is None, timeout=5)
    assert "short" not in cache
    assert cache.get("short", "gone") == "gone"
    assert set(cache.dump()) == {"long", "forever"}
    assert cache.expire() == 1  # the expired row is swept
    assert cache.expire() == 0
    assert cache.get("long") == "v"


def test_per_tag_ttl_override(tmp_path: Path, wait_for: Callable[..., bool]) -> None:
    with Cache(str(tmp_path / "c.db"), ttls={"query": 0.05}) as store:
        assert store.ttls["query"] == 0.05
        assert store.ttls["jobs"] == 72 * 3600  # others keep their defaults
        store.set("query", {"k": 1}, tag="query")
        store.set("args", {"k": 1}, tag="args")
        assert wait_for(lambda: "query" not in store, timeout=5)
        assert store.get("args") == {"k": 1}
        assert list(store.items("query")) == []


def test_setting_again_refreshes_expiry(cache: Cache, wait_for: Callable[..., bool]) -> None:
    cache.set("k", 1, expire=0.05)
    assert wait_for(lambda: "k" not in cache, timeout=5)
    cache.set("k", 2)  # no expire, no tag: lives forever
    assert cache.get("k") == 2
    with sqlite3.connect(cache.path) as db:
        (expire,) = db.execute("SELECT expire FROM cache WHERE key = 'k'").fetchone()
    assert expire is None


def test_clear(cache: Cache) -> None:
    cache.set("a", 1, tag="args")
    cache.set("b", 2)
    assert cache.clear() == 2
    assert cache.dump() == {}
    assert cache.clear() == 0


def test_items_in_creation_order(cache: Cache) -> None:
    for key in ("first", "second", "third"):
        cache.set(key, key, tag="jobs")
    cache.set("first", "updated", tag="jobs")  # an update keeps its place
    assert [k for k, _ in cache.items()] == ["first", "second", "third"]
    assert cache.dump()["first"] == "updated"


def test_persistence_across_reopen(tmp_path: Path) -> None:
    path = str(tmp_path / "deep" / "dir" / "cache.db")  # parent dirs are created
    with Cache(path) as store:
        store.set("args", {"x": 1}, tag="args")
        store.set("envs", {"E": "v"}, tag="envs")
        store.set("sha", "\x04", tag="jobs")
    with Cache(path) as reopened:
        assert reopened.get("args") == {"x": 1}
        assert reopened.get("sha") == "\x04"
        assert reopened.evict("envs") == 1  # tags survive too
        assert set(reopened.dump()) == {"args", "sha"}


def test_set_many(cache: Cache) -> None:
    cache.set_many([("parent", "\x04", "parents"), ("sha", "\x15", "jobs"), ("plain", [1], None)])
    assert cache.get("parent") == "\x04"
    assert cache.get("sha") == "\x15"
    assert cache.get("plain") == [1]
    assert cache.evict("parents") == 1
    assert cache.evict("jobs") == 1
    cache.set("after", 1)  # the connection is usable after the transaction
    assert cache.get("after") == 1


def test_set_many_is_all_or_nothing(cache: Cache) -> None:
    # Documented as "in one transaction": a failing entry must not leave
    # the earlier entries of the same batch behind.
    with pytest.raises(TypeError):
        cache.set_many([("good", 1, None), ("bad", object(), None)])
    assert "good" not in cache
    assert "bad" not in cache
    cache.set("after", 1)
    assert cache.get("after") == 1


def test_in_memory_cache() -> None:
    with Cache(":memory:") as store:
        store.set("k", "v")
        assert store.get("k") == "v"


def test_changes_from_parallel_queues_are_never_lost(cache: Cache) -> None:
    """An ARG in one queue and a --stdout-arg in another both merge into ``args``."""
    from directord.components.arg import Component as Arg
    from directord.components.lib import store_output_args

    arg = Arg()

    def from_arg(n: int) -> None:
        for i in range(40):
            arg.set_cache(cache=cache, key="args", value={f"arg{n}-{i}": i}, value_update=True, tag="args")

    def from_output(n: int) -> None:
        for i in range(40):
            store_output_args(cache, {"stdout_arg": f"out{n}-{i}"}, f"{i}\n", None)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4) for work in (from_arg, from_output)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(cache.get("args")) == 4 * 40 * 2
