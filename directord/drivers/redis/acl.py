"""``node keygen`` for the redis driver: one ACL user per node, and the URL it starts with."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, urlparse, urlunparse

from directord import redis_url
from directord.drivers.redis.link import CONNECT_TIMEOUT, link, redis_module
from directord.exceptions import ConfigError, DirectordError

LOG = logging.getLogger(__name__)


def _valid(name: str) -> str:
    if not name or len(name) > 255 or any(c.isspace() or not c.isprintable() for c in name) or "@" in name:
        raise ConfigError(f"invalid node name {name!r} for a redis user")
    if name == "default":
        raise ConfigError("'default' is Redis's own user, not a node name")
    return name


def _persist(server: Any) -> None:
    """Keep the users past a Redis restart: ``ACL SAVE`` to its aclfile, else ``CONFIG REWRITE``
    of its config file; a Redis with neither loses them on restart, and says so."""
    redis = redis_module()
    for command in (("ACL", "SAVE"), ("CONFIG", "REWRITE")):
        try:
            server.execute_command(*command)
            return
        except redis.ResponseError:
            continue
    where = server.connection_pool.connection_kwargs
    LOG.warning("redis at %s:%s has neither an aclfile nor a config file: the node users last until it"
                " restarts (start it with --aclfile FILE, then run node keygen again)",
                where.get("host", "?"), where.get("port", "?"))


def node_url(admin_url: str, node: str, secret: str) -> str:
    """``admin_url`` with the node's own user and password in place of the admin's."""
    parsed = urlparse(admin_url)
    host = parsed.netloc.rsplit("@", 1)[-1]
    return urlunparse(parsed._replace(netloc=f"{quote(node, safe='')}:{secret}@{host}"))


def create_users(config: Any, names: Sequence[str]) -> list[tuple[str, str]]:
    """Create (or reset, with a new secret) the ACL user of each node: (node, its driver URL)."""
    if not names:
        raise ConfigError("the redis driver keeps no server keys: name the nodes (node keygen NAME ...)")
    settings = link(config)
    redis = redis_module()
    rows = []
    servers: list[Any] = []
    try:
        servers = redis_url.every_server(settings.url, socket_connect_timeout=CONNECT_TIMEOUT)
        for name in map(_valid, names):
            secret = secrets.token_urlsafe(32)
            for server in servers:  # ACLs are not replicated: the same user on every server
                server.execute_command("ACL", "SETUSER", name, *settings.keys.acl_rules(name, secret))
            rows.append((name, node_url(str(config.driver_url), name, secret)))
        for server in servers:
            _persist(server)
    except redis.RedisError as exc:
        raise DirectordError(f"redis at {settings.shown} could not create the node user: {exc}") from None
    finally:
        for server in servers:
            server.close()
    return rows
