"""Cluster: one server and N clients as subprocesses on free ports, everything under one directory."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import ssl
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from directord.testing.processes import PYTHON, free_port, reap, wait_for


class Cluster:
    """Server + clients on free ports with private socket, cache and log paths."""

    def __init__(self, root: Path, clients: int = 3, heartbeat: float = 1.0,
                 datastore: str = "memory", env: dict[str, str] | None = None, extra: tuple[str, ...] = (),
                 driver: str = "zmq", driver_url: str = ""):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.extra = list(extra)  # more global options for every process (e.g. auth)
        self.heartbeat = heartbeat
        self.datastore = datastore
        self.driver, self.driver_url = driver, driver_url  # e.g. "redis", "redis://127.0.0.1:PORT/0?prefix=x"
        self.node_driver_urls: dict[str, str] = {}  # identity -> its own --driver-url (per-node credentials)
        self.job_port, self.backend_port = free_port(), free_port()
        self.socket = str(root / "directord.sock")
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.env.pop("DIRECTORD_CONFIG_FILE", None)
        self.server: subprocess.Popen | None = None
        self.servers: dict[str, subprocess.Popen] = {}  # name -> process; "server" is ``self.server``
        self.clients: dict[str, subprocess.Popen] = {}
        self.names = [f"node{i}" for i in range(1, clients + 1)]

    # -- processes -----------------------------------------------------------
    @property
    def components(self) -> Path:
        """The server host's --components-path (clients each have their own, empty one)."""
        return self.root / "components"

    def socket_of(self, server: str = "server") -> str:
        """The user socket of server ``server`` (each one as if on a host of its own)."""
        return self.socket if server == "server" else str(self.root / f"{server}.sock")

    def global_args(self, identity: str | None = None, server: str = "server") -> list[str]:
        components = self.root / identity / "components-local" if identity else self.components
        args = ["--config-file", str(self.root / "absent.yaml"), "--socket-path", self.socket_of(server),
                "--job-port", str(self.job_port), "--backend-port", str(self.backend_port),
                "--heartbeat-interval", str(self.heartbeat), "--datastore", self.datastore,
                "--components-path", str(components), "--driver", self.driver]
        driver_url = self.node_driver_urls.get(identity or "", self.driver_url)
        if driver_url:
            args += ["--driver-url", driver_url]
        if identity:
            args += ["--identity", identity, "--cache-path", str(self.root / identity)]
        return args + self.extra

    def _spawn(self, name: str, args: list[str], prefix: tuple[str, ...] = ()) -> subprocess.Popen:
        """Start ``directord *args`` (``prefix``: a wrapper such as ``ip netns exec NS``)."""
        with open(self.root / f"{name}.log", "ab") as log:  # the child keeps its own copy
            return subprocess.Popen([*prefix, PYTHON, "-m", "directord", *args], stdout=log,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=self.env, cwd=self.root)

    def start_server(self, wait: bool = True, *extra: str, name: str = "server") -> None:
        """Start a server (``extra``: more ``server`` options, e.g. ``--job-ttl 5``); another
        ``name`` is one more server of the same control plane (shared drivers), with its own socket."""
        socket_path = self.socket_of(name)
        if os.path.exists(socket_path):  # left by a killed server
            os.unlink(socket_path)
        process = self._spawn(name, [*self.global_args(server=name), "server",
                                     "--zmq-bind-address", "127.0.0.1", *extra])
        self.servers[name] = process
        if name == "server":
            self.server = process
        if wait:
            wait_for(lambda: self._accepting(socket_path), 15, what=f"the socket of {name}")

    def _accepting(self, path: str) -> bool:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(path)
            except OSError:
                return False
        return True

    def start_client(self, name: str) -> None:
        self.clients[name] = self._spawn(name, [*self.global_args(name), "client",
                                                "--zmq-server-address", "127.0.0.1"])

    def start_dashboard(self, *args: str, server: str = "server", scheme: str = "http") -> tuple[subprocess.Popen, str]:
        """``directord dashboard *args`` beside ``server`` (on a free loopback port unless ``--bind`` is
        given), once it answers; the process and its base URL."""
        if "--bind" not in args:
            args = ("--bind", f"127.0.0.1:{free_port()}", *args)
        port = args[args.index("--bind") + 1].rsplit(":", 1)[1]
        process = self._spawn(f"dashboard-{port}", [*self.global_args(server=server), "dashboard", *args])
        url = f"{scheme}://127.0.0.1:{port}"
        wait_for(lambda: process.poll() is not None or _answers(url + "/login"), 20, what="the dashboard")
        if process.poll() is not None:
            raise RuntimeError(f"the dashboard exited: {(self.root / f'dashboard-{port}.log').read_text()[-2000:]}")
        return process, url

    def start(self) -> Cluster:
        self.start_server()
        for name in self.names:
            self.start_client(name)
        self.wait_nodes(set(self.names))
        return self

    def live_nodes(self) -> set[str]:
        result = self.cli("node", "list", "-f", "json", timeout=10)
        return {n["ID"] for n in json.loads(result.stdout)} if result.returncode == 0 else set()

    def wait_nodes(self, names: set[str], timeout: float = 20) -> None:
        wait_for(lambda: self.live_nodes() == names, timeout, interval=0.2, what=f"nodes {sorted(names)}")

    def signal(self, process: subprocess.Popen | None, sig: int) -> None:
        if process is not None and process.poll() is None:
            process.send_signal(sig)

    def stop(self) -> None:
        processes = [*self.clients.values(), *self.servers.values()]
        for process in processes:
            self.signal(process, signal.SIGTERM)
        for process in processes:
            reap(process, 10)

    @contextlib.contextmanager
    def supervised(self) -> Iterator[Cluster]:
        """Yield, then always stop what was started; the logs are printed when something failed."""
        try:
            yield self
        except BaseException:
            print(self.logs())
            raise
        finally:
            self.stop()

    @contextlib.contextmanager
    def running(self) -> Iterator[Cluster]:
        """Start, yield, and always stop (see ``supervised``)."""
        with self.supervised():
            yield self.start()

    def logs(self) -> str:
        return "\n".join(f"== {p.name}\n{p.read_text(errors='replace')[-4000:]}" for p in self.root.glob("*.log"))

    # -- the CLI -------------------------------------------------------------
    def cli_argv(self, *args: str, server: str = "server") -> list[str]:
        """The command line of ``directord <global options> *args`` on the host of ``server``."""
        return [PYTHON, "-m", "directord", *self.global_args(server=server), *args]

    def cli(self, *args: str, timeout: float = 60, cwd: Path | None = None,
            server: str = "server") -> subprocess.CompletedProcess:
        """Run ``directord <global options> *args`` against this cluster (through ``server``)."""
        return subprocess.run(self.cli_argv(*args, server=server), capture_output=True,
                              text=True, timeout=timeout, env=self.env, cwd=cwd or self.root, stdin=subprocess.DEVNULL)

    def job(self, job_id: str = "last", server: str = "server") -> dict[str, Any]:
        result = self.cli("job", "show", job_id, "-f", "json", server=server)
        if result.returncode != 0:
            raise RuntimeError(result.stderr.strip())
        return json.loads(result.stdout)

    def write(self, name: str, text: str) -> Path:
        path = self.root / name
        path.write_text(text)
        return path




def _answers(url: str) -> bool:
    unverified = ssl._create_unverified_context()  # noqa: S323 - only asks whether our own page answers
    try:
        urllib.request.urlopen(url, timeout=1, context=unverified).close()  # noqa: S310 - our loopback page
    except (urllib.error.URLError, OSError):
        return False
    return True
