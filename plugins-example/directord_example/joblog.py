"""joblog: append one JSON line per finished job to a file.

Active whenever this package is installed (``directord.plugins`` entry point),
but inert unless ``DIRECTORD_EXAMPLE_JOBLOG`` names the file to append to in
the environment of the **server** (the hook runs where jobs finish).

    DIRECTORD_EXAMPLE_JOBLOG=/var/log/directord/jobs.jsonl directord server

Each line holds the job id, verb, job name, the nodes that succeeded and
failed, the mean execution and round-trip times and a UTC timestamp.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
from typing import Any

import directord

ENV_VAR = "DIRECTORD_EXAMPLE_JOBLOG"
LOG = logging.getLogger(__name__)


def entry(record: dict[str, Any]) -> dict[str, Any]:
    """The JSON object written for one finished job ``record`` (the job view)."""
    return {
        "job_id": record.get("JOB_ID"),
        "verb": record.get("VERB"),
        "name": record.get("JOB_NAME"),
        "parent_id": record.get("PARENT_JOB_ID"),
        "parent_name": record.get("PARENT_JOB_NAME"),
        "success": sorted(record.get("SUCCESS") or []),
        "failed": sorted(record.get("FAILED") or []),
        "execution_time": record.get("EXECUTION_TIME"),
        "roundtrip_time": record.get("ROUNDTRIP_TIME"),
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds"),
    }


@directord.hookimpl
def directord_job_finished(record: dict[str, Any]) -> None:
    """Append ``record``'s summary to ``$DIRECTORD_EXAMPLE_JOBLOG``; never raise."""
    path = os.environ.get(ENV_VAR)
    if not path:
        return
    try:
        line = json.dumps(entry(record), default=str, sort_keys=True) + "\n"
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(line)  # one short append per job, so lines from one server never interleave
    except (OSError, TypeError, ValueError, AttributeError) as exc:
        LOG.warning("joblog: cannot append job %s to %s: %s",
                    record.get("JOB_ID") if isinstance(record, dict) else "?", path, exc)
