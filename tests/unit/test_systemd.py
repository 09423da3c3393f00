"""directord-server-systemd / directord-client-systemd: unit files under a private root."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from directord.systemd import unit_quote

BIN = Path(sys.executable).parent


def helper(role: str, root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / f"directord-{role}-systemd"), "--root", str(root), *args],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


def unit(root: Path, role: str) -> str:
    return (root / f"etc/systemd/system/directord-{role}.service").read_text()


def image_groups(root: Path) -> None:
    """An image tree whose group database has ``directord`` and ``wheel`` (this host may lack them)."""
    (root / "etc").mkdir(parents=True, exist_ok=True)
    (root / "etc/group").write_text("root:x:0:\nwheel:x:10:\ndirectord:x:990:alice\n")


@pytest.mark.parametrize("role", ["server", "client"])
def test_writes_the_unit_and_a_config_file(tmp_path: Path, role: str) -> None:
    image_groups(tmp_path)
    result = helper(role, tmp_path, "--group", "directord")
    assert result.returncode == 0, result.stderr
    assert "systemctl daemon-reload" in result.stdout
    text = unit(tmp_path, role)
    assert (f"ExecStart={BIN / 'directord'} --config-file /etc/directord/config.yaml"
            f" --socket-group directord {role}\n") in text
    for line in ("User=root", "Group=directord", "Restart=on-failure", "RestartSec=10", "Slice=directord.slice",
                 "CPUAccounting=yes", "MemoryAccounting=yes", "WantedBy=multi-user.target"):
        assert line + "\n" in text
    assert ("LimitNOFILE=65536\n" in text) is (role == "server")
    assert (tmp_path / "etc/directord/config.yaml").read_text() == "---\ndebug: false\n"


def test_an_existing_unit_is_kept_unless_forced(tmp_path: Path) -> None:
    image_groups(tmp_path)
    assert helper("server", tmp_path).returncode == 0
    config = tmp_path / "etc/directord/config.yaml"
    config.write_text("---\ndebug: true\n")  # the operator's own settings
    before = unit(tmp_path, "server")
    refused = helper("server", tmp_path, "--group", "wheel")
    assert refused.returncode == 1
    assert refused.stderr.strip().endswith("exists; pass --force to replace it")
    assert "Traceback" not in refused.stderr
    assert unit(tmp_path, "server") == before
    forced = helper("server", tmp_path, "--group", "wheel", "--force")
    assert forced.returncode == 0, forced.stderr
    assert "Group=wheel\n" in unit(tmp_path, "server")
    assert config.read_text() == "---\ndebug: true\n"
    assert str(config) not in forced.stdout


def test_a_group_with_spaces_is_refused(tmp_path: Path) -> None:
    result = helper("client", tmp_path, "--group", "bad group")
    assert result.returncode == 1
    assert "invalid group" in result.stderr
    assert not (tmp_path / "etc/systemd/system/directord-client.service").exists()


@pytest.mark.parametrize("role", ["server", "client"])
def test_an_unknown_group_is_refused_and_nothing_is_written(tmp_path: Path, role: str) -> None:
    bare, image = tmp_path / "bare", tmp_path / "image"
    image_groups(image)
    for root, where in ((bare, "this host's groups"), (image, str(image / "etc/group"))):
        result = helper(role, root, "--group", "nosuchgroup")
        assert result.returncode == 1
        assert result.stderr == (f"directord-{role}-systemd: unknown group 'nosuchgroup' (not in {where});"
                                 " create it first or pass an existing one\n")
        assert not result.stdout
    assert not bare.exists()
    assert sorted(p.name for p in image.rglob("*")) == ["etc", "group"]


def test_a_gid_or_a_host_group_is_accepted(tmp_path: Path) -> None:
    image_groups(tmp_path / "image")
    assert helper("server", tmp_path / "image", "--group", "990").returncode == 0
    assert "Group=990\n" in unit(tmp_path / "image", "server")
    assert helper("server", tmp_path / "bare", "--group", "0").returncode == 0  # no etc/group there: this host's


@pytest.mark.parametrize(("path", "word"), [
    ("/opt/directord/bin/directord", "/opt/directord/bin/directord"),
    ("/opt/my venv/bin/directord", '"/opt/my venv/bin/directord"'),
    ("/opt/100%/bin/directord", "/opt/100%%/bin/directord"),
])
def test_the_executable_is_one_execstart_word(path: str, word: str) -> None:
    assert unit_quote(path) == word


def test_a_planted_symlink_is_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    root = tmp_path / "root"
    (root / "etc/systemd/system").mkdir(parents=True)
    (root / "etc/directord").mkdir(parents=True)
    (root / "etc/systemd/system/directord-client.service.tmp").symlink_to(outside)
    (root / "etc/directord/config.yaml").symlink_to(tmp_path / "elsewhere.yaml")
    result = helper("client", root)
    assert result.returncode == 0, result.stderr
    assert not outside.exists() and not (tmp_path / "elsewhere.yaml").exists()
    assert "ExecStart=" in unit(root, "client")


def test_a_temporary_file_left_by_a_crash_does_not_block_the_next_run(tmp_path: Path) -> None:
    (tmp_path / "etc/systemd/system").mkdir(parents=True)
    (tmp_path / "etc/systemd/system/directord-server.service.tmp").write_text("half a unit")
    result = helper("server", tmp_path)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "etc/systemd/system/directord-server.service.tmp").exists()
