"""The ZeroMQ client half: a DEALER on the job port (identity = the node name), and a
short-lived DEALER on the backend port per request stream."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import zmq
import zmq.asyncio

from directord.drivers import BackendConnection, ClientTransport
from directord.drivers.zmq import sockets
from directord.drivers.zmq.auth import Security

LOG = logging.getLogger(__name__)


def _cancelling(task: asyncio.Task) -> bool:
    cancelling = getattr(task, "cancelling", None)  # Python 3.11+
    return bool(cancelling()) if cancelling else False


class ZmqBackend(BackendConnection):
    """A blocking request/reply stream to the server's backend ROUTER."""

    def __init__(self, context: zmq.Context, config: Any, security: Security):
        self._sock = context.socket(zmq.DEALER)
        sockets.tune(self._sock, config, hwm_factor=1)
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


class ZmqClient(ClientTransport):
    """The job DEALER reconnects by itself; ``reconnect()`` starts over with a fresh socket."""

    name = "zmq"

    def __init__(self, config: Any, identity: str | None = None):
        super().__init__(config, identity)
        self._context = zmq.asyncio.Context.instance()
        self._sync_context: zmq.Context | None = None
        self._socket: zmq.asyncio.Socket | None = None
        self.security = Security(config)

    async def connect(self) -> None:
        sock = self._context.socket(zmq.DEALER)
        sockets.tune(sock, self.config)
        sock.setsockopt(zmq.IDENTITY, self.identity.encode())
        self.security.client_socket(sock)
        sock.setsockopt(zmq.RECONNECT_IVL, 100)
        sock.setsockopt(zmq.RECONNECT_IVL_MAX, 2000)
        address = f"tcp://{self.config.zmq_server_address}:{self.config.job_port}"
        sock.connect(address)
        self._socket = sock
        LOG.debug("job channel connecting to %s as %s", address, self.identity)

    async def recv(self) -> bytes:
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
            if len(parts) == 1:
                return parts[0].bytes
            LOG.debug("dropped a message of %d frames (wrong frame count)", len(parts))

    def send(self, frame: bytes) -> bool:
        return sockets.send(self._socket, [frame], "server")

    def open_backend(self) -> BackendConnection:
        if self._sync_context is None:  # blocking sockets on the same I/O thread as the job channel
            self._sync_context = zmq.Context.shadow(self._context.underlying)
        return ZmqBackend(self._sync_context, self.config, self.security)

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close(0)
        self._socket = None
