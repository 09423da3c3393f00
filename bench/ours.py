"""This directord as a benchmark system: a real server and real clients (directord.testing.Cluster)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import yaml
from workloads import EXEC_TEXT, NOOP_FILE, RUN_TEXT, Workload

from directord import plugins
from directord.orchestration import build_job, orchestration_jobs
from directord.testing import Cluster, wait_for
from directord.user import UserClient

HEARTBEAT_S = 10.0
RESULT_TIMEOUT_S = 900.0


class OurSystem:
    """Server + ``nodes`` clients (memory datastore, free ports, private paths under ``root``)."""

    name = "directord (this)"

    def __init__(self, root: Path, nodes: int, driver: str = "zmq", driver_url: str = ""):
        root.mkdir(parents=True, exist_ok=True)
        self.cluster = Cluster(root, clients=nodes, heartbeat=HEARTBEAT_S, driver=driver, driver_url=driver_url)
        if driver != "zmq":
            self.name = f"directord (this, {driver})"
        self.user = UserClient(self.cluster.socket, timeout=60)
        self.nodes = nodes

    @property
    def server_pid(self) -> int:
        assert self.cluster.server is not None
        return self.cluster.server.pid

    @property
    def client_pid(self) -> int:
        return self.cluster.clients[self.cluster.names[0]].pid

    def start(self, timeout: float) -> None:
        """Start everything and wait up to ``timeout`` s for every node to register."""
        self.cluster.components.mkdir(exist_ok=True)
        shutil.copy(NOOP_FILE, self.cluster.components / "noop.py")  # shipped to the nodes on first use
        plugins.configure_components([str(self.cluster.components)])  # build_job finds NOOP here too
        self.cluster.start_server()
        for name in self.cluster.names:
            self.cluster.start_client(name)
        wanted = set(self.cluster.names)
        wait_for(lambda: self._live() == wanted, timeout, interval=0.5, what=f"{self.nodes} nodes")

    def _live(self) -> set[str]:
        return {node["identity"] for node in self.user.call("list_nodes")}

    def stop(self) -> None:
        self.cluster.stop()

    def logs(self) -> str:
        return self.cluster.logs()

    # -- workloads -------------------------------------------------------------
    def run(self, workload: Workload) -> float:
        """Submit every job at once (library, or the CLI for ``workload.cli``), wall seconds until
        every node's result is recorded."""
        if workload.cli:
            return self._run_cli(workload)
        jobs = orchestration_jobs(workload.orchestrations)
        start = time.monotonic()
        job_ids = self.user.submit(jobs)["job_ids"]
        summaries = self.user.wait_all(job_ids, start + RESULT_TIMEOUT_S, step=5.0)
        wall = time.monotonic() - start
        self._check(summaries, workload.label)
        return wall

    def _run_cli(self, workload: Workload) -> float:
        """``directord orchestrate FILE --wait`` as users run it; its summary line must count every job
        as a success (a success on every target)."""
        path = self.cluster.write(f"{workload.key}.yaml", yaml.safe_dump(workload.orchestrations))
        start = time.monotonic()
        result = self.cluster.cli("orchestrate", str(path), "--wait", timeout=RESULT_TIMEOUT_S)
        wall = time.monotonic() - start
        expected = f"{workload.jobs} job(s): {workload.jobs} succeeded, 0 failed"
        if result.returncode != 0 or expected not in result.stdout:
            raise RuntimeError(f"{workload.label}: exit {result.returncode}, not {expected!r}:"
                               f" {result.stdout[-300:]}{result.stderr[-300:]}")
        return wall

    def _check(self, summaries: dict[str, Any], label: str) -> None:
        bad = [job_id for job_id, s in summaries.items()
               if not s or not s["complete"] or s["failed"] or len(s["success"]) != self.nodes]
        if bad:
            raise RuntimeError(f"{label}: {len(bad)} job(s) not done on all {self.nodes} nodes,"
                               f" e.g. {bad[0]}: {summaries[bad[0]]}")

    def exec_roundtrip(self) -> float:
        """One ``directord exec --verb RUN ... --wait`` through the real CLI, start-up included."""
        start = time.monotonic()
        result = self.cluster.cli("exec", "--verb", "RUN", EXEC_TEXT, "--wait")
        wall = time.monotonic() - start
        if result.returncode != 0:
            raise RuntimeError(f"exec --wait failed: {result.stdout}{result.stderr}")
        return wall

    def fanout_job(self) -> tuple[float, list[float]]:
        """One RUN job to every node: wall seconds and each node's recorded round trip."""
        job = build_job("RUN", RUN_TEXT)
        start = time.monotonic()
        job_ids = self.user.submit([job])["job_ids"]
        summaries = self.user.wait_all(job_ids, start + RESULT_TIMEOUT_S, step=5.0)
        wall = time.monotonic() - start
        self._check(summaries, "fanout")
        record = self.user.call("job_info", job_id=job_ids[0])
        return wall, [float(v) for v in record["_roundtripltime"].values()]
