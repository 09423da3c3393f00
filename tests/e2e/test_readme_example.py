"""The orchestration example of README.md, read from the README, runs unchanged on fresh nodes.

The example writes under ``/srv``; each node's client runs in a mount
namespace of its own with an empty tmpfs there, so the nodes start fresh, see
only their own files, and the host's ``/srv`` is never touched.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from directord.testing import Cluster

README = Path(__file__).resolve().parents[2] / "README.md"
PRIVATE_SRV = ("unshare", "--mount", "--propagation", "private",
               "sh", "-c", 'mount -t tmpfs directord-test /srv && exec "$@"', "sh")


def readme_example() -> str:
    """The first fenced yaml block under the README's "Orchestrations" heading."""
    section = README.read_text(encoding="utf-8").split("\n## Orchestrations\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"^```yaml\n(.*?)^```", section, re.DOTALL | re.MULTILINE)
    assert match, "no ```yaml block under ## Orchestrations in README.md"
    return match.group(1)


def private_srv_works() -> bool:
    if os.geteuid() != 0 or shutil.which("unshare") is None or not os.path.isdir("/srv"):
        return False
    return subprocess.run([*PRIVATE_SRV, "true"], capture_output=True, timeout=30).returncode == 0


@pytest.fixture(scope="module")
def example() -> list[dict]:
    text = readme_example()
    paths = re.findall(r"(?<![\w.])/[\w./-]+", text)
    assert paths and all(p.startswith("/srv/") for p in paths), f"the example must keep to /srv: {paths}"
    return yaml.safe_load(text)


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory, example: list[dict]) -> Iterator[Cluster]:
    """A fresh cluster whose nodes are the example's targets, each with a private /srv."""
    if not private_srv_works():
        pytest.skip("needs root and unshare for a private /srv per node")
    cluster = Cluster(tmp_path_factory.mktemp("readme"), clients=0)
    cluster.names = sorted({node for orchestration in example for node in orchestration.get("targets", [])})
    try:
        cluster.start_server()
        for name in cluster.names:
            args = [*cluster.global_args(name), "client", "--zmq-server-address", "127.0.0.1"]
            cluster.clients[name] = cluster._spawn(name, args, PRIVATE_SRV)
        cluster.wait_nodes(set(cluster.names))
        yield cluster
    except BaseException:
        print(cluster.logs())
        raise
    finally:
        cluster.stop()


def node_stdout(cluster: Cluster, node: str, command: str) -> tuple[int, str]:
    result = cluster.cli("exec", "--verb", "RUN", f"--skip-cache {command}", "--target", node, "--wait")
    return result.returncode, cluster.job()["STDOUT"].get(node) or ""


def test_the_readme_orchestration_runs_unchanged_on_fresh_nodes(web: Cluster) -> None:
    assert web.names == ["web1", "web2"]
    path = web.write("readme-orchestration.yaml", readme_example())
    result = web.cli("orchestrate", str(path), "--wait")
    assert result.returncode == 0, result.stdout + result.stderr + web.logs()
    jobs = {job["NAME"]: job for job in json.loads(web.cli("job", "list", "-f", "json").stdout)}
    assert jobs["write-motd"]["PARENT_JOB_NAME"] == "webservers"
    code, version = node_stdout(web, "web1", "cat /srv/app/VERSION")
    assert code == 0 and version
    assert node_stdout(web, "web1", "cat /srv/app/motd") == (0, f"serving {version} on 8080")
    assert node_stdout(web, "web2", "cat /srv/app/VERSION")[0] == 0  # every target ran the jobs
    assert node_stdout(web, "web2", "test ! -e /srv/app/motd")[0] == 0  # assign: [web1] only
    assert not os.path.exists("/srv/app")  # the host's /srv was never written
