"""JOB_WAIT: block until a job fingerprint has finished on the given nodes."""

from __future__ import annotations

import time
import uuid
from typing import Any

from directord import components, wire
from directord.components import lib
from directord.models import Control, Message

POLL = 0.25
REQUEST_TIMEOUT = 10.0


class Component(components.ComponentBase):
    cacheable = False

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

    def client(self, cache: Any, job: dict[str, Any]) -> tuple[Any, Any, Any, Any]:
        wanted = list(dict.fromkeys(job.get("identity") or []))
        with self.driver.open_backend() as connection:
            while True:
                request = Message(str(uuid.uuid4()), Control.COORDINATION_NOTICE.value,
                                  data={"sha": job["job_sha"], "identities": wanted})
                try:
                    reply = wire.decode(connection.request(wire.encode([request]), REQUEST_TIMEOUT))[0]
                except (TimeoutError, wire.WireError) as exc:
                    return None, f"coordination failed: {exc}", False, None
                states = reply.data if isinstance(reply.data, dict) else {}
                failed = sorted(n for n, s in states.items() if s == Control.JOB_FAILED.value)
                if failed:
                    return None, f"job {job['job_sha']} failed on {', '.join(failed)}", False, None
                if len(states) == len(wanted):
                    return f"job {job['job_sha']} finished on {', '.join(wanted)}", None, True, None
                context = lib.current_context()
                if context is not None and context.killed:
                    return None, "interrupted while waiting", False, None
                time.sleep(POLL)
