"""Authenticated clusters: shared key (PLAIN), CURVE, per-node keys, the user socket."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
import time
import venv
from importlib import metadata, util
from pathlib import Path

import pytest

from directord.testing import Cluster, wait_for

DIRECTORD = [sys.executable, "-m", "directord"]


def start(cluster: Cluster) -> Cluster:
    try:
        return cluster.start()
    except Exception:
        print(cluster.logs())
        cluster.stop()
        raise


def spawn_client(cluster: Cluster, identity: str, *extra: str):
    """A client with hand-picked options (a rogue one, say)."""
    args = [a for a in cluster.global_args(identity) if a not in cluster.extra] + list(extra)
    return cluster._spawn(identity + "-rogue", [*args, "client", "--zmq-server-address", "127.0.0.1"])


def refusals(cluster: Cluster, line: str) -> int:
    return (cluster.root / "server.log").read_text().count(line)


def refused_twice(cluster: Cluster, identity: str, line: str, timeout: float = 20) -> None:
    """Wait until the server logged ``line`` twice (the rogue came back and was refused again);
    ``identity`` must never be a live node meanwhile."""
    def refused() -> bool:
        assert identity not in cluster.live_nodes(), f"{identity} was admitted"
        return refusals(cluster, line) >= 2

    wait_for(refused, timeout, interval=0.2, what=f"two refusals of {identity}")


def test_shared_key_keeps_out_a_wrong_key(tmp_path):
    c = start(Cluster(tmp_path, clients=2, env={"DIRECTORD_ZMQ_SHARED_KEY": "s3cret-key"}))
    try:
        assert refusals(c, "refused a connection: Denied") == 0  # the nodes with the right key
        rogue = spawn_client(c, "intruder", "--zmq-shared-key", "wrong-key")
        refused_twice(c, "intruder", "refused a connection: Denied")
        assert c.live_nodes() == {"node1", "node2"}
        result = c.cli("exec", "--verb", "RUN", "echo authenticated", "--wait")
        assert result.returncode == 0
        assert set(c.job()["STDOUT"]) == {"node1", "node2"}  # the intruder received nothing
        assert "s3cret-key" not in c.logs()  # secrets never logged
        rogue.kill()
    finally:
        c.stop()


@pytest.fixture
def keys(tmp_path):
    path = tmp_path / "keys"
    result = subprocess.run([*DIRECTORD, "--zmq-keys-path", str(path), "server", "--zmq-generate-keys"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert (path / "public_keys" / "server.key").exists() and (path / "private_keys" / "client.key_secret").exists()
    return path


def test_curve_rejects_an_unknown_key(tmp_path, keys):
    c = start(Cluster(tmp_path / "c", clients=2, extra=("--zmq-curve-encryption", "--zmq-keys-path", str(keys))))
    try:
        other = tmp_path / "other-keys"  # a key pair the server never saw, plus the real server key
        subprocess.run([*DIRECTORD, "--zmq-keys-path", str(other), "server", "--zmq-generate-keys"],
                       check=True, capture_output=True, timeout=30)
        shutil.copy(keys / "public_keys" / "server.key", other / "public_keys" / "server.key")
        assert refusals(c, "refused a connection: Unknown key") == 0
        rogue = spawn_client(c, "stranger", "--zmq-curve-encryption", "--zmq-keys-path", str(other))
        refused_twice(c, "stranger", "refused a connection: Unknown key")
        assert c.cli("exec", "--verb", "RUN", "echo encrypted", "--wait").returncode == 0
        assert set(c.job()["STDOUT"]) == {"node1", "node2"}
        rogue.kill()
    finally:
        c.stop()


def test_per_node_keys_bind_identity_and_revoke_without_restart(tmp_path, keys):
    os.remove(keys / "public_keys" / "client.key")  # no shared client key: every node has its own
    made = subprocess.run([*DIRECTORD, "--zmq-keys-path", str(keys), "node", "keygen", "node1", "node2"],
                          capture_output=True, text=True, timeout=30)
    assert made.returncode == 0, made.stderr
    c = start(Cluster(tmp_path / "c", clients=2, extra=("--zmq-curve-encryption", "--zmq-keys-path", str(keys))))
    try:
        # node1's key, claiming to be node3: refused.
        impostor_keys = tmp_path / "impostor"
        (impostor_keys / "public_keys").mkdir(parents=True)
        (impostor_keys / "private_keys").mkdir()
        shutil.copy(keys / "public_keys" / "server.key", impostor_keys / "public_keys")
        shutil.copy(keys / "private_keys" / "node1.key_secret", impostor_keys / "private_keys" / "node3.key_secret")
        impostor = spawn_client(c, "node3", "--zmq-curve-encryption", "--zmq-keys-path", str(impostor_keys))
        # node1's key is a known one: admitted by ZAP, then every message claiming node3 is refused
        refused_twice(c, "node3", "refused a message claiming to be 'node3' from key 'node1'")
        assert refusals(c, "refused a connection") == 0
        impostor.kill()
        # Revoke node2: it drops out without a server restart.
        os.remove(keys / "public_keys" / "node2.key")
        revoked = time.monotonic()
        c.wait_nodes({"node1"}, timeout=3 * c.heartbeat + 5)
        print(f"per-node key revoked: node2 gone after {time.monotonic() - revoked:.1f} s, no restart")
        assert c.server.poll() is None
    finally:
        c.stop()


def share(source: str, target: str) -> None:
    """Hard-link a file others may already read (fast; the original is left as it is), else copy it."""
    if os.stat(source).st_mode & stat.S_IROTH:
        try:
            os.link(source, target)
            return
        except OSError:  # another filesystem
            pass
    shutil.copy2(source, target)


def venv_for_any_user(root: Path) -> Path:
    """A venv under ``root`` that any user can run: this venv's packages and the editable ones (their
    checkout may be private), shared or copied; its python."""
    target = root / "venv"
    venv.EnvBuilder(symlinks=True).create(target)
    site = Path(sysconfig.get_path("purelib", vars={"base": str(target), "platbase": str(target)}))
    editable_hooks = shutil.ignore_patterns("__editable__*")  # they point into the checkout
    for source in {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}:
        shutil.copytree(source, site, ignore=editable_hooks, copy_function=share, dirs_exist_ok=True)
    for dist in metadata.distributions():
        if json.loads(dist.read_text("direct_url.json") or "{}").get("dir_info", {}).get("editable"):
            for name in (dist.read_text("top_level.txt") or "").split():
                spec = util.find_spec(name)
                assert spec is not None and spec.submodule_search_locations, name
                shutil.copytree(next(iter(spec.submodule_search_locations)), site / name, copy_function=share)
    for directory, _, files in os.walk(target):  # copies keep private modes: open them up
        os.chmod(directory, 0o755)  # noqa: S103 - read by another user
        for name in files:
            path = Path(directory, name)
            mode = path.lstat().st_mode
            if stat.S_ISREG(mode) and not mode & stat.S_IROTH:  # never a link (bin/python, the shared files)
                path.chmod(mode | 0o444)
    return target / "bin" / "python"


def test_user_outside_the_socket_group_gets_a_clear_error():
    if shutil.which("setpriv") is None:
        pytest.fail("setpriv (util-linux) is needed to run the CLI as another user")
    root = Path(tempfile.mkdtemp(prefix="directord-perm-"))
    os.chmod(root, 0o755)  # noqa: S103 - nobody may reach the socket file, not open it
    # The other user cannot read a checkout in a private directory: it runs a readable copy of this code.
    python = venv_for_any_user(root)
    c = Cluster(root, clients=0)
    c.start_server()
    try:
        nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        where = subprocess.run([*nobody, str(python), "-c", "import directord; print(directord.__file__)"],
                               capture_output=True, text=True, timeout=30, env=c.env, cwd=root)
        assert where.stdout.startswith(str(root)), where.stderr
        result = subprocess.run([*nobody, str(python), *c.cli_argv("node", "list")[1:]], capture_output=True,
                                text=True, timeout=30, env=c.env, cwd=root)
        assert result.returncode == 1, result.stderr
        assert f"permission denied on {c.socket}; add the user to group" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    finally:
        c.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_cli_against_a_frozen_server_gives_up_within_its_timeout(tmp_path):
    c = Cluster(tmp_path, clients=0)
    c.start_server()
    try:
        c.server.send_signal(19)  # SIGSTOP
        started = time.monotonic()
        result = c.cli("--request-timeout", "2", "node", "list")
        elapsed = time.monotonic() - started
        assert result.returncode == 1 and elapsed < 5
        assert "did not answer within 2s" in result.stderr
        print(f"frozen server: CLI gave up after {elapsed:.1f} s")
    finally:
        c.server.send_signal(18)  # SIGCONT
        c.stop()
    wait_for(lambda: c.server.poll() is not None, 10)
