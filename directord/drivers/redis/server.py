"""The redis driver's server half: reads every node's up stream through a consumer group,
writes each node's down stream, and holds the lease that makes one server the active one."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

from directord.drivers import ServerTransport
from directord.drivers.redis.keys import GROUP
from directord.drivers.redis.link import BLOCK_MS, QUEUED, READ_COUNT, Backoff, close_later, link, redis_module
from directord.drivers.redis.writer import Writer

LOG = logging.getLogger(__name__)
DOWN_MAXLEN = 1000  # a node that falls further behind gets the rest again from the server's re-sends
REPLY_MAXLEN = 8
REPLY_TTL_MS = 60_000
DRAIN_S = 5.0
FORWARD_MAXLEN = 1000
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) and 1 or 0
"""
_RESIGN = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


def _text(raw: bytes | str) -> str:
    return raw.decode("utf-8", "surrogateescape") if isinstance(raw, bytes) else raw


class RedisServer(ServerTransport):
    """A node's identity is the stream its frame arrived on (only that node may write it)."""

    name = "redis"
    shared = True

    def __init__(self, config: Any):
        super().__init__(config)
        self.link = link(config)
        self.keys = self.link.keys
        self.consumer = f"server-{uuid.uuid4().hex[:12]}"
        self._client: Any = None
        self._reader_client: Any = None
        self._writer: Writer | None = None
        self._known: set[str] = set()
        self._frames: asyncio.Queue[tuple[str, bytes, str, bytes]] = asyncio.Queue(QUEUED)
        self._requests: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(QUEUED)
        self._forwarded: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(QUEUED)
        self._forwards = itertools.count()
        self._taken: list[tuple[str, bytes]] = []  # (stream, entry id) handed out, acked on the next recv
        self._reader: asyncio.Task | None = None

    async def start(self) -> None:
        redis = redis_module()
        self._client = self.link.asyncio_client()
        self._reader_client = self.link.asyncio_client()
        try:
            await self._client.ping()
        except (redis.RedisError, OSError) as exc:  # the lease is tried again every half heartbeat
            LOG.warning("redis at %s: %s; connecting in the background", self.link.shown, exc)
        self._writer = Writer(self._client, self.link.shown)
        self._writer.start()

    # -- leadership -------------------------------------------------------------
    async def lead(self, server_id: str, ttl: float) -> bool:
        async with self._reachable():
            won = bool(await self._started().eval(_RENEW, 1, self.keys.lease, server_id, int(ttl * 1000)))
            if won and self._reader is None:
                await self._serve()
        if not won and self._reader is not None:
            self._stop_reading()
        return won

    async def leader(self) -> str | None:
        async with self._reachable():
            value = await self._started().get(self.keys.lease)
        return _text(value) if value is not None else None

    async def resign(self, server_id: str) -> None:
        """Acknowledge what was handed out, then let the lease go."""
        self._stop_reading()
        if self._client is None or self._writer is None:
            return
        self._ack_taken()
        await self._writer.drain(DRAIN_S)
        async with self._reachable():
            await self._client.eval(_RESIGN, 1, self.keys.lease, server_id)

    @contextlib.asynccontextmanager
    async def _reachable(self) -> AsyncIterator[None]:
        """Redis failures become ConnectionError, the contract's word for "cannot reach it now"."""
        try:
            yield
        except redis_module().RedisError as exc:
            raise ConnectionError(f"redis at {self.link.shown}: {exc}") from None

    async def _serve(self) -> None:
        """Become the reader: learn the nodes, take over what a previous reader left unacked."""
        client = self._started()
        async for key in client.scan_iter(match=self.keys.up_prefix + "*", _type="stream", count=1000):
            self._known.add(self.keys.node_of(_text(key)))
        await self._groups()
        for stream in [self.keys.hello, self.keys.forward, *map(self.keys.up, self._known)]:
            await self._claim(stream)
        self._reader = asyncio.create_task(self._read())

    async def _groups(self) -> None:
        """The servers' group on every stream we read; nodes whose key is no stream are forgotten."""
        await self._group(self.keys.hello)
        await self._group(self.keys.forward)
        self._known = {node for node in self._known if await self._group(self.keys.up(node))}

    async def _group(self, stream: str) -> bool:
        """Make sure ``stream`` has the servers' group; False when the key is not a stream."""
        try:
            await self._started().xgroup_create(stream, GROUP, id="0", mkstream=True)
        except redis_module().ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                LOG.warning("ignoring %s: %s", stream, exc)
                return False
        return True

    async def _claim(self, stream: str) -> None:
        """Entries another server read and never acknowledged are read again, by us."""
        start = "0-0"
        while True:
            start, entries, *_ = await self._started().xautoclaim(stream, GROUP, self.consumer, 0, start, count=1000)
            await self._deliver(stream, entries)
            if _text(start) == "0-0":
                return

    def _stop_reading(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            self._reader = None

    # -- reading ------------------------------------------------------------------
    async def _read(self) -> None:
        redis = redis_module()
        backoff = Backoff(self.link.shown, "reading")
        while True:
            streams = dict.fromkeys([self.keys.hello, self.keys.forward, *map(self.keys.up, self._known)], ">")
            try:
                replies = await self._reader_client.xreadgroup(GROUP, self.consumer, streams,
                                                               count=READ_COUNT, block=BLOCK_MS)
            except redis.ResponseError as exc:  # a stream deleted or replaced under us, or redis restarted empty
                await backoff.after(exc)
                with contextlib.suppress(redis.RedisError):
                    await self._groups()
                continue
            except (redis.RedisError, OSError) as exc:
                await backoff.after(exc)
                continue
            backoff.reset()
            for stream, entries in replies or ():
                await self._deliver(_text(stream), entries)

    async def _deliver(self, stream: str, entries: list[tuple[bytes, dict[bytes, bytes]]]) -> None:
        for entry_id, fields in entries:
            if fields is None:  # deleted after it was read: nothing to deliver
                self._ack(stream, entry_id)
            elif stream == self.keys.hello:
                await self._hello(fields)
                self._ack(stream, entry_id)
            elif stream == self.keys.forward:
                if b"p" in fields and b"f" in fields:
                    await self._forwarded.put((_text(fields[b"p"]), fields[b"f"]))
                self._ack(stream, entry_id)
            elif b"f" not in fields:  # a node's own announcement
                self._ack(stream, entry_id)
            elif b"b" in fields:
                await self._requests.put((f"{self.keys.node_of(stream)}|{_text(fields[b'b'])}", fields[b"f"]))
                self._ack(stream, entry_id)
            else:
                await self._frames.put((self.keys.node_of(stream), fields[b"f"], stream, entry_id))

    async def _hello(self, fields: dict[bytes, bytes]) -> None:
        try:
            node = fields.get(b"n", b"").decode()
        except UnicodeDecodeError:
            return
        if node and node.isprintable() and node not in self._known and await self._group(self.keys.up(node)):
            self._known.add(node)
            LOG.debug("node %s announced itself", node)

    def _ack(self, stream: str, entry_id: bytes) -> None:
        assert self._writer is not None
        self._writer.queue("xack", stream, GROUP, entry_id)
        self._writer.queue("xdel", stream, entry_id)

    def _started(self) -> Any:
        if self._client is None:
            raise ConnectionError("the redis server transport is not started")
        return self._client

    # -- the contract ----------------------------------------------------------------
    def _ack_taken(self) -> None:
        for stream, entry_id in self._taken:
            self._ack(stream, entry_id)
        self._taken.clear()

    async def recv(self) -> tuple[str, bytes]:
        self._ack_taken()  # the caller is done with what it took before
        node, frame, stream, entry_id = await self._frames.get()
        self._taken.append((stream, entry_id))
        return node, frame

    def send(self, identity: str, frame: bytes) -> bool:
        if self._writer is None or identity not in self._known:
            return False
        return self._writer.xadd(self.keys.down(identity), {"f": frame}, DOWN_MAXLEN)

    async def backend_recv(self) -> tuple[str, bytes]:
        return await self._requests.get()

    def backend_reply(self, peer: str, frame: bytes) -> bool:
        node, _sep, request = peer.rpartition("|")
        connection = request.partition("/")[0]
        if self._writer is None or not node or not connection:
            return False
        return self._reply(self.keys.reply(node, connection), peer, frame, REPLY_MAXLEN, approximate=False)

    def _reply(self, key: str, peer: str, frame: bytes, maxlen: int, approximate: bool = True) -> bool:
        """An answer for ``peer`` on the short-lived stream ``key`` it reads (gone a while after)."""
        assert self._writer is not None
        return (self._writer.xadd(key, {"p": peer.encode(), "f": frame}, maxlen, approximate)
                and self._writer.queue("pexpire", key, REPLY_TTL_MS))

    async def forward(self, request: bytes, timeout: float) -> bytes:
        peer = f"{self.consumer}/{next(self._forwards)}"
        answers = self.keys.answer(self.consumer)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        last: bytes | str = "0-0"
        async with self._reachable():
            await self._started().xadd(self.keys.forward, {"p": peer, "f": request}, maxlen=FORWARD_MAXLEN)
            while (left := deadline - loop.time()) > 0:
                got = await self._started().xread({answers: last}, count=64, block=max(int(left * 1000), 1))
                for _stream, entries in got or ():
                    for entry_id, fields in entries:
                        last = entry_id
                        if fields.get(b"p") == peer.encode():
                            return fields.get(b"f", b"")
        raise TimeoutError(f"the active server did not answer within {timeout:g}s")

    async def forwarded_recv(self) -> tuple[str, bytes]:
        return await self._forwarded.get()

    def forwarded_reply(self, peer: str, frame: bytes) -> bool:
        server = peer.rpartition("/")[0]
        if self._writer is None or not server:
            return False
        return self._reply(self.keys.answer(server), peer, frame, FORWARD_MAXLEN)

    def may_act_as(self, peer: str, node: str) -> bool:
        return peer.rpartition("|")[0] == node

    def close(self) -> None:
        self._stop_reading()
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        close_later(self._client, self._reader_client)
        self._client = self._reader_client = None
        self._known.clear()
        self._taken.clear()
