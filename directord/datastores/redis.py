"""``redis://host:port/db``, ``rediss://`` (TLS) and ``redis+sentinel://`` (a master found
through Sentinel): a real Redis, JSON values, TTLs.

Key layout (``P`` is the prefix, ``directord:`` unless ``?prefix=NAME`` gives
``NAME:``, so several servers can share one db):

=====================  ======  ===============================================
key                    type    holds
=====================  ======  ===============================================
``P node:<identity>``  string  the node as JSON, ``EX`` = its expire_time - now
                               (at least 1 s): entries vanish by themselves
``P nodes``            zset    identity -> expire_time; the listing index
                               (expired members are trimmed on read)
``P job:<job_id>``     string  ``JobRecord.to_state()`` as JSON (``EX job_ttl``
                               when ``?job_ttl=SECONDS`` is given)
``P jobs:order``       zset    job_id -> insertion sequence (``ZADD NX``): the
                               order of ``jobs()`` and ``last_job()``
``P jobs:last``        zset    job_id -> last update time: ``prune_jobs``
``P jobs:seq``         string  the sequence counter (``INCRBY`` once per batch)
=====================  ======  ===============================================

No ``KEYS``/``SCAN`` anywhere: listings walk the zsets and fetch values with
``MGET``; ``put_jobs`` is one ``INCRBY`` plus a MULTI/EXEC pipeline; prune and
clear walk their zset in chunks and delete in pipelines. Retention is driven
by the server calling ``prune_jobs`` (``job_ttl`` is only a safety net).
Values are never pickled; a non-JSON or foreign value is logged and skipped.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlparse, urlunparse

from directord import redis_url
from directord.config import safe_url
from directord.datastores import Datastore
from directord.datastores.codec import decode_job, decode_node, encode
from directord.exceptions import DatastoreError
from directord.models import JobRecord, Node

try:
    import redis as redis_lib
except ImportError:  # pragma: no cover - the extra is not installed
    redis_lib = None  # type: ignore[assignment]

LOG = logging.getLogger(__name__)

CONNECT_TIMEOUT = 2.0
SOCKET_TIMEOUT = 10.0
CHUNK = 1000
DEFAULT_PREFIX = "directord"

T = TypeVar("T")


def _guarded(method: Callable[..., T]) -> Callable[..., T]:
    """A Redis failure during use becomes one DatastoreError line (no password in it)."""

    @functools.wraps(method)
    def wrapper(self: RedisDatastore, *args: Any, **kwargs: Any) -> T:
        try:
            return method(self, *args, **kwargs)
        except redis_lib.RedisError as exc:
            raise DatastoreError(f"redis at {self.address}: {exc}") from exc

    return wrapper


def _text(member: bytes) -> str:
    return member.decode("utf-8", "surrogateescape")


def _chunks(items: list[T], size: int = CHUNK) -> Iterable[list[T]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class RedisDatastore(Datastore):
    """Nodes with TTLs and job records in Redis; see the module docstring for keys."""

    shared = True

    def __init__(self, url: str, *, job_ttl: float | None = None):
        super().__init__(url)
        if redis_lib is None:
            raise DatastoreError("the redis datastore needs the redis package: pip install 'directord[redis]'")
        parsed = urlparse(url)
        if parsed.scheme not in ("redis", "rediss", *redis_url.SENTINEL_SCHEMES):
            raise DatastoreError(f"not a redis datastore URL: {safe_url(url)}")
        try:
            self.address = redis_url.address(url)
        except ValueError as exc:
            raise DatastoreError(f"bad redis URL {safe_url(url)}: {exc}") from None
        db = parsed.path.strip("/")
        if parsed.scheme not in redis_url.SENTINEL_SCHEMES and db and not db.isdigit():
            raise DatastoreError(f"redis URL path must be a db number (redis://host:port/0), got {db!r}")
        options = dict(parse_qsl(parsed.query, keep_blank_values=True))
        prefix = options.pop("prefix", DEFAULT_PREFIX) or DEFAULT_PREFIX
        ttl = options.pop("job_ttl", None)
        try:
            self.job_ttl = float(ttl) if ttl not in (None, "") else job_ttl
        except ValueError:
            raise DatastoreError(f"job_ttl in the redis URL must be a number of seconds, got {ttl!r}") from None
        self.job_ex = max(1, math.ceil(self.job_ttl)) if self.job_ttl else None
        p = prefix.rstrip(":").encode() + b":"
        self._node_key, self._nodes_key = p + b"node:", p + b"nodes"
        self._job_key, self._order_key = p + b"job:", p + b"jobs:order"
        self._last_key, self._seq_key = p + b"jobs:last", p + b"jobs:seq"
        client_url = urlunparse(parsed._replace(query=urlencode(options)))
        try:
            self.client = redis_url.client(client_url, socket_connect_timeout=CONNECT_TIMEOUT,
                                           socket_timeout=SOCKET_TIMEOUT, decode_responses=False)
            self.client.ping()
        except redis_lib.RedisError as exc:
            raise DatastoreError(f"cannot reach redis at {self.address}: {exc}") from None
        except (ValueError, TypeError) as exc:  # a bad query option for redis-py
            raise DatastoreError(f"bad redis URL {safe_url(url)}: {exc}") from None

    # -- nodes ---------------------------------------------------------------
    @_guarded
    def put_node(self, node: Node) -> None:
        state = node.to_dict()
        state.pop("expiry", None)
        ttl = max(1, math.ceil(node.expire_time - time.time()))
        member = node.identity.encode()
        pipe = self.client.pipeline(transaction=True)
        pipe.set(self._node_key + member, encode(state), ex=ttl)
        pipe.zadd(self._nodes_key, {member: float(node.expire_time)})
        pipe.execute()

    @_guarded
    def delete_node(self, identity: str) -> None:
        member = identity.encode()
        pipe = self.client.pipeline(transaction=True)
        pipe.delete(self._node_key + member)
        pipe.zrem(self._nodes_key, member)
        pipe.execute()

    @_guarded
    def nodes(self) -> list[Node]:
        now = time.time()
        pipe = self.client.pipeline(transaction=True)
        pipe.zremrangebyscore(self._nodes_key, "-inf", now)
        pipe.zrange(self._nodes_key, 0, -1)
        members = pipe.execute()[1]
        found, gone = [], []
        for chunk in _chunks(members):
            values = self.client.mget([self._node_key + m for m in chunk])
            for member, raw in zip(chunk, values, strict=True):
                if raw is None:  # its TTL ran out before the index was trimmed
                    gone.append(member)
                    continue
                node = decode_node(raw, f"redis {self.address} {_text(self._node_key + member)}", _text(member))
                if node is not None and node.expire_time > now:
                    found.append(node)
        if gone:
            self.client.zrem(self._nodes_key, *gone)
        return sorted(found, key=lambda n: n.identity)

    @_guarded
    def clear_nodes(self) -> int:
        members = self.client.zrange(self._nodes_key, 0, -1)
        pipe = self.client.pipeline(transaction=True)
        for chunk in _chunks(members):
            pipe.delete(*(self._node_key + m for m in chunk))
        pipe.delete(self._nodes_key)
        results = pipe.execute()
        return sum(int(n) for n in results[:-1])  # entries whose TTL had not run out

    # -- jobs ----------------------------------------------------------------
    @_guarded
    def put_jobs(self, records: Iterable[JobRecord]) -> None:
        rows = [(r.job_id.encode(), float(r.last), encode(r.to_state())) for r in records]
        if not rows:
            return
        first = int(self.client.incrby(self._seq_key, len(rows))) - len(rows) + 1
        for offset in range(0, len(rows), CHUNK):
            pipe = self.client.pipeline(transaction=True)
            chunk = rows[offset:offset + CHUNK]
            for member, _last, value in chunk:
                pipe.set(self._job_key + member, value, ex=self.job_ex)
            # NX: an update keeps the record's place in the order
            pipe.zadd(self._order_key, {m: first + offset + i for i, (m, _, _) in enumerate(chunk)}, nx=True)
            pipe.zadd(self._last_key, {m: last for m, last, _ in chunk})
            pipe.execute()

    def _where(self, member: bytes) -> str:
        return f"redis {self.address} {_text(self._job_key + member)}"

    @_guarded
    def get_job(self, job_id: str) -> JobRecord | None:
        member = job_id.encode()
        return decode_job(self.client.get(self._job_key + member), self._where(member), job_id)

    def _decode_many(self, members: list[bytes]) -> list[JobRecord]:
        found = []
        for chunk in _chunks(members):
            values = self.client.mget([self._job_key + m for m in chunk])
            for member, raw in zip(chunk, values, strict=True):
                record = decode_job(raw, self._where(member), _text(member))
                if record is not None:
                    found.append(record)
        return found

    @_guarded
    def jobs(self) -> list[JobRecord]:
        return self._decode_many(self.client.zrange(self._order_key, 0, -1))

    @_guarded
    def last_job(self) -> JobRecord | None:
        start = 0
        while True:  # newest first, past any corrupt or vanished value
            members = self.client.zrevrange(self._order_key, start, start + 15)
            if not members:
                return None
            found = self._decode_many(members)
            if found:
                return found[0]
            start += len(members)

    @_guarded
    def clear_jobs(self) -> int:
        count = 0
        while True:
            members = self.client.zrange(self._order_key, 0, CHUNK - 1)
            if not members:
                break
            self._drop_jobs(members)
            count += len(members)
        self.client.delete(self._last_key)  # members only a crashed writer could leave behind
        return count

    @_guarded
    def prune_jobs(self, older_than: float) -> int:
        count = 0
        while True:
            members = self.client.zrangebyscore(self._last_key, "-inf", f"({float(older_than)!r}", start=0, num=CHUNK)
            if not members:
                return count
            self._drop_jobs(members)
            count += len(members)

    def _drop_jobs(self, members: list[bytes]) -> None:
        pipe = self.client.pipeline(transaction=True)
        pipe.delete(*(self._job_key + m for m in members))
        pipe.zrem(self._order_key, *members)
        pipe.zrem(self._last_key, *members)
        pipe.execute()

    def close(self) -> None:
        try:
            self.client.close()
        except redis_lib.RedisError as exc:
            LOG.debug("closing redis at %s: %s", self.address, exc)
