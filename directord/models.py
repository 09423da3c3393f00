"""Data model: control codes, wire messages, job records and nodes."""

from __future__ import annotations

import array
import enum
import time
from dataclasses import dataclass, field
from typing import Any

from directord.job import Job


class Control(str, enum.Enum):
    """Single-character control codes (upstream values, plus dispatch and ack)."""

    NULL = "\x00"
    JOB = "\x01"  # server -> client: a job to run
    TRANSFER_START = "\x02"
    TRANSFER_END = "\x03"
    JOB_END = "\x04"  # finished successfully
    HEARTBEAT = "\x05"
    ACK = "\x06"  # server -> client: these results are recorded
    COORDINATION_FAILED = "\x07"
    COORDINATION_ACK = "\x10"
    COORDINATION_NOTICE = "\x11"
    RETURN = "\x12"  # client -> server: these queued jobs were never started (the client is stopping)
    JOB_FAILED = "\x15"
    JOB_PROCESSING = "\x16"


FINAL_STATES = frozenset({Control.JOB_END.value, Control.JOB_FAILED.value})
_NULL, _END, _FAILED = Control.NULL.value, Control.JOB_END.value, Control.JOB_FAILED.value
_FINAL_BYTES = frozenset(ord(control) for control in FINAL_STATES)
_NULL_BYTE, _END_BYTE, _FAILED_BYTE = ord(_NULL), ord(_END), ord(_FAILED)
_PROCESSING_BYTE = ord(Control.JOB_PROCESSING.value)
_EMPTY = frozenset({None, "", _NULL})  # text a status leaves out
_SHARED_TEXT_CHARS = 64
_SHARED_TEXTS = 4096
_texts: dict[str, str] = {}


def shared_text(text: str) -> str:
    """One stored copy of a short text that many nodes report alike ("task finished", "ok\\n")."""
    if len(text) > _SHARED_TEXT_CHARS:
        return text
    found = _texts.get(text)
    if found is None:
        if len(_texts) >= _SHARED_TEXTS:  # bounded: odd texts from nodes cannot grow it for ever
            _texts.clear()
        found = _texts[text] = text
    return found


class Status(str, enum.Enum):
    """Human-facing per-node state derived from the control code."""

    PENDING = "pending"
    PROCESSING = "processing"
    SUCCESS = "success"
    FAILED = "failed"

    @classmethod
    def of(cls, control: str) -> Status:
        return {
            Control.JOB_END.value: cls.SUCCESS,
            Control.JOB_FAILED.value: cls.FAILED,
            Control.JOB_PROCESSING.value: cls.PROCESSING,
        }.get(control, cls.PENDING)


@dataclass(slots=True)
class Message:
    """One logical message: upstream's seven fields (the identity travels beside it)."""

    msg_id: str
    control: str
    command: str = ""
    data: Any = None
    info: str | None = None
    stderr: str | None = None
    stdout: str | None = None


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


_NAN = float("nan")
_SLOT_MAPS: dict[tuple[str, ...], dict[str, int]] = {}  # node list -> node's position, shared by records
_SLOT_MAPS_KEPT = 256


def _recorded(seconds: float) -> float | None:
    """A time column's value, None where nothing was recorded (NaN)."""
    return None if seconds != seconds else seconds


def _slot_map(nodes: list[str]) -> dict[str, int]:
    """Each node's position in ``nodes``; records to the same nodes share one map (read-only)."""
    key = tuple(nodes)
    found = _SLOT_MAPS.get(key)
    if found is None:
        if len(_SLOT_MAPS) >= _SLOT_MAPS_KEPT:
            _SLOT_MAPS.clear()
        found = _SLOT_MAPS[key] = {node: slot for slot, node in enumerate(dict.fromkeys(nodes))}
    return found


class JobRecord:
    """Everything the server knows about one job, per node.

    The per-node state is kept in columns (a control byte, round-trip and
    execution seconds, an info text) indexed by the node's position, so a
    record to six nodes costs about a kilobyte and one to 10,000 nodes keeps
    no dict entry per node and no float object per time. ``processing``,
    ``info``, ``execution`` and ``roundtrip`` are dict views built on demand
    (``processing`` has every node: "\\x00" until the node answers).
    ``stdout``/``stderr`` hold only what nodes reported (absent: None).
    """

    __slots__ = ("job_id", "definition", "nodes", "created", "last", "stdout", "stderr",
                 "component_timestamp", "return_timestamp", "coordinated",
                 "_slots", "_states", "_times", "_info", "_open")
    STATE_FIELDS = ("job_id", "definition", "nodes", "created", "last", "processing", "info", "stdout",
                    "stderr", "execution", "roundtrip", "component_timestamp", "return_timestamp", "coordinated")

    def __init__(self, job_id: str, definition: Job, nodes: list[str], created: float | None = None,
                 last: float = 0.0, processing: dict[str, str] | None = None,
                 info: dict[str, str | None] | None = None, stdout: dict[str, str | None] | None = None,
                 stderr: dict[str, str | None] | None = None, execution: dict[str, float] | None = None,
                 roundtrip: dict[str, float] | None = None, component_timestamp: str | None = None,
                 return_timestamp: str | None = None, coordinated: bool = False):
        self.job_id = job_id
        self.definition = definition
        self.created = time.time() if created is None else created
        self.last = last or self.created
        self.stdout: dict[str, str | None] = dict(stdout or {})
        self.stderr: dict[str, str | None] = dict(stderr or {})
        self.component_timestamp = component_timestamp
        self.return_timestamp = return_timestamp
        self.coordinated = coordinated  # the component's follow-up jobs were submitted (QUERY)
        every = list(dict.fromkeys([*nodes, *(processing or {})]))
        self.nodes = nodes
        self._slots = _slot_map(every)
        self._states = bytearray(len(every))  # every node at NULL
        self._times = array.array("d", [_NAN]) * (2 * len(every))  # [roundtrip, execution] per node
        self._info: list[str | None] = [None] * len(every)
        self._open = len(every)
        for node, control in (processing or {}).items():
            self._set_state(self._slots[node], control)
        for node, text in (info or {}).items():
            if node in self._slots:
                self._info[self._slots[node]] = text
        for column, times in ((0, roundtrip), (1, execution)):
            for node, seconds in (times or {}).items():
                if node in self._slots:
                    self._times[2 * self._slots[node] + column] = float(seconds)

    def _set_state(self, slot: int, control: str) -> None:
        was_open = self._states[slot] not in _FINAL_BYTES
        self._states[slot] = ord(control)
        if was_open and self._states[slot] in _FINAL_BYTES:
            self._open -= 1

    # -- derived -------------------------------------------------------------
    @property
    def verb(self) -> str:
        return self.definition.verb

    @property
    def parent_id(self) -> str:
        return self.definition.parent_id or self.job_id

    @property
    def processing(self) -> dict[str, str]:
        """Each node's latest control code (a copy)."""
        states = self._states
        return {node: chr(states[slot]) for node, slot in self._slots.items()}

    @property
    def info(self) -> dict[str, str | None]:
        """The info text each node reported (a copy; a node without one is absent)."""
        texts = self._info
        return {node: texts[slot] for node, slot in self._slots.items() if texts[slot] is not None}

    @property
    def roundtrip(self) -> dict[str, float]:
        """Seconds from submission to each finished node's result (a copy)."""
        return self._column(0)

    @property
    def execution(self) -> dict[str, float]:
        """Seconds each finished node reports it ran the job (a copy)."""
        return self._column(1)

    def _column(self, column: int) -> dict[str, float]:
        times = self._times
        found = {node: _recorded(times[2 * slot + column]) for node, slot in self._slots.items()}
        return {node: seconds for node, seconds in found.items() if seconds is not None}

    def _with_state(self, control: int) -> list[str]:
        states = self._states
        return sorted(node for node, slot in self._slots.items() if states[slot] == control)

    @property
    def success(self) -> list[str]:
        return self._with_state(_END_BYTE)

    @property
    def failed(self) -> list[str]:
        return self._with_state(_FAILED_BYTE)

    def has_failed(self) -> bool:
        """Did any node fail it? (without listing them)"""
        return _FAILED_BYTE in self._states

    @property
    def complete(self) -> bool:
        """Has every node reached a final state? (kept as a count: this runs for every result)"""
        return self._open == 0

    def has_node(self, node: str) -> bool:
        return node in self._slots

    def times(self, node: str) -> tuple[float | None, float | None]:
        """``node``'s round-trip and execution seconds, None where not recorded."""
        slot = self._slots.get(node)
        if slot is None:
            return None, None
        return _recorded(self._times[2 * slot]), _recorded(self._times[2 * slot + 1])

    def is_final(self, node: str) -> bool:
        slot = self._slots.get(node)
        return slot is not None and self._states[slot] in _FINAL_BYTES

    # -- mutation ------------------------------------------------------------
    def add_nodes(self, nodes: list[str]) -> None:
        added = [node for node in dict.fromkeys(nodes) if node not in self._slots]
        if not added:
            return
        self.nodes.extend(added)
        self._slots = _slot_map([*self._slots, *added])  # never change a map other records share
        self._states.extend(bytes(len(added)))
        self._times.extend([_NAN] * (2 * len(added)))
        self._info.extend([None] * len(added))
        self._open += len(added)

    def apply(self, node: str, msg: Message, now: float | None = None) -> bool:
        """Record one status from ``node``; returns False when it was ignored.

        A node that already reached a final state keeps it: late or repeated
        results never flip a finished job.
        """
        slot = self._slots.get(node)
        if slot is None or self._states[slot] in _FINAL_BYTES:
            return False
        now = time.time() if now is None else now
        control = msg.control
        self._states[slot] = ord(control)
        if msg.info not in _EMPTY:
            self._info[slot] = shared_text(msg.info)
        if msg.stdout not in _EMPTY:
            self.stdout[node] = shared_text(msg.stdout)
        if msg.stderr not in _EMPTY:
            self.stderr[node] = shared_text(msg.stderr)
        self.last = now
        if control in FINAL_STATES:
            self._open -= 1
            data = msg.data if isinstance(msg.data, dict) else {}
            self._times[2 * slot] = max(now - self.created, 0.0)
            exec_time = data.get("execution_time")
            if isinstance(exec_time, (int, float)):
                self._times[2 * slot + 1] = float(exec_time)
            self.component_timestamp = data.get("component_exec_timestamp") or self.component_timestamp
            self.return_timestamp = data.get("return_timestamp") or self.return_timestamp
        return True

    def mark_queued(self, node: str) -> bool:
        """The node acknowledged the job; True if that changed its state."""
        slot = self._slots.get(node)
        if slot is None or self._states[slot] != _NULL_BYTE:
            return False
        self._states[slot] = _PROCESSING_BYTE
        self._info[slot] = "task queued"
        return True

    def requeue(self, node: str, info: str) -> bool:
        """``node`` gave the job back unstarted: it waits to be sent again (state "\\x00")."""
        slot = self._slots.get(node)
        if slot is None or self._states[slot] in _FINAL_BYTES:
            return False
        self._states[slot] = _NULL_BYTE
        self._info[slot] = info
        return True

    def fail(self, node: str, reason: str, now: float | None = None) -> bool:
        """Mark ``node`` failed (expiry, unknown target, purge) unless already final."""
        return self.apply(node, Message(self.job_id, Control.JOB_FAILED.value, self.verb, info=reason), now)

    # -- views ---------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        """Small completion view used by waiters and progress bars."""
        return {
            "complete": self.complete,
            "nodes": sorted(self._slots),
            "success": self.success,
            "failed": self.failed,
            "skipped": bool(self.definition.skipped),
        }

    ROW_FIELDS = ("id", "verb", "name", "parent_id", "parent_name", "created", "last", "nodes", "success", "failed",
                  "complete", "skipped", "roundtrip_max")

    def row(self) -> list[Any]:
        """A compact summary for lists (the values of ``ROW_FIELDS``): counts rather than per-node maps."""
        job = self.definition
        states = self._states
        finished = [seconds for seconds in self._times[0::2] if _recorded(seconds) is not None]
        return [self.job_id, self.verb, job.job_name or "", self.parent_id, job.parent_name or "", self.created,
                self.last, len(states), states.count(_END_BYTE), states.count(_FAILED_BYTE), self.complete,
                job.skipped, max(finished) if finished else None]

    def timeline(self) -> dict[str, Any]:
        """Per node: [round trip, execution, control] (seconds None until the node finished)."""
        return {"id": self.job_id, "verb": self.verb, "name": self.definition.job_name or "",
                "created": self.created,
                "nodes": {node: [*self.times(node), chr(self._states[slot])] for node, slot in self._slots.items()}}

    def to_dict(self) -> dict[str, Any]:
        """The upstream-compatible job view (``manage --job-info`` keys)."""
        execution = self.execution
        roundtrip = self.roundtrip
        job = self.definition
        return {
            "JOB_ID": self.job_id,
            "JOB_DEFINITION": job.to_dict(),
            "JOB_SHA3_224": job.job_sha3_224 or None,
            "JOB_NAME": job.job_name or job.job_sha3_224 or None,
            "PARENT_JOB_ID": self.parent_id,
            "PARENT_JOB_NAME": job.parent_name or self.parent_id,
            "VERB": self.verb,
            "COMPONENT_TIMESTAMP": self.component_timestamp,
            "INFO": {node: self._info[slot] for node, slot in self._slots.items()},
            "PROCESSING": not self.complete,
            "RETURN_TIMESTAMP": self.return_timestamp,
            "STDERR": self._per_node(self.stderr),
            "STDOUT": self._per_node(self.stdout),
            "ROUNDTRIP_TIME": _mean(list(roundtrip.values())),
            "EXECUTION_TIME": _mean(list(execution.values())),
            "SUCCESS": self.success,
            "FAILED": self.failed,
            "_createtime": self.created,
            "_lasttime": self.last,
            "_processing": self.processing,
            "_executiontime": execution,
            "_roundtripltime": roundtrip,
            "_nodes": sorted(self._slots),
        }

    def _per_node(self, reported: dict[str, str | None]) -> dict[str, str | None]:
        """What each node reported, None for those that reported nothing."""
        return {node: reported.get(node) for node in self._slots}

    def to_state(self) -> dict[str, Any]:
        """Compact serialisable form for persistent datastores."""
        return {
            "job_id": self.job_id,
            "definition": self.definition.to_dict(),
            "nodes": self.nodes,
            "created": self.created,
            "last": self.last,
            "processing": self.processing,
            "info": self.info,
            "stdout": self.stdout,
            "stderr": self.stderr,
            "execution": self.execution,
            "roundtrip": self.roundtrip,
            "component_timestamp": self.component_timestamp,
            "return_timestamp": self.return_timestamp,
            "coordinated": self.coordinated,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> JobRecord:
        """The record ``to_state`` wrote (RequestError if its job is malformed)."""
        return cls(**{**state, "definition": Job.from_dict(state["definition"])})

    def __eq__(self, other: object) -> bool:
        return isinstance(other, JobRecord) and self.to_state() == other.to_state()

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return (f"JobRecord(job_id={self.job_id!r}, verb={self.verb!r}, nodes={len(self._slots)},"
                f" complete={self.complete})")


@dataclass
class Node:
    """A registered client, refreshed by its heartbeats."""

    identity: str
    expire_time: float
    machine_id: str = ""
    version: str = ""
    host_uptime: float = 0.0
    agent_uptime: float = 0.0
    driver: str = ""
    session: str = ""
    joined: float = field(default_factory=time.time)
    held: str = ""  # why jobs for it wait on the server (e.g. "held (REBOOT)"), until held_until
    held_until: float = 0.0
    held_by: str = ""  # the job that started the hold
    server: str = ""  # the id of the (active) server the node reports to

    @property
    def expiry(self) -> float:
        return self.expire_time - time.time()

    @property
    def expired(self) -> bool:
        return time.time() >= self.expire_time

    def to_dict(self) -> dict[str, Any]:
        return {
            "identity": self.identity,
            "expire_time": self.expire_time,
            "expiry": self.expiry,
            "machine_id": self.machine_id,
            "version": self.version,
            "host_uptime": self.host_uptime,
            "agent_uptime": self.agent_uptime,
            "driver": self.driver,
            "session": self.session,
            "joined": self.joined,
            "held": self.held,
            "held_until": self.held_until,
            "held_by": self.held_by,
            "server": self.server,
            "state": self.held if self.held_until > time.time() else "active",
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Node:
        fields = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**fields)
