"""The benchmark harness at tiny sizes: it runs end to end and its JSON is complete.

No timing is asserted here; `make bench` measures.
"""

from __future__ import annotations

import json
import subprocess
import sys
from numbers import Real
from pathlib import Path

RUN = Path(__file__).resolve().parents[2] / "bench" / "run.py"
COMMON = ("wall_s", "server_cpu_s", "client_cpu_s", "server_peak_rss_mib", "client_peak_rss_mib")
JOB_LOAD = (*COMMON, "jobs_per_s", "node_results_per_s", "server_rss_growth_mib_per_1000_records")
PAIRED = (*JOB_LOAD, "ratio_to_floor", "paired_floor_s")  # each run paired with a floor measured just before
FIELDS = {
    "floor": ("wall_s", "spawns_per_s"),
    "exec": COMMON,
    "sync": PAIRED,
    "async": PAIRED,
    "noop": JOB_LOAD,
    "cli-sync": PAIRED,
    "cli-async": PAIRED,
    "dashboard": ("server_cpu_without_s", "server_cpu_with_s", "extra_server_cpu_pct"),
    "fanout": (*COMMON, "p50_s", "p95_s", "node_results_per_s"),
    "simfleet": ("cpu_ratio",),
    "redis": ("sync_over_zmq",),
}
FLEET = ("wall_s", "p50_s", "p95_s", "node_results_per_s", "server_cpu_s", "server_cpu_us_per_node_result",
         "server_io_us_per_node_result", "server_peak_rss_mib", "idle_server_cpu_pct", "server_rss_registered_mib",
         "batch_node_results_per_s", "batch_server_cpu_us_per_node_result", "server_rss_after_batch_mib")


def numeric(record: dict, names: tuple[str, ...]) -> list[str]:
    """The names whose value is missing or not a number."""
    return [name for name in names if not isinstance(record.get(name), Real) or isinstance(record[name], bool)]


def test_harness_at_tiny_sizes_writes_every_workload(tmp_path):
    out = tmp_path / "results.json"
    result = subprocess.run([sys.executable, str(RUN), "--jobs", "10", "--runs", "1", "--fanout-clients", "3",
                             "--sim-nodes", "20", "--json", str(out)],
                            capture_output=True, text=True, timeout=240, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    data = json.loads(out.read_text())
    workloads = data["workloads"]
    assert set(workloads) == set(FIELDS)
    for key, names in FIELDS.items():
        assert not numeric(workloads[key], names), (key, workloads[key])
    sizes = workloads["simfleet"]["sizes"]
    assert sorted(int(size) for size in sizes) == [10, 20]  # keyed by node count
    for key, size in sizes.items():
        assert not numeric(size, FLEET), size
        assert size["nodes"] == int(key) and size["batch_jobs"] == 100
    floor = workloads["simfleet"]["transport_floor"]  # a bare ROUTER beside the largest fleet
    assert floor["nodes"] == 20 and not numeric(floor, ("rss_registered_mib", "idle_cpu_pct", "cpu_us_per_node_result"))
    for key in ("sync", "fanout"):  # the same workloads over the redis driver
        assert not numeric(workloads["redis"][key], FIELDS[key]), (key, workloads["redis"][key])
    assert len(data["targets"]) == 18
    assert all(isinstance(t["measured"], Real) and isinstance(t["pass"], bool) for t in data["targets"])
    assert "Targets" in result.stdout and "noop-10" in result.stdout and "redis sync-10" in result.stdout
    assert "sync-10 (CLI --wait)" in result.stdout and "simfleet-20" in result.stdout


def test_speed_up_targets_come_from_the_ours_over_original_ratios(monkeypatch):
    monkeypatch.syspath_prepend(str(RUN.parent))
    import report

    ours = {"sync": {"label": "sync-1000"}, "async": {"label": "async-10x100"}}
    rows = report.compare_targets(ours, {"sync": {"wall_s": 0.2}, "async": {"wall_s": 0.3}})
    assert [(row["measured"], row["pass"]) for row in rows] == [(5.0, True), (1 / 0.3, False)]
    assert report.compare_targets(ours, {})[0]["pass"] is None


def test_a_hung_run_is_noted_and_repeated_after_a_restart(monkeypatch):
    monkeypatch.syspath_prepend(str(RUN.parent))
    import os

    import suite
    from workloads import WARMUP

    class Flaky:
        """Hangs on its first headline run; counts restarts."""

        name, server_pid, client_pid = "flaky", os.getpid(), os.getpid()

        def __init__(self):
            self.calls, self.restarts = [], 0

        def stop(self):
            self.restarts += 1

        def start(self, timeout):
            pass

        def run(self, workload):
            self.calls.append(workload.key)
            if self.calls.count("sync") == 1 and workload.key == "sync":
                raise suite.RunHung("`orchestrate` did not finish in 1 s")
            return 0.5

    system, hangs = Flaky(), []
    sync = suite.Workload("sync", "sync-1", [], 1)
    assert suite._measured_run(system, sync, hangs).wall_s == 0.5
    assert (hangs, system.restarts, system.calls) == (["`orchestrate` did not finish in 1 s"], 1,
                                                       ["sync", WARMUP.key, "sync"])
    def always_hangs(self, workload):
        if workload.key != WARMUP.key:
            raise suite.RunHung("again")

    monkeypatch.setattr(Flaky, "run", always_hangs)
    try:
        suite._measured_run(system, sync, [])
    except suite.RunHung:
        assert system.restarts == 1 + suite.HUNG_RETRIES
    else:
        raise AssertionError("a run that always hangs must end the benchmark")
