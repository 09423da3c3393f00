"""One measured run: wall time plus what it cost the server and one client."""

from __future__ import annotations

import math
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import procstat

SETTLE_S = 0.5  # lets trailing acks and flushes land in the CPU and memory numbers


@dataclass(frozen=True)
class Sample:
    wall_s: float
    server_cpu_s: float
    client_cpu_s: float
    server_peak_rss_mib: float
    client_peak_rss_mib: float
    server_rss_growth_mib: float


def measure(server_pid: int, client_pid: int, action: Callable[[], float]) -> Sample:
    """Run ``action`` (it returns its own wall seconds) between two readings of /proc."""
    for pid in (server_pid, client_pid):
        procstat.reset_peak(pid)
    rss, cpu, client_cpu = (procstat.rss_mib(server_pid), procstat.cpu_seconds(server_pid),
                            procstat.cpu_seconds(client_pid))
    wall = action()
    time.sleep(SETTLE_S)
    return Sample(
        wall_s=wall,
        server_cpu_s=procstat.cpu_seconds(server_pid) - cpu,
        client_cpu_s=procstat.cpu_seconds(client_pid) - client_cpu,
        server_peak_rss_mib=procstat.peak_rss_mib(server_pid),
        client_peak_rss_mib=procstat.peak_rss_mib(client_pid),
        server_rss_growth_mib=procstat.rss_mib(server_pid) - rss,
    )


def summarize(samples: list[Sample], jobs: int | None = None, nodes: int | None = None,
              floors: list[float] | None = None) -> dict[str, Any]:
    """Medians of the runs (peaks: the highest); rates when ``jobs`` is given.

    ``floors`` holds the floor measured just before each run: the ratio to the
    floor is the median of those pairs, so drift in the machine's speed over
    the benchmark does not leak into it.
    """
    wall = statistics.median(s.wall_s for s in samples)
    result: dict[str, Any] = {
        "runs": len(samples),
        "wall_s": wall,
        "runs_wall_s": [s.wall_s for s in samples],
        "server_cpu_s": statistics.median(s.server_cpu_s for s in samples),
        "client_cpu_s": statistics.median(s.client_cpu_s for s in samples),
        "server_peak_rss_mib": max(s.server_peak_rss_mib for s in samples),
        "client_peak_rss_mib": max(s.client_peak_rss_mib for s in samples),
    }
    if jobs is not None and nodes is not None:
        growth = statistics.median(s.server_rss_growth_mib for s in samples)
        result.update({
            "jobs": jobs,
            "nodes": nodes,
            "jobs_per_s": jobs / wall,
            "node_results_per_s": jobs * nodes / wall,
            "server_rss_growth_mib_per_1000_records": growth * 1000 / jobs,
        })
    if floors:
        result["ratio_to_floor"] = statistics.median(s.wall_s / f for s, f in zip(samples, floors, strict=True))
        result["paired_floor_s"] = statistics.median(floors)
    return result


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (``fraction`` in 0..1)."""
    ordered = sorted(values)
    rank = min(len(ordered), max(1, math.ceil(fraction * len(ordered))))
    return ordered[rank - 1]


def note(text: str) -> None:
    """Progress on stderr (the table goes to stdout)."""
    print(f"[bench] {text}", file=sys.stderr, flush=True)
