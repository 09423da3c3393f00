"""ZeroMQ driver: server ROUTERs bound on the job and backend ports, clients DEALERs.

* job channel: one DEALER per client, identity = the node name;
* backend channel (file chunks, coordination): a short-lived DEALER per
  request stream, opened from a component's worker thread (blocking API).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import uuid
from typing import Any

import zmq
import zmq.asyncio

from directord.drivers import BackendConnection, Driver
from directord.drivers.zmq_auth import Security
from directord.exceptions import DirectordError

LOG = logging.getLogger(__name__)


def _cancelling(task: asyncio.Task) -> bool:
    cancelling = getattr(task, "cancelling", None)  # Python 3.11+
    return bool(cancelling()) if cancelling else False


def _tune(sock: zmq.Socket, config: Any, hwm_factor: int = 4) -> None:
    hwm = int(getattr(config, "zmq_highwater_mark", 1024)) * hwm_factor
    sock.setsockopt(zmq.SNDHWM, hwm)
    sock.setsockopt(zmq.RCVHWM, hwm)
    sock.setsockopt(zmq.LINGER, 0)
    # Transport-level keepalive so a dead TCP peer is noticed even when idle.
    interval_ms = max(int(float(config.heartbeat_interval) * 1000), 100)
    sock.setsockopt(zmq.HEARTBEAT_IVL, interval_ms)
    sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, interval_ms * 3)
    sock.setsockopt(zmq.HANDSHAKE_IVL, max(interval_ms * 3, 2000))  # a stuck handshake is retried


def _user_id(frame: zmq.Frame) -> str | None:
    """The ZAP User-Id the server's authenticator gave this connection, if any."""
    try:
        return frame.get("User-Id")
    except zmq.ZMQError:
        return None


class ZmqBackend(BackendConnection):
    """A blocking request/reply stream to the server's backend ROUTER."""

    def __init__(self, context: zmq.Context, config: Any, security: Security):
        self._sock = context.socket(zmq.DEALER)
        _tune(self._sock, config, hwm_factor=1)
        security.client_socket(self._sock)
        self._sock.setsockopt(zmq.IDENTITY, f"backend-{uuid.uuid4()}".encode())
        self._sock.connect(f"tcp://{config.zmq_server_address}:{config.backend_port}")

    def request(self, frame: bytes, timeout: float) -> bytes:
        self._sock.send(frame)
        if not self._sock.poll(int(timeout * 1000), zmq.POLLIN):
            raise TimeoutError(f"the server's backend did not answer within {timeout:g}s")
        return self._sock.recv()

    def close(self) -> None:
        self._sock.close(0)


class ZmqDriver(Driver):
    """ROUTER/DEALER over TCP; sends never block (DONTWAIT + ROUTER_MANDATORY)."""

    name = "zmq"

    def __init__(self, config: Any, identity: str | None = None):
        super().__init__(config, identity)
        self._context = zmq.asyncio.Context.instance()
        self._sync_context: zmq.Context | None = None
        self._socket: zmq.asyncio.Socket | None = None
        self._backend: zmq.asyncio.Socket | None = None
        self._server = False
        self.security = Security(config)
        self.refused = 0  # messages from a key that may not speak for that identity
        self._backend_users: collections.OrderedDict[str, str | None] = collections.OrderedDict()

    # -- server --------------------------------------------------------------
    def _bind(self, port: int, what: str) -> zmq.asyncio.Socket:
        self.security.start_server(self._context)
        sock = self._context.socket(zmq.ROUTER)
        _tune(sock, self.config)
        self.security.server_socket(sock)
        sock.setsockopt(zmq.ROUTER_MANDATORY, 1)
        sock.setsockopt(zmq.ROUTER_HANDOVER, 1)
        address = f"tcp://{self.config.zmq_bind_address}:{port}"
        try:
            sock.bind(address)
        except zmq.ZMQError as exc:
            sock.close(0)
            raise DirectordError(f"cannot bind the {what} port {address}: {exc}") from None
        LOG.debug("%s channel bound on %s", what, address)
        return sock

    async def bind(self) -> None:
        self._socket, self._server = self._bind(self.config.job_port, "job"), True
        self._backend = self._bind(self.config.backend_port, "backend")

    async def backend_recv(self) -> tuple[str, bytes]:
        assert self._backend is not None, "backend_recv before bind"
        while True:
            parts = await self._backend.recv_multipart(copy=False)
            if len(parts) == 2:
                identity = parts[0].bytes.decode("utf-8", "replace")
                if self.security.curve:
                    self._backend_users[identity] = _user_id(parts[1])
                    while len(self._backend_users) > 10_000:
                        self._backend_users.popitem(last=False)
                return identity, parts[1].bytes
            LOG.debug("dropped a backend message of %d frames", len(parts))

    def may_act_as(self, identity: str, node: str) -> bool:
        """Backend: may the connection ``identity`` ask on behalf of ``node``?"""
        return not self.security.curve or self.security.allows(node, self._backend_users.get(identity))

    def backend_send(self, identity: str, frame: bytes) -> bool:
        return self._send(self._backend, [identity.encode(), frame], identity)

    # -- client --------------------------------------------------------------
    async def connect(self) -> None:
        sock = self._context.socket(zmq.DEALER)
        _tune(sock, self.config)
        sock.setsockopt(zmq.IDENTITY, self.identity.encode())
        self.security.client_socket(sock)
        sock.setsockopt(zmq.RECONNECT_IVL, 100)
        sock.setsockopt(zmq.RECONNECT_IVL_MAX, 2000)
        address = f"tcp://{self.config.zmq_server_address}:{self.config.job_port}"
        sock.connect(address)
        self._socket, self._server = sock, False
        LOG.debug("job channel connecting to %s as %s", address, self.identity)

    def open_backend(self) -> BackendConnection:
        if self._sync_context is None:
            self._sync_context = zmq.Context()
        return ZmqBackend(self._sync_context, self.config, self.security)

    # -- both ----------------------------------------------------------------
    async def recv(self) -> tuple[str, bytes]:
        while True:
            sock = self._socket
            if sock is None:
                raise ConnectionError("the job channel is closed")
            try:
                parts = await sock.recv_multipart(copy=False)
            except (zmq.ZMQError, asyncio.CancelledError):
                # Closing a socket cancels its pending recv: carry on if a
                # reconnect swapped the socket and nobody cancelled this task.
                task = asyncio.current_task()
                if self._socket is sock or self._socket is None or (task and _cancelling(task)):
                    raise
                continue
            if self._server and len(parts) == 2:
                identity = parts[0].bytes.decode("utf-8", "replace")
                if not self.security.curve or self.security.allows(identity, _user_id(parts[1])):
                    return identity, parts[1].bytes
                self.refused += 1
                LOG.warning("refused a message claiming to be %r from key %r", identity[:64], _user_id(parts[1]))
                continue
            if not self._server and len(parts) == 1:
                return "", parts[0].bytes
            LOG.debug("dropped a message of %d frames (wrong frame count)", len(parts))

    def send(self, identity: str | None, frame: bytes) -> bool:
        parts = [identity.encode(), frame] if self._server and identity else [frame]
        return self._send(self._socket, parts, identity)

    @staticmethod
    def _send(sock: zmq.asyncio.Socket | None, parts: list[bytes], identity: str | None) -> bool:
        if sock is None:
            return False
        error = sock.send_multipart(parts, flags=zmq.DONTWAIT).exception()
        if error is not None:
            LOG.debug("send to %s failed: %s", identity or "server", error)
            return False
        return True

    def close(self) -> None:
        for sock in (self._socket, self._backend):
            if sock is not None:
                sock.close(0)
        self._socket = self._backend = None
        if self._server:
            self.security.stop()
