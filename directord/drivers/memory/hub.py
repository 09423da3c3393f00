"""The memory driver's meeting points: one hub per name in this process."""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

LOG = logging.getLogger(__name__)
LIMIT = 65536  # frames one mailbox holds before sends to it fail
Item = TypeVar("Item")


class Mailbox(Generic[Item]):
    """An asyncio queue of the event loop that created it, fed without blocking from any thread."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[Item] = asyncio.Queue(LIMIT)

    def put(self, item: Item) -> bool:
        """Queue ``item``; False when the mailbox is full or its loop is gone."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            try:
                self._queue.put_nowait(item)
            except asyncio.QueueFull:
                return False
            return True
        try:
            self.loop.call_soon_threadsafe(self._put_later, item)
        except RuntimeError:  # the loop is closed
            return False
        return True

    def _put_later(self, item: Item) -> None:
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            LOG.debug("dropped a frame for a full mailbox")

    async def get(self) -> Item:
        return await self._queue.get()

    def clear(self) -> None:
        while not self._queue.empty():
            self._queue.get_nowait()


@dataclass
class Listener:
    """A started server: where node frames and backend requests go."""

    frames: Mailbox[tuple[Any, Any]]
    requests: Mailbox[tuple[Any, Any]]


@dataclass
class Hub:
    """Who is on one hub: the server, each client's inbox, each backend connection's replies."""

    name: str
    server: Listener | None = None
    clients: dict[str, Mailbox[bytes]] = field(default_factory=dict)
    backends: dict[str, queue.SimpleQueue[tuple[str, bytes]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


_HUBS: dict[str, Hub] = {}
_HUBS_LOCK = threading.Lock()


def hub(name: str) -> Hub:
    """The hub called ``name``, created on first use."""
    with _HUBS_LOCK:
        return _HUBS.setdefault(name, Hub(name))
