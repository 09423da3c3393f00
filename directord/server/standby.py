"""The user API of a server standing by: reads come from the shared datastore, the rest
is forwarded to the active server through the transport."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from directord import wire
from directord.datastores import Datastore
from directord.exceptions import ServerUnavailable
from directord.server.api import Handler
from directord.server.jobs import find_record
from directord.server.user_api import analysis, wait_request

WAIT_POLL_S = 0.1  # how often a standby looks at the shared datastore for a job's end
FORWARDED = ("submit", "purge_nodes", "purge_jobs", "job_changes", "timeline")  # the active server knows best


class StandbyApi:
    """What the socket of a standby answers; ``forward`` carries a request to the active server."""

    def __init__(self, store: Datastore, forward: Callable[[bytes, float], Awaitable[bytes]], timeout: float):
        self._store = store
        self._forward = forward
        self._timeout = timeout

    def handlers(self) -> dict[str, Handler]:
        return {
            **dict.fromkeys(FORWARDED, self.forwarded),
            "wait": self.wait,
            "list_nodes": self.list_nodes,
            "list_jobs": self.list_jobs,
            "job_info": self.job_info,
            "analyze": self.analyze,
        }

    async def forwarded(self, request: dict[str, Any]) -> Any:
        """The active server's answer, its errors raised here as the same kind."""
        try:
            raw = await self._forward(json.dumps(request).encode(), self._timeout)
        except (TimeoutError, ConnectionError) as exc:
            raise ServerUnavailable(f"no active server took the request (this server stands by): {exc}") from None
        return wire.reply_result(wire.parse_json(raw))

    async def wait(self, request: dict[str, Any]) -> dict[str, Any]:
        ids, timeout = wait_request(request)
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            records = {job_id: self._store.get_job(job_id) for job_id in ids}
            if all(r is None or r.complete for r in records.values()) \
                    or asyncio.get_running_loop().time() >= deadline:
                return {job_id: r.summary() if r else None for job_id, r in records.items()}
            await asyncio.sleep(WAIT_POLL_S)

    async def list_nodes(self, _request: dict[str, Any]) -> list[dict[str, Any]]:
        return [node.to_dict() for node in self._store.nodes()]

    async def list_jobs(self, _request: dict[str, Any]) -> list[dict[str, Any]]:
        return [record.to_dict() for record in self._store.jobs()]

    async def job_info(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._find(str(request.get("job_id") or "last")).to_dict()

    async def analyze(self, request: dict[str, Any]) -> dict[str, Any]:
        return analysis(request, self._find, self._store.jobs)

    def _find(self, job_id: str) -> Any:
        return find_record(self._store, job_id, self._store.get_job)
