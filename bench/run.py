"""Benchmark harness: real server + real clients on 127.0.0.1.

    python bench/run.py                 # `make bench`
    python bench/run.py --compare       # `make bench-compare`: also the original directord 0.12.0
    python bench/run.py --jobs 10 --runs 1 --fanout-clients 3 --sim-nodes 20   # smoke sizes

Prints the workload table and the targets (pass/fail) and writes the JSON.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fanout
import report
import upstream
from measure import note
from ours import OurSystem
from suite import run_system
from workloads import floor_seconds

import directord
from directord import testing

WORKLOADS = ("floor", "exec", "sync", "async", "noop", "cli-sync", "cli-async", "dashboard", "fanout", "simfleet",
             "redis")
REDIS_LOADS = ["sync", "fanout"]  # what the redis transport runs, beside the same on zmq


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="directord benchmark (medians of several runs)")
    parser.add_argument("--runs", type=int, default=3, help="Runs of each workload (default %(default)s).")
    parser.add_argument("--jobs", type=int, default=1000, help="Jobs in sync/noop (async: 10 x jobs/10).")
    parser.add_argument("--nodes", type=int, default=6, help="Clients for floor/exec/sync/async/noop.")
    parser.add_argument("--fanout-clients", type=int, default=100, help="Real clients for the fan-out job.")
    parser.add_argument("--sim-nodes", type=int, default=10_000,
                        help="Largest simulated fleet (also 10, 100 and 1000 below it).")
    parser.add_argument("--compare", action="store_true", help="Also run the original directord 0.12.0.")
    parser.add_argument("--json", type=Path, default=Path(__file__).with_name("results.json"),
                        help="Where to write the results (default %(default)s).")
    parser.add_argument("--only", nargs="+", choices=WORKLOADS, default=list(WORKLOADS), metavar="WORKLOAD",
                        help=f"Run only these workloads: {', '.join(WORKLOADS)}.")
    args = parser.parse_args(argv)
    if min(args.runs, args.jobs, args.nodes, args.fanout_clients, args.sim_nodes) < 1:
        parser.error("sizes and --runs must be at least 1")
    return args


def raise_fd_limit() -> None:
    """Ten thousand simulated nodes need ten thousand connections in the server (children inherit this)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def measure_floor(args: argparse.Namespace) -> dict[str, Any]:
    walls = [floor_seconds(args.nodes, args.jobs) for _ in range(args.runs)]
    wall = statistics.median(walls)
    note(f"floor: {wall:.2f} s for {args.nodes} x {args.jobs} spawns")
    return {"label": "floor", "runs": args.runs, "wall_s": wall, "runs_wall_s": walls, "workers": args.nodes,
            "spawns_per_worker": args.jobs, "spawns_per_s": args.nodes * args.jobs / wall}


def floor_probe(args: argparse.Namespace) -> Callable[[], float]:
    """One more floor measurement, taken right before a run it is paired with."""

    def probe() -> float:
        wall = floor_seconds(args.nodes, args.jobs)
        note(f"floor (paired with the next run): {wall:.2f} s")
        return wall

    return probe


def run_redis(root: Path, args: argparse.Namespace, floor: Callable[[], float] | None,
              zmq: dict[str, Any]) -> dict[str, Any]:
    """sync and fanout over the redis driver (a private redis-server), and sync's wall over zmq's."""
    root.mkdir(parents=True)
    with testing.redis_server(root) as base:
        def system(path: Path, nodes: int) -> OurSystem:
            return OurSystem(path, nodes, driver="redis", driver_url=f"{base}/0?prefix=bench-{path.name}")

        results = run_system(system, root, argparse.Namespace(**{**vars(args), "only": REDIS_LOADS}), floor)
    for result in results.values():
        result["label"] = f"redis {result['label']}"
    zmq_wall = (zmq.get("sync") or {}).get("wall_s")
    results["sync_over_zmq"] = results["sync"]["wall_s"] / zmq_wall if zmq_wall else None
    return results


def run_original(root: Path, args: argparse.Namespace, floor: Callable[[], float] | None) -> dict[str, Any]:
    """The original's results, or ``{"error": ...}`` with one clear line printed."""
    try:
        executable = upstream.ensure_venv()
        results = run_system(lambda path, nodes: upstream.UpstreamSystem(path, nodes, executable),
                             root, args, floor)
    except Exception as exc:  # whatever breaks there, our numbers still stand
        lines = str(exc).strip().splitlines() or [type(exc).__name__]
        reason = lines[0] if len(lines) == 1 else f"{lines[0]} ... {lines[-1].strip()}"
        line = f"original directord {upstream.VERSION} could not be benchmarked: {reason}"
        print(line, file=sys.stderr)
        return {"error": line}
    if "simfleet" in args.only:
        results["simfleet"] = {"skipped": "the simulated fleet speaks this project's wire protocol, "
                                          "not the original's 7-frame ZeroMQ messages"}
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    raise_fd_limit()
    # Every CLI run and process start measured should load byte-compiled modules, as an installed
    # package does (pip compiles at install time), not compile this checkout's sources each time.
    compileall.compile_dir(os.path.dirname(directord.__file__), quiet=1)
    started = time.time()
    output: dict[str, Any] = {"meta": {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "directord": directord.__version__, "python": platform.python_version(), "cpus": os.cpu_count(),
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
    }}
    with tempfile.TemporaryDirectory(prefix="directord-bench-") as tmp:
        root = Path(tmp)
        floor = measure_floor(args) if "floor" in args.only else None
        probe = floor_probe(args) if floor else None
        ours = run_system(OurSystem, root / "ours", args, probe)
        if "simfleet" in args.only:
            ours["simfleet"] = fanout.simulated_fleet(root / "fleet", args.sim_nodes)
        if "redis" in args.only:
            ours["redis"] = run_redis(root / "redis", args, probe, ours)
        output["workloads"] = {**({"floor": floor} if floor else {}), **ours}
        output["targets"] = report.targets(ours)
        if args.compare:
            original = run_original(root / "original", args, probe)
            output["original"] = original
            if "error" not in original:
                output["ours_over_original"] = report.compare(ours, original)
                if all(key in ours for key in report.SPEED_UP_LOADS):
                    output["targets"] += report.compare_targets(ours, output["ours_over_original"])
    output["meta"]["seconds"] = round(time.time() - started, 1)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(output, indent=2) + "\n")

    print(f"\n{OurSystem.name} ({directord.__version__}), {args.nodes} nodes, medians of {args.runs} run(s)\n")
    print(report.render(report.HEADERS, report.workload_rows(ours, floor)))
    original = output.get("original")
    if original and "error" not in original:
        print(f"\ndirectord {upstream.VERSION} (original), same workloads\n")
        print(report.render(report.HEADERS, report.workload_rows(original, floor)))
        print("\nours / original\n")
        print(report.compare_table(ours, original, output["ours_over_original"]))
    elif original:
        print(f"\n{original['error']}")
    print("\nTargets\n")
    print(report.target_table(output["targets"]))
    print(f"\nJSON: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
