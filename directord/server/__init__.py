"""The server: one asyncio loop for node traffic, the user API and housekeeping."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
import uuid
from collections.abc import Callable
from typing import Any

from directord import components, plugins, wire
from directord.analysis import analyze
from directord.datastores import Datastore
from directord.delivery import Delivery
from directord.drivers import ServerTransport
from directord.exceptions import DirectordError, NotFound, RequestError
from directord.fingerprint import file_sha3_224
from directord.models import FINAL_STATES, Control, Message
from directord.server.api import ApiServer
from directord.server.backend import BackendService
from directord.server.jobs import JobTable, validate
from directord.server.registry import NodeRegistry

LOG = logging.getLogger(__name__)
WAIT_LIMIT = 60.0
ACK_BATCH_DELAY = 0.05


class Server:
    """Accepts jobs from users, fans them out, records every node's result."""

    def __init__(self, config: Any, transport: ServerTransport, store: Datastore):
        self.config = config
        self.transport = transport
        self.store = store
        self.interval = float(config.heartbeat_interval)
        self.server_id = str(uuid.uuid4())
        self.registry = NodeRegistry(self.interval)
        self.delivery = Delivery(transport.send)
        self.jobs = JobTable(store)
        self.backend = BackendService(transport, self.jobs)
        self.job_ttl = float(config.job_ttl)
        self.dropped = wire.DropCounter(LOG)
        self._acks: dict[str, list[str]] = {}
        self._acks_scheduled = False
        self._orphans: dict[str, float] = {}
        self._node_saved: dict[str, float] = {}
        self._component_hashes: dict[str, tuple[int, str]] = {}
        self._hooks: dict[str, components.ComponentHooks] = {}
        self._stop = asyncio.Event()
        self.api = ApiServer(config.socket_path, str(config.socket_group), {
            "submit": self.api_submit,
            "wait": self.api_wait,
            "list_nodes": self.api_list_nodes,
            "list_jobs": self.api_list_jobs,
            "job_info": self.api_job_info,
            "purge_nodes": self.api_purge_nodes,
            "purge_jobs": self.api_purge_jobs,
            "analyze": self.api_analyze,
        })

    # -- lifecycle -----------------------------------------------------------
    async def run(self) -> None:
        """Serve until SIGTERM/SIGINT (or ``stop()``)."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        await self.transport.start()
        self.store.clear_nodes()  # nodes are re-learned from their heartbeats
        self._restore()
        await self.api.start()
        tasks = [asyncio.create_task(wire.receive_loop(self.transport.recv, self.dropped, self._handle)),
                 asyncio.create_task(self._housekeeping()), asyncio.create_task(self.backend.run())]
        LOG.info("server %s ready (driver %s, datastore %s)", self.server_id, self.transport.name, self.store.url)
        await self._stop.wait()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.api.close()
        self.jobs.flush()
        self.transport.close()
        self.store.close()
        LOG.info("server stopped")

    def stop(self) -> None:
        self._stop.set()

    def _restore(self) -> None:
        """Unfinished jobs of a persistent store: results are awaited again, and
        jobs no node acknowledged are re-sent when that node re-registers."""
        restored = self.jobs.restore()
        for record in restored:
            message = Message(record.job_id, Control.JOB.value, record.verb, data=record.definition)
            for node, state in record.processing.items():
                if state == Control.NULL.value:
                    self.delivery.track(node, message)
        if restored:
            LOG.info("restored %d unfinished job(s) from %s", len(restored), self.store.url)

    # -- node traffic --------------------------------------------------------
    def _handle(self, identity: str, messages: list[Message]) -> None:
        for message in messages:
            try:
                self._handle_one(identity, message)
            except Exception:  # one bad message must not cost the rest of its frame
                LOG.exception("failed to handle message %s from %s", message.msg_id, identity)
        if self._acks and not self._acks_scheduled:  # acks leave in batches; results re-send after seconds
            self._acks_scheduled = True
            asyncio.get_running_loop().call_later(ACK_BATCH_DELAY, self._send_acks)

    def _handle_one(self, identity: str, message: Message) -> None:
        if message.control == Control.HEARTBEAT.value:
            self._heartbeat(identity, message)
        elif message.control == Control.ACK.value and isinstance(message.data, list):
            for job_id in message.data:  # the node has these jobs queued
                self.delivery.acked(identity, str(job_id))
                self.jobs.queued(identity, str(job_id))
        elif message.control in (Control.JOB_PROCESSING.value, *FINAL_STATES):
            self._status(identity, message)
        elif message.control == Control.RETURN.value and isinstance(message.data, list):
            self._returned(identity, message)
        else:
            self.dropped.drop(identity, f"unexpected control {message.control!r}")

    def _heartbeat(self, identity: str, message: Message) -> None:
        data = message.data if isinstance(message.data, dict) else {}
        node, joined, restarted = self.registry.heartbeat(identity, data)
        if joined or time.time() - self._node_saved.get(identity, 0.0) >= self.interval:
            self._node_saved[identity] = time.time()
            self.store.put_node(node)  # persistent stores keep a TTL'd copy
        if joined:
            LOG.info("node %s joined", identity)
            plugins.fire("directord_node_joined", node=node.to_dict())
            self._send_heartbeat(identity)
        if restarted:
            LOG.warning("node %s restarted; its running jobs are lost", identity)
            waiting = self.delivery.waiting(identity)
            for job_id in self.jobs.unfinished(identity):
                if job_id not in waiting:
                    self.jobs.fail(identity, job_id, "node restarted before the job finished")
            held_by = self.jobs.get(node.held_by) if node.held_by else None
            if held_by is None or held_by.is_final(identity):  # back from its REBOOT (not from before it)
                self.registry.release(identity)
        if joined or restarted:
            self.delivery.resend(identity)
            if not self.registry.is_held(identity):
                self.delivery.release(identity)

    def _status(self, identity: str, message: Message) -> None:
        self.delivery.acked(identity, message.msg_id)
        if message.control in FINAL_STATES:
            self._acks.setdefault(identity, []).append(message.msg_id)
        accepted = self.jobs.apply(identity, message)  # only a target's unfinished job may add callbacks
        if accepted and isinstance(message.data, dict) and isinstance(message.data.get("new_tasks"), list):
            self._callbacks(identity, message.data["new_tasks"])
        if message.control == Control.JOB_FAILED.value:
            node = self.registry.get(identity)
            if node is not None and node.held_by == message.msg_id:
                self.registry.release(identity)  # the REBOOT failed: nothing to wait for
        hooks = self._hooks_for(message.command)
        if hooks.coordinates:
            self._coordinate(message.msg_id, hooks.coordinate)

    def _returned(self, identity: str, message: Message) -> None:
        """A stopping client handed back jobs it never started: held for its next session."""
        for job_id in map(str, message.data):  # "\x00" again, stored: a server restart re-sends it too
            record = self.jobs.requeue(identity, job_id, "returned unstarted by the stopping client")
            if record is not None:
                self.delivery.track(identity, Message(job_id, Control.JOB.value, record.verb, data=record.definition))
        self._acks.setdefault(identity, []).append(message.msg_id)
        LOG.info("node %s is stopping; %d queued job(s) wait for it to come back", identity, len(message.data))

    def _callbacks(self, identity: str, tasks: list[Any]) -> None:
        """Dispatch a component's ``block_on_tasks`` once each (a re-sent status repeats them).

        A task's own ``targets`` decide where it runs (all live nodes when absent);
        an empty ``identity`` becomes every live node, as QUERY_WAIT-style tasks expect.
        """
        live = [n.identity for n in self.registry.live()]
        for task in tasks:
            if not isinstance(task, dict) or not task.get("job_id") or self.jobs.get(str(task["job_id"])):
                continue
            if "identity" in task and not task["identity"]:
                task["identity"] = live
            try:
                self.submit([{**task, "callback": True}])  # "callback": never what `last` names
            except Exception as exc:  # noqa: BLE001 - a node's bad task is refused, never fatal
                LOG.warning("callback task %s from %s refused: %s", task.get("job_id"), identity, exc)

    def _hooks_for(self, verb: str) -> components.ComponentHooks:
        """A verb's component hooks (the defaults for a verb the server cannot load).

        Resolved once per verb: this runs for every status message, and a verb
        the server cannot load must not cost a plugin scan each time.
        """
        hooks = self._hooks.get(verb)
        if hooks is None:
            try:
                hooks = components.hooks_for(verb)
            except DirectordError:
                hooks = components.hooks_of(components.ComponentBase)
            self._hooks[verb] = hooks
        return hooks

    def _coordinate(self, job_id: str, coordinate: Callable[[Any], list[dict[str, Any]] | None]) -> None:
        """Let a component (QUERY) answer its nodes once they all reported."""
        record = self.jobs.get(job_id)
        if record is None or record.definition.get("coordinated"):
            return
        follow_up = coordinate(record)
        if follow_up:
            record.definition["coordinated"] = True
            self.submit([{**job, "callback": True} for job in follow_up])

    def _send_acks(self) -> None:
        self._acks_scheduled = False
        self.jobs.flush()  # a result is acknowledged only once it is in the datastore
        acks, self._acks = self._acks, {}
        for node, job_ids in acks.items():
            self.delivery.queue(node, Message(str(uuid.uuid4()), Control.ACK.value, data=job_ids))

    def _send_heartbeat(self, node: str) -> None:
        self.delivery.queue(node, Message(
            str(uuid.uuid4()), Control.HEARTBEAT.value,
            data={"server_id": self.server_id, "interval": self.interval},
        ))

    # -- housekeeping --------------------------------------------------------
    async def _housekeeping(self) -> None:
        tick = min(max(self.interval / 4, 0.05), 1.0)
        last_beat = last_prune = 0.0
        while True:
            await asyncio.sleep(tick)
            try:
                now = time.monotonic()
                self._expire_nodes()
                for node in self.registry.live():
                    self.delivery.resend(node.identity, older_than=now - max(self.interval, 1.0))
                for identity in [i for i in self.delivery.held_nodes() if not self.registry.is_held(i)]:
                    self.delivery.release(identity)  # a hold that ran out
                if now - last_beat >= self.interval:
                    last_beat = now
                    for node in self.registry.live():
                        self._send_heartbeat(node.identity)
                self.jobs.flush()
                if now - last_prune >= min(60.0, max(self.job_ttl / 4, 0.5)):
                    last_prune = now
                    self.jobs.prune(self.job_ttl)
            except Exception:
                LOG.exception("housekeeping failed")

    def _expire_nodes(self) -> None:
        now = time.time()
        for node in self.jobs.nodes_with_jobs():  # purged nodes that never came back
            if self.registry.get(node) is not None:
                self._orphans.pop(node, None)
            elif now - self._orphans.setdefault(node, now) > self.registry.ttl:
                del self._orphans[node]
                self.delivery.forget(node)
                self.jobs.fail_node(node, "node gone: purged and never heard from again")
        for node in self.registry.expire():
            LOG.warning("node %s expired (no heartbeat for %.1fs)", node.identity, self.registry.ttl)
            self.delivery.forget(node.identity)
            self.store.delete_node(node.identity)
            self._node_saved.pop(node.identity, None)
            self.jobs.fail_node(node.identity, "node expired: no heartbeat")
            plugins.fire("directord_node_left", node=node.to_dict(), reason="expired")

    # -- user API ------------------------------------------------------------
    async def api_submit(self, request: dict[str, Any]) -> dict[str, Any]:
        jobs = request.get("jobs")
        if not isinstance(jobs, list) or not jobs:
            raise RequestError("submit needs a non-empty list of jobs")
        return self.submit(jobs)

    def submit(self, jobs: list[Any]) -> dict[str, Any]:
        """Validate and plan every job, then send them; returns ids and warnings."""
        jobs = [validate(job) for job in jobs]
        live = [n.identity for n in self.registry.live()]
        plans = [self._plan(job, live) for job in jobs]  # every check before any send
        warnings: list[str] = []
        for job, (targets, unknown) in zip(jobs, plans, strict=True):
            warnings.extend(self._dispatch(job, targets, unknown, live))
        self.jobs.flush()  # accepted means stored
        return {"job_ids": [job["job_id"] for job in jobs], "warnings": sorted(set(warnings))}

    def _plan(self, job: dict[str, Any], live: list[str]) -> tuple[list[str], list[str]]:
        requested = job.get("targets") or []
        unknown = [t for t in requested if t not in live]
        targets = [t for t in requested if t in live] if requested else list(live)
        if not targets and not unknown:
            raise RequestError("no live nodes to run on; start a client or check `directord node list`")
        self._attach_component_file(job)
        targets = self._hooks_for(job["verb"]).plan(job, targets, live)
        if job.get("run_once") and targets:
            targets = targets[:1]
        return targets, unknown

    def _dispatch(self, job: dict[str, Any], targets: list[str], unknown: list[str],
                  live: list[str]) -> list[str]:
        restrict = job.get("restrict")
        if restrict and job.get("job_sha3_224") not in restrict:
            self.jobs.skip(job, "restricted: fingerprint not in --restrict")
            return []
        record = self.jobs.create(job, targets + unknown)
        warnings = []
        if unknown:
            self.jobs.reject(record, unknown, f"Target unknown. Available targets {live}")
            warnings.append(f"unknown target(s) {', '.join(unknown)}; live nodes: {', '.join(live) or 'none'}")
        plugins.fire("directord_job_submitted", job=job)
        message = Message(job["job_id"], Control.JOB.value, job["verb"], data=job)
        hold_seconds = self._hooks_for(job["verb"]).hold_seconds(job)
        for node in targets:
            if self.registry.is_held(node):  # e.g. rebooting: sent once its client is back
                self.delivery.hold(node, message)
                continue
            self.delivery.queue(node, message, reliable=True)
            if hold_seconds > 0:
                self.registry.hold(node, hold_seconds, f"held ({job['verb']})", job["job_id"])
        return warnings

    def _attach_component_file(self, job: dict[str, Any]) -> None:
        """Name the component file (and its hash) of a verb no entry point provides."""
        path = plugins.component_file(job["verb"])
        if path is None:
            return
        stamp = os.stat(path).st_mtime_ns
        cached = self._component_hashes.get(path)
        if cached is None or cached[0] != stamp:
            cached = self._component_hashes[path] = (stamp, file_sha3_224(path))
        job["component"] = {"name": job["verb"].lower(), "path": path, "sha3_224": cached[1]}

    async def api_wait(self, request: dict[str, Any]) -> dict[str, Any]:
        ids = request.get("job_ids")
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise RequestError("wait needs a list of job ids")
        timeout = min(max(float(request.get("timeout", 1.0)), 0.0), WAIT_LIMIT)
        return await self.jobs.wait(ids, timeout)

    async def api_list_nodes(self, _request: dict[str, Any]) -> list[dict[str, Any]]:
        self._expire_nodes()  # a node missing from the list has had its unfinished jobs failed
        return [node.to_dict() for node in self.registry.live()]

    async def api_list_jobs(self, _request: dict[str, Any]) -> list[dict[str, Any]]:
        self.jobs.flush()
        return [record.to_dict() for record in self.store.jobs()]

    async def api_job_info(self, request: dict[str, Any]) -> dict[str, Any]:
        return self.jobs.find(str(request.get("job_id") or "last")).to_dict()

    async def api_analyze(self, request: dict[str, Any]) -> dict[str, Any]:
        """Analysis of one parent (``parent_id``), one job (``job_id``) or every job.

        ``last`` names the last submitted job, or as a parent that job's parent.
        """
        self.jobs.flush()
        if request.get("job_id"):
            record = self.jobs.find(str(request["job_id"]))
            return analyze(record.job_id, [record])
        parent = request.get("parent_id")
        if parent == "last":
            parent = self.jobs.find("last").parent_id
        records = self.store.jobs()
        if parent:
            records = [r for r in records if r.parent_id == parent]
            if not records:
                raise NotFound(f"No data found for parent {parent}")
            return analyze(str(parent), records)
        if not records:
            raise NotFound("No data found")
        return analyze("All-Jobs", records)

    async def api_purge_nodes(self, _request: dict[str, Any]) -> dict[str, Any]:
        for node in self.registry.purge():
            self.delivery.forget(node.identity)
            plugins.fire("directord_node_left", node=node.to_dict(), reason="purged")
        self.store.clear_nodes()
        return {"success": True}

    async def api_purge_jobs(self, _request: dict[str, Any]) -> dict[str, Any]:
        self.jobs.purge()
        self.delivery.clear_unacked()
        return {"success": True}
