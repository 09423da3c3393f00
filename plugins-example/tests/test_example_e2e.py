"""End to end: a real server and two real clients load ECHO and joblog from this package."""

from __future__ import annotations

import json

import pytest

from directord.testing import Cluster, wait_for

NODES = {"node1", "node2"}


@pytest.fixture(scope="module")
def joblog_path(tmp_path_factory):
    return tmp_path_factory.mktemp("joblog") / "jobs.jsonl"


@pytest.fixture(scope="module")
def echo_cluster(tmp_path_factory, joblog_path):
    """Server + 2 clients; the server inherits DIRECTORD_EXAMPLE_JOBLOG."""
    cluster = Cluster(tmp_path_factory.mktemp("echo"), clients=len(NODES),
                      env={"DIRECTORD_EXAMPLE_JOBLOG": str(joblog_path)})
    with cluster.running() as instance:
        yield instance


def logged(path, job_id):
    """The joblog line for ``job_id``, or None while it is not written yet."""
    if not path.exists():
        return None
    for line in path.read_text().splitlines():
        entry = json.loads(line)
        if entry["job_id"] == job_id:
            return entry
    return None


def test_echo_runs_on_every_node_and_is_logged(echo_cluster, joblog_path):
    result = echo_cluster.cli("exec", "--verb", "ECHO", "hello", "world", "--wait")
    assert result.returncode == 0, result.stdout + result.stderr + echo_cluster.logs()
    record = echo_cluster.job("last")
    assert record["VERB"] == "ECHO"
    assert record["STDOUT"] == dict.fromkeys(NODES, "hello world")
    assert sorted(record["SUCCESS"]) == sorted(NODES)
    assert record["FAILED"] == []
    entry = wait_for(lambda: logged(joblog_path, record["JOB_ID"]), 10, what="the joblog line")
    assert entry["verb"] == "ECHO"
    assert entry["success"] == sorted(NODES)
    assert entry["failed"] == []
    assert entry["execution_time"] >= 0 and entry["roundtrip_time"] >= entry["execution_time"]
    assert entry["timestamp"].endswith("+00:00")


def test_verb_is_case_insensitive(echo_cluster, joblog_path):
    result = echo_cluster.cli("exec", "--verb", "echo", "lower case", "--wait")
    assert result.returncode == 0, result.stdout + result.stderr
    record = echo_cluster.job("last")
    assert record["STDOUT"] == dict.fromkeys(NODES, "lower case")
    wait_for(lambda: logged(joblog_path, record["JOB_ID"]), 10, what="the joblog line")


def test_repeat_is_a_cache_hit(echo_cluster):
    words = ("cached", "once")
    first = echo_cluster.cli("exec", "--verb", "ECHO", *words, "--target", "node1", "--wait")
    assert first.returncode == 0, first.stderr
    again = echo_cluster.cli("exec", "--verb", "ECHO", *words, "--target", "node1", "--wait")
    assert again.returncode == 0, again.stderr
    assert echo_cluster.job("last")["INFO"]["node1"] == "task skipped"
    forced = echo_cluster.cli("exec", "--verb", "ECHO", f"--skip-cache {' '.join(words)}",
                              "--target", "node1", "--wait")
    assert forced.returncode == 0, forced.stderr
    assert echo_cluster.job("last")["STDOUT"]["node1"] == "cached once"
