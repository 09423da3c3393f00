"""The original directord 0.12.0 as a benchmark system, driven through its own CLI.

It lives in a private venv (``bench/.venv-upstream``, created on first use from
PyPI, never committed) and runs with the zeromq driver and the memory
datastore. Its processes fork helpers, so each is started in its own session
and stopped as a process group.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml
from suite import RunHung
from workloads import EXEC_TEXT, NOOP_FILE, RUN_TEXT, Workload

from directord.testing import free_port, wait_for

VENV = Path(__file__).with_name(".venv-upstream")
VERSION = "0.12.0"
HEARTBEAT_S = 60  # its clients heartbeat every 30 s whatever this says; expiry is 3 x this
RESULT_TIMEOUT_S = 1800.0
RUN_TIMEOUT_S = 240.0  # its job workloads take 12-20 s here: past this, a run lost a job
_JOB_ID = re.compile(r"Job Success: ([0-9a-f-]{36})")


class UpstreamUnavailable(RuntimeError):
    """The original cannot be installed or run here; the message says why."""


def ensure_venv() -> Path:
    """The original's ``directord`` executable, installing it (and the NOOP builtin) if needed."""
    executable = VENV / "bin" / "directord"
    if not executable.exists():
        python3 = shutil.which("python3") or sys.executable
        for argv in ([python3, "-m", "venv", str(VENV)],
                     [str(VENV / "bin" / "pip"), "install", "-q", f"directord=={VERSION}", "pyzmq"]):
            result = subprocess.run(argv, capture_output=True, text=True)
            if result.returncode != 0:
                raise UpstreamUnavailable(f"`{' '.join(argv)}` failed: {result.stderr.strip()[-500:]}")
    # A builtin needs no shipping (the original would ADD a user component to /etc/directord).
    found = subprocess.run([str(VENV / "bin" / "python"), "-I", "-c",  # -I: not this checkout's directord
                            "import directord.components as c, os; print(os.path.dirname(c.__file__))"],
                           capture_output=True, text=True)
    if found.returncode != 0:
        raise UpstreamUnavailable(f"directord {VERSION} does not import: {found.stderr.strip()[-500:]}")
    shutil.copy(NOOP_FILE, Path(found.stdout.strip()) / "builtin_noop.py")
    version = subprocess.run([str(executable), "--version"], capture_output=True, text=True)
    if VERSION not in version.stdout + version.stderr:
        raise UpstreamUnavailable(f"{executable} --version says {version.stdout.strip() or version.stderr.strip()}")
    return executable


class UpstreamSystem:
    """Its server + ``nodes`` clients under ``root``, on free ports."""

    name = f"directord {VERSION}"

    def __init__(self, root: Path, nodes: int, executable: Path):
        root.mkdir(parents=True, exist_ok=True)
        self.root, self.nodes, self.executable = root, nodes, executable
        self.names = [f"node{i}" for i in range(1, nodes + 1)]
        self.socket = str(root / "directord.sock")
        self.job_port, self.backend_port = free_port(), free_port()
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.server: subprocess.Popen | None = None
        self.clients: dict[str, subprocess.Popen] = {}

    @property
    def server_pid(self) -> int:
        assert self.server is not None
        return self.server.pid

    @property
    def client_pid(self) -> int:
        return self.clients[self.names[0]].pid

    def _global(self, identity: str = "server") -> list[str]:
        return ["--config-file", str(self.root / "absent.yaml"), "--driver", "zeromq", "--datastore", "memory",
                "--socket-path", self.socket, "--job-port", str(self.job_port),
                "--backend-port", str(self.backend_port), "--heartbeat-interval", str(HEARTBEAT_S),
                "--identity", identity, "--cache-path", str(self.root / identity)]

    def _spawn(self, identity: str, args: list[str]) -> subprocess.Popen:
        with open(self.root / f"{identity}.log", "ab") as log:
            return subprocess.Popen([str(self.executable), *self._global(identity), *args], stdout=log,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=self.env,
                                    cwd=self.root, start_new_session=True)

    def start(self, timeout: float) -> None:
        if os.path.exists(self.socket):  # left by a previous start: the new one is awaited below
            os.unlink(self.socket)
        self.server = self._spawn("server", ["server", "--zmq-bind-address", "127.0.0.1"])
        wait_for(lambda: self.server.poll() is not None or os.path.exists(self.socket), 30, what="its socket")
        if self.server.poll() is not None:
            raise UpstreamUnavailable(f"its server exited: {self.logs()[-800:]}")
        for name in self.names:
            self.clients[name] = self._spawn(name, ["client", "--zmq-server-address", "127.0.0.1"])
        wanted = set(self.names)
        wait_for(lambda: self._live() == wanted, timeout, interval=1.0, what=f"{self.nodes} nodes of {self.name}")

    def _manage(self, key: str, value: Any = None) -> Any:
        """One management request on its socket (JSON in, JSON back, connection closed)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(60)
            sock.connect(self.socket)
            sock.sendall(json.dumps({"manage": {key: value}}).encode())
            chunks = []
            while chunk := sock.recv(1 << 20):
                chunks.append(chunk)
        return json.loads(b"".join(chunks))

    def _live(self) -> set[str]:
        try:
            return {identity for identity, _ in self._manage("list_nodes")}
        except (OSError, ValueError):
            return set()

    def stop(self) -> None:
        processes = [*self.clients.values(), *([self.server] if self.server else [])]
        for process in processes:
            self._signal_group(process, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                self._signal_group(process, signal.SIGKILL)
                process.wait(5)

    @staticmethod
    def _signal_group(process: subprocess.Popen, sig: int) -> None:
        try:
            os.killpg(process.pid, sig)  # its own session: the group is exactly what it forked
        except ProcessLookupError:
            pass

    def logs(self) -> str:
        return "\n".join(f"== {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in self.root.glob("*.log"))

    def _cli(self, *args: str, timeout: float = RESULT_TIMEOUT_S) -> tuple[float, str]:
        """Its CLI (in a session of its own: it forks a spinner), wall seconds and output."""
        start = time.monotonic()
        process = subprocess.Popen([str(self.executable), *self._global(), *args], stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, env=self.env, cwd=self.root,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            output, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._signal_group(process, signal.SIGKILL)
            process.communicate()
            raise RunHung(f"`{args[0]}` did not finish in {timeout:.0f} s") from None
        wall = time.monotonic() - start
        if process.returncode != 0:
            raise RuntimeError(f"{self.name} {' '.join(args)} exited {process.returncode}: {output[-800:]}")
        return wall, output

    # -- workloads -------------------------------------------------------------
    def run(self, workload: Workload) -> float:
        """``orchestrate FILE --wait`` (its CLI polls each job in turn); wall seconds of the command."""
        path = self.root / f"{workload.key}.yaml"
        path.write_text(yaml.safe_dump(workload.orchestrations))
        wall, output = self._cli("orchestrate", str(path), "--wait", timeout=RUN_TIMEOUT_S)
        # A failed job exits 1; these are its other not-a-success outcomes (the spinner
        # thread can garble a success line, so successes are not counted).
        trouble = [word for word in ("Job Degrated", "Job Skipped", "unknown state") if word in output]
        if trouble:
            raise RuntimeError(f"{self.name} {workload.label}: {trouble[0]} in its output")
        return wall

    def exec_roundtrip(self) -> float:
        return self._cli("exec", "--verb", "RUN", EXEC_TEXT, "--wait")[0]

    def fanout_job(self) -> tuple[float, list[float]]:
        """One RUN job to every node (``exec --poll``) and each node's recorded round trip."""
        wall, output = self._cli("exec", "--verb", "RUN", RUN_TEXT, "--poll")
        job_ids = _JOB_ID.findall(output)
        if not job_ids:
            raise RuntimeError(f"{self.name} fanout: no success line in {output[-400:]!r}")
        (_, record), = self._manage("job_info", job_ids[0])
        return wall, [float(v) for v in record["_roundtripltime"].values()]
