"""At-least-once delivery: batch per peer, track reliable messages until acked, re-send.

The server uses it for jobs (acked by any status from the node), clients for
final results (acked by the server's ACK message)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from directord import wire
from directord.models import Control, Message

LOG = logging.getLogger(__name__)
ACK = Control.ACK.value


class Delivery:
    """Per-peer outgoing batches plus the reliable messages not yet acknowledged.

    ``send`` is the driver's non-blocking send. Messages queued within
    ``delay`` seconds (by default: one event-loop tick) leave as one frame per
    peer. Reliable messages stay unacked until ``acked``; ``resend``
    re-queues them.

    ``acknowledge`` collects the ids a peer's messages are acknowledged with:
    they ride in one ACK with the next frame that peer gets, or leave on their
    own ``ack_delay`` seconds later. ``before_acks`` runs before any ACK
    leaves (the server stores the results it acknowledges).
    """

    def __init__(self, send: Callable[[str, bytes], bool], delay: float = 0.0, ack_delay: float = 0.05,
                 before_acks: Callable[[], None] | None = None):
        self._send = send
        self.delay = delay
        self.ack_delay = ack_delay
        self._before_acks = before_acks
        self.pending: dict[str, list[Message]] = {}
        self._unacked: dict[str, dict[str, tuple[Message, float]]] = {}
        self._held: dict[str, dict[str, Message]] = {}
        self._acks: dict[str, list[str]] = {}
        self._scheduled = False
        self._acks_scheduled = False

    def queue(self, node: str, message: Message, reliable: bool = False) -> None:
        """Queue ``message`` for peer ``node``; reliable ones are tracked until acked."""
        self.pending.setdefault(node, []).append(message)
        if reliable:
            waiting = self._unacked.setdefault(node, {})
            waiting.pop(message.msg_id, None)  # to the end: the first one is the longest unacked
            waiting[message.msg_id] = (message, time.monotonic())
        if not self._scheduled:
            self._scheduled = True
            loop = asyncio.get_running_loop()
            if self.delay:
                loop.call_later(self.delay, self.flush)
            else:
                loop.call_soon(self.flush)

    def track(self, node: str, message: Message) -> None:
        """Track a reliable message for ``node`` without sending it now: it leaves with the next ``resend``.

        It goes first, as never sent (``resend`` looks at the first one to tell whether any is due)."""
        waiting = self._unacked.get(node, {})
        self._unacked[node] = {message.msg_id: (message, 0.0),
                               **{msg_id: entry for msg_id, entry in waiting.items() if msg_id != message.msg_id}}

    def hold(self, node: str, message: Message) -> None:
        """Keep a reliable message for ``node`` back until ``release``."""
        self._held.setdefault(node, {})[message.msg_id] = message

    def release(self, node: str) -> None:
        """Send ``node``'s held messages."""
        for message in self._held.pop(node, {}).values():
            self.queue(node, message, reliable=True)

    def waiting(self, node: str) -> set[str]:
        """Ids of ``node``'s reliable messages not yet acked, sent or held."""
        return set(self._unacked.get(node, ())) | set(self._held.get(node, ()))

    def unacked(self, node: str) -> dict[str, Message]:
        """``node``'s reliable messages sent and not yet acked, by id."""
        return {msg_id: message for msg_id, (message, _sent) in self._unacked.get(node, {}).items()}

    def unacked_count(self, node: str) -> int:
        return len(self._unacked.get(node, ()))

    def depth(self) -> tuple[int, int]:
        """Messages waiting to be sent (held ones included), and reliable ones sent and not yet acked."""
        waiting = sum(map(len, self.pending.values())) + sum(map(len, self._held.values()))
        return waiting, sum(map(len, self._unacked.values()))

    def unacked_nodes(self) -> list[str]:
        """Peers with reliable messages sent and not yet acked."""
        return [node for node, waiting in self._unacked.items() if waiting]

    def held_nodes(self) -> list[str]:
        """Peers with messages held back."""
        return list(self._held)

    def clear_unacked(self) -> None:
        """Stop tracking every peer's unacked messages."""
        self._unacked.clear()

    def acknowledge(self, node: str, msg_id: str) -> None:
        """Acknowledge ``msg_id`` to ``node``, with its next frame or within ``ack_delay`` seconds."""
        self._acks.setdefault(node, []).append(msg_id)
        if not self._acks_scheduled:
            self._acks_scheduled = True
            asyncio.get_running_loop().call_later(self.ack_delay, self._send_acks)

    def _send_acks(self) -> None:
        self._acks_scheduled = False
        for node in self._acks:
            self.pending.setdefault(node, [])
        self.flush()

    def flush(self) -> None:
        """Send each peer's batch (with its acks); peers with the same messages share their encoding."""
        self._scheduled = False
        pending, self.pending = self.pending, {}
        acks = self._take_acks(pending) if self._acks else {}
        packed: dict[int, bytes] = {}
        bodies: dict[tuple[int, ...], bytes] = {}
        frames: dict[tuple[int, ...], bytes] = {}
        for node, messages in pending.items():
            key = tuple(map(id, messages))  # the messages live until the loop ends: ids stay theirs
            ack = acks.get(node)
            if not messages and ack is None:
                continue  # its acks went out with an earlier frame
            frame = frames.get(key) if ack is None else None
            if frame is None:
                body = bodies.get(key)
                if body is None:
                    body = bodies[key] = b"".join([packed.get(id(m)) or packed.setdefault(id(m), wire.pack(m))
                                                   for m in messages])
                if ack is None:
                    frame = frames[key] = wire.framed(len(messages), body)
                else:
                    frame = wire.framed(len(messages) + 1, body + wire.pack(ack))
            if not self._send(node, frame):
                LOG.debug("peer %s unreachable; %d message(s) wait for a re-send", node, len(messages))

    def _take_acks(self, pending: dict[str, list[Message]]) -> dict[str, Message]:
        """One ACK message for each peer with a frame leaving now; the other peers' acks wait."""
        if self._before_acks is not None:
            self._before_acks()
        small, big = (pending, self._acks) if len(pending) <= len(self._acks) else (self._acks, pending)
        return {node: Message(wire.new_id(), ACK, data=self._acks.pop(node))
                for node in [n for n in small if n in big]}

    def acked(self, node: str, msg_id: str) -> None:
        waiting = self._unacked.get(node)
        if waiting is not None:
            waiting.pop(msg_id, None)
            if not waiting:  # a dict keeps its size when emptied: 10,000 of them would
                del self._unacked[node]

    def resend(self, node: str, older_than: float | None = None) -> int:
        """Re-queue ``node``'s unacked messages (only those sent before ``older_than``)."""
        waiting = self._unacked.get(node)
        if not waiting or (older_than is not None and next(iter(waiting.values()))[1] >= older_than):
            return 0  # nothing sent that long ago (the oldest send comes first)
        due = [m for m, sent in waiting.values() if older_than is None or sent < older_than]
        for message in due:
            self.queue(node, message, reliable=True)
        return len(due)

    def forget(self, node: str) -> None:
        """Drop everything queued for ``node``, unacked messages and acks included."""
        self.pending.pop(node, None)
        self._acks.pop(node, None)
        self._unacked.pop(node, None)
        self._held.pop(node, None)
