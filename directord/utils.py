"""The original Directord's ``directord.utils`` helpers, for components written against it."""

from __future__ import annotations

import logging
import os
import time
import uuid
from typing import Any

import yaml

from directord import components, fingerprint, plugins
from directord.components import lib
from directord.models import Control

LOG = logging.getLogger(__name__)
IDLE_AFTER, RAMP_DOWN_AFTER = 64, 32
IDLE_INTERVAL, RAMP_DOWN_INTERVAL = 2048, 1024


def dump_yaml(file_path: str, data: Any) -> str:
    """Write ``data`` as block-style YAML to ``file_path`` (``~`` expanded); returns ``file_path``."""
    with open(os.path.abspath(os.path.expanduser(file_path)), "w", encoding="utf-8") as handle:
        yaml.safe_dump(data, handle, default_flow_style=False)
    return file_path


def merge_dict(base: Any, new: Any, extend: bool = True) -> Any:
    """Merge ``new`` into ``base`` (dicts recursively; lists, tuples and sets extended when
    ``extend``); a ``new`` that is neither a dict nor a list leaves ``base`` as it is."""
    if not isinstance(new, (dict, list)):
        return base
    return lib.merge_dict(base, new, extend)


def file_sha3_224(file_path: str, chunk_size: int = fingerprint.FILE_CHUNK) -> str | None:
    """SHA3-224 of a file's content; None when there is no such file."""
    if not os.path.exists(file_path):
        return None
    return fingerprint.file_sha3_224(file_path, chunk_size)


def object_sha3_224(obj: Any) -> str:
    """SHA3-224 of a JSON-compatible object (the job fingerprint)."""
    return fingerprint.object_sha3_224(obj)


def get_uuid() -> str:
    """A new random UUID as text."""
    return str(uuid.uuid4())


def print_tabulated_data(data: list[Any], headers: list[str]) -> None:
    """Print rows under ``headers`` in left-aligned columns (values as they are, no number parsing)."""
    rows = [[str(header) for header in headers]] + [["" if cell is None else str(cell) for cell in row]
                                                     for row in data]
    widths = [max(len(row[i]) for row in rows if i < len(row)) for i in range(max(map(len, rows)))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    print("\n".join(lines))


def return_poller_interval(poller_time: float, poller_interval: int, log: Any = None) -> int:
    """The poll interval after ``poller_time``: 1024 once 32 s passed without work, 2048 after 64 s."""
    idle_for = time.time() - poller_time
    if idle_for >= IDLE_AFTER:
        if poller_interval != IDLE_INTERVAL and log:
            log.info("Directord entering idle state.")
        return IDLE_INTERVAL
    if idle_for >= RAMP_DOWN_AFTER:
        if poller_interval != RAMP_DOWN_INTERVAL and log:
            log.info("Directord ramping down.")
        return RAMP_DOWN_INTERVAL
    return poller_interval


def component_lock_search() -> set[str]:
    """Lock names of every installed verb and component file that ``requires_lock``."""
    names = set(plugins.installed(plugins.COMPONENTS))
    for directory in plugins.component_paths:
        if os.path.isdir(directory):
            names.update(entry[:-3] for entry in os.listdir(directory) if entry.endswith(".py"))
    locks = set()
    for name in sorted(names):
        try:
            component = components.hooks_for(name).component()
        except Exception as exc:  # noqa: BLE001 - a broken file holds no lock, as in the original
            LOG.debug("component %s not searched for a lock: %s", name, exc)
            continue
        if component.requires_lock:
            locks.add(component.lock_name or name)
    return locks


class ClientStatus:
    """``with ClientStatus(job_id, command, ctx) as status:`` set ``job_state``, ``info``,
    ``stdout``, ``stderr`` and ``data``; on exit they are sent for the job through
    ``ctx.driver.job_send`` (``ctx``: a component, whose driver the client set)."""

    def __init__(self, job_id: str, command: str, ctx: Any):
        self.ctx = ctx
        self.job_id = job_id
        self.command = command
        null = getattr(ctx.driver, "nullbyte", Control.NULL.value)
        self.job_state: str = null
        self.info: Any = null
        self.data: Any = None
        self.stderr: Any = null
        self.stdout: Any = null

    def __enter__(self) -> ClientStatus:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.ctx.driver.job_send(msg_id=self.job_id, control=self.job_state, command=self.command,
                                 data=self.data, info=self.info, stderr=self.stderr, stdout=self.stdout)

