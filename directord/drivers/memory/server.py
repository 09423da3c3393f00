"""The memory driver's server half: the listener of its hub."""

from __future__ import annotations

import logging
from typing import Any

from directord.drivers import ServerTransport
from directord.drivers.memory.hub import Listener, Mailbox, hub
from directord.exceptions import DirectordError

LOG = logging.getLogger(__name__)


def _valid(item: tuple[Any, Any]) -> bool:
    return isinstance(item[0], str) and isinstance(item[1], bytes)


class MemoryServer(ServerTransport):
    """Frames arrive tagged with the identity their client transport was made with."""

    name = "memory"

    def __init__(self, config: Any):
        super().__init__(config)
        self.hub = hub(str(config.memory_hub))
        self._listener: Listener | None = None

    async def start(self) -> None:
        listener = Listener(Mailbox(), Mailbox())
        with self.hub.lock:
            if self.hub.server is not None:
                raise DirectordError(f"memory hub {self.hub.name!r} already has a server")
            self.hub.server = self._listener = listener

    def _started(self) -> Listener:
        if self._listener is None:
            raise ConnectionError(f"the server of memory hub {self.hub.name!r} is not started")
        return self._listener

    async def recv(self) -> tuple[str, bytes]:
        while True:
            item = await self._started().frames.get()
            if _valid(item):
                return item
            LOG.debug("dropped a frame that is not bytes from %r", item[0])

    def send(self, identity: str, frame: bytes) -> bool:
        inbox = self.hub.clients.get(identity)
        return self._listener is not None and inbox is not None and inbox.put(frame)

    async def backend_recv(self) -> tuple[str, bytes]:
        while True:
            item = await self._started().requests.get()
            if _valid(item):
                return item
            LOG.debug("dropped a backend request that is not bytes from %r", item[0])

    def backend_reply(self, peer: str, frame: bytes) -> bool:
        replies = self.hub.backends.get(peer.partition("/")[0])
        if self._listener is None or replies is None:
            return False
        replies.put((peer, frame))
        return True

    def close(self) -> None:
        with self.hub.lock:
            if self._listener is not None and self.hub.server is self._listener:
                self.hub.server = None
        self._listener = None
