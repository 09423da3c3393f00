"""Redis clients from the URLs the redis driver and datastore take.

``redis://[user:password@]host:port/db``, ``rediss://`` (TLS) and
``unix:///path?db=N`` as redis-py reads them, and a master found through
Sentinel: ``redis+sentinel://[user:password@]host:port[,host:port...]/SERVICE[/DB]``
(``rediss+sentinel://`` for TLS; ``?sentinel_username=`` and
``?sentinel_password=`` authenticate to the sentinels themselves). A client
of a Sentinel URL follows the master when Sentinel promotes a replica.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlparse

SENTINEL_PORT = 26379
SENTINEL_SCHEMES = {"redis+sentinel": False, "rediss+sentinel": True}  # scheme -> TLS
SCHEMES = ("redis", "rediss", "unix", *SENTINEL_SCHEMES)


@dataclass(frozen=True)
class SentinelTarget:
    """Where the sentinels are, which master they watch, and how to log in to it."""

    sentinels: list[tuple[str, int]]
    service: str
    db: int = 0
    master: dict[str, Any] = field(default_factory=dict)  # username, password, ssl
    sentinel: dict[str, Any] = field(default_factory=dict)  # username, password of the sentinels


def parse_sentinel(url: str) -> SentinelTarget:
    """The parts of a ``redis+sentinel://`` URL; ValueError names what is wrong."""
    parsed = urlparse(url)
    userinfo, _at, hosts = parsed.netloc.rpartition("@")
    sentinels = []
    for host in filter(None, hosts.split(",")):
        name, colon, port = host.rpartition(":")
        if not colon:
            name, port = host, str(SENTINEL_PORT)
        if not name or not port.isdigit():
            raise ValueError(f"bad sentinel address {host!r}")
        sentinels.append((name.strip("[]"), int(port)))
    path = [part for part in parsed.path.split("/") if part]
    if not sentinels or not path or len(path) > 2 or (len(path) == 2 and not path[1].isdigit()):
        raise ValueError("expected redis+sentinel://[user:password@]host:port[,host:port...]/SERVICE[/DB]")
    master: dict[str, Any] = {"ssl": SENTINEL_SCHEMES[parsed.scheme]}
    if userinfo:
        user, _colon, password = userinfo.partition(":")
        master.update(username=unquote(user) or None, password=unquote(password) or None)
    query = dict(parse_qsl(parsed.query))
    sentinel = {key[len("sentinel_"):]: query[key] for key in ("sentinel_username", "sentinel_password")
                if query.get(key)}
    return SentinelTarget(sentinels, unquote(path[0]), int(path[1]) if len(path) == 2 else 0, master, sentinel)


def address(url: str) -> str:
    """Where ``url`` points, for messages (no credentials)."""
    parsed = urlparse(url)
    if parsed.scheme in SENTINEL_SCHEMES:
        target = parse_sentinel(url)
        return f"{target.service} via sentinel {','.join(f'{h}:{p}' for h, p in target.sentinels)}"
    if parsed.scheme == "unix":
        return parsed.path
    return f"{parsed.hostname or 'localhost'}:{parsed.port or 6379}"


def client(url: str, use_asyncio: bool = False, **options: Any) -> Any:
    """A redis-py client (``redis.asyncio`` with ``use_asyncio``) for ``url``; ValueError or
    TypeError for a URL redis-py cannot use."""
    import redis

    if urlparse(url).scheme not in SENTINEL_SCHEMES:
        return (redis.asyncio.Redis if use_asyncio else redis.Redis).from_url(url, **options)
    target = parse_sentinel(url)
    if use_asyncio:
        from redis.asyncio.sentinel import Sentinel
    else:
        from redis.sentinel import Sentinel
    sentinel_options = {k: v for k, v in options.items() if k in ("socket_connect_timeout", "socket_timeout")}
    sentinels = Sentinel(target.sentinels, sentinel_kwargs={**sentinel_options, **target.sentinel}, **options)
    return sentinels.master_for(target.service, db=target.db, **{k: v for k, v in target.master.items() if v})


def every_server(url: str, **options: Any) -> list[Any]:
    """Blocking clients of the master and, behind Sentinel, of each of its replicas: for
    commands Redis keeps per server and does not replicate, such as ``ACL SETUSER``."""
    if urlparse(url).scheme not in SENTINEL_SCHEMES:
        return [client(url, **options)]
    import redis
    from redis.sentinel import Sentinel

    target = parse_sentinel(url)
    sentinels = Sentinel(target.sentinels, sentinel_kwargs=dict(target.sentinel), **options)
    servers = [sentinels.discover_master(target.service), *sentinels.discover_slaves(target.service)]
    login = {k: v for k, v in target.master.items() if v}
    return [redis.Redis(host=host, port=port, db=target.db, **login, **options) for host, port in servers]
