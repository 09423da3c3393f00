"""QUERY: server fields, the server-side plan/coordinate hooks and the node side."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest

from directord.cache import Cache
from directord.components import arg, lib, query
from directord.components.services import NodeServices
from directord.exceptions import ComponentError
from directord.job import Job
from directord.models import Control, JobRecord, Message

from .helpers import built, client_in_thread

NODES = ["n1", "n2", "n3"]


# -- server() ------------------------------------------------------------------
def test_server_fields_and_golden_fingerprint() -> None:
    job = built("QUERY", "test")
    keys = list(job)
    assert keys[: keys.index("job_sha3_224")] == ["verb", "query", "no_wait", "timeout", "run_once"]
    assert (job["query"], job["no_wait"]) == ("test", False)
    assert job["job_sha3_224"] == "1ff48da6d87a9f451029040c02f99cf26efa6614e5af7a20ba53352d"


def test_no_wait_flag() -> None:
    job = built("QUERY", "--no-wait test")
    assert (job["query"], job["no_wait"]) == ("test", True)
    assert job["job_sha3_224"] != "1ff48da6d87a9f451029040c02f99cf26efa6614e5af7a20ba53352d"


@pytest.mark.parametrize("text", ["", "two words"])
def test_exactly_one_key_is_required(text: str) -> None:
    with pytest.raises(ComponentError, match="QUERY"):
        built("QUERY", text)


def test_not_cacheable() -> None:
    assert query.Component.cacheable is False


# -- plan() (server) -------------------------------------------------------------
def test_plan_asks_every_live_node_and_remembers_the_targets() -> None:
    job = Job("QUERY", fields={"query": "k"})
    planned = query.Component.plan(job, ["n2"], list(NODES))
    assert planned.targets == NODES
    assert planned.fields == {"requested_targets": ["n2"], "query_nodes": NODES}
    assert job.fields == {"query": "k"}  # the plan adds to the job sent, never to the one given


def test_plan_without_explicit_targets_uses_all_live_nodes() -> None:
    planned = query.Component.plan(Job("QUERY"), list(NODES), list(NODES))
    assert planned.targets == NODES and planned.fields["requested_targets"] == NODES


# -- coordinate() (server) ---------------------------------------------------------
def record(nodes: list[str] = NODES, key: str = "k") -> JobRecord:
    definition = {"verb": "QUERY", "query": key, "no_wait": False, "parent_id": "parent-1", "job_id": "q1"}
    return JobRecord(job_id="q1", definition=Job.from_dict(definition), nodes=list(nodes))


def answer(rec: JobRecord, node: str, stdout: str | None, control: Control = Control.JOB_PROCESSING) -> None:
    assert rec.apply(node, Message(rec.job_id, control.value, "QUERY", info="k", stdout=stdout))


def test_coordinate_waits_for_every_node() -> None:
    rec = record()
    assert query.Component.coordinate(rec) is None
    answer(rec, "n1", json.dumps({"k": 1}))
    answer(rec, "n2", json.dumps({"k": "two"}), Control.JOB_END)
    assert query.Component.coordinate(rec) is None
    answer(rec, "n3", json.dumps({"k": None}))
    jobs = query.Component.coordinate(rec)
    assert jobs is not None and len(jobs) == 1
    job = jobs[0]
    assert job["verb"] == "ARG"
    assert job["args"] == {"query": {"n1": {"k": 1}, "n2": {"k": "two"}, "n3": {"k": None}}}
    assert job["extend_args"] is True
    assert job["skip_cache"] is True
    assert job["parent_async_bypass"] is True
    assert job["parent_id"] == "parent-1"
    assert "targets" not in job  # the server sends it to every live node
    assert len(job["job_sha3_224"]) == 56
    int(job["job_sha3_224"], 16)


def test_coordinate_fingerprints_are_unique() -> None:
    rec = record(["n1"])
    answer(rec, "n1", json.dumps({"k": 1}))
    first, second = query.Component.coordinate(rec), query.Component.coordinate(rec)
    assert first is not None and second is not None
    assert first[0]["args"] == second[0]["args"]
    assert first[0]["job_sha3_224"] != second[0]["job_sha3_224"]


def test_failed_nodes_answer_null() -> None:
    rec = record()
    answer(rec, "n1", json.dumps({"k": "v"}), Control.JOB_END)
    assert query.Component.coordinate(rec) is None
    rec.fail("n2", "node expired: no heartbeat")
    assert query.Component.coordinate(rec) is None  # n3 still silent
    answer(rec, "n3", json.dumps({"k": "w"}), Control.JOB_FAILED)  # failed even with stdout
    jobs = query.Component.coordinate(rec)
    assert jobs is not None
    assert jobs[0]["args"]["query"] == {"n1": {"k": "v"}, "n2": {"k": None}, "n3": {"k": None}}


def test_all_failed_still_answers() -> None:
    rec = record(["n1", "n2"])
    rec.fail("n1", "gone")
    rec.fail("n2", "gone")
    jobs = query.Component.coordinate(rec)
    assert jobs is not None
    assert jobs[0]["args"]["query"] == {"n1": {"k": None}, "n2": {"k": None}}


def test_unparsable_stdout_answers_null() -> None:
    rec = record(["n1", "n2"])
    answer(rec, "n1", "this is not json")
    answer(rec, "n2", json.dumps({"k": [1, 2]}))
    jobs = query.Component.coordinate(rec)
    assert jobs is not None
    assert jobs[0]["args"]["query"] == {"n1": {"k": None}, "n2": {"k": [1, 2]}}


def test_nodes_added_later_are_waited_for() -> None:
    rec = record(["n1"])
    answer(rec, "n1", json.dumps({"k": 1}))
    rec.add_nodes(["n9"])
    assert query.Component.coordinate(rec) is None
    answer(rec, "n9", json.dumps({"k": 9}))
    jobs = query.Component.coordinate(rec)
    assert jobs is not None
    assert set(jobs[0]["args"]["query"]) == {"n1", "n9"}


def test_the_arg_job_fills_every_nodes_cache(cache: Cache) -> None:
    """End to end without a network: coordinate's ARG job, run by ARG's client, releases the wait."""
    rec = record(["n1", "n2"])
    answer(rec, "n1", json.dumps({"k": "a"}))
    answer(rec, "n2", json.dumps({"k": "b"}))
    cache.set("args", {"query": {"old": {"x": 1}}, "k": "a"})
    assert not query.gathered(cache, ["n1", "n2"], "k")
    jobs = query.Component.coordinate(rec)
    assert jobs is not None
    _, _, outcome, _ = arg.Component().client(cache, jobs[0])
    assert outcome is True
    assert cache.get("args")["query"] == {"old": {"x": 1}, "n1": {"k": "a"}, "n2": {"k": "b"}}
    assert query.gathered(cache, ["n1", "n2"], "k")


# -- gathered() ---------------------------------------------------------------------
def test_gathered(cache: Cache) -> None:
    assert query.gathered(cache, [], "k")  # nothing to wait for
    assert not query.gathered(cache, ["n1"], "k")
    cache.set("args", {"query": {"n1": {"k": None}, "n2": {"other": 1}, "n3": "not a mapping"}})
    assert query.gathered(cache, ["n1"], "k")  # a null answer counts
    assert not query.gathered(cache, ["n1", "n2"], "k")
    assert not query.gathered(cache, ["n3"], "k")
    assert not query.gathered(cache, ["n4"], "k")
    assert query.gathered(cache, ["n2"], "other")


def test_gathered_with_args_but_no_query(cache: Cache) -> None:
    cache.set("args", {"k": 1})
    assert not query.gathered(cache, ["n1"], "k")


# -- client() (node) ------------------------------------------------------------------
def make_component(identity: str | None) -> tuple[query.Component, list[tuple[Any, Any]]]:
    published: list[tuple[Any, Any]] = []
    component = query.Component()
    component.attach(NodeServices(identity, publisher=lambda stdout, info: published.append((stdout, info))))
    return component, published


def node_job(**extra: Any) -> dict[str, Any]:
    return {"query": "k", "no_wait": False, "requested_targets": ["n1"], "query_nodes": list(NODES), **extra}


def test_non_target_answers_and_returns_at_once(cache: Cache) -> None:
    cache.set("args", {"k": {"nested": [1, 2]}})
    component, published = make_component("n2")
    stdout, stderr, outcome, info = component.client(cache, node_job())
    assert json.loads(stdout) == {"k": {"nested": [1, 2]}}
    assert (stderr, outcome, info) == (None, True, "k")
    assert published == [(stdout, "k")]


def test_missing_key_answers_null(cache: Cache) -> None:
    component, published = make_component("n2")
    stdout, _, outcome, _ = component.client(cache, node_job())
    assert stdout == '{"k": null}'
    assert outcome is True
    assert published == [('{"k": null}', "k")]


def test_no_wait_target_returns_at_once(cache: Cache) -> None:
    cache.set("args", {"k": 5})
    component, published = make_component("n1")
    stdout, _, outcome, info = component.client(cache, node_job(no_wait=True))
    assert (stdout, outcome, info) == ('{"k": 5}', True, "k")
    assert published == [('{"k": 5}', "k")]


def test_publish_without_publisher_is_harmless(cache: Cache) -> None:
    component = query.Component()
    component.attach(NodeServices("n2"))
    assert component.client(cache, node_job())[2] is True


def test_target_waits_for_every_node(cache: Cache, wait_for: Callable[..., bool]) -> None:
    cache.set("args", {"k": "mine"})
    component, published = make_component("n1")
    thread, results = client_in_thread(component, cache, node_job())
    assert wait_for(lambda: bool(published))  # answered first, then waits
    assert published == [('{"k": "mine"}', "k")]
    assert not results
    # Two of three answers: still waiting (checked over several poll periods).
    cache.set("args", {"k": "mine", "query": {"n1": {"k": "mine"}, "n2": {"k": 2}}})
    assert not wait_for(lambda: bool(results), timeout=0.2)
    cache.set("args", {"k": "mine", "query": {"n1": {"k": "mine"}, "n2": {"k": 2}, "n3": {"k": None}}})
    assert wait_for(lambda: bool(results))
    thread.join(5)
    assert results == [('{"k": "mine"}', None, True, "k")]


def test_target_released_by_a_delayed_fill(cache: Cache, wait_for: Callable[..., bool]) -> None:
    component, published = make_component("n1")
    job = node_job(query_nodes=["n1", "n2"])

    def fill() -> None:
        assert wait_for(lambda: bool(published))
        cache.set("args", {"query": {"n1": {"k": None}, "n2": {"k": 1}}})

    filler = threading.Thread(target=fill, daemon=True)
    filler.start()
    thread, results = client_in_thread(component, cache, job)
    assert wait_for(lambda: bool(results))
    thread.join(5)
    filler.join(5)
    assert results[0][2] is True


def test_killed_target_stops_waiting(cache: Cache, wait_for: Callable[..., bool]) -> None:
    component, published = make_component("n1")
    job = node_job()
    context = lib.JobContext(job)
    thread, results = client_in_thread(component, cache, job, context)
    assert wait_for(lambda: bool(published))
    assert not results
    context.kill()
    assert wait_for(lambda: bool(results))
    thread.join(5)
    stdout, stderr, outcome, info = results[0]
    assert outcome is False
    assert "interrupted" in stderr
    assert (stdout, info) == ('{"k": null}', "k")
