"""NodeServices: what a running component may ask of its node.

The client hands one to every job (``ComponentBase.attach``): the node's
identity, files fetched from the server, the job states the server knows, an
interim status, and whether the job was killed. Built-in components use it;
components written for the original Directord keep using ``self.driver``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from directord import transfer, wire
from directord.components import lib
from directord.exceptions import ServiceError, WireError
from directord.models import Control, Message

STEP = 0.1
REQUEST_TIMEOUT = 10.0


class NodeServices:
    """The node's services for one job.

    ``driver`` is the component-facing driver (the client's ``ComponentDriver``:
    ``open_backend()`` and the original's API); without one (a component called
    outside a client) ``fetch`` and ``job_states`` raise ServiceError.
    ``context`` is the job's JobContext; without one, the calling thread's.
    """

    def __init__(self, identity: str | None = None, job: dict[str, Any] | None = None, *,
                 driver: Any = None, context: lib.JobContext | None = None,
                 publisher: Callable[[str | None, str | None], None] | None = None):
        self.identity = identity
        self.job = job if job is not None else {}
        self.driver = driver
        self.context = context
        self._publisher = publisher
        self._connection: Any = None

    @property
    def job_id(self) -> str:
        return str(self.job.get("job_id", ""))

    @property
    def killed(self) -> bool:
        """Was the job killed (its timeout passed, or the client is stopping)?"""
        return self.context.killed if self.context is not None else lib.killed()

    def sleep(self, seconds: float) -> bool:
        """Sleep ``seconds`` in short steps; False as soon as the job is killed."""
        deadline = time.monotonic() + seconds
        while not self.killed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return True
            time.sleep(min(STEP, remaining))
        return False

    def publish(self, stdout: str | None = None, info: str | None = None) -> None:
        """Report an interim status of the job (still processing) with ``stdout``/``info``."""
        if self._publisher is not None:
            self._publisher(stdout, info)

    def fetch(self, source: str, destination: str) -> tuple[str, str]:
        """Download the server's file ``source`` into a temporary file beside ``destination``.

        Returns (temporary path, SHA3-224 of the content); the caller renames the
        file into place once it is verified, or removes it.
        """
        if self.driver is None:
            raise ServiceError(f"cannot fetch {source}: no server (not running under a directord client)")
        try:
            return transfer.atomic_download(self.driver, self.job_id, str(self.identity), source, destination)
        except transfer.TransferError as exc:
            raise ServiceError(str(exc)) from None

    def job_states(self, sha: str, identities: list[str]) -> dict[str, str]:
        """Final states (JOB_END or JOB_FAILED) of the job fingerprint ``sha`` the server has
        for ``identities``; a node that has not finished it is absent."""
        if self.driver is None:
            raise ServiceError("cannot ask for job states: no server (not running under a directord client)")
        if self._connection is None:
            self._connection = self.driver.open_backend()
        request = Message(str(uuid.uuid4()), Control.COORDINATION_NOTICE.value,
                          data={"sha": sha, "identities": identities, "node": self.identity})
        try:
            reply = wire.decode(self._connection.request(wire.encode([request]), REQUEST_TIMEOUT))[0]
        except (TimeoutError, WireError) as exc:
            raise ServiceError(str(exc)) from None
        if reply.control != Control.COORDINATION_ACK.value or not isinstance(reply.data, dict):
            raise ServiceError(f"refused: {reply.info or 'no job states in the reply'}")
        return {str(node): str(state) for node, state in reply.data.items()}

    def close(self) -> None:
        """Close the backend connection ``job_states`` opened (the client does it after the job)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None
