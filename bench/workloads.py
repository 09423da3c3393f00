"""The workloads, described once for both systems, and the no-directord floor."""

from __future__ import annotations

import multiprocessing
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RUN_TEXT = "--skip-cache echo hello world"
NOOP_TEXT = "--skip-cache"
EXEC_TEXT = "--skip-cache echo hi"
ASYNC_PARENTS = 10
NOOP_FILE = Path(__file__).with_name("components") / "noop.py"


@dataclass(frozen=True)
class Workload:
    """Orchestrations (the YAML structure) submitted at once; ``jobs`` counts every job."""

    key: str
    label: str
    orchestrations: list[dict[str, Any]]
    jobs: int
    cli: bool = False  # submitted as users do: ``directord orchestrate FILE --wait``


def job_workloads(jobs: int) -> list[Workload]:
    """sync-N, async-10x(N/10) and noop-N through the library, then sync and async through the CLI."""
    per_parent = max(jobs // ASYNC_PARENTS, 1)
    run_jobs = [{"RUN": RUN_TEXT}]
    sync = Workload("sync", f"sync-{jobs}", [{"jobs": run_jobs * jobs}], jobs)
    parallel = Workload("async", f"async-{ASYNC_PARENTS}x{per_parent}",
                        [{"async": True, "jobs": run_jobs * per_parent} for _ in range(ASYNC_PARENTS)],
                        ASYNC_PARENTS * per_parent)
    return [
        sync, parallel,
        Workload("noop", f"noop-{jobs}", [{"jobs": [{"NOOP": NOOP_TEXT}] * jobs}], jobs),
        *(Workload(f"cli-{w.key}", f"{w.label} (CLI --wait)", w.orchestrations, w.jobs, cli=True)
          for w in (sync, parallel)),
    ]


WARMUP = Workload("warmup", "warm-up", [{"jobs": [{"RUN": RUN_TEXT}, {"NOOP": NOOP_TEXT}]}], 2)


def _spawn(count: int) -> None:
    for _ in range(count):
        subprocess.run(["/bin/sh", "-c", "echo hello world"], capture_output=True,
                       stdin=subprocess.DEVNULL, check=True)


def startup_floor_seconds(runs: int) -> float:
    """Median wall time of this interpreter starting and importing cliff, nothing of directord:
    what any cliff command costs before it does anything."""
    times = []
    for _ in range(runs):
        start = time.monotonic()
        subprocess.run([sys.executable, "-c", "import cliff.app"], capture_output=True,
                       stdin=subprocess.DEVNULL, check=True)
        times.append(time.monotonic() - start)
    return statistics.median(times)


def floor_seconds(workers: int, spawns: int) -> float:
    """Wall time of ``workers`` processes each running ``spawns`` shells, output captured."""
    with multiprocessing.Pool(workers) as pool:  # every worker is started before the clock
        start = time.monotonic()
        pool.map(_spawn, [spawns] * workers, chunksize=1)
        return time.monotonic() - start
