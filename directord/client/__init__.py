"""The client: heartbeats, job receipt (ack + de-dup), result delivery, reconnects."""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import signal
import time
import uuid
from typing import Any

from directord import __version__, plugins, wire
from directord.cache import Cache
from directord.client.runner import Runner
from directord.components import lib
from directord.delivery import Delivery
from directord.drivers import ClientTransport
from directord.exceptions import RequestError
from directord.job import Job
from directord.models import FINAL_STATES, Control, Message

LOG = logging.getLogger(__name__)
SERVER = "server"
SEEN_LIMIT = 100_000
CACHE_SWEEP_SECONDS = 600.0
STOP_GRACE_S = 5.0  # a stopping client waits this long for the server to ack its last results,
STOP_SILENCE_S = 0.5  # or this long without a word from it (acks come within ~50 ms)
MACHINE_ID_FILES = ("/sys/class/dmi/id/product_uuid", "/run/machine-id", "/etc/machine-id",
                    "/var/lib/dbus/machine-id", "/proc/sys/kernel/random/boot_id")


def machine_id(configured: str, identity: str) -> str:
    """``--machine-id``, else the first readable system id, else the identity."""
    if configured:
        return configured
    for path in MACHINE_ID_FILES:
        try:
            with open(path, encoding="utf-8") as handle:
                value = handle.read().strip()
        except OSError:
            continue
        if value:
            return value
    return identity


def host_uptime() -> float:
    try:
        with open("/proc/uptime", encoding="utf-8") as handle:
            return float(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0


class Client:
    """One node. Jobs are acked on receipt, de-duplicated by id, results re-sent until acked."""

    def __init__(self, config: Any, transport: ClientTransport):
        self.config = config
        self.transport = transport
        self.identity = transport.identity
        self.interval = float(config.heartbeat_interval)
        self.session = str(uuid.uuid4())
        self.machine_id = machine_id(getattr(config, "machine_id", ""), self.identity)
        self.started = time.monotonic()
        cache_dir = os.path.join(config.cache_path, "client")
        args_ttl, jobs_ttl = float(config.cache_args_ttl), float(config.cache_jobs_ttl)
        self.cache = Cache(os.path.join(cache_dir, "cache.sqlite"), ttls={
            "args": args_ttl, "envs": args_ttl, "query": args_ttl, "jobs": jobs_ttl, "parents": jobs_ttl})
        self.delivery = Delivery(lambda _peer, frame: self.transport.send(frame))
        shipped = os.path.join(config.cache_path, "components")
        os.makedirs(shipped, exist_ok=True)
        plugins.configure_components([config.components_path], fallback=[shipped])
        lib.configure_paths(str(config.allowed_paths).split(","))
        self.runner = Runner(self.identity, self.cache, self._report, int(config.worker_threads), transport, shipped)
        self.seen: collections.OrderedDict[str, Message | None] = collections.OrderedDict()
        self.server_id: str | None = None
        self.server_seen = time.monotonic()
        self.dropped = wire.DropCounter(LOG)
        self._stop = asyncio.Event()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        await self.transport.connect()
        self._heartbeat()
        tasks = [asyncio.create_task(self._receive()), asyncio.create_task(self._housekeeping())]
        LOG.info("client %s connected (session %s)", self.identity, self.session)
        await self._stop.wait()
        await self._drain()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.transport.close()
        self.cache.close()
        LOG.info("client %s stopped", self.identity)

    def stop(self) -> None:
        self._stop.set()

    async def _drain(self) -> None:
        """Graceful stop: queued jobs go back to the server (sent again once this node is back),
        killed ones report as failed, and every result is acked, all within ``STOP_GRACE_S``."""
        returned = self.runner.stop()
        if returned:
            LOG.info("returning %d queued job(s) to the server", len(returned))
            self.delivery.flush()  # RETURN leaves in a frame of its own: a server that predates it drops only that
            self.delivery.queue(SERVER, Message(wire.new_id(), Control.RETURN.value, data=returned),
                                reliable=True)
            self.delivery.flush()
        start = time.monotonic()
        while time.monotonic() - start < STOP_GRACE_S:
            if not self.runner.idle():  # killed jobs are still reporting
                await asyncio.sleep(0.02)
                continue
            if not self.delivery.unacked_count(SERVER):
                return
            if time.monotonic() - max(self.server_seen, start) > STOP_SILENCE_S:
                unacked = self.delivery.unacked_count(SERVER)
                LOG.warning("the server did not answer; %d message(s) unacked", unacked)
                return
            await asyncio.sleep(0.02)

    # -- outgoing ------------------------------------------------------------
    def _heartbeat(self) -> None:
        self.delivery.queue(SERVER, Message(wire.new_id(), Control.HEARTBEAT.value, data={
            "session": self.session,
            "machine_id": self.machine_id,
            "version": __version__,
            "driver": self.transport.name,
            "host_uptime": host_uptime(),
            "agent_uptime": time.monotonic() - self.started,
        }))

    def _report(self, message: Message) -> None:
        """A job status; final ones are kept until the server acks them, and one carrying
        callbacks (``new_tasks``) until the job's final status takes its place."""
        final = message.control in FINAL_STATES
        if final:
            self._remember(message.msg_id, message)
        callbacks = isinstance(message.data, dict) and "new_tasks" in message.data
        self.delivery.queue(SERVER, message, reliable=final or callbacks)

    def _remember(self, job_id: str, message: Message | None) -> None:
        self.seen[job_id] = message
        self.seen.move_to_end(job_id)
        while len(self.seen) > SEEN_LIMIT:
            self.seen.popitem(last=False)

    # -- incoming ------------------------------------------------------------
    async def _receive(self) -> None:
        await wire.receive_loop(self._recv, self.dropped, self._batch)

    async def _recv(self) -> tuple[str, bytes]:
        return "server", await self.transport.recv()

    def _batch(self, _source: str, messages: list[Message]) -> None:
        self.server_seen = time.monotonic()
        received: list[str] = []
        for message in messages:
            try:
                self._handle(message, received)
            except Exception:  # a bad message must never stop the loop
                LOG.exception("failed to handle message %s", message.msg_id)
        if received:  # one ack for every job of the frame: "task queued"
            self.delivery.queue(SERVER, Message(wire.new_id(), Control.ACK.value, data=received))

    def _handle(self, message: Message, received: list[str]) -> None:
        if message.control == Control.JOB.value:
            self._job(message, received)
        elif message.control == Control.ACK.value and isinstance(message.data, list):
            for job_id in message.data:
                self.delivery.acked(SERVER, str(job_id))
        elif message.control == Control.HEARTBEAT.value and isinstance(message.data, dict):
            server_id = message.data.get("server_id")
            if self.server_id is not None and server_id != self.server_id:
                LOG.warning("server restarted; re-registering and re-sending results")
                self._heartbeat()
                self.delivery.resend(SERVER)
            self.server_id = server_id

    def _job(self, message: Message, received: list[str]) -> None:
        try:
            job = Job.from_dict(message.data, default_id=message.msg_id)
        except RequestError as exc:
            self.dropped.drop("server", f"malformed job {message.msg_id}: {exc}")
            return
        if self._stop.is_set():  # not acked: the server sends it again to this node's next session
            return
        job_id = job.job_id
        received.append(job_id)
        if job_id in self.seen:  # a re-send: never run twice, answer again
            done = self.seen[job_id]
            if done is not None:
                self.delivery.queue(SERVER, done, reliable=True)
            return
        self._remember(job_id, None)
        self.runner.submit(job)

    # -- housekeeping --------------------------------------------------------
    async def _housekeeping(self) -> None:
        tick = min(max(self.interval / 4, 0.05), 1.0)
        last_beat = time.monotonic()
        last_sweep = float("-inf")
        while True:
            await asyncio.sleep(tick)
            self.runner.check_timeouts()
            self.cache.flush()
            if time.monotonic() - last_sweep >= CACHE_SWEEP_SECONDS:  # drop entries past their TTL
                last_sweep = time.monotonic()
                self.cache.expire()
            now = time.monotonic()
            if now - last_beat >= self.interval:
                last_beat = now
                self._heartbeat()
                self.delivery.resend(SERVER, older_than=now - self.interval)
            if now - self.server_seen > self.interval * 3:
                LOG.warning("no word from the server for %.1fs; reconnecting", now - self.server_seen)
                self.server_seen = now
                await self.transport.reconnect()
                self._heartbeat()
                self.delivery.resend(SERVER)
