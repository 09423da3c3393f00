"""What the dashboard knows of its server: the nodes and a compact row per job.

The feed polls the server's user API (the same unix socket as the CLI) from
a worker thread: the node list, and only the job rows that changed since its
last look, so following 10,000 jobs costs the server a few rows a poll.
Pages wait on ``changed`` and fetch what they show again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from directord.exceptions import DirectordError
from directord.user import UserClient

LOG = logging.getLogger(__name__)
POLL_S = 0.5  # a change on the server shows in a page within about this long
GONE_KEPT = 10_000  # expired nodes still shown (the oldest forgotten first)
NODE_KEYS = ("identity", "state", "held", "version", "driver", "server", "machine_id")  # a change worth a redraw


class Feed:
    """The server's nodes and job rows, refreshed every ``POLL_S`` by ``run``."""

    def __init__(self, user: UserClient):
        self.user = user
        self.nodes: list[dict[str, Any]] = []
        self.gone: dict[str, dict[str, Any]] = {}  # nodes that left the server's list (expired), by identity
        self.jobs: dict[str, dict[str, Any]] = {}  # job id -> row, in submission order
        self.error = ""  # why the server could not be read, "" while it answers
        self.version = 0  # counts changes a page would show
        self._epoch, self._since = "", 0
        self._changed = asyncio.Event()

    async def run(self) -> None:
        while True:
            await self.refresh()
            await asyncio.sleep(POLL_S)

    async def refresh(self) -> None:
        """One look at the server; wakes the waiting pages when something changed."""
        try:
            nodes, changes = await asyncio.to_thread(self._read)
        except DirectordError as exc:
            changed = self.error != str(exc)
            self.error = str(exc)
        else:
            changed = bool(self.error) or _node_view(nodes) != _node_view(self.nodes) or bool(changes["rows"])
            self._note_gone(nodes)
            self.error, self.nodes = "", nodes
            if changes["full"]:
                self.jobs = {}
                changed = True
            columns = changes["columns"]
            for values in changes["rows"]:
                row = dict(zip(columns, values, strict=True))
                self.jobs[row["id"]] = row
            self._epoch, self._since = changes["epoch"], changes["version"]
        if changed:
            self.version += 1
            self._changed.set()
            self._changed = asyncio.Event()

    def _note_gone(self, nodes: list[dict[str, Any]]) -> None:
        here = {node["identity"] for node in nodes}
        for node in self.nodes:
            if node["identity"] not in here:
                self.gone[node["identity"]] = {**node, "state": "expired", "expiry": 0.0, "left": time.time()}
        for identity in here:
            self.gone.pop(identity, None)
        while len(self.gone) > GONE_KEPT:
            self.gone.pop(next(iter(self.gone)))

    def _read(self) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        return self.user.call("list_nodes"), self.user.call("job_changes", epoch=self._epoch, since=self._since)

    async def changed(self, version: int, timeout: float) -> int:
        """The version once it differs from ``version`` (or after ``timeout``)."""
        if self.version == version:
            try:
                await asyncio.wait_for(self._changed.wait(), timeout)
            except TimeoutError:
                pass
        return self.version


def _node_view(nodes: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [tuple(node.get(key) for key in NODE_KEYS) for node in nodes]
