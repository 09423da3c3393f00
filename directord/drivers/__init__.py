"""The transport contract: drivers move opaque frames between the server and its nodes.

Encoding (``directord.wire``), delivery guarantees (acks, re-sends,
de-duplication) and heartbeats live above the driver, so every driver gets
them for free. A driver plugin (``Driver``, the ``directord.drivers`` entry
point) declares its own options and builds two halves:

* ``ServerTransport``: frames from nodes with each sender's authenticated
  identity, frames to a node, and the backend's request/reply service;
* ``ClientTransport``: one node's link to the server, plus ``open_backend()``,
  a blocking request/reply connection for a component's worker thread.

No send ever blocks the event loop: it returns False when the frame cannot be
queued right now (unknown peer, full buffer) and the caller keeps it for a re-send.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any, ClassVar

from directord.config import Option
from directord.exceptions import ConfigError


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


class ServerTransport(abc.ABC):
    """The server's half: node frames in and out, and backend requests to answer."""

    name = "base"

    def __init__(self, config: Any):
        self.config = config

    @abc.abstractmethod
    async def start(self) -> None:
        """Start listening for nodes and backend requests (DirectordError when the address is taken)."""

    @abc.abstractmethod
    async def recv(self) -> tuple[str, bytes]:
        """The next frame from a node and that node's authenticated identity."""

    @abc.abstractmethod
    def send(self, identity: str, frame: bytes) -> bool:
        """Queue one frame for node ``identity`` without blocking; False when it cannot be queued."""

    @abc.abstractmethod
    async def backend_recv(self) -> tuple[str, bytes]:
        """The next backend request and the peer to reply to."""

    @abc.abstractmethod
    def backend_reply(self, peer: str, frame: bytes) -> bool:
        """Answer backend peer ``peer`` without blocking; False when it cannot be queued."""

    def may_act_as(self, peer: str, node: str) -> bool:
        """May backend peer ``peer`` ask on behalf of ``node``? (drivers with authentication narrow this)"""
        return True

    @abc.abstractmethod
    def close(self) -> None:
        """Stop listening and release the address; pending frames are dropped."""


class ClientTransport(abc.ABC):
    """One node's half: frames to and from the server, and backend connections."""

    name = "base"

    def __init__(self, config: Any, identity: str | None = None):
        self.config = config
        self.identity = identity or config.identity

    @abc.abstractmethod
    async def connect(self) -> None:
        """Connect to the server (and again by itself whenever the server restarts)."""

    async def reconnect(self) -> None:
        """Drop the connection and its queued frames, connect again."""
        self.close()
        await self.connect()

    @abc.abstractmethod
    async def recv(self) -> bytes:
        """The next frame from the server."""

    @abc.abstractmethod
    def send(self, frame: bytes) -> bool:
        """Queue one frame for the server without blocking; False when it cannot be queued."""

    @abc.abstractmethod
    def open_backend(self) -> BackendConnection:
        """A new blocking backend connection, usable from any thread."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the connection; pending frames are dropped."""


class Driver(abc.ABC):
    """A driver plugin: its options (flag, ``DIRECTORD_*`` variable, config key) and its two halves."""

    name = "base"
    options: ClassVar[tuple[Option, ...]] = ()

    @classmethod
    @abc.abstractmethod
    def server_transport(cls, config: Any) -> ServerTransport:
        """The server's half, configured by ``config``."""

    @classmethod
    @abc.abstractmethod
    def client_transport(cls, config: Any, identity: str | None = None) -> ClientTransport:
        """A node's half; ``identity`` defaults to ``config.identity``."""

    @classmethod
    def generate_keys(cls, config: Any, names: Sequence[str] = ()) -> list[str]:
        """Write new key pairs: per-node ones for ``names``, else the server's and the shared
        client's; returns the files written."""
        raise ConfigError(f"the {cls.name} driver has no keys to generate")
