"""Several servers on one Redis: one active, one standing by, a shared redis datastore.
kill -9 of the active one: the standby takes over and every job ends, none twice."""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from directord.testing import Cluster, free_port, redis_server, wait_for

HEARTBEAT_S = 1.0
NODES = {"node1", "node2", "node3", "node4"}


def server_id(c: Cluster, name: str) -> str:
    """The id a server logged when it became the active one."""
    found = re.search(r"server (\S+) ready", (c.root / f"{name}.log").read_text())
    return found.group(1) if found else ""


def wait_logged(c: Cluster, name: str, text: str, timeout: float = 15) -> None:
    """Wait until the log of process ``name`` says ``text``."""
    wait_for(lambda: text in (c.root / f"{name}.log").read_text(), timeout, interval=0.05,
             what=f"{name} to log {text!r}")


def start_plane(c: Cluster) -> None:
    c.start_server()
    wait_for(lambda: server_id(c, "server"), 15, what="the first server to be active")
    c.start_server(name="standby")
    wait_logged(c, "standby", "standing by")
    for name in c.names:
        c.start_client(name)
    c.wait_nodes(NODES)


@pytest.fixture
def plane(tmp_path: Path, redis_base: str) -> Iterator[Cluster]:
    tag = uuid.uuid4().hex[:10]
    c = Cluster(tmp_path, clients=4, heartbeat=HEARTBEAT_S, datastore=f"{redis_base}/0?prefix=ds-{tag}",
                driver="redis", driver_url=f"{redis_base}/0?prefix=tr-{tag}")
    with c.supervised():
        start_plane(c)
        yield c


def set_identity_args(c: Cluster) -> None:
    for node in sorted(NODES):
        assert c.cli("exec", "--verb", "ARG", f"me {node}", "--target", node, "--wait").returncode == 0


def runs_by_node(log: Path) -> dict[str, list[int]]:
    runs: dict[str, list[int]] = {}
    for line in log.read_text().splitlines() if log.exists() else ():
        node, number = line.split()
        runs.setdefault(node, []).append(int(number))
    return runs


def test_standby_answers_reads_and_forwards_submissions(plane: Cluster) -> None:
    c = plane
    active = server_id(c, "server")
    listed = json.loads(c.cli("node", "list", "-f", "json", server="standby").stdout)
    assert {n["ID"] for n in listed} == NODES and {n["SERVER"] for n in listed} == {active}
    done = c.cli("exec", "--verb", "RUN", "--skip-cache echo via the standby", "--wait", server="standby")
    assert done.returncode == 0, done.stdout + done.stderr
    record = json.loads(c.cli("job", "show", "last", "-f", "json", server="standby").stdout)
    assert set(record["STDOUT"].values()) == {"via the standby"} and sorted(record["SUCCESS"]) == sorted(NODES)
    assert c.job()["ID"] == record["ID"]  # the active server recorded it
    bad = c.cli("exec", "--verb", "RUN", "echo", "--target", "nobody", "--wait", server="standby")
    assert bad.returncode != 0 and "nobody" in bad.stderr and "Traceback" not in bad.stderr


def test_kill9_of_the_active_server_loses_no_job_and_runs_none_twice(plane: Cluster) -> None:
    c = plane
    set_identity_args(c)
    runs = c.root / "runs.log"
    path = c.write("three-hundred.yaml", "- jobs:\n" + "".join(
        f"    - RUN: --skip-cache sleep 0.01 && echo {{{{ me }}}} {i} >> {runs}\n" for i in range(300)))
    waiting = subprocess.Popen(c.cli_argv("orchestrate", str(path), "--wait", server="standby"), text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=c.env, cwd=c.root)
    wait_for(lambda: sum(map(len, runs_by_node(runs).values())) >= 200, 60, interval=0.01,
             what="the orchestration to be under way")
    c.servers["server"].kill()
    killed = time.monotonic()
    wait_for(lambda: server_id(c, "standby"), 3 * HEARTBEAT_S + 5, interval=0.02, what="the standby to take over")
    took_over = time.monotonic() - killed
    out, err = waiting.communicate(timeout=120)
    print(f"kill -9 of the active server: the standby was active {took_over:.2f} s later")
    assert took_over <= 3 * HEARTBEAT_S, took_over
    assert waiting.returncode == 0, out + err
    assert "300 job(s): 300 succeeded, 0 failed" in out, out
    done = runs_by_node(runs)
    assert set(done) == NODES
    for node, numbers in done.items():
        assert numbers == list(range(300)), f"{node} ran {len(numbers)} jobs, {len(set(numbers))} distinct"
    listed = json.loads(c.cli("node", "list", "-f", "json", server="standby").stdout)
    assert {n["SERVER"] for n in listed} == {server_id(c, "standby")}

    # a client killed mid-job and restarted: its running job fails, the rest go on
    path = c.write("after.yaml", "- jobs:\n" + "".join(
        f"    - RUN: --skip-cache sleep 0.3 && echo {{{{ me }}}} {i} >> {runs}.after\n" for i in range(10)))
    submitted = c.cli("orchestrate", str(path), server="standby")
    assert submitted.returncode == 0, submitted.stderr
    job_ids = [line.split()[-1] for line in submitted.stdout.splitlines()]
    wait_for(lambda: "node4" in c.job(job_ids[3], server="standby")["SUCCESS"], 30, interval=0.05,
             what="node4 to be past its fourth job")
    c.clients["node4"].kill()
    c.start_client("node4")
    wait_for(lambda: all(not c.job(j, server="standby")["PROCESSING"] for j in job_ids), 30, interval=0.2,
             what="every job to end")
    records = [c.job(j, server="standby") for j in job_ids]
    assert all({"node1", "node2", "node3"} <= set(r["SUCCESS"]) for r in records)  # the rest went on
    node4 = ["ok" if "node4" in r["SUCCESS"] else "failed" if "node4" in r["FAILED"] else "?" for r in records]
    first_failure = node4.index("failed")  # the job it was running when killed
    assert node4 == ["ok"] * first_failure + ["failed"] * (len(node4) - first_failure) and first_failure >= 4, node4


def test_a_redis_restart_loses_no_accepted_job(tmp_path: Path) -> None:
    """redis-server (with an AOF) stops mid-run and comes back on the same port: servers and
    clients reconnect by themselves and every job accepted before the stop ends."""
    data, port = tmp_path / "redis", free_port()
    data.mkdir()
    first = contextlib.ExitStack()
    base = first.enter_context(redis_server(data, port, appendonly=True))
    c = Cluster(tmp_path / "plane", clients=2, heartbeat=HEARTBEAT_S, datastore=f"{base}/0?prefix=ds",
                driver="redis", driver_url=f"{base}/0?prefix=tr")
    with first, c.supervised():
        c.start()
        runs = c.root / "runs.log"
        path = c.write("twenty.yaml", "- jobs:\n" + "".join(
            f"    - RUN: --skip-cache sleep 0.1 && echo {i} >> {runs}\n" for i in range(20)))
        submitted = c.cli("orchestrate", str(path))
        assert submitted.returncode == 0, submitted.stderr
        job_ids = [line.split()[-1] for line in submitted.stdout.splitlines()]
        wait_for(lambda: runs.exists() and len(runs.read_text().split()) >= 6, 30, interval=0.02,
                 what="the jobs to be under way")
        first.close()  # redis-server stops
        for name in ("server", "node1"):  # both notice redis is gone
            wait_logged(c, name, "Connection", 30)
        with redis_server(data, port, appendonly=True):
            wait_for(lambda: all(not c.job(j)["PROCESSING"] for j in job_ids), 60, interval=0.2,
                     what="every accepted job to end")
            assert all(sorted(c.job(j)["SUCCESS"]) == ["node1", "node2"] for j in job_ids)
            assert sorted(map(int, runs.read_text().split())) == sorted(list(range(20)) * 2)
            again = c.cli("exec", "--verb", "RUN", "--skip-cache echo after the restart", "--wait")
            assert again.returncode == 0, again.stdout + again.stderr


def test_a_server_of_a_shared_driver_warns_about_a_datastore_of_its_own(tmp_path: Path, redis_base: str) -> None:
    c = Cluster(tmp_path, clients=0, driver="redis", driver_url=f"{redis_base}/0?prefix=own-{uuid.uuid4().hex[:8]}")
    c.start_server()
    try:
        wait_logged(c, "server", "know none of the jobs")
    finally:
        c.stop()


def test_server_and_clients_started_before_redis_connect_once_it_is_up(tmp_path: Path) -> None:
    data, port = tmp_path / "redis", free_port()
    data.mkdir()
    base = f"redis://127.0.0.1:{port}"
    c = Cluster(tmp_path / "plane", clients=2, heartbeat=HEARTBEAT_S, driver="redis", driver_url=f"{base}/0")
    with c.supervised():
        c.start_server()
        for name in c.names:
            c.start_client(name)
        for name in ("server", *c.names):
            wait_logged(c, name, "connecting in the background")
        with redis_server(data, port):
            c.wait_nodes(set(c.names), timeout=15)
            done = c.cli("exec", "--verb", "RUN", "--skip-cache echo redis came late", "--wait")
            assert done.returncode == 0, done.stdout + done.stderr


def test_a_dashboard_beside_the_standby_follows_the_active_servers_jobs(plane: Cluster) -> None:
    c = plane
    process, url = c.start_dashboard(server="standby")
    try:
        done = c.cli("exec", "--verb", "RUN", "--skip-cache echo seen from the standby", "--wait")
        assert done.returncode == 0, done.stdout + done.stderr
        job_id = c.job()["JOB_ID"]

        def listed() -> list[dict]:
            with urllib.request.urlopen(f"{url}/api/jobs?filter={job_id}", timeout=5) as response:  # noqa: S310
                return json.loads(response.read())["rows"]

        (row,) = wait_for(listed, 10, what="the job in the standby's dashboard")
        assert (row["status"], row["success"], row["nodes"]) == ("success", 4, 4)
        with urllib.request.urlopen(f"{url}/api/timeline/{row['parent_id']}", timeout=5) as response:  # noqa: S310
            timeline = json.loads(response.read())
        assert set(timeline["jobs"][0]["nodes"]) == NODES and timeline["analysis"]["TOTAL_SUCCESSES"] == 4
    finally:
        process.terminate()
        process.wait(10)
