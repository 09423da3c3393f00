"""Persistent datastores: job records survive a kill -9 of the server."""

from __future__ import annotations

import json
import signal
import time

import pytest

from directord.testing import Cluster, redis_server, wait_for

NODES = {"node1", "node2", "node3"}


@pytest.fixture(params=["file", "redis"])
def store_url(request, tmp_path):
    if request.param == "file":
        yield (tmp_path / "store").as_uri()
    else:
        with redis_server(tmp_path) as url:
            yield f"{url}/3"


def test_jobs_survive_server_kill9_and_nodes_come_back(tmp_path, store_url):
    c = Cluster(tmp_path / "cluster", datastore=store_url)
    try:
        c.start()
        path = c.write("persist.yaml", """
- name: persisted
  jobs:
    - RUN: --skip-cache echo first
    - RUN: --skip-cache echo second
""")
        assert c.cli("orchestrate", str(path), "--wait").returncode == 0
        before = json.loads(c.cli("job", "list", "-f", "json").stdout)
        c.server.kill()
        c.server.wait(5)
        c.start_server()
        restarted = time.monotonic()
        c.wait_nodes(NODES, timeout=3 * c.heartbeat + 5)
        back_after = time.monotonic() - restarted
        print(f"{store_url.split(':')[0]}: nodes back {back_after:.1f} s after the restart")
        assert back_after <= 3 * c.heartbeat + 1
        after = json.loads(c.cli("job", "list", "-f", "json").stdout)
        assert [j["ID"] for j in after] == [j["ID"] for j in before]
        for job in after:
            assert job["SUCCESS"] == 3 and job["FAILED"] == 0
        record = c.job(after[-1]["ID"])
        assert record["STDOUT"] == dict.fromkeys(NODES, "second")
        assert c.cli("exec", "--verb", "RUN", "--skip-cache echo again", "--wait").returncode == 0
    except Exception:
        print(c.logs())
        raise
    finally:
        c.stop()


def test_bad_datastores_fail_at_server_start(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    for url, expected in ((f"file://{blocker}/store", str(blocker)),
                          ("redis://127.0.0.1:1/0", "cannot reach redis"),
                          ("gopher://x", "unknown datastore 'gopher'")):
        c = Cluster(tmp_path, clients=0, datastore=url)
        started = time.monotonic()
        result = c.cli("server")
        assert result.returncode != 0 and time.monotonic() - started < 10
        assert expected in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_records_older_than_job_ttl_are_pruned(tmp_path):
    from directord.testing import wait_for

    c = Cluster(tmp_path, clients=1)
    c.start_server(True, "--job-ttl", "2")
    c.start_client("node1")
    try:
        c.wait_nodes({"node1"})
        assert c.cli("exec", "--verb", "RUN", "echo short-lived", "--wait").returncode == 0
        assert len(json.loads(c.cli("job", "list", "-f", "json").stdout)) == 1
        wait_for(lambda: json.loads(c.cli("job", "list", "-f", "json").stdout) == [], 10, interval=0.5,
                 what="the record to be pruned")
    finally:
        c.stop()


def test_jobs_handed_back_by_a_stopping_client_survive_a_server_restart(tmp_path):
    c = Cluster(tmp_path / "cluster", clients=1, datastore=(tmp_path / "store").as_uri())
    try:
        c.start()

        def submit(text: str) -> str:
            return c.cli("exec", "--verb", "RUN", f"--skip-cache {text}").stdout.split()[-1]

        running = submit("sleep 30")
        marker = c.root / "handed-back"
        queued = submit(f"echo ok > {marker}")
        wait_for(lambda: all(c.job(j)["INFO"].get("node1") == "task queued" for j in (running, queued)), 10,
                 what="both jobs queued on node1")
        c.clients["node1"].send_signal(signal.SIGTERM)
        assert c.clients["node1"].wait(10) == 0
        assert c.job(queued)["INFO"]["node1"] == "returned unstarted by the stopping client"
        c.server.kill()  # what the server held in memory for node1 is gone; the store has the rest
        c.server.wait(5)
        c.start_server()
        c.start_client("node1")
        wait_for(lambda: c.job(queued)["SUCCESS"] == ["node1"], 15, what="the handed-back job after both restarts")
        assert marker.read_text() == "ok\n"
        assert c.job(running)["FAILED"] == ["node1"]
    finally:
        c.stop()
