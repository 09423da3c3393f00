"""QUERY: gather one cached arg from every node into ``args.query[node][KEY]`` everywhere.

Every live node answers with its value; the server gathers the answers and
sends one ARG job to every node (``coordinate``). Nodes among the requested
targets wait until every answer has arrived in their own args, so the next job
of the orchestration can use ``{{ query }}``.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from directord import components
from directord.components import Plan
from directord.components.lib import ComponentResult
from directord.exceptions import ComponentError
from directord.fingerprint import object_sha3_224
from directord.job import Job
from directord.models import Control, JobRecord

POLL = 0.02


def gathered(cache: Any, nodes: list[str], key: str) -> bool:
    """True once ``args.query[node]`` holds ``key`` for every node."""
    query = (cache.get("args") or {}).get("query") or {}
    return all(isinstance(query.get(n), dict) and key in query[n] for n in nodes)


class Component(components.ComponentBase):
    cacheable = False
    requires_lock = False
    examples = ("greeting", "--no-wait facter")

    def __init__(self) -> None:
        super().__init__(desc="Gather a cached arg from every node into args.query on every node.")

    def args(self) -> None:
        super().args()
        self.parser.add_argument("--no-wait", action="store_true", help="Do not wait for the other nodes.")
        self.parser.add_argument("query", metavar="KEY", help="The arg to gather.")

    def server(self, exec_array: Any, data: dict[str, Any], arg_vars: Any) -> dict[str, Any]:
        super().server(exec_array=exec_array, data=data, arg_vars=arg_vars)
        if self.unknown_args:
            raise ComponentError(f"QUERY: give exactly one arg name, not {self.unknown_args}")
        data["query"] = self.known_args.query
        data["no_wait"] = bool(self.known_args.no_wait)
        return data

    # -- server side (the directord server process) ---------------------------
    @staticmethod
    def plan(job: Job, targets: list[str], live: list[str]) -> Plan:
        """Ask every live node; only the requested targets wait for the answers."""
        return Plan(live, {"requested_targets": targets, "query_nodes": live})

    @staticmethod
    def coordinate(record: JobRecord) -> list[dict[str, Any]] | None:
        """Once every node answered (or failed), the ARG job that spreads the answers."""
        key = record.definition.get("query")
        answers: dict[str, Any] = {}
        for node, state in record.processing.items():
            if state == Control.JOB_FAILED.value:  # failed: answer null so nobody waits forever
                answers[node] = {key: None}
                continue
            text = record.stdout.get(node)
            if text is None:
                return None
            try:
                answers[node] = json.loads(text)
            except ValueError:
                answers[node] = {key: None}
        job = {"verb": "ARG", "args": {"query": answers}, "extend_args": True, "timeout": 600,
               "run_once": False}
        job["job_sha3_224"] = object_sha3_224({**job, "nonce": str(uuid.uuid4())})
        job.update(skip_cache=True, parent_async_bypass=True, job_name=f"QUERY {key}",
                   parent_id=record.parent_id)
        return [job]

    # -- node side -----------------------------------------------------------
    def client(self, cache: Any, job: dict[str, Any]) -> ComponentResult:
        key = job["query"]
        stdout = json.dumps({key: (cache.get("args") or {}).get(key)})
        self.services.publish(stdout=stdout, info=key)
        identity = self.services.identity
        if job.get("no_wait") or identity not in job.get("requested_targets", [identity]):
            return ComponentResult(stdout, None, True, key)
        nodes = job.get("query_nodes") or []
        while not gathered(cache, nodes, key):
            if not self.services.sleep(POLL):
                return ComponentResult.failed("interrupted while waiting for the query answers", stdout, key)
        return ComponentResult(stdout, None, True, key)
