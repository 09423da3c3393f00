"""One task per transport sends queued Redis commands in pipelines; nothing queued is lost
while Redis is away (the batch is retried with back-off once it is back)."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from typing import Any

from directord.drivers.redis.link import Backoff, redis_module

LOG = logging.getLogger(__name__)
BATCH = 512
LIMIT_BYTES = 256 * 1024 * 1024
LIMIT_COMMANDS = 200_000


class Writer:
    """``queue()`` never blocks: False when the backlog is over its limit."""

    def __init__(self, client: Any, shown: str):
        self.client = client
        self.shown = shown
        self._queue: collections.deque[tuple[str, tuple[Any, ...], dict[str, Any], int]] = collections.deque()
        self._bytes = 0
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run())

    def queue(self, command: str, *args: Any, size: int = 0, **kwargs: Any) -> bool:
        if self._bytes + size > LIMIT_BYTES or len(self._queue) >= LIMIT_COMMANDS:
            return False
        self._queue.append((command, args, kwargs, size))
        self._bytes += size
        self._wake.set()
        self._idle.clear()
        return True

    def xadd(self, key: str, fields: dict[str, Any], maxlen: int, approximate: bool = True) -> bool:
        size = sum(len(value) for value in fields.values())
        return self.queue("xadd", key, fields, maxlen=maxlen, approximate=approximate, size=size)

    async def _run(self) -> None:
        redis = redis_module()
        backoff = Backoff(self.shown, "writing")
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                batch = [self._queue[i] for i in range(min(BATCH, len(self._queue)))]
                try:
                    await self._send(batch)
                except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
                    await backoff.after(exc)
                    continue
                backoff.reset()
                for _ in batch:
                    self._bytes -= self._queue.popleft()[3]
            self._idle.set()

    async def _send(self, batch: list[tuple[str, tuple[Any, ...], dict[str, Any], int]]) -> None:
        pipe = self.client.pipeline(transaction=False)
        for command, args, kwargs, _size in batch:
            getattr(pipe, command)(*args, **kwargs)
        results = await pipe.execute(raise_on_error=False)
        for (command, args, _kwargs, _size), result in zip(batch, results, strict=True):
            if isinstance(result, redis_module().ConnectionError):
                raise result
            if isinstance(result, Exception):  # refused for good (NOPERM, wrong type): retrying cannot help
                LOG.error("redis at %s refused %s %s: %s", self.shown, command.upper(), args[0], result)

    async def drain(self, timeout: float) -> None:
        """Wait up to ``timeout`` s until everything queued is sent."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout)

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self._queue.clear()
        self._bytes = 0
