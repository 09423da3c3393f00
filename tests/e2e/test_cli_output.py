"""What the CLI prints, on a real cluster: the --wait progress bar on a pseudo-terminal, --poll and --check
naming the real job ids, -f yaml on every lister, and --debug adding the traceback to a one-line error."""

from __future__ import annotations

import configparser
import importlib
import json
import os
import pty
import re
import select
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from cliff.lister import Lister

from directord.testing import Cluster, free_port
from directord.user import EXIT_FAILED, EXIT_SUCCESS

SETUP_CFG = Path(__file__).resolve().parents[2] / "setup.cfg"
BAR = re.compile(r"\r\[([#-]{30})\] (\d+)/(\d+) jobs, (\d+) nodes, (\d+) failures, \d+\.\ds")


def tagged(cluster: Cluster, jobs: list[tuple[str, str]], parents: int = 1) -> tuple[Path, list[str]]:
    """An orchestration file of ``parents`` copies of ``jobs`` ((name, RUN text) pairs), names made unique."""
    tag = uuid.uuid4().hex[:8]
    names = [f"{tag}-{p}-{name}" for p in range(parents) for name, _ in jobs]
    body = "".join(
        f"- name: {tag}-{p}\n  jobs:\n"
        + "".join(f"    - RUN: --skip-cache {text}\n      name: {tag}-{p}-{name}\n" for name, text in jobs)
        for p in range(parents))
    return cluster.write(f"{tag}.yaml", body), names


def ids_by_name(cluster: Cluster, names: list[str]) -> list[str]:
    """The server's job ids for these job names, in the same order."""
    listed = cluster.cli("job", "list", "-f", "json")
    assert listed.returncode == 0, listed.stderr
    by_name = {row["NAME"]: row["ID"] for row in json.loads(listed.stdout)}
    return [by_name[name] for name in names]


# -- --wait on a terminal ------------------------------------------------------------------
def run_on_pty(cluster: Cluster, args: list[str], stdout_too: bool = True,
               timeout: float = 60) -> tuple[int, str, str]:
    """Run the CLI with stderr (and stdout, when ``stdout_too``) on a pseudo-terminal.

    Returns (exit code, what the terminal showed, what went to the stdout pipe).
    """
    master, slave = pty.openpty()
    process = subprocess.Popen(cluster.cli_argv(*args), stdin=subprocess.DEVNULL, stderr=slave,
                               stdout=slave if stdout_too else subprocess.PIPE, env=cluster.env, cwd=cluster.root)
    os.close(slave)
    shown = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not select.select([master], [], [], deadline - time.monotonic())[0]:
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every writer closed the terminal
                break
            if not chunk:
                break
            shown += chunk
        piped = process.stdout.read().decode() if process.stdout else ""
        code = process.wait(max(deadline - time.monotonic(), 1))
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
            process.wait(5)
    return code, shown.decode(errors="replace").replace("\r\n", "\n"), piped


def test_wait_shows_a_progress_bar_on_a_terminal_only(cluster: Cluster) -> None:
    path, _ = tagged(cluster, [("ok", "true"), ("fails", "false")])
    args = ["orchestrate", str(path), "--target", "node1", "node2", "--wait"]
    code, shown, _ = run_on_pty(cluster, args)
    assert code == EXIT_FAILED, shown
    bars = [tuple(map(int, m.groups()[1:])) + (m.group(1),) for m in BAR.finditer(shown)]
    assert bars, shown
    for done, total, _, _, bar in bars:
        assert total == 2 and bar == "#" * (30 * done // 2) + "-" * (30 - 30 * done // 2)
    assert [b[0] for b in bars] == sorted(b[0] for b in bars)  # never goes back
    assert bars[-1][:4] == (2, 2, 2, 2)  # both jobs done, on 2 nodes; the second failed on both
    assert "2 job(s): 1 succeeded, 1 failed, 0 skipped, 0 unknown" in shown

    # stdout redirected, stderr still the terminal: the bar stays on the terminal, stdout stays clean
    code, shown, piped = run_on_pty(cluster, args, stdout_too=False)
    assert code == EXIT_FAILED and BAR.search(shown), shown
    assert "2 job(s): 1 succeeded, 1 failed" in piped and "jobs," not in piped and "\r" not in piped

    # no terminal at all: no bar anywhere
    result = cluster.cli(*args)
    assert result.returncode == EXIT_FAILED
    assert "2 job(s): 1 succeeded, 1 failed" in result.stdout
    for text in (result.stdout, result.stderr):
        assert not BAR.search(text) and "\r" not in text and "jobs," not in text


# -- --poll and --check --------------------------------------------------------------------
def test_poll_prints_success_and_failed_with_the_real_ids(cluster: Cluster) -> None:
    path, names = tagged(cluster, [("ok", "true"), ("fails", "echo broke >&2; false")])
    result = cluster.cli("orchestrate", str(path), "--target", "node3", "--poll")
    assert result.returncode == EXIT_FAILED, result.stdout + result.stderr
    ok_id, failed_id = ids_by_name(cluster, names)
    lines = result.stdout.splitlines()
    assert lines[:2] == [f"Job Success: {ok_id}", f"Job Failed: {failed_id}"]
    assert f"Job Failed: {failed_id} ({names[1]}) on node3; STDERR:\n    broke\n" in result.stdout
    assert ok_id not in result.stdout.split(f"Job Failed: {failed_id}", 1)[1]


def test_check_lists_the_failed_job_ids(cluster: Cluster) -> None:
    # two orchestrations, each with a job that succeeds and then one that fails
    path, names = tagged(cluster, [("ok", "true"), ("fails", "false")], parents=2)
    result = cluster.cli("orchestrate", str(path), "--target", "node2", "--check")
    assert result.returncode == EXIT_FAILED, result.stdout + result.stderr
    ok_a, failed_a, ok_b, failed_b = ids_by_name(cluster, names)
    assert "4 job(s): 2 succeeded, 2 failed, 0 skipped, 0 unknown" in result.stdout
    assert result.stdout.endswith(f"FAILED JOBS\n{failed_a}\n{failed_b}\n")
    assert ok_a not in result.stdout and ok_b not in result.stdout
    single = cluster.cli("exec", "--verb", "RUN", "--skip-cache false", "--target", "node1", "--check")
    assert single.returncode == EXIT_FAILED
    assert single.stdout.endswith(f"FAILED JOBS\n{cluster.job()['JOB_ID']}\n")
    passed = cluster.cli("exec", "--verb", "RUN", "--skip-cache true", "--target", "node1", "--check")
    assert passed.returncode == EXIT_SUCCESS and "FAILED JOBS" not in passed.stdout


# -- -f yaml on every lister ---------------------------------------------------------------
def listers() -> dict[str, type]:
    """The cliff Lister commands among setup.cfg's ``directord.cli`` entry points, by entry point name."""
    parser = configparser.ConfigParser()
    parser.read(SETUP_CFG)
    found = {}
    for line in parser["options.entry_points"]["directord.cli"].strip().splitlines():
        name, target = (part.strip() for part in line.split("="))
        module, attr = target.split(":")
        command = getattr(importlib.import_module(module), attr)
        if issubclass(command, Lister):
            found[name] = command
    return found


def lister_runs(cluster: Cluster) -> dict[str, list[tuple[list[str], int, Callable[[Any], bool]]]]:
    """For each lister: command lines, their exit code and a check of the parsed rows."""
    path, names = tagged(cluster, [("listed", "true")])
    catalog = cluster.write("unreachable.yaml", yaml.safe_dump({"directord_clients": {
        "args": {"port": free_port()}, "targets": [{"host": "127.0.0.1", "name": "gone"}], "jobs": [{"RUN": "true"}]}}))
    keys = cluster.root / "yaml-keys"
    return {  # in this order: the orchestration runs the job the job listings show
        "orchestrate": [(["orchestrate", str(path), "--finger-print"], 0, lambda rows: rows[0]["name"] == names[0]),
                        (["orchestrate", str(path), "--wait", "--target", "node1"], 0,
                         lambda rows: rows[0]["status"] == "success" and rows[0]["succeeded"] == ["node1"])],
        "node_list": [(["node", "list"], 0, lambda rows: {r["ID"] for r in rows} == set(cluster.names))],
        "job_list": [(["job", "list"], 0, lambda rows: {r["NAME"] for r in rows} >= set(names))],
        "manage": [(["manage", "--list-nodes"], 0, lambda rows: {r["ID"] for r in rows} == set(cluster.names)),
                   (["manage", "--list-jobs"], 0,
                    lambda rows: names[0].rsplit("-", 1)[0] in {r["PARENT_JOB_NAME"] for r in rows})],
        "node_keygen": [(["--zmq-keys-path", str(keys), "node", "keygen", "web1"], 0,
                         lambda rows: {Path(r["CREDENTIAL"]).name for r in rows} == {"web1.key", "web1.key_secret"})],
        "bootstrap": [(["bootstrap", "--catalog", str(catalog), "--known-hosts", str(cluster.root / "known")], 1,
                       lambda rows: [(r["NAME"], r["STATUS"]) for r in rows] == [("gone", "unreachable")])],
    }


def test_every_lister_prints_yaml(cluster: Cluster) -> None:
    runs = lister_runs(cluster)
    found = listers()
    assert set(found) == set(runs), "a lister without a yaml check (or a check for a command that is gone)"
    for name, cases in runs.items():
        for args, code, check in cases:
            result = cluster.cli(*args, "-f", "yaml")
            assert result.returncode == code, (name, args, result.stderr)
            rows = yaml.safe_load(result.stdout)
            assert isinstance(rows, list) and rows and all(isinstance(r, dict) for r in rows), (args, result.stdout)
            assert check(rows), (args, rows)


# -- --debug ---------------------------------------------------------------------------------
@pytest.fixture
def dead_socket(tmp_path: Path) -> str:
    """A unix socket file nobody listens on any more (a server that died)."""
    path = str(tmp_path / "dead.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.bind(path)
    return path


def test_debug_adds_the_traceback_to_the_one_line_error(cluster: Cluster, dead_socket: str) -> None:
    plain = cluster.cli("--socket-path", dead_socket, "node", "list")
    assert plain.returncode == 1
    [line] = plain.stderr.strip().splitlines()
    assert dead_socket in line and "Traceback" not in plain.stderr
    debug = cluster.cli("--debug", "--socket-path", dead_socket, "node", "list")
    assert debug.returncode == 1
    assert "Traceback (most recent call last):" in debug.stderr
    assert re.search(r"^directord\.exceptions\.\w+: .*" + re.escape(dead_socket), debug.stderr, re.MULTILINE)
    env_debug = subprocess.run(cluster.cli_argv("--socket-path", dead_socket, "node", "list"), capture_output=True,
                               text=True, timeout=60, env={**cluster.env, "DIRECTORD_DEBUG": "yes"},
                               stdin=subprocess.DEVNULL)
    assert env_debug.returncode == 1 and "Traceback (most recent call last):" in env_debug.stderr
