"""Runner: results leave in batches while a node is busy, at once when it is idle."""

from __future__ import annotations

import asyncio

import pytest

from directord.cache import Cache
from directord.client import runner as runner_module
from directord.client.runner import Runner
from directord.job import Job
from directord.models import Control, Message
from directord.orchestration import build_job

from .helpers import until

END = Control.JOB_END.value
SLOW_BATCH = 3.0  # a batch window far longer than any wait below


def job(text: str, job_id: str) -> Job:
    return build_job("RUN", f"--skip-cache {text}").replace(job_id=job_id, parent_id=f"p-{job_id}")


@pytest.fixture
def reports(monkeypatch: pytest.MonkeyPatch) -> list[tuple[float, Message]]:
    monkeypatch.setattr(runner_module, "REPORT_BATCH_DELAY", SLOW_BATCH)
    return []


def make_runner(cache: Cache, reports: list[tuple[float, Message]]) -> Runner:
    loop = asyncio.get_running_loop()
    return Runner("n1", cache, lambda message: reports.append((loop.time(), message)))


def finished(reports: list[tuple[float, Message]], job_id: str) -> bool:
    return any(m.msg_id == job_id and m.control == END for _, m in reports)


def test_a_lone_result_does_not_wait_for_the_batch_window(cache: Cache, reports) -> None:
    async def scenario() -> bool:
        runner = make_runner(cache, reports)
        runner.submit(job("echo alone", "j1"))
        return await until(lambda: finished(reports, "j1"), timeout=SLOW_BATCH / 2)

    assert asyncio.run(scenario())


def test_results_of_a_busy_node_leave_together(cache: Cache, reports, tmp_path) -> None:
    gate = tmp_path / "gate"

    async def scenario() -> None:
        runner = make_runner(cache, reports)
        # j1 ends only once j2 is surely queued behind it, however slow this machine is
        runner.submit(job(f"while [ ! -e {gate} ]; do sleep 0.01; done; echo first", "j1"))
        runner.submit(job("sleep 0.2; echo second", "j2"))
        gate.touch()
        assert await until(lambda: finished(reports, "j2"), timeout=SLOW_BATCH * 2)

    asyncio.run(scenario())
    sent = {m.msg_id: at for at, m in reports if m.control == END}
    assert abs(sent["j1"] - sent["j2"]) < 0.1  # j1 waited for j2 (0.2 s later): one drain carried both
