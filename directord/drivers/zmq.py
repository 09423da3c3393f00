"""ZeroMQ driver: server ROUTER bound on the job port, clients DEALER with their identity."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import zmq
import zmq.asyncio

from directord.drivers import Driver

LOG = logging.getLogger(__name__)


def _cancelling(task: asyncio.Task) -> bool:
    cancelling = getattr(task, "cancelling", None)  # Python 3.11+
    return bool(cancelling()) if cancelling else False


class ZmqDriver(Driver):
    """ROUTER/DEALER over TCP; sends never block (DONTWAIT + ROUTER_MANDATORY)."""

    name = "zmq"

    def __init__(self, config: Any, identity: str | None = None):
        super().__init__(config, identity)
        self._context = zmq.asyncio.Context.instance()
        self._socket: zmq.asyncio.Socket | None = None
        self._server = False

    def _new_socket(self, kind: int) -> zmq.asyncio.Socket:
        sock = self._context.socket(kind)
        hwm = int(getattr(self.config, "zmq_highwater_mark", 1024)) * 4
        sock.setsockopt(zmq.SNDHWM, hwm)
        sock.setsockopt(zmq.RCVHWM, hwm)
        sock.setsockopt(zmq.LINGER, 0)
        # Transport-level keepalive so a dead TCP peer is noticed even when idle.
        interval_ms = max(int(float(self.config.heartbeat_interval) * 1000), 100)
        sock.setsockopt(zmq.HEARTBEAT_IVL, interval_ms)
        sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, interval_ms * 3)
        return sock

    async def bind(self) -> None:
        sock = self._new_socket(zmq.ROUTER)
        sock.setsockopt(zmq.ROUTER_MANDATORY, 1)
        sock.setsockopt(zmq.ROUTER_HANDOVER, 1)
        address = f"tcp://{self.config.zmq_bind_address}:{self.config.job_port}"
        try:
            sock.bind(address)
        except zmq.ZMQError as exc:
            sock.close(0)
            from directord.exceptions import DirectordError

            raise DirectordError(f"cannot bind the job port {address}: {exc}") from None
        self._socket, self._server = sock, True
        LOG.debug("job channel bound on %s", address)

    async def connect(self) -> None:
        sock = self._new_socket(zmq.DEALER)
        sock.setsockopt(zmq.IDENTITY, self.identity.encode())
        sock.setsockopt(zmq.RECONNECT_IVL, 100)
        sock.setsockopt(zmq.RECONNECT_IVL_MAX, 2000)
        address = f"tcp://{self.config.zmq_server_address}:{self.config.job_port}"
        sock.connect(address)
        self._socket, self._server = sock, False
        LOG.debug("job channel connecting to %s as %s", address, self.identity)

    async def recv(self) -> tuple[str, bytes]:
        while True:
            sock = self._socket
            if sock is None:
                raise ConnectionError("the job channel is closed")
            try:
                parts = await sock.recv_multipart(copy=True)
            except (zmq.ZMQError, asyncio.CancelledError):
                # Closing a socket cancels its pending recv: carry on if a
                # reconnect swapped the socket and nobody cancelled this task.
                task = asyncio.current_task()
                if self._socket is sock or self._socket is None or (task and _cancelling(task)):
                    raise
                continue
            if self._server and len(parts) == 2:
                return parts[0].decode("utf-8", "replace"), parts[1]
            if not self._server and len(parts) == 1:
                return "", parts[0]
            LOG.warning("dropped a message of %d frames (wrong frame count)", len(parts))

    def send(self, identity: str | None, frame: bytes) -> bool:
        if self._socket is None:
            return False
        parts = [identity.encode(), frame] if self._server else [frame]
        error = self._socket.send_multipart(parts, flags=zmq.DONTWAIT).exception()
        if error is not None:
            LOG.debug("send to %s failed: %s", identity or "server", error)
            return False
        return True

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close(0)
            self._socket = None
