"""The server: one asyncio loop for node traffic, the user API and housekeeping.

Its parts, each owning its state: ``registry`` (nodes), ``jobs`` (records,
results, waiters), ``delivery`` (at-least-once sends), ``holds`` (nodes
away on purpose), ``dispatch`` (submission), ``callbacks`` (jobs that jobs
make), ``nodes`` (the node protocol), ``user_api`` (the socket's requests)
and ``backend`` (file transfers and job-state queries for nodes).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import socket
import time
import uuid
from typing import Any

from directord import wire
from directord.config import split_bind
from directord.datastores import Datastore
from directord.delivery import Delivery
from directord.drivers import ServerTransport
from directord.exceptions import WireError
from directord.models import Control
from directord.server.api import ApiServer
from directord.server.backend import BackendService
from directord.server.callbacks import Callbacks
from directord.server.dispatch import Dispatcher, job_message
from directord.server.holds import Holds
from directord.server.jobs import JobTable
from directord.server.metrics import ServerMetrics
from directord.server.nodes import NodeProtocol
from directord.server.registry import NodeRegistry
from directord.server.standby import StandbyApi
from directord.server.user_api import UserApi

LOG = logging.getLogger(__name__)
ACK_DELAY = 1.0  # results are acknowledged with the node's next frame, or after this long
RECV_BATCH = 1000  # node frames handled before what they queued is sent
LEASE_HEARTBEATS = 2  # a lease not renewed for this many heartbeats lets a standby take over


class Server:
    """Accepts jobs from users, fans them out, records every node's result."""

    def __init__(self, config: Any, transport: ServerTransport, store: Datastore):
        self.transport = transport
        self.store = store
        self.interval = float(config.heartbeat_interval)
        self.job_ttl = float(config.job_ttl)
        self.server_id = f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}"
        self.registry = NodeRegistry(self.interval, self.server_id)
        self.metrics = ServerMetrics()
        self.metrics_bind = str(config.metrics_bind)
        self.jobs = JobTable(store, self.metrics)
        self.delivery = Delivery(transport.send, ack_delay=min(ACK_DELAY, self.interval / 4),
                                 before_acks=self.jobs.flush)  # a result is acknowledged once it is stored
        self.holds = Holds(self.registry, self.delivery, self.jobs)
        self.dispatcher = Dispatcher(self.registry, self.jobs, self.holds)
        callbacks = Callbacks(self.registry, self.jobs, self.dispatcher)
        self.nodes = NodeProtocol(self.server_id, self.interval, store, self.registry, self.delivery,
                                  self.jobs, self.holds, self.dispatcher, callbacks)
        self.backend = BackendService(transport, self.jobs)
        self.user_api = UserApi(store, self.registry, self.delivery, self.jobs, self.dispatcher, self.nodes.expire)
        standby = StandbyApi(store, transport.forward, float(config.request_timeout))
        self.api = ApiServer(config.socket_path, str(config.socket_group),
                             standby.handlers() if transport.shared else self.user_api.handlers())
        self._stop = asyncio.Event()
        self.lease_s = self.interval * LEASE_HEARTBEATS
        self.lost_lease = False

    # -- lifecycle -----------------------------------------------------------
    async def run(self) -> int:
        """Serve until SIGTERM/SIGINT (or ``stop()``); 1 when another server took the lease."""
        exporter = self._export_metrics()  # first: a bad --metrics-bind stops the start with nothing to undo
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        await self.transport.start()
        if self.transport.shared and not self.store.shared:
            LOG.warning("the %s driver lets several servers take turns, but the datastore %s is this server's"
                        " own: one that takes over would know none of the jobs before it (use --datastore"
                        " redis://...)", self.transport.name, self.store.url)
        await self.api.start()
        tasks: list[asyncio.Task] = []
        if await self._wait_for_lease():
            self.store.clear_nodes()  # nodes are re-learned from their heartbeats
            self._restore()
            self.api.serve_with(self.user_api.handlers())
            tasks = [asyncio.create_task(wire.receive_batches(self._node_frames, self.nodes.dropped,
                                                              self.nodes.handle)),
                     asyncio.create_task(self._housekeeping()), asyncio.create_task(self.backend.run()),
                     asyncio.create_task(self._answer_standbys())]
            LOG.info("server %s ready (driver %s, datastore %s)", self.server_id, self.transport.name,
                     self.store.url)
            await self._stop.wait()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.api.close()
        if exporter is not None:
            await asyncio.to_thread(exporter.shutdown)
            exporter.server_close()
        self.jobs.flush()
        if not self.lost_lease:
            await self._resign()
        self.transport.close()
        self.store.close()
        LOG.info("server stopped")
        return 1 if self.lost_lease else 0

    async def _node_frames(self) -> list[tuple[str, bytes]]:
        batch = await self.transport.recv_batch(RECV_BATCH)
        self.registry.reading(behind=len(batch) >= RECV_BATCH)
        return batch

    async def _answer_standbys(self) -> None:
        """User requests other servers forwarded: answered as if they came on our socket."""
        answering: set[asyncio.Task] = set()  # held here: the loop keeps only weak references
        while True:
            peer, frame = await self.transport.forwarded_recv()
            task = asyncio.create_task(self._answer_forwarded(peer, frame))
            answering.add(task)
            task.add_done_callback(answering.discard)

    async def _answer_forwarded(self, peer: str, frame: bytes) -> None:
        try:
            request = wire.parse_json(frame)
        except WireError:
            request = None  # answered as a malformed request
        answer = await self.api.answer(request)
        self.transport.forwarded_reply(peer, json.dumps(answer).encode())

    def _export_metrics(self) -> Any:
        """Serve Prometheus metrics when ``--metrics-bind`` is set (the HTTP server, else None)."""
        if not self.metrics_bind:
            return None
        from directord import metrics  # prometheus_client: only when asked for

        host, port = split_bind(self.metrics_bind)
        exporter = metrics.serve(self.metrics, host, port)
        LOG.info("serving Prometheus metrics on http://%s/metrics", self.metrics_bind)
        return exporter

    def _refresh_metrics(self, role: str) -> None:
        """The gauges a scrape reads, as of now (built on the loop, read from the exporter's thread)."""
        if not self.metrics_bind:
            return
        live, held = self.registry.counts()
        queued, unacked = self.delivery.depth()
        self.metrics.snapshot = {
            "role": role, "nodes_live": live, "nodes_held": held, "nodes_expired": self.registry.expired_total,
            "jobs_active": self.jobs.active_count(), "queue_depth": queued, "unacked_messages": unacked,
            "dropped": self.nodes.dropped.total,
        }

    async def _wait_for_lease(self) -> bool:
        """Stand by until this server may serve the nodes; False when stopped first."""
        waiting = False
        while not self._stop.is_set():
            self._refresh_metrics("standby")
            try:
                if await self.transport.lead(self.server_id, self.lease_s):
                    return True
                holder = await self.transport.leader()
            except ConnectionError as exc:
                LOG.warning("cannot reach the lease: %s", exc)
            else:
                if not waiting:
                    waiting = True
                    LOG.info("server %s standing by (driver %s): server %s is active", self.server_id,
                             self.transport.name, holder)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.interval / 2)
        return False

    async def _renew(self) -> None:
        """Keep the lease; step down (stop, exit 1) the moment another server holds it."""
        try:
            held = await self.transport.lead(self.server_id, self.lease_s)
        except ConnectionError as exc:  # nobody else can take it while it is unreachable either
            LOG.warning("cannot renew the lease: %s", exc)
            return
        if not held:
            LOG.error("server %s lost the lease to %s; stopping", self.server_id, await self.transport.leader())
            self.lost_lease = True
            self.stop()

    async def _resign(self) -> None:
        try:
            await self.transport.resign(self.server_id)
        except ConnectionError as exc:
            LOG.warning("could not give the lease up: %s", exc)

    def stop(self) -> None:
        self._stop.set()

    def _restore(self) -> None:
        """Unfinished jobs of a persistent store: results are awaited again, and
        jobs no node acknowledged are re-sent when that node re-registers."""
        restored = self.jobs.restore()
        for record in restored:
            message = job_message(record.definition.to_dict())
            for node, state in record.processing.items():
                if state == Control.NULL.value:
                    self.delivery.track(node, message)
        if restored:
            LOG.info("restored %d unfinished job(s) from %s", len(restored), self.store.url)

    # -- housekeeping --------------------------------------------------------
    async def _housekeeping(self) -> None:
        tick = min(max(self.interval / 4, 0.05), 1.0)
        last_beat = last_prune = 0.0
        while True:
            await asyncio.sleep(tick)
            try:
                now = time.monotonic()
                self.nodes.expire()
                for node in self.delivery.unacked_nodes():
                    if self.registry.is_live(node):
                        self.delivery.resend(node, older_than=now - max(self.interval, 1.0))
                self.holds.release_expired()
                if now - last_beat >= self.interval:
                    last_beat = now
                    await self._renew()
                    self.nodes.send_heartbeat(*(node.identity for node in self.registry.live()))
                self.jobs.flush()
                self._refresh_metrics("active")
                if now - last_prune >= min(60.0, max(self.job_ttl / 4, 0.5)):
                    last_prune = now
                    self.jobs.prune(self.job_ttl)
            except Exception:
                LOG.exception("housekeeping failed")
