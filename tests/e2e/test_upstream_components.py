"""The nine components the original Directord 0.12.0 shipped, copied unchanged into --components-path.

The files come from the original's wheel (tests/upstream.py fetches it once). They
load and answer ``--exec-help`` through the real CLI; ECHO, FACTER, JOB_WAIT,
QUERY_WAIT, REBOOT and CONTAINER_CONFIG_DATA run on a real cluster. FACTER,
JOB_WAIT, QUERY_WAIT and REBOOT are also built-in verbs here: the file a user put
in --components-path is what runs, as in the original.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from upstream import SHARE, upstream_files

from directord.testing import Cluster, wait_for

HELP_OPTION = {  # verb -> an option only its own --exec-help lists
    "ECHO": "echo", "FACTER": "--external-dir", "JOB_WAIT": "--identity", "QUERY_WAIT": "--query-timeout",
    "REBOOT": "time", "POD": "--socket-path", "CONTAINER_IMAGE": "--no-tlsverify",
    "CONTAINER_CONFIG_DATA": "--config-pattern", "SECONTEXT": "--setype",
}
SYSTEMCTL = """#!/bin/sh
echo "systemctl $*" >> "{log}"
"""


@pytest.fixture(scope="module")
def originals() -> Path:
    """The original's share/directord/components directory, unchanged."""
    directory = upstream_files(f"{SHARE}/components")
    assert sorted(p.stem for p in directory.glob("*.py")) == sorted(v.lower() for v in HELP_OPTION)
    return directory


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, originals: Path):
    """Two clients; the server's --components-path holds the nine files; a stand-in systemctl."""
    root = tmp_path_factory.mktemp("upstream-components")
    bin_dir = root / "bin"
    bin_dir.mkdir()
    calls = root / "systemctl.log"
    (bin_dir / "systemctl").write_text(SYSTEMCTL.format(log=calls))
    (bin_dir / "systemctl").chmod(0o755)
    instance = Cluster(root / "cluster", clients=2, env={"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"})
    shutil.copytree(originals, instance.components)
    instance.calls = calls
    with instance.running():
        yield instance


def description(path: Path) -> str:
    """The ``desc=`` a component file gives its base class."""
    return re.search(r'desc="([^"]+)"', path.read_text()).group(1)


def exec_help(verb: str, components: Path | None) -> subprocess.CompletedProcess:
    path = ["--components-path", str(components)] if components else []
    return subprocess.run([sys.executable, "-m", "directord", "--config-file", "/nonexistent.yaml", *path,
                           "exec", "--verb", verb, "--exec-help true"],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("verb", sorted(HELP_OPTION))
def test_each_original_component_loads_and_answers_exec_help(originals, verb):
    result = exec_help(verb, originals)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: {verb} ")
    assert HELP_OPTION[verb] in result.stdout
    assert description(originals / f"{verb.lower()}.py") in " ".join(result.stdout.split())


@pytest.mark.parametrize("verb", ["FACTER", "JOB_WAIT", "QUERY_WAIT", "REBOOT"])
def test_a_components_path_file_replaces_the_built_in_verb(originals, verb):
    original = description(originals / f"{verb.lower()}.py")
    built_in = exec_help(verb, None)
    assert built_in.returncode == 0 and original not in " ".join(built_in.stdout.split())
    assert original in " ".join(exec_help(verb, originals).stdout.split())


def run(cluster: Cluster, verb: str, text: str, *targets: str) -> tuple[int, dict]:
    targeting = ["--target", *targets] if targets else []
    result = cluster.cli("exec", "--verb", verb, text, "--wait", *targeting)
    assert "Traceback" not in result.stderr and "usage:" not in result.stderr
    return result.returncode, cluster.job()


def test_echo(cluster):
    code, job = run(cluster, "ECHO", "--skip-cache hello from the original")
    assert code == 0, job
    assert job["STDOUT"] == {"node1": "hello from the original", "node2": "hello from the original"}
    for node in cluster.names:  # shipped by the server, as any component file
        assert (cluster.root / node / "components" / "echo.py").is_file()


def test_facter_stores_the_facts_as_args(cluster):
    facter = subprocess.run(["facter", "--json"], capture_output=True, text=True, timeout=120,
                            env=cluster.env, stdin=subprocess.DEVNULL)
    kernel = json.loads(facter.stdout)["kernel"]
    code, job = run(cluster, "FACTER", "--skip-cache --timeout 120", "node1")
    # the original's outcome is facter's exit status (non-zero when one resolver fails)
    assert (code == 0) == (facter.returncode == 0), job
    assert job["INFO"]["node1"] == f"{shutil.which('facter', path=cluster.env['PATH'])} --json"
    assert json.loads(job["STDOUT"]["node1"])["kernel"] == kernel
    code, job = run(cluster, "RUN", "--skip-cache echo kernel={{ facter.kernel }}", "node1")
    assert code == 0, job
    assert job["STDOUT"]["node1"] == f"kernel={kernel}"


def test_query_wait_finds_queried_items(cluster):
    for node in cluster.names:
        assert run(cluster, "ARG", f"colour blue-{node}", node)[0] == 0
    assert run(cluster, "QUERY", "colour")[0] == 0
    code, job = run(cluster, "QUERY_WAIT", "colour --identity node1 node2 --query-timeout 30", "node1")
    assert code == 0, job
    assert job["STDOUT"]["node1"] == "Item found in all identities"
    assert job["INFO"]["node1"] == "Item colour found in the query cache for identities ['node1', 'node2']"


def test_query_wait_gives_up_after_its_query_timeout(cluster):
    code, job = run(cluster, "QUERY_WAIT", "never-queried --identity node2 --query-timeout 1", "node1")
    assert code == 1
    assert job["STDERR"]["node1"] == "Timeout after 1 seconds"


def test_timeout_stops_a_component_looping_in_python(cluster):
    """The original's @timeout: QUERY_WAIT would wait 600 s; --timeout 2 ends it, and the node goes on."""
    code, job = run(cluster, "QUERY_WAIT", "never-queried --identity node2 --timeout 2", "node1")
    assert code == 1
    assert job["STDERR"]["node1"].startswith("Timeout encountered")
    assert 1.5 <= job["EXECUTION_TIME"] < 10
    assert run(cluster, "ECHO", "--skip-cache still here", "node1")[1]["STDOUT"] == {"node1": "still here"}


def test_job_wait_coordinates_on_a_job_fingerprint(cluster):
    code, job = run(cluster, "RUN", "--skip-cache echo awaited-job")
    assert code == 0
    sha = job["JOB_SHA3_224"]
    code, job = run(cluster, "JOB_WAIT", f"{sha} --identity node1 node2", "node1")
    assert code == 0, job
    assert job["STDOUT"]["node1"] == f"Job completed, found SHA [ {sha} ]"
    assert job["INFO"]["node1"].startswith(f"Job [ {job['JOB_ID']} ] completed on all coordinated targets")


def test_job_wait_for_a_job_that_never_ran_times_out(cluster):
    code, job = run(cluster, "JOB_WAIT", f"{'0' * 56} --identity node2 --timeout 2", "node1")
    assert code == 1
    assert job["STDERR"]["node1"].startswith("Timeout encountered")


def test_reboot_runs_the_original_command(cluster):
    code, job = run(cluster, "REBOOT", "1", "node2")
    assert code == 0, job
    command = "sleep 1;systemctl --message='Directord reboot instruction' reboot"
    assert job["INFO"]["node2"] == command  # the original's answer (the built-in's is "reboot scheduled")
    wait_for(lambda: cluster.calls.exists() and cluster.calls.read_text(), 15, what="systemctl reboot")
    assert cluster.calls.read_text() == "systemctl --message=Directord reboot instruction reboot\n"
    # the original REBOOT asks the server to hold nothing: the node takes its next job at once
    assert run(cluster, "ECHO", "--skip-cache after", "node2")[1]["STDOUT"] == {"node2": "after"}


def test_container_config_data_reads_json_configs(cluster):
    configs = cluster.root / "configs"
    configs.mkdir()
    (configs / "web.json").write_text(json.dumps({"image": "nginx", "ports": [80]}))
    (configs / "db.json").write_text(json.dumps({"image": "mariadb"}))
    (configs / "notes.txt").write_text("not a config")
    code, job = run(cluster, "CONTAINER_CONFIG_DATA", f"--skip-cache --config-path {configs}", "node1")
    assert code == 0, job
    stdout = job["STDOUT"]["node1"]
    assert "'web': {'image': 'nginx', 'ports': [80]}" in stdout and "'db': {'image': 'mariadb'}" in stdout
    assert "notes" not in stdout
