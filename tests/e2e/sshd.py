"""A throwaway OpenSSH server for the bootstrap tests: private port, keys and config."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from directord.testing import free_port, reap, wait_for

SSHD = "/usr/sbin/sshd"
ADDRESSES = ("127.0.0.1", "127.0.0.2")  # two "hosts": sshd listens on both loopback addresses


@dataclass(frozen=True)
class SshServer:
    port: int
    user_key: Path  # authorized for the current user
    other_key: Path  # a valid key that is not authorized
    root: Path


def keygen(path: Path) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True,
                   stdin=subprocess.DEVNULL)
    return path


@contextlib.contextmanager
def sshd_server(root: Path, port: int | None = None) -> Iterator[SshServer]:
    """sshd on ``port`` (default: a free one) of 127.0.0.1 and 127.0.0.2, accepting one generated key;
    its host key is new every time."""
    if not os.access(SSHD, os.X_OK):
        raise RuntimeError("sshd is not installed: run `make test` (it installs openssh-server)")
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation directory
    host_key, user_key, other_key = (keygen(root / name) for name in ("host_key", "user_key", "other_key"))
    (root / "authorized_keys").write_text(user_key.with_suffix(".pub").read_text())
    port = port or free_port()
    config = root / "sshd_config"
    config.write_text("\n".join([
        f"Port {port}", *(f"ListenAddress {address}" for address in ADDRESSES),
        f"HostKey {host_key}", f"AuthorizedKeysFile {root / 'authorized_keys'}", f"PidFile {root / 'sshd.pid'}",
        "PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no", "StrictModes no",
        "PermitRootLogin prohibit-password", "Subsystem sftp internal-sftp", "LogLevel VERBOSE", "",
    ]))
    log = root / "sshd.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL)

    def listening() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"sshd exited:\n{log.read_text()[-2000:]}")
        with socket.socket() as probe:
            probe.settimeout(1)
            try:
                probe.connect((ADDRESSES[1], port))
                return probe.recv(8).startswith(b"SSH-")
            except OSError:
                return False

    try:
        wait_for(listening, 10, interval=0.02, what=f"sshd on port {port}")
        yield SshServer(port, user_key, other_key, root)
    finally:
        process.terminate()
        reap(process, 5)
