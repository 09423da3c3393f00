"""The redis driver and datastore behind Sentinel: a master, a replica and a sentinel on
private ports. Sentinel promotes the replica; servers and clients follow the new master."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from directord.testing import Cluster, free_port, redis_server, wait_for

SERVICE = "directord-master"


@contextlib.contextmanager
def sentinel_group(root: Path) -> Iterator[tuple[int, int, int]]:
    """(master port, replica port, sentinel port), the replica in sync and the sentinel watching."""
    ports = free_port(), free_port(), free_port()
    for name in ("master", "replica", "sentinel"):
        (root / name).mkdir(parents=True)
    config = root / "sentinel" / "sentinel.conf"
    config.write_text(f"sentinel monitor {SERVICE} 127.0.0.1 {ports[0]} 1\n"
                      f"sentinel down-after-milliseconds {SERVICE} 1000\n"
                      f"sentinel failover-timeout {SERVICE} 5000\n")
    with contextlib.ExitStack() as stack:
        stack.enter_context(redis_server(root / "master", ports[0]))
        stack.enter_context(redis_server(root / "replica", ports[1], args=("--replicaof", "127.0.0.1", str(ports[0]))))
        replica = redis.Redis(port=ports[1])
        wait_for(lambda: replica.info("replication").get("master_link_status") == "up", 15, what="the replica")
        stack.enter_context(redis_server(root / "sentinel", ports[2], args=(str(config), "--sentinel")))
        sentinel = redis.Redis(port=ports[2])
        wait_for(lambda: len(sentinel.sentinel_slaves(SERVICE)) == 1, 15, what="the sentinel to see the replica")
        yield ports


def master_port(sentinel_port: int) -> int:
    return int(redis.Redis(port=sentinel_port).sentinel_get_master_addr_by_name(SERVICE)[1])


@pytest.fixture
def group(tmp_path: Path) -> Iterator[tuple[int, int, int]]:
    with sentinel_group(tmp_path / "redis") as ports:
        yield ports


def test_a_cluster_follows_the_master_sentinel_promotes(tmp_path: Path, group: tuple[int, int, int]) -> None:
    master, replica, sentinel = group
    tag = uuid.uuid4().hex[:8]
    url = f"redis+sentinel://127.0.0.1:{sentinel}/{SERVICE}"
    c = Cluster(tmp_path / "plane", clients=2, datastore=f"{url}/1?prefix=ds-{tag}", driver="redis",
                driver_url=f"{url}/0?prefix=tr-{tag}")
    keygen = c.cli("node", "keygen", *c.names, "-f", "json")
    assert keygen.returncode == 0, keygen.stderr
    c.node_driver_urls = {row["NODE"]: row["CREDENTIAL"] for row in json.loads(keygen.stdout)}
    assert all(u.startswith(f"redis+sentinel://{n}:") for n, u in c.node_driver_urls.items())
    for port in (master, replica):  # ACL users are per server: keygen made them on both
        assert redis.Redis(port=port).acl_getuser("node1")["enabled"]
    with c.running():
        before = c.cli("exec", "--verb", "RUN", "--skip-cache echo before", "--wait")
        assert before.returncode == 0, before.stdout + before.stderr
        redis.Redis(port=sentinel).execute_command("SENTINEL", "FAILOVER", SERVICE)
        wait_for(lambda: master_port(sentinel) == replica, 30, what="Sentinel to promote the replica")
        after = c.cli("exec", "--verb", "RUN", "--skip-cache echo after", "--wait", timeout=90)
        assert after.returncode == 0, after.stdout + after.stderr
        assert set(c.job()["STDOUT"].values()) == {"after"}
        assert redis.Redis(port=replica).exists(f"tr-{tag}:down:node1")  # written to the new master
