"""Client side of file transfers: pull a file from the server in chunks over the backend."""

from __future__ import annotations

import hashlib
import os
import tempfile
from typing import BinaryIO, Protocol

from directord import wire
from directord.components import lib
from directord.drivers import BackendConnection
from directord.exceptions import TransferError
from directord.models import Control, Message

CHUNK = 1024 * 1024
REQUEST_TIMEOUT = 60.0


class BackendOpener(Protocol):
    """The client's transport, or a component's driver wrapping it."""

    def open_backend(self) -> BackendConnection: ...


def fetch(transport: BackendOpener, job_id: str, node: str, source: str, handle: BinaryIO) -> str:
    """Stream ``source`` from the server into ``handle``; returns its SHA3-224."""
    digest = hashlib.sha3_224()
    offset = 0
    with transport.open_backend() as connection:
        while True:
            if lib.killed():
                raise TransferError("transfer cancelled (job timed out)")
            request = Message(job_id, Control.TRANSFER_START.value, str(offset),
                              data={"node": node, "size": CHUNK}, info=source)
            try:
                reply = wire.decode(connection.request(wire.encode([request]), REQUEST_TIMEOUT))[0]
            except (TimeoutError, wire.WireError) as exc:
                raise TransferError(f"Transfer failed: {exc}") from None
            if reply.control == Control.JOB_FAILED.value:
                raise TransferError(f"Transfer failed: {reply.info}")
            chunk = reply.data if isinstance(reply.data, bytes) else b""
            handle.write(chunk)
            digest.update(chunk)
            offset += len(chunk)
            if reply.control == Control.TRANSFER_END.value or not chunk:
                return digest.hexdigest()


def atomic_download(transport: BackendOpener, job_id: str, node: str, source: str, destination: str) -> tuple[str, str]:
    """Fetch into a temporary file beside ``destination``; returns (temp path, sha).

    The caller renames the temporary file over the destination once it is
    verified, so readers never see a half-written file.
    """
    directory = os.path.dirname(os.path.abspath(destination)) or "."
    os.makedirs(directory, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=".directord-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            sha = fetch(transport, job_id, node, source, handle)
    except BaseException:
        os.unlink(temp)
        raise
    return temp, sha
