"""JOB_WAIT: block until a job fingerprint has finished on the given nodes."""

from __future__ import annotations

from typing import Any

from directord import components
from directord.components.lib import ComponentResult
from directord.components.services import ServiceError
from directord.models import Control

POLL = 0.25


class Component(components.ComponentBase):
    cacheable = False
    examples = ("3f" * 28 + " --identity node1 node2",)

    def __init__(self) -> None:
        super().__init__(desc="Wait until the job with fingerprint SHA finished on the given nodes.")

    def args(self) -> None:
        super().args()
        self.parser.add_argument("--identity", nargs="+", required=True, help="Nodes to wait for.")
        self.parser.add_argument("sha", metavar="SHA", help="The job fingerprint (job_sha3_224).")

    def server(self, exec_array: Any, data: dict[str, Any], arg_vars: Any) -> dict[str, Any]:
        super().server(exec_array=exec_array, data=data, arg_vars=arg_vars)
        data["job_sha"] = self.known_args.sha
        data["identity"] = self.known_args.identity
        return data

    def client(self, cache: Any, job: dict[str, Any]) -> ComponentResult:
        wanted = list(dict.fromkeys(job.get("identity") or []))
        while True:
            try:
                states = self.services.job_states(job["job_sha"], wanted)
            except ServiceError as exc:
                return ComponentResult.failed(f"coordination failed: {exc}")
            failed = sorted(n for n, s in states.items() if s == Control.JOB_FAILED.value)
            if failed:
                return ComponentResult.failed(f"job {job['job_sha']} failed on {', '.join(failed)}")
            if len(states) == len(wanted):
                return ComponentResult(f"job {job['job_sha']} finished on {', '.join(wanted)}", None, True)
            if not self.services.sleep(POLL):
                return ComponentResult.failed("interrupted while waiting")
