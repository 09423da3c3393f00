"""``directord bootstrap`` against a real sshd: RUN on a PTY, ADD and GET over SFTP, host keys, failures."""

from __future__ import annotations

import getpass
import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from sshd import SshServer, sshd_server

from directord.connect import DirectordConnect
from directord.exceptions import BootstrapError
from directord.testing import free_port

USER = getpass.getuser()


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory):
    with sshd_server(tmp_path_factory.mktemp("sshd")) as server:
        yield server


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private HOME (its own ~/.ssh/known_hosts) and no SSH agent, for the CLI and in-process calls."""
    path = tmp_path / "home"
    path.mkdir()
    monkeypatch.setenv("HOME", str(path))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    return path


def write_catalog(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path


def bootstrap(home: Path, *args: str) -> tuple[int, Any, str]:
    """Run the CLI with ``-f json``: (exit code, parsed rows or None, stderr)."""
    env = {**os.environ, "HOME": str(home), "DIRECTORD_CONFIG_FILE": str(home / "absent.yaml")}
    env.pop("SSH_AUTH_SOCK", None)
    result = subprocess.run([sys.executable, "-m", "directord", "bootstrap", "-f", "json", *args],
                            capture_output=True, text=True, env=env, timeout=120, stdin=subprocess.DEVNULL)
    rows = json.loads(result.stdout) if result.stdout.strip() else None
    return result.returncode, rows, result.stderr


def by_name(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["NAME"] or row["HOST"]: row for row in rows}


def entry(sshd: SshServer, targets: list[dict[str, Any]], jobs: list[Any]) -> dict[str, Any]:
    return {"args": {"port": sshd.port, "username": USER}, "targets": targets, "jobs": jobs}


def test_server_then_clients_run_add_get_with_templates_and_merged_catalogs(sshd: SshServer, home: Path,
                                                                          tmp_path: Path) -> None:
    out = tmp_path / "remote"
    out.mkdir()
    tool = tmp_path / "tool.sh"
    tool.write_bytes(b"#!/bin/sh\necho tool\n" + os.urandom(300_000).hex().encode())  # several 128 KiB chunks
    tool.chmod(0o751)
    base = write_catalog(tmp_path / "base.yaml", {
        "site": "lab-1",
        "directord_server": entry(sshd, [{"host": "127.0.0.1", "name": "server-1"}], [
            {"RUN": f"echo '{{{{ site }}}} {{{{ directord_bootstrap.name }}}}"
                    f" {{{{ directord_server.targets[0].host }}}}' > {out}/server-run.txt"},
            {"ADD": f"{tool} {out}/tool.sh"},
            {"GET": f"{out}/server-run.txt {tmp_path}/fetched.txt"},
        ]),
        "directord_clients": entry(sshd, [{"host": "127.0.0.1", "name": "client-1"},
                                          {"host": "127.0.0.2", "name": "client-2"}],
                                   [[{"RUN": f"tty > {out}/{{{{ directord_bootstrap.name }}}}.tty"}]]),
    })
    extra = write_catalog(tmp_path / "extra.yaml", {"directord_clients": {"jobs": [
        {"RUN": f"echo {{{{ directord_bootstrap.host }}}} > {out}/{{{{ directord_bootstrap.name }}}}.host"},
        {"ADD": f"{tool} {out}/{{{{ directord_bootstrap['name'] }}}}.sh"}]}})  # split after rendering

    code, rows, stderr = bootstrap(home, "--catalog", str(base), "--catalog", str(extra),
                                   "--key-file", str(sshd.user_key), "--accept-new-host-keys")

    assert code == 0, (rows, stderr)
    hosts = by_name(rows)
    assert {name: (row["ROLE"], row["STATUS"], row["JOBS"]) for name, row in hosts.items()} == {
        "server-1": ("server", "ok", 3), "client-1": ("client", "ok", 3), "client-2": ("client", "ok", 3)}
    assert (out / "server-run.txt").read_text() == "lab-1 server-1 127.0.0.1\n"
    assert (tmp_path / "fetched.txt").read_text() == "lab-1 server-1 127.0.0.1\n"
    assert (out / "tool.sh").read_bytes() == tool.read_bytes()
    assert stat.S_IMODE((out / "tool.sh").stat().st_mode) == 0o751
    for name, host in (("client-1", "127.0.0.1"), ("client-2", "127.0.0.2")):
        assert (out / f"{name}.tty").read_text().startswith("/dev/pts/")  # RUN has a PTY
        assert (out / f"{name}.host").read_text() == f"{host}\n"  # the merged catalog's jobs ran too
        assert (out / f"{name}.sh").read_bytes() == tool.read_bytes()
    known = (home / ".ssh" / "known_hosts").read_text()
    assert f"[127.0.0.1]:{sshd.port}" in known and f"[127.0.0.2]:{sshd.port}" in known


def test_a_failed_server_command_stops_its_host_and_skips_the_clients(sshd: SshServer, home: Path,
                                                                      tmp_path: Path) -> None:
    marker = tmp_path / "after-failure"
    catalog = write_catalog(tmp_path / "fail.yaml", {
        "directord_server": entry(sshd, [{"host": "127.0.0.1"}],
                                  [{"RUN": "echo boom-output; exit 3"}, {"RUN": f"touch {marker}"}]),
        "directord_clients": entry(sshd, [{"host": "127.0.0.2"}], [{"RUN": f"touch {marker}"}]),
    })
    code, rows, _ = bootstrap(home, "--catalog", str(catalog), "--key-file", str(sshd.user_key),
                              "--accept-new-host-keys")
    assert code == 1
    server, client = by_name(rows)["127.0.0.1"], by_name(rows)["127.0.0.2"]
    assert (server["STATUS"], server["JOBS"]) == ("failed", 0)
    assert "Bootstrap command failed (exit 3): echo boom-output; exit 3" in server["ERROR"]
    assert "boom-output" in server["ERROR"].split("\n", 1)[1]  # the command's output is kept
    assert client["STATUS"] == "skipped"
    assert not marker.exists()


def test_unknown_host_keys_are_refused_unless_accepted(sshd: SshServer, home: Path, tmp_path: Path) -> None:
    catalog = write_catalog(tmp_path / "c.yaml", {
        "directord_clients": entry(sshd, [{"host": "127.0.0.1"}], [{"RUN": "true"}])})
    code, rows, _ = bootstrap(home, "--catalog", str(catalog), "--key-file", str(sshd.user_key))
    assert code == 1
    assert rows[0]["STATUS"] == "unreachable" and "--accept-new-host-keys" in rows[0]["ERROR"]
    assert bootstrap(home, "--catalog", str(catalog), "--key-file", str(sshd.user_key),
                     "--accept-new-host-keys")[0] == 0
    code, rows, _ = bootstrap(home, "--catalog", str(catalog), "--key-file", str(sshd.user_key))
    assert (code, rows[0]["STATUS"]) == (0, "ok")  # the key was recorded


def test_a_changed_host_key_is_refused_even_with_accept_new_host_keys(home: Path, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    for name in ("before", "after"):
        (tmp_path / name).mkdir()
    with sshd_server(tmp_path / "before") as before:
        catalog = write_catalog(tmp_path / "c.yaml", {
            "directord_clients": entry(before, [{"host": "127.0.0.1"}], [{"RUN": f"touch {marker}"}])})
        assert bootstrap(home, "--catalog", str(catalog), "--key-file", str(before.user_key),
                         "--accept-new-host-keys")[0] == 0
    assert marker.exists()
    marker.unlink()
    known_hosts = home / ".ssh" / "known_hosts"
    recorded = known_hosts.read_text()
    old_key = (before.root / "host_key.pub").read_text().split()[1]
    assert old_key in recorded
    with sshd_server(tmp_path / "after", port=before.port) as after:  # same host and port, a new host key
        for accept in ((), ("--accept-new-host-keys",)):
            code, rows, stderr = bootstrap(home, "--catalog", str(catalog), "--key-file", str(after.user_key),
                                           *accept)
            assert code == 1, (accept, rows, stderr)
            assert rows[0]["STATUS"] == "unreachable", accept
            assert rows[0]["ERROR"].startswith("Host key of [ 127.0.0.1 ] changed: refusing to connect"), accept
    assert not marker.exists()  # nothing ran on the host
    assert known_hosts.read_text() == recorded  # the old key is kept, the new one never recorded
    assert (after.root / "host_key.pub").read_text().split()[1] not in recorded


def test_unreachable_and_unauthorized_hosts_fail_alone(sshd: SshServer, home: Path, tmp_path: Path) -> None:
    closed = free_port()
    catalog = write_catalog(tmp_path / "c.yaml", {"directord_clients": entry(
        sshd, [{"host": "127.0.0.1", "port": closed, "name": "closed"}, {"host": "127.0.0.2", "name": "open"}],
        [{"RUN": "true"}])})
    code, rows, _ = bootstrap(home, "--catalog", str(catalog), "--key-file", str(sshd.user_key),
                              "--accept-new-host-keys", "--threads", "2")
    assert code == 1
    hosts = by_name(rows)
    assert hosts["closed"]["STATUS"] == "unreachable"
    assert hosts["closed"]["ERROR"].startswith("Failed to connect to [ 127.0.0.1 ]")
    assert (hosts["open"]["STATUS"], hosts["open"]["JOBS"]) == ("ok", 1)

    code, rows, _ = bootstrap(home, "--catalog", str(catalog), "--key-file", str(sshd.other_key),
                              "--accept-new-host-keys")
    assert code == 1 and by_name(rows)["open"]["ERROR"].startswith("Authentication failure")


@pytest.mark.parametrize(("catalog", "message"), [
    ({"directord_clients": {"targets": [{"host": "h"}], "jobs": [{"RUNN": "x"}]}}, "unknown bootstrap verb 'RUNN'"),
    ({"directord_clients": {"targets": [{"host": "h"}]}}, "directord_clients has no jobs"),
    ({"directord_clients": {"targets": [{"host": "h"}], "jobs": [{"ADD": "only-one"}]}}, "ADD takes two paths"),
    ({"directord_clients": {"targets": [{"host": "h"}], "jobs": [{"RUN": "{{ nope }}"}]}}, "'nope' is undefined"),
    ({"other": 1}, "define no directord_server or directord_clients"),
])
def test_bad_catalogs_are_one_line_and_exit_2(home: Path, tmp_path: Path, catalog: dict, message: str) -> None:
    code, rows, stderr = bootstrap(home, "--catalog", str(write_catalog(tmp_path / "bad.yaml", catalog)))
    assert (code, rows) == (2, None)
    assert message in stderr and len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr


def test_missing_catalog_file(home: Path, tmp_path: Path) -> None:
    code, _, stderr = bootstrap(home, "--catalog", str(tmp_path / "nope.yaml"))
    assert code == 2 and "catalog not found" in stderr


def test_library_bootstrap_returns_the_hosts_or_raises(sshd: SshServer, home: Path, tmp_path: Path) -> None:
    good = write_catalog(tmp_path / "good.yaml", {"directord_clients": entry(
        sshd, [{"host": "127.0.0.2"}, {"host": "127.0.0.1"}], [{"RUN": "true"}])})
    hosts = DirectordConnect.bootstrap([str(good)], key_file=str(sshd.user_key), accept_new_host_keys=True)
    assert hosts == ("127.0.0.1", "127.0.0.2")
    bad = write_catalog(tmp_path / "bad.yaml", {"directord_clients": entry(
        sshd, [{"host": "127.0.0.1"}], [{"RUN": "exit 5"}])})
    with pytest.raises(BootstrapError, match="1 host\\(s\\) failed: 127.0.0.1: failed: .*exit 5"):
        DirectordConnect.bootstrap([str(bad)], key_file=str(sshd.user_key), accept_new_host_keys=True)
