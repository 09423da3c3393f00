"""The redis driver's client half: reads its own down stream, writes its own up stream,
and backend requests that wait on a reply stream of their own."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
import uuid
from typing import Any

from directord.drivers import BackendConnection, ClientTransport
from directord.drivers.redis.keys import Keys
from directord.drivers.redis.link import BLOCK_MS, QUEUED, READ_COUNT, Backoff, Link, close_later, link, redis_module
from directord.drivers.redis.writer import Writer
from directord.exceptions import ConfigError

LOG = logging.getLogger(__name__)
UP_MAXLEN = 100_000
HELLO_MAXLEN = 10_000


class RedisBackend(BackendConnection):
    """Requests go on the node's up stream; each connection's replies come on a stream of its own."""

    def __init__(self, client: Any, keys: Keys, node: str):
        self.client = client
        self.keys = keys
        self.node = node
        self.connection = uuid.uuid4().hex
        self._replies = keys.reply(node, self.connection)
        self._numbers = itertools.count()
        self._last = b"0-0"

    def request(self, frame: bytes, timeout: float) -> bytes:
        redis = redis_module()
        peer = f"{self.connection}/{next(self._numbers)}"
        deadline = time.monotonic() + timeout
        try:
            self.client.xadd(self.keys.up(self.node), {"b": peer, "f": frame}, maxlen=UP_MAXLEN, approximate=True)
            while (left := deadline - time.monotonic()) > 0:
                got = self.client.xread({self._replies: self._last}, count=16, block=max(int(left * 1000), 1))
                for _stream, entries in got or ():
                    for entry_id, fields in entries:
                        self._last = entry_id
                        if fields.get(b"p", b"").decode("utf-8", "replace").endswith("|" + peer):
                            return fields[b"f"]
        except redis.RedisError as exc:
            raise TimeoutError(f"redis: {exc}") from None
        raise TimeoutError(f"the server's backend did not answer within {timeout:g}s")

    def close(self) -> None:
        """Nothing to release: the server lets the reply stream expire."""


class RedisClient(ClientTransport):
    """Announces itself on connect; NOPERM on its own stream means the credentials are another node's."""

    name = "redis"

    def __init__(self, config: Any, identity: str | None = None):
        super().__init__(config, identity)
        self.link: Link = link(config)
        self.keys = self.link.keys
        self._client: Any = None
        self._reader_client: Any = None
        self._blocking: Any = None
        self._writer: Writer | None = None
        self._inbox: asyncio.Queue[bytes] = asyncio.Queue(QUEUED)
        self._reader: asyncio.Task | None = None

    async def connect(self) -> None:
        """Announce this node; a Redis that cannot be reached yet is retried in the background
        (the node starts anyway, as it would before its server), wrong credentials are an error."""
        redis = redis_module()
        self._client = self.link.asyncio_client()
        self._reader_client = self.link.asyncio_client()
        self._writer = Writer(self._client, self.link.shown)
        last: bytes | None = None
        try:  # a marker on our own stream first: wrong credentials fail here, not at the first result
            for key, fields, maxlen in self._announcements():
                await self._client.xadd(key, fields, maxlen=maxlen)
            last = await self._newest()
        except redis.exceptions.NoPermissionError as exc:
            self.close()
            raise ConfigError(f"redis at {self.link.shown} refused node {self.identity!r} ({exc}): "
                              f"the credentials in --driver-url are not this node's") from None
        except (redis.RedisError, OSError) as exc:
            LOG.warning("redis at %s: %s; connecting in the background", self.link.shown, exc)
            for key, fields, maxlen in self._announcements():  # the writer keeps them until Redis takes them
                self._writer.xadd(key, fields, maxlen)
        self._writer.start()
        self._reader = asyncio.create_task(self._read(last))

    def _announcements(self) -> list[tuple[str, dict[str, bytes], int]]:
        """A marker on our own stream, then our name on the hello stream: (key, fields, maxlen)."""
        return [(self.keys.up(self.identity), {"h": b""}, UP_MAXLEN),
                (self.keys.hello, {"n": self.identity.encode()}, HELLO_MAXLEN)]

    async def _newest(self) -> bytes:
        """The id of the last frame already in our down stream: we read what comes after it."""
        newest = await self._reader_client.xrevrange(self.keys.down(self.identity), count=1)
        return newest[0][0] if newest else b"0-0"

    async def _read(self, last: bytes | None) -> None:
        redis = redis_module()
        down = self.keys.down(self.identity)
        backoff = Backoff(self.link.shown, "reading")
        while True:
            try:
                if last is None:
                    last = await self._newest()
                replies = await self._reader_client.xread({down: last}, count=READ_COUNT, block=BLOCK_MS)
            except (redis.RedisError, OSError) as exc:  # away, restarting, or our user revoked
                await backoff.after(exc)
                continue
            backoff.reset()
            for _stream, entries in replies or ():
                for entry_id, fields in entries:
                    last = entry_id
                    if b"f" in fields:
                        await self._inbox.put(fields[b"f"])

    async def recv(self) -> bytes:
        if self._writer is None and self._inbox.empty():
            raise ConnectionError("the redis client is not connected")
        return await self._inbox.get()

    def send(self, frame: bytes) -> bool:
        if self._writer is None:
            return False
        return self._writer.xadd(self.keys.up(self.identity), {"f": frame}, UP_MAXLEN)

    def open_backend(self) -> BackendConnection:
        if self._blocking is None:  # one thread-safe pool for every worker thread
            self._blocking = self.link.blocking_client()
        return RedisBackend(self._blocking, self.keys, self.identity)

    def close(self) -> None:
        """Stop reading and writing; the inbox object stays, so a pending ``recv`` resumes after a reconnect."""
        if self._reader is not None:
            self._reader.cancel()
            self._reader = None
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        close_later(self._client, self._reader_client)
        self._client = self._reader_client = None
        while not self._inbox.empty():
            self._inbox.get_nowait()
