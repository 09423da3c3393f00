"""Fan-out: one job to many real clients, and to simulated fleets of 10 to 10,000 nodes."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import procstat
import simfleet
from measure import SETTLE_S, measure, note, percentile, summarize
from workloads import RUN_TEXT

from directord.orchestration import build_job
from directord.testing import Cluster, wait_for
from directord.user import UserClient

if TYPE_CHECKING:
    from suite import System

ZMQFLOOR = Path(__file__).with_name("zmqfloor.py")
HEARTBEAT_S = 10.0
FLEET_STEPS = (10, 100, 1000, 10_000)  # fleet sizes measured, up to --sim-nodes
FLEET_RESULTS = 2000  # node-results per fleet size (at least MIN_FLEET_JOBS jobs)
MIN_FLEET_JOBS = 10
BATCH_JOBS = 100
BATCH_TIMEOUT_S = 900.0
NODES_PER_PROCESS = 2500  # what one simfleet process keeps up with
FLEET_START_TIMEOUT_S = 300.0


def real_clients(system: System, clients: int, jobs: int) -> dict[str, Any]:
    """``jobs`` RUN jobs one after the other to every client; round trips as the server recorded them."""
    system.fanout_job()  # warm-up
    roundtrips: list[float] = []

    def one() -> float:
        wall, values = system.fanout_job()
        roundtrips.extend(values)
        return wall

    result = summarize([measure(system.server_pid, system.client_pid, one) for _ in range(jobs)])
    result.update({
        "clients": clients,
        "node_results_per_s": clients / result["wall_s"],
        "p50_s": percentile(roundtrips, 0.50),
        "p95_s": percentile(roundtrips, 0.95),
        "roundtrips": len(roundtrips),
    })
    note(f"{system.name}: fanout to {clients} clients, p50 {result['p50_s']:.3f} s, p95 {result['p95_s']:.3f} s")
    return result


def fleet_sizes(largest: int) -> list[int]:
    return sorted({min(size, largest) for size in FLEET_STEPS} | {largest})


def simulated_fleet(root: Path, largest: int) -> dict[str, Any]:
    """Each fleet size from 10 nodes to ``largest``: one job at a time, a batch of jobs, and the idle fleet."""
    sizes = fleet_sizes(largest)
    per_size = {str(size): _fleet(root / f"fleet-{size}", size) for size in sizes}
    smallest, biggest = per_size[str(sizes[0])], per_size[str(sizes[-1])]
    return {
        "label": f"simfleet-{sizes[0]}..{sizes[-1]}",
        "largest": sizes[-1],
        "sizes": per_size,
        "cpu_ratio": biggest["server_cpu_us_per_node_result"] / smallest["server_cpu_us_per_node_result"],
        "transport_floor": transport_floor(sizes[-1], biggest["jobs"]),
    }


def transport_floor(size: int, jobs: int) -> dict[str, Any]:
    """What a bare ZeroMQ ROUTER costs for the same fleet (bench/zmqfloor.py), beside the server's figures."""
    done = subprocess.run([sys.executable, str(ZMQFLOOR), "--nodes", str(size), "--jobs", str(jobs),
                           "--per-process", str(NODES_PER_PROCESS)],
                          capture_output=True, text=True, timeout=FLEET_START_TIMEOUT_S * 2, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"zmqfloor.py failed: {done.stderr[-2000:]}")
    floor = json.loads(done.stdout)
    note(f"transport floor, {size} nodes: {floor['rss_registered_mib']:.0f} MiB registered,"
         f" {floor['cpu_us_per_node_result']:.1f} us CPU per node-result")
    return floor


def _fleet(root: Path, size: int) -> dict[str, Any]:
    """A fresh server and ``size`` simulated nodes (one simfleet process per ``NODES_PER_PROCESS``)."""
    root.mkdir(parents=True)
    cluster = Cluster(root, clients=0, heartbeat=HEARTBEAT_S)
    cluster.start_server()
    fleets = simfleet.launch(cluster.job_port, size, NODES_PER_PROCESS, HEARTBEAT_S, logs=root)
    try:
        user = UserClient(cluster.socket, timeout=120)
        pid = cluster.server.pid
        started = time.monotonic()
        wait_for(lambda: any(f.poll() is not None for f in fleets) or len(user.call("list_nodes")) == size,
                 FLEET_START_TIMEOUT_S, interval=1.0, what=f"{size} simulated nodes")
        if any(f.poll() is not None for f in fleets):
            raise RuntimeError(f"simfleet exited: {(root / 'simfleet-0.log').read_text()[-2000:]}")
        result: dict[str, Any] = {"nodes": size, "processes": len(fleets),
                                  "register_s": time.monotonic() - started}
        result.update(_idle(pid))
        result["server_rss_registered_mib"] = procstat.rss_mib(pid)
        _one_job(user, size)  # warm-up
        result.update(_one_at_a_time(user, pid, size))
        result.update(_batch(user, pid, size))
        note(f"simfleet {size} nodes: one job p50 {result['p50_s']:.3f} s,"
             f" {result['server_cpu_us_per_node_result']:.1f} us server CPU per node-result"
             f" ({result['server_io_us_per_node_result']:.1f} of it ZeroMQ I/O),"
             f" batch {result['batch_node_results_per_s']:,.0f} node-results/s,"
             f" idle {result['idle_server_cpu_pct']:.2f}% of a core,"
             f" RSS {result['server_rss_registered_mib']:.0f} MiB registered,"
             f" {result['server_rss_after_batch_mib']:.0f} MiB after {BATCH_JOBS} jobs")
        return result
    finally:
        simfleet.stop(fleets)
        cluster.stop()


def _idle(pid: int) -> dict[str, float]:
    """Server CPU over one heartbeat interval with every node heartbeating and nothing else to do."""
    cpu, start = procstat.cpu_seconds(pid), time.monotonic()
    time.sleep(HEARTBEAT_S)
    return {"idle_server_cpu_pct": (procstat.cpu_seconds(pid) - cpu) / (time.monotonic() - start) * 100}


def _one_at_a_time(user: UserClient, pid: int, size: int) -> dict[str, Any]:
    """New RUN jobs to every node, one after the other: each job's round trip and the server's CPU."""
    jobs = max(MIN_FLEET_JOBS, FLEET_RESULTS // size)
    procstat.reset_peak(pid)
    cpu, io = procstat.cpu_seconds(pid), procstat.io_thread_cpu_seconds(pid)
    walls = [_one_job(user, size) for _ in range(jobs)]
    time.sleep(SETTLE_S)
    cpu, io = procstat.cpu_seconds(pid) - cpu, procstat.io_thread_cpu_seconds(pid) - io
    wall = statistics.median(walls)
    return {
        "jobs": jobs,
        "wall_s": wall,
        "p50_s": wall,
        "p95_s": percentile(walls, 0.95),
        "node_results_per_s": size / wall,
        "server_cpu_s": cpu,
        "server_cpu_us_per_node_result": cpu / (jobs * size) * 1e6,
        "server_io_us_per_node_result": io / (jobs * size) * 1e6,
        "server_peak_rss_mib": procstat.peak_rss_mib(pid),
    }


def _batch(user: UserClient, pid: int, size: int) -> dict[str, Any]:
    """``BATCH_JOBS`` RUN jobs to every node, submitted at once as one orchestration; kept afterwards."""
    jobs = [build_job("RUN", RUN_TEXT) for _ in range(BATCH_JOBS)]
    cpu = procstat.cpu_seconds(pid)
    start = time.monotonic()
    job_ids = user.submit(jobs)["job_ids"]
    summaries = user.wait_all(job_ids, start + BATCH_TIMEOUT_S, step=BATCH_TIMEOUT_S)  # one wait: no polling
    wall = time.monotonic() - start
    bad = [j for j in job_ids if not summaries.get(j) or len(summaries[j]["success"]) != size]
    if bad:
        raise RuntimeError(f"{len(bad)} of {BATCH_JOBS} jobs to {size} simulated nodes did not succeed everywhere")
    time.sleep(SETTLE_S)
    cpu = procstat.cpu_seconds(pid) - cpu
    return {
        "batch_jobs": BATCH_JOBS,
        "batch_wall_s": wall,
        "batch_node_results_per_s": BATCH_JOBS * size / wall,
        "batch_server_cpu_us_per_node_result": cpu / (BATCH_JOBS * size) * 1e6,
        "server_rss_after_batch_mib": procstat.rss_mib(pid),
    }


def _one_job(user: UserClient, size: int) -> float:
    """One new RUN job to every node: seconds from submission to its last result."""
    job = build_job("RUN", RUN_TEXT)
    start = time.monotonic()
    job_ids = user.submit([job])["job_ids"]
    summary = user.wait_all(job_ids, start + 120, step=120)[job_ids[0]]
    wall = time.monotonic() - start
    if not summary or not summary["complete"] or len(summary["success"]) != size:
        raise RuntimeError(f"simulated fan-out to {size} nodes did not complete: {summary}")
    return wall
