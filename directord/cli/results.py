"""Following submitted jobs: --wait (progress bar), --poll, --stream, --check; the failure report."""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, TextIO

from directord.user import EXIT_TIMEOUT, UserClient, exit_code, job_status, status_line

STEP_TTY = 0.25
STEP_PIPE = 5.0
LISTED_IDS = 10  # unfinished job ids named when the wait times out
TAIL_LINES = 5  # of each failed node's STDERR (or INFO) in the failure report


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
           out: TextIO = sys.stdout) -> tuple[int, dict[str, Any]]:
    """Wait for ``job_ids`` and report per ``mode`` (wait|poll|stream).

    Returns the exit code (``user.exit_code``) and each job's summary.
    """
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
            if job_status(summaries.get(job_id)) == "unknown":
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
    statuses = {job_id: job_status(summaries.get(job_id)) for job_id in job_ids}
    counts = Counter(statuses.values())
    if mode == "wait":
        out.write(f"{len(job_ids)} job(s): {counts['success']} succeeded, {counts['failed']} failed,"
                  f" {counts['skipped']} skipped, {counts['unknown']} unknown\n")
    failed = [job_id for job_id, status in statuses.items() if status == "failed"]
    if failed and mode in ("wait", "poll"):
        out.write("".join(_failure_report(user.call("job_info", job_id=job_id)) for job_id in failed))
    if failed and check:
        out.write("FAILED JOBS\n" + "".join(f"{job_id}\n" for job_id in failed))
    out.flush()
    code = exit_code(statuses.values())
    if code == EXIT_TIMEOUT:
        unknown = [job_id for job_id, status in statuses.items() if status == "unknown"]
        more = f" and {len(unknown) - LISTED_IDS} more" if len(unknown) > LISTED_IDS else ""
        print(f"directord: gave up after {timeout:g}s; still unknown or processing: "
              f"{', '.join(unknown[:LISTED_IDS])}{more}", file=sys.stderr)
    return code, summaries


def _failure_report(record: dict[str, Any]) -> str:
    """The failed nodes of one job with the last lines of their STDERR (else INFO);
    nodes with the same text share one entry."""
    what = record["JOB_DEFINITION"].get("job_name") or record["VERB"]
    by_text: dict[tuple[str, str], list[str]] = {}
    for node in record["FAILED"]:
        stream = "STDERR" if record["STDERR"].get(node) else "INFO"
        tail = "\n".join(str(record[stream].get(node) or "(nothing)").splitlines()[-TAIL_LINES:])
        by_text.setdefault((stream, tail), []).append(node)
    return "".join(
        f"Job Failed: {record['JOB_ID']} ({what}) on {', '.join(nodes)}; {stream}:\n"
        + "".join(f"    {line}\n" for line in tail.splitlines())
        for (stream, tail), nodes in by_text.items()
    )


def _printer(user: UserClient, mode: str, out: TextIO,
             printed: set[str]) -> Callable[[str, Any], None]:
    def emit(job_id: str, summary: Any) -> None:
        printed.add(job_id)
        status = job_status(summary)
        if mode == "stream" and status in ("success", "failed"):
            record = user.call("job_info", job_id=job_id)
            for node in sorted(set(record["STDOUT"]) | set(record["STDERR"])):
                for stream in ("STDOUT", "STDERR"):
                    text = record[stream].get(node)
                    if text:
                        out.write(f"{node} -- {stream}\n{text}\n")
        if mode in ("poll", "stream"):
            out.write(status_line(job_id, status) + "\n")
            out.flush()

    return emit
