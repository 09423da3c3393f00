"""The conformance orchestrations, each through the CLI with --poll --check on 3 real nodes."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path

import pytest

from directord.testing import wait_for

ORCHESTRATIONS = Path(__file__).with_name("orchestrations")
NODES = ("node1", "node2", "node3")


@pytest.fixture(scope="module")
def workdir(cluster, tmp_path_factory):
    """A copy of the orchestrations (plus a generated payload) and a private workspace per node."""
    root = tmp_path_factory.mktemp("conformance")
    shutil.copytree(ORCHESTRATIONS, root / "orchestrations")
    (root / "orchestrations" / "files" / "payload.bin").write_bytes(os.urandom(300_000))
    return root


def run(cluster, workdir, name, *extra, timeout=120):
    for node in NODES:  # CACHEEVICT all may have wiped it: set it again every time
        result = cluster.cli("exec", "--verb", "ARG", f"workspace {workdir}/ws-{node}", "--target", node, "--wait")
        assert result.returncode == 0, result.stderr
    return cluster.cli("orchestrate", f"{name}.yaml", "--poll", "--check", *extra,
                       cwd=workdir / "orchestrations", timeout=timeout)


@pytest.mark.parametrize("name", ["functional", "async", "async-race", "query"])
def test_conformance_orchestration_passes(cluster, workdir, name):
    result = run(cluster, workdir, name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Job Failed" not in result.stdout


def test_async_time_runs_parents_in_parallel(cluster, workdir):
    started = time.monotonic()
    result = run(cluster, workdir, "async-time")
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    print(f"async-time: 6 s + 5 s + 4 s of sleeps finished in {elapsed:.1f} s")
    assert elapsed < 10


def test_async_transfer_lands_every_file_intact(cluster, workdir):
    result = run(cluster, workdir, "async-transfer")
    assert result.returncode == 0, result.stdout + result.stderr
    expected = hashlib.sha3_224((workdir / "orchestrations" / "files" / "payload.bin").read_bytes()).hexdigest()
    landed = list(workdir.glob("ws-node*/transfer-*"))
    assert len(landed) == 3 * 3 * 10
    assert {hashlib.sha3_224(p.read_bytes()).hexdigest() for p in landed} == {expected}


def test_queue_sentinel_purges_pending_jobs(cluster, workdir):
    submitted = cluster.cli("orchestrate", "queue-sentinel.yaml", "--target", "node2",
                            cwd=workdir / "orchestrations")
    assert submitted.returncode == 0, submitted.stderr
    job_ids = [line.split()[-1] for line in submitted.stdout.splitlines()]
    assert len(job_ids) == 20
    wait_for(lambda: all(cluster.job(j)["INFO"]["node2"] for j in job_ids), 10, what="all 20 jobs queued")
    started = time.monotonic()
    sentinel = cluster.cli("exec", "--verb", "QUEUESENTINEL", "true", "--target", "node2", "--poll", "--check")
    elapsed = time.monotonic() - started
    assert sentinel.returncode == 0, sentinel.stdout + sentinel.stderr
    assert elapsed < 5
    # the sentinel's own result can be recorded a moment before the failures of the jobs it purged
    def purged_jobs() -> list[dict]:
        return [r for r in map(cluster.job, job_ids) if r["FAILED"] == ["node2"]]

    wait_for(lambda: len(purged_jobs()) >= 18, 5, what="the purged jobs' failures")
    records = [cluster.job(j) for j in job_ids]
    purged = [r for r in records if r["FAILED"] == ["node2"]]
    running = [r for r in records if not r["FAILED"]]
    assert len(purged) == 18 and len(running) == 2  # one sleep was already running in each parent
    assert all("Omitted due to sentinel" in r["INFO"]["node2"] for r in purged)
    print(f"queue sentinel: purged {len(purged)} queued jobs in {elapsed:.2f} s")


def test_finger_print_lists_jobs_without_submitting(cluster, workdir):
    before = json.loads(cluster.cli("job", "list", "-f", "json").stdout)
    result = cluster.cli("orchestrate", "async-time.yaml", "--finger-print", "-f", "json",
                         cwd=workdir / "orchestrations")
    assert result.returncode == 0
    rows = json.loads(result.stdout)
    assert [r["count"] for r in rows] == list(range(1, 9))
    assert {r["parent"] for r in rows} == {"six-seconds", "five-seconds", "four-seconds"}
    assert len(json.loads(cluster.cli("job", "list", "-f", "json").stdout)) == len(before)
