"""Rows and columns for node and job views (upstream ``manage`` keys)."""

from __future__ import annotations

import datetime
import os
from typing import Any

from directord.cache import Cache
from directord.exceptions import DirectordError, NotFound
from directord.models import Control, Status

NODE_COLUMNS = ("ID", "EXPIRY", "VERSION", "HOST_UPTIME", "AGENT_UPTIME", "MACHINE_ID", "DRIVER", "STATE", "SERVER")
JOB_COLUMNS = ("ID", "PARENT_JOB_NAME", "VERB", "EXECUTION_TIME", "PROCESSING", "SUCCESS", "FAILED")
JOB_LIST_COLUMNS = ("ID", "NAME", "PARENT_JOB_ID", "PARENT_JOB_NAME", "VERB", "EXECUTION_TIME", "ROUNDTRIP_TIME",
                    "PROCESSING", "SUCCESS", "FAILED")
FILTERS = ("success", "failed", "processing")
_STATES = frozenset(c.value for c in (Control.NULL, Control.JOB_END, Control.JOB_FAILED, Control.JOB_PROCESSING))


def _uptime(seconds: Any) -> str:
    return str(datetime.timedelta(seconds=float(seconds or 0)))


def _seconds(value: Any) -> str:
    return f"{value:.8f}" if isinstance(value, (int, float)) else "0"


def node_rows(nodes: list[dict[str, Any]]) -> list[tuple]:
    """One row per live node; none is an error (``node list`` is a readiness probe)."""
    if not nodes:
        raise NotFound("No data found")
    return [
        (n["identity"], round(n["expiry"], 2), n.get("version") or 0, _uptime(n.get("host_uptime")),
         _uptime(n.get("agent_uptime")), n.get("machine_id") or 0, n.get("driver") or 0, n.get("state", "active"),
         n.get("server") or "")
        for n in nodes
    ]


def filter_jobs(jobs: list[dict[str, Any]], which: str | None) -> list[dict[str, Any]]:
    if which == "success":
        return [j for j in jobs if j["SUCCESS"]]
    if which == "failed":
        return [j for j in jobs if j["FAILED"]]
    if which == "processing":
        return [j for j in jobs if j["PROCESSING"]]
    return jobs


def job_rows(jobs: list[dict[str, Any]], which: str | None = None,
             columns: tuple[str, ...] = JOB_COLUMNS) -> list[tuple]:
    """One row per job (none: no rows); SUCCESS/FAILED are node counts, times 8-decimal seconds."""
    jobs = filter_jobs(jobs, which)
    cells = {
        "ID": lambda j: j["JOB_ID"],
        "NAME": lambda j: j["JOB_NAME"],
        "EXECUTION_TIME": lambda j: _seconds(j["EXECUTION_TIME"]),
        "ROUNDTRIP_TIME": lambda j: _seconds(j["ROUNDTRIP_TIME"]),
        "SUCCESS": lambda j: len(j["SUCCESS"]),
        "FAILED": lambda j: len(j["FAILED"]),
    }
    return [tuple(cells[c](j) if c in cells else j[c] for c in columns) for j in jobs]


def _cell(key: str, value: Any) -> Any:
    if isinstance(value, dict):
        return "\n".join(f"{k} = {v}" for k, v in value.items() if v)
    if isinstance(value, list):
        return "\n".join(map(str, value))
    if key in ("EXECUTION_TIME", "ROUNDTRIP_TIME"):
        return _seconds(value)
    return value


def job_info_rows(record: dict[str, Any], flatten: bool = True) -> list[tuple[str, Any]]:
    """KEY/VALUE rows: the job's ID first, then every non-null public field."""
    rows: list[tuple[str, Any]] = [("ID", record["JOB_ID"])]
    for key, value in record.items():
        if key.startswith("_") or value is None:
            continue
        rows.append((key.upper(), _cell(key, value) if flatten else value))
    return rows


def analysis_rows(result: dict[str, Any]) -> list[tuple[str, Any]]:
    """KEY/VALUE rows: ID first, then the other keys sorted."""
    return [("ID", result["ID"])] + [(key, result[key]) for key in sorted(result) if key != "ID"]


def export_yaml(path: str, mapping: dict[str, Any]) -> list[tuple[str, Any]]:
    """Write ``mapping`` as block YAML to ``path``; KEY/VALUE rows describing it."""
    import yaml  # only for an export file

    target = os.path.abspath(os.path.expanduser(path))
    try:
        with open(target, "w", encoding="utf-8") as handle:
            yaml.safe_dump(mapping, handle, default_flow_style=False, sort_keys=False)
    except OSError as exc:
        raise DirectordError(f"cannot write {target}: {exc.strerror}") from None
    return [("EXPORTED", target), ("ITEMS", len(mapping))]


EXPORTS = {  # what -> (user API operation, key of each item)
    "jobs": ("list_jobs", "JOB_ID"),
    "nodes": ("list_nodes", "identity"),
}


def export_rows(user: Any, what: str, path: str) -> list[tuple[str, Any]]:
    """Fetch every job or live node and write them to ``path`` as ``{id: item}`` YAML."""
    op, key = EXPORTS[what]
    return export_yaml(path, {item[key]: item for item in user.call(op)})


def cache_rows(cache_path: str) -> list[tuple[str, Any]]:
    """KEY/VALUE rows of the local client cache (``<cache_path>/client``), job and
    parent states by name (success, failed, processing, pending); empty: no rows."""
    path = os.path.join(cache_path, "client", "cache.sqlite")
    if not os.path.isfile(path):
        raise NotFound(f"No data found: no client cache at {path}")
    with Cache(path) as cache:
        entries = cache.dump()
    return [(key, Status.of(value).value if isinstance(value, str) and value in _STATES else value)
            for key, value in entries.items()]


def show(rows: list[tuple[str, Any]]) -> tuple[tuple[str, ...], tuple[Any, ...]]:
    """KEY/VALUE rows as cliff ShowOne's (columns, values)."""
    return tuple(key for key, _ in rows), tuple(value for _, value in rows)
