"""Socket options both halves of the ZeroMQ driver apply."""

from __future__ import annotations

import logging
from typing import Any

import zmq
import zmq.asyncio

LOG = logging.getLogger(__name__)


def tune(sock: zmq.Socket, config: Any, hwm_factor: int = 4) -> None:
    """High-water marks, no linger, and transport-level keepalive."""
    hwm = int(getattr(config, "zmq_highwater_mark", 1024)) * hwm_factor
    sock.setsockopt(zmq.SNDHWM, hwm)
    sock.setsockopt(zmq.RCVHWM, hwm)
    sock.setsockopt(zmq.LINGER, 0)
    # Transport-level keepalive so a dead TCP peer is noticed even when idle.
    interval_ms = max(int(float(config.heartbeat_interval) * 1000), 100)
    sock.setsockopt(zmq.HEARTBEAT_IVL, interval_ms)
    sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, interval_ms * 3)
    sock.setsockopt(zmq.HANDSHAKE_IVL, max(interval_ms * 3, 2000))  # a stuck handshake is retried


def send(sock: zmq.asyncio.Socket | None, parts: list[bytes], peer: str) -> bool:
    """Queue a multi-part message for ``peer`` without blocking; False when the socket refuses it now."""
    if sock is None:
        return False
    error = sock.send_multipart(parts, flags=zmq.DONTWAIT).exception()
    if error is not None:
        LOG.debug("send to %s failed: %s", peer, error)
        return False
    return True
