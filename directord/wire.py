"""The message envelope: msgpack, versioned, size-limited and validated (no pickle).

A frame carries a batch: ``[PROTOCOL_VERSION, [[msg_id, control, command,
data, info, stderr, stdout], ...]]``. Batching lets one frame carry a
thousand jobs or acks, which is most of the speed of the hot path.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import msgpack

from directord.exceptions import DirectordError, NotFound, RequestError, WireError
from directord.models import Control, Message

PROTOCOL_VERSION = 1
MAX_FRAME_BYTES = 64 * 1024 * 1024
MAX_BATCH = 100_000

_CONTROLS = frozenset(c.value for c in Control)
_ID_PREFIX = uuid.uuid4().hex[:12]
_ids = itertools.count()
_OPTIONAL_TEXT = (str, type(None))


class DropCounter:
    """Counts dropped frames and messages; warns at most once per ``every`` seconds."""

    def __init__(self, logger: logging.Logger, every: float = 5.0):
        self.logger, self.every = logger, every
        self.total = 0
        self._unreported = 0
        self._last = float("-inf")

    def drop(self, source: str, reason: object) -> None:
        self.total += 1
        self._unreported += 1
        now = time.monotonic()
        if now - self._last >= self.every:
            self.logger.warning("dropped %d malformed frame(s) or message(s); latest from %r: %s",
                                self._unreported, source[:64], reason)
            self._last, self._unreported = now, 0


async def receive_loop(recv: Callable[[], Awaitable[tuple[str, bytes]]], dropped: DropCounter,
                       dispatch: Callable[[str, list[Message]], Awaitable[None] | None]) -> None:
    """``receive_batches`` for a ``recv`` that returns one (source, frame) at a time."""

    async def one() -> list[tuple[str, bytes]]:
        return [await recv()]

    await receive_batches(one, dropped, dispatch)


async def receive_batches(recv: Callable[[], Awaitable[list[tuple[str, bytes]]]], dropped: DropCounter,
                          dispatch: Callable[[str, list[Message]], Awaitable[None] | None]) -> None:
    """Receive frames forever: count and drop malformed ones, hand each decoded batch to ``dispatch``.

    ``recv`` returns a list of (source, frame); ``dispatch`` may be a coroutine
    function. A batch that fails is logged and never stops the loop.
    """
    while True:
        for source, frame in await recv():
            try:
                messages = decode(frame)
            except WireError as exc:
                dropped.drop(source, exc)
                continue
            try:
                pending = dispatch(source, messages)
                if pending is not None:
                    await pending
            except Exception:  # a bad batch must never stop the loop
                dropped.logger.exception("failed to handle a batch from %s", source)


def new_id() -> str:
    """A message id no other message has: a random prefix per process and a counter (cheaper than uuid4)."""
    return f"{_ID_PREFIX}-{next(_ids)}"


def _fields(m: Message) -> list[Any]:
    """A message as the wire carries it: its seven fields in order."""
    return [m.msg_id, m.control, m.command, m.data, m.info, m.stderr, m.stdout]


def encode(messages: list[Message]) -> bytes:
    """Pack a batch of messages into one frame."""
    return msgpack.packb([PROTOCOL_VERSION, [_fields(m) for m in messages]], use_bin_type=True)


def pack(message: Message) -> bytes:
    """One message's encoding, as it sits inside a frame (``framed`` puts several together)."""
    return msgpack.packb(_fields(message), use_bin_type=True)


_FRAME_HEAD = b"\x92" + msgpack.packb(PROTOCOL_VERSION)  # a 2-item array: the version, then the batch


def framed(count: int, body: bytes) -> bytes:
    """The frame of ``count`` messages whose ``pack`` encodings, back to back, are ``body``
    (the same bytes ``encode`` makes of them)."""
    return _FRAME_HEAD + msgpack.Packer().pack_array_header(count) + body


def decode(frame: bytes, max_bytes: int = MAX_FRAME_BYTES) -> list[Message]:
    """Unpack and validate a frame; raise WireError on anything malformed."""
    if not isinstance(frame, (bytes, bytearray, memoryview)):
        raise WireError(f"frame is {type(frame).__name__}, not bytes")
    if len(frame) > max_bytes:
        raise WireError(f"frame of {len(frame)} bytes exceeds the {max_bytes} byte limit")
    try:
        payload = msgpack.unpackb(frame, raw=False, strict_map_key=True)
    except Exception as exc:  # msgpack raises several unrelated types
        raise WireError(f"undecodable frame: {type(exc).__name__}") from None
    if not (isinstance(payload, list) and len(payload) == 2):
        raise WireError("frame is not a [version, batch] pair")
    version, batch = payload
    if version != PROTOCOL_VERSION:
        raise WireError(f"protocol version {version!r} is not {PROTOCOL_VERSION}")
    if not isinstance(batch, list) or len(batch) > MAX_BATCH:
        raise WireError("batch is not a list of bounded size")
    return [_message(item) for item in batch]


def _message(item: Any) -> Message:
    if not (isinstance(item, list) and len(item) == 7):
        raise WireError("message is not a 7-field list")
    msg_id, control, command, data, info, stderr, stdout = item
    if not isinstance(msg_id, str) or not isinstance(command, str):
        raise WireError("msg_id and command must be text")
    if not isinstance(control, str) or control not in _CONTROLS:
        raise WireError(f"unknown control code {control!r}")
    for value in (info, stderr, stdout):
        if not isinstance(value, _OPTIONAL_TEXT):
            raise WireError("info, stderr and stdout must be text or null")
    return Message(msg_id, control, command, data, info, stderr, stdout)


# -- user socket framing: 4-byte big-endian length + UTF-8 JSON ---------------
MAX_REQUEST_BYTES = 256 * 1024 * 1024
LENGTH_BYTES = 4


def frame_json(obj: Any) -> bytes:
    """Length-prefixed JSON for the unix-socket API."""
    body = json.dumps(obj, separators=(",", ":")).encode()
    return len(body).to_bytes(LENGTH_BYTES, "big") + body


def frame_length(prefix: bytes, limit: int = MAX_REQUEST_BYTES) -> int:
    """Validate a length prefix; raise WireError when over ``limit``."""
    size = int.from_bytes(prefix, "big")
    if size > limit:
        raise WireError(f"request of {size} bytes exceeds the {limit} byte limit")
    return size


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WireError(f"request is not JSON: {exc}") from None


# What a reply's ``kind`` may raise on the asking side (one-argument errors); any other is a DirectordError.
_REPLY_KINDS = {"NotFound": NotFound, "RequestError": RequestError, "WireError": WireError}


def reply_result(reply: Any) -> Any:
    """The ``result`` of a user-API reply, or its error raised as the kind it names."""
    if not isinstance(reply, dict):
        raise WireError("the server sent a malformed reply")
    if not reply.get("ok"):
        raise _REPLY_KINDS.get(str(reply.get("kind")), DirectordError)(str(reply.get("error")))
    return reply.get("result")
