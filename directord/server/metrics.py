"""What the server counts for its metrics: cheap to keep on every result, read by an exporter.

Counters and histograms are plain integers updated on the event loop. The
exporter (``directord.metrics``, opt-in) reads them from its own thread, so
whatever it reads is a copy made in one step (a dict or list copied while the
interpreter holds its lock), and the gauges come from ``snapshot``, which the
server refreshes on its loop every housekeeping tick.
"""

from __future__ import annotations

import bisect
import collections
from typing import Any

# Seconds: from a no-op's microseconds to a long deployment step.
TIME_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)
WRITE_BUCKETS = (0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0)


class Histogram:
    """Observations counted per bucket (upper bounds ``bounds``, plus +Inf), with their sum."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: tuple[float, ...]):
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.total += value

    def cumulative(self) -> tuple[list[tuple[str, int]], float]:
        """Prometheus buckets (``le`` label, count at or below it) and the sum."""
        counts, total = list(self.counts), self.total
        running, buckets = 0, []
        for bound, count in zip((*map(str, self.bounds), "+Inf"), counts, strict=True):
            running += count
            buckets.append((bound, running))
        return buckets, total


class ServerMetrics:
    """The server's counts since it started (``snapshot``: its gauges as of the last tick)."""

    def __init__(self) -> None:
        self.submitted: collections.Counter[str] = collections.Counter()  # by verb
        self.succeeded: collections.Counter[str] = collections.Counter()
        self.failed: collections.Counter[str] = collections.Counter()
        self.skipped: collections.Counter[str] = collections.Counter()
        self.results: collections.Counter[str] = collections.Counter()  # by outcome: success, failed
        self.roundtrip = Histogram(TIME_BUCKETS)
        self.execution = Histogram(TIME_BUCKETS)
        self.datastore_writes = Histogram(WRITE_BUCKETS)
        self.snapshot: dict[str, Any] = {}

    def job_submitted(self, verb: str) -> None:
        self.submitted[verb] += 1

    def job_skipped(self, verb: str) -> None:
        self.skipped[verb] += 1

    def job_finished(self, verb: str, failed: bool) -> None:
        (self.failed if failed else self.succeeded)[verb] += 1

    def node_result(self, success: bool, roundtrip: float | None, execution: float | None) -> None:
        self.results["success" if success else "failed"] += 1
        if roundtrip is not None:
            self.roundtrip.observe(roundtrip)
        if execution is not None:
            self.execution.observe(execution)
