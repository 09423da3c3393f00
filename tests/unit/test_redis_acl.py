"""Per-node Redis credentials (``node keygen`` with the redis driver), against a real redis-server:
a node's ACL user reads only its own job and reply streams and writes only its own up stream."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import redis

from directord import config
from directord.drivers import ServerTransport
from directord.drivers.redis import RedisDriver
from directord.drivers.redis.acl import node_url
from directord.drivers.redis.keys import Keys
from directord.exceptions import ConfigError
from directord.testing import free_port, redis_server
from directord.testing.drivers import LEASE_S


@pytest.fixture
def admin_url(redis_server: str) -> str:
    return f"{redis_server}/0?prefix=acl-{uuid.uuid4().hex[:10]}"


def settings(url: str, **more: Any) -> config.Config:
    return config.defaults(driver="redis", driver_url=url, heartbeat_interval=1.0, **more)


@pytest.fixture
def credentials(admin_url: str) -> dict[str, str]:
    """node -> the driver URL ``node keygen`` printed for it."""
    return dict(RedisDriver.generate_keys(settings(admin_url), ["web1", "web2"]))


def as_node(url: str) -> redis.Redis:
    return redis.Redis.from_url(url.partition("?")[0])


def test_keygen_prints_a_url_with_the_nodes_own_user(admin_url: str, credentials: dict[str, str]) -> None:
    assert set(credentials) == {"web1", "web2"}
    url = credentials["web1"]
    assert url.startswith("redis://web1:") and url.endswith(admin_url.split("@")[-1].split("//", 1)[1])
    assert credentials["web1"] != credentials["web2"]
    assert as_node(url).ping()
    again = dict(RedisDriver.generate_keys(settings(admin_url), ["web1"]))["web1"]  # a new secret
    assert again != url
    with pytest.raises(redis.AuthenticationError):
        as_node(url).ping()


def _subscribe(pubsub: Any) -> Any:
    pubsub.subscribe("anything")
    return pubsub.get_message(timeout=1)


FORBIDDEN: list[tuple[str, Callable[[redis.Redis, Keys], Any]]] = [
    ("read another node's jobs", lambda r, k: r.xread({k.down("web2"): "0"})),
    ("range over another node's jobs", lambda r, k: r.xrevrange(k.down("web2"), count=1)),
    ("forge a job into its own stream", lambda r, k: r.xadd(k.down("web1"), {"f": b"job"})),
    ("write as another node", lambda r, k: r.xadd(k.up("web2"), {"f": b"result"})),
    ("read another node's replies", lambda r, k: r.xread({k.reply("web2", "c"): "0"})),
    ("read the results it wrote", lambda r, k: r.xread({k.up("web1"): "0"})),
    ("read the announcements", lambda r, k: r.xread({k.hello: "0"})),
    ("trim its own job stream", lambda r, k: r.xtrim(k.down("web1"), 0)),
    ("delete its own job stream", lambda r, k: r.delete(k.down("web1"))),
    ("read the servers' group", lambda r, k: r.xreadgroup("directord", "x", {k.up("web2"): ">"})),
    ("take the lease", lambda r, k: r.set(k.lease, "me")),
    ("read the lease", lambda r, k: r.get(k.lease)),
    ("list keys", lambda r, k: r.keys("*")),
    ("scan keys", lambda r, k: r.scan(0)),
    ("subscribe", lambda r, k: _subscribe(r.pubsub())),
    ("publish", lambda r, k: r.publish("anything", "x")),
    ("run a script", lambda r, k: r.eval("return 1", 0)),
    ("read the config", lambda r, k: r.config_get("*")),
    ("list the ACL users", lambda r, k: r.acl_list()),
    ("flush the db", lambda r, k: r.flushdb()),
]


@pytest.mark.parametrize(("what", "operation"), FORBIDDEN, ids=[what for what, _ in FORBIDDEN])
def test_a_node_user_may_not(credentials: dict[str, str], admin_url: str, what: str,
                             operation: Callable[[redis.Redis, Keys], Any]) -> None:
    keys = Keys(admin_url.partition("prefix=")[2])
    node = as_node(credentials["web1"])
    with pytest.raises(redis.exceptions.NoPermissionError):
        operation(node, keys)


def test_a_node_user_may_do_what_its_client_does(credentials: dict[str, str], admin_url: str) -> None:
    keys = Keys(admin_url.partition("prefix=")[2])
    node = as_node(credentials["web1"])
    assert node.xadd(keys.up("web1"), {"f": b"result"})
    assert node.xadd(keys.hello, {"n": b"web1"})
    assert node.xread({keys.down("web1"): "0"}) == []
    assert node.xrevrange(keys.down("web1"), count=1) == []
    assert node.xread({keys.reply("web1", "conn"): "0"}) == []


@contextlib.asynccontextmanager
async def active_server(admin_url: str) -> AsyncIterator[ServerTransport]:
    server = RedisDriver.server_transport(settings(admin_url))
    await server.start()
    try:
        assert await server.lead("server", LEASE_S)
        yield server
    finally:
        await server.resign("server")
        server.close()


def test_jobs_flow_with_node_credentials(credentials: dict[str, str], admin_url: str) -> None:
    async def scenario() -> None:
        async with active_server(admin_url) as server:
            client = RedisDriver.client_transport(settings(credentials["web1"]), "web1")
            await client.connect()
            try:
                assert client.send(b"result")
                assert await asyncio.wait_for(server.recv(), 10) == ("web1", b"result")
                assert server.send("web1", b"job")
                assert await asyncio.wait_for(client.recv(), 10) == b"job"
            finally:
                client.close()

    asyncio.run(scenario())


def test_a_node_with_another_nodes_identity_is_refused(credentials: dict[str, str], admin_url: str) -> None:
    async def scenario() -> None:
        async with active_server(admin_url) as server:
            impostor = RedisDriver.client_transport(settings(credentials["web1"]), "web2")
            with pytest.raises(ConfigError, match="refused node 'web2' .*no permissions.*not this node's"):
                await impostor.connect()
            honest = RedisDriver.client_transport(settings(credentials["web2"]), "web2")
            await honest.connect()  # the server hears from web2 only through web2's own stream
            try:
                assert honest.send(b"from the real web2")
                assert await asyncio.wait_for(server.recv(), 10) == ("web2", b"from the real web2")
            finally:
                honest.close()

    asyncio.run(scenario())


def test_node_names_that_are_glob_patterns_match_only_themselves(admin_url: str) -> None:
    urls = dict(RedisDriver.generate_keys(settings(admin_url), ["web*"]))
    keys = Keys(admin_url.partition("prefix=")[2])
    node = as_node(urls["web*"])
    assert node.xadd(keys.up("web*"), {"f": b"mine"})
    with pytest.raises(redis.exceptions.NoPermissionError):
        node.xadd(keys.up("web1"), {"f": b"not mine"})


@pytest.mark.parametrize("name", ["", "has space", "default", "at@sign", "tab\there"])
def test_keygen_refuses_names_redis_users_cannot_be(admin_url: str, name: str) -> None:
    with pytest.raises(ConfigError):
        RedisDriver.generate_keys(settings(admin_url), [name])


def test_node_url_keeps_host_db_and_prefix() -> None:
    assert node_url("rediss://admin:pw@h:6380/2?prefix=p", "web1", "s3") == "rediss://web1:s3@h:6380/2?prefix=p"
    assert node_url("redis://h/0", "a/b", "s") == "redis://a%2Fb:s@h/0"


def test_keygen_says_when_redis_cannot_keep_the_users(admin_url: str, caplog: pytest.LogCaptureFixture) -> None:
    RedisDriver.generate_keys(settings(admin_url), ["web9"])  # the test redis-server: no aclfile, no config file
    assert "the node users last until it restarts" in caplog.text


def test_node_users_outlive_a_redis_restart_with_an_aclfile(tmp_path: Path) -> None:
    acl_file, port = tmp_path / "users.acl", free_port()
    acl_file.write_text("")
    with redis_server(tmp_path, port, args=("--aclfile", str(acl_file))) as base:
        url = dict(RedisDriver.generate_keys(settings(f"{base}/0"), ["web1"]))["web1"]
        assert "user web1 on" in acl_file.read_text()
    with redis_server(tmp_path, port, args=("--aclfile", str(acl_file))):
        assert as_node(url).ping()
