"""The ZeroMQ server half: ROUTERs on the job and backend ports; sends never block
(DONTWAIT + ROUTER_MANDATORY).

The job channel carries every node's traffic, so it skips zmq.asyncio's
per-message futures: the event loop watches the socket's descriptor and
``recv_batch`` reads what is waiting in one go.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
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
RECV_LIMIT = 1000  # frames one recv() reads ahead
IDENTITIES = 100_000  # decoded node names kept (the same few thousand arrive again and again)
# A frame this big is handed to libzmq by reference, not copied: a fan-out's one frame then
# sits once in memory for 10,000 nodes instead of 10,000 times.
ZERO_COPY_BYTES = 16 * 1024
# The job channel calls the socket's compiled methods directly with plain int flags: pyzmq's
# Python-level send_multipart/recv_multipart cost four times as much as the copy itself.
# Frames (copy=False) tell whether more parts follow without a getsockopt call.
_send, _recv = zmq.backend.Socket.send, zmq.backend.Socket.recv
_MORE, _NOW = int(zmq.SNDMORE | zmq.DONTWAIT), int(zmq.DONTWAIT)


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
        self._jobs: zmq.Socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._readable = asyncio.Event()
        self._check_scheduled = False
        self._waiting: collections.deque[tuple[str, bytes]] = collections.deque()
        self._names: dict[bytes, str] = {}
        self._backend: zmq.asyncio.Socket | None = None
        self.security = Security(config)
        self.refused = 0  # messages from a key that may not speak for that identity
        self._backend_users: collections.OrderedDict[str, str | None] = collections.OrderedDict()

    async def start(self) -> None:
        self.security.start_server(self._context)
        self._jobs = await self._bind(self.config.job_port, "job", zmq.Context.shadow(self._context.underlying))
        self._jobs.copy_threshold = ZERO_COPY_BYTES  # pyzmq copies smaller frames even when asked not to
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self._jobs.getsockopt(zmq.FD), self._readable.set)
        self._backend = await self._bind(self.config.backend_port, "backend", self._context)

    async def _bind(self, port: int, what: str, context: zmq.Context) -> Any:
        sock = context.socket(zmq.ROUTER)
        sockets.tune(sock, self.config, many_peers=True)
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
        if not self._waiting:
            self._waiting.extend(await self.recv_batch(RECV_LIMIT))
        return self._waiting.popleft()

    async def recv_batch(self, limit: int) -> list[tuple[str, bytes]]:
        if self._waiting:
            return [self._waiting.popleft() for _ in range(min(limit, len(self._waiting)))]
        while True:
            if self._jobs is None:
                raise ConnectionError("the job channel is closed")
            self._readable.clear()
            batch = self._read(self._jobs, limit)
            if batch:
                await asyncio.sleep(0)  # what the last batch queued (acks, jobs) leaves before the next one
                return batch
            await self._readable.wait()

    def _read(self, sock: zmq.Socket, limit: int) -> list[tuple[str, bytes]]:
        """Up to ``limit`` waiting frames (the descriptor only signals a change: read until empty)."""
        batch: list[tuple[str, bytes]] = []
        curve = self.security.curve
        while len(batch) < limit:
            try:
                identity = _recv(sock, _NOW, False)
            except zmq.Again:
                break
            payload = _recv(sock, _NOW, False) if identity.more else None
            if payload is None or payload.more:  # a node sends one frame at a time
                while payload is not None and payload.more:
                    payload = _recv(sock, _NOW, False)
                LOG.debug("dropped a message with the wrong frame count")
                continue
            name = self._name(identity.bytes)
            if not curve or self.security.allows(name, _user_id(payload)):
                batch.append((name, payload.bytes))
            else:
                self.refused += 1
                LOG.warning("refused a message claiming to be %r from key %r", name[:64], _user_id(payload))
        return batch

    def _name(self, raw: bytes) -> str:
        """A node's identity as text: one shared string per node, not one per frame."""
        name = self._names.get(raw)
        if name is None:
            if len(self._names) >= IDENTITIES:
                self._names.clear()
            name = self._names[raw] = raw.decode("utf-8", "replace")
        return name

    def send(self, identity: str, frame: bytes) -> bool:
        if self._jobs is None:
            return False
        try:
            _send(self._jobs, identity.encode(), _MORE)
            _send(self._jobs, frame, _NOW, len(frame) < ZERO_COPY_BYTES)
        except zmq.ZMQError as exc:
            LOG.debug("send to %s failed: %s", identity, exc)
            return False
        finally:
            if not self._check_scheduled:  # sending can take the descriptor's "readable" signal
                self._check_scheduled = True
                self._loop.call_soon(self._check_readable)
        return True

    def _check_readable(self) -> None:
        self._check_scheduled = False
        if self._jobs is not None and self._jobs.getsockopt(zmq.EVENTS) & zmq.POLLIN:
            self._readable.set()

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
        if self._jobs is not None:
            if self._loop is not None:
                with contextlib.suppress(RuntimeError, ValueError, OSError):  # the loop is already closed
                    self._loop.remove_reader(self._jobs.getsockopt(zmq.FD))
            self._jobs.close(0)
        if self._backend is not None:
            self._backend.close(0)
        self._jobs = self._backend = None
        self._readable.set()  # a waiting recv sees the channel closed
        self.security.stop()
