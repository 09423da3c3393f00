"""The typed job: validation at the edge, the original's dict shape both ways."""

from __future__ import annotations

import dataclasses

import pytest

from directord import job as job_module
from directord.exceptions import RequestError
from directord.job import Job
from directord.orchestration import build_job


def test_every_common_field_has_a_checked_type() -> None:
    common = {f.name for f in dataclasses.fields(Job)} - {"fields"}
    assert set(job_module._TYPES) == common


def test_ids_are_filled_and_a_lone_job_is_its_own_parent() -> None:
    job = Job.from_dict({"verb": "RUN", "command": "true"})
    assert len(job.job_id) == 36 and job.parent_id == job.job_id
    assert Job.from_dict({"verb": "RUN", "job_id": "j", "parent_id": "p"}).parent_id == "p"


def test_unknown_keys_are_the_verbs_own_fields() -> None:
    job = Job.from_dict({"verb": "ADD", "job_id": "j1", "to": "/etc/x", "from": ["a"], "timeout": 5})
    assert job.fields == {"to": "/etc/x", "from": ["a"]}
    assert job.get("to") == "/etc/x" and job.get("nope", 1) == 1
    assert job.timeout == 5


def test_round_trip_through_the_dict() -> None:
    job = build_job("ADD", "--chmod 0600 /etc/hosts /srv/x", extra={"targets": ["n1"], "job_name": "hosts"})
    data = job.to_dict()
    assert Job.from_dict(data) == job
    assert data["verb"] == "ADD" and data["to"] == "/srv/x" and data["targets"] == ["n1"]
    assert data["job_name"] == "hosts"


def test_to_dict_keeps_the_originals_keys_and_leaves_out_unset_extras() -> None:
    data = Job("RUN", job_id="j", parent_id="j", fields={"command": "true"}).to_dict()
    assert list(data)[:5] == ["verb", "command", "timeout", "run_once", "job_sha3_224"]
    assert {"job_id", "parent_id", "skip_cache", "parent_async"} <= set(data)
    for unset in ("callback", "callback_of", "skipped", "component", "job_name", "force_lock", "restrict",
                  "targets"):
        assert unset not in data


def test_the_originals_spellings() -> None:
    job = Job.from_dict({"verb": "RUN", "ignore_cache": True, "return_raw": True, "job_name": None})
    assert job.skip_cache is True and "return_raw" not in job.to_dict() and job.job_name is None


@pytest.mark.parametrize(("data", "message"), [
    ("RUN", "a job must be a JSON object"),
    ({"command": "true"}, "a job needs a 'verb'"),
    ({"verb": ""}, "a job needs a 'verb'"),
    ({"verb": 7}, "job field 'verb' must be str"),
    ({"verb": "RUN", "targets": "n1"}, "job field 'targets' must be list"),
    ({"verb": "RUN", "targets": ["n1", 2]}, "job field 'targets' must be a list of strings"),
    ({"verb": "RUN", "timeout": "soon"}, "job field 'timeout' must be int"),
    ({"verb": "RUN", "timeout": True}, "job field 'timeout' must be int"),
    ({"verb": "RUN", "run_once": "yes"}, "job field 'run_once' must be bool"),
    ({"verb": "RUN", "component": {"path": 3}}, "job field 'component' must map names to strings"),
])
def test_malformed_jobs_are_refused_in_one_line(data: object, message: str) -> None:
    with pytest.raises(RequestError) as caught:
        Job.from_dict(data)
    assert str(caught.value) == message


def test_replace_merges_fields_and_copies() -> None:
    job = Job("QUERY", job_id="j", fields={"query": "k"})
    planned = job.replace(fields={"query_nodes": ["a"]}, targets=["a"])
    assert planned.fields == {"query": "k", "query_nodes": ["a"]} and planned.targets == ["a"]
    assert job.fields == {"query": "k"} and job.targets == []
