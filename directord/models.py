"""Data model: control codes, wire messages, job records and nodes."""

from __future__ import annotations

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


@dataclass
class JobRecord:
    """Everything the server knows about one job, per node.

    Per-node maps are keyed by node identity; ``processing`` holds the latest
    control code ("\\x00" until the node answers) and has every node. ``info``,
    ``stdout`` and ``stderr`` hold only what nodes reported (a node without an
    entry has None): a job to 10,000 nodes keeps no 30,000 empty entries.
    """

    job_id: str
    definition: Job
    nodes: list[str]
    created: float = field(default_factory=time.time)
    last: float = 0.0
    processing: dict[str, str] = field(default_factory=dict)
    info: dict[str, str | None] = field(default_factory=dict)
    stdout: dict[str, str | None] = field(default_factory=dict)
    stderr: dict[str, str | None] = field(default_factory=dict)
    execution: dict[str, float] = field(default_factory=dict)
    roundtrip: dict[str, float] = field(default_factory=dict)
    component_timestamp: str | None = None
    return_timestamp: str | None = None
    coordinated: bool = False  # the component's follow-up jobs were submitted (QUERY)
    _open: int = field(default=0, init=False, repr=False, compare=False)  # nodes not yet in a final state

    def __post_init__(self) -> None:
        if not self.processing:  # a new record: the quick way
            self.processing = dict.fromkeys(self.nodes, _NULL)
            self._open = len(self.processing)
        else:
            for node in self.nodes:
                self.processing.setdefault(node, _NULL)
            self._open = sum(1 for control in self.processing.values() if control not in FINAL_STATES)
        self.last = self.last or self.created

    # -- derived -------------------------------------------------------------
    @property
    def verb(self) -> str:
        return self.definition.verb

    @property
    def parent_id(self) -> str:
        return self.definition.parent_id or self.job_id

    @property
    def success(self) -> list[str]:
        return sorted(n for n, c in self.processing.items() if c == _END)

    @property
    def failed(self) -> list[str]:
        return sorted(n for n, c in self.processing.items() if c == _FAILED)

    @property
    def complete(self) -> bool:
        """Has every node reached a final state? (kept as a count: this runs for every result)"""
        return self._open == 0

    def is_final(self, node: str) -> bool:
        return self.processing.get(node) in FINAL_STATES

    # -- mutation ------------------------------------------------------------
    def add_nodes(self, nodes: list[str]) -> None:
        for node in nodes:
            if node not in self.processing:
                self.nodes.append(node)
                self._open += 1
                self.processing[node] = _NULL

    def apply(self, node: str, msg: Message, now: float | None = None) -> bool:
        """Record one status from ``node``; returns False when it was ignored.

        A node that already reached a final state keeps it: late or repeated
        results never flip a finished job.
        """
        current = self.processing.get(node)
        if current is None or current in FINAL_STATES:
            return False
        now = time.time() if now is None else now
        control = msg.control
        self.processing[node] = control
        if msg.info not in _EMPTY:
            self.info[node] = shared_text(msg.info)
        if msg.stdout not in _EMPTY:
            self.stdout[node] = shared_text(msg.stdout)
        if msg.stderr not in _EMPTY:
            self.stderr[node] = shared_text(msg.stderr)
        self.last = now
        if control in FINAL_STATES:
            self._open -= 1
            data = msg.data if isinstance(msg.data, dict) else {}
            self.roundtrip[node] = max(now - self.created, 0.0)
            exec_time = data.get("execution_time")
            if isinstance(exec_time, (int, float)):
                self.execution[node] = float(exec_time)
            self.component_timestamp = data.get("component_exec_timestamp") or self.component_timestamp
            self.return_timestamp = data.get("return_timestamp") or self.return_timestamp
        return True

    def mark_queued(self, node: str) -> bool:
        """The node acknowledged the job; True if that changed its state."""
        if self.processing.get(node) != _NULL:
            return False
        self.processing[node] = Control.JOB_PROCESSING.value
        self.info[node] = "task queued"
        return True

    def requeue(self, node: str, info: str) -> bool:
        """``node`` gave the job back unstarted: it waits to be sent again (state "\\x00")."""
        if node not in self.processing or self.is_final(node):
            return False
        self.processing[node] = _NULL
        self.info[node] = info
        return True

    def fail(self, node: str, reason: str, now: float | None = None) -> bool:
        """Mark ``node`` failed (expiry, unknown target, purge) unless already final."""
        return self.apply(node, Message(self.job_id, Control.JOB_FAILED.value, self.verb, info=reason), now)

    # -- views ---------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        """Small completion view used by waiters and progress bars."""
        return {
            "complete": self.complete,
            "nodes": sorted(self.processing),
            "success": self.success,
            "failed": self.failed,
            "skipped": bool(self.definition.skipped),
        }

    def to_dict(self) -> dict[str, Any]:
        """The upstream-compatible job view (``manage --job-info`` keys)."""
        execution = _mean(list(self.execution.values()))
        roundtrip = _mean(list(self.roundtrip.values()))
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
            "INFO": self._per_node(self.info),
            "PROCESSING": not self.complete,
            "RETURN_TIMESTAMP": self.return_timestamp,
            "STDERR": self._per_node(self.stderr),
            "STDOUT": self._per_node(self.stdout),
            "ROUNDTRIP_TIME": roundtrip,
            "EXECUTION_TIME": execution,
            "SUCCESS": self.success,
            "FAILED": self.failed,
            "_createtime": self.created,
            "_lasttime": self.last,
            "_processing": dict(self.processing),
            "_executiontime": dict(self.execution),
            "_roundtripltime": dict(self.roundtrip),
            "_nodes": sorted(self.processing),
        }

    def _per_node(self, reported: dict[str, str | None]) -> dict[str, str | None]:
        """What each node reported, None for those that reported nothing."""
        return {node: reported.get(node) for node in self.processing}

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
