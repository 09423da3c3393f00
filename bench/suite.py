"""Drives one system (this directord or the original) through the workloads."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import fanout
from dashboard_cost import dashboard_cost
from measure import Sample, measure, note, summarize
from ours import OurSystem
from workloads import WARMUP, Workload, job_workloads, startup_floor_seconds

START_TIMEOUT_S = 120.0
FANOUT_START_TIMEOUT_S = 900.0  # a hundred Python processes starting on two cores
EXEC_SAMPLES_PER_RUN = 3
PAIRED = ("sync", "async", "cli-sync", "cli-async")  # the workloads whose target is a ratio to the floor
HUNG_RETRIES = 2


class RunHung(RuntimeError):
    """A run of the original never finished (it can lose a job); the suite restarts it and runs again."""


class System(Protocol):
    """What the suite needs from a cluster (see ours.OurSystem, upstream.UpstreamSystem)."""

    name: str

    @property
    def server_pid(self) -> int: ...

    @property
    def client_pid(self) -> int: ...

    def start(self, timeout: float) -> None: ...

    def stop(self) -> None: ...

    def logs(self) -> str: ...

    def run(self, workload: Workload) -> float: ...

    def exec_roundtrip(self) -> float: ...

    def fanout_job(self) -> tuple[float, list[float]]: ...


@contextlib.contextmanager
def running(system: System, timeout: float) -> Iterator[System]:
    """Started system; its log tails go to stderr when anything fails."""
    try:
        system.start(timeout)
        yield system
    except BaseException:
        print(system.logs()[-6000:], file=sys.stderr)
        raise
    finally:
        system.stop()


def run_system(make: Callable[[Path, int], System], root: Path, args: Any,
               floor: Callable[[], float] | None) -> dict[str, Any]:
    """Every selected workload of one system; keyed like the JSON.

    With ``floor``, each run of a workload compared with the floor (``PAIRED``)
    comes right after a floor measurement of its own.
    """
    results: dict[str, Any] = {}
    loads = [w for w in job_workloads(args.jobs) if w.key in args.only]
    if "exec" in args.only or "dashboard" in args.only or loads:
        system = make(root / "cluster", args.nodes)
        note(f"{system.name}: starting a server and {args.nodes} clients")
        with running(system, START_TIMEOUT_S):
            system.run(WARMUP)
            system.exec_roundtrip()
            if "exec" in args.only:
                samples = [measure(system.server_pid, system.client_pid, system.exec_roundtrip)
                           for _ in range(args.runs * EXEC_SAMPLES_PER_RUN)]
                results["exec"] = {"label": "exec --wait", **summarize(samples),
                                   "startup_floor_s": startup_floor_seconds(len(samples))}
                note(f"{system.name}: exec --wait {results['exec']['wall_s']:.3f} s")
            for workload in loads:
                samples, floors, hangs = [], [], []
                for run in range(1, args.runs + 1):
                    if floor is not None and workload.key in PAIRED:
                        floors.append(floor())
                    samples.append(_measured_run(system, workload, hangs))
                    note(f"{system.name}: {workload.label} run {run}/{args.runs}: {samples[-1].wall_s:.2f} s")
                results[workload.key] = {"label": workload.label,
                                         **summarize(samples, workload.jobs, args.nodes, floors)}
                if hangs:
                    results[workload.key]["hung_runs"] = hangs
            if "dashboard" in args.only and isinstance(system, OurSystem):
                sync = next(w for w in job_workloads(args.jobs) if w.key == "sync")
                results["dashboard"] = dashboard_cost(system, sync, args.runs)
    if "fanout" in args.only:
        system = make(root / "fanout", args.fanout_clients)
        note(f"{system.name}: starting a server and {args.fanout_clients} clients (takes a while)")
        with running(system, FANOUT_START_TIMEOUT_S):
            results["fanout"] = {"label": f"fanout-{args.fanout_clients}",
                                 **fanout.real_clients(system, args.fanout_clients, args.runs)}
    return results


def _measured_run(system: System, workload: Workload, hangs: list[str]) -> Sample:
    """One measured run; a hung run (``RunHung``) is noted, the system restarted and the run repeated."""
    retries = 0
    while True:
        try:
            return measure(system.server_pid, system.client_pid, lambda: system.run(workload))
        except RunHung as exc:
            retries += 1
            if retries > HUNG_RETRIES:
                raise
            hangs.append(str(exc))
            note(f"{system.name}: {exc}; restarting it and running again")
            system.stop()
            system.start(START_TIMEOUT_S)
            system.run(WARMUP)
