"""Rows and columns for node and job views (upstream ``manage`` keys)."""

from __future__ import annotations

import datetime
from typing import Any

from directord.exceptions import NotFound

NODE_COLUMNS = ("ID", "EXPIRY", "VERSION", "HOST_UPTIME", "AGENT_UPTIME", "MACHINE_ID", "DRIVER")
JOB_COLUMNS = ("ID", "PARENT_JOB_NAME", "VERB", "EXECUTION_TIME", "PROCESSING", "SUCCESS", "FAILED")
FILTERS = ("success", "failed", "processing")


def _uptime(seconds: Any) -> str:
    return str(datetime.timedelta(seconds=float(seconds or 0)))


def _seconds(value: Any) -> str:
    return f"{value:.8f}" if isinstance(value, (int, float)) else "0"


def node_rows(nodes: list[dict[str, Any]]) -> list[tuple]:
    if not nodes:
        raise NotFound("No data found")
    return [
        (n["identity"], round(n["expiry"], 2), n.get("version") or 0, _uptime(n.get("host_uptime")),
         _uptime(n.get("agent_uptime")), n.get("machine_id") or 0, n.get("driver") or 0)
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


def job_rows(jobs: list[dict[str, Any]], which: str | None = None) -> list[tuple]:
    jobs = filter_jobs(jobs, which)
    if not jobs:
        raise NotFound("No data found")
    return [
        (j["JOB_ID"], j["PARENT_JOB_NAME"], j["VERB"], _seconds(j["EXECUTION_TIME"]),
         j["PROCESSING"], len(j["SUCCESS"]), len(j["FAILED"]))
        for j in jobs
    ]


def _cell(key: str, value: Any) -> Any:
    if isinstance(value, dict):
        return "\n".join(f"{k} = {v}" for k, v in value.items() if v)
    if isinstance(value, list):
        return "\n".join(map(str, value))
    if key in ("EXECUTION_TIME", "ROUNDTRIP_TIME"):
        return _seconds(value)
    return value


def job_info_rows(job_id: str, record: dict[str, Any], flatten: bool = True) -> list[tuple[str, Any]]:
    """KEY/VALUE rows: the requested ID first, then every non-null public field."""
    rows: list[tuple[str, Any]] = [("ID", job_id)]
    for key, value in record.items():
        if key.startswith("_") or value is None:
            continue
        rows.append((key.upper(), _cell(key, value) if flatten else value))
    return rows
