"""``last``: the newest job a user submitted, past the callbacks the server made after it."""

from __future__ import annotations

from pathlib import Path

import pytest

from directord.datastores.file import FileDatastore
from directord.datastores.memory import MemoryDatastore
from directord.exceptions import NotFound
from directord.job import Job
from directord.server.jobs import JobTable


def submit(table: JobTable, job_id: str, callback: bool = False) -> None:
    table.create(Job("ARG" if callback else "RUN", job_id=job_id, callback=callback), ["n1"])


@pytest.fixture(params=["memory", "file"])
def table(request: pytest.FixtureRequest, tmp_path: Path) -> JobTable:
    return JobTable(MemoryDatastore() if request.param == "memory" else FileDatastore(tmp_path.as_uri()))


def test_last_skips_callbacks(table: JobTable) -> None:
    submit(table, "first")
    assert table.find("last").job_id == "first"
    submit(table, "query")
    submit(table, "query-arg", callback=True)
    submit(table, "another-arg", callback=True)
    assert table.find("last").job_id == "query"
    submit(table, "newest")
    assert table.find("last").job_id == "newest"


def test_only_callbacks_is_no_last(table: JobTable) -> None:
    submit(table, "orphan-arg", callback=True)
    with pytest.raises(NotFound, match="No data found"):
        table.find("last")
    assert table.find("orphan-arg").job_id == "orphan-arg"  # still found by its id
