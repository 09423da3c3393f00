"""What serving the dashboard to a browser costs the server: sync-1000 with a headless Chromium on
the dashboard's jobs page (redrawn live as jobs change), beside sync-1000 with no dashboard at all,
in alternating pairs on one cluster."""

from __future__ import annotations

import contextlib
import statistics
from collections.abc import Iterator
from typing import Any

from measure import measure, note
from ours import OurSystem
from workloads import Workload

from directord.testing import wait_for
from directord.testing.browser import headless_chromium
from directord.testing.processes import reap


@contextlib.contextmanager
def dashboard_open(system: OurSystem) -> Iterator[None]:
    """``directord dashboard`` on a free loopback port, and a browser on its jobs page."""
    process, url = system.cluster.start_dashboard()
    browser = None
    try:
        browser = headless_chromium()
        browser.get(url + "/#/jobs")
        wait_for(lambda: browser.execute_script("return document.querySelector('#out') !== null"), 20,
                 interval=0.2, what="the dashboard's jobs page")
        yield
    finally:
        if browser is not None:
            browser.quit()
        process.terminate()
        reap(process, 10)


def dashboard_cost(system: OurSystem, workload: Workload, runs: int) -> dict[str, Any]:
    """Median server CPU of ``workload`` without, then with, the dashboard open; the extra in percent."""
    without, with_open = [], []
    for run in range(1, runs + 1):
        without.append(measure(system.server_pid, system.client_pid, lambda: system.run(workload)).server_cpu_s)
        with dashboard_open(system):
            with_open.append(measure(system.server_pid, system.client_pid,
                                     lambda: system.run(workload)).server_cpu_s)
        note(f"{system.name}: {workload.label} server CPU without / with the dashboard open, run {run}/{runs}:"
             f" {without[-1]:.2f} / {with_open[-1]:.2f} s")
    plain, served = statistics.median(without), statistics.median(with_open)
    return {"label": f"{workload.label} with the dashboard open", "runs": runs,
            "server_cpu_without_s": plain, "server_cpu_with_s": served,
            "extra_server_cpu_pct": (served / plain - 1) * 100 if plain else None}
