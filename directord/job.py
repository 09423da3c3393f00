"""Job: one unit of work, typed, from orchestration through the wire to the node.

The fields every job has are attributes; the verb's own fields (``command``,
``to``, ``from``, ``query``, ...) live in ``fields``. The flat dict the
original Directord passed around (and that components' ``server()`` and
``client()`` still read and write) exists only at the edges: ``from_dict``
takes it in, validating, and ``to_dict`` gives it back.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass, field
from typing import Any

from directord.exceptions import RequestError


@dataclass(slots=True)
class Job:
    """A job; ``from_dict``/``to_dict`` convert from and to the original's dict shape.

    The common fields are declared in the order the original's dict had them.
    """

    verb: str
    timeout: int = 600  # seconds before the node kills it
    run_once: bool = False  # on one target only
    job_sha3_224: str = ""  # the fingerprint (``--restrict`` and the node's cache key)
    skip_cache: bool = False  # run even if the node's cache says it already succeeded
    force_lock: bool = False  # serialise with the other jobs of its verb on the node
    targets: list[str] = field(default_factory=list)  # empty: every live node
    parent_async: bool = False  # the parent's jobs run in a queue of their own
    parent_async_bypass: bool = False  # this job runs in a queue of its own
    parent_id: str = ""  # the job's orchestration; a lone job is its own parent
    parent_sha3_224: str = ""
    parent_name: str | None = None
    job_name: str | None = None
    restrict: list[str] = field(default_factory=list)  # run only if the fingerprint is listed
    job_id: str = ""
    callback: bool = False  # made by the server for a component (never what ``last`` names)
    callback_of: str = ""  # the job that waits on the node for this one to end
    skipped: str = ""  # why it ran nowhere (``--restrict``)
    component: dict[str, str] | None = None  # the server's component file: name, path, sha3_224
    fields: dict[str, Any] = field(default_factory=dict)  # the verb's own

    @classmethod
    def from_dict(cls, data: Any, default_id: str = "") -> Job:
        """A job from the original's flat dict; RequestError for a malformed one.

        A missing ``job_id`` becomes ``default_id`` or a new id; a lone job is its
        own parent. Keys that are not common fields are the verb's own.
        """
        if not isinstance(data, dict):
            raise RequestError("a job must be a JSON object")
        values: dict[str, Any] = {}
        fields: dict[str, Any] = {}
        for key, value in data.items():
            kind = _TYPES.get(key)
            if kind is None:
                if key == "ignore_cache":  # the original's spelling of skip_cache
                    values["skip_cache"] = bool(value) or bool(values.get("skip_cache"))
                elif key != "return_raw":  # the original's, never read
                    fields[str(key)] = value
            elif value is not None:
                values[key] = value if type(value) is kind and kind in _SCALARS else _checked(key, kind, value)
        if not values.get("verb"):
            raise RequestError("a job needs a 'verb'")
        job = cls(fields=fields, **values)
        job.job_id = job.job_id or default_id or str(uuid.uuid4())
        if not job.parent_id or job.parent_id == job.job_id:  # one string kept, not two equal copies
            job.parent_id = job.job_id
        return job

    def to_dict(self) -> dict[str, Any]:
        """The original's flat dict: the verb's fields, then every common field that is set."""
        data = {"verb": self.verb, **self.fields}
        for name, default, always in _OUTPUT:
            value = getattr(self, name)
            if always or value != default:
                data[name] = value
        return data

    def get(self, key: str, default: Any = None) -> Any:
        """A verb field by name (``fields.get``)."""
        return self.fields.get(key, default)

    def replace(self, **changes: Any) -> Job:
        """A copy with ``changes`` (common fields by name; ``fields`` merged, not replaced)."""
        if "fields" in changes:
            changes["fields"] = {**self.fields, **changes["fields"]}
        return dataclasses.replace(self, **changes)


_FIELDS = {f.name: f for f in dataclasses.fields(Job)}
_COMMON = tuple(name for name in _FIELDS if name != "fields")
_ALWAYS = frozenset({"verb", "job_id", "parent_id", "job_sha3_224", "timeout", "run_once",
                     "skip_cache", "parent_async"})
_DEFAULTS: dict[str, Any] = {
    name: f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
    for name, f in _FIELDS.items()
}
_TYPES: dict[str, type] = {
    "verb": str, "job_id": str, "parent_id": str, "job_sha3_224": str, "parent_sha3_224": str,
    "job_name": str, "parent_name": str, "targets": list, "restrict": list, "timeout": int,
    "run_once": bool, "skip_cache": bool, "force_lock": bool, "parent_async": bool,
    "parent_async_bypass": bool, "callback": bool, "callback_of": str, "skipped": str,
    "component": dict,
}


_SCALARS = frozenset({str, int, bool})
_OUTPUT = tuple((name, _DEFAULTS[name], name in _ALWAYS) for name in _COMMON if name != "verb")


def _checked(key: str, kind: type, value: Any) -> Any:
    """``value`` (a copy, for a container) if it is a ``kind`` as common field ``key`` needs; RequestError otherwise."""
    if kind is int and isinstance(value, bool) or not isinstance(value, kind):
        raise RequestError(f"job field {key!r} must be {kind.__name__}")
    if kind is list:
        if not all(isinstance(item, str) for item in value):
            raise RequestError(f"job field {key!r} must be a list of strings")
        return list(value)
    if kind is dict:
        if not all(isinstance(item, str) for item in value.values()):
            raise RequestError(f"job field {key!r} must map names to strings")
        return dict(value)
    return value
