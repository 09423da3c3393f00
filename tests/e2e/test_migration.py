"""A deployment written the way TripleO-era service files are, driven like task-core drives it.

Four nodes in two roles. Each service is a list of jobs submitted with
``DirectordConnect(force_async=True).orchestrate(orchestrations=[{"jobs": ...}],
defined_targets=hosts)`` and every returned job id is polled, as task-core does.
The content uses what real service files use: options after ADD paths,
``--stdout-arg``, quoted ``ARG`` templates, ``QUERY`` then
``query.values() | map(...)`` with ``list.append`` inside ``{% set %}``,
``CACHEFILE`` of an ADDed file, multi-line and multi-space RUN text.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from directord import DirectordConnect
from directord.testing import Cluster

pytestmark = pytest.mark.transports("zmq", "redis")

CONTROLLERS = ["controller-0", "controller-1"]
COMPUTES = ["compute-0", "compute-1"]
IPS = {"controller-0": "10.0.0.10", "controller-1": "10.0.0.11", "compute-0": "10.0.0.20",
       "compute-1": "10.0.0.21"}

MEMCACHED_CONF = """\
{% set hosts = [] %}
{% for h in query.values() | map(attribute='memcache_host_ip') | select('defined') | reject('none') | list %}
{%- set _ = hosts.append(h ~ ":11211") %}
{%- endfor %}
# managed by directord on {{ deployment_host }} ({{ kernel_name }})
listen={{ ip }}
servers={{ hosts | sort | join(',') }}
"""

MOTD = "Welcome to {{ deployment_host }}, role {{ role }}\n"

NOVA_VARS = """\
nova_compute_driver: libvirt.LibvirtDriver
nova_cpu_allocation_ratio: 4.0
"""


def base_service(host: str, root: Path, role: str) -> list[dict]:
    """Per-host facts, submitted with defined_targets=[host]."""
    return [
        {"ARG": f"deployment_host {host}"},
        {"ARG": f"node_root {root / host}"},
        {"ARG": f"role {role}"},
    ]


COMMON_SERVICE = [
    {"ARG": f"ips {IPS!r}"},
    {"ARG": 'ip "{{ ips[deployment_host] }}"'},
    {"RUN": "mkdir -p {{ node_root }}/etc {{ node_root }}/var/lib", "name": "make the node's directories"},
    {"RUN": "--stdout-arg kernel_name uname -s"},
    {"ADD": "--blueprint files/motd.j2 {{node_root}}/etc/motd --chown root --chmod 0644"},
]

MEMCACHED_SERVICE = [
    {"ARG": 'memcache_host_ip "{{ ip }}"'},
    {"QUERY": "memcache_host_ip"},
    {"ADD": "--blueprint files/memcached.conf.j2 {{node_root}}/etc/memcached.conf --chown root:root --chmod 0600"},
    {"RUN": "set -e\n"
            "cd {{ node_root }}/var/lib\n"
            "echo \"memcached  on   {{ deployment_host }}\" > memcached.state\n"
            "  grep -c 11211 {{ node_root }}/etc/memcached.conf >> memcached.state\n"},
]

NOVA_COMPUTE_SERVICE = [
    {"ADD": "files/nova-vars.yaml {{node_root}}/etc/nova-vars.yaml --chmod 0640"},
    {"CACHEFILE": "{{node_root}}/etc/nova-vars.yaml"},
    {"RUN": "echo '{{ nova_compute_driver }}'  \"x{{ nova_cpu_allocation_ratio }}\" > {{ node_root }}/etc/nova.conf",
     "vars": {}},
]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory, transport):
    root = tmp_path_factory.mktemp("migration")
    cluster = Cluster(root / "cluster", clients=4, **transport())
    cluster.names = CONTROLLERS + COMPUTES
    with cluster.running() as running:
        yield running, root / "nodes"


def run_service(connect: DirectordConnect, jobs: list[dict], hosts: list[str]) -> list[str]:
    """Submit one service's jobs to ``hosts`` and poll every job id, as task-core does."""
    job_ids = connect.orchestrate(orchestrations=[{"jobs": [dict(job) for job in jobs]}], defined_targets=hosts)
    assert len(job_ids) == len(jobs)
    failures = []
    for job_id in job_ids:
        state, message = connect.poll(job_id=job_id, timeout=120)
        if state is not True:
            failures.append(message)
    assert not failures, failures
    return job_ids


def test_tripleo_style_deployment_on_four_nodes_in_two_roles(deployment, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    cluster, nodes = deployment
    files = tmp_path / "files"
    files.mkdir()
    (files / "memcached.conf.j2").write_text(MEMCACHED_CONF)
    (files / "motd.j2").write_text(MOTD)
    (files / "nova-vars.yaml").write_text(NOVA_VARS)
    monkeypatch.chdir(tmp_path)  # ADD sources are relative to where the deployment runs

    connect = DirectordConnect(force_async=True, socket_path=cluster.socket)
    for host in CONTROLLERS + COMPUTES:
        run_service(connect, base_service(host, nodes, "controller" if host in CONTROLLERS else "compute"), [host])
    run_service(connect, COMMON_SERVICE, CONTROLLERS + COMPUTES)
    run_service(connect, MEMCACHED_SERVICE, CONTROLLERS)
    run_service(connect, NOVA_COMPUTE_SERVICE, COMPUTES)

    kernel = os.uname().sysname
    for host in CONTROLLERS + COMPUTES:
        role = "controller" if host in CONTROLLERS else "compute"
        motd = nodes / host / "etc" / "motd"
        assert motd.read_text() == f"Welcome to {host}, role {role}\n"
        assert stat.S_IMODE(motd.stat().st_mode) == 0o644
    for host in CONTROLLERS:
        conf = nodes / host / "etc" / "memcached.conf"
        lines = [line for line in conf.read_text().splitlines() if line.strip()]
        assert lines == [f"# managed by directord on {host} ({kernel})", f"listen={IPS[host]}",
                         "servers=10.0.0.10:11211,10.0.0.11:11211"]
        assert stat.S_IMODE(conf.stat().st_mode) == 0o600
        state = (nodes / host / "var" / "lib" / "memcached.state").read_text()
        assert state == f"memcached  on   {host}\n1\n"  # the text ran verbatim: spacing kept
        assert not (nodes / host / "etc" / "nova.conf").exists()
    for host in COMPUTES:
        assert (nodes / host / "etc" / "nova.conf").read_text() == "libvirt.LibvirtDriver x4.0\n"
        assert stat.S_IMODE((nodes / host / "etc" / "nova-vars.yaml").stat().st_mode) == 0o640
        assert not (nodes / host / "etc" / "memcached.conf").exists()
