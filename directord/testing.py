"""Test support for directord and its plugins.

* ``Cluster``: one server and N clients as subprocesses on free ports (used by
  ``make demo``, the benchmark harness and the end-to-end tests). Every path
  (socket, caches, logs) lives under one directory; nothing is shared with a
  system-wide install. ``daemon``, ``redis_server``, ``wait_for``,
  ``free_port`` and ``reap`` are its process helpers.
* ``DriverContract``: the behaviour every messaging driver must have, as a
  pytest base class (see its docstring).
* ``ComponentContract``: the behaviour every verb must have, as a pytest base
  class (see the section at the end).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import zmq
import zmq.asyncio

from directord import components, config, orchestration, plugins
from directord.cache import Cache
from directord.components import lib
from directord.components.lib import ComponentResult
from directord.components.services import NodeServices, ServiceError
from directord.drivers import ClientTransport, ServerTransport
from directord.exceptions import ComponentError, DirectordError, ExecHelp
from directord.fingerprint import file_sha3_224
from directord.models import Control, JobRecord

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
def redis_server(directory: Path) -> Iterator[str]:
    """A throwaway redis-server on a free 127.0.0.1 port; yields ``redis://127.0.0.1:PORT``."""
    port = free_port()

    def answering() -> bool:
        with socket.socket() as probe:
            probe.settimeout(1)
            try:
                probe.connect(("127.0.0.1", port))
                probe.sendall(b"PING\r\n")
                return probe.recv(16).startswith(b"+PONG")
            except OSError:
                return False

    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory),
            "--save", "", "--appendonly", "no", "--daemonize", "no"]
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


class Cluster:
    """Server + clients on free ports with private socket, cache and log paths."""

    def __init__(self, root: Path, clients: int = 3, heartbeat: float = 1.0,
                 datastore: str = "memory", env: dict[str, str] | None = None, extra: tuple[str, ...] = ()):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.extra = list(extra)  # more global options for every process (e.g. auth)
        self.heartbeat = heartbeat
        self.datastore = datastore
        self.job_port, self.backend_port = free_port(), free_port()
        self.socket = str(root / "directord.sock")
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.env.pop("DIRECTORD_CONFIG_FILE", None)
        self.server: subprocess.Popen | None = None
        self.clients: dict[str, subprocess.Popen] = {}
        self.names = [f"node{i}" for i in range(1, clients + 1)]

    # -- processes -----------------------------------------------------------
    @property
    def components(self) -> Path:
        """The server host's --components-path (clients each have their own, empty one)."""
        return self.root / "components"

    def global_args(self, identity: str | None = None) -> list[str]:
        components = self.root / identity / "components-local" if identity else self.components
        args = ["--config-file", str(self.root / "absent.yaml"), "--socket-path", self.socket,
                "--job-port", str(self.job_port), "--backend-port", str(self.backend_port),
                "--heartbeat-interval", str(self.heartbeat), "--datastore", self.datastore,
                "--components-path", str(components)]
        if identity:
            args += ["--identity", identity, "--cache-path", str(self.root / identity)]
        return args + self.extra

    def _spawn(self, name: str, args: list[str], prefix: tuple[str, ...] = ()) -> subprocess.Popen:
        """Start ``directord *args`` (``prefix``: a wrapper such as ``ip netns exec NS``)."""
        with open(self.root / f"{name}.log", "ab") as log:  # the child keeps its own copy
            return subprocess.Popen([*prefix, PYTHON, "-m", "directord", *args], stdout=log,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=self.env, cwd=self.root)

    def start_server(self, wait: bool = True, *extra: str) -> None:
        """Start the server (``extra``: more ``server`` options, e.g. ``--job-ttl 5``)."""
        if os.path.exists(self.socket):  # left by a killed server
            os.unlink(self.socket)
        self.server = self._spawn("server", [*self.global_args(), "server",
                                             "--zmq-bind-address", "127.0.0.1", *extra])
        if wait:
            wait_for(self._accepting, 15, what="the server socket")

    def _accepting(self) -> bool:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(self.socket)
            except OSError:
                return False
        return True

    def start_client(self, name: str) -> None:
        self.clients[name] = self._spawn(name, [*self.global_args(name), "client",
                                                "--zmq-server-address", "127.0.0.1"])

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
        for process in [*self.clients.values(), self.server]:
            self.signal(process, signal.SIGTERM)
        for process in [*self.clients.values(), self.server]:
            if process is not None:
                reap(process, 10)

    @contextlib.contextmanager
    def running(self) -> Iterator[Cluster]:
        """Start, yield, and always stop; the logs are printed when something failed."""
        try:
            yield self.start()
        except BaseException:
            print(self.logs())
            raise
        finally:
            self.stop()

    def logs(self) -> str:
        return "\n".join(f"== {p.name}\n{p.read_text(errors='replace')[-4000:]}" for p in self.root.glob("*.log"))

    # -- the CLI -------------------------------------------------------------
    def cli_argv(self, *args: str) -> list[str]:
        """The command line of ``directord <global options> *args`` for this cluster."""
        return [PYTHON, "-m", "directord", *self.global_args(), *args]

    def cli(self, *args: str, timeout: float = 60, cwd: Path | None = None) -> subprocess.CompletedProcess:
        """Run ``directord <global options> *args`` against this cluster."""
        return subprocess.run(self.cli_argv(*args), capture_output=True,
                              text=True, timeout=timeout, env=self.env, cwd=cwd or self.root, stdin=subprocess.DEVNULL)

    def job(self, job_id: str = "last") -> dict[str, Any]:
        result = self.cli("job", "show", job_id, "-f", "json")
        if result.returncode != 0:
            raise RuntimeError(result.stderr.strip())
        return json.loads(result.stdout)

    def write(self, name: str, text: str) -> Path:
        path = self.root / name
        path.write_text(text)
        return path


# -- the driver contract ---------------------------------------------------------
DEADLINE_S = 10.0  # the longest any contract step may take
CANARY = b"sent after the garbage"


class DriverKit:
    """What the contract must know of one driver: options for a private address, and junk."""

    def __init__(self, name: str):
        self.name = name

    def settings(self) -> dict[str, Any]:
        """Options that give one test an address no other test uses."""
        return {}

    async def send_garbage(self, settings: config.Config) -> None:
        """Hand the server half what no well-behaved client sends, then, over the same
        connections, ``CANARY`` as a frame from node ``rogue`` and as a backend request."""
        raise NotImplementedError(f"override DriverKit.send_garbage for the {self.name} driver")


class ZmqKit(DriverKit):
    """Free 127.0.0.1 ports; raw bytes that are no ZMTP, and messages of the wrong frame count."""

    def settings(self) -> dict[str, Any]:
        return {"job_port": free_port(), "backend_port": free_port(),
                "zmq_bind_address": "127.0.0.1", "zmq_server_address": "127.0.0.1"}

    async def send_garbage(self, settings: config.Config) -> None:
        for port in (settings.job_port, settings.backend_port):
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"\xff" * 10 + os.urandom(4096))
            await writer.drain()
            writer.close()
            await writer.wait_closed()
        context = zmq.asyncio.Context.instance()
        for port, identity in ((settings.job_port, b"rogue"), (settings.backend_port, b"rogue-backend")):
            sock = context.socket(zmq.DEALER)
            sock.setsockopt(zmq.IDENTITY, identity)
            sock.connect(f"tcp://127.0.0.1:{port}")
            await sock.send_multipart([b"three", b"frames", b"here"])
            await sock.send(CANARY)
            sock.close(linger=int(DEADLINE_S * 1000))  # delivered even once closed


class MemoryKit(DriverKit):
    """A hub of its own; frames that are not bytes."""

    def settings(self) -> dict[str, Any]:
        return {"memory_hub": f"contract-{uuid.uuid4()}"}

    async def send_garbage(self, settings: config.Config) -> None:
        rogue = plugins.load_driver(self.name).client_transport(settings, "rogue")
        await rogue.connect()
        for junk in ("text", None, 42):
            assert rogue.send(junk)  # type: ignore[arg-type]  # the point: not bytes
        assert rogue.send(CANARY)
        with rogue.open_backend() as backend:
            for junk in ("text", CANARY):
                with contextlib.suppress(TimeoutError):  # nobody answers yet
                    await asyncio.to_thread(backend.request, junk, 0.01)  # type: ignore[arg-type]
        rogue.close()


KITS: dict[str, type[DriverKit]] = {"zmq": ZmqKit, "zeromq": ZmqKit, "memory": MemoryKit}


async def _within(awaitable: Awaitable[Any], what: str) -> Any:
    try:
        return await asyncio.wait_for(awaitable, DEADLINE_S)
    except asyncio.TimeoutError:
        raise AssertionError(f"timed out after {DEADLINE_S}s waiting for {what}") from None


class Rig:
    """One test's driver, its settings, and every transport it opened (closed by ``close``)."""

    def __init__(self, driver_name: str, kit: DriverKit):
        self.driver = plugins.load_driver(driver_name)
        self.settings = config.defaults(driver=driver_name, heartbeat_interval=1.0, **kit.settings())
        self.opened: list[ServerTransport | ClientTransport] = []

    async def server(self) -> ServerTransport:
        server = self.driver.server_transport(self.settings)
        await server.start()
        self.opened.append(server)
        return server

    async def client(self, identity: str) -> ClientTransport:
        client = self.driver.client_transport(self.settings, identity)
        await client.connect()
        self.opened.append(client)
        return client

    def close(self) -> None:
        for transport in reversed(self.opened):
            transport.close()


async def hello(server: ServerTransport, client: ClientTransport, frame: bytes = b"hello") -> None:
    """Client -> server until one arrives (a restarted server may miss the first), then server -> client."""
    deadline = time.monotonic() + DEADLINE_S
    while True:
        client.send(frame)
        try:
            identity, got = await asyncio.wait_for(server.recv(), 0.2)
        except asyncio.TimeoutError:
            assert time.monotonic() < deadline, f"the server never heard from {client.identity}"
            continue
        if got == frame:
            assert identity == client.identity
            break
    assert server.send(client.identity, b"re: " + frame)
    assert await _within(client.recv(), "the server's answer") == b"re: " + frame


async def echo_backend(server: ServerTransport, peers: list[str] | None = None) -> None:
    """Answer every backend request with ``re: <request>`` (until cancelled)."""
    while True:
        peer, frame = await server.backend_recv()
        if peers is not None:
            peers.append(peer)
        server.backend_reply(peer, b"re: " + frame)


def _requests(client: ClientTransport, tag: str, count: int) -> list[tuple[bytes, bytes]]:
    """``count`` requests on one backend connection: (expected, got) pairs."""
    with client.open_backend() as backend:
        return [(f"re: {tag}-{n}".encode(), backend.request(f"{tag}-{n}".encode(), DEADLINE_S))
                for n in range(count)]


class DriverContract:
    """The behaviour every driver must have, for pytest.

    Subclass it in a test module and give it a ``driver_name`` fixture::

        class TestMyDriver(DriverContract):
            @pytest.fixture(params=["mine"])
            def driver_name(self, request):
                return request.param

            def kit(self, driver_name):
                return MyKit(driver_name)  # a DriverKit: private addresses, junk to send

    Each test starts real transports in one event loop and bounds every wait.
    """

    def kit(self, driver_name: str) -> DriverKit:
        """The ``DriverKit`` of ``driver_name``; override it for a driver of your own."""
        return KITS.get(driver_name, DriverKit)(driver_name)

    def _run(self, driver_name: str, scenario: Callable[[Rig], Awaitable[None]]) -> None:
        async def main() -> None:
            rig = Rig(driver_name, self.kit(driver_name))
            try:
                await scenario(rig)
            finally:
                rig.close()

        asyncio.run(main())

    def test_frames_flow_both_ways_with_the_sender_identity(self, driver_name: str) -> None:
        async def scenario(rig: Rig) -> None:
            server = await rig.server()
            clients = [await rig.client(name) for name in ("n1", "n2", "n3")]
            for client in clients:
                assert client.send(f"from {client.identity}".encode())
            received = dict([await _within(server.recv(), "a node's frame") for _ in clients])
            assert received == {c.identity: f"from {c.identity}".encode() for c in clients}
            for client in clients:
                assert server.send(client.identity, f"to {client.identity}".encode())
            for client in clients:  # each gets its own frame, and only that
                assert await _within(client.recv(), "the server's frame") == f"to {client.identity}".encode()

        self._run(driver_name, scenario)

    def test_many_frames_keep_their_order(self, driver_name: str) -> None:
        count = 2000

        async def scenario(rig: Rig) -> None:
            server, client = await rig.server(), await rig.client("n1")
            assert all(client.send(n.to_bytes(4, "big")) for n in range(count))
            got = [await _within(server.recv(), f"frame {n}") for n in range(count)]
            assert got == [("n1", n.to_bytes(4, "big")) for n in range(count)]
            assert all(server.send("n1", n.to_bytes(4, "big")) for n in range(count))
            back = [await _within(client.recv(), f"frame {n}") for n in range(count)]
            assert back == [n.to_bytes(4, "big") for n in range(count)]

        self._run(driver_name, scenario)

    def test_send_to_an_unknown_node_fails_without_blocking(self, driver_name: str) -> None:
        async def scenario(rig: Rig) -> None:
            server = await rig.server()
            await hello(server, await rig.client("n1"))
            started = time.monotonic()
            assert server.send("nobody", b"lost") is False
            assert time.monotonic() - started < 1.0
            assert server.send("n1", b"still there")  # the failure cost nobody else

        self._run(driver_name, scenario)

    def test_backend_requests_from_threads(self, driver_name: str) -> None:
        threads, each = 8, 25

        async def scenario(rig: Rig) -> None:
            server, client = await rig.server(), await rig.client("n1")
            peers: list[str] = []
            answering = asyncio.create_task(echo_backend(server, peers))
            try:
                results = await _within(asyncio.gather(*(
                    asyncio.to_thread(_requests, client, f"t{t}", each) for t in range(threads))), "the replies")
            finally:
                answering.cancel()
            pairs = [pair for result in results for pair in result]
            assert len(pairs) == threads * each
            assert all(expected == got for expected, got in pairs)  # every reply reached its own request
            assert len(set(peers)) >= threads  # connections are told apart

        self._run(driver_name, scenario)

    def test_a_backend_request_nobody_answers_times_out(self, driver_name: str) -> None:
        async def scenario(rig: Rig) -> None:
            client = await rig.client("n1")
            await rig.server()  # started, but nothing serves its backend
            with client.open_backend() as backend:
                started = time.monotonic()
                try:
                    await asyncio.to_thread(backend.request, b"anyone?", 0.3)
                except TimeoutError:
                    pass
                else:
                    raise AssertionError("a request nobody answered returned")
                assert 0.25 <= time.monotonic() - started < DEADLINE_S

        self._run(driver_name, scenario)

    def test_clients_come_back_after_the_server_restarts(self, driver_name: str) -> None:
        async def scenario(rig: Rig) -> None:
            first, client = await rig.server(), await rig.client("n1")
            await hello(first, client, b"before")
            first.close()
            second = await rig.server()
            await hello(second, client, b"after a restart")  # reconnected by itself
            waiting = asyncio.create_task(client.recv())  # as a client's receive loop does
            await asyncio.sleep(0)  # let it start waiting on the old connection
            await client.reconnect()
            assert client.send(b"reconnected")
            assert await _within(second.recv(), "a frame after reconnect()") == ("n1", b"reconnected")
            assert second.send("n1", b"welcome back")
            assert await _within(waiting, "the frame for the recv() pending across reconnect()") == b"welcome back"
            await hello(second, client, b"after reconnect()")

        self._run(driver_name, scenario)

    def test_close_releases_the_address(self, driver_name: str) -> None:
        async def scenario(rig: Rig) -> None:
            first = await rig.server()
            try:
                await rig.server()
            except DirectordError:
                pass
            else:
                raise AssertionError("a second server started on an address in use")
            client = await rig.client("n1")  # a node still connected while the server closes
            first.close()
            again = await rig.server()
            await hello(again, client)

        self._run(driver_name, scenario)

    def test_large_frames(self, driver_name: str) -> None:
        big = os.urandom(4 * 1024 * 1024)

        async def scenario(rig: Rig) -> None:
            server, client = await rig.server(), await rig.client("n1")
            assert client.send(big)
            assert await _within(server.recv(), "4 MiB from the node") == ("n1", big)
            assert server.send("n1", big)
            assert await _within(client.recv(), "4 MiB from the server") == big
            answering = asyncio.create_task(echo_backend(server))
            try:
                with client.open_backend() as backend:
                    assert await asyncio.to_thread(backend.request, big, DEADLINE_S) == b"re: " + big
            finally:
                answering.cancel()

        self._run(driver_name, scenario)

    def test_garbage_does_not_crash_the_server(self, driver_name: str) -> None:
        async def scenario(rig: Rig) -> None:
            server = await rig.server()
            await self.kit(driver_name).send_garbage(rig.settings)
            assert await _within(server.recv(), "the canary frame") == ("rogue", CANARY)  # the junk was dropped
            _peer, request = await _within(server.backend_recv(), "the canary request")
            assert request == CANARY
            client = await rig.client("n1")
            await hello(server, client)
            answering = asyncio.create_task(echo_backend(server))
            try:
                assert await asyncio.to_thread(_requests, client, "after", 1) == [(b"re: after-0", b"re: after-0")]
            finally:
                answering.cancel()

        self._run(driver_name, scenario)


# -- component contract suite ---------------------------------------------------
# A verb's contract, checked for any component, built-in or third-party:
#
#     from directord.testing import ComponentContract
#
#     class TestEchoContract(ComponentContract):
#         verbs = ("ECHO",)
#         examples = {"ECHO": ("hello world",)}  # only for a class without ``examples``
#
# Every check runs once per verb. The examples (the class's ``examples`` unless
# given here) must all build; the first one also runs ``client()`` on a sandboxed
# node: a real Cache in a scratch directory that is the working directory while
# jobs are built and holds ``example.txt`` and ``example.yaml``. The node's args
# hold ``workspace`` (that directory, the only place file verbs may touch) and
# ``node_args``; files are fetched from the local disk, and every node asked
# about has finished the job it is asked about.

NODE = "contract-node"
OUTCOMES = (True, False, None, "skipped")
BAD_TEXTS = ("--no-such-option", "--timeout soon")
EXAMPLE_TEXT = "Hello from {{ workspace }}\n"
EXAMPLE_YAML = "example:\n  answer: 42\n"


class LocalServices(NodeServices):
    """Node services without a server: files come from the local disk (only those the job
    names, as the server allows), and every node asked about finished the job."""

    def fetch(self, source: str, destination: str) -> tuple[str, str]:
        if source not in (self.job.get("from") or []):
            raise ServiceError(f"transfer of [ {source} ] is not allowed for this job")
        directory = os.path.dirname(os.path.abspath(destination))
        os.makedirs(directory, exist_ok=True)
        handle, temp = tempfile.mkstemp(prefix=".directord-", dir=directory)
        with os.fdopen(handle, "wb") as out, open(source, "rb") as data:
            shutil.copyfileobj(data, out)
        return temp, file_sha3_224(temp)

    def job_states(self, sha: str, identities: list[str]) -> dict[str, str]:
        return dict.fromkeys(identities, Control.JOB_END.value)


@contextlib.contextmanager
def _working_directory(path: str) -> Iterator[None]:
    previous = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


@contextlib.contextmanager
def _sandbox() -> Iterator[str]:
    """A scratch directory holding the example files, the working directory meanwhile."""
    with tempfile.TemporaryDirectory(prefix="directord-contract-") as root:
        workspace = os.path.realpath(root)
        with open(os.path.join(workspace, "example.txt"), "w", encoding="utf-8") as handle:
            handle.write(EXAMPLE_TEXT)
        with open(os.path.join(workspace, "example.yaml"), "w", encoding="utf-8") as handle:
            handle.write(EXAMPLE_YAML)
        with _working_directory(workspace):
            yield workspace


def _stub(directory: str, command: str, stdout: str) -> str:
    """An executable ``command`` in ``directory`` that logs its arguments and prints ``stdout``."""
    log = os.path.join(directory, f"{command}.calls")
    path = os.path.join(directory, command)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(f"#!/bin/sh\necho \"$*\" >> {shlex.quote(log)}\nprintf '%s' {shlex.quote(stdout)}\n")
    os.chmod(path, 0o700)
    return log


def _one_line(verb: str, text: str, exc: BaseException) -> str:
    return f"{verb} {text!r} raised {type(exc).__name__}: {exc!r}"


class ComponentContract:
    """The component contract suite; subclass it in a test module as ``Test...``.

    ``verbs``: the verbs to check. ``examples``: good texts of verbs whose class has no
    ``examples``. ``bad_texts``: texts ``server()`` must refuse, beyond ``BAD_TEXTS``.
    ``node_args``: more args on the sandboxed node. ``stubs``: commands a verb's
    ``client()`` runs, replaced on the node's PATH by stubs printing the given
    output (each must be called). ``client_not_run``: verbs whose ``client()`` is
    not run, with the reason (reported as a skip). ``client_fails``: verbs whose
    first example may end with outcome False in the sandbox (default: it must succeed).
    """

    verbs: tuple[str, ...] = ()
    examples: Mapping[str, tuple[str, ...]] = {}
    bad_texts: Mapping[str, tuple[str, ...]] = {}
    node_args: Mapping[str, Any] = {}
    stubs: Mapping[str, Mapping[str, str]] = {}
    client_not_run: Mapping[str, str] = {}
    client_fails: tuple[str, ...] = ()

    def pytest_generate_tests(self, metafunc: Any) -> None:
        if "verb" in metafunc.fixturenames:
            metafunc.parametrize("verb", self.verbs)

    def examples_of(self, verb: str) -> tuple[str, ...]:
        examples = self.examples.get(verb) or components.hooks_for(verb).component.examples
        assert examples, f"{verb}: no examples (give its class `examples`, or `examples` here)"
        return tuple(examples)

    # -- loading and hooks -----------------------------------------------------
    def test_loads_by_name(self, verb: str) -> None:
        hooks = components.hooks_for(verb)
        assert components.hooks_for(verb.lower()) is hooks and components.hooks_for(verb.upper()) is hooks
        assert issubclass(hooks.component, components.ComponentBase)
        component = hooks.component()
        assert isinstance(component.cacheable, bool) and isinstance(component.requires_lock, bool)
        assert component.lock_name is None or (isinstance(component.lock_name, str) and component.lock_name)
        assert component.block_on_tasks is None or isinstance(component.block_on_tasks, list)

    def test_hooks_have_the_default_types(self, verb: str) -> None:
        hooks = components.hooks_for(verb)
        assert isinstance(hooks.queue_sentinel, bool) and isinstance(hooks.coordinates, bool)
        assert hooks.coordinates == (hooks.coordinate is not components.ComponentBase.coordinate)
        with _sandbox():
            job = orchestration.build_job(verb, self.examples_of(verb)[0])
        live = [NODE, "other-node"]
        planned = hooks.plan(dict(job), [NODE], live)
        assert isinstance(planned, list) and set(planned) <= set(live), f"plan() returned {planned!r}"
        held = hooks.hold_seconds(job)
        assert isinstance(held, int | float) and not isinstance(held, bool) and held >= 0, held
        follow_up = hooks.coordinate(JobRecord("contract-job", dict(job), [NODE]))
        assert follow_up is None or (isinstance(follow_up, list) and all(isinstance(j, dict) for j in follow_up))

    # -- submitting side ---------------------------------------------------------
    def test_exec_help_shows_the_parsing_rule(self, verb: str) -> None:
        component = components.hooks_for(verb).component()
        component.verb = verb
        component.args()
        assert isinstance(component.parser, argparse.ArgumentParser)
        try:
            orchestration.build_job(verb, "--exec-help")
        except ExecHelp as exc:
            text = str(exc)
        else:
            raise AssertionError(f"{verb} --exec-help did not raise ExecHelp")
        assert text.startswith(f"usage: {verb.upper()}"), text[:80]
        rule = components.collapse(component.parsing_rule(component.parser))
        assert rule in components.collapse(text), f"{verb} --exec-help lacks its parsing rule {rule!r}"
        for example in component.examples:
            assert f"{verb.upper()} {example}".rstrip() in text, f"{verb} --exec-help lacks the example {example!r}"

    def test_examples_build_serialisable_deterministic_jobs(self, verb: str) -> None:
        with _sandbox():
            for text in self.examples_of(verb):
                component = components.hooks_for(verb).component()
                component.verb = verb
                data = {"verb": verb}
                assert component.server(exec_array=[text], data=data, arg_vars={}) is data, \
                    f"{verb} {text!r}: server() must return the dict it was given"
                try:
                    first, second = orchestration.build_job(verb, text), orchestration.build_job(verb, text)
                except Exception as exc:  # e.g. a value the fingerprint cannot serialise
                    raise AssertionError(_one_line(verb, text, exc)) from None
                assert json.loads(json.dumps(first)) == first, f"{verb} {text!r}: not JSON-serialisable"
                assert first == second, f"{verb} {text!r}: two builds differ"
                assert len(first["job_sha3_224"]) == 56

    def test_bad_text_is_one_line_component_error(self, verb: str) -> None:
        for text in (*BAD_TEXTS, *self.bad_texts.get(verb, ())):
            component = components.hooks_for(verb).component()
            component.verb = verb
            try:
                component.server(exec_array=[text], data={"verb": verb}, arg_vars={})
            except ComponentError as exc:
                message = str(exc)
                assert message and "\n" not in message, f"{verb} {text!r}: not one line: {message!r}"
            except BaseException as exc:  # SystemExit and tracebacks are what this check catches
                raise AssertionError(_one_line(verb, text, exc)) from None
            else:
                raise AssertionError(f"{verb} {text!r} was accepted")

    # -- node side -------------------------------------------------------------------
    def test_client_returns_a_result(self, verb: str) -> None:
        if verb in self.client_not_run:
            raise unittest.SkipTest(f"{verb}: client() not run: {self.client_not_run[verb]}")
        with _sandbox() as workspace:
            text = self.examples_of(verb)[0]
            job = {**orchestration.build_job(verb, text), "job_id": "contract-job", "parent_id": "contract-parent"}
            bin_dir = os.path.join(workspace, ".bin")
            os.mkdir(bin_dir)
            logs = [_stub(bin_dir, command, out) for command, out in self.stubs.get(verb, {}).items()]
            cache = Cache(os.path.join(workspace, ".cache", "cache.sqlite"))
            try:
                cache.set("args", {"workspace": workspace, **self.node_args}, tag="args")
                cache.set("envs", {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}, tag="envs")
                result = self._client(verb, text, job, cache, workspace)
            finally:
                cache.close()
            for log in logs:
                assert os.path.exists(log), f"{verb} {text!r}: client() never ran {os.path.basename(log)[:-6]}"
        assert result.outcome in OUTCOMES, f"{verb} {text!r}: outcome {result.outcome!r}"
        for name in ("stdout", "stderr"):
            value = getattr(result, name)
            assert value is None or isinstance(value, str | bytes), f"{verb} {text!r}: {name} is {value!r}"
        if verb not in self.client_fails:
            assert result.outcome is True, f"{verb} {text!r} failed in the sandbox: {result!r}"

    @staticmethod
    def _client(verb: str, text: str, job: dict[str, Any], cache: Cache, workspace: str) -> ComponentResult:
        """``client()`` under a job context, file verbs confined to ``workspace``."""
        component = components.hooks_for(verb).component()
        context = lib.JobContext(job)
        services = LocalServices(NODE, job, context=context)
        component.attach(services)
        lib.configure_paths([workspace])
        try:
            with context:
                returned = component.client(cache=cache, job=job)
        except BaseException as exc:
            raise AssertionError(_one_line(verb, text, exc)) from None
        finally:
            lib.configure_paths([])
            services.close()
        try:
            return ComponentResult.of(returned)
        except TypeError as exc:
            raise AssertionError(f"{verb} {text!r}: {exc}") from None
