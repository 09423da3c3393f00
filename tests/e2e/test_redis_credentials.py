"""The redis driver with credentials: a password-protected admin user for the server and its
redis datastore, ``node keygen`` users for the nodes, and no secret in any log, even at debug level."""

from __future__ import annotations

import json
import secrets
import uuid
from pathlib import Path

import redis

from directord.testing import Cluster


def test_nodes_run_on_their_own_credentials_and_no_secret_is_logged(tmp_path: Path, redis_base: str) -> None:
    admin, password = f"admin-{uuid.uuid4().hex[:8]}", secrets.token_urlsafe(24)
    raw = redis.Redis.from_url(f"{redis_base}/0")
    raw.acl_setuser(admin, enabled=True, passwords=[f"+{password}"], keys=["*"], channels=["*"], commands=["+@all"])
    host = redis_base.split("//", 1)[1]
    admin_url = f"redis://{admin}:{password}@{host}/0?prefix=cred-{uuid.uuid4().hex[:8]}"
    datastore = f"redis://{admin}:{password}@{host}/1?prefix=cred-{uuid.uuid4().hex[:8]}"
    c = Cluster(tmp_path, clients=2, datastore=datastore, driver="redis", driver_url=admin_url, extra=("--debug",))
    keygen = c.cli("node", "keygen", *c.names, "-f", "json")
    assert keygen.returncode == 0, keygen.stderr
    rows = json.loads(keygen.stdout)
    c.node_driver_urls = {row["NODE"]: row["CREDENTIAL"] for row in rows}
    assert set(c.node_driver_urls) == set(c.names)
    node_secrets = [url.split("//", 1)[1].split("@", 1)[0].split(":", 1)[1] for url in c.node_driver_urls.values()]
    try:
        with c.running():
            done = c.cli("exec", "--verb", "RUN", "--skip-cache echo with my own key", "--wait")
            assert done.returncode == 0, done.stdout + done.stderr
            assert set(c.job()["STDOUT"].values()) == {"with my own key"}
        logs = "".join(log.read_text(errors="replace") for log in tmp_path.glob("*.log"))
        assert "DEBUG" in logs  # the logs were at debug level
        for secret in [password, *node_secrets]:
            assert secret not in logs
    finally:
        raw.acl_deluser(admin)
        for name in c.names:
            raw.acl_deluser(name)
