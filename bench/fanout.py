"""Fan-out: one job to many real clients, and to a simulated fleet of up to 1000 nodes."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import procstat
from measure import SETTLE_S, measure, note, percentile, summarize
from workloads import RUN_TEXT

from directord.orchestration import build_job
from directord.testing import Cluster, reap, wait_for
from directord.user import UserClient

if TYPE_CHECKING:
    from suite import System

SIMFLEET = Path(__file__).with_name("simfleet.py")
HEARTBEAT_S = 10.0
FLEET_RESULTS = 2000  # node-results per fleet size (at least MIN_FLEET_JOBS jobs)
MIN_FLEET_JOBS = 10
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
    return sorted({min(10, largest), min(100, largest), largest})


def simulated_fleet(root: Path, largest: int) -> dict[str, Any]:
    """Server CPU per node-result for one job fanned out to 10, 100 and ``largest`` simulated nodes."""
    sizes = fleet_sizes(largest)
    per_size = {str(size): _fleet(root / f"fleet-{size}", size) for size in sizes}
    smallest, biggest = per_size[str(sizes[0])], per_size[str(sizes[-1])]
    return {
        "label": f"simfleet-{sizes[0]}..{sizes[-1]}",
        "sizes": per_size,
        "cpu_ratio": biggest["server_cpu_us_per_node_result"] / smallest["server_cpu_us_per_node_result"],
    }


def _fleet(root: Path, size: int) -> dict[str, Any]:
    """A fresh server and one simfleet process of ``size`` nodes; jobs submitted one at a time."""
    root.mkdir(parents=True)
    cluster = Cluster(root, clients=0, heartbeat=HEARTBEAT_S)
    cluster.start_server()
    with open(root / "simfleet.log", "wb") as log:
        fleet = subprocess.Popen([sys.executable, str(SIMFLEET), "--job-port", str(cluster.job_port),
                                  "--nodes", str(size), "--heartbeat", str(HEARTBEAT_S)],
                                 stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        user = UserClient(cluster.socket, timeout=60)
        wait_for(lambda: fleet.poll() is not None or len(user.call("list_nodes")) == size,
                 FLEET_START_TIMEOUT_S, interval=0.5, what=f"{size} simulated nodes")
        if fleet.poll() is not None:
            raise RuntimeError(f"simfleet exited: {(root / 'simfleet.log').read_text()[-2000:]}")
        jobs = max(MIN_FLEET_JOBS, FLEET_RESULTS // size)
        _one_job(user, size)  # warm-up
        pid = cluster.server.pid
        procstat.reset_peak(pid)
        cpu = procstat.cpu_seconds(pid)
        walls = [_one_job(user, size) for _ in range(jobs)]
        time.sleep(SETTLE_S)
        cpu = procstat.cpu_seconds(pid) - cpu
        wall = statistics.median(walls)
        result = {
            "nodes": size,
            "jobs": jobs,
            "wall_s": wall,
            "node_results_per_s": size / wall,
            "server_cpu_s": cpu,
            "server_cpu_us_per_node_result": cpu / (jobs * size) * 1e6,
            "server_peak_rss_mib": procstat.peak_rss_mib(pid),
        }
        note(f"simfleet {size} nodes: {result['server_cpu_us_per_node_result']:.1f} us server CPU per node-result")
        return result
    finally:
        fleet.terminate()
        reap(fleet, 10)
        cluster.stop()


def _one_job(user: UserClient, size: int) -> float:
    """One new RUN job to every node: seconds from submission to its last result."""
    job = build_job("RUN", RUN_TEXT)
    start = time.monotonic()
    job_ids = user.submit([job])["job_ids"]
    summary = user.wait_all(job_ids, start + 120, step=5.0)[job_ids[0]]
    wall = time.monotonic() - start
    if not summary or not summary["complete"] or len(summary["success"]) != size:
        raise RuntimeError(f"simulated fan-out to {size} nodes did not complete: {summary}")
    return wall
