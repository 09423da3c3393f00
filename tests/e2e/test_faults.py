"""Processes dying and coming back: each test owns its cluster."""

from __future__ import annotations

import os
import re
import signal
import socket
import stat
import time

import pytest
import redis
import zmq
from partition import BlackholeProxy, NetnsPartition

from directord import config
from directord.drivers.redis.link import link
from directord.server import LEASE_HEARTBEATS
from directord.testing import Cluster, wait_for

pytestmark = pytest.mark.transports("zmq", "redis")


@pytest.fixture
def own_cluster(tmp_path, transport):
    with Cluster(tmp_path, **transport()).running() as instance:
        yield instance


def test_client_kill9_expires_and_its_running_job_fails(own_cluster):
    c = own_cluster
    submitted = c.cli("exec", "--verb", "RUN", "sleep 30")
    assert submitted.returncode == 0
    job_id = submitted.stdout.split()[-1]
    wait_for(lambda: c.job(job_id)["INFO"].get("node3") == "task queued", 10, what="node3 to start the job")
    c.clients["node3"].kill()
    killed = time.monotonic()
    c.wait_nodes({"node1", "node2"}, timeout=10)
    gone_after = time.monotonic() - killed
    print(f"client kill -9: node gone and its job failed after {gone_after:.1f} s")
    assert gone_after <= 3 * c.heartbeat + 1.0, gone_after
    record = c.job(job_id)
    assert record["FAILED"] == ["node3"]
    assert "expired" in record["INFO"]["node3"]
    assert record["PROCESSING"] is True  # the two live nodes are still sleeping


def test_sigterm_hands_queued_jobs_back_and_they_run_after_the_restart(tmp_path):
    with Cluster(tmp_path, clients=1, heartbeat=2.0).running() as c:
        def submit(text: str) -> str:
            return c.cli("exec", "--verb", "RUN", f"--skip-cache {text}", "--target", "node1").stdout.split()[-1]

        running = submit("sleep 30")
        markers = [c.root / f"graceful-{i}" for i in range(4)]
        queued = [submit(f"echo {i} > {marker}") for i, marker in enumerate(markers)]
        wait_for(lambda: all(c.job(j)["INFO"].get("node1") == "task queued" for j in [running, *queued]), 10,
                 what="node1 to queue every job")
        c.clients["node1"].send_signal(signal.SIGTERM)
        started = time.monotonic()
        assert c.clients["node1"].wait(10) == 0
        print(f"client SIGTERM with 1 running and 4 queued jobs: exited in {time.monotonic() - started:.2f} s")
        assert not any(marker.exists() for marker in markers)  # handed back, not run
        c.start_client("node1")  # back well within its 3 heartbeats: a restart, not a new node
        wait_for(lambda: all(c.job(j)["SUCCESS"] == ["node1"] for j in queued), 15, what="the handed-back jobs")
        assert [marker.read_text() for marker in markers] == [f"{i}\n" for i in range(4)]
        killed = c.job(running)  # a failed record never flips: the handed-back ones were never failed
        assert killed["FAILED"] == ["node1"]
        assert killed["STDERR"]["node1"] == "Killed: the client stopped while the job ran"


def test_clients_reconnect_after_server_restart(own_cluster):
    c = own_cluster
    c.server.kill()
    c.server.wait(5)
    c.start_server()
    restarted = time.monotonic()
    c.wait_nodes({"node1", "node2", "node3"}, timeout=3 * c.heartbeat + 5)
    back_after = time.monotonic() - restarted
    print(f"server kill -9: all clients re-registered {back_after:.1f} s after the restart")
    lease = LEASE_HEARTBEATS * c.heartbeat if c.driver == "redis" else 0  # a killed server's lease runs out first
    assert back_after <= 3 * c.heartbeat + lease
    result = c.cli("exec", "--verb", "RUN", "--skip-cache echo back", "--wait")
    assert result.returncode == 0, result.stdout + result.stderr
    assert set(c.job()["STDOUT"].values()) == {"back"}


def test_sigterm_stops_server_and_clients_quickly_even_with_peers_gone(own_cluster):
    c = own_cluster
    c.cli("exec", "--verb", "RUN", "sleep 60")
    c.signal(c.server, signal.SIGKILL)  # clients now have no server
    for process in c.clients.values():
        process.send_signal(signal.SIGTERM)
    started = time.monotonic()
    for process in c.clients.values():
        assert process.wait(5) is not None
    print(f"SIGTERM: 3 clients (server gone, jobs running) exited in {time.monotonic() - started:.2f} s")
    assert time.monotonic() - started < 5


def test_server_sigterm_with_clients_gone(tmp_path):
    c = Cluster(tmp_path, clients=1)
    c.start()
    try:
        c.clients["node1"].kill()
        c.server.send_signal(signal.SIGTERM)
        started = time.monotonic()
        assert c.server.wait(5) == 0
        print(f"SIGTERM: server (clients gone) exited in {time.monotonic() - started:.2f} s")
        assert time.monotonic() - started < 5
    finally:
        c.stop()


def test_readiness_probe_and_dead_server(tmp_path):
    c = Cluster(tmp_path, clients=0)
    c.start_server()
    try:
        probe = c.cli("manage", "--list-nodes")
        assert probe.returncode == 1
        assert "No data found" in probe.stderr
        no_nodes = c.cli("exec", "--verb", "RUN", "echo", "--wait")
        assert no_nodes.returncode != 0 and "no live nodes" in no_nodes.stderr
    finally:
        c.stop()
    started = time.monotonic()
    dead = c.cli("exec", "--verb", "RUN", "echo hi", "--wait")
    assert time.monotonic() - started < 5
    assert dead.returncode == 1
    assert "server" in dead.stderr and "Traceback" not in dead.stderr
    assert len(dead.stderr.strip().splitlines()) == 1


def send_zmq_garbage(c, frames):
    context = zmq.Context()
    rogue = context.socket(zmq.DEALER)
    rogue.setsockopt(zmq.IDENTITY, b"rogue")
    rogue.setsockopt(zmq.LINGER, 5000)  # close() flushes what was queued
    rogue.connect(f"tcp://127.0.0.1:{c.job_port}")
    for frame in frames:
        rogue.send_multipart(frame)
    rogue.close()
    context.term()
    for _ in range(20):  # raw TCP bytes that are not even ZMTP
        with socket.create_connection(("127.0.0.1", c.job_port)) as raw:
            raw.sendall(os.urandom(8192))


def send_redis_garbage(c, frames):
    """As a rogue node announced on the redis server would: junk entries on its own up stream."""
    raw = redis.Redis.from_url(c.driver_url.partition("?")[0])
    keys = link(config.defaults(driver_url=c.driver_url)).keys
    raw.xadd(keys.hello, {"n": b"rogue"})
    pipe = raw.pipeline(transaction=False)
    for index, parts in enumerate(frames):
        fields = {"f": parts[0]} if len(parts) == 1 else {f"x{n}": part for n, part in enumerate(parts)}
        pipe.xadd(keys.up("rogue"), {**fields, "b": b"c/1"} if index % 7 == 0 else fields)
    pipe.execute()
    raw.close()


def test_garbage_frames_are_dropped_and_the_server_keeps_serving(own_cluster):
    c = own_cluster
    mode = stat.S_IMODE(os.stat(c.socket).st_mode)
    assert mode == 0o660, oct(mode)
    garbage = [[b"not msgpack"], [b"\x92\x01\x91\x93"], [b"a", b"b", b"c"], [b"\xc1" * 1000], [b""]]
    frames = [garbage[index % len(garbage)] if index % 2 else [os.urandom(index % 2048)] for index in range(10_000)]
    (send_redis_garbage if c.driver == "redis" else send_zmq_garbage)(c, frames)
    log = c.root / "server.log"
    wait_for(lambda: "dropped" in log.read_text(), 10, what="the server to drop the garbage")
    result = c.cli("exec", "--verb", "RUN", "--skip-cache echo still-alive", "--wait")
    assert result.returncode == 0, result.stderr
    assert set(c.job()["STDOUT"].values()) == {"still-alive"}
    assert "rogue" not in c.live_nodes()
    set_identity_args(c, c.names)
    batch = submit_batch(c, "g", 10, c.root / "garbage-runs.log")
    records = settle(c, batch)
    assert all(len(r["SUCCESS"]) == 3 for r in records)  # every job and result of a good client went through
    print("10,000 random frames + raw TCP garbage: server alive, 30/30 node-results after")


def test_client_reconnects_after_a_frozen_server_thaws(own_cluster):
    c = own_cluster
    c.signal(c.server, signal.SIGSTOP)
    log = c.root / "node1.log"
    try:
        wait_for(lambda: "reconnecting" in log.read_text(), 3 * c.heartbeat + 5, what="node1 to give up on the server")
    finally:
        c.signal(c.server, signal.SIGCONT)
    c.wait_nodes({"node1", "node2", "node3"}, timeout=10)
    result = c.cli("exec", "--verb", "RUN", "--skip-cache echo thawed", "--wait")
    assert result.returncode == 0, result.stdout + result.stderr
    assert set(c.job()["STDOUT"].values()) == {"thawed"}


def set_identity_args(c, nodes):
    for node in nodes:
        assert c.cli("exec", "--verb", "ARG", f"me {node}", "--target", node, "--wait").returncode == 0


def run_counts(log):
    counts = {}
    if log.exists():
        for line in log.read_text().split():
            counts[line] = counts.get(line, 0) + 1
    return counts


def submit_batch(c, tag, count, log, *extra):
    path = c.write(f"{tag}.yaml", "- async: true\n  jobs:\n" + "".join(
        f"    - RUN: --skip-cache sleep 0.2 && echo {{{{ me }}}}-{tag}{i} >> {log}\n" for i in range(count)))
    result = c.cli("orchestrate", str(path), *extra)
    assert result.returncode == 0, result.stderr
    return [line.split()[-1] for line in result.stdout.splitlines()]


def settle(c, job_ids, timeout=30):
    """Wait until every job is complete; returns the records."""
    wait_for(lambda: all(not c.job(j)["PROCESSING"] for j in job_ids), timeout, interval=0.25,
             what="every job to finish or fail")
    return [c.job(j) for j in job_ids]


def test_server_kill9_with_a_persistent_store_loses_nothing(tmp_path):
    c = Cluster(tmp_path, datastore=(tmp_path / "store").as_uri())
    try:
        c.start()
        set_identity_args(c, c.names)
        log = tmp_path / "runs.log"
        job_ids = submit_batch(c, "k", 20, log)
        wait_for(lambda: len(run_counts(log)) >= 6, 20, what="some jobs to have run")
        c.server.kill()
        c.server.wait(5)
        c.start_server()
        records = settle(c, job_ids, timeout=60)
        lost = sum(1 for r in records for n in c.names if n not in r["SUCCESS"])
        counts = run_counts(log)
        duplicates = sum(1 for v in counts.values() if v > 1)
        print(f"server kill -9 mid-run (file store): lost jobs = {lost}, duplicate runs = {duplicates}, "
              f"node-results = {sum(len(r['SUCCESS']) for r in records)}")
        assert lost == 0 and duplicates == 0
        assert len(counts) == 20 * 3
    except Exception:
        print(c.logs())
        raise
    finally:
        c.stop()


def test_client_sigstop_expires_and_a_late_result_does_not_flip_the_record(own_cluster):
    c = own_cluster
    submitted = c.cli("exec", "--verb", "RUN", "--skip-cache sleep 1 && echo late", "--target", "node1")
    job_id = submitted.stdout.split()[-1]
    wait_for(lambda: c.job(job_id)["INFO"].get("node1") == "task queued", 10, what="node1 to take the job")
    c.signal(c.clients["node1"], signal.SIGSTOP)
    stopped = time.monotonic()
    try:
        wait_for(lambda: c.job(job_id)["FAILED"] == ["node1"], 3 * c.heartbeat + 5, what="the job to fail")
        failed_after = time.monotonic() - stopped
    finally:
        c.signal(c.clients["node1"], signal.SIGCONT)
    c.wait_nodes({"node1", "node2", "node3"}, timeout=10)
    # A later job's result travels behind the late one on the same connection.
    assert c.cli("exec", "--verb", "RUN", "--skip-cache true", "--target", "node1", "--wait").returncode == 0
    record = c.job(job_id)
    print(f"client SIGSTOP: job failed after {failed_after:.1f} s; node back; record kept: {record['INFO']['node1']}")
    assert record["FAILED"] == ["node1"] and record["SUCCESS"] == []
    assert "expired" in record["INFO"]["node1"]


def isolate_node3(c: Cluster):
    """node3 behind a partitionable link: its own network namespace (root), else a blackhole proxy."""
    if NetnsPartition.available():
        link = NetnsPartition(subnet=os.getpid() % 200 + 20)
        prefix = tuple(link.wrap([]))
        args = [*c.global_args("node3"), "client", "--zmq-server-address", link.server_address]
    else:
        link, prefix = BlackholeProxy(c.job_port), ()
        args = [a if a != str(c.job_port) else str(link.port) for a in c.global_args("node3")]
        args += ["client", "--zmq-server-address", "127.0.0.1"]
    c.clients["node3"] = c._spawn("node3", args, prefix)
    return link


def test_partitioned_node_runs_each_job_at_most_once_and_loses_none(tmp_path):
    c = Cluster(tmp_path, clients=2)
    proxy = None
    try:
        c.start_server(True, "--zmq-bind-address", "0.0.0.0")
        for name in c.names:
            c.start_client(name)
        proxy = isolate_node3(c)
        c.wait_nodes({"node1", "node2", "node3"})
        set_identity_args(c, c.names + ["node3"])
        log = tmp_path / "runs.log"
        before = submit_batch(c, "a", 5, log)
        settle(c, before)
        proxy.cut()
        cut = time.monotonic()
        during = submit_batch(c, "b", 5, log)
        wait_for(lambda: time.monotonic() - cut >= 5 * c.heartbeat, 10)
        proxy.heal()
        c.wait_nodes({"node1", "node2", "node3"}, timeout=20)
        after = submit_batch(c, "c", 5, log)
        records = settle(c, before + during + after)
        counts = run_counts(log)
        nodes = ["node1", "node2", "node3"]
        lost = sum(1 for r in records for n in nodes if n not in r["SUCCESS"] + r["FAILED"])
        duplicates = sum(1 for v in counts.values() if v > 1)
        failed = sum(len(r["FAILED"]) for r in records)
        print(f"partition of node3 for 5 heartbeats ({type(proxy).__name__}): lost = {lost}, "
              f"duplicate runs = {duplicates}, recorded failed = {failed}")
        assert lost == 0 and duplicates == 0
        for record in records:  # a success ran exactly once
            tag = re.search(r"}}-(\w+)", record["JOB_DEFINITION"]["command"]).group(1)
            for node in record["SUCCESS"]:
                assert counts.get(f"{node}-{tag}") == 1
        assert all(c.job(j)["SUCCESS"] == nodes for j in after)
    except Exception:
        print(c.logs())
        raise
    finally:
        if proxy is not None:
            proxy.close()
        c.stop()
