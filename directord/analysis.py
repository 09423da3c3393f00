"""``analyze``: totals, outliers and failures over a set of job records."""

from __future__ import annotations

from typing import Any

from directord.models import JobRecord


def analyze(label: str, records: list[JobRecord]) -> dict[str, Any]:
    """The 12 analysis keys for ``records``; only answered nodes count.

    Node times are summed over the jobs; a node that has not answered (or was
    failed by the server without running) adds nothing instead of a zero.
    """
    execution: dict[str, float] = {}
    roundtrip: dict[str, float] = {}
    nodes: set[str] = set()
    successes = failures = 0
    for record in records:
        nodes.update(record.processing)
        successes += len(record.success)
        failures += len(record.failed)
        for node, seconds in record.execution.items():
            execution[node] = execution.get(node, 0.0) + seconds
        for node, seconds in record.roundtrip.items():
            roundtrip[node] = roundtrip.get(node, 0.0) + seconds
    combined = sum(execution.values())
    return {
        "ID": label,
        "ACTUAL_RUNTIME": (max(r.last for r in records) - min(r.created for r in records)) if records else 0.0,
        "COMBINED_EXECUTION_TIME": combined,
        "FASTEST_NODE_EXECUTION": min(execution, key=execution.__getitem__) if execution else None,
        "FASTEST_NODE_ROUNDTRIP": min(roundtrip, key=roundtrip.__getitem__) if roundtrip else None,
        "SLOWEST_NODE_EXECUTION": max(execution, key=execution.__getitem__) if execution else None,
        "SLOWEST_NODE_ROUNDTRIP": max(roundtrip, key=roundtrip.__getitem__) if roundtrip else None,
        "TOTAL_AVG_EXECUTION_TIME": combined / len(records) if records else 0.0,
        "TOTAL_FAILURES": failures,
        "TOTAL_JOBS": len(records),
        "TOTAL_NODE_COUNT": len(nodes),
        "TOTAL_SUCCESSES": successes,
    }
