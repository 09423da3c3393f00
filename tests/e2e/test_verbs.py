"""Verbs end to end: transfers, shipped component files, waits, bad input."""

from __future__ import annotations

import hashlib
import http.server
import os
import threading
import time

import pytest

NODES = {"node1", "node2", "node3"}

pytestmark = pytest.mark.transports("zmq", "redis")

UPSTREAM_STYLE_COMPONENT = '''
from directord import components
from directord.components.lib import cacheargs


class Component(components.ComponentBase):
    def __init__(self):
        super().__init__(desc="Reverse words (written against the original Directord API)")

    def args(self):
        super().args()
        self.parser.add_argument("words", nargs="+")

    def server(self, exec_array, data, arg_vars):
        super().server(exec_array=exec_array, data=data, arg_vars=arg_vars)
        data["words"] = " ".join(self.known_args.words)
        return data

    @cacheargs
    def client(self, cache, job):
        return " ".join(reversed(job["words"].split())), None, True, None
'''


def peak_rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def sha3(path) -> str:
    digest = hashlib.sha3_224()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def test_100_mib_add_streams_with_bounded_memory(cluster):
    source = cluster.root / "big.bin"
    with open(source, "wb") as handle:
        for _ in range(100):
            handle.write(os.urandom(1 << 20))
    dest = cluster.root / "landed" / "big.bin"
    started = time.monotonic()
    result = cluster.cli("exec", "--verb", "ADD", f"{source} {dest}", "--target", "node1", "--poll", "--check")
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    assert sha3(dest) == sha3(source)
    server_rss, client_rss = peak_rss_mib(cluster.server.pid), peak_rss_mib(cluster.clients["node1"].pid)
    print(f"100 MiB ADD: {elapsed:.1f} s, peak RSS server {server_rss:.0f} MiB, client {client_rss:.0f} MiB")
    assert server_rss < 150 and client_rss < 150


def test_edited_source_is_sent_again_and_mode_always_applied(cluster):
    source = cluster.root / "conf.txt"
    dest = cluster.root / "deployed" / "conf.txt"
    source.write_text("version 1\n")
    command = ("exec", "--verb", "ADD", f"--chmod 0640 {source} {dest}", "--target", "node1", "--poll", "--check")
    assert cluster.cli(*command).returncode == 0
    assert dest.read_text() == "version 1\n"
    source.write_text("version 2\n")
    assert cluster.cli(*command).returncode == 0
    assert dest.read_text() == "version 2\n"
    os.chmod(dest, 0o600)  # someone changed the mode: the next identical ADD puts it back
    again = cluster.cli("exec", "--verb", "ADD", f"--skip-cache --chmod 0640 {source} {dest}", "--target", "node1",
                        "--poll", "--check")
    assert again.returncode == 0
    assert "nothing to transfer" in cluster.job()["STDOUT"]["node1"]
    assert oct(dest.stat().st_mode & 0o777) == "0o640"


def test_glob_add_into_a_directory_and_blueprint(cluster):
    sources = cluster.root / "many"
    sources.mkdir()
    for name in ("a.conf", "b.conf", "c.conf"):
        (sources / name).write_text(f"name={{{{ site }}}} file={name}\n")
    target = cluster.root / "globbed"
    assert cluster.cli("exec", "--verb", "ARG", "site lab", "--target", "node2", "--wait").returncode == 0
    result = cluster.cli("exec", "--verb", "ADD", f"--blueprint {sources}/*.conf {target}/",
                         "--target", "node2", "--poll", "--check")
    assert result.returncode == 0, result.stdout
    assert sorted(p.name for p in target.iterdir()) == ["a.conf", "b.conf", "c.conf"]
    assert (target / "b.conf").read_text() == "name=lab file=b.conf\n"


def test_component_file_is_shipped_to_every_node(cluster):
    cluster.components.mkdir(exist_ok=True)
    (cluster.components / "reverse.py").write_text(UPSTREAM_STYLE_COMPONENT)
    result = cluster.cli("exec", "--verb", "REVERSE", "one two three", "--wait")
    assert result.returncode == 0, result.stdout + result.stderr
    assert cluster.job()["STDOUT"] == dict.fromkeys(NODES, "three two one")
    for node in NODES:  # it came from the server: the nodes' own component dirs are empty
        assert (cluster.root / node / "components" / "reverse.py").is_file()
        assert not (cluster.root / node / "components-local").exists()
    # Editing it on the server updates every node on the next use.
    (cluster.components / "reverse.py").write_text(UPSTREAM_STYLE_COMPONENT.replace("reversed(", "sorted("))
    again = cluster.cli("exec", "--verb", "reverse", "--skip-cache c a b", "--wait")
    assert again.returncode == 0
    assert set(cluster.job()["STDOUT"].values()) == {"a b c"}


def test_exec_help_prints_the_verb_usage(cluster):
    result = cluster.cli("exec", "--verb", "ADD", "--exec-help true")
    assert result.returncode == 0
    assert "--chown" in result.stdout and "--blueprint" in result.stdout


def test_wait_seconds_url_and_command(cluster):
    class Ok(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Ok)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        path = cluster.write("waits.yaml", f"""
- jobs:
    - WAIT: --seconds 0.2
    - WAIT: --url http://127.0.0.1:{server.server_port}/health
    - WAIT: --cmd --retry 3 --retry-wait 0.1 test -e {cluster.root}
""")
        result = cluster.cli("orchestrate", str(path), "--poll", "--check", "--target", "node3")
        assert result.returncode == 0, result.stdout + result.stderr
        failing = cluster.cli("exec", "--verb", "WAIT", "--cmd --retry 1 --retry-wait 0.1 false",
                              "--target", "node3", "--poll")
        assert failing.returncode == 1
        assert "Retried 1 times" in cluster.job()["INFO"]["node3"]
    finally:
        server.shutdown()


def test_job_wait_blocks_until_another_node_finished(cluster):
    marker = cluster.root / "job-wait-marker"
    first = cluster.cli("exec", "--verb", "RUN", f"--skip-cache sleep 1 && touch {marker}", "--target", "node1")
    assert first.returncode == 0
    job_id = first.stdout.split()[-1]
    sha = cluster.job(job_id)["JOB_SHA3_224"]
    waited = cluster.cli("exec", "--verb", "JOB_WAIT", f"{sha} --identity node1", "--target", "node2", "--poll")
    assert waited.returncode == 0, waited.stdout
    assert marker.exists()  # JOB_WAIT only succeeded after node1 finished


@pytest.mark.parametrize(("args", "expected"), [
    (["exec", "--verb", "ADD", "/no/such/file* /tmp/x"], "was not found"),
    (["exec", "--verb", "WORKDIR", "--frobnicate /tmp/x"], "unknown option --frobnicate"),
    (["exec", "--verb", "WAIT", "--retry 3 http://x"], "one of the arguments"),
])
def test_bad_verb_input_is_refused_before_sending(cluster, args, expected):
    before = cluster.cli("job", "list", "-f", "value", "-c", "ID").stdout
    result = cluster.cli(*args)
    assert result.returncode == 2
    assert expected in result.stderr and "Traceback" not in result.stderr
    assert cluster.cli("job", "list", "-f", "value", "-c", "ID").stdout == before


def test_non_list_assign_is_refused(cluster):
    path = cluster.write("assign.yaml", "- jobs:\n    - RUN: echo x\n      assign: node1\n")
    result = cluster.cli("orchestrate", str(path), "--poll")
    assert result.returncode == 2
    assert "'assign' must be a list" in result.stderr
