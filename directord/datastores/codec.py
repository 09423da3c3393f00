"""JSON values for the persistent datastores, checked field by field on the way back.

Stores never hold pickles: a value is JSON text. Anything read back that is not
JSON, or is JSON of the wrong shape (a foreign program's key, a truncated
write, a hand edit), is logged once per read and skipped; it is never turned
into a record, let alone executed.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from directord.exceptions import RequestError
from directord.models import JobRecord, Node

LOG = logging.getLogger(__name__)

_NUMBER = (int, float)
_OPT_STR = (str, type(None))


def encode(state: dict[str, Any]) -> str:
    """Compact JSON; an odd non-JSON value becomes its text rather than failing the batch."""
    return json.dumps(state, separators=(",", ":"), default=str)


_NOT_JSON = object()


def _load(raw: str | bytes, kind: str, where: str) -> Any:
    """Parsed JSON, or ``_NOT_JSON`` (logged) for a corrupt value."""
    try:
        return json.loads(raw)
    except (ValueError, TypeError) as exc:
        LOG.warning("skipping a corrupt %s value at %s: not JSON (%s)", kind, where, exc)
        return _NOT_JSON


def _is_number(value: Any) -> bool:
    return isinstance(value, _NUMBER) and not isinstance(value, bool)


def _map_of(value: Any, kinds: tuple[type, ...], numbers: bool = False) -> bool:
    if not isinstance(value, dict):
        return False
    for key, item in value.items():
        if not isinstance(key, str):
            return False
        if numbers:
            if not _is_number(item):
                return False
        elif not isinstance(item, kinds):
            return False
    return True


def _job_problem(state: Any) -> str | None:
    """Why ``state`` is not a job record, or None when it is."""
    if not isinstance(state, dict):
        return f"expected a JSON object, got {type(state).__name__}"
    if not isinstance(state.get("job_id"), str) or not state["job_id"]:
        return "no job_id"
    if not isinstance(state.get("definition"), dict):
        return "definition is not an object"
    nodes = state.get("nodes")
    if not isinstance(nodes, list) or not all(isinstance(n, str) for n in nodes):
        return "nodes is not a list of strings"
    for key in ("created", "last"):
        if key in state and not _is_number(state[key]):
            return f"{key} is not a number"
    if "processing" in state and not _map_of(state["processing"], (str,)):
        return "processing is not a map of strings"
    for key in ("info", "stdout", "stderr"):
        if key in state and not _map_of(state[key], _OPT_STR):
            return f"{key} is not a map of strings"
    for key in ("execution", "roundtrip"):
        if key in state and not _map_of(state[key], (), numbers=True):
            return f"{key} is not a map of numbers"
    for key in ("component_timestamp", "return_timestamp"):
        if key in state and not isinstance(state[key], _OPT_STR):
            return f"{key} is not a string"
    if not isinstance(state.get("coordinated", False), bool):
        return "coordinated is not a boolean"
    return None


_JOB_FIELDS = frozenset(JobRecord.STATE_FIELDS)


def decode_job(raw: str | bytes | None, where: str, expected_id: str | None = None) -> JobRecord | None:
    """A JobRecord from stored JSON, or None (logged) when the value is not one."""
    state = _NOT_JSON if raw is None else _load(raw, "job", where)
    if state is _NOT_JSON:
        return None
    problem = _job_problem(state)
    if problem is None and expected_id is not None and state["job_id"] != expected_id:
        problem = f"it names job {state['job_id']!r}"
    if problem is not None:
        LOG.warning("skipping a foreign job value at %s: %s", where, problem)
        return None
    try:
        return JobRecord.from_state({k: v for k, v in state.items() if k in _JOB_FIELDS})
    except (TypeError, ValueError, RequestError) as exc:  # a malformed job, or a shape the checks missed
        LOG.warning("skipping a foreign job value at %s: %s", where, exc)
        return None


_NODE_TYPES: dict[str, tuple[type, ...]] = {
    "machine_id": (str,), "version": (str,), "driver": (str,), "session": (str,),
    "host_uptime": _NUMBER, "agent_uptime": _NUMBER, "joined": _NUMBER,
}


def decode_node(raw: str | bytes | None, where: str, expected_identity: str | None = None) -> Node | None:
    """A Node from stored JSON, or None (logged) when the value is not one."""
    data = _NOT_JSON if raw is None else _load(raw, "node", where)
    if data is _NOT_JSON:
        return None
    problem = None
    if not isinstance(data, dict):
        problem = f"expected a JSON object, got {type(data).__name__}"
    elif not isinstance(data.get("identity"), str) or not data["identity"]:
        problem = "no identity"
    elif not _is_number(data.get("expire_time")):
        problem = "expire_time is not a number"
    elif expected_identity is not None and data["identity"] != expected_identity:
        problem = f"it names node {data['identity']!r}"
    else:
        for key, kinds in _NODE_TYPES.items():
            if key in data and (not isinstance(data[key], kinds) or isinstance(data[key], bool)):
                problem = f"{key} has the wrong type"
                break
    if problem is not None:
        LOG.warning("skipping a foreign node value at %s: %s", where, problem)
        return None
    return Node.from_dict(data)
