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
    """The server's half: node frames in and out, and backend requests to answer.

    An exclusive driver (``shared = False``) lets one server start on an address;
    a shared one lets several start, and ``lead()`` picks the one that serves the
    nodes: the others stand by until its lease runs out.
    """

    name = "base"
    shared: ClassVar[bool] = False

    def __init__(self, config: Any):
        self.config = config

    @abc.abstractmethod
    async def start(self) -> None:
        """Start listening for nodes and backend requests (DirectordError when the address is taken)."""

    @abc.abstractmethod
    async def recv(self) -> tuple[str, bytes]:
        """The next frame from a node and that node's authenticated identity."""

    async def recv_batch(self, limit: int) -> list[tuple[str, bytes]]:
        """At least one and at most ``limit`` frames, as ``recv`` returns them, in arrival order.

        A driver that can read what is waiting in one go overrides this: the
        server handles a batch at once and sends its replies after it.
        """
        return [await self.recv()]

    @abc.abstractmethod
    def send(self, identity: str, frame: bytes) -> bool:
        """Queue one frame for node ``identity`` without blocking; False when it cannot be queued."""

    @abc.abstractmethod
    async def backend_recv(self) -> tuple[str, bytes]:
        """The next backend request and the peer to reply to."""

    @abc.abstractmethod
    def backend_reply(self, peer: str, frame: bytes) -> bool:
        """Answer backend peer ``peer`` without blocking; False when it cannot be queued."""

    async def lead(self, server_id: str, ttl: float) -> bool:
        """Claim, or renew for ``ttl`` s, the right to serve the nodes; True while this server has it.
        The active server calls it every heartbeat; only then do ``recv``/``backend_recv`` deliver."""
        return True

    async def leader(self) -> str | None:
        """The id of the server that serves the nodes now (None: an exclusive driver, or nobody)."""
        return None

    async def resign(self, server_id: str) -> None:
        """Give the lease up at once (a clean stop), so a standby need not wait for it to run out."""
        return None

    async def forward(self, request: bytes, timeout: float) -> bytes:
        """A standby's way to the active server: send a user request, wait for its answer
        (TimeoutError after ``timeout`` s; ConnectionError on a driver with one server)."""
        raise ConnectionError(f"the {self.name} driver has one server: there is none to forward to")

    async def forwarded_recv(self) -> tuple[str, bytes]:
        """The active server's side: the next request a standby forwarded, and the peer to answer."""
        import asyncio  # here, not at the top: every command imports this module, few need asyncio

        never: asyncio.Future[tuple[str, bytes]] = asyncio.get_running_loop().create_future()
        return await never  # an exclusive driver has no standbys

    def forwarded_reply(self, peer: str, frame: bytes) -> bool:
        """Answer a forwarded request without blocking; False when it cannot be queued."""
        return False

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
    def generate_keys(cls, config: Any, names: Sequence[str] = ()) -> list[tuple[str, str]]:
        """New credentials: per-node ones for ``names``, else the server's and the shared
        client's; returns (owner, file written or URL to start the node with) rows."""
        raise ConfigError(f"the {cls.name} driver has no keys to generate")
