"""joblog, the pluggy hook: JSON lines when configured, nothing otherwise."""

from __future__ import annotations

import datetime
import json
import logging

import pluggy
import pytest
from directord_example import joblog

from directord import hookspecs, plugins


def record(job_id="job-1", **overrides):
    view = {
        "JOB_ID": job_id,
        "VERB": "ECHO",
        "JOB_NAME": "greet",
        "PARENT_JOB_ID": "parent-1",
        "PARENT_JOB_NAME": "greetings",
        "SUCCESS": ["node2", "node1"],
        "FAILED": [],
        "EXECUTION_TIME": 0.25,
        "ROUNDTRIP_TIME": 0.5,
        "STDOUT": {"node1": "hello world", "node2": "hello world"},
    }
    view.update(overrides)
    return view


@pytest.fixture
def manager():
    """A manager with only this plugin, checked against directord's hookspecs."""
    instance = pluggy.PluginManager("directord")
    instance.add_hookspecs(hookspecs)
    instance.register(joblog)
    return instance


def test_writes_one_json_line_per_finished_job(tmp_path, monkeypatch, manager):
    path = tmp_path / "jobs.jsonl"
    monkeypatch.setenv(joblog.ENV_VAR, str(path))
    manager.hook.directord_job_finished(record=record("job-1"))
    manager.hook.directord_job_finished(record=record("job-2", SUCCESS=[], FAILED=["node1"]))
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["job_id"] for line in lines] == ["job-1", "job-2"]
    first = lines[0]
    assert first["verb"] == "ECHO"
    assert first["name"] == "greet"
    assert first["parent_name"] == "greetings"
    assert first["success"] == ["node1", "node2"]
    assert first["failed"] == []
    assert first["execution_time"] == 0.25
    assert first["roundtrip_time"] == 0.5
    stamp = datetime.datetime.fromisoformat(first["timestamp"])
    assert stamp.utcoffset() == datetime.timedelta(0)
    assert lines[1]["success"] == [] and lines[1]["failed"] == ["node1"]


def test_appends_to_an_existing_file(tmp_path, monkeypatch):
    path = tmp_path / "jobs.jsonl"
    path.write_text('{"job_id": "older"}\n')
    monkeypatch.setenv(joblog.ENV_VAR, str(path))
    joblog.directord_job_finished(record=record("newer"))
    assert [json.loads(line)["job_id"] for line in path.read_text().splitlines()] == ["older", "newer"]


def test_inert_without_the_environment_variable(tmp_path, monkeypatch):
    monkeypatch.delenv(joblog.ENV_VAR, raising=False)
    monkeypatch.chdir(tmp_path)
    assert joblog.directord_job_finished(record=record()) is None
    assert list(tmp_path.iterdir()) == []


def test_empty_variable_is_inert(tmp_path, monkeypatch):
    monkeypatch.setenv(joblog.ENV_VAR, "")
    monkeypatch.chdir(tmp_path)
    joblog.directord_job_finished(record=record())
    assert list(tmp_path.iterdir()) == []


def test_io_errors_are_logged_not_raised(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv(joblog.ENV_VAR, str(tmp_path / "missing-dir" / "jobs.jsonl"))
    with caplog.at_level(logging.WARNING, logger=joblog.__name__):
        joblog.directord_job_finished(record=record("job-x"))
    assert "job-x" in caplog.text
    monkeypatch.setenv(joblog.ENV_VAR, str(tmp_path))  # a directory, not a file
    joblog.directord_job_finished(record=record("job-y"))


def test_partial_record_still_makes_a_line(tmp_path, monkeypatch):
    path = tmp_path / "jobs.jsonl"
    monkeypatch.setenv(joblog.ENV_VAR, str(path))
    joblog.directord_job_finished(record={"JOB_ID": "bare"})
    line = json.loads(path.read_text())
    assert line["job_id"] == "bare" and line["success"] == [] and line["verb"] is None


def test_registered_through_the_entry_point():
    assert "joblog" in plugins.installed(plugins.PLUGINS)
    assert joblog in plugins.hooks().get_plugins()
