"""Every job catalog the original directord ships, merged with an inventory, becomes a bootstrap plan.

The catalogs come from the original's wheel at test time (tests/upstream.py caches it).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from upstream import SHARE, upstream_files

from directord import bootstrap
from directord.components.lib import merge_dict

SERVER = "192.0.2.10"
CLIENTS = {"client1": "192.0.2.11", "client2": "192.0.2.12"}
INVENTORY = {  # the shape of the original's directord-inventory-catalog.yaml
    "directord_server": {"targets": [{"host": SERVER, "port": 22, "username": "centos"}]},
    "directord_clients": {"args": {"port": 2222, "username": "centos"},
                          "targets": [{"name": name, "host": host} for name, host in CLIENTS.items()]},
}


@pytest.fixture(scope="module")
def tools() -> Path:
    return upstream_files(f"{SHARE}/tools")


def job_catalogs(tools: Path) -> list[Path]:
    return sorted(path for path in tools.glob("directord-*.yaml") if path.name != "directord-inventory-catalog.yaml")


def test_the_original_ships_thirteen_job_catalogs_and_this_inventory_shape(tools: Path) -> None:
    assert len(job_catalogs(tools)) == 13
    shipped = yaml.safe_load((tools / "directord-inventory-catalog.yaml").read_text())
    assert set(shipped) == set(INVENTORY)
    assert set(shipped["directord_clients"]) == set(INVENTORY["directord_clients"])


@pytest.mark.parametrize("name", [
    "directord-config-bootstrap-zmq.yaml", "directord-dev-bootstrap-grpc-ssl.yaml", "directord-dev-bootstrap-grpc.yaml",
    "directord-dev-bootstrap-messaging-catalog.yaml", "directord-dev-bootstrap-zmq-encryption-catalog.yaml",
    "directord-dev-bootstrap-zmq-no-server.yaml", "directord-dev-bootstrap-zmq.yaml",
    "directord-dev-update-catalog.yaml", "directord-manage-bootstrap.yaml", "directord-prod-bootstrap-zmq.yaml",
    "directord-restart-catalog.yaml", "directord-rpm-bootstrap-zmq.yaml", "directord-unmanage-bootstrap.yaml",
])
def test_job_catalog_with_an_inventory_plans_and_renders(tools: Path, tmp_path: Path, name: str) -> None:
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(yaml.safe_dump(INVENTORY))
    catalog = bootstrap.load_catalogs([str(inventory), str(tools / name)])
    servers, clients = bootstrap.plan(catalog)

    source = yaml.safe_load((tools / name).read_text())
    assert [host.host for host in servers] == ([SERVER] if (source.get("directord_server") or {}).get("jobs") else [])
    assert {host.name: (host.host, host.port, host.username) for host in clients} == {
        name: (host, 2222, "centos") for name, host in CLIENTS.items()}
    for host in servers + clients:
        steps = bootstrap.steps(host, catalog, key_file="/home/centos/.ssh/id_ed25519")
        assert [(step.verb, step.text) for step in steps] == list(host.jobs)
        for step in steps:
            assert len(step.args) == (1 if step.verb == "RUN" else 2)
            assert not any(mark in arg for arg in step.args for mark in ("{{", "{%", "}}"))


def test_templated_add_paths_are_split_after_rendering(tools: Path) -> None:
    catalog = merge_dict(INVENTORY, yaml.safe_load((tools / "directord-dev-bootstrap-grpc-ssl.yaml").read_text()))
    servers, clients = bootstrap.plan(catalog)
    host = CLIENTS["client2"]
    adds = {step.args for step in bootstrap.steps(clients[1], catalog) if step.verb == "ADD"}
    assert (f"/opt/directord/grpc-ssl/{host}.crt", f"{host}.crt") in adds
    assert (f"/opt/directord/grpc-ssl/{host}.key", f"{host}.key") in adds
    runs = "\n".join(step.args[0] for step in bootstrap.steps(servers[0], catalog, "/k") if step.verb == "RUN")
    for client in CLIENTS.values():  # the server's loop over the clients
        assert f"-i /k centos@{client} hostname" in runs
        assert f"sudo ./getcert.sh {client} /opt/directord/messaging-ssl" in runs
