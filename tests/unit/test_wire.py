"""The message envelope (msgpack batches) and the unix-socket JSON framing."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from directord import wire
from directord.delivery import Delivery
from directord.exceptions import WireError
from directord.models import Control, Message

FUZZ = settings(database=None, deadline=None, max_examples=300,
                suppress_health_check=[HealthCheck.too_slow])


def pack(obj: Any) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


def fields(**overrides: Any) -> list[Any]:
    """A valid 7-field message list, with some fields replaced."""
    base = {"msg_id": "id-1", "control": Control.JOB.value, "command": "RUN", "data": {"k": "v"},
            "info": None, "stderr": None, "stdout": None}
    base.update(overrides)
    return [base[k] for k in ("msg_id", "control", "command", "data", "info", "stderr", "stdout")]


# -- round trips ---------------------------------------------------------------
def test_round_trip_of_a_batch() -> None:
    batch = [
        Message("a", Control.JOB.value, "RUN", {"command": "echo hi", "targets": ["n1"]}),
        Message("b", Control.JOB_END.value, "RUN", {"execution_time": 0.25}, "info", "err", "out"),
        Message("c", Control.HEARTBEAT.value),
        Message("d", Control.ACK.value, "", ["x", 1, None, True, 2.5], stdout="üñí ✓"),
    ]
    frame = wire.encode(batch)
    assert isinstance(frame, bytes)
    assert wire.decode(frame) == batch


def test_round_trip_of_an_empty_batch() -> None:
    assert wire.decode(wire.encode([])) == []


def test_frame_carries_the_protocol_version() -> None:
    payload = msgpack.unpackb(wire.encode([Message("a", Control.JOB.value)]), raw=False)
    assert payload[0] == wire.PROTOCOL_VERSION
    assert payload[1] == [["a", Control.JOB.value, "", None, None, None, None]]


def test_decode_accepts_bytearray_and_memoryview() -> None:
    frame = wire.encode([Message("a", Control.JOB_END.value, "RUN")])
    assert wire.decode(bytearray(frame))[0].msg_id == "a"
    assert wire.decode(memoryview(frame))[0].msg_id == "a"


_controls = st.sampled_from([c.value for c in Control])
_text = st.text(max_size=20)
_optional_text = st.none() | _text
_json_like = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False) | _text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=12,
)
_messages = st.builds(Message, _text, _controls, _text, _json_like, _optional_text, _optional_text,
                      _optional_text)


@FUZZ
@given(st.lists(_messages, max_size=5))
def test_round_trip_property(batch: list[Message]) -> None:
    assert wire.decode(wire.encode(batch)) == batch


# -- malformed frames ----------------------------------------------------------
def test_oversized_frame() -> None:
    frame = wire.encode([Message("a", Control.JOB.value, "RUN", "x" * 100)])
    with pytest.raises(WireError, match="limit"):
        wire.decode(frame, max_bytes=50)
    assert wire.decode(frame, max_bytes=len(frame))[0].data == "x" * 100


@pytest.mark.parametrize("frame", [
    b"",
    b"\xc1",  # a byte msgpack never uses
    b"not msgpack at all \xff\xfe",
    pack([1, [fields()]])[:-3],  # truncated
    pack([1, []]) + b"\x00",  # trailing garbage
    pack({1: "int keys are refused"}),
])
def test_not_msgpack(frame: bytes) -> None:
    with pytest.raises(WireError):
        wire.decode(frame)


def test_not_bytes() -> None:
    with pytest.raises(WireError, match="not bytes"):
        wire.decode("a string")  # type: ignore[arg-type]


@pytest.mark.parametrize("version", [0, 2, "1", None, [1]])
def test_wrong_version(version: Any) -> None:
    with pytest.raises(WireError, match="version"):
        wire.decode(pack([version, [fields()]]))


@pytest.mark.parametrize("payload", [
    [1],
    [1, [], "extra"],
    {"version": 1, "batch": []},
    "just text",
    None,
    [1, "not a list"],
    [1, {"a": 1}],
    [1, [fields()[:6]]],  # six fields
    [1, [fields() + ["x"]]],  # eight fields
    [1, ["not a message"]],
    [1, [None]],
])
def test_wrong_shape(payload: Any) -> None:
    with pytest.raises(WireError):
        wire.decode(pack(payload))


def test_batch_size_is_bounded() -> None:
    with pytest.raises(WireError, match="bounded"):
        wire.decode(pack([1, [None] * (wire.MAX_BATCH + 1)]))


@pytest.mark.parametrize("overrides", [
    {"msg_id": 1},
    {"msg_id": None},
    {"msg_id": b"bytes-id"},
    {"command": None},
    {"command": 5},
    {"info": 1},
    {"stderr": ["list"]},
    {"stdout": b"bytes"},
    {"stdout": {"a": 1}},
])
def test_wrong_field_types(overrides: dict[str, Any]) -> None:
    with pytest.raises(WireError):
        wire.decode(pack([1, [fields(**overrides)]]))


@pytest.mark.parametrize("control", ["\x09", "", "JOB", None, 1, 4, 1.5, True, b"\x01"])
def test_unknown_control(control: Any) -> None:
    with pytest.raises(WireError, match="control"):
        wire.decode(pack([1, [fields(control=control)]]))


@pytest.mark.parametrize("control", [["\x01"], {"c": "\x01"}, []])
def test_unhashable_control_is_a_wire_error(control: Any) -> None:
    # A peer can send a list or map where the control code belongs; the
    # decoder must reject it as malformed, not crash with TypeError.
    with pytest.raises(WireError):
        wire.decode(pack([1, [fields(control=control)]]))


@FUZZ
@given(st.binary(max_size=512))
def test_random_bytes_only_ever_raise_wire_error(frame: bytes) -> None:
    try:
        messages = wire.decode(frame)
    except WireError:
        return
    assert all(isinstance(m, Message) for m in messages)


@FUZZ
@given(st.lists(_json_like, min_size=7, max_size=7), st.sampled_from([0, 1, 2]))
def test_random_structures_only_ever_raise_wire_error(values: list[Any], version: int) -> None:
    # Well-formed msgpack with arbitrary field values: validation must hold.
    try:
        messages = wire.decode(pack([version, [values]]))
    except WireError:
        return
    assert version == wire.PROTOCOL_VERSION
    assert len(messages) == 1
    assert messages[0].control in {c.value for c in Control}


@FUZZ
@given(st.binary(min_size=1, max_size=64), st.integers(0, 64))
def test_corrupted_valid_frames_only_ever_raise_wire_error(noise: bytes, position: int) -> None:
    frame = bytearray(wire.encode([Message("a", Control.JOB_END.value, "RUN", {"k": [1, 2]}, "i")]))
    position = min(position, len(frame))
    frame[position:position + len(noise)] = noise
    try:
        wire.decode(bytes(frame))
    except WireError:
        pass


# -- unix-socket framing -------------------------------------------------------
def test_frame_json_is_length_prefixed_compact_json() -> None:
    framed = wire.frame_json({"a": 1, "b": [1, 2]})
    body = b'{"a":1,"b":[1,2]}'
    assert framed == len(body).to_bytes(wire.LENGTH_BYTES, "big") + body
    size = wire.frame_length(framed[:wire.LENGTH_BYTES])
    assert size == len(body)
    assert wire.parse_json(framed[wire.LENGTH_BYTES:wire.LENGTH_BYTES + size]) == {"a": 1, "b": [1, 2]}


def test_frame_json_round_trips_unicode() -> None:
    obj = {"text": "héllo ✓", "n": None}
    framed = wire.frame_json(obj)
    assert wire.parse_json(framed[wire.LENGTH_BYTES:]) == obj


def test_frame_length_limit() -> None:
    prefix = (1000).to_bytes(wire.LENGTH_BYTES, "big")
    assert wire.frame_length(prefix, limit=1000) == 1000
    with pytest.raises(WireError, match="exceeds"):
        wire.frame_length(prefix, limit=999)
    with pytest.raises(WireError):
        wire.frame_length(b"\xff\xff\xff\xff")  # 4 GiB > default limit


@pytest.mark.parametrize("body", [b"", b"{", b"not json", b"\xff\xfe\x00", b'{"a": }'])
def test_parse_json_rejects_garbage(body: bytes) -> None:
    with pytest.raises(WireError, match="not JSON"):
        wire.parse_json(body)


def test_parse_json_accepts_any_json_value() -> None:
    assert wire.parse_json(json.dumps([1, "two", None]).encode()) == [1, "two", None]


def test_new_ids_are_unique_and_differ_between_processes() -> None:
    ids = {wire.new_id() for _ in range(10_000)}
    assert len(ids) == 10_000
    other = subprocess.run([sys.executable, "-c", "from directord import wire; print(wire.new_id())"],
                           capture_output=True, text=True, check=True).stdout.strip()
    assert other.rsplit("-", 1)[0] != wire.new_id().rsplit("-", 1)[0]  # another process, another prefix


def _sent_with(delivery_args: dict[str, Any], scenario: Any) -> tuple[list[tuple[str, bytes]], list[str]]:
    """Run ``scenario(delivery)`` on a loop; the frames sent and each message ``wire.pack`` encoded."""
    sent: list[tuple[str, bytes]] = []
    packed: list[str] = []
    real_pack = wire.pack

    def counting(message: Message) -> bytes:
        packed.append(message.msg_id)
        return real_pack(message)

    async def main() -> None:
        await scenario(Delivery(lambda node, frame: sent.append((node, frame)) is None, **delivery_args))

    wire.pack = counting
    try:
        asyncio.run(main())
    finally:
        wire.pack = real_pack
    return sent, packed


def test_delivery_encodes_each_message_of_a_fan_out_once_and_every_peer_gets_it() -> None:
    async def scenario(delivery: Delivery) -> None:
        job = Message("j1", Control.JOB.value, "RUN", data={"command": "true"})
        for node in ("a", "b", "c"):
            delivery.queue(node, job, reliable=True)
        delivery.queue("c", Message("h1", Control.HEARTBEAT.value))  # c's batch differs from a's and b's
        await asyncio.sleep(0)

    sent, packed = _sent_with({}, scenario)
    assert sorted(packed) == ["h1", "j1"]
    frames = dict(sent)
    assert frames["a"] is frames["b"]
    assert [m.msg_id for m in wire.decode(frames["a"])] == ["j1"]
    assert [m.msg_id for m in wire.decode(frames["c"])] == ["j1", "h1"]


def test_acks_ride_with_the_next_frame_or_leave_after_the_delay_once_stored() -> None:
    stored: list[float] = []

    async def scenario(delivery: Delivery) -> None:
        delivery.acknowledge("a", "r1")
        delivery.acknowledge("a", "r2")
        delivery.acknowledge("b", "r3")
        delivery.queue("a", Message("j2", Control.JOB.value, "RUN"), reliable=True)
        await asyncio.sleep(0)
        assert len(stored) == 1  # stored before a's acks left
        await asyncio.sleep(0.3)  # b had nothing else coming: its ack left on its own

    sent, _packed = _sent_with({"ack_delay": 0.1, "before_acks": lambda: stored.append(time.monotonic())},
                               scenario)
    assert [(node, [(m.control, m.msg_id if m.control != Control.ACK.value else m.data)
                    for m in wire.decode(frame)]) for node, frame in sent] == [
        ("a", [(Control.JOB.value, "j2"), (Control.ACK.value, ["r1", "r2"])]),
        ("b", [(Control.ACK.value, ["r3"])]),
    ]
    assert len(stored) == 2


def test_resend_is_due_by_the_oldest_send_and_tracked_messages_are_always_due() -> None:
    async def scenario(delivery: Delivery) -> None:
        first, second = (Message(f"j{n}", Control.JOB.value, "RUN") for n in (1, 2))
        delivery.queue("a", first, reliable=True)
        delivery.queue("a", second, reliable=True)
        await asyncio.sleep(0)
        sent_at = time.monotonic()
        assert delivery.resend("a", older_than=sent_at - 60) == 0  # nothing that old
        delivery.queue("a", first, reliable=True)  # re-sent: now the newest
        await asyncio.sleep(0)
        assert list(delivery.unacked("a")) == ["j2", "j1"]
        delivery.track("a", Message("j0", Control.JOB.value, "RUN"))  # restored: never sent
        assert list(delivery.unacked("a")) == ["j0", "j2", "j1"]
        assert delivery.resend("a", older_than=sent_at - 60) == 1  # the tracked one only
        assert delivery.resend("a", older_than=time.monotonic() + 1) == 3
        delivery.acked("a", "j0")
        delivery.acked("a", "j1")
        delivery.acked("a", "j2")
        assert delivery.unacked_nodes() == []

    _sent_with({}, scenario)
