"""The embedded default: plain dicts in the server process, nothing persists."""

from __future__ import annotations

import time
from collections.abc import Iterable

from directord.datastores import Datastore
from directord.models import JobRecord, Node


class MemoryDatastore(Datastore):
    """Records are held by reference (insertion-ordered), so puts are cheap."""

    def __init__(self, url: str = "memory"):
        super().__init__(url)
        self._nodes: dict[str, Node] = {}
        self._jobs: dict[str, JobRecord] = {}

    def put_node(self, node: Node) -> None:
        self._nodes[node.identity] = node

    def delete_node(self, identity: str) -> None:
        self._nodes.pop(identity, None)

    def nodes(self) -> list[Node]:
        now = time.time()
        return [node for node in self._nodes.values() if node.expire_time > now]

    def clear_nodes(self) -> int:
        count = len(self.nodes())
        self._nodes.clear()
        return count

    def put_jobs(self, records: Iterable[JobRecord]) -> None:
        for record in records:
            self._jobs[record.job_id] = record

    def get_job(self, job_id: str) -> JobRecord | None:
        return self._jobs.get(job_id)

    def jobs(self) -> list[JobRecord]:
        return list(self._jobs.values())

    def last_job(self) -> JobRecord | None:
        return next(reversed(self._jobs.values()), None)

    def clear_jobs(self) -> int:
        count = len(self._jobs)
        self._jobs.clear()
        return count

    def prune_jobs(self, older_than: float) -> int:
        stale = [k for k, rec in self._jobs.items() if rec.last < older_than]
        for key in stale:
            del self._jobs[key]
        return len(stale)
