"""Runner: QUEUESENTINEL purges queued jobs; idempotency keys and cache hits."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from directord.cache import Cache
from directord.client.runner import Runner, idempotency_key
from directord.job import Job
from directord.models import Control, Message
from directord.orchestration import build_job

from .helpers import until

END, FAILED = Control.JOB_END.value, Control.JOB_FAILED.value


def make_job(verb: str, text: str, job_id: str, parent: str, **extra: Any) -> Job:
    return build_job(verb, text).replace(job_id=job_id, parent_id=parent, **extra)


class Reports(list):
    """The ``report`` callable: keeps every Message."""

    def final(self, job_id: str) -> list[Message]:
        return [m for m in self if m.msg_id == job_id and m.control in (END, FAILED)]

    def done(self, *job_ids: str) -> bool:
        return all(self.final(job_id) for job_id in job_ids)


@pytest.fixture
def runner(cache: Cache) -> Runner:
    return Runner("n1", cache, Reports().append)


def reports_of(runner: Runner) -> Reports:
    return runner.report.__self__  # type: ignore[attr-defined]


# -- QUEUESENTINEL -------------------------------------------------------------
def test_sentinel_purges_queued_jobs_but_not_running_ones(runner: Runner, cache: Cache) -> None:
    reports = reports_of(runner)
    purged = ["a2", "a3", "g2", "g3"]

    async def scenario() -> dict[str, Any]:
        for name in ("a1", "a2", "a3"):
            runner.submit(make_job("RUN", f"sleep 0.3; echo {name}", name, "pa", parent_async=True))
        runner.submit(make_job("RUN", "sleep 0.3; echo g1", "g1", "pg1"))
        runner.submit(make_job("RUN", "echo g2", "g2", "pg2"))
        runner.submit(make_job("RUN", "echo g3", "g3", "pg2"))
        assert await until(lambda: {"a1", "g1"} <= set(runner.running))
        assert runner.pending() == 4
        runner.submit(make_job("QUEUESENTINEL", "true", "s1", "ps"))
        assert await until(lambda: reports.done(*purged), timeout=0.25)  # statuses reach the loop
        seen = {  # state right after the purge, before the running jobs finish
            "reports": {m.msg_id: m for m in reports if m.control in (END, FAILED)},
            "pa": cache.get("pa"),
            "pg2": cache.get("pg2"),
            "running": set(runner.running),
        }
        assert await until(lambda: reports.done("s1", "a1", "g1"))
        # A job queued after the sentinel is not purged.
        runner.submit(make_job("RUN", "echo late", "late", "pl"))
        assert await until(lambda: reports.done("late"))
        runner.stop()
        return seen

    seen = asyncio.run(scenario())
    assert set(seen["reports"]) - {"s1"} == set(purged)  # the sentinel itself may be done already
    assert seen["running"] == {"a1", "g1"}
    for job_id in purged:
        (message,) = reports.final(job_id)
        assert message.control == FAILED
        assert message.info == "Omitted due to sentinel from s1"
        assert message.command == "RUN"
    assert seen["pa"] == FAILED
    assert seen["pg2"] == FAILED
    assert cache.get("pg2") == FAILED  # no job of that parent ran afterwards
    (sentinel,) = reports.final("s1")
    assert sentinel.control == END
    assert sentinel.stdout == "Queues purged: 4 job(s) omitted"
    for job_id in ("a1", "g1"):  # already running: not interrupted
        (message,) = reports.final(job_id)
        assert (message.control, message.stdout) == (END, job_id)
    (late,) = reports.final("late")
    assert (late.control, late.stdout) == (END, "late")
    assert runner.pending() == 0


def test_sentinel_with_nothing_queued(runner: Runner) -> None:
    reports = reports_of(runner)

    async def scenario() -> None:
        runner.submit(make_job("QUEUESENTINEL", "true", "s1", "ps"))
        assert await until(lambda: reports.done("s1"))
        runner.stop()

    asyncio.run(scenario())
    (message,) = reports.final("s1")
    assert (message.control, message.stdout) == (END, "Queues purged: 0 job(s) omitted")
    assert len(reports) == 1


def test_later_job_of_a_purged_parent_is_refused(runner: Runner, cache: Cache) -> None:
    reports = reports_of(runner)

    async def scenario() -> None:
        runner.submit(make_job("RUN", "sleep 0.2", "g1", "pg1"))
        runner.submit(make_job("RUN", "echo g2", "g2", "pg2"))
        assert await until(lambda: "g1" in runner.running)
        runner.submit(make_job("QUEUESENTINEL", "true", "s1", "ps"))
        runner.submit(make_job("RUN", "echo g3", "g3", "pg2"))
        assert await until(lambda: reports.done("g1", "g3", "s1"))
        runner.stop()

    asyncio.run(scenario())
    (message,) = reports.final("g3")
    assert message.control == FAILED
    assert message.stderr == "Job omitted, parent failure"
    assert "pg2" in message.info
    assert message.stdout is None


def test_purged_parent_stays_failed_after_its_running_job_succeeds(runner: Runner, cache: Cache) -> None:
    """BUG: the parent's failure from the purge is overwritten by the running job's success.

    a1 (running) and a2 (queued) share parent pa. The sentinel fails a2 and
    marks pa failed; when a1 then succeeds, ``_finish`` sets pa back to
    JOB_END, so a later job of pa (a3) runs although pa already has a failed
    job on this node (a failure stops the later jobs of the same parent).
    """
    reports = reports_of(runner)

    async def scenario() -> None:
        runner.submit(make_job("RUN", "sleep 0.2", "a1", "pa", parent_async=True))
        runner.submit(make_job("RUN", "echo a2", "a2", "pa", parent_async=True))
        assert await until(lambda: "a1" in runner.running)
        runner.submit(make_job("QUEUESENTINEL", "true", "s1", "ps"))
        assert await until(lambda: reports.done("a1", "a2", "s1"))
        runner.submit(make_job("RUN", "echo a3", "a3", "pa", parent_async=True))
        assert await until(lambda: reports.done("a3"))
        runner.stop()

    asyncio.run(scenario())
    assert reports.final("a2")[0].control == FAILED
    assert cache.get("pa") == FAILED
    assert reports.final("a3")[0].control == FAILED


# -- idempotency -----------------------------------------------------------------
def test_idempotency_key() -> None:
    assert idempotency_key(Job("RUN", job_sha3_224="abc")) == "abc"
    assert idempotency_key(Job("RUN", job_sha3_224="abc", fields={"content_sha3_224": None})) == "abc"
    assert idempotency_key(Job("RUN", job_sha3_224="abc", fields={"content_sha3_224": "def"})) == "abc:def"
    assert idempotency_key(Job("RUN")) == ""


def _run_once(runner: Runner, job: Job) -> Message:
    reports = reports_of(runner)

    async def scenario() -> None:
        runner.submit(job)
        assert await until(lambda: reports.done(job.job_id))
        runner.stop()

    asyncio.run(scenario())
    (message,) = reports.final(job.job_id)
    return message


def test_cache_hit_is_skipped_without_running(runner: Runner, cache: Cache, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    job = make_job("RUN", f"touch {marker}", "j1", "p1")
    cache.set(idempotency_key(job), END)
    message = _run_once(runner, job)
    assert (message.control, message.info) == (END, "task skipped")
    assert not marker.exists()


def test_skip_cache_runs_despite_a_hit(runner: Runner, cache: Cache, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    job = make_job("RUN", f"touch {marker}", "j1", "p1", skip_cache=True)
    cache.set(idempotency_key(job), END)
    message = _run_once(runner, job)
    assert message.control == END
    assert message.info != "task skipped"
    assert marker.exists()


def test_previous_failure_is_not_a_hit(runner: Runner, cache: Cache, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    job = make_job("RUN", f"touch {marker}", "j1", "p1")
    cache.set(idempotency_key(job), FAILED)
    assert _run_once(runner, job).control == END
    assert marker.exists()


def test_changed_content_is_not_a_hit(runner: Runner, cache: Cache, tmp_path: Path) -> None:
    """The fingerprint alone matched, but the job carries a new content hash."""
    marker = tmp_path / "ran"
    job = make_job("RUN", f"touch {marker}", "j1", "p1", fields={"content_sha3_224": "c" * 56})
    cache.set(job.job_sha3_224, END)
    cache.set(f"{job.job_sha3_224}:{'d' * 56}", END)
    message = _run_once(runner, job)
    assert message.info != "task skipped"
    assert marker.exists()
    assert cache.get(idempotency_key(job)) == END  # recorded under fingerprint:content


def test_success_is_recorded_and_the_repeat_skipped(cache: Cache, tmp_path: Path) -> None:
    marker = tmp_path / "count"
    first = Runner("n1", cache, Reports().append)
    job = make_job("RUN", f"echo x >> {marker}", "j1", "p1")
    assert _run_once(first, job).control == END
    assert cache.get(job.job_sha3_224) == END
    assert cache.get("p1") == END
    second = Runner("n1", cache, Reports().append)
    repeat = make_job("RUN", f"echo x >> {marker}", "j2", "p2")
    assert _run_once(second, repeat).info == "task skipped"
    assert marker.read_text() == "x\n"


def test_non_cacheable_component_ignores_a_hit(runner: Runner, cache: Cache) -> None:
    job = make_job("ARG", "key value", "j1", "p1")
    cache.set(idempotency_key(job), END)
    message = _run_once(runner, job)
    assert message.info != "task skipped"
    assert cache.get("args") == {"key": "value"}
