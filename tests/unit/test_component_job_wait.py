"""JOB_WAIT: asks the server's backend for a fingerprint's states until all nodes finished.

The backend is faked in process: a Driver-like object whose ``open_backend()``
returns a real ``BackendConnection`` subclass answering wire-encoded Messages.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from directord import wire
from directord.cache import Cache
from directord.components import job_wait, lib
from directord.components import services as services_module
from directord.components.services import NodeServices
from directord.drivers import BackendConnection
from directord.exceptions import ComponentError
from directord.models import Control, Message

from .helpers import built, client_in_thread

SHA = "ab" * 28
END, FAILED = Control.JOB_END.value, Control.JOB_FAILED.value


class FakeConnection(BackendConnection):
    """Answers each COORDINATION_NOTICE with the next scripted states (the last one repeats)."""

    def __init__(self, script: list[Any]):
        self.script = list(script)
        self.requests: list[tuple[Message, float]] = []
        self.closed = False

    def request(self, frame: bytes, timeout: float) -> bytes:
        (message,) = wire.decode(frame)
        self.requests.append((message, timeout))
        step = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(step, BaseException):
            raise step
        if isinstance(step, bytes):
            return step
        return wire.encode([Message(message.msg_id, Control.COORDINATION_ACK.value, data=step)])

    def close(self) -> None:
        self.closed = True


class FakeDriver:
    identity = "n1"

    def __init__(self, script: list[Any]):
        self.connections: list[FakeConnection] = []
        self.script = script

    def open_backend(self) -> BackendConnection:
        connection = FakeConnection(self.script)
        self.connections.append(connection)
        return connection


@pytest.fixture(autouse=True)
def fast_poll(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(job_wait, "POLL", 0.005)


def with_services(driver: FakeDriver, job: dict[str, Any],
                  context: lib.JobContext | None = None) -> tuple[job_wait.Component, NodeServices]:
    component = job_wait.Component()
    services = NodeServices("n1", job, driver=driver, context=context)
    component.attach(services)
    return component, services


def run(cache: Cache, script: list[Any], identities: list[str]) -> tuple[tuple, FakeDriver]:
    driver = FakeDriver(script)
    job = {"job_sha": SHA, "identity": identities}
    component, services = with_services(driver, job)
    try:
        return component.client(cache, job), driver
    finally:
        services.close()


# -- server() ------------------------------------------------------------------
def test_server_fields() -> None:
    job = built("JOB_WAIT", f"--identity n1 n2 -- {SHA}")
    keys = list(job)
    assert keys[: keys.index("job_sha3_224")] == ["verb", "job_sha", "identity", "timeout", "run_once"]
    assert (job["job_sha"], job["identity"]) == (SHA, ["n1", "n2"])


def test_server_requires_identity() -> None:
    with pytest.raises(ComponentError, match="--identity"):
        built("JOB_WAIT", SHA)


def test_not_cacheable() -> None:
    assert job_wait.Component.cacheable is False


# -- client() ------------------------------------------------------------------
def test_success_once_every_node_finished(cache: Cache) -> None:
    script = [{}, {"n1": END}, {"n1": END, "n2": END}]
    (stdout, stderr, outcome, info), driver = run(cache, script, ["n1", "n2"])
    assert outcome is True
    assert stdout == f"job {SHA} finished on n1, n2"
    assert (stderr, info) == (None, None)
    (connection,) = driver.connections
    assert connection.closed
    assert len(connection.requests) == 3
    for message, timeout in connection.requests:
        assert message.control == Control.COORDINATION_NOTICE.value
        assert message.data == {"sha": SHA, "identities": ["n1", "n2"], "node": "n1"}
        assert timeout == services_module.REQUEST_TIMEOUT
    assert len({message.msg_id for message, _ in connection.requests}) == 3  # a fresh id per request


def test_success_at_the_first_answer(cache: Cache) -> None:
    (_, _, outcome, _), driver = run(cache, [{"n1": END}], ["n1"])
    assert outcome is True
    assert len(driver.connections[0].requests) == 1


def test_a_failed_node_fails_the_wait(cache: Cache) -> None:
    script = [{"n1": END}, {"n1": END, "n2": FAILED, "n3": FAILED}]
    (stdout, stderr, outcome, _), driver = run(cache, script, ["n1", "n2", "n3"])
    assert outcome is False
    assert stdout is None
    assert stderr == f"job {SHA} failed on n2, n3"
    assert driver.connections[0].closed


def test_a_failure_wins_even_when_all_answered(cache: Cache) -> None:
    (_, stderr, outcome, _), _ = run(cache, [{"n1": FAILED}], ["n1"])
    assert outcome is False
    assert "failed on n1" in stderr


def test_timeout_from_the_connection(cache: Cache) -> None:
    script = [{}, TimeoutError("no reply from the server within 10s")]
    (stdout, stderr, outcome, _), driver = run(cache, script, ["n1"])
    assert outcome is False
    assert stdout is None
    assert stderr == "coordination failed: no reply from the server within 10s"
    assert driver.connections[0].closed


def test_malformed_reply_fails(cache: Cache) -> None:
    (_, stderr, outcome, _), _ = run(cache, [b"\x00garbage"], ["n1"])
    assert outcome is False
    assert stderr.startswith("coordination failed:")


def test_a_refusal_fails_at_once(cache: Cache) -> None:
    refused = wire.encode([Message("m", FAILED, info="this key may not act for that node")])
    (_, stderr, outcome, _), driver = run(cache, [refused], ["n1"])
    assert outcome is False
    assert stderr == "coordination failed: refused: this key may not act for that node"
    assert len(driver.connections[0].requests) == 1


def test_without_a_server_it_fails(cache: Cache) -> None:
    _, stderr, outcome, _ = job_wait.Component().client(cache, {"job_sha": SHA, "identity": ["n1"]})
    assert outcome is False
    assert stderr.startswith("coordination failed: cannot ask for job states: no server")


def test_killed_job_stops_polling(cache: Cache, wait_for: Callable[..., bool]) -> None:
    driver = FakeDriver([{}])
    job = {"job_sha": SHA, "identity": ["n1"]}
    context = lib.JobContext(job)
    component, services = with_services(driver, job, context)
    thread, results = client_in_thread(component, cache, job)
    assert wait_for(lambda: bool(driver.connections) and len(driver.connections[0].requests) >= 2)
    assert not results
    context.kill()  # the services' context: no thread-local one in this thread
    assert wait_for(lambda: bool(results))
    thread.join(5)
    assert results[0] == (None, "interrupted while waiting", False, None)
    services.close()
    assert driver.connections[0].closed


def test_duplicate_identities_do_not_wait_forever(cache: Cache, wait_for: Callable[..., bool]) -> None:
    """``--identity n1 n1``: the server answers per node, so one state covers both entries.

    BUG: the client compares the number of answered nodes with the length of
    the identity list (duplicates included), so it never succeeds and polls
    until the job's timeout.
    """
    driver = FakeDriver([{"n1": END}])
    job = {"job_sha": SHA, "identity": ["n1", "n1"]}
    context = lib.JobContext(job)
    component, _ = with_services(driver, job, context)
    thread, results = client_in_thread(component, cache, job)
    finished = wait_for(lambda: bool(results), timeout=0.5)
    context.kill()
    thread.join(5)
    assert finished, "JOB_WAIT with a repeated identity never finished"
    assert results[0][2] is True
