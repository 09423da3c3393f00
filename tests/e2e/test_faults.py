"""Processes dying and coming back: each test owns its cluster."""

from __future__ import annotations

import signal
import time

import pytest

from directord.localcluster import Cluster, wait_for


@pytest.fixture
def own_cluster(tmp_path):
    instance = Cluster(tmp_path)
    try:
        yield instance.start()
    except Exception:
        print(instance.logs())
        raise
    finally:
        instance.stop()


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
    assert gone_after <= 3 * c.heartbeat + 1.0, gone_after
    record = c.job(job_id)
    assert record["FAILED"] == ["node3"]
    assert "expired" in record["INFO"]["node3"]
    assert record["PROCESSING"] is True  # the two live nodes are still sleeping


def test_clients_reconnect_after_server_restart(own_cluster):
    c = own_cluster
    c.server.kill()
    c.server.wait(5)
    c.start_server()
    restarted = time.monotonic()
    c.wait_nodes({"node1", "node2", "node3"}, timeout=3 * c.heartbeat + 5)
    assert time.monotonic() - restarted <= 3 * c.heartbeat + 5
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
    assert time.monotonic() - started < 5


def test_server_sigterm_with_clients_gone(tmp_path):
    c = Cluster(tmp_path, clients=1)
    c.start()
    try:
        c.clients["node1"].kill()
        c.server.send_signal(signal.SIGTERM)
        started = time.monotonic()
        assert c.server.wait(5) == 0
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


def test_garbage_frames_are_dropped_and_the_server_keeps_serving(own_cluster):
    import os
    import stat

    import zmq

    c = own_cluster
    mode = stat.S_IMODE(os.stat(c.socket).st_mode)
    assert mode == 0o660, oct(mode)
    context = zmq.Context()
    rogue = context.socket(zmq.DEALER)
    rogue.setsockopt(zmq.IDENTITY, b"rogue")
    rogue.setsockopt(zmq.LINGER, 5000)  # close() flushes what was queued
    rogue.connect(f"tcp://127.0.0.1:{c.job_port}")
    garbage = [[b"not msgpack"], [b"\x92\x01\x91\x93"], [b"a", b"b", b"c"], [b"\xc1" * 1000],
               [os.urandom(4096)], [b""]]
    for _ in range(50):
        for frames in garbage:
            rogue.send_multipart(frames)
    rogue.close()
    context.term()
    log = c.root / "server.log"
    wait_for(lambda: "dropped" in log.read_text(), 10, what="the server to drop the garbage")
    result = c.cli("exec", "--verb", "RUN", "--skip-cache echo still-alive", "--wait")
    assert result.returncode == 0, result.stderr
    assert set(c.job()["STDOUT"].values()) == {"still-alive"}
    assert "rogue" not in c.live_nodes()


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
