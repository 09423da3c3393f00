"""Targets (pass/fail), the results tables and the ours / original comparison."""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

JOB_LOADS = ("sync", "async", "noop", "cli-sync", "cli-async")
_OPS: dict[str, Callable[[float, float], bool]] = {"<": operator.lt, "<=": operator.le, ">=": operator.ge}


def _field(key: str, name: str) -> Callable[[dict[str, Any]], float | None]:
    return lambda results: (results.get(key) or {}).get(name)


def _largest_fleet(name: str) -> Callable[[dict[str, Any]], float | None]:
    """``name`` of the largest simulated fleet."""
    def value(results: dict[str, Any]) -> float | None:
        fleet = results.get("simfleet") or {}
        return ((fleet.get("sizes") or {}).get(str(fleet.get("largest"))) or {}).get(name)
    return value


@dataclass(frozen=True)
class Target:
    text: str  # {sync}, {fanout}... become the workload labels
    value: Callable[[dict[str, Any]], float | None]
    op: str
    limit: float


TARGETS = [
    Target("{sync} <= 1.3 x floor", _field("sync", "ratio_to_floor"), "<=", 1.3),
    Target("{async} <= 1.2 x floor", _field("async", "ratio_to_floor"), "<=", 1.2),
    Target("{noop} >= 50,000 node-results/s", _field("noop", "node_results_per_s"), ">=", 50_000),
    Target("{cli-sync} <= 1.10 x floor", _field("cli-sync", "ratio_to_floor"), "<=", 1.10),
    Target("{cli-async} <= 1.05 x floor", _field("cli-async", "ratio_to_floor"), "<=", 1.05),
    Target("{fanout}: p50 round trip < 1 s", _field("fanout", "p50_s"), "<", 1.0),
    Target("{fleet}: one job's round trip p50 < 1 s", _largest_fleet("p50_s"), "<", 1.0),
    Target("{fleet}: server CPU per node-result <= 25 us", _largest_fleet("server_cpu_us_per_node_result"),
           "<=", 25),
    Target("{simfleet}: server CPU per node-result, largest / smallest fleet <= 1.5",
           _field("simfleet", "cpu_ratio"), "<=", 1.5),
    Target("{fleet} idle (heartbeats only): server < 5% of one core", _largest_fleet("idle_server_cpu_pct"),
           "<", 5),
    Target("{fleet} registered: server RSS < 150 MiB", _largest_fleet("server_rss_registered_mib"), "<", 150),
    Target("{sync}: server RSS growth < 2 MiB per 1000 retained records",
           _field("sync", "server_rss_growth_mib_per_1000_records"), "<", 2),
    Target("exec --verb RUN ... --wait round trip (CLI included) <= 0.12 s", _field("exec", "wall_s"), "<=", 0.12),
    Target("redis {sync}: wall <= 1.3 x the zmq {sync} (same run)", _field("redis", "sync_over_zmq"), "<=", 1.3),
    Target("redis {fanout}: p50 round trip < 0.3 s",
           lambda results: ((results.get("redis") or {}).get("fanout") or {}).get("p50_s"), "<", 0.3),
    Target("dashboard open during {sync}: server CPU +% <= 5", _field("dashboard", "extra_server_cpu_pct"),
           "<=", 5),
    # Peaks during the headline workload; later workloads add the records the earlier ones left.
    Target("{sync}: server peak RSS < 64 MiB", _field("sync", "server_peak_rss_mib"), "<", 64),
    Target("{sync}: client peak RSS <= 32 MiB", _field("sync", "client_peak_rss_mib"), "<=", 32),
]


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target with its measured value and ``pass`` (None when not measured)."""
    labels = {key: value.get("label", key) for key, value in results.items() if isinstance(value, dict)}
    labels = {key: labels.get(key, key) for key in ("sync", "async", "noop", "cli-sync", "cli-async", "fanout",
                                                   "simfleet")}
    labels["fleet"] = f"simfleet-{(results.get('simfleet') or {}).get('largest', 'largest')}"
    rows = []
    for target in TARGETS:
        value = target.value(results)
        rows.append({"target": target.text.format(**labels), "measured": value, "op": target.op,
                     "limit": target.limit,
                     "pass": None if value is None else _OPS[target.op](value, target.limit)})
    return rows


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "PASS" if value else "FAIL"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3f}" if abs(value) < 1 else f"{value:.2f}"
    return str(value)


def render(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max([len(h)] + [len(row[i]) for row in cells]) for i, h in enumerate(headers)]
    lines = [headers, ["-" * w for w in widths], *cells]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines)


HEADERS = ["workload", "runs", "median wall s", "jobs/s", "node-results/s", "x floor", "server CPU s",
           "server peak MiB", "client peak MiB", "server MiB/1k records", "notes"]


def workload_rows(results: dict[str, Any], floor: dict[str, Any] | None) -> list[list[Any]]:
    rows = _job_rows(results, floor)
    fleet = results.get("simfleet")
    for size in (fleet or {}).get("sizes", {}).values():
        rows.append([f"simfleet-{size['nodes']}", 1, size["wall_s"], 1 / size["wall_s"], size["node_results_per_s"],
                     None, size["server_cpu_s"], size["server_peak_rss_mib"], None, None,
                     f"{size['jobs']} jobs one at a time, p50 {size['p50_s']:.3f} s, p95 {size['p95_s']:.3f} s;"
                     f" {size['server_cpu_us_per_node_result']:.1f} us server CPU per node-result"
                     f" ({size['server_io_us_per_node_result']:.1f} in ZeroMQ's I/O thread);"
                     f" {size['batch_jobs']} jobs at once: {size['batch_node_results_per_s']:,.0f} node-results/s;"
                     f" idle {size['idle_server_cpu_pct']:.2f}% of a core;"
                     f" RSS {size['server_rss_registered_mib']:.0f} MiB registered,"
                     f" {size['server_rss_after_batch_mib']:.0f} MiB after the {size['batch_jobs']} jobs"])
    transport = (fleet or {}).get("transport_floor")
    if transport:
        rows.append([f"zmq floor, {transport['nodes']} nodes", 1, None, None, None, None, None, None, None, None,
                     f"a bare ROUTER: {transport['rss_registered_mib']:.0f} MiB with every node connected,"
                     f" idle {transport['idle_cpu_pct']:.1f}% of a core,"
                     f" {transport['cpu_us_per_node_result']:.1f} us CPU per node-result"])
    return rows + _job_rows(results.get("redis") or {}, None)


def _job_rows(results: dict[str, Any], floor: dict[str, Any] | None) -> list[list[Any]]:
    rows = []
    if floor:
        rows.append(["floor (no directord)", floor["runs"], floor["wall_s"],
                     floor["spawns_per_worker"] / floor["wall_s"], floor["spawns_per_s"], 1.0, None, None, None, None,
                     f"{floor['workers']} workers x {floor['spawns_per_worker']} /bin/sh spawns"])
    for key in ("exec", *JOB_LOADS, "fanout"):
        r = results.get(key)
        if r:
            notes = {"exec": "one job to every node, CLI start-up included; Python importing cliff alone:"
                             f" {_cell(r.get('startup_floor_s'))} s",
                     "fanout": f"round trip p50 {_cell(r.get('p50_s'))} s, p95 {_cell(r.get('p95_s'))} s"}.get(key, "")
            if r.get("paired_floor_s"):
                notes = f"each run over a floor taken just before it (median {r['paired_floor_s']:.2f} s)"
            if r.get("hung_runs"):
                notes += f"; {len(r['hung_runs'])} hung run(s) repeated after a restart"
            rows.append([r["label"], r["runs"], r["wall_s"], r.get("jobs_per_s"), r.get("node_results_per_s"),
                         r.get("ratio_to_floor"), r["server_cpu_s"], r["server_peak_rss_mib"],
                         r["client_peak_rss_mib"], r.get("server_rss_growth_mib_per_1000_records"), notes])
    return rows


def target_table(rows: list[dict[str, Any]]) -> str:
    return render(["target", "measured", "limit", "result"],
                  [[r["target"], r["measured"], f"{r['op']} {r['limit']:g}",
                    "not measured" if r["pass"] is None else r["pass"]] for r in rows])


COMPARED = ("wall_s", "server_cpu_s", "server_peak_rss_mib", "client_peak_rss_mib")


def compare(ours: dict[str, Any], original: dict[str, Any]) -> dict[str, dict[str, float | None]]:
    """ours / original for each workload both measured (fanout: p50 round trip instead of wall)."""
    ratios = {}
    for key in ("exec", *JOB_LOADS, "fanout"):
        if key in ours and key in original:
            fields = ("p50_s", *COMPARED) if key == "fanout" else COMPARED
            ratios[key] = {name: _ratio(ours[key].get(name), original[key].get(name)) for name in fields}
    return ratios


SPEED_UP_TARGET = 4.0
SPEED_UP_LOADS = ("sync", "async")


def compare_targets(ours: dict[str, Any], ratios: dict[str, Any]) -> list[dict[str, Any]]:
    """The speed-up over the original (original wall / ours) of the headline workloads."""
    rows = []
    for key in SPEED_UP_LOADS:
        ratio = (ratios.get(key) or {}).get("wall_s")
        value = 1 / ratio if ratio else None
        rows.append({"target": f"{ours[key]['label']}: >= {SPEED_UP_TARGET:g}x faster than the original",
                     "measured": value, "op": ">=", "limit": SPEED_UP_TARGET,
                     "pass": None if value is None else value >= SPEED_UP_TARGET})
    return rows


def _ratio(mine: float | None, theirs: float | None) -> float | None:
    return mine / theirs if mine is not None and theirs else None


def compare_table(ours: dict[str, Any], original: dict[str, Any], ratios: dict[str, Any]) -> str:
    rows = []
    for key, r in ratios.items():
        time_field = "p50_s" if key == "fanout" else "wall_s"
        rows.append([ours[key]["label"], ours[key][time_field], original[key][time_field], r[time_field],
                     r["server_cpu_s"], r["server_peak_rss_mib"], r["client_peak_rss_mib"]])
    return render(["workload", "ours s", "original s", "time ours/orig", "server CPU ours/orig",
                   "server peak ours/orig", "client peak ours/orig"], rows)
