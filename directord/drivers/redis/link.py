"""The redis driver's connection settings: one URL, secrets kept out of messages."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlparse, urlunparse

from directord import redis_url
from directord.config import safe_url
from directord.drivers.redis.keys import Keys
from directord.exceptions import ConfigError

LOG = logging.getLogger(__name__)
CONNECT_TIMEOUT = 2.0
RETRY_S = (0.05, 2.0)  # reconnect back-off: first and longest wait
READ_COUNT = 256  # entries one blocking read takes per stream
BLOCK_MS = 5000  # a blocking read returns at least this often (nothing is polled)
QUEUED = 4096  # frames read ahead of whoever consumes them


class Backoff:
    """The wait between retries while Redis is away: doubling up to ``RETRY_S[1]``, reset by success."""

    def __init__(self, shown: str, doing: str):
        self.shown, self.doing = shown, doing
        self.delay = RETRY_S[0]

    async def after(self, exc: BaseException) -> None:
        LOG.warning("redis at %s: %s; %s again in %.2fs", self.shown, exc, self.doing, self.delay)
        await asyncio.sleep(self.delay)
        self.delay = min(self.delay * 2, RETRY_S[1])

    def reset(self) -> None:
        self.delay = RETRY_S[0]


def close_later(*clients: Any) -> None:
    """Close redis.asyncio clients from synchronous code running in their loop."""
    for client in clients:
        if client is not None:
            with contextlib.suppress(RuntimeError):  # no loop left: the connections die with the process
                asyncio.get_running_loop().create_task(client.aclose())


def redis_module() -> Any:
    try:
        import redis
    except ImportError:
        raise ConfigError("the redis driver needs the redis package: pip install 'directord[redis]'") from None
    return redis


class Link:
    """A parsed ``--driver-url``: the Redis URL, the key prefix, and a printable form."""

    def __init__(self, url: str):
        if not url:
            raise ConfigError("the redis driver needs --driver-url redis://[user:password@]host:port/db")
        parsed = urlparse(url)
        if parsed.scheme not in redis_url.SCHEMES:
            raise ConfigError(f"not a redis URL ({', '.join(s + '://' for s in redis_url.SCHEMES)}): "
                              f"{safe_url(url)}")
        options = dict(parse_qsl(parsed.query, keep_blank_values=True))
        self.keys = Keys(options.pop("prefix", "") or "directord")
        self.url = urlunparse(parsed._replace(query=urlencode(options)))
        self.shown = safe_url(url)
        if parsed.scheme in redis_url.SENTINEL_SCHEMES:
            try:
                redis_url.parse_sentinel(url)
            except ValueError as exc:
                raise ConfigError(f"bad redis URL {self.shown}: {exc}") from None

    def asyncio_client(self) -> Any:
        return self._client(use_asyncio=True)

    def blocking_client(self) -> Any:
        return self._client(use_asyncio=False)

    def _client(self, use_asyncio: bool) -> Any:
        redis_module()
        try:
            return redis_url.client(self.url, use_asyncio=use_asyncio, socket_connect_timeout=CONNECT_TIMEOUT,
                                    decode_responses=False, health_check_interval=30)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"bad redis URL {self.shown}: {exc}") from None


def link(config: Any) -> Link:
    return Link(str(getattr(config, "driver_url", "") or ""))
