"""DirectordConnect: drive the cluster from Python (upstream-compatible API)."""

from __future__ import annotations

import time
from typing import Any

from directord import bootstrap, config, orchestration
from directord.exceptions import BootstrapError
from directord.user import UserClient, exit_code, job_state, job_status, status_line

DEFAULT_SOCKET = config.BY_DEST["socket_path"].default


class DirectordConnect:
    """Talks to the local server over its unix socket; usable as a context manager.

    ``driver`` and ``force_async`` mirror the original signature; only the
    socket is used, so any driver name works.
    """

    def __init__(self, debug: bool = False, socket_path: str = DEFAULT_SOCKET, driver: str = "zmq",
                 force_async: bool = False, timeout: float = 10.0):
        self.debug = debug
        self.driver = driver
        self.force_async = force_async
        self.user = UserClient(socket_path, timeout)

    def __enter__(self) -> DirectordConnect:
        return self

    def __exit__(self, *_exc: object) -> None:
        return None

    def orchestrate(self, orchestrations: list[dict[str, Any]],
                    defined_targets: list[str] | None = None) -> list[str]:
        """Submit orchestrations (the YAML structure as Python data); returns job ids."""
        jobs = orchestration.orchestration_jobs(
            orchestration.validate_orchestrations(orchestrations, "orchestrations"),
            defined_targets=defined_targets, force_async=self.force_async,
        )
        return list(self.user.submit(jobs)["job_ids"])

    def poll(self, job_id: str, timeout: float = 600.0) -> tuple[bool | None, str]:
        """Wait for a job: (True, "Job Success: ID"), (True, "Job Skipped: ID") for a job
        ``--restrict`` left out, (False, "Job Failed: ID"), or (None, ...) when it is still
        unknown at ``timeout``; an id the server does not know returns (None, ...) at once."""
        summary = self.user.wait_all([job_id], time.monotonic() + timeout, 5.0).get(job_id)
        status = job_status(summary)
        return job_state(summary), status_line(job_id, status)

    def wait(self, job_ids: list[str], timeout: float = 600.0) -> int:
        """Wait for every job; the CLI's exit code for them.

        0 (``user.EXIT_SUCCESS``): each succeeded or was skipped on every target;
        1 (``EXIT_FAILED``): any failed; 3 (``EXIT_TIMEOUT``): none failed but some were
        still unknown or processing at ``timeout`` (an id the server does not know counts).
        """
        summaries = self.user.wait_all(list(job_ids), time.monotonic() + timeout, 5.0)
        return exit_code(job_status(summaries.get(job_id)) for job_id in job_ids)

    def list_nodes(self) -> list[str]:
        return [node["identity"] for node in self.user.call("list_nodes")]

    def list_jobs(self) -> dict[str, dict[str, Any]]:
        return {job["JOB_ID"]: job for job in self.user.call("list_jobs")}

    def purge_nodes(self) -> bool:
        return bool(self.user.call("purge_nodes").get("success"))

    def purge_jobs(self) -> bool:
        return bool(self.user.call("purge_jobs").get("success"))

    @staticmethod
    def bootstrap(catalogs: list[str], key_file: str | None = None, threads: int = 10,
                  accept_new_host_keys: bool = False) -> tuple[str, ...]:
        """Bootstrap the catalogs' hosts over SSH; the sorted hosts, or BootstrapError naming the failures."""
        results = bootstrap.run(bootstrap.load_catalogs(catalogs),
                                bootstrap.SshOptions(key_file=key_file, accept_new_host_keys=accept_new_host_keys),
                                threads)
        failed = [f"{r.host}: {r.status}: {r.error}" for r in results if r.status != "ok"]
        if failed:
            raise BootstrapError(f"{len(failed)} host(s) failed: " + "; ".join(failed))
        return tuple(sorted(r.host for r in results))
