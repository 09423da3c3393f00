"""The backend channel: file chunks for ADD/COPY and shipped components, job lookups.

A node may read a file only while a job that names it (``from`` or
``component.path``) is running on that node; everything else is refused.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from directord import wire
from directord.drivers import ServerTransport
from directord.job import Job
from directord.models import FINAL_STATES, Control, Message
from directord.server.jobs import JobTable

LOG = logging.getLogger(__name__)
MAX_CHUNK = 4 * 1024 * 1024
REFUSED_PEER = "this key may not act for that node"


def transfer_sources(job: Job) -> set[str]:
    """Files a job allows its nodes to fetch: its ``from`` files and its component file."""
    sources = {str(path) for path in job.get("from") or [] if isinstance(path, str)}
    if job.component is not None and "path" in job.component:
        sources.add(job.component["path"])
    return sources


def _read(path: str, offset: int, size: int) -> tuple[bytes, bool]:
    """A chunk of ``path`` and whether it is the last one."""
    with open(path, "rb") as handle:
        handle.seek(offset)
        chunk = handle.read(size)
        return chunk, len(chunk) < size or offset + len(chunk) >= os.fstat(handle.fileno()).st_size


class BackendService:
    """Serves backend requests on the server's event loop."""

    def __init__(self, transport: ServerTransport, jobs: JobTable):
        self.transport = transport
        self.jobs = jobs
        self.dropped = wire.DropCounter(LOG)

    async def run(self) -> None:
        await wire.receive_loop(self.transport.backend_recv, self.dropped, self._serve)

    async def _serve(self, peer: str, messages: list[Message]) -> None:
        for message in messages:
            try:
                node = str(message.data.get("node", "")) if isinstance(message.data, dict) else ""
                if self.transport.may_act_as(peer, node):
                    reply = await self.answer(message)
                else:
                    reply = Message(message.msg_id, Control.JOB_FAILED.value, info=REFUSED_PEER)
            except Exception as exc:  # never let one request stop the channel
                LOG.exception("backend request %s failed", message.msg_id)
                reply = Message(message.msg_id, Control.JOB_FAILED.value, info=f"backend error: {exc}")
            self.transport.backend_reply(peer, wire.encode([reply]))

    async def answer(self, message: Message) -> Message:
        data = message.data if isinstance(message.data, dict) else {}
        if message.control == Control.TRANSFER_START.value:
            return await self._chunk(message, data)
        if message.control == Control.COORDINATION_NOTICE.value:
            return self._job_states(message, data)
        return Message(message.msg_id, Control.JOB_FAILED.value, info="unknown backend request")

    async def _chunk(self, message: Message, data: dict[str, Any]) -> Message:
        failed = Control.JOB_FAILED.value
        record = self.jobs.running(message.msg_id)
        path = message.info or ""
        node = str(data.get("node", ""))
        if record is None or not record.has_node(node) or path not in transfer_sources(record.definition):
            return Message(message.msg_id, failed, info=f"transfer of [ {path} ] is not allowed for this job")
        try:
            offset = int(message.command)
            size = min(int(data.get("size", MAX_CHUNK)), MAX_CHUNK)
            chunk, last = await asyncio.get_running_loop().run_in_executor(None, _read, path, offset, size)
        except FileNotFoundError:
            return Message(message.msg_id, failed, info=f"File [ {path} ] was not found")
        except (OSError, ValueError) as exc:
            return Message(message.msg_id, failed, info=f"cannot read [ {path} ]: {exc}")
        control = Control.TRANSFER_END if last else Control.JOB_PROCESSING
        return Message(message.msg_id, control.value, message.command, data=chunk)

    def _job_states(self, message: Message, data: dict[str, Any]) -> Message:
        """JOB_WAIT: which of ``identities`` finished a job with fingerprint ``sha``."""
        sha = str(data.get("sha", ""))
        states = self.jobs.fingerprint_states(sha)
        wanted = [str(i) for i in data.get("identities") or []]
        found = {node: states[node] for node in wanted if states.get(node) in FINAL_STATES}
        return Message(message.msg_id, Control.COORDINATION_ACK.value, data=found)
