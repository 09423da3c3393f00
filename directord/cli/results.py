"""Following submitted jobs: --wait (progress bar), --poll, --stream, --check."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from directord.user import UserClient, job_state, status_line

STEP_TTY = 0.25
STEP_PIPE = 5.0


class Progress:
    """A one-line progress bar on a terminal; silent otherwise."""

    def __init__(self, total: int, stream: TextIO = sys.stderr, width: int = 30):
        self.total, self.stream, self.width = total, stream, width
        self.enabled = stream.isatty()
        self.started = time.monotonic()

    def __call__(self, summaries: dict[str, Any]) -> None:
        if not self.enabled:
            return
        done = [s for s in summaries.values() if s and s.get("complete")]
        nodes = {n for s in summaries.values() if s for n in s.get("nodes", ())}
        failures = sum(len(s.get("failed", ())) for s in done)
        filled = int(self.width * len(done) / max(self.total, 1))
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r[{bar}] {len(done)}/{self.total} jobs, {len(nodes)} nodes,"
                          f" {failures} failures, {time.monotonic() - self.started:.1f}s")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


def follow(user: UserClient, job_ids: list[str], mode: str, check: bool, timeout: float,
           out: TextIO = sys.stdout) -> int:
    """Wait for ``job_ids`` and report per ``mode`` (wait|poll|stream); the exit code."""
    deadline = time.monotonic() + timeout
    interactive = mode == "wait" and sys.stderr.isatty()
    progress = Progress(len(job_ids)) if mode == "wait" else None
    printed: set[str] = set()
    printer = _printer(user, mode, out, printed)

    def on_update(summaries: dict[str, Any]) -> None:
        if progress is not None:
            progress(summaries)
        for job_id in job_ids:  # report in submission order, as each completes
            if job_id in printed:
                continue
            if job_state(summaries.get(job_id)) is None:
                break
            printer(job_id, summaries[job_id])

    try:
        summaries = user.wait_all(job_ids, deadline, STEP_TTY if interactive else STEP_PIPE, on_update)
    finally:
        if progress is not None:
            progress.close()
    for job_id in job_ids:
        if job_id not in printed:
            printer(job_id, summaries.get(job_id))
    states = {job_id: job_state(summaries.get(job_id)) for job_id in job_ids}
    failed = [job_id for job_id, state in states.items() if state is False]
    if mode == "wait":
        ok = sum(1 for s in states.values() if s)
        unknown = sum(1 for s in states.values() if s is None)
        out.write(f"{len(job_ids)} job(s): {ok} succeeded, {len(failed)} failed, {unknown} unknown\n")
    if failed and check:
        out.write("FAILED JOBS\n" + "".join(f"{job_id}\n" for job_id in failed))
    return 1 if failed else 0


def _printer(user: UserClient, mode: str, out: TextIO,
             printed: set[str]) -> Callable[[str, Any], None]:
    def emit(job_id: str, summary: Any) -> None:
        printed.add(job_id)
        state = job_state(summary)
        if mode == "stream" and state is not None:
            record = user.call("job_info", job_id=job_id)
            for node in sorted(set(record["STDOUT"]) | set(record["STDERR"])):
                for stream in ("STDOUT", "STDERR"):
                    text = record[stream].get(node)
                    if text:
                        out.write(f"{node} -- {stream}\n{text}\n")
        if mode in ("poll", "stream"):
            out.write(status_line(job_id, state) + "\n")
            out.flush()

    return emit
