"""QUERY_WAIT: wait until args.query holds an item for given nodes (or any node)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from directord.cache import Cache
from directord.components import lib, query_wait
from directord.exceptions import ComponentError

from .helpers import built, client_in_thread


def run(cache: Cache, **job: Any) -> tuple:
    return query_wait.Component().client(cache, job)


# -- server() ------------------------------------------------------------------
def test_server_fields_defaults() -> None:
    job = built("QUERY_WAIT", "k")
    keys = list(job)
    assert keys[: keys.index("job_sha3_224")] == ["verb", "item", "query_timeout", "identity", "timeout", "run_once"]
    assert (job["item"], job["query_timeout"], job["identity"]) == ("k", 600, None)  # None, as the original


def test_server_fields_with_options() -> None:
    job = built("QUERY_WAIT", "--query-timeout 5 --identity n1 n2 -- k")
    assert (job["item"], job["query_timeout"], job["identity"]) == ("k", 5, ["n1", "n2"])


def test_server_needs_an_item() -> None:
    with pytest.raises(ComponentError):
        built("QUERY_WAIT", "")


# -- client() ------------------------------------------------------------------
def test_found_in_all_identities(cache: Cache) -> None:
    cache.set("args", {"query": {"n1": {"k": 1}, "n2": {"k": None}, "n3": {}}})
    assert run(cache, item="k", identity=["n1", "n2"], query_timeout=1) == (
        "Item found in all identities", None, True, None)


def test_found_on_any_node_without_identities(cache: Cache) -> None:
    cache.set("args", {"query": {"n1": {"other": 1}, "n2": {"k": "v"}}})
    assert run(cache, item="k", identity=[], query_timeout=1) == ("Item found", None, True, None)
    assert run(cache, item="k", query_timeout=1) == ("Item found", None, True, None)


def test_timeout_when_an_identity_is_missing(cache: Cache) -> None:
    cache.set("args", {"query": {"n1": {"k": 1}}})
    start = time.monotonic()
    stdout, stderr, outcome, info = run(cache, item="k", identity=["n1", "n2"], query_timeout=0.05)
    assert time.monotonic() - start < 2
    assert (stdout, outcome, info) == (None, False, None)
    assert stderr == "Timeout after 0.05 seconds"


@pytest.mark.parametrize("args", [None, {}, {"k": 1}, {"query": {}}, {"query": {"n1": "not a mapping"}},
                                  {"query": {"n1": {"other": 1}}}])
def test_timeout_when_nothing_matches(cache: Cache, args: Any) -> None:
    if args is not None:
        cache.set("args", args)
    _, stderr, outcome, _ = run(cache, item="k", query_timeout=0.03)
    assert outcome is False
    assert stderr == "Timeout after 0.03 seconds"


def test_found_once_the_answers_arrive(cache: Cache, wait_for: Callable[..., bool]) -> None:
    results: list[tuple] = []
    thread = threading.Thread(
        target=lambda: results.append(run(cache, item="k", identity=["n1", "n2"], query_timeout=10)), daemon=True)
    thread.start()
    cache.set("args", {"query": {"n1": {"k": 1}}})
    assert not wait_for(lambda: bool(results), timeout=0.1)  # one of two: still waiting
    cache.set("args", {"query": {"n1": {"k": 1}, "n2": {"k": 2}}})
    assert wait_for(lambda: bool(results))
    thread.join(5)
    assert results == [("Item found in all identities", None, True, None)]


def test_killed_job_stops_waiting(cache: Cache, wait_for: Callable[..., bool]) -> None:
    job = {"item": "k", "identity": ["n1"], "query_timeout": 60}
    context = lib.JobContext(job)
    thread, results = client_in_thread(query_wait.Component(), cache, job, context)
    assert not wait_for(lambda: bool(results), timeout=0.05)
    context.kill()
    assert wait_for(lambda: bool(results), timeout=5)
    thread.join(5)
    assert results[0][2] is False
