"""Client queue routing: shared FIFO, per-parent async and bypass queues."""

from __future__ import annotations

import pytest

from directord.client.runner import GENERAL_QUEUE, queue_name
from directord.job import Job


@pytest.mark.parametrize(("job", "expected"), [
    ({"job_id": "j1"}, GENERAL_QUEUE),
    ({"job_id": "j1", "parent_id": "p1"}, GENERAL_QUEUE),
    ({"job_id": "j1", "parent_id": "p1", "parent_async": False}, GENERAL_QUEUE),
    ({"job_id": "j1", "parent_id": "p1", "parent_async": True}, "q_async_p1"),
    ({"job_id": "j1", "parent_async": True}, "q_async_j1"),
    ({"job_id": "j1", "parent_id": "p1", "parent_async_bypass": True}, "q_bypass_p1"),
    ({"job_id": "j1", "parent_async_bypass": True}, "q_bypass_j1"),
    # bypass wins over async
    ({"job_id": "j1", "parent_id": "p1", "parent_async": True, "parent_async_bypass": True}, "q_bypass_p1"),
])
def test_queue_name(job: dict[str, object], expected: str) -> None:
    assert queue_name(Job.from_dict({"verb": "RUN", **job})) == expected


def test_general_queue_name_is_upstreams() -> None:
    assert GENERAL_QUEUE == "q_general"


def test_non_async_parents_share_one_queue() -> None:
    names = {queue_name(Job("RUN", job_id=f"j{i}", parent_id=f"p{i}")) for i in range(5)}
    assert names == {GENERAL_QUEUE}


def test_async_parents_get_one_queue_each_shared_by_their_jobs() -> None:
    first = [queue_name(Job("RUN", job_id=f"a{i}", parent_id="pa", parent_async=True)) for i in range(3)]
    second = queue_name(Job("RUN", job_id="b0", parent_id="pb", parent_async=True))
    assert set(first) == {"q_async_pa"}
    assert second == "q_async_pb"
