"""DNF, SERVICE and REBOOT end to end, against stand-in ``dnf`` and ``systemctl`` executables.

This Debian machine has neither dnf nor a running systemd, so the clients'
PATH starts with a directory of scripts by those names that log their
arguments and fail on a package or unit named ``broken``. A reboot is the
test killing the client once ``systemctl reboot`` was called, and starting it
again (as systemd would at boot).
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from directord.testing import Cluster, wait_for

STAND_IN = """#!/bin/sh
echo "$(basename "$0") $*" >> "{log}"
case " $* " in *" broken "*) echo "$(basename "$0"): no such thing: broken" >&2; exit 1;; esac
echo "$(basename "$0") did: $*"
"""


@pytest.fixture(scope="module")
def system_cluster(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("system-verbs")
    bin_dir = root / "bin"
    bin_dir.mkdir()
    log = root / "calls.log"
    for name in ("dnf", "systemctl"):
        script = bin_dir / name
        script.write_text(STAND_IN.format(log=log))
        script.chmod(0o755)
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    with Cluster(root / "cluster", clients=2, env=env).running() as cluster:
        cluster.calls = log
        yield cluster


def calls(cluster: Cluster) -> list[str]:
    """The stand-ins' invocations since the last call (the log is emptied)."""
    path: Path = cluster.calls
    lines = path.read_text().splitlines() if path.exists() else []
    path.write_text("")
    return lines


def run(cluster: Cluster, verb: str, text: str) -> tuple[int, dict]:
    result = cluster.cli("exec", "--verb", verb, text, "--wait", "--target", "node1")
    assert "Traceback" not in result.stderr
    return result.returncode, cluster.job()


def test_dnf_installs_upgrades_and_removes(system_cluster):
    calls(system_cluster)
    code, job = run(system_cluster, "DNF", "--skip-cache httpd mod_ssl")
    assert code == 0, job
    assert calls(system_cluster) == ["dnf -q -y install httpd mod_ssl"]
    assert job["STDOUT"]["node1"].startswith("=== dnf install ===\ndnf did: -q -y install httpd mod_ssl")

    code, _ = run(system_cluster, "DNF", "--skip-cache --latest --clear-metadata --exclude kernel* vim")
    assert code == 0
    assert calls(system_cluster) == ["dnf -q -y clean all", "dnf -q -y makecache",
                                     "dnf -q -y --best --exclude=kernel* install vim"]

    code, _ = run(system_cluster, "DNF", "--skip-cache --absent vim")
    assert code == 0
    assert calls(system_cluster) == ["dnf -q -y remove vim"]


def test_dnf_failure_is_retried_then_reported(system_cluster):
    calls(system_cluster)
    code, job = run(system_cluster, "DNF", "--skip-cache --retry 2 broken")
    assert code == 1
    assert calls(system_cluster) == ["dnf -q -y install broken"] * 2
    assert "no such thing: broken" in job["STDERR"]["node1"]
    assert job["INFO"]["node1"] == "dnf present failed for broken"


def test_a_rendered_name_that_looks_like_an_option_is_refused(system_cluster):
    assert run(system_cluster, "ARG", "sneaky --nogpgcheck")[0] == 0
    calls(system_cluster)
    code, job = run(system_cluster, "DNF", "--skip-cache {{ sneaky }}")
    assert code == 1
    assert job["STDERR"]["node1"] == "not a name: '--nogpgcheck'"
    assert calls(system_cluster) == []


def test_dnf_package_names_are_rendered_with_args(system_cluster):
    assert run(system_cluster, "ARG", "web_package nginx")[0] == 0
    calls(system_cluster)
    code, _ = run(system_cluster, "DNF", "--skip-cache {{ web_package }}")
    assert code == 0
    assert calls(system_cluster) == ["dnf -q -y install nginx"]


def test_service_runs_its_steps_in_order(system_cluster):
    calls(system_cluster)
    code, _ = run(system_cluster, "SERVICE", "--skip-cache --daemon-reload --enable httpd sshd")
    assert code == 0
    assert calls(system_cluster) == ["systemctl daemon-reload", "systemctl enable httpd sshd",
                                     "systemctl start httpd sshd"]
    code, _ = run(system_cluster, "SERVICE", "--skip-cache --restarted --mask httpd")
    assert code == 0
    assert calls(system_cluster) == ["systemctl mask httpd", "systemctl restart httpd"]


def test_service_stops_at_the_first_failed_step(system_cluster):
    calls(system_cluster)
    code, job = run(system_cluster, "SERVICE", "--skip-cache --retry 1 --disable broken")
    assert code == 1
    assert calls(system_cluster) == ["systemctl disable broken"]  # the start step never ran
    assert job["INFO"]["node1"] == "Failed to set the systemd state"


@pytest.mark.parametrize(("verb", "text", "expected"), [
    ("DNF", "--latest --absent vim", "not allowed with argument"),
    ("DNF", "--latest", "no packages given"),
    ("SERVICE", "--stopped --restarted httpd", "not allowed with argument"),
    ("SERVICE", "--enable", "no services given"),
    ("REBOOT", "0", "at least 1 second"),
])
def test_bad_options_are_refused_before_sending(system_cluster, verb, text, expected):
    path = system_cluster.write("bad.yaml", f"- jobs:\n    - {verb}: {text}\n")
    result = system_cluster.cli("orchestrate", str(path))
    assert result.returncode == 2
    assert expected in result.stderr and "Traceback" not in result.stderr


def node_states(cluster: Cluster) -> dict[str, str]:
    result = cluster.cli("node", "list", "-f", "json", "-c", "ID", "-c", "STATE")
    return {row["ID"]: row["STATE"] for row in json.loads(result.stdout or "[]")}


def reboot_orchestration(cluster: Cluster, node: str, reboot: str) -> tuple[Path, list[str]]:
    after = cluster.root / f"after-reboot-{node}"
    path = cluster.write(f"reboot-{node}.yaml", f"""
- targets: [{node}]
  jobs:
    - RUN: --skip-cache echo before
    - REBOOT: {reboot}
    - RUN: --skip-cache echo after > {after}
""")
    result = cluster.cli("orchestrate", str(path))
    assert result.returncode == 0, result.stderr
    return after, [line.split()[-1] for line in result.stdout.splitlines()]


def power_off(cluster: Cluster, node: str) -> float:
    """Wait for the stand-in ``systemctl reboot``, then kill the client like a power cycle."""
    wait_for(lambda: "systemctl --message=Directord reboot instruction reboot" in cluster.calls.read_text(),
             15, what="systemctl reboot")
    cluster.signal(cluster.clients[node], signal.SIGKILL)
    return time.monotonic()


def test_reboot_holds_later_jobs_until_the_node_is_back(system_cluster):
    cluster = system_cluster
    calls(cluster)
    after, job_ids = reboot_orchestration(cluster, "node1", "1")
    down = power_off(cluster, "node1")
    assert cluster.job(job_ids[1])["SUCCESS"] == ["node1"]
    expiry = 3 * cluster.heartbeat
    wait_for(lambda: time.monotonic() - down > expiry + 1, expiry + 5, what="a silent node's expiry")
    assert node_states(cluster).get("node1") == "held (REBOOT)"  # silent, yet not expired
    assert not after.exists()  # the job after REBOOT waits on the server
    cluster.start_client("node1")
    wait_for(after.exists, 20, what="the job after REBOOT")
    done = wait_for(lambda: cluster.job(job_ids[2])["SUCCESS"], 10, what="its record")
    assert done == ["node1"]
    assert cluster.job(job_ids[0])["SUCCESS"] == ["node1"]
    assert node_states(cluster)["node1"] == "active"


def test_a_node_that_never_comes_back_fails_its_held_jobs(system_cluster):
    cluster = system_cluster
    calls(cluster)
    after, job_ids = reboot_orchestration(cluster, "node2", "1 --reboot-timeout 1")
    power_off(cluster, "node2")
    failed = wait_for(lambda: cluster.job(job_ids[2])["FAILED"], 15, what="the held job to fail")
    assert failed == ["node2"]
    assert "expired" in cluster.job(job_ids[2])["INFO"]["node2"]
    assert "node2" not in node_states(cluster)
    assert not after.exists()


def test_a_reboot_that_fails_on_the_node_ends_the_hold(system_cluster):
    cluster = system_cluster
    calls(cluster)
    path = cluster.write("reboot-gated.yaml", """
- targets: [node1]
  jobs:
    - RUN: --skip-cache false
    - REBOOT: 1
    - RUN: --skip-cache echo never
""")
    submitted = cluster.cli("orchestrate", str(path))
    job_ids = [line.split()[-1] for line in submitted.stdout.splitlines()]
    # The REBOOT is omitted (its parent failed): the job after it is not held for 601 s.
    wait_for(lambda: cluster.job(job_ids[2])["FAILED"], 10, what="the job after the failed REBOOT")
    assert cluster.job(job_ids[1])["FAILED"] == ["node1"]
    assert node_states(cluster)["node1"] == "active"
    assert calls(cluster) == []  # no systemctl reboot
