"""The memory driver's client half, and its blocking backend connection."""

from __future__ import annotations

import itertools
import queue
import time
import uuid
from typing import Any

from directord.drivers import BackendConnection, ClientTransport
from directord.drivers.memory.hub import Hub, Mailbox, hub


class MemoryBackend(BackendConnection):
    """Requests go to the hub's server loop; replies come back on a thread-safe queue.

    Each request has a peer name of its own (``<connection>/<n>``), so a reply that
    arrives after its request timed out is never taken for the next one's.
    """

    def __init__(self, on: Hub):
        self.hub = on
        self.name = f"backend-{uuid.uuid4()}"
        self._replies: queue.SimpleQueue[tuple[str, bytes]] = queue.SimpleQueue()
        self._numbers = itertools.count()
        on.backends[self.name] = self._replies

    def request(self, frame: bytes, timeout: float) -> bytes:
        peer = f"{self.name}/{next(self._numbers)}"
        server = self.hub.server
        if server is None or not server.requests.put((peer, frame)):
            raise TimeoutError(f"no server on memory hub {self.hub.name!r}")
        deadline = time.monotonic() + timeout
        while True:
            try:
                replied, reply = self._replies.get(timeout=max(deadline - time.monotonic(), 0.0))
            except queue.Empty:
                raise TimeoutError(f"the server's backend did not answer within {timeout:g}s") from None
            if replied == peer:
                return reply

    def close(self) -> None:
        self.hub.backends.pop(self.name, None)


class MemoryClient(ClientTransport):
    """Registered on its hub under its identity (a newer client of the same name takes over)."""

    name = "memory"

    def __init__(self, config: Any, identity: str | None = None):
        super().__init__(config, identity)
        self.hub = hub(str(config.memory_hub))
        self._inbox: Mailbox[bytes] | None = None
        self._connected = False

    async def connect(self) -> None:
        if self._inbox is None:
            self._inbox = Mailbox()
        with self.hub.lock:
            self.hub.clients[self.identity] = self._inbox
        self._connected = True

    async def recv(self) -> bytes:
        if not self._connected or self._inbox is None:
            raise ConnectionError("the memory client is not connected")
        return await self._inbox.get()

    def send(self, frame: bytes) -> bool:
        server = self.hub.server
        return self._connected and server is not None and server.frames.put((self.identity, frame))

    def open_backend(self) -> BackendConnection:
        return MemoryBackend(self.hub)

    def close(self) -> None:
        """Leave the hub; the inbox object stays, so a pending ``recv`` resumes after a reconnect."""
        with self.hub.lock:
            if self._inbox is not None and self.hub.clients.get(self.identity) is self._inbox:
                del self.hub.clients[self.identity]
        if self._inbox is not None:
            self._inbox.clear()
        self._connected = False
