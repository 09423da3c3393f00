"""JobRecord semantics, Status mapping and Node round trips."""

from __future__ import annotations

import json

import pytest

from directord.job import Job
from directord.models import FINAL_STATES, Control, JobRecord, Message, Node, Status

END, FAILED, PROCESSING, NULL = (Control.JOB_END.value, Control.JOB_FAILED.value,
                                 Control.JOB_PROCESSING.value, Control.NULL.value)


def record(nodes: tuple[str, ...] = ("a", "b", "c"), **definition: object) -> JobRecord:
    defn = {"verb": "RUN", "job_sha3_224": "sha", "command": "echo hi", **definition}
    return JobRecord("job-1", Job.from_dict({"job_id": "job-1", **defn}), list(nodes), created=100.0)


def msg(control: str, *, info: str | None = None, stdout: str | None = None,
        stderr: str | None = None, data: object = None) -> Message:
    return Message("job-1", control, "RUN", data, info, stderr, stdout)


def test_new_record_is_pending_everywhere() -> None:
    rec = record()
    assert rec.processing == {"a": NULL, "b": NULL, "c": NULL}
    assert rec.info == rec.stdout == rec.stderr == {}  # only what nodes report is kept
    view = rec.to_dict()
    assert view["INFO"] == view["STDOUT"] == view["STDERR"] == {"a": None, "b": None, "c": None}
    assert rec.success == rec.failed == []
    assert rec.complete is False
    assert rec.last == 100.0
    view = rec.to_dict()
    assert view["PROCESSING"] is True
    assert view["ROUNDTRIP_TIME"] is None
    assert view["EXECUTION_TIME"] is None


def test_success_failed_and_complete_are_derived() -> None:
    rec = record()
    assert rec.apply("b", msg(END), now=101.0)
    assert rec.apply("a", msg(FAILED), now=101.0)
    assert rec.success == ["b"]
    assert rec.failed == ["a"]
    assert rec.complete is False
    assert rec.apply("c", msg(PROCESSING), now=102.0)
    assert rec.complete is False
    assert rec.apply("c", msg(END), now=103.0)
    assert rec.success == ["b", "c"]
    assert rec.complete is True
    view = rec.to_dict()
    assert view["SUCCESS"] == ["b", "c"]
    assert view["FAILED"] == ["a"]
    assert view["PROCESSING"] is False
    assert rec.summary() == {"complete": True, "nodes": ["a", "b", "c"], "success": ["b", "c"], "failed": ["a"],
                             "skipped": False}


@pytest.mark.parametrize("final", [END, FAILED])
@pytest.mark.parametrize("late", [END, FAILED, PROCESSING, NULL])
def test_final_state_never_flips(final: str, late: str) -> None:
    rec = record(("a",))
    assert rec.apply("a", msg(final, stdout="first", info="first"), now=101.0)
    assert rec.apply("a", msg(late, stdout="second", info="second"), now=105.0) is False
    assert rec.processing["a"] == final
    assert rec.stdout["a"] == "first"
    assert rec.info["a"] == "first"
    assert rec.roundtrip["a"] == 1.0
    assert rec.last == 101.0


def test_fail_marks_only_unfinished_nodes() -> None:
    rec = record(("a", "b"))
    rec.apply("a", msg(END), now=101.0)
    assert rec.fail("a", "node expired", now=102.0) is False
    assert rec.fail("b", "node expired", now=102.0) is True
    assert rec.processing == {"a": END, "b": FAILED}
    assert rec.info["b"] == "node expired"
    assert rec.failed == ["b"]
    assert rec.complete is True


def test_unknown_node_is_ignored() -> None:
    rec = record(("a",))
    assert rec.apply("zz", msg(END)) is False
    assert "zz" not in rec.processing
    assert rec.fail("zz", "nope") is False


@pytest.mark.parametrize("empty", [None, "", NULL])
def test_empty_values_never_erase_info_stdout_stderr(empty: str | None) -> None:
    rec = record(("a",))
    rec.apply("a", msg(PROCESSING, info="queued", stdout="partial", stderr="warn"), now=101.0)
    rec.apply("a", msg(END, info=empty, stdout=empty, stderr=empty), now=102.0)
    assert rec.processing["a"] == END
    assert rec.info["a"] == "queued"
    assert rec.stdout["a"] == "partial"
    assert rec.stderr["a"] == "warn"


def test_non_empty_values_replace_earlier_ones() -> None:
    rec = record(("a",))
    rec.apply("a", msg(PROCESSING, info="queued", stdout="partial"), now=101.0)
    rec.apply("a", msg(END, info="task finished", stdout="all"), now=102.0)
    assert rec.info["a"] == "task finished"
    assert rec.stdout["a"] == "all"


def test_times_are_means_over_answered_nodes_only() -> None:
    rec = record(("a", "b", "c"))
    rec.apply("a", msg(END, data={"execution_time": 1.0}), now=102.0)
    rec.apply("b", msg(FAILED, data={"execution_time": 3.0}), now=104.0)
    rec.apply("c", msg(PROCESSING, data={"execution_time": 99.0}), now=105.0)  # not answered yet
    assert rec.roundtrip == {"a": 2.0, "b": 4.0}
    assert rec.execution == {"a": 1.0, "b": 3.0}
    view = rec.to_dict()
    assert view["ROUNDTRIP_TIME"] == pytest.approx(3.0)
    assert view["EXECUTION_TIME"] == pytest.approx(2.0)
    assert view["_roundtripltime"] == {"a": 2.0, "b": 4.0}
    assert view["_executiontime"] == {"a": 1.0, "b": 3.0}


def test_roundtrip_is_never_negative_and_bad_execution_time_is_ignored() -> None:
    rec = record(("a",))
    rec.apply("a", msg(END, data={"execution_time": "fast"}), now=50.0)
    assert rec.roundtrip["a"] == 0.0
    assert "a" not in rec.execution


def test_timestamps_come_from_final_results() -> None:
    rec = record(("a", "b"))
    rec.apply("a", msg(END, data={"component_exec_timestamp": "t1", "return_timestamp": "r1"}), now=101.0)
    rec.apply("b", msg(END, data={}), now=102.0)  # missing values keep the earlier ones
    view = rec.to_dict()
    assert view["COMPONENT_TIMESTAMP"] == "t1"
    assert view["RETURN_TIMESTAMP"] == "r1"
    assert view["_lasttime"] == 102.0


def test_non_dict_data_is_tolerated() -> None:
    rec = record(("a",))
    assert rec.apply("a", msg(END, data="not a dict"), now=101.0)
    assert rec.processing["a"] == END


def test_add_nodes_reopens_a_complete_record() -> None:
    rec = record(("a",))
    rec.apply("a", msg(END), now=101.0)
    assert rec.complete
    rec.add_nodes(["a", "d"])
    assert rec.nodes == ["a", "d"]
    assert rec.processing == {"a": END, "d": NULL}
    assert "d" not in rec.stdout and rec.to_dict()["STDOUT"]["d"] is None
    assert rec.complete is False


def test_upstream_view_keys_and_fallbacks() -> None:
    rec = record(("a",))
    view = rec.to_dict()
    assert view["JOB_ID"] == "job-1"
    assert view["JOB_SHA3_224"] == "sha"
    assert view["JOB_NAME"] == "sha"  # no job_name: the SHA
    assert view["PARENT_JOB_ID"] == "job-1"  # no parent: the job itself
    assert view["PARENT_JOB_NAME"] == "job-1"
    assert view["VERB"] == "RUN"
    assert view["_nodes"] == ["a"]
    named = record(("a",), job_name="step", parent_id="p-1", parent_name="deploy").to_dict()
    assert (named["JOB_NAME"], named["PARENT_JOB_ID"], named["PARENT_JOB_NAME"]) == ("step", "p-1", "deploy")


def test_state_round_trip_through_json() -> None:
    rec = record(("a", "b"))
    rec.apply("a", msg(END, info="i", stdout="o", stderr="e",
                       data={"execution_time": 0.5, "component_exec_timestamp": "t"}), now=101.5)
    rec.apply("b", msg(PROCESSING, info="queued"), now=102.0)
    state = json.loads(json.dumps(rec.to_state()))
    copy = JobRecord.from_state(state)
    assert copy == rec
    assert copy.to_dict() == rec.to_dict()
    # The copy keeps behaving like the original.
    assert copy.apply("a", msg(FAILED), now=110.0) is False
    assert copy.apply("b", msg(END), now=110.0) is True
    assert copy.complete


def test_status_of_control() -> None:
    assert Status.of(END) is Status.SUCCESS
    assert Status.of(FAILED) is Status.FAILED
    assert Status.of(PROCESSING) is Status.PROCESSING
    assert Status.of(NULL) is Status.PENDING
    assert Status.of("\x01") is Status.PENDING
    assert FINAL_STATES == {END, FAILED}


def test_node_round_trip_and_expiry() -> None:
    node = Node("n1", expire_time=0.0, machine_id="m", version="1", driver="zmq")
    assert node.expired
    assert node.expiry < 0
    data = node.to_dict()
    assert data["identity"] == "n1"
    assert Node.from_dict({**data, "unknown": "ignored"}) == node
    alive = Node("n2", expire_time=1e12)
    assert not alive.expired


def test_completion_is_counted_through_every_change() -> None:
    rec = record(("a", "b"))
    assert not rec.complete
    rec.apply("a", Message(rec.job_id, END, "RUN"))
    rec.apply("a", Message(rec.job_id, FAILED, "RUN"))  # a final node keeps its state: counted once
    assert not rec.complete
    rec.add_nodes(["c"])
    rec.apply("b", Message(rec.job_id, PROCESSING, "RUN"))
    rec.requeue("b", "returned")
    rec.fail("b", "expired")
    assert not rec.complete
    rec.fail("c", "expired")
    assert rec.complete
    restored = JobRecord.from_state(rec.to_state())
    assert restored.complete and not JobRecord.from_state({**rec.to_state(), "processing": {
        "a": END, "b": FAILED, "c": PROCESSING}}).complete
