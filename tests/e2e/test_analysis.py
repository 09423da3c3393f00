"""Analysis, export, cache dump and the DirectordConnect library against a real cluster."""

from __future__ import annotations

import json
import subprocess
import sys

import yaml

NODES = {"node1", "node2", "node3"}
KEYS = {"ID", "ACTUAL_RUNTIME", "COMBINED_EXECUTION_TIME", "FASTEST_NODE_EXECUTION", "SLOWEST_NODE_EXECUTION",
        "FASTEST_NODE_ROUNDTRIP", "SLOWEST_NODE_ROUNDTRIP", "TOTAL_AVG_EXECUTION_TIME", "TOTAL_FAILURES",
        "TOTAL_JOBS", "TOTAL_NODE_COUNT", "TOTAL_SUCCESSES"}


def test_analyze_parent_has_the_twelve_consistent_keys(cluster):
    path = cluster.write("three.yaml", """
- name: analyzed
  jobs:
    - RUN: --skip-cache echo one
    - RUN: --skip-cache sleep 0.1
    - RUN: --skip-cache echo three
""")
    assert cluster.cli("orchestrate", str(path), "--wait").returncode == 0
    parent = cluster.job()["PARENT_JOB_ID"]
    result = cluster.cli("manage", "--analyze-parent", parent, "-f", "json")
    assert result.returncode == 0, result.stderr
    rows = {row["KEY"]: row["VALUE"] for row in json.loads(result.stdout)}
    assert set(rows) == KEYS
    assert rows["ID"] == parent and rows["TOTAL_JOBS"] == 3 and rows["TOTAL_NODE_COUNT"] == 3
    assert rows["TOTAL_SUCCESSES"] == 3 * 3 and rows["TOTAL_FAILURES"] == 0
    for key in ("FASTEST_NODE_EXECUTION", "SLOWEST_NODE_EXECUTION", "FASTEST_NODE_ROUNDTRIP",
                "SLOWEST_NODE_ROUNDTRIP"):
        assert rows[key] in NODES
    assert rows["COMBINED_EXECUTION_TIME"] >= 3 * 0.1  # each node slept 0.1 s
    assert abs(rows["TOTAL_AVG_EXECUTION_TIME"] * 3 - rows["COMBINED_EXECUTION_TIME"]) < 1e-6
    assert rows["ACTUAL_RUNTIME"] >= 0.1
    tree = cluster.cli("job", "analyze", parent, "-f", "json")
    assert json.loads(tree.stdout)["TOTAL_SUCCESSES"] == 9
    one = json.loads(cluster.cli("job", "analyze", "--job", "last", "-f", "json").stdout)
    assert one["TOTAL_JOBS"] == 1
    assert json.loads(cluster.cli("job", "analyze", "--all", "-f", "json").stdout)["ID"] == "All-Jobs"
    missing = cluster.cli("manage", "--analyze-parent", "nope")
    assert missing.returncode == 1 and "No data found" in missing.stderr


def test_exports_and_cache_dump(cluster):
    assert cluster.cli("exec", "--verb", "ARG", "exported yes", "--wait").returncode == 0
    jobs_file, nodes_file = cluster.root / "jobs.yaml", cluster.root / "nodes.yaml"
    assert cluster.cli("manage", "--export-jobs", str(jobs_file)).returncode == 0
    assert cluster.cli("node", "export", str(nodes_file)).returncode == 0
    jobs = yaml.safe_load(jobs_file.read_text())
    assert cluster.job()["JOB_ID"] in jobs
    assert set(yaml.safe_load(nodes_file.read_text())) == NODES
    dump = cluster.cli("--cache-path", str(cluster.root / "node1"), "cache", "dump", "-f", "json")
    assert dump.returncode == 0, dump.stderr
    assert json.loads(dump.stdout)["args"]["exported"] == "yes"


def test_directord_connect_library(cluster):
    script = f"""
from directord import DirectordConnect
from directord.exceptions import DirectordError

with DirectordConnect(socket_path={cluster.socket!r}) as conn:
    ids = conn.orchestrate([{{"jobs": [{{"RUN": "echo from-python"}}]}}], defined_targets=["node1", "node2"])
    state, text = conn.poll(ids[0])
    print(state, text.split(":")[0])
    print(sorted(conn.list_nodes()))
    print(ids[0] in conn.list_jobs())
try:
    DirectordConnect(socket_path="/nonexistent/directord.sock").list_nodes()
except DirectordError as exc:
    print("error:", exc)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "True Job Success"
    assert lines[1] == "['node1', 'node2', 'node3']"
    assert lines[2] == "True"
    assert lines[3].startswith("error: no directord server socket at /nonexistent")


def test_analyze_last_is_the_last_job_and_its_parent(cluster):
    first = cluster.write("first.yaml", "- jobs:\n    - RUN: --skip-cache echo a\n    - RUN: --skip-cache echo b\n")
    second = cluster.write("second.yaml", """
- jobs:
    - RUN: --skip-cache echo c
    - RUN: --skip-cache echo d
    - RUN: --skip-cache echo e
""")
    assert cluster.cli("orchestrate", str(first), "--wait").returncode == 0
    earlier = cluster.job()["PARENT_JOB_ID"]
    assert cluster.cli("orchestrate", str(second), "--wait").returncode == 0
    last = cluster.job()
    assert last["PARENT_JOB_ID"] != earlier

    def analysis(*args: str) -> dict:
        result = cluster.cli(*args, "-f", "json")
        assert result.returncode == 0, result.stderr
        data = json.loads(result.stdout)
        return {row["KEY"]: row["VALUE"] for row in data} if isinstance(data, list) else data

    for args in (("job", "analyze", "last"), ("manage", "--analyze-parent", "last")):
        rows = analysis(*args)
        assert rows["ID"] == last["PARENT_JOB_ID"], args
        assert rows["TOTAL_JOBS"] == 3 and rows["TOTAL_SUCCESSES"] == 3 * 3, args
    for args in (("job", "analyze", "--job", "last"), ("manage", "--analyze-job", "last")):
        rows = analysis(*args)
        assert rows["ID"] == last["JOB_ID"] and rows["TOTAL_JOBS"] == 1, args
    assert cluster.cli("job", "purge").returncode == 0
    empty = cluster.cli("manage", "--analyze-parent", "last")
    assert empty.returncode == 1 and "No data found" in empty.stderr
