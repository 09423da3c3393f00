"""Helpers shared by unit tests (fixtures live in conftest.py)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

from directord.components import lib
from directord.orchestration import build_job, orchestration_jobs


async def until(condition: Callable[[], Any], timeout: float = 5.0) -> bool:
    """Inside an event loop: wait for ``condition`` with a deadline; its final truth."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.005)
    return True


def client_in_thread(component: Any, cache: Any, job: dict[str, Any],
                     context: lib.JobContext | None = None) -> tuple[threading.Thread, list[tuple]]:
    """Run ``component.client(cache, job)`` in a thread (under ``context``); its results list."""
    results: list[tuple] = []

    def worker() -> None:
        if context is None:
            results.append(component.client(cache, job))
            return
        with context:
            results.append(component.client(cache, job))

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    return thread, results


def built(verb: str, execute: Any, arg_vars: dict[str, Any] | None = None, **options: Any) -> dict[str, Any]:
    """``build_job``'s job as the original's flat dict: what components and the wire see."""
    return build_job(verb, execute, arg_vars, **options).to_dict()


def built_jobs(orchestrations: list[dict[str, Any]], **options: Any) -> list[dict[str, Any]]:
    """``orchestration_jobs`` as the original's flat dicts."""
    return [job.to_dict() for job in orchestration_jobs(orchestrations, **options)]
