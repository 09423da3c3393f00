"""The component API: ComponentResult, hooks resolved once per class, NodeServices."""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from directord import plugins
from directord.cache import Cache
from directord.client.runner import Runner
from directord.components import ComponentBase, Plan, hooks_for, hooks_of, lib, query, reboot, run
from directord.components.lib import ComponentResult
from directord.components.services import NodeServices, ServiceError
from directord.job import Job
from directord.models import Control, Message

from .helpers import built, until


# -- ComponentResult -------------------------------------------------------------
def test_a_result_is_the_original_four_tuple() -> None:
    result = ComponentResult("out", None, True, "note")
    stdout, stderr, outcome, info = result
    assert (stdout, stderr, outcome, info) == ("out", None, True, "note") == result
    assert ComponentResult("out", None, True) == ("out", None, True, None)
    assert ComponentResult.failed("bad", "partial") == ("partial", "bad", False, None)


def test_of_normalises_a_four_tuple_and_refuses_anything_else() -> None:
    assert ComponentResult.of(("o", "e", "skipped", None)).outcome == "skipped"
    assert type(ComponentResult.of(["o", None, True, None])) is ComponentResult
    same = ComponentResult("o", None, True)
    assert ComponentResult.of(same) is same
    for value in (("o", None, True), None, "text", ("a", "b", "c", "d", "e")):
        with pytest.raises(TypeError, match=r"not \(stdout, stderr, outcome, info\)"):
            ComponentResult.of(value)


# -- hooks ------------------------------------------------------------------------
def test_defaults_of_the_base() -> None:
    hooks = hooks_of(ComponentBase)
    assert hooks.component is ComponentBase
    assert (hooks.queue_sentinel, hooks.coordinates) == (False, False)
    assert hooks.plan(Job("X"), ["a"], ["a", "b"]) == Plan(["a"])
    assert hooks.coordinate(object()) is None
    assert hooks.hold_seconds(Job("X")) == 0.0
    component = ComponentBase()
    assert component.finalize_job({"verb": "X"}) is None
    assert (component.cacheable, component.requires_lock, component.lock_name, component.block_on_tasks) == (
        True, False, None, None)


def test_a_verbs_own_hooks_are_resolved_once() -> None:
    hooks = hooks_for("QUERY")
    assert hooks is hooks_for("query") is hooks_of(query.Component)
    assert hooks.component is query.Component
    assert hooks.coordinates and hooks.coordinate is query.Component.coordinate
    assert hooks.plan is query.Component.plan
    assert hooks_for("REBOOT").hold_seconds(Job("REBOOT", fields={"time": 5, "reboot_timeout": 60})) == 65.0
    assert hooks_of(reboot.Component).coordinates is False
    assert hooks_for("QUEUESENTINEL").queue_sentinel is True
    assert hooks_of(run.Component).queue_sentinel is False


DUCK = textwrap.dedent('''\
    class Component:
        """Duck-typed: not derived from ComponentBase."""

        cacheable = False

        def client(self, cache, job):
            return "quack " + job["verb"], None, True, None
''')


@pytest.fixture
def components_dir(tmp_path: Path) -> Iterator[Path]:
    plugins.configure_components([str(tmp_path / "components")])
    (tmp_path / "components").mkdir()
    try:
        yield tmp_path / "components"
    finally:
        plugins.configure_components([])


def test_a_class_not_derived_from_the_base_gets_every_default(components_dir: Path, cache: Cache) -> None:
    (components_dir / "duck.py").write_text(DUCK)
    cls = plugins.load_component("DUCK")
    hooks = hooks_of(cls)
    assert hooks is hooks_for("duck")
    assert issubclass(hooks.component, cls) and issubclass(hooks.component, ComponentBase)
    assert hooks.component.__name__ == "Component" and hooks.component.__doc__ == cls.__doc__
    assert (hooks.queue_sentinel, hooks.coordinates, hooks.hold_seconds({})) == (False, False, 0.0)
    job = built("DUCK", "--timeout 5")
    assert (job["timeout"], job["verb"]) == (5, "DUCK")
    reports: list[Message] = []

    async def scenario() -> None:
        runner = Runner("n1", cache, reports.append)
        runner.submit(Job.from_dict({**job, "job_id": "j1", "parent_id": "p1"}))
        assert await until(lambda: bool(reports))
        runner.stop()

    asyncio.run(scenario())
    assert [(m.control, m.stdout) for m in reports] == [(Control.JOB_END.value, "quack DUCK")]


# -- NodeServices ------------------------------------------------------------------
def test_sleep_stops_when_the_job_is_killed() -> None:
    context = lib.JobContext({"job_id": "j"})
    services = NodeServices("n1", context=context)
    assert services.sleep(0.01) is True and not services.killed
    context.kill()
    assert services.killed and services.sleep(60) is False


def test_without_a_context_the_calling_threads_counts() -> None:
    services = NodeServices("n1")
    context = lib.JobContext({"job_id": "j"})
    with context:
        assert not services.killed
        context.kill()
        assert services.killed
    assert not services.killed


def test_publish_goes_to_the_publisher() -> None:
    published: list[tuple[str | None, str | None]] = []
    NodeServices("n1", publisher=lambda stdout, info: published.append((stdout, info))).publish("out", "note")
    NodeServices("n1").publish("nobody listens")
    assert published == [("out", "note")]


def test_without_a_server_fetch_and_job_states_fail(tmp_path: Path) -> None:
    services = NodeServices("n1", {"job_id": "j"})
    with pytest.raises(ServiceError, match="no server"):
        services.fetch("/etc/hostname", str(tmp_path / "x"))
    with pytest.raises(ServiceError, match="no server"):
        services.job_states("ab" * 28, ["n1"])
    assert list(tmp_path.iterdir()) == []


def test_attach_sets_what_original_components_read() -> None:
    component = run.Component()
    driver = object()
    services = NodeServices("n1", {"verb": "RUN", "info": "why"}, driver=driver)
    component.attach(services)
    assert (component.services, component.driver, component.command, component.info) == (
        services, driver, "RUN", "why")
