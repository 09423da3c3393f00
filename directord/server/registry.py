"""The node registry: heartbeats in, expiry out."""

from __future__ import annotations

import time
from typing import Any

from directord.models import Node

EXPIRY_HEARTBEATS = 3


class NodeRegistry:
    """Live nodes by identity; a node expires after 3 missed heartbeats (or when its hold ends)."""

    def __init__(self, heartbeat_interval: float, server_id: str = ""):
        self.ttl = heartbeat_interval * EXPIRY_HEARTBEATS
        self.server_id = server_id  # recorded on each node: the server it reports to
        self._nodes: dict[str, Node] = {}
        self.expired_total = 0  # nodes expired since the server started
        self._holding: set[str] = set()  # nodes whose hold has not been released (it may have run out)
        self._behind_since: float | None = None

    def reading(self, behind: bool) -> None:
        """The server read a batch of node frames; ``behind`` when more were already waiting.

        While it is behind, a node's silence is not news (its heartbeat may be
        in the queue): liveness is judged as of the moment it fell behind.
        """
        if not behind:
            self._behind_since = None
        elif self._behind_since is None:
            self._behind_since = time.time()

    def _now(self) -> float:
        return time.time() if self._behind_since is None else self._behind_since

    def heartbeat(self, identity: str, data: dict[str, Any]) -> tuple[Node, bool, bool]:
        """Refresh ``identity``; returns (node, joined, restarted).

        ``joined`` is a first heartbeat (or one after expiry); ``restarted``
        means the client process changed (its session id differs).
        """
        now = time.time()
        node = self._nodes.get(identity)
        joined = node is None
        session = str(data.get("session", ""))
        restarted = not joined and bool(session) and session != node.session
        if joined:
            node = Node(identity=identity, expire_time=now + self.ttl, server=self.server_id)
            self._nodes[identity] = node
        if node.held_until <= now:  # the hold ran out (the server ends it earlier: ``release``)
            self.release(identity)
        node.expire_time = max(now + self.ttl, node.held_until)
        for key in ("machine_id", "version", "driver"):
            if isinstance(data.get(key), str):
                setattr(node, key, data[key])
        for key in ("host_uptime", "agent_uptime"):
            if isinstance(data.get(key), (int, float)):
                setattr(node, key, float(data[key]))
        node.session = session
        return node, joined, restarted

    def get(self, identity: str) -> Node | None:
        """A registered node (live, or expired and not yet removed)."""
        return self._nodes.get(identity)

    def hold(self, identity: str, seconds: float, reason: str, job_id: str) -> None:
        """Keep ``identity`` registered while it is silent, and its new jobs on the server,
        for ``seconds`` or until ``release`` (job ``job_id``, a REBOOT, started it)."""
        node = self._nodes.get(identity)
        if node is not None:
            node.held, node.held_until, node.held_by = reason, time.time() + seconds, job_id
            self._holding.add(identity)
            node.expire_time = max(node.expire_time, node.held_until)

    def release(self, identity: str) -> None:
        self._holding.discard(identity)
        node = self._nodes.get(identity)
        if node is not None:
            node.held, node.held_until, node.held_by = "", 0.0, ""

    def is_held(self, identity: str) -> bool:
        node = self._nodes.get(identity)
        return node is not None and node.held_until > time.time()

    def held_among(self, identities: list[str]) -> set[str]:
        """Those of ``identities`` held now (one look at the clock, however many there are)."""
        if not self._holding:
            return set()
        now = time.time()
        return {i for i in self._holding.intersection(identities) if self._nodes[i].held_until > now}

    def live(self) -> list[Node]:
        """Non-expired nodes, sorted by identity."""
        now = self._now()
        return sorted((n for n in self._nodes.values() if n.expire_time > now), key=lambda n: n.identity)

    def counts(self) -> tuple[int, int]:
        """How many nodes are live, and how many of those are held."""
        now = self._now()
        live = [node for node in self._nodes.values() if node.expire_time > now]
        return len(live), sum(1 for node in live if node.held_until > now)

    def is_live(self, identity: str) -> bool:
        node = self._nodes.get(identity)
        return node is not None and node.expire_time > self._now()

    def expire(self) -> list[Node]:
        """Remove and return the nodes whose heartbeats stopped."""
        now = self._now()
        gone = [n for n in self._nodes.values() if n.expire_time <= now]
        self.expired_total += len(gone)
        for node in gone:
            del self._nodes[node.identity]
            self._holding.discard(node.identity)
        return gone

    def purge(self) -> list[Node]:
        gone = list(self._nodes.values())
        self._nodes.clear()
        self._holding.clear()
        return gone
