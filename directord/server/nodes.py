"""The node protocol: what the server does with each message a node sends, and node expiry."""

from __future__ import annotations

import logging
import time

from directord import plugins, wire
from directord.datastores import Datastore
from directord.delivery import Delivery
from directord.models import FINAL_STATES, Control, Message
from directord.server.callbacks import Callbacks
from directord.server.dispatch import Dispatcher, job_message
from directord.server.holds import Holds
from directord.server.jobs import JobTable
from directord.server.registry import NodeRegistry

LOG = logging.getLogger(__name__)
HEARTBEAT, ACK, RETURN, JOB_FAILED = (Control.HEARTBEAT.value, Control.ACK.value, Control.RETURN.value,
                                      Control.JOB_FAILED.value)
STATUSES = frozenset({Control.JOB_PROCESSING.value, *FINAL_STATES})


class NodeProtocol:
    """Heartbeats, acks, statuses and returned jobs from nodes; heartbeats and acks to them."""

    def __init__(self, server_id: str, interval: float, store: Datastore, registry: NodeRegistry,
                 delivery: Delivery, jobs: JobTable, holds: Holds, dispatcher: Dispatcher,
                 callbacks: Callbacks):
        self.server_id = server_id
        self.interval = interval
        self._store = store
        self._registry = registry
        self._delivery = delivery
        self._jobs = jobs
        self._holds = holds
        self._dispatcher = dispatcher
        self._callbacks = callbacks
        self.dropped = wire.DropCounter(LOG)
        self._orphans: dict[str, float] = {}
        self._node_saved: dict[str, float] = {}

    def handle(self, identity: str, messages: list[Message]) -> None:
        """Every message of one frame from ``identity``."""
        for message in messages:
            try:
                self._handle_one(identity, message)
            except Exception:  # one bad message must not cost the rest of its frame
                LOG.exception("failed to handle message %s from %s", message.msg_id, identity)

    def _handle_one(self, identity: str, message: Message) -> None:
        control = message.control
        if control in STATUSES:
            self._status(identity, message)
        elif control == HEARTBEAT:
            self._heartbeat(identity, message)
        elif control == ACK and isinstance(message.data, list):
            for job_id in message.data:  # the node has these jobs queued
                self._delivery.acked(identity, str(job_id))
                self._jobs.queued(identity, str(job_id))
        elif control == RETURN and isinstance(message.data, list):
            self._returned(identity, message)
        else:
            self.dropped.drop(identity, f"unexpected control {message.control!r}")

    def _heartbeat(self, identity: str, message: Message) -> None:
        data = message.data if isinstance(message.data, dict) else {}
        node, joined, restarted = self._registry.heartbeat(identity, data)
        if joined or time.time() - self._node_saved.get(identity, 0.0) >= self.interval:
            self._node_saved[identity] = time.time()
            self._store.put_node(node)  # persistent stores keep a TTL'd copy
        if joined:
            LOG.info("node %s joined", identity)
            plugins.fire("directord_node_joined", node=node.to_dict())
            self.send_heartbeat(identity)
        if restarted:
            LOG.warning("node %s restarted; its running jobs are lost", identity)
            waiting = self._delivery.waiting(identity)
            for job_id in self._jobs.unfinished(identity):
                if job_id not in waiting:
                    self._jobs.fail(identity, job_id, "node restarted before the job finished")
            self._holds.restarted(node)
        if joined or restarted:
            self._delivery.resend(identity)
            self._holds.resume(identity)

    def _status(self, identity: str, message: Message) -> None:
        self._delivery.acked(identity, message.msg_id)
        if message.control in FINAL_STATES:
            self._delivery.acknowledge(identity, message.msg_id)
        accepted = self._jobs.apply(identity, message)  # only a target's unfinished job may add callbacks
        if accepted and isinstance(message.data, dict) and isinstance(message.data.get("new_tasks"), list):
            self._callbacks.node_tasks(identity, message.data["new_tasks"])
        if message.control == JOB_FAILED:
            self._holds.failed(identity, message.msg_id)  # a failed REBOOT: nothing to wait for
        hooks = self._dispatcher.hooks(message.command)
        if hooks.coordinates:
            self._callbacks.coordinate(message.msg_id, hooks.coordinate)

    def _returned(self, identity: str, message: Message) -> None:
        """A stopping client handed back jobs it never started: held for its next session."""
        for job_id in map(str, message.data):  # "\x00" again, stored: a server restart re-sends it too
            record = self._jobs.requeue(identity, job_id, "returned unstarted by the stopping client")
            if record is not None:
                self._delivery.track(identity, job_message(record.definition.to_dict()))
        self._delivery.acknowledge(identity, message.msg_id)
        LOG.info("node %s is stopping; %d queued job(s) wait for it to come back", identity, len(message.data))

    def send_heartbeat(self, *nodes: str) -> None:
        """One heartbeat message, queued for each of ``nodes`` (they share its encoded frame)."""
        message = Message(wire.new_id(), HEARTBEAT, data={"server_id": self.server_id, "interval": self.interval})
        for node in nodes:
            self._delivery.queue(node, message)

    def expire(self) -> None:
        """End the nodes whose heartbeats stopped (and purged nodes that never came back):
        their unfinished jobs fail."""
        now = time.time()
        for node in self._jobs.nodes_with_jobs():  # purged nodes that never came back
            if self._registry.get(node) is not None:
                self._orphans.pop(node, None)
            elif now - self._orphans.setdefault(node, now) > self._registry.ttl:
                del self._orphans[node]
                self._delivery.forget(node)
                self._jobs.fail_node(node, "node gone: purged and never heard from again")
        for node in self._registry.expire():
            LOG.warning("node %s expired (no heartbeat for %.1fs)", node.identity, self._registry.ttl)
            self._delivery.forget(node.identity)
            self._store.delete_node(node.identity)
            self._node_saved.pop(node.identity, None)
            self._jobs.fail_node(node.identity, "node expired: no heartbeat")
            plugins.fire("directord_node_left", node=node.to_dict(), reason="expired")

