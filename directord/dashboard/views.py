"""The dashboard's lists: filtered and paged here, so a browser never holds 10,000 jobs."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

STATUSES = ("running", "success", "failed", "skipped")
PAGE = 100
MAX_PAGE = 1000


def job_status(row: dict[str, Any]) -> str:
    if row["skipped"]:
        return "skipped"
    if row["failed"]:
        return "failed"
    return "success" if row["complete"] else "running"


def _matches(text: str, *fields: Any) -> bool:
    return not text or any(text in str(field).lower() for field in fields)


def page(items: list[Any], offset: int, limit: int) -> dict[str, Any]:
    limit = min(max(limit, 1), MAX_PAGE)
    offset = max(offset, 0)
    return {"total": len(items), "offset": offset, "limit": limit, "rows": items[offset:offset + limit]}


def node_rows(nodes: Iterable[dict[str, Any]], text: str, interval: float) -> list[dict[str, Any]]:
    """Nodes whose name holds ``text``, with the age of their last heartbeat (seconds)."""
    text = text.lower()
    rows = []
    for node in nodes:
        if not _matches(text, node.get("identity")):
            continue
        expiry = float(node.get("expiry") or 0.0)
        rows.append({"id": node.get("identity"), "state": node.get("state", "active"), "held": node.get("held"),
                     "version": node.get("version"), "driver": node.get("driver"), "server": node.get("server"),
                     "heartbeat_age": max(interval * 3 - expiry, 0.0) if interval else None,
                     "agent_uptime": node.get("agent_uptime"), "host_uptime": node.get("host_uptime")})
    return rows


def job_rows(rows: Iterable[dict[str, Any]], status: str, text: str) -> list[dict[str, Any]]:
    """Jobs (newest first) of ``status`` (any when empty) whose id, verb or names hold ``text``."""
    text = text.lower()
    found = []
    for row in rows:
        state = job_status(row)
        if status and state != status:
            continue
        if not _matches(text, row["id"], row["verb"], row["name"], row["parent_name"], row["parent_id"]):
            continue
        found.append({**row, "status": state})
    found.sort(key=lambda row: row["created"], reverse=True)
    return found


def orchestration_rows(rows: Iterable[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    """One row per parent (newest first): its jobs' counts and the time from first submission to last result."""
    by_parent: dict[str, dict[str, Any]] = {}
    for row in rows:
        parent = by_parent.setdefault(row["parent_id"], {
            "id": row["parent_id"], "name": row["parent_name"], "jobs": 0, "running": 0, "success": 0,
            "failed": 0, "skipped": 0, "nodes": 0, "created": row["created"], "last": row["last"]})
        parent["jobs"] += 1
        parent[job_status(row)] += 1
        parent["nodes"] = max(parent["nodes"], row["nodes"])
        parent["created"] = min(parent["created"], row["created"])
        parent["last"] = max(parent["last"], row["last"])
    text = text.lower()
    found = [p for p in by_parent.values() if _matches(text, p["id"], p["name"])]
    for parent in found:
        parent["status"] = "failed" if parent["failed"] else "running" if parent["running"] else "success"
        parent["duration"] = parent["last"] - parent["created"]
    found.sort(key=lambda parent: parent["created"], reverse=True)
    return found
