"""The original's POD and CONTAINER_IMAGE components against a real ``podman system service``.

The service runs as this user on a private socket, with its storage, run and
network state in a temporary directory (vfs storage, no system paths). Jobs
reach it through the components' ``--socket-path``. Test images are built
with ``podman import`` of a one-file tarball; pushes and pulls go to a local
registry (Debian's docker-registry) on a free port. Machines like this sandbox
refuse to start containers, so only operations that start none are exercised:
pod inspect/stop/kill/start (on a pod with nothing to run)/rm, image
list/inspect/tag/push/pull and failed pulls.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import tarfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from upstream import SHARE, upstream_files

from directord.testing import Cluster, daemon, free_port

IMAGE = "localhost/directord-test:1"


class Podman:
    """A running ``podman system service`` and a remote CLI bound to it."""

    def __init__(self, root: Path):
        self.root = root
        self.socket = root / "podman.sock"
        self.env = {**os.environ, "TMPDIR": str(root / "tmp")}

    def flags(self) -> list[str]:
        state = self.root / "state"
        return ["--root", str(state / "storage"), "--runroot", str(state / "run"), "--tmpdir", str(state / "tmp"),
                "--network-config-dir", str(state / "networks"), "--storage-driver", "vfs",
                "--cgroup-manager", "cgroupfs", "--events-backend", "file"]

    def remote(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["podman", "--url", f"unix://{self.socket}", *args], capture_output=True, text=True,
                              timeout=60, env=self.env, stdin=subprocess.DEVNULL)

    def import_image(self, name: str, content: str) -> str:
        """``podman import`` of a tarball holding one file; the image id."""
        payload = self.root / "payload" / "hello.txt"
        payload.parent.mkdir(exist_ok=True)
        payload.write_text(content)
        tarball = self.root / "image.tar"
        with tarfile.open(tarball, "w") as archive:
            archive.add(payload, arcname="hello.txt")
        imported = self.remote("import", str(tarball), name)
        assert imported.returncode == 0, imported.stderr
        return imported.stdout.strip().removeprefix("sha256:")

    def answering(self) -> bool:
        with socket.socket(socket.AF_UNIX) as probe:
            probe.settimeout(2)
            try:
                probe.connect(str(self.socket))
                probe.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
                return probe.recv(1024).rstrip().endswith(b"OK")
            except OSError:
                return False


@contextlib.contextmanager
def podman_service(root: Path) -> Iterator[Podman]:
    podman = Podman(root)
    (root / "tmp").mkdir(parents=True)
    argv = ["podman", *podman.flags(), "system", "service", "--time=0", f"unix://{podman.socket}"]
    with daemon(argv, root / "podman.log", podman.answering, "podman system service", env=podman.env,
                stop_timeout=15):
        yield podman


@pytest.fixture(scope="module")
def podman(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Podman]:
    root = tmp_path_factory.mktemp("podman")
    with podman_service(root) as service:
        service.image_id = service.import_image(IMAGE, "hello from an imported image\n")
        yield service


@contextlib.contextmanager
def registry_server(root: Path) -> Iterator[str]:
    """A Docker registry (Debian's docker-registry) on a free 127.0.0.1 port; yields ``127.0.0.1:PORT``."""
    address = f"127.0.0.1:{free_port()}"
    config = root / "registry.yml"
    config.write_text(f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {root / 'registry'}\n"
                      f"http:\n  addr: {address}\n")

    def ready() -> bool:
        try:
            with urllib.request.urlopen(f"http://{address}/v2/", timeout=2) as answer:  # noqa: S310 - local http
                return answer.status == 200
        except OSError:
            return False

    with daemon(["docker-registry", "serve", str(config)], root / "registry.log", ready, "docker-registry"):
        yield address


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with registry_server(tmp_path_factory.mktemp("registry")) as address:
        yield address


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, podman: Podman):
    instance = Cluster(tmp_path_factory.mktemp("podman-cluster"), clients=2)
    shutil.copytree(upstream_files(f"{SHARE}/components"), instance.components)
    with instance.running():
        yield instance


def run(cluster: Cluster, podman: Podman, verb: str, text: str, *targets: str) -> tuple[int, dict]:
    targeting = ["--target", *targets] if targets else []
    result = cluster.cli("exec", "--verb", verb, f"--skip-cache --socket-path {podman.socket} {text}",
                         "--wait", *targeting)
    assert "Traceback" not in result.stderr and "usage:" not in result.stderr
    return result.returncode, cluster.job()


def test_container_image_lists_the_images_on_every_node(cluster, podman):
    code, job = run(cluster, podman, "CONTAINER_IMAGE", "--list")
    assert code == 0, job
    for node in cluster.names:
        images = json.loads(job["STDOUT"][node])
        assert [image["RepoTags"] for image in images if image["Id"] == podman.image_id] == [[IMAGE]]


def test_container_image_inspects_an_image(cluster, podman):
    code, job = run(cluster, podman, "CONTAINER_IMAGE", f"--inspect {IMAGE}", "node1")
    assert code == 0, job
    details = json.loads(job["STDOUT"]["node1"])
    assert details["Id"] == podman.image_id and IMAGE in details["RepoTags"]


def test_container_image_tags_an_image(cluster, podman):
    code, job = run(cluster, podman, "CONTAINER_IMAGE", f"--tag {IMAGE} localhost/directord-copy", "node2")
    assert code == 0, job
    listed = podman.remote("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}")
    assert f"localhost/directord-copy:latest {podman.image_id[:12]}" in listed.stdout.splitlines()


def test_container_image_reports_a_missing_image(cluster, podman):
    code, job = run(cluster, podman, "CONTAINER_IMAGE", "--inspect localhost/no-such-image:1", "node1")
    assert code == 1
    assert "image not known" in job["STDERR"]["node1"]


def test_container_image_reports_a_failed_pull(cluster, podman):
    """The service answers 200 to a pull that failed; the error in its stream fails the job."""
    code, job = run(cluster, podman, "CONTAINER_IMAGE", "--no-tlsverify --pull 127.0.0.1:9/nothing:1", "node1")
    assert code == 1
    assert '"error":' in job["STDERR"]["node1"] and "127.0.0.1:9" in job["STDERR"]["node1"]


def test_container_image_pushes_and_pulls_through_a_registry(cluster, podman, registry):
    image_id = podman.import_image("localhost/directord-pushed:1", "pushed and pulled back\n")
    remote = f"{registry}/directord/test:1"
    assert run(cluster, podman, "CONTAINER_IMAGE", f"--tag localhost/directord-pushed:1 {remote}", "node1")[0] == 0
    code, job = run(cluster, podman, "CONTAINER_IMAGE", f"--no-tlsverify --push {remote}", "node1")
    assert code == 0, job
    with urllib.request.urlopen(f"http://{registry}/v2/_catalog", timeout=10) as answer:  # noqa: S310 - local http
        assert json.load(answer) == {"repositories": ["directord/test"]}
    removed = podman.remote("rmi", "--force", image_id)  # every tag: the pull must fetch it all
    assert removed.returncode == 0, removed.stderr
    assert podman.remote("image", "exists", image_id).returncode == 1
    code, job = run(cluster, podman, "CONTAINER_IMAGE", f"--no-tlsverify --pull {remote}", "node2")
    assert code == 0, job
    pulled = json.loads(podman.remote("image", "inspect", remote).stdout)[0]
    assert (pulled["Id"], pulled["RepoTags"]) == (image_id, [remote])


def test_pod_inspect_stop_kill_start_and_remove(cluster, podman):
    created = podman.remote("pod", "create", "--infra=false", "--name", "web")
    assert created.returncode == 0, created.stderr
    pod_id = created.stdout.strip()

    code, job = run(cluster, podman, "POD", "--inspect web", "node1")
    assert code == 0, job
    details = json.loads(job["STDOUT"]["node1"])
    assert (details["Id"], details["Name"], details["NumContainers"]) == (pod_id, "web", 0)

    code, job = run(cluster, podman, "POD", "--stop web", "node1")  # nothing runs: nothing to stop
    assert code == 0, job

    code, job = run(cluster, podman, "POD", "--kill web", "node2")
    assert code == 1
    assert "cannot kill a pod with no running containers" in job["STDERR"]["node2"]

    code, job = run(cluster, podman, "POD", "--start web", "node2")
    assert code == 1
    assert "no containers in pod" in job["STDERR"]["node2"]

    code, job = run(cluster, podman, "POD", "--rm web --force", "node1")
    assert code == 0, job
    assert podman.remote("pod", "exists", "web").returncode == 1

    code, job = run(cluster, podman, "POD", "--rm web", "node1")
    assert code == 1
    assert "no pod with name or ID web found" in job["STDERR"]["node1"]


def test_a_missing_socket_fails_the_job(cluster, podman, tmp_path):
    result = cluster.cli("exec", "--verb", "POD", f"--socket-path {tmp_path / 'absent.sock'} --inspect web",
                         "--wait", "--target", "node1")
    assert result.returncode == 1
    job = cluster.job()
    assert "Traceback" in job["STDERR"]["node1"]  # the original reports the client's exception
    assert "absent.sock" in job["STDERR"]["node1"] and "GET operation failed" in job["STDERR"]["node1"]
