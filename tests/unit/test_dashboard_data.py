"""What the dashboard reads: the job table's changes and timelines, its lists, its option checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from directord import orchestration
from directord.dashboard import views
from directord.dashboard.serve import is_loopback, read_token
from directord.datastores.memory import MemoryDatastore
from directord.exceptions import ConfigError, NotFound, OrchestrationError
from directord.job import Job
from directord.models import Control, Message
from directord.server.jobs import JobTable

END, FAILED = Control.JOB_END.value, Control.JOB_FAILED.value


def table_with(*ids: str) -> JobTable:
    table = JobTable(MemoryDatastore())
    for job_id in ids:
        table.create(Job(verb="RUN", job_id=job_id, parent_id="p1", job_name=f"job {job_id}"), ["n1", "n2"])
    return table


def rows_of(changes: dict) -> list[dict]:
    return [dict(zip(changes["columns"], values, strict=True)) for values in changes["rows"]]


def test_changes_give_every_row_first_then_only_what_changed() -> None:
    table = table_with("a", "b")
    first = table.changes("", 0)
    assert first["full"] and sorted(row["id"] for row in rows_of(first)) == ["a", "b"]
    table.apply("n1", Message("b", END, "RUN", {"execution_time": 0.5}))
    later = table.changes(first["epoch"], first["version"])
    assert not later["full"] and [row["id"] for row in rows_of(later)] == ["b"]
    row = rows_of(later)[0]
    assert (row["nodes"], row["success"], row["failed"], row["complete"]) == (2, 1, 0, False)
    assert table.changes(later["epoch"], later["version"])["rows"] == []


def test_a_purge_makes_every_reader_start_over() -> None:
    table = table_with("a")
    seen = table.changes("", 0)
    table.purge()
    table.create(Job(verb="RUN", job_id="c"), ["n1"])
    again = table.changes(seen["epoch"], seen["version"])
    assert again["full"] and [row["id"] for row in rows_of(again)] == ["c"]


def test_a_parent_timeline_has_every_node_time_and_state() -> None:
    table = table_with("a", "b")
    table.apply("n1", Message("a", END, "RUN", {"execution_time": 0.25}))
    table.apply("n2", Message("a", FAILED, "RUN"))
    timeline = table.parent_timelines("p1")
    assert [job["id"] for job in timeline] == ["a", "b"]
    roundtrip, execution, control = timeline[0]["nodes"]["n1"]
    assert roundtrip >= 0 and execution == 0.25 and control == END
    assert timeline[0]["nodes"]["n2"][1:] == [None, FAILED]
    assert timeline[1]["nodes"]["n1"] == [None, None, Control.NULL.value]
    with pytest.raises(NotFound):
        table.parent_timelines("nobody")


def row(job_id: str, created: float, **state: object) -> dict[str, object]:
    base = {"id": job_id, "verb": "RUN", "name": "", "parent_id": "p", "parent_name": "deploy", "created": created,
            "last": created + 1, "nodes": 2, "success": 0, "failed": 0, "complete": False, "skipped": ""}
    return {**base, **state}


def test_job_lists_filter_by_status_and_text_newest_first() -> None:
    rows = [row("a", 1, complete=True, success=2), row("b", 2, failed=1), row("c", 3, name="migrate"),
            row("d", 4, skipped="not in --restrict")]
    assert [r["status"] for r in views.job_rows(rows, "", "")] == ["skipped", "running", "failed", "success"]
    assert [r["id"] for r in views.job_rows(rows, "failed", "")] == ["b"]
    assert [r["id"] for r in views.job_rows(rows, "", "MIGR")] == ["c"]
    assert views.page(list(range(250)), 200, 100) == {"total": 250, "offset": 200, "limit": 100,
                                                       "rows": list(range(200, 250))}


def test_orchestrations_group_their_jobs() -> None:
    rows = [row("a", 1, complete=True, success=2), row("b", 5, failed=1, complete=True), row("x", 2, parent_id="q")]
    second, first = views.orchestration_rows(rows, "")  # newest first: q started after p
    assert (first["id"], first["jobs"], first["failed"], first["status"], first["duration"]) == ("p", 2, 1, "failed", 5)
    assert (second["id"], second["status"]) == ("q", "running")


def test_node_rows_carry_the_heartbeat_age() -> None:
    nodes = [{"identity": "web1", "expiry": 25.0, "state": "active"}, {"identity": "db1", "expiry": 29.0}]
    (web,) = views.node_rows(nodes, "web", 10.0)
    assert web["id"] == "web1" and web["heartbeat_age"] == pytest.approx(5.0)


def test_submitted_yaml_is_checked_like_a_file() -> None:
    jobs = orchestration.orchestration_jobs(orchestration.parse_orchestrations("- jobs:\n  - RUN: echo hi\n", "text"))
    assert [job.verb for job in jobs] == ["RUN"]
    with pytest.raises(OrchestrationError, match="text is not valid YAML"):
        orchestration.parse_orchestrations("- jobs: [", "text")


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("::1", True), ("localhost", True),
                                            ("0.0.0.0", False), ("10.0.0.5", False), ("dash.example", False)])
def test_only_loopback_addresses_go_without_a_token(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_a_token_file_must_hold_a_long_token(tmp_path: Path) -> None:
    short = tmp_path / "short"
    short.write_text("abc\n")
    with pytest.raises(ConfigError, match="too short"):
        read_token(str(short))
    with pytest.raises(ConfigError, match="cannot read"):
        read_token(str(tmp_path / "absent"))
    good = tmp_path / "good"
    good.write_text("x" * 20 + "\n")
    assert read_token(str(good)) == "x" * 20
