"""Exit codes and reports a script can trust: exec, orchestrate and DirectordConnect on 3 real nodes.

0: every job succeeded (or --restrict skipped it); 1: one failed; 3: the wait timed out.
"""

from __future__ import annotations

import json
import re
import time
import uuid

import pytest

from directord.connect import DirectordConnect
from directord.user import EXIT_FAILED, EXIT_SUCCESS, EXIT_TIMEOUT

JOB_LINE = re.compile(r"^Job (Success|Failed|Skipped|in an unknown state): (\S+)$", re.MULTILINE)


@pytest.fixture(scope="module")
def connect(cluster):
    return DirectordConnect(socket_path=cluster.socket)


def job_lines(stdout: str) -> list[tuple[str, str]]:
    return JOB_LINE.findall(stdout)


def five_jobs(cluster, tag: str):
    """A 5-job orchestration, two jobs named; each job touches its own marker file."""
    markers = [cluster.root / f"{tag}-{i}" for i in range(5)]
    jobs = "".join(
        f"    - RUN: --skip-cache touch {marker}\n" + (f"      name: job-{i}\n" if i % 2 else "")
        for i, marker in enumerate(markers)
    )
    return cluster.write(f"{tag}.yaml", f"- name: {tag}\n  jobs:\n{jobs}"), markers


def test_a_timeout_exits_3_for_exec_and_for_directordconnect(cluster, connect):
    waited = cluster.cli("exec", "--verb", "RUN", "--skip-cache sleep 1.5", "--target", "node1",
                         "--wait", "--check", "--poll-timeout", "0.2")
    assert waited.returncode == EXIT_TIMEOUT, waited.stdout + waited.stderr
    assert "1 job(s): 0 succeeded, 0 failed, 0 skipped, 1 unknown" in waited.stdout
    waited_id = cluster.job()["JOB_ID"]
    assert f"gave up after 0.2s; still unknown or processing: {waited_id}" in waited.stderr
    polled = cluster.cli("exec", "--verb", "RUN", "--skip-cache sleep 1.5", "--target", "node2",
                         "--poll", "--poll-timeout", "0.2")
    assert polled.returncode == EXIT_TIMEOUT, polled.stdout + polled.stderr
    [(state, polled_id)] = job_lines(polled.stdout)
    assert state == "in an unknown state"
    assert connect.wait([waited_id, polled_id], timeout=0.1) == EXIT_TIMEOUT
    assert connect.poll(polled_id, timeout=0.1)[0] is None
    assert connect.wait([waited_id, polled_id], timeout=30) == EXIT_SUCCESS  # both end; the nodes are free


def test_a_failure_exits_1_with_the_node_and_its_last_stderr_lines(cluster, connect):
    command = "--skip-cache for i in 1 2 3 4 5 6; do echo err-$i >&2; done; exit 3"
    for mode in ("--wait", "--poll"):
        result = cluster.cli("exec", "--verb", "RUN", command, "--target", "node2", mode)
        assert result.returncode == EXIT_FAILED, result.stdout + result.stderr
        header = re.search(r"^Job Failed: (\S+) \(RUN\) on node2; STDERR:$", result.stdout, re.MULTILINE)
        assert header, result.stdout
        report = result.stdout[header.end():]
        assert report.startswith("".join(f"\n    err-{i}" for i in range(2, 7)))
        assert "err-1" not in result.stdout
        assert connect.wait([header.group(1)]) == EXIT_FAILED
        assert connect.poll(header.group(1)) == (False, f"Job Failed: {header.group(1)}")


def test_a_failure_without_stderr_shows_info(cluster):
    result = cluster.cli("exec", "--verb", "RUN", "--skip-cache true", "--target", "node1", "ghost", "--wait")
    assert result.returncode == EXIT_FAILED
    assert "1 job(s): 0 succeeded, 1 failed, 0 skipped, 0 unknown" in result.stdout
    assert re.search(r"^Job Failed: \S+ \(RUN\) on ghost; INFO:\n    Target unknown", result.stdout, re.MULTILINE)
    assert "on node1" not in result.stdout


def test_an_orchestration_failure_exits_1_through_the_cli_and_directordconnect(cluster, connect):
    path = cluster.write("fails.yaml", "- jobs:\n    - RUN: --skip-cache echo broken >&2; false\n      name: breaks\n")
    result = cluster.cli("orchestrate", str(path), "--target", "node3", "--poll")
    assert result.returncode == EXIT_FAILED
    assert re.search(r"^Job Failed: \S+ \(breaks\) on node3; STDERR:\n    broken$", result.stdout, re.MULTILINE)
    job_ids = connect.orchestrate([{"jobs": [{"RUN": "--skip-cache false"}, {"RUN": "--skip-cache true"}]}],
                                  defined_targets=["node3"])
    assert connect.wait(job_ids) == EXIT_FAILED


def test_check_alone_waits_and_sets_the_exit_code(cluster):
    failed = cluster.cli("exec", "--verb", "RUN", "--skip-cache false", "--target", "node1", "--check")
    assert failed.returncode == EXIT_FAILED, failed.stdout + failed.stderr
    assert "Job received" not in failed.stdout
    assert "1 job(s): 0 succeeded, 1 failed, 0 skipped, 0 unknown" in failed.stdout
    assert "FAILED JOBS" in failed.stdout
    passed = cluster.cli("exec", "--verb", "RUN", "--skip-cache true", "--target", "node1", "--check")
    assert passed.returncode == EXIT_SUCCESS
    assert "1 job(s): 1 succeeded, 0 failed, 0 skipped, 0 unknown" in passed.stdout


def test_restrict_skips_the_others_and_finger_print_shas_round_trip(cluster, connect):
    path, markers = five_jobs(cluster, "restrict")
    printed = cluster.cli("orchestrate", str(path), "--finger-print", "-f", "json")
    assert printed.returncode == 0, printed.stderr
    rows = json.loads(printed.stdout)
    assert [r["name"] for r in rows] == ["", "job-1", "", "job-3", ""]
    shas = [r["job"] for r in rows]
    assert all(re.fullmatch(r"[0-9a-f]{56}", sha) for sha in shas) and len(set(shas)) == 5
    values = cluster.cli("orchestrate", str(path), "--finger-print", "-f", "value", "-c", "job").stdout.split()
    assert values == shas
    result = cluster.cli("orchestrate", str(path), "--restrict", shas[1], shas[2], "--poll", "--target", "node1")
    assert result.returncode == EXIT_SUCCESS, result.stdout + result.stderr
    lines = job_lines(result.stdout)
    assert [state for state, _ in lines] == ["Skipped", "Success", "Success", "Skipped", "Skipped"]
    assert [m.exists() for m in markers] == [False, True, True, False, False]
    skipped_id = lines[0][1]
    assert connect.poll(skipped_id) == (True, f"Job Skipped: {skipped_id}")
    assert cluster.job(skipped_id)["SUCCESS"] == []


def test_restrict_matching_nothing_skips_every_job_and_exits_0(cluster):
    path, markers = five_jobs(cluster, "nothing")
    result = cluster.cli("orchestrate", str(path), "--restrict", "deadbeef", "--wait")
    assert result.returncode == EXIT_SUCCESS, result.stdout + result.stderr
    assert "5 job(s): 0 succeeded, 0 failed, 5 skipped, 0 unknown" in result.stdout
    assert "Job Success" not in result.stdout
    polled = cluster.cli("orchestrate", "--restrict", "deadbeef", str(path), "--poll")
    assert polled.returncode == EXIT_SUCCESS, polled.stdout + polled.stderr
    assert [state for state, _ in job_lines(polled.stdout)] == ["Skipped"] * 5
    assert not any(m.exists() for m in markers)


def test_wait_with_format_prints_the_per_job_results(cluster):
    path, markers = five_jobs(cluster, "formatted")
    shas = json.loads(cluster.cli("orchestrate", str(path), "--finger-print", "-f", "json").stdout)
    result = cluster.cli("orchestrate", str(path), "--restrict", shas[3]["job"], "--wait", "-f", "json",
                         "--target", "node2")
    assert result.returncode == EXIT_SUCCESS, result.stdout + result.stderr
    rows = json.loads(result.stdout)  # stdout holds the table alone; the summary went to stderr
    assert [r["status"] for r in rows] == ["skipped", "skipped", "skipped", "success", "skipped"]
    assert [r["job"] for r in rows] == [r["job"] for r in shas]
    assert rows[3]["name"] == "job-3" and rows[3]["succeeded"] == ["node2"] and rows[3]["failed"] == []
    assert "5 job(s): 1 succeeded, 0 failed, 4 skipped, 0 unknown" in result.stderr
    assert markers[3].exists()
    refused = cluster.cli("orchestrate", str(path), "-f", "json")
    assert refused.returncode == 2
    assert "-f/--format and -c/--column need --finger-print, --wait" in refused.stderr


def test_target_before_or_after_the_text(cluster):
    before = cluster.cli("exec", "--verb", "RUN", "--target", "node1", "--skip-cache echo before", "--wait")
    assert before.returncode == EXIT_SUCCESS, before.stdout + before.stderr
    assert cluster.job()["STDOUT"] == {"node1": "before"}
    repeated = cluster.cli("exec", "--verb", "RUN", "--target", "node1", "--target", "node3",
                           "--skip-cache echo repeated", "--wait")
    assert repeated.returncode == EXIT_SUCCESS, repeated.stdout + repeated.stderr
    assert cluster.job()["STDOUT"] == {"node1": "repeated", "node3": "repeated"}
    after = cluster.cli("exec", "--verb", "RUN", "--skip-cache echo after", "--target", "node2", "node3", "--wait")
    assert after.returncode == EXIT_SUCCESS, after.stdout + after.stderr
    assert cluster.job()["STDOUT"] == {"node2": "after", "node3": "after"}
    ambiguous = cluster.cli("exec", "--verb", "RUN", "--target", "node1", "node2", "echo hi")
    assert ambiguous.returncode == 2
    assert "--target before the text takes one node" in ambiguous.stderr
    path = cluster.write("where.yaml", "- jobs:\n    - RUN: --skip-cache echo where\n")
    orchestrated = cluster.cli("orchestrate", "--target", "node3", str(path), "--wait")
    assert orchestrated.returncode == EXIT_SUCCESS, orchestrated.stdout + orchestrated.stderr
    assert cluster.job()["STDOUT"] == {"node3": "where"}
    listed = cluster.cli("orchestrate", str(path), "--target", "node1", "node2", "--wait")
    assert listed.returncode == EXIT_SUCCESS
    assert cluster.job()["STDOUT"] == {"node1": "where", "node2": "where"}


def test_poll_of_an_unknown_id_returns_at_once(connect):
    job_id = str(uuid.uuid4())
    started = time.monotonic()
    assert connect.poll(job_id) == (None, f"Job in an unknown state: {job_id}")
    assert connect.wait([job_id]) == EXIT_TIMEOUT
    assert time.monotonic() - started < 1.0
