"""The user API's requests: what each call on the unix socket does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from directord import plugins
from directord.analysis import analyze
from directord.datastores import Datastore
from directord.delivery import Delivery
from directord.exceptions import NotFound, RequestError
from directord.models import JobRecord
from directord.server.api import Handler
from directord.server.dispatch import Dispatcher
from directord.server.jobs import JobTable
from directord.server.registry import NodeRegistry

WAIT_LIMIT = 60.0


def wait_request(request: dict[str, Any]) -> tuple[list[str], float]:
    """The job ids and the timeout (at most ``WAIT_LIMIT`` s) of a ``wait`` request."""
    ids = request.get("job_ids")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise RequestError("wait needs a list of job ids")
    return ids, min(max(float(request.get("timeout", 1.0)), 0.0), WAIT_LIMIT)


def analysis(request: dict[str, Any], find: Callable[[str], JobRecord],
             records: Callable[[], list[JobRecord]]) -> dict[str, Any]:
    """Analysis of one parent (``parent_id``), one job (``job_id``) or every job.

    ``last`` names the last submitted job, or as a parent that job's parent.
    """
    if request.get("job_id"):
        record = find(str(request["job_id"]))
        return analyze(record.job_id, [record])
    parent = request.get("parent_id")
    if parent == "last":
        parent = find("last").parent_id
    every = records()
    if parent:
        of_parent = [r for r in every if r.parent_id == parent]
        if not of_parent:
            raise NotFound(f"No data found for parent {parent}")
        return analyze(str(parent), of_parent)
    if not every:
        raise NotFound("No data found")
    return analyze("All-Jobs", every)


class UserApi:
    """One handler per request name (``handlers``); each returns JSON-ready data or raises
    a DirectordError, which the caller gets as ``{"ok": false, ...}``."""

    def __init__(self, store: Datastore, registry: NodeRegistry, delivery: Delivery, jobs: JobTable,
                 dispatcher: Dispatcher, expire_nodes: Callable[[], None]):
        self._store = store
        self._registry = registry
        self._delivery = delivery
        self._jobs = jobs
        self._dispatcher = dispatcher
        self._expire_nodes = expire_nodes

    def handlers(self) -> dict[str, Handler]:
        return {
            "submit": self.submit,
            "wait": self.wait,
            "list_nodes": self.list_nodes,
            "list_jobs": self.list_jobs,
            "job_info": self.job_info,
            "purge_nodes": self.purge_nodes,
            "purge_jobs": self.purge_jobs,
            "analyze": self.analyze,
            "job_changes": self.job_changes,
            "timeline": self.timeline,
        }

    async def submit(self, request: dict[str, Any]) -> dict[str, Any]:
        jobs = request.get("jobs")
        if not isinstance(jobs, list) or not jobs:
            raise RequestError("submit needs a non-empty list of jobs")
        return self._dispatcher.submit(jobs)

    async def wait(self, request: dict[str, Any]) -> dict[str, Any]:
        return await self._jobs.wait(*wait_request(request))

    async def list_nodes(self, _request: dict[str, Any]) -> list[dict[str, Any]]:
        self._expire_nodes()  # a node missing from the list has had its unfinished jobs failed
        return [node.to_dict() for node in self._registry.live()]

    async def list_jobs(self, _request: dict[str, Any]) -> list[dict[str, Any]]:
        self._jobs.flush()
        return [record.to_dict() for record in self._store.jobs()]

    async def job_info(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._jobs.find(str(request.get("job_id") or "last")).to_dict()

    async def job_changes(self, request: dict[str, Any]) -> dict[str, Any]:
        """Compact rows of the jobs changed since ``since`` (a version of ``epoch``): how a dashboard
        follows 10,000 jobs without reading them all each time."""
        try:
            since = int(request.get("since") or 0)
        except (TypeError, ValueError):
            raise RequestError("job_changes needs an integer 'since'") from None
        return self._jobs.changes(str(request.get("epoch") or ""), since)

    async def timeline(self, request: dict[str, Any]) -> list[dict[str, Any]]:
        """Each job of one parent with every node's round trip, execution time and state."""
        return self._jobs.parent_timelines(str(request.get("parent_id") or "last"))

    async def analyze(self, request: dict[str, Any]) -> dict[str, Any]:
        self._jobs.flush()
        return analysis(request, self._jobs.find, self._store.jobs)

    async def purge_nodes(self, _request: dict[str, Any]) -> dict[str, Any]:
        for node in self._registry.purge():
            self._delivery.forget(node.identity)
            plugins.fire("directord_node_left", node=node.to_dict(), reason="purged")
        self._store.clear_nodes()
        return {"success": True}

    async def purge_jobs(self, _request: dict[str, Any]) -> dict[str, Any]:
        self._jobs.purge()
        self._delivery.clear_unacked()
        return {"success": True}
