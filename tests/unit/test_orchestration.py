"""Orchestration files -> job specs: validation, targets, parents, options."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from directord import orchestration
from directord.exceptions import OrchestrationError
from directord.fingerprint import object_sha3_224
from directord.orchestration import fingerprint_rows, load_orchestrations

from .helpers import built_jobs


@pytest.fixture
def write(tmp_path: Path):
    counter = iter(range(1000))

    def _write(text: str) -> str:
        path = tmp_path / f"orchestration-{next(counter)}.yaml"
        path.write_text(text)
        return str(path)

    return _write


# -- loading and validation ----------------------------------------------------
def test_load_valid_file(write: Any) -> None:
    path = write(
        "- name: deploy\n"
        "  targets: [n1, n2]\n"
        "  jobs:\n"
        "    - RUN: echo hi\n"
        "    - ARG: key value\n"
        "      name: set key\n"
        "      vars: {timeout: 5}\n"
    )
    loaded = load_orchestrations(path)
    assert loaded == [{"name": "deploy", "targets": ["n1", "n2"],
                       "jobs": [{"RUN": "echo hi"}, {"ARG": "key value", "name": "set key", "vars": {"timeout": 5}}]}]


def test_single_mapping_is_one_orchestration(write: Any) -> None:
    assert load_orchestrations(write("jobs:\n  - RUN: echo hi\n")) == [{"jobs": [{"RUN": "echo hi"}]}]


@pytest.mark.parametrize(("text", "message"), [
    ("just a string\n", "list of orchestrations"),
    ("42\n", "list of orchestrations"),
    ("[]\n", "list of orchestrations"),
    ("", "list of orchestrations"),
    ("- not a mapping\n", "not a mapping"),
    ("- targets: [a]\n", "jobs"),
    ("- jobs: []\n", "jobs"),
    ("- jobs: RUN echo\n", "jobs"),
    ("- jobs:\n    - RUN echo hi\n", "VERB"),
    ("- jobs:\n    - {RUN: echo hi, ARG: key value}\n", "exactly one verb"),
    ("- jobs:\n    - {name: only a name}\n", "exactly one verb"),
    ("- jobs:\n    - {RUN: echo hi, assign: n1}\n", "assign"),
    ("- jobs:\n    - {RUN: echo hi, assign: [n1, 5]}\n", "assign"),
    ("- jobs:\n    - {RUN: echo hi, vars: [a]}\n", "vars"),
    ("- assign: n1\n  jobs:\n    - RUN: echo hi\n", "assign"),
    ("- targets: n1\n  jobs:\n    - RUN: echo hi\n", "targets"),
])
def test_validation_errors(write: Any, text: str, message: str) -> None:
    path = write(text)
    with pytest.raises(OrchestrationError, match=message) as excinfo:
        load_orchestrations(path)
    assert excinfo.value.exit_code == 2


def test_error_names_the_orchestration_and_job(write: Any) -> None:
    path = write("- jobs:\n    - RUN: ok\n- jobs:\n    - RUN: ok\n    - {RUN: a, ARG: b c}\n")
    with pytest.raises(OrchestrationError, match=r"orchestration 2, job 2"):
        load_orchestrations(path)


def test_broken_yaml_reports_the_line(write: Any) -> None:
    path = write("- jobs:\n    - RUN: echo hi\n  targets: [a, b\n")
    with pytest.raises(OrchestrationError, match=r"not valid YAML \(line 4, column \d+\)"):
        load_orchestrations(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(OrchestrationError, match="not found"):
        load_orchestrations(str(tmp_path / "absent.yaml"))


def test_unsafe_yaml_tags_are_refused(write: Any) -> None:
    path = write("- jobs:\n    - RUN: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(OrchestrationError, match="not valid YAML"):
        load_orchestrations(path)


def test_alias_count_is_capped(write: Any) -> None:
    aliases = ", ".join(["*x"] * (orchestration.MAX_ALIASES + 1))
    path = write(f"- anchor: &x hello\n  many: [{aliases}]\n  jobs:\n    - RUN: echo hi\n")
    with pytest.raises(OrchestrationError, match="aliases"):
        load_orchestrations(path)


def test_few_aliases_are_fine(write: Any) -> None:
    path = write("- targets: &t [n1, n2]\n  jobs:\n    - RUN: echo hi\n      assign: *t\n")
    assert load_orchestrations(path)[0]["jobs"][0]["assign"] == ["n1", "n2"]


def test_billion_laughs_is_refused(write: Any) -> None:
    # Nine levels of ten aliases: only 90 alias events, but 10**9 strings once
    # expanded, which is what hashing the orchestration (parent_sha3_224) does.
    # The loader must refuse this document instead of handing it on.
    lines = ['    l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 10):
        refs = ", ".join([f"*l{level - 1}"] * 10)
        lines.append(f"    l{level}: &l{level} [{refs}]")
    path = write("- bomb:\n" + "\n".join(lines) + "\n  jobs:\n    - RUN: echo hi\n")
    with pytest.raises(OrchestrationError):
        load_orchestrations(path)


# -- targets ------------------------------------------------------------------
def targets_of(orchestrations: list[dict[str, Any]], cli: list[str] | None = None) -> list[Any]:
    return [job.get("targets") for job in built_jobs(orchestrations, defined_targets=cli)]


def test_target_precedence() -> None:
    orchestrations = [{
        "targets": ["t1"],
        "assign": ["a1"],
        "jobs": [{"RUN": "one", "assign": ["j1"]}, {"RUN": "two"}],
    }]
    # job assign beats even the CLI targets
    assert targets_of(orchestrations, ["c1", "c2"]) == [["j1"], ["c1", "c2"]]
    # without CLI targets, the orchestration's assign beats its targets
    assert targets_of(orchestrations) == [["j1"], ["a1"]]
    only_targets = [{"targets": ["t1", "t2"], "jobs": [{"RUN": "x"}]}]
    assert targets_of(only_targets) == [["t1", "t2"]]
    assert targets_of(only_targets, ["c1"]) == [["c1"]]


def test_no_targets_means_all_nodes() -> None:
    job, = built_jobs([{"jobs": [{"RUN": "x"}]}])
    assert "targets" not in job


def test_cli_targets_are_deduplicated_in_order() -> None:
    assert targets_of([{"jobs": [{"RUN": "x"}]}], ["b", "a", "b", "c", "a"]) == [["b", "a", "c"]]


def test_orchestration_is_not_modified() -> None:
    orchestrations = [{"assign": ["a1"], "jobs": [{"RUN": "x", "assign": ["j1"], "name": "n", "vars": {"timeout": 3}}]}]
    snapshot = repr(orchestrations)
    built_jobs(orchestrations)
    built_jobs(orchestrations)
    assert repr(orchestrations) == snapshot


# -- parents, names, options ------------------------------------------------------
def test_parent_fields() -> None:
    first = {"name": "deploy", "targets": ["test1", "test2", "test3"],
             "jobs": [{"RUN": "command1"}, {"RUN": "command2", "name": "second"}]}
    second = {"targets": ["test1", "test2", "test3"],
              "jobs": [{"RUN": "command1"}, {"RUN": "command2"}, {"RUN": "command3"}]}
    parent_sha_first = object_sha3_224(first)
    jobs = built_jobs([first, second])
    assert len(jobs) == 5
    a, b, c, d, e = jobs
    assert a["parent_id"] == b["parent_id"]
    assert c["parent_id"] == d["parent_id"] == e["parent_id"]
    assert a["parent_id"] != c["parent_id"]
    uuid.UUID(a["parent_id"])
    assert a["parent_sha3_224"] == b["parent_sha3_224"] == parent_sha_first
    # the orchestration golden vector of the original Directord
    assert c["parent_sha3_224"] == "5bc535e8fa927e4a4ab9ca188f8b560935b32a00dacc4f9e76b05d08"
    assert a["parent_name"] == "deploy" and "parent_name" not in c
    assert b["job_name"] == "second" and "job_name" not in a
    assert e["job_sha3_224"] == "40a7e8a1ca03e22337791ff51665494440c5463269c88228caa49bc3"


def test_parent_ids_are_new_on_every_run() -> None:
    orchestrations = [{"jobs": [{"RUN": "x"}]}]
    assert built_jobs(orchestrations)[0]["parent_id"] != built_jobs(orchestrations)[0]["parent_id"]


def test_parent_sha_is_taken_before_vars_name_and_assign_are_removed() -> None:
    plain = {"jobs": [{"RUN": "x"}]}
    decorated = {"jobs": [{"RUN": "x", "vars": {"timeout": 600}, "name": "n", "assign": ["a"]}]}
    plain_job, = built_jobs([plain])
    decorated_job, = built_jobs([decorated])
    assert decorated_job["parent_sha3_224"] == object_sha3_224(decorated)
    assert decorated_job["parent_sha3_224"] != plain_job["parent_sha3_224"]
    assert decorated_job["job_sha3_224"] == plain_job["job_sha3_224"]


def test_job_vars_are_applied() -> None:
    job, = built_jobs([{"jobs": [{"RUN": "echo x", "vars": {"stdout_arg": "o", "timeout": 5}}]}])
    assert job["timeout"] == 5 and job["stdout_arg"] == "o"
    assert job["job_sha3_224"] == "c8187de3f789f89043f8ea6d806c5280d614d9516e4e9564a2cc6a75"


@pytest.mark.parametrize(("value", "expected"), [
    (True, True), ("yes", True), ("true", True), ("1", True), (1, True),
    (False, False), ("no", False), ("false", False), ("0", False), (0, False),
])
def test_async(value: Any, expected: bool) -> None:
    job, = built_jobs([{"async": value, "jobs": [{"RUN": "x"}]}])
    assert bool(job.get("parent_async")) is expected


def test_force_async() -> None:
    jobs = built_jobs([{"async": False, "jobs": [{"RUN": "x"}]}, {"jobs": [{"RUN": "y"}]}],
                              force_async=True)
    assert [job["parent_async"] for job in jobs] == [True, True]


def test_restrict_and_ignore_cache_are_copied() -> None:
    orchestrations = [{"jobs": [{"RUN": "x"}, {"RUN": "--skip-cache y"}]}]
    plain = built_jobs(orchestrations)
    assert [job["skip_cache"] for job in plain] == [False, True]
    assert all("restrict" not in job and "return_raw" not in job for job in plain)
    jobs = built_jobs(orchestrations, restrict=["sha1", "sha2"], ignore_cache=True)
    assert [job["restrict"] for job in jobs] == [["sha1", "sha2"], ["sha1", "sha2"]]
    assert [job["skip_cache"] for job in jobs] == [True, True]
    assert [job["job_sha3_224"] for job in jobs] == [job["job_sha3_224"] for job in plain]


def test_job_fields_order() -> None:
    job, = built_jobs([{"name": "p", "async": True, "targets": ["n1"],
                                "jobs": [{"RUN": "x", "name": "j"}]}], restrict=["s"])
    assert list(job)[:4] == ["verb", "no_block", "retry", "command"]  # the verb's fields first, then the common ones
    assert (job["targets"], job["parent_async"], job["parent_name"], job["job_name"], job["restrict"]) == (
        ["n1"], True, "p", "j", ["s"])
    assert len(job["parent_sha3_224"]) == len(job["job_sha3_224"]) == 56 and job["parent_id"] != job["job_id"]


# -- --finger-print rows -------------------------------------------------------------
def test_fingerprint_rows() -> None:
    short = "x" * 29
    exact = "y" * 30
    orchestrations = [
        {"name": "first", "jobs": [{"RUN": short}, {"RUN": exact, "name": "named job"}]},
        {"jobs": [{"RUN": "command3"}]},
    ]
    rows = fingerprint_rows(orchestrations)
    assert [row[0] for row in rows] == [1, 2, 3]
    assert [row[1] for row in rows] == ["first", "first", object_sha3_224(orchestrations[1])]
    assert [row[2] for row in rows] == ["RUN", "RUN", "RUN"]
    assert rows[0][3] == short
    assert rows[1][3] == "y" * 27 + "..."
    assert len(rows[1][3]) == 30
    assert rows[0][4] == built_jobs([{"jobs": [{"RUN": short}]}])[0]["job_sha3_224"]
    assert rows[1][4] == built_jobs([{"jobs": [{"RUN": exact}]}])[0]["job_sha3_224"]
    assert [row[5] for row in rows] == ["", "named job", ""]
    assert rows[2][4] == "40a7e8a1ca03e22337791ff51665494440c5463269c88228caa49bc3"


def test_fingerprint_rows_keep_the_verb_as_written() -> None:
    rows = fingerprint_rows([{"jobs": [{"run": "echo hi"}]}])
    assert rows[0][2] == "run"
    assert built_jobs([{"jobs": [{"run": "echo hi"}]}])[0]["verb"] == "run"


def test_unknown_verb_in_orchestration() -> None:
    from directord.exceptions import PluginNotFound

    with pytest.raises(PluginNotFound, match="NOPE"):
        built_jobs([{"jobs": [{"NOPE": "x"}]}])


def test_a_verb_builds_its_parser_once_however_many_jobs_use_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from directord.components.run import Component as Run

    built: list[object] = []
    original = Run.args

    def counting(self: Run) -> None:
        built.append(self)
        original(self)

    monkeypatch.setattr(Run, "args", counting)
    many = built_jobs([{"jobs": [{"RUN": f"--skip-cache --stdout-arg out{i} echo {i}"} for i in range(50)]}])
    assert len(built) <= 1  # once per class and verb (none when an earlier test built it)
    assert [job["command"] for job in many] == [f"echo {i}" for i in range(50)]
    assert [job["stdout_arg"] for job in many] == [f"out{i}" for i in range(50)]  # each job its own options
