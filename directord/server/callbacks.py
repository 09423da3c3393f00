"""Jobs that jobs make: a node's ``block_on_tasks`` and a component's follow-ups (QUERY)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from directord.models import JobRecord
from directord.server.dispatch import Dispatcher
from directord.server.jobs import JobTable
from directord.server.registry import NodeRegistry

LOG = logging.getLogger(__name__)


class Callbacks:
    """Submits the jobs a node or a component asks for, each once, marked ``callback``
    (a callback is never what ``last`` names)."""

    def __init__(self, registry: NodeRegistry, jobs: JobTable, dispatcher: Dispatcher):
        self._registry = registry
        self._jobs = jobs
        self._dispatcher = dispatcher

    def node_tasks(self, identity: str, tasks: list[Any]) -> None:
        """Dispatch a component's ``block_on_tasks`` once each (a re-sent status repeats them).

        A task's own ``targets`` decide where it runs (all live nodes when absent);
        an empty ``identity`` becomes every live node, as QUERY_WAIT-style tasks expect.
        """
        live = [n.identity for n in self._registry.live()]
        for task in tasks:
            if not isinstance(task, dict) or not task.get("job_id") or self._jobs.get(str(task["job_id"])):
                continue
            if "identity" in task and not task["identity"]:
                task["identity"] = live
            try:
                self._dispatcher.submit([{**task, "callback": True}])
            except Exception as exc:  # noqa: BLE001 - a node's bad task is refused, never fatal
                LOG.warning("callback task %s from %s refused: %s", task.get("job_id"), identity, exc)

    def coordinate(self, job_id: str, coordinate: Callable[[JobRecord], list[dict[str, Any]] | None]) -> None:
        """Let a component (QUERY) answer its nodes once they all reported; its follow-ups go out once."""
        record = self._jobs.get(job_id)
        if record is None or record.coordinated:
            return
        follow_up = coordinate(record)
        if follow_up:
            record.coordinated = True
            self._dispatcher.submit([{**job, "callback": True} for job in follow_up])
