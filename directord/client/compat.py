"""``self.driver`` as components written for the original Directord see it.

The client hands every component a ``ComponentDriver``: our client transport
(its own attributes, e.g. ``open_backend``, pass through) plus the original's API that
shipped components use: the control constants, ``event``, ``job_send`` and the
coordination backend (``backend_init``/``backend_send``/``backend_check``/
``backend_recv``/``backend_close``, ``credit``, ``__copy__``).

The original relayed a JOB_WAIT's coordination notices through the server to
the other nodes, which answered from their caches. Here the server already
knows every node's final state of each job fingerprint, so a notice for node X
about fingerprint SHA is answered by asking the server's backend until X
finished that job (either way, as the original's nodes answered), and becomes a
``coordination_ack`` from X; after ``NOTICE_PATIENCE`` seconds without it, a
``coordination_failed`` from X.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

from directord import wire
from directord.components import lib
from directord.exceptions import WireError
from directord.models import FINAL_STATES, Control, Message

POLL = 0.25
REQUEST_TIMEOUT = 10.0
NOTICE_PATIENCE = 600.0

Received = tuple[str, str, str, Any, str | None, str | None, str | None]


class ComponentDriver:
    """Our client transport with the original's component-facing driver API."""

    nullbyte = Control.NULL.value
    job_ack = Control.JOB.value
    job_end = Control.JOB_END.value
    job_failed = Control.JOB_FAILED.value
    job_processing = Control.JOB_PROCESSING.value
    transfer_start = Control.TRANSFER_START.value
    transfer_end = Control.TRANSFER_END.value
    heartbeat_notice = Control.HEARTBEAT.value
    coordination_notice = Control.COORDINATION_NOTICE.value
    coordination_ack = Control.COORDINATION_ACK.value
    coordination_failed = Control.COORDINATION_FAILED.value

    def __init__(self, driver: Any, identity: str, emit: Callable[[Message], None] | None = None):
        self.driver = driver
        self.identity = identity
        self.emit = emit
        self.event = threading.Event()  # the original's shutdown event; components wait on it as a sleep
        self.credit = 0
        self._connection: Any = None
        self._notices: dict[str, tuple[str, str, float]] = {}  # node -> (msg_id, sha, sent at)
        self._inbox: deque[Received] = deque()

    def __getattr__(self, name: str) -> Any:
        driver = self.__dict__.get("driver")
        if driver is None:
            raise AttributeError(name)
        return getattr(driver, name)

    def __copy__(self) -> ComponentDriver:
        """A driver of the same node with a backend session of its own."""
        return ComponentDriver(self.driver, self.identity, self.emit)

    def job_send(self, msg_id: str, control: str, command: str = "", data: Any = None,
                 info: Any = None, stderr: Any = None, stdout: Any = None) -> bool:
        """Report a status of job ``msg_id`` to the server (``ClientStatus`` uses it)."""
        if self.emit is None:
            return False
        self.emit(Message(str(msg_id), str(control), str(command or ""), data=data,
                          info=_blank(info), stderr=_blank(stderr), stdout=_blank(stdout)))
        return True

    # -- coordination backend ------------------------------------------------
    def backend_init(self) -> None:
        self._connection = self.driver.open_backend()

    def backend_close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        self._notices.clear()
        self._inbox.clear()

    def backend_send(self, msg_id: str = "", control: str = "", command: str = "", data: Any = None,
                     info: Any = None, stderr: Any = None, stdout: Any = None) -> None:
        """A coordination notice asks node ``info`` about fingerprint ``data``; answers the
        original sent to other nodes' notices are not needed (the server answers those)."""
        if control == self.coordination_notice and info:
            self._notices[str(info)] = (str(msg_id), str(data), time.monotonic())

    def backend_check(self, interval: float = 1, constant: int = 1000) -> bool:
        """Is an answer ready? Asks the server for up to ``interval`` seconds."""
        deadline = time.monotonic() + float(interval)
        while True:
            self._ask()
            self.credit = len(self._inbox)
            remaining = deadline - time.monotonic()
            if self._inbox or remaining <= 0 or lib.killed():
                return bool(self._inbox)
            time.sleep(min(POLL, remaining))

    def backend_recv(self) -> Received:
        """``(msg_id, control, command, data, info, stderr, stdout)``: ``info`` is the answering node."""
        return self._inbox.popleft()

    def _ask(self) -> None:
        """One request to the server's backend for every fingerprint with pending notices."""
        by_sha: dict[str, list[str]] = {}
        for node, (_msg_id, sha, _sent) in self._notices.items():
            by_sha.setdefault(sha, []).append(node)
        for sha, nodes in by_sha.items():
            states = self._states(sha, nodes)
            for node in nodes:
                msg_id, _sha, sent = self._notices[node]
                if states is not None and states.get(node) in FINAL_STATES:
                    self._answer(node, msg_id, self.coordination_ack)
                elif states is None or time.monotonic() - sent >= NOTICE_PATIENCE:
                    self._answer(node, msg_id, self.coordination_failed, "Item was not found in cache")

    def _states(self, sha: str, nodes: list[str]) -> dict[str, str] | None:
        """The final states of ``sha`` the server has for ``nodes``; None when it refused or is silent."""
        if self._connection is None:
            self.backend_init()
        request = Message(str(uuid.uuid4()), self.coordination_notice,
                          data={"sha": sha, "identities": nodes, "node": self.identity})
        try:
            reply = wire.decode(self._connection.request(wire.encode([request]), REQUEST_TIMEOUT))[0]
        except (TimeoutError, WireError):
            return None
        if reply.control != self.coordination_ack or not isinstance(reply.data, dict):
            return None
        return reply.data

    def _answer(self, node: str, msg_id: str, control: str, stderr: str | None = None) -> None:
        del self._notices[node]
        self._inbox.append((msg_id, control, "", None, node, stderr, None))


def _blank(value: Any) -> Any:
    """The original's empty field (a null byte) is no value here."""
    return None if value in (None, Control.NULL.value) else value

