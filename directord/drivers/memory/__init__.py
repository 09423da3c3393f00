"""Memory driver: a server and its clients in one process, over asyncio queues.

They meet on a process-wide hub named by ``--memory-hub``; backend requests
work from worker threads too. Nothing leaves the process, so there is no
authentication: every client is who it says it is.
"""

from __future__ import annotations

from typing import Any, ClassVar

from directord.config import Option
from directord.drivers import ClientTransport, Driver, ServerTransport


class MemoryDriver(Driver):
    """In-process transport for tests, examples and embedding."""

    name = "memory"
    options: ClassVar[tuple[Option, ...]] = (
        Option("memory_hub", str, "default", "Hub a memory-driver server and its clients share (one process)."),
    )

    @classmethod
    def server_transport(cls, config: Any) -> ServerTransport:
        from directord.drivers.memory.server import MemoryServer

        return MemoryServer(config)

    @classmethod
    def client_transport(cls, config: Any, identity: str | None = None) -> ClientTransport:
        from directord.drivers.memory.client import MemoryClient

        return MemoryClient(config, identity)
