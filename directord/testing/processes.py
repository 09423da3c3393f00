"""Process helpers: free ports, daemons started and reaped, a private redis-server, waiting on a condition."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def daemon(argv: list[str], log: Path, ready: Callable[[], bool], what: str, timeout: float = 30,
           env: dict[str, str] | None = None, stop_timeout: float = 10) -> Iterator[subprocess.Popen]:
    """Run ``argv`` (output to ``log``) until the block ends; wait until ``ready()`` first.

    ``what`` names the program in errors; one that exits while starting fails with its log's end.
    """
    binary = shutil.which(argv[0])
    if binary is None:
        raise RuntimeError(f"{argv[0]} is not installed: run `make test`, which installs it")
    with open(log, "wb") as out:
        process = subprocess.Popen([binary, *argv[1:]], stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, env=env)

    def started() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited:\n{log.read_text()[-2000:]}")
        return ready()

    try:
        wait_for(started, timeout, interval=0.02, what=what)
        yield process
    finally:
        process.terminate()
        reap(process, stop_timeout)


@contextlib.contextmanager
def redis_server(directory: Path, port: int | None = None, appendonly: bool = False,
                 args: tuple[str, ...] = ()) -> Iterator[str]:
    """A throwaway redis-server on 127.0.0.1 (a free port unless ``port``); yields
    ``redis://127.0.0.1:PORT``. ``appendonly``: an AOF in ``directory``, so the same
    directory and port start it again with its data; ``args``: more options
    (``("--replicaof", "127.0.0.1", "6380")``), or a config file first (a sentinel's)."""
    port = port or free_port()

    def answering() -> bool:
        with socket.socket() as probe:
            probe.settimeout(1)
            try:
                probe.connect(("127.0.0.1", port))
                probe.sendall(b"PING\r\n")
                return probe.recv(16).startswith(b"+PONG")
            except OSError:
                return False

    config_file = [args[0]] if args and not args[0].startswith("-") else []
    argv = ["redis-server", *config_file, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory),
            "--save", "", "--appendonly", "yes" if appendonly else "no", "--appendfsync", "always",
            "--daemonize", "no", *args[len(config_file):]]
    with daemon(argv, directory / "redis.log", answering, f"redis-server on port {port}", 10, stop_timeout=5):
        yield f"redis://127.0.0.1:{port}"


def reap(process: subprocess.Popen, timeout: float) -> None:
    """Wait for a signalled process; SIGKILL it if it takes longer than ``timeout``."""
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


def wait_for(condition: Callable[[], Any], timeout: float, interval: float = 0.05, what: str = "") -> Any:
    """Poll ``condition`` until truthy or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what or condition}")
        time.sleep(interval)
