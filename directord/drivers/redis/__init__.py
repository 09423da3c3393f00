"""Redis Streams driver: any number of servers and their nodes meet on one Redis.

Each node reads its own down stream and writes its own up stream; the servers
read every up stream through one consumer group, and a lease key picks the
one that serves the nodes. With per-node ACL users (``node keygen``) a node can
touch nothing but its own streams. Key names are in ``keys``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from directord.config import Option
from directord.drivers import ClientTransport, Driver, ServerTransport


class RedisDriver(Driver):
    """Streams on ``--driver-url redis://[user:password@]host:port/db`` (``rediss://`` for TLS)."""

    name = "redis"
    options: ClassVar[tuple[Option, ...]] = (
        Option("driver_url", str, "", "Redis URL of the redis driver: redis://[user:password@]host:port/db,"
               " rediss:// for TLS, ?prefix=NAME for a key prefix of its own."),
    )

    @classmethod
    def server_transport(cls, config: Any) -> ServerTransport:
        from directord.drivers.redis.server import RedisServer

        return RedisServer(config)

    @classmethod
    def client_transport(cls, config: Any, identity: str | None = None) -> ClientTransport:
        from directord.drivers.redis.client import RedisClient

        return RedisClient(config, identity)

    @classmethod
    def generate_keys(cls, config: Any, names: Sequence[str] = ()) -> list[tuple[str, str]]:
        from directord.drivers.redis.acl import create_users

        return create_users(config, names)
