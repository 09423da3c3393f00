"""The user API: length-prefixed JSON requests on a unix socket.

The socket file is created 0660 (owned by ``--socket-group``) before the
server accepts anyone. One request per connection; the reply is
``{"ok": true, "result": ...}`` or ``{"ok": false, "error": "...", "kind": "..."}``.
"""

from __future__ import annotations

import asyncio
import grp
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from directord import wire
from directord.exceptions import DirectordError, WireError

LOG = logging.getLogger(__name__)
SOCKET_MODE = 0o660

Handler = Callable[[dict[str, Any]], Awaitable[Any]]


def _group_id(group: str) -> int:
    if str(group).isdigit():
        return int(group)
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        raise DirectordError(f"socket group {group!r} does not exist") from None


def create_socket(path: str, group: str) -> socket.socket:
    """Bind the unix socket with mode 0660 and the given group, before listening."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise DirectordError(f"cannot remove stale socket {path}: {exc.strerror}") from None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o117)  # the file is born 0660: no window where others connect
    try:
        sock.bind(path)
    except OSError as exc:
        sock.close()
        raise DirectordError(f"cannot create socket {path}: {exc.strerror}") from None
    finally:
        os.umask(old_umask)
    gid = _group_id(group)
    try:
        os.chown(path, -1, gid)
    except PermissionError:
        LOG.warning("cannot give %s to group %s; keeping the current group", path, group)
    os.chmod(path, SOCKET_MODE)
    sock.listen(128)
    sock.setblocking(False)
    return sock


def _refusal(exc: DirectordError) -> dict[str, Any]:
    return {"ok": False, "error": str(exc), "kind": type(exc).__name__}


class ApiServer:
    """Serves ``handlers[op](request)`` for each framed request."""

    def __init__(self, path: str, group: str, handlers: dict[str, Handler]):
        self.path, self.group, self.handlers = path, group, handlers
        self._server: asyncio.AbstractServer | None = None

    def serve_with(self, handlers: dict[str, Handler]) -> None:
        """Answer from now on with ``handlers`` (a standby server that became the active one)."""
        self.handlers = handlers

    async def start(self) -> None:
        sock = create_socket(self.path, self.group)
        self._server = await asyncio.start_unix_server(self._serve, sock=sock, limit=2**20)
        LOG.info("user API listening on %s", self.path)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            try:
                await asyncio.wait_for(self._server.wait_closed(), 1.0)
            except TimeoutError:
                pass
        try:
            os.unlink(self.path)
        except OSError:
            pass

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            reply = await self._answer(reader)
            writer.write(wire.frame_json(reply))
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the user went away; nothing to answer
        except Exception:  # never let one request take the API down
            LOG.exception("user API request failed")
        finally:
            writer.close()

    async def _answer(self, reader: asyncio.StreamReader) -> dict[str, Any]:
        try:
            size = wire.frame_length(await reader.readexactly(wire.LENGTH_BYTES))
            request = wire.parse_json(await reader.readexactly(size))
        except DirectordError as exc:
            return _refusal(exc)
        return await self.answer(request)

    async def answer(self, request: Any) -> dict[str, Any]:
        """The reply to one parsed request (from the socket, or forwarded by a standby server)."""
        try:
            if not isinstance(request, dict) or not isinstance(request.get("op"), str):
                raise WireError("request must be an object with an 'op'")
            handler = self.handlers.get(request["op"])
            if handler is None:
                raise WireError(f"unknown operation {request['op']!r}; known: {', '.join(sorted(self.handlers))}")
            return {"ok": True, "result": await handler(request)}
        except DirectordError as exc:
            return _refusal(exc)
