"""The unix-socket client used by the CLI and DirectordConnect."""

from __future__ import annotations

import errno
import grp
import os
import socket
import time
from collections.abc import Iterable
from typing import Any

from directord import wire
from directord.exceptions import (
    ServerUnavailable,
)
from directord.job import Job


def _permission_hint(path: str) -> str:
    try:
        group = grp.getgrgid(os.stat(path).st_gid).gr_name
    except (OSError, KeyError):
        return f"permission denied on {path}"
    return f"permission denied on {path}; add the user to group {group}"


def request(socket_path: str, op: str, fields: dict[str, Any] | None = None,
            timeout: float = 10.0) -> Any:
    """Send one request and return its result; errors become DirectordError."""
    payload = wire.frame_json({"op": op, **(fields or {})})
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        try:
            sock.connect(socket_path)
        except FileNotFoundError:
            raise ServerUnavailable(
                f"no directord server socket at {socket_path}; is `directord server` running?"
            ) from None
        except PermissionError:
            raise ServerUnavailable(_permission_hint(socket_path)) from None
        except ConnectionRefusedError:
            raise ServerUnavailable(f"connection refused on {socket_path}; the server is not running") from None
        except OSError as exc:
            if exc.errno == errno.EACCES:
                raise ServerUnavailable(_permission_hint(socket_path)) from None
            raise ServerUnavailable(f"cannot reach the server at {socket_path}: {exc.strerror or exc}") from None
        try:
            sock.sendall(payload)
            size = wire.frame_length(_read(sock, wire.LENGTH_BYTES))
            reply = wire.parse_json(_read(sock, size))
        except TimeoutError:
            raise ServerUnavailable(f"the server at {socket_path} did not answer within {timeout:g}s") from None
        except (ConnectionError, OSError) as exc:
            raise ServerUnavailable(f"connection to {socket_path} failed: {exc}") from None
    finally:
        sock.close()
    return wire.reply_result(reply)


def _read(sock: socket.socket, size: int) -> bytes:
    chunks, remaining = [], size
    while remaining:
        chunk = sock.recv(min(remaining, 1 << 20))
        if not chunk:
            raise ConnectionError("the server closed the connection mid-reply")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


EXIT_SUCCESS = 0  # every job succeeded (or was skipped) on every target
EXIT_FAILED = 1  # a job failed somewhere
EXIT_TIMEOUT = 3  # the wait ended with jobs still unknown or processing

_LINES = {"success": "Job Success", "failed": "Job Failed", "skipped": "Job Skipped",
          "unknown": "Job in an unknown state"}


def job_status(summary: dict[str, Any] | None) -> str:
    """``success``, ``failed``, ``skipped`` (``--restrict``) or ``unknown`` (not found, or not done)."""
    if not summary or not summary.get("complete"):
        return "unknown"
    if summary.get("failed"):
        return "failed"
    return "skipped" if summary.get("skipped") else "success"


def job_state(summary: dict[str, Any] | None) -> bool | None:
    """True (succeeded, skipped or nothing to run), False (any node failed), None (unknown)."""
    return {"success": True, "skipped": True, "failed": False}.get(job_status(summary))


def status_line(job_id: str, status: str) -> str:
    """``Job Success: ID`` and the like, for a ``job_status`` value."""
    return f"{_LINES[status]}: {job_id}"


def exit_code(statuses: Iterable[str]) -> int:
    """EXIT_FAILED if any job failed, else EXIT_TIMEOUT if any is unknown, else EXIT_SUCCESS."""
    seen = set(statuses)
    if "failed" in seen:
        return EXIT_FAILED
    return EXIT_TIMEOUT if "unknown" in seen else EXIT_SUCCESS


class UserClient:
    """Typed wrappers over ``request`` for one socket path."""

    def __init__(self, socket_path: str, timeout: float = 10.0):
        self.socket_path = socket_path
        self.timeout = timeout

    def call(self, op: str, **fields: Any) -> Any:
        return request(self.socket_path, op, fields, self.timeout)

    def submit(self, jobs: list[Job]) -> dict[str, Any]:
        """Send ``jobs``; the server's reply (``job_ids``, ``warnings``)."""
        return self.call("submit", jobs=[job.to_dict() for job in jobs])

    def wait(self, job_ids: list[str], timeout: float) -> dict[str, Any]:
        """Block server-side up to ``timeout`` s for the jobs to complete."""
        fields = {"job_ids": job_ids, "timeout": timeout}
        return request(self.socket_path, "wait", fields, timeout + self.timeout)

    def wait_all(self, job_ids: list[str], deadline: float, step: float,
                 progress: Any = None) -> dict[str, Any]:
        """Wait until every job is complete or ``deadline`` (monotonic) passes.

        An id the server does not know (summary None) is not waited for.
        """
        summaries: dict[str, Any] = {}
        pending = list(job_ids)
        while True:
            left = deadline - time.monotonic()
            result = self.wait(pending, max(min(step, left), 0.0))
            summaries.update(result)
            pending = [j for j in pending if summaries.get(j) and not summaries[j].get("complete")]
            if progress is not None:
                progress(summaries)
            if not pending or time.monotonic() >= deadline:
                return summaries
