"""The ZeroMQ server half: ROUTERs on the job and backend ports; sends never block
(DONTWAIT + ROUTER_MANDATORY)."""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from typing import Any

import zmq
import zmq.asyncio

from directord.drivers import ServerTransport
from directord.drivers.zmq import sockets
from directord.drivers.zmq.auth import Security
from directord.exceptions import DirectordError

LOG = logging.getLogger(__name__)
BIND_RETRY_S = 1.0  # libzmq releases a closed socket's port a moment later, on its I/O thread
BACKEND_USERS = 10_000


def _user_id(frame: zmq.Frame) -> str | None:
    """The ZAP User-Id the authenticator gave this connection, if any."""
    try:
        return frame.get("User-Id")
    except zmq.ZMQError:
        return None


class ZmqServer(ServerTransport):
    """Job ROUTER (identity = node name) and backend ROUTER (identity = one request stream)."""

    name = "zmq"

    def __init__(self, config: Any):
        super().__init__(config)
        self._context = zmq.asyncio.Context.instance()
        self._jobs: zmq.asyncio.Socket | None = None
        self._backend: zmq.asyncio.Socket | None = None
        self.security = Security(config)
        self.refused = 0  # messages from a key that may not speak for that identity
        self._backend_users: collections.OrderedDict[str, str | None] = collections.OrderedDict()

    async def start(self) -> None:
        self.security.start_server(self._context)
        self._jobs = await self._bind(self.config.job_port, "job")
        self._backend = await self._bind(self.config.backend_port, "backend")

    async def _bind(self, port: int, what: str) -> zmq.asyncio.Socket:
        sock = self._context.socket(zmq.ROUTER)
        sockets.tune(sock, self.config)
        self.security.server_socket(sock)
        sock.setsockopt(zmq.ROUTER_MANDATORY, 1)
        sock.setsockopt(zmq.ROUTER_HANDOVER, 1)
        address = f"tcp://{self.config.zmq_bind_address}:{port}"
        deadline = time.monotonic() + BIND_RETRY_S
        while True:
            try:
                sock.bind(address)
                break
            except zmq.ZMQError as exc:
                if exc.errno == zmq.EADDRINUSE and time.monotonic() < deadline:
                    await asyncio.sleep(0.005)
                    continue
                sock.close(0)
                self.close()
                raise DirectordError(f"cannot bind the {what} port {address}: {exc}") from None
        LOG.debug("%s channel bound on %s", what, address)
        return sock

    async def recv(self) -> tuple[str, bytes]:
        while True:
            if self._jobs is None:
                raise ConnectionError("the job channel is closed")
            parts = await self._jobs.recv_multipart(copy=False)
            if len(parts) != 2:
                LOG.debug("dropped a message of %d frames (wrong frame count)", len(parts))
                continue
            identity = parts[0].bytes.decode("utf-8", "replace")
            if not self.security.curve or self.security.allows(identity, _user_id(parts[1])):
                return identity, parts[1].bytes
            self.refused += 1
            LOG.warning("refused a message claiming to be %r from key %r", identity[:64], _user_id(parts[1]))

    def send(self, identity: str, frame: bytes) -> bool:
        return sockets.send(self._jobs, [identity.encode(), frame], identity)

    async def backend_recv(self) -> tuple[str, bytes]:
        while True:
            if self._backend is None:
                raise ConnectionError("the backend channel is closed")
            parts = await self._backend.recv_multipart(copy=False)
            if len(parts) != 2:
                LOG.debug("dropped a backend message of %d frames", len(parts))
                continue
            peer = parts[0].bytes.decode("utf-8", "replace")
            if self.security.curve:
                self._backend_users[peer] = _user_id(parts[1])
                while len(self._backend_users) > BACKEND_USERS:
                    self._backend_users.popitem(last=False)
            return peer, parts[1].bytes

    def backend_reply(self, peer: str, frame: bytes) -> bool:
        return sockets.send(self._backend, [peer.encode(), frame], peer)

    def may_act_as(self, peer: str, node: str) -> bool:
        return not self.security.curve or self.security.allows(node, self._backend_users.get(peer))

    def close(self) -> None:
        for sock in (self._jobs, self._backend):
            if sock is not None:
                sock.close(0)
        self._jobs = self._backend = None
        self.security.stop()
