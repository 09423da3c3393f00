"""Holds: while a node is away on purpose (REBOOT), its new jobs wait on the server.

A job whose verb has ``hold_seconds`` starts a hold on each node it is sent
to. Until the node's client is back (a new session after the job was sent),
the job fails, or the hold runs out, the node stays registered while silent
and jobs for it are kept instead of sent.
"""

from __future__ import annotations

from directord.delivery import Delivery
from directord.models import Message, Node
from directord.server.jobs import JobTable
from directord.server.registry import NodeRegistry


class Holds:
    """The holds of the registry's nodes and the messages they keep back."""

    def __init__(self, registry: NodeRegistry, delivery: Delivery, jobs: JobTable):
        self._registry = registry
        self._delivery = delivery
        self._jobs = jobs

    def send(self, nodes: list[str], message: Message, hold_seconds: float) -> None:
        """Send a job to ``nodes`` (kept back from those held); a job with ``hold_seconds`` starts a hold."""
        held = self._registry.held_among(nodes)  # e.g. rebooting: sent once its client is back
        for node in nodes:
            if node in held:
                self._delivery.hold(node, message)
                continue
            self._delivery.queue(node, message, reliable=True)
            if hold_seconds > 0:
                self._registry.hold(node, hold_seconds, f"held ({message.command})", message.msg_id)

    def restarted(self, node: Node) -> None:
        """``node``'s client came back: its hold ends unless the job holding it was sent to this session."""
        held_by = self._jobs.get(node.held_by) if node.held_by else None
        if held_by is None or held_by.is_final(node.identity):
            self._registry.release(node.identity)

    def resume(self, identity: str) -> None:
        """A node joined or came back: what was kept for it leaves, unless it is still held."""
        if not self._registry.is_held(identity):
            self._delivery.release(identity)

    def failed(self, identity: str, job_id: str) -> None:
        """Job ``job_id`` failed on ``identity``: a hold it started is over."""
        node = self._registry.get(identity)
        if node is not None and node.held_by == job_id:
            self._registry.release(identity)

    def release_expired(self) -> None:
        """Send what holds that ran out kept back."""
        for identity in self._delivery.held_nodes():
            self.resume(identity)
