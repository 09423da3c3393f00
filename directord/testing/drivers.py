"""DriverContract: the behaviour every messaging driver must have, and the kits of the built-in drivers."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import zmq
import zmq.asyncio

from directord import config, plugins
from directord.drivers import ClientTransport, ServerTransport
from directord.exceptions import DirectordError
from directord.testing.processes import free_port

DEADLINE_S = 10.0  # the longest any contract step may take
LEASE_S = 1.0  # how long a lease lasts unless renewed
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


class RedisKit(DriverKit):
    """A key prefix of its own on the redis-server at ``base`` (``redis://host:port``); entries
    a node never writes, keys of the wrong type, and bad announcements."""

    def __init__(self, name: str, base: str):
        super().__init__(name)
        self.base = base

    def settings(self) -> dict[str, Any]:
        return {"driver_url": f"{self.base}/0?prefix=contract-{uuid.uuid4().hex[:12]}"}

    async def send_garbage(self, settings: config.Config) -> None:
        import redis.asyncio

        from directord.drivers.redis.link import link

        keys = link(settings).keys
        raw = redis.asyncio.Redis.from_url(f"{self.base}/0")
        await raw.set(keys.up("wrongtype"), b"not a stream")
        for node in (b"", b"\xff\xfe", b"wrongtype", b"rogue"):
            await raw.xadd(keys.hello, {"n": node})
        await raw.xadd(keys.hello, {"junk": b"no name"})
        await raw.xadd(keys.up("rogue"), {"b": b"no frame"})
        await raw.xadd(keys.up("rogue"), {"x": os.urandom(64)})
        await raw.xadd(keys.up("rogue"), {"f": CANARY})
        await raw.xadd(keys.up("rogue"), {"b": b"conn/0", "f": CANARY})
        await raw.aclose()


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
        self.ids: dict[ServerTransport, str] = {}

    async def server(self, lead: bool = True) -> ServerTransport:
        """A started server half; ``lead``: wait until it is the active one."""
        server = self.driver.server_transport(self.settings)
        await server.start()
        self.opened.append(server)
        self.ids[server] = f"server-{len(self.ids) + 1}"
        if lead:
            deadline = time.monotonic() + DEADLINE_S
            while not await server.lead(self.ids[server], LEASE_S):
                assert time.monotonic() < deadline, "a server never got the lease"
                await asyncio.sleep(0.05)
        return server

    async def stop(self, server: ServerTransport) -> None:
        """A clean stop: the lease is given up, then the address released."""
        await server.resign(self.ids[server])
        server.close()

    async def client(self, identity: str) -> ClientTransport:
        client = self.driver.client_transport(self.settings, identity)
        await client.connect()
        self.opened.append(client)
        return client

    def close(self) -> None:
        for transport in reversed(self.opened):
            transport.close()


async def hello(server: ServerTransport, client: ClientTransport, frame: bytes = b"hello") -> None:
    """Client -> server until one arrives (a restarted server may miss the first; other frames
    still in flight are skipped), then server -> client."""
    deadline = time.monotonic() + DEADLINE_S
    client.send(frame)
    while True:
        try:
            identity, got = await asyncio.wait_for(server.recv(), 0.2)
        except asyncio.TimeoutError:
            assert time.monotonic() < deadline, f"the server never heard from {client.identity}"
            client.send(frame)
            continue
        if got == frame:
            assert identity == client.identity
            break
    assert server.send(client.identity, b"re: " + frame)
    assert await _within(client.recv(), "the server's answer") == b"re: " + frame


async def _next_but(server: ServerTransport, stale: bytes) -> tuple[str, bytes]:
    """The next frame that is not a late copy of ``stale`` (an at-least-once driver may repeat it)."""
    while True:
        identity, frame = await server.recv()
        if frame != stale:
            return identity, frame


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

    def test_batches_hold_what_waits_in_order_and_within_the_limit(self, driver_name: str) -> None:
        count, limit = 500, 64

        async def scenario(rig: Rig) -> None:
            server = await rig.server()
            clients = [await rig.client(name) for name in ("n1", "n2")]
            for n in range(count):
                for client in clients:
                    assert client.send(n.to_bytes(4, "big"))
            got: list[tuple[str, bytes]] = []
            while len(got) < 2 * count:
                batch = await _within(server.recv_batch(limit), f"a batch after {len(got)} frames")
                assert 1 <= len(batch) <= limit
                got.extend(batch)
            assert len(got) == 2 * count
            for client in clients:  # each node's frames arrive once each, in the order it sent them
                assert [f for who, f in got if who == client.identity] == [n.to_bytes(4, "big") for n in range(count)]
            assert server.send("n1", b"after the batches")  # the channel still works both ways
            assert await _within(clients[0].recv(), "the server's frame") == b"after the batches"
            clients[1].send(b"one more")
            assert await _within(server.recv(), "a frame after the batches") == ("n2", b"one more")

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
            await rig.stop(first)
            second = await rig.server()
            await hello(second, client, b"after a restart")  # reconnected by itself
            waiting = asyncio.create_task(client.recv())  # as a client's receive loop does
            await asyncio.sleep(0)  # let it start waiting on the old connection
            await client.reconnect()
            assert client.send(b"reconnected")
            assert await _within(_next_but(second, b"after a restart"), "a frame after reconnect()") \
                == ("n1", b"reconnected")
            assert second.send("n1", b"welcome back")
            assert await _within(waiting, "the frame for the recv() pending across reconnect()") == b"welcome back"
            await hello(second, client, b"after reconnect()")

        self._run(driver_name, scenario)

    def test_close_releases_the_address(self, driver_name: str) -> None:
        async def scenario(rig: Rig) -> None:
            first = await rig.server()
            if first.shared:
                standby = await rig.server(lead=False)
                assert not await standby.lead("standby", LEASE_S)  # the first one holds the lease
                assert await standby.leader() == rig.ids[first]
            else:
                try:
                    await rig.server()
                except DirectordError:
                    pass
                else:
                    raise AssertionError("a second server started on an address in use")
            client = await rig.client("n1")  # a node still connected while the server closes
            await rig.stop(first)
            again = await rig.server()
            await hello(again, client)

        self._run(driver_name, scenario)

    def test_a_standby_takes_over_what_a_dead_server_left(self, driver_name: str) -> None:
        """Shared drivers: when the active server dies without a word, a standby gets the
        lease once it runs out, and with it the frames the dead one took but never finished."""
        async def scenario(rig: Rig) -> None:
            active = await rig.server()
            if not active.shared:
                return
            standby = await rig.server(lead=False)
            client = await rig.client("n1")
            await hello(active, client, b"first")
            client.send(b"taken, never finished")
            assert await _within(active.recv(), "the frame the server dies with") == ("n1", b"taken, never finished")
            active.close()  # killed: no resign, the lease stays until it runs out
            started = time.monotonic()
            while not await standby.lead("standby", LEASE_S):
                assert time.monotonic() - started < LEASE_S * 3, "the standby never took over"
                await asyncio.sleep(0.05)
            assert await _within(_next_but(standby, b"first"), "the unfinished frame") \
                == ("n1", b"taken, never finished")
            await hello(standby, client, b"after the takeover")

        self._run(driver_name, scenario)

    def test_a_standby_forwards_requests_to_the_active_server(self, driver_name: str) -> None:
        async def scenario(rig: Rig) -> None:
            active = await rig.server()
            if not active.shared:
                try:
                    await active.forward(b"anyone?", 0.2)
                except ConnectionError:
                    return
                raise AssertionError("an exclusive driver forwarded a request")
            standby = await rig.server(lead=False)

            async def answer() -> None:
                while True:
                    peer, request = await active.forwarded_recv()
                    active.forwarded_reply(peer, b"answer to " + request)

            answering = asyncio.create_task(answer())
            try:
                answers = await _within(asyncio.gather(*(standby.forward(f"q{n}".encode(), DEADLINE_S)
                                                         for n in range(20))), "the forwarded answers")
            finally:
                answering.cancel()
            assert answers == [f"answer to q{n}".encode() for n in range(20)]  # each to its own request
            started = time.monotonic()
            try:  # nobody answers now
                await standby.forward(b"lost", 0.3)
            except TimeoutError:
                assert time.monotonic() - started < DEADLINE_S
            else:
                raise AssertionError("a request nobody answered returned")

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
