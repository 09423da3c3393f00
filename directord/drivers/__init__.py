"""The transport contract: drivers move opaque frames between server and nodes.

Encoding (``directord.wire``), delivery guarantees (acks, re-sends,
de-duplication) and heartbeats live above the driver, so every driver gets
them for free. A driver only has to:

* on the server: ``bind()``, ``recv()`` -> ``(identity, frame)``,
  ``send(identity, frame)``, and the backend channel (file chunks,
  coordination) ``backend_recv()`` / ``backend_send(identity, frame)``;
* on a client: ``connect()``, ``recv()`` -> ``("", frame)``,
  ``send(None, frame)``, ``reconnect()``, and ``open_backend()``: a blocking
  request/reply connection for a component's worker thread;
* never block the event loop: ``send`` returns False when a frame cannot be
  queued right now (unknown peer, full buffer); the caller keeps it for a re-send.
"""

from __future__ import annotations

import abc
from typing import Any


class BackendConnection(abc.ABC):
    """A blocking request/reply stream to the server's backend (one per transfer)."""

    @abc.abstractmethod
    def request(self, frame: bytes, timeout: float) -> bytes:
        """Send one frame and wait for the reply; TimeoutError after ``timeout`` s."""

    @abc.abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> BackendConnection:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class Driver(abc.ABC):
    """Base class of every driver plugin (``directord.drivers``)."""

    name = "base"

    def __init__(self, config: Any, identity: str | None = None):
        self.config = config
        self.identity = identity or config.identity

    @abc.abstractmethod
    async def bind(self) -> None:
        """Server: start listening for nodes."""

    @abc.abstractmethod
    async def connect(self) -> None:
        """Client: connect to the server (reconnects by itself when it restarts)."""

    async def reconnect(self) -> None:
        """Client: drop the connection and its queued frames, connect again."""
        self.close()
        await self.connect()

    @abc.abstractmethod
    async def recv(self) -> tuple[str, bytes]:
        """Next frame and the sender identity ("" on the client side)."""

    @abc.abstractmethod
    def send(self, identity: str | None, frame: bytes) -> bool:
        """Queue one frame without blocking; False when it could not be queued."""

    @abc.abstractmethod
    async def backend_recv(self) -> tuple[str, bytes]:
        """Server: next backend request and its sender."""

    @abc.abstractmethod
    def backend_send(self, identity: str, frame: bytes) -> bool:
        """Server: reply on the backend without blocking."""

    def may_act_as(self, identity: str, node: str) -> bool:
        """Server: may backend peer ``identity`` act for ``node``? (drivers with auth narrow this)"""
        return True

    @abc.abstractmethod
    def open_backend(self) -> BackendConnection:
        """Client: a new blocking backend connection (usable from any thread)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release sockets; pending frames are dropped."""
