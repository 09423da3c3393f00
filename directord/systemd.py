"""``directord-server-systemd`` / ``directord-client-systemd``: install the systemd unit of a role.

Each creates ``/etc/directord`` (with a minimal ``config.yaml`` when there is
none) and writes ``/etc/systemd/system/directord-<role>.service`` running the
``directord`` executable that sits beside the helper. An existing unit is
kept unless ``--force``; ``--root`` writes under another tree (image builds).
"""

from __future__ import annotations

import argparse
import grp
import os
import shutil
import sys
from pathlib import Path

from directord.exceptions import DirectordError, UnitExists

CONFIG_FILE = "/etc/directord/config.yaml"
UNIT = """\
[Unit]
Description=Directord {role}
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
User=root
Group={group}
ExecStart={executable} --config-file {config} --socket-group {group} {role}
Restart=on-failure
RestartSec=10
Slice=directord.slice
CPUAccounting=yes
MemoryAccounting=yes
TasksAccounting=yes
IOAccounting=yes
{limits}
[Install]
WantedBy=multi-user.target
"""
LIMITS = {"server": "LimitNOFILE=65536\n", "client": ""}


def executable() -> str:
    """The ``directord`` beside the running helper, else the one on PATH."""
    beside = Path(sys.argv[0]).resolve().parent / "directord"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("directord")
    if found is None:
        raise DirectordError("cannot find the directord executable beside this helper or on PATH")
    return found


def install(role: str, group: str = "root", force: bool = False, root: str = "/",
            program: str | None = None) -> list[str]:
    """Write the config directory and the unit of ``role``; returns what was written."""
    if not group or any(c.isspace() for c in group):
        raise DirectordError(f"invalid group {group!r}")
    base = Path(root)
    check_group(group, base)
    unit = base / "etc/systemd/system" / f"directord-{role}.service"
    if unit.exists() and not force:
        raise UnitExists(f"{unit} exists; pass --force to replace it")
    written = []
    config = base / CONFIG_FILE.lstrip("/")
    config.parent.mkdir(parents=True, exist_ok=True)
    if not config.exists() and not config.is_symlink():
        _write_new(config, "---\ndebug: false\n")
        written.append(str(config))
    unit.parent.mkdir(parents=True, exist_ok=True)
    text = UNIT.format(role=role, group=group, executable=unit_quote(program or executable()), config=CONFIG_FILE,
                       limits=LIMITS[role])
    temporary = unit.with_suffix(".service.tmp")
    _write_new(temporary, text)
    os.replace(temporary, unit)
    written.append(str(unit))
    return written


def check_group(group: str, root: Path) -> None:
    """Refuse a group (name or gid) the target system does not have.

    Under another ``root`` its ``etc/group`` is the target's group database
    when it has one; otherwise this host's (NSS included).
    """
    table = root / "etc/group"
    if root.resolve() != Path("/") and table.is_file():
        entries = [line.split(":") for line in table.read_text(errors="replace").splitlines()]
        if any(len(entry) > 2 and group in (entry[0], entry[2]) for entry in entries):
            return
        where = str(table)
    else:
        try:
            if group.isdigit():
                grp.getgrgid(int(group))
            else:
                grp.getgrnam(group)
            return
        except KeyError:
            where = "this host's groups"
    raise DirectordError(f"unknown group {group!r} (not in {where}); create it first or pass an existing one")


def unit_quote(path: str) -> str:
    """A path as one ExecStart word: quoted when it has spaces, ``%`` doubled (systemd specifiers)."""
    path = path.replace("%", "%%")
    if any(c.isspace() for c in path) or '"' in path or "\\" in path:
        return '"' + path.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return path


def _write_new(path: Path, text: str) -> None:
    """Write ``path`` afresh: a symlink planted there (or a file left by a crash) is removed, never followed."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def _main(role: str, argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(prog=f"directord-{role}-systemd",
                                     description=f"Install the directord-{role} systemd unit.")
    parser.add_argument("--group", default="root", help="Group of the service and of the user socket.")
    parser.add_argument("--force", action="store_true", help="Replace an existing unit file.")
    parser.add_argument("--root", default="/", help="Install under this directory instead of / (image builds).")
    args = parser.parse_args(argv)
    try:
        written = install(role, args.group, args.force, args.root)
    except (DirectordError, OSError) as exc:
        print(f"directord-{role}-systemd: {exc}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    print(f"run `systemctl daemon-reload`, then `systemctl enable --now directord-{role}`")
    return 0


def server_main(argv: list[str] | None = None) -> int:
    return _main("server", argv)


def client_main(argv: list[str] | None = None) -> int:
    return _main("client", argv)
