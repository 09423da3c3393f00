"""FACTER end to end with the real facter (installed by `make test`): facts merge into args."""

from __future__ import annotations

import json

import pytest

from directord.testing import Cluster


def stdout_of(cluster: Cluster, node: str, job_id: str = "last") -> str:
    return cluster.job(job_id)["STDOUT"][node]


def exec_wait(cluster: Cluster, verb: str, text: str, *targets: str) -> int:
    extra = [arg for node in targets for arg in ("--target", node)]
    result = cluster.cli("exec", "--verb", verb, "--wait", *extra, "--", text)
    assert "Traceback" not in result.stderr
    return result.returncode


def test_facts_join_the_args_without_wiping_them(cluster):
    assert exec_wait(cluster, "ARG", "keep_me yes", "node1") == 0
    assert exec_wait(cluster, "FACTER", "--skip-cache", "node1") == 0
    facts = json.loads(stdout_of(cluster, "node1"))
    assert facts["kernel"] == "Linux"
    assert "facts stored in args.facter" in cluster.job()["INFO"]["node1"]
    assert exec_wait(cluster, "RUN", "--skip-cache echo {{ facter.kernel }} {{ keep_me }}", "node1") == 0
    assert stdout_of(cluster, "node1") == "Linux yes"


def test_facts_of_every_node_through_query(cluster):
    path = cluster.write("facter.yaml", """
- jobs:
    - FACTER: --skip-cache
    - QUERY: facter
    - RUN: >-
        --skip-cache echo {{ query.values() | map(attribute='facter') | map(attribute='kernel')
        | select('equalto', 'Linux') | list | length }}
""")
    result = cluster.cli("orchestrate", str(path), "--wait", "--check")
    assert result.returncode == 0, result.stdout + result.stderr
    jobs = json.loads(cluster.cli("job", "list", "-f", "json").stdout)
    run = [job for job in jobs if job["VERB"] == "RUN"][-1]
    assert cluster.job(run["ID"])["STDOUT"] == {"node1": "3", "node2": "3", "node3": "3"}


@pytest.mark.parametrize(("script", "expected"), [
    (None, "Facter is not installed!"),
    ("#!/bin/sh\necho 'not json'\n", "facter did not print a JSON object"),
])
def test_missing_or_broken_facter_fails_the_job(cluster, script, expected):
    bin_dir = cluster.root / ("broken-facter" if script else "no-facter")
    bin_dir.mkdir(exist_ok=True)
    if script:
        (bin_dir / "facter").write_text(script)
        (bin_dir / "facter").chmod(0o755)
    assert exec_wait(cluster, "ENV", f"PATH {bin_dir}", "node3") == 0
    try:
        assert exec_wait(cluster, "FACTER", "--skip-cache", "node3") == 1
        record = cluster.job()
        assert expected in (record["STDERR"].get("node3") or "") + (record["INFO"].get("node3") or "")
    finally:
        assert exec_wait(cluster, "CACHEEVICT", "envs", "node3") == 0
