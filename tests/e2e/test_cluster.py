"""The foundation, end to end: a real server and 3 real clients, over each transport."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from directord.testing import wait_for

pytestmark = pytest.mark.transports("zmq", "redis")

NODES = {"node1", "node2", "node3"}


def processes_mentioning(text: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if text.encode() in (proc / "cmdline").read_bytes():
                    found.append(int(proc.name))
            except OSError:
                continue
    return found


def test_node_list_json_lists_every_node(cluster):
    result = cluster.cli("node", "list", "-f", "json")
    assert result.returncode == 0, result.stderr
    nodes = json.loads(result.stdout)
    assert {n["ID"] for n in nodes} == NODES
    assert all(n["DRIVER"] == cluster.driver and n["EXPIRY"] > 0 for n in nodes)
    assert len({n["SERVER"] for n in nodes}) == 1 and nodes[0]["SERVER"]  # the one active server


def test_manage_list_nodes_table(cluster):
    result = cluster.cli("manage", "--list-nodes", "-f", "value", "-c", "ID")
    assert result.returncode == 0
    assert set(result.stdout.split()) == NODES


def test_exec_wait_then_job_info_last(cluster):
    result = cluster.cli("exec", "--verb", "RUN", "echo hi", "--wait")
    assert result.returncode == 0, result.stdout + result.stderr
    info = cluster.cli("manage", "--job-info", "last", "-f", "json")
    assert info.returncode == 0, info.stderr
    rows = {row["KEY"]: row["VALUE"] for row in json.loads(info.stdout)}
    assert rows["STDOUT"] == dict.fromkeys(NODES, "hi")
    assert sorted(rows["SUCCESS"]) == sorted(NODES)
    assert rows["FAILED"] == []
    assert rows["EXECUTION_TIME"] > 0 and rows["ROUNDTRIP_TIME"] >= rows["EXECUTION_TIME"]


def test_failure_stops_later_jobs_of_the_parent(cluster):
    marker = cluster.root / "MARKER"
    path = cluster.write("fail.yaml", f"""
- name: stops-on-failure
  jobs:
    - RUN: "false"
    - RUN: touch {marker}
""")
    result = cluster.cli("orchestrate", str(path), "--poll", "--check")
    assert result.returncode == 1
    assert "FAILED JOBS" in result.stdout
    assert not marker.exists()
    record = cluster.job("last")
    assert sorted(record["FAILED"]) == sorted(NODES)
    assert all("parent failure" in (text or "") for text in record["STDERR"].values())


def test_stream_prints_each_nodes_output(cluster):
    result = cluster.cli("exec", "--verb", "RUN", "--skip-cache echo out-$(hostname) && echo err >&2", "--stream")
    assert result.returncode == 0, result.stderr
    for node in NODES:
        assert f"{node} -- STDOUT\nout-" in result.stdout
        assert f"{node} -- STDERR\nerr" in result.stdout
    assert "Job Success:" in result.stdout


def test_command_text_keeps_quoting_and_spacing(cluster):
    result = cluster.cli("exec", "--verb", "RUN", "--skip-cache printf '%s|' 'a  b'   c", "--wait")
    assert result.returncode == 0
    assert set(cluster.job()["STDOUT"].values()) == {"a  b|c|"}


def test_cache_hit_is_reported_skipped_and_skip_cache_runs_again(cluster):
    counter = cluster.root / "runs"
    command = f"echo x >> {counter}"
    assert cluster.cli("exec", "--verb", "RUN", command, "--target", "node1", "--wait").returncode == 0
    assert cluster.cli("exec", "--verb", "RUN", command, "--target", "node1", "--wait").returncode == 0
    assert cluster.job()["INFO"]["node1"] == "task skipped"
    assert counter.read_text().count("x") == 1
    forced = cluster.cli("exec", "--verb", "RUN", f"--skip-cache {command}", "--target", "node1", "--wait")
    assert forced.returncode == 0
    assert counter.read_text().count("x") == 2


def test_arg_env_and_templates(cluster):
    path = cluster.write("vars.yaml", """
- jobs:
    - ARG: greeting hello there
    - ENV: SHOUT loud
    - RUN: --skip-cache echo "{{ greeting }} $SHOUT"
      name: templated
""")
    result = cluster.cli("orchestrate", str(path), "--poll", "--check", "--target", "node2")
    assert result.returncode == 0, result.stdout + result.stderr
    record = cluster.job()
    assert record["JOB_NAME"] == "templated"
    assert record["STDOUT"] == {"node2": "hello there loud"}


def test_undefined_template_variable_fails_with_reason(cluster):
    result = cluster.cli("exec", "--verb", "RUN", "echo {{ nothing_here }}", "--target", "node1", "--poll")
    assert result.returncode == 1
    assert "nothing_here" in cluster.job()["STDERR"]["node1"]


def test_stdout_arg_feeds_later_jobs(cluster):
    path = cluster.write("stdoutarg.yaml", """
- jobs:
    - RUN: --skip-cache --stdout-arg captured echo captured-value
    - RUN: --skip-cache echo "got {{ captured }}"
""")
    assert cluster.cli("orchestrate", str(path), "--poll", "--check", "--target", "node3").returncode == 0
    assert cluster.job()["STDOUT"] == {"node3": "got captured-value"}


def test_timeout_kills_the_process_tree(cluster):
    marker = cluster.root / "late"
    started = time.monotonic()
    result = cluster.cli("exec", "--verb", "RUN", f"--timeout 1 sleep 5 && touch {marker}",
                         "--target", "node1", "--poll")
    elapsed = time.monotonic() - started
    assert result.returncode == 1
    assert elapsed < 4.5
    assert "Timeout" in cluster.job()["STDERR"]["node1"]
    wait_for(lambda: not processes_mentioning(str(marker)), 3, what="the timed-out shell to be killed")
    assert not marker.exists()


def test_async_parents_run_in_parallel_and_sync_ones_in_order(cluster):
    path = cluster.write("async.yaml", """
- async: true
  jobs: [{RUN: --skip-cache sleep 1.5}]
- async: true
  jobs: [{RUN: --skip-cache sleep 1.5}]
- async: true
  jobs: [{RUN: --skip-cache sleep 1.5}]
""")
    started = time.monotonic()
    result = cluster.cli("orchestrate", str(path), "--wait", "--target", "node2")
    assert result.returncode == 0
    assert time.monotonic() - started < 4.0  # serially it would take 4.5 s plus overhead


def test_unknown_target_fails_loudly_but_known_targets_run(cluster):
    result = cluster.cli("exec", "--verb", "RUN", "--skip-cache echo ok", "--target", "node1", "ghost",
                         "--poll")
    assert result.returncode == 1
    assert "ghost" in result.stderr and "node1" in result.stderr
    record = cluster.job()
    assert record["SUCCESS"] == ["node1"]
    assert record["FAILED"] == ["ghost"]
    assert "Target unknown" in record["INFO"]["ghost"]


def test_job_list_json_and_filters(cluster):
    result = cluster.cli("job", "list", "-f", "json", "--filter", "failed")
    assert result.returncode == 0
    jobs = json.loads(result.stdout)
    assert jobs and all(job["FAILED"] > 0 for job in jobs)
    csv = cluster.cli("job", "list", "-f", "csv", "-c", "ID", "-c", "VERB")
    assert csv.stdout.startswith('"ID","VERB"')


def test_bad_input_is_one_clear_line(cluster):
    broken = cluster.write("broken.yaml", "- jobs: [ {RUN: [}\n")
    cases = [
        (["exec", "--verb", "NOPE", "x"], "unknown verb 'NOPE'"),
        (["orchestrate", str(broken)], "not valid YAML"),
        (["orchestrate", str(cluster.root / "missing.yaml")], "not found"),
        (["exec", "--verb", "RUN", "--bogus echo"], "unknown option --bogus"),
        (["job", "show", "no-such-job"], "No data found"),
    ]
    for args, expected in cases:
        started = time.monotonic()
        result = cluster.cli(*args)
        assert result.returncode != 0, args
        assert time.monotonic() - started < 5
        assert expected in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_unknown_driver_and_datastore_exit_2(cluster):
    for args, expected in ((["--driver", "carrier-pigeon", "server"], "unknown driver 'carrier-pigeon'"),
                           (["--datastore", "ftp://x", "server"], "unknown datastore 'ftp'")):
        result = cluster.cli(*args)
        assert result.returncode == 2, result.stderr
        assert expected in result.stderr and "installed:" in result.stderr
        assert "Traceback" not in result.stderr


def test_run_once_runs_on_a_single_node(cluster):
    result = cluster.cli("exec", "--verb", "RUN", "--run-once --skip-cache echo once", "--wait")
    assert result.returncode == 0
    record = cluster.job()
    assert len(record["SUCCESS"]) == 1 and record["STDOUT"] == {record["SUCCESS"][0]: "once"}


def test_no_block_returns_before_the_command_ends(cluster):
    marker = cluster.root / "detached"
    result = cluster.cli("exec", "--verb", "RUN", f"--no-block --skip-cache sleep 3 && touch {marker}",
                         "--target", "node1", "--wait")
    assert result.returncode == 0
    assert not marker.exists()  # the job succeeded while the command still sleeps
    wait_for(marker.exists, 8, what="the detached command to finish")


def test_workdir_and_cacheevict(cluster):
    target = cluster.root / "work" / "dir"
    path = cluster.write("workdir.yaml", f"""
- jobs:
    - WORKDIR: --chmod 0750 {target}
    - ARG: doomed value
    - CACHEEVICT: args
    - RUN: --skip-cache echo "{{{{ doomed }}}}"
""")
    result = cluster.cli("orchestrate", str(path), "--poll", "--target", "node1")
    assert result.returncode == 1  # the last RUN fails: its arg was evicted
    assert oct(target.stat().st_mode & 0o777) == "0o750"
    assert "doomed" in cluster.job()["STDERR"]["node1"]


def test_purged_jobs_then_job_info_last_is_a_clean_error(tmp_path):
    from directord.testing import Cluster

    c = Cluster(tmp_path, clients=0)
    c.start_server()
    try:
        result = c.cli("manage", "--job-info", "last")
        assert result.returncode == 1 and "No data found" in result.stderr
        purge = c.cli("manage", "--purge-jobs", "-f", "json")
        assert purge.returncode == 0 and json.loads(purge.stdout) == [{"KEY": "SUCCESS", "VALUE": True}]
    finally:
        c.stop()


def test_restrict_runs_only_listed_fingerprints_and_records_the_rest(cluster):
    path = cluster.write("restrict.yaml", """
- jobs:
    - RUN: --skip-cache echo chosen
    - RUN: --skip-cache echo skipped
""")
    rows = json.loads(cluster.cli("orchestrate", str(path), "--finger-print", "-f", "json").stdout)
    chosen = rows[0]["job"]
    result = cluster.cli("orchestrate", str(path), "--restrict", chosen, "--poll", "--check", "--target", "node1")
    assert result.returncode == 0, result.stdout + result.stderr
    job_ids = [line.split()[-1] for line in result.stdout.splitlines() if line.startswith("Job")]
    records = [cluster.job(job_id) for job_id in job_ids]
    assert records[0]["STDOUT"] == {"node1": "chosen"}
    assert records[1]["STDOUT"] == {} and "restricted" in records[1]["JOB_DEFINITION"]["skipped"]
