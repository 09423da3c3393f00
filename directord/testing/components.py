"""ComponentContract: the behaviour every verb must have (run on a sandboxed node).

A verb's contract, checked for any component, built-in or third-party::

    from directord.testing import ComponentContract

    class TestEchoContract(ComponentContract):
        verbs = ("ECHO",)
        examples = {"ECHO": ("hello world",)}  # only for a class without ``examples``

Every check runs once per verb. The examples (the class's ``examples`` unless
given here) must all build; the first one also runs ``client()`` on a sandboxed
node: a real Cache in a scratch directory that is the working directory while
jobs are built and holds ``example.txt`` and ``example.yaml``. The node's args
hold ``workspace`` (that directory, the only place file verbs may touch) and
``node_args``; files are fetched from the local disk, and every node asked
about has finished the job it is asked about.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import shutil
import tempfile
import unittest
from collections.abc import Iterator, Mapping
from typing import Any

from directord import components, orchestration
from directord.cache import Cache
from directord.components import lib
from directord.components.lib import ComponentResult
from directord.components.services import NodeServices, ServiceError
from directord.exceptions import ComponentError, ExecHelp
from directord.fingerprint import file_sha3_224
from directord.job import Job
from directord.models import Control, JobRecord

NODE = "contract-node"
OUTCOMES = (True, False, None, "skipped")
BAD_TEXTS = ("--no-such-option", "--timeout soon")
EXAMPLE_TEXT = "Hello from {{ workspace }}\n"
EXAMPLE_YAML = "example:\n  answer: 42\n"


class LocalServices(NodeServices):
    """Node services without a server: files come from the local disk (only those the job
    names, as the server allows), and every node asked about finished the job."""

    def fetch(self, source: str, destination: str) -> tuple[str, str]:
        if source not in (self.job.get("from") or []):
            raise ServiceError(f"transfer of [ {source} ] is not allowed for this job")
        directory = os.path.dirname(os.path.abspath(destination))
        os.makedirs(directory, exist_ok=True)
        handle, temp = tempfile.mkstemp(prefix=".directord-", dir=directory)
        with os.fdopen(handle, "wb") as out, open(source, "rb") as data:
            shutil.copyfileobj(data, out)
        return temp, file_sha3_224(temp)

    def job_states(self, sha: str, identities: list[str]) -> dict[str, str]:
        return dict.fromkeys(identities, Control.JOB_END.value)


@contextlib.contextmanager
def _working_directory(path: str) -> Iterator[None]:
    previous = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


@contextlib.contextmanager
def _sandbox() -> Iterator[str]:
    """A scratch directory holding the example files, the working directory meanwhile."""
    with tempfile.TemporaryDirectory(prefix="directord-contract-") as root:
        workspace = os.path.realpath(root)
        with open(os.path.join(workspace, "example.txt"), "w", encoding="utf-8") as handle:
            handle.write(EXAMPLE_TEXT)
        with open(os.path.join(workspace, "example.yaml"), "w", encoding="utf-8") as handle:
            handle.write(EXAMPLE_YAML)
        with _working_directory(workspace):
            yield workspace


def _stub(directory: str, command: str, stdout: str) -> str:
    """An executable ``command`` in ``directory`` that logs its arguments and prints ``stdout``."""
    log = os.path.join(directory, f"{command}.calls")
    path = os.path.join(directory, command)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(f"#!/bin/sh\necho \"$*\" >> {shlex.quote(log)}\nprintf '%s' {shlex.quote(stdout)}\n")
    os.chmod(path, 0o700)
    return log


def _one_line(verb: str, text: str, exc: BaseException) -> str:
    return f"{verb} {text!r} raised {type(exc).__name__}: {exc!r}"


class ComponentContract:
    """The component contract suite; subclass it in a test module as ``Test...``.

    ``verbs``: the verbs to check. ``examples``: good texts of verbs whose class has no
    ``examples``. ``bad_texts``: texts ``server()`` must refuse, beyond ``BAD_TEXTS``.
    ``node_args``: more args on the sandboxed node. ``stubs``: commands a verb's
    ``client()`` runs, replaced on the node's PATH by stubs printing the given
    output (each must be called). ``client_not_run``: verbs whose ``client()`` is
    not run, with the reason (reported as a skip). ``client_fails``: verbs whose
    first example may end with outcome False in the sandbox (default: it must succeed).
    """

    verbs: tuple[str, ...] = ()
    examples: Mapping[str, tuple[str, ...]] = {}
    bad_texts: Mapping[str, tuple[str, ...]] = {}
    node_args: Mapping[str, Any] = {}
    stubs: Mapping[str, Mapping[str, str]] = {}
    client_not_run: Mapping[str, str] = {}
    client_fails: tuple[str, ...] = ()

    def pytest_generate_tests(self, metafunc: Any) -> None:
        if "verb" in metafunc.fixturenames:
            metafunc.parametrize("verb", self.verbs)

    def examples_of(self, verb: str) -> tuple[str, ...]:
        examples = self.examples.get(verb) or components.hooks_for(verb).component.examples
        assert examples, f"{verb}: no examples (give its class `examples`, or `examples` here)"
        return tuple(examples)

    # -- loading and hooks -----------------------------------------------------
    def test_loads_by_name(self, verb: str) -> None:
        hooks = components.hooks_for(verb)
        assert components.hooks_for(verb.lower()) is hooks and components.hooks_for(verb.upper()) is hooks
        assert issubclass(hooks.component, components.ComponentBase)
        component = hooks.component()
        assert isinstance(component.cacheable, bool) and isinstance(component.requires_lock, bool)
        assert component.lock_name is None or (isinstance(component.lock_name, str) and component.lock_name)
        assert component.block_on_tasks is None or isinstance(component.block_on_tasks, list)

    def test_hooks_have_the_default_types(self, verb: str) -> None:
        hooks = components.hooks_for(verb)
        assert isinstance(hooks.queue_sentinel, bool) and isinstance(hooks.coordinates, bool)
        assert hooks.coordinates == (hooks.coordinate is not components.ComponentBase.coordinate)
        with _sandbox():
            job = orchestration.build_job(verb, self.examples_of(verb)[0])
        live = [NODE, "other-node"]
        planned = hooks.plan(job, [NODE], live)
        assert isinstance(planned, components.Plan), f"plan() returned {planned!r}, not a Plan"
        assert isinstance(planned.targets, list) and set(planned.targets) <= set(live), f"plan() chose {planned!r}"
        assert planned.fields is None or all(isinstance(key, str) for key in planned.fields), planned.fields
        held = hooks.hold_seconds(job)
        assert isinstance(held, int | float) and not isinstance(held, bool) and held >= 0, held
        follow_up = hooks.coordinate(JobRecord("contract-job", job, [NODE]))
        assert follow_up is None or (isinstance(follow_up, list) and all(isinstance(j, dict) for j in follow_up))

    # -- submitting side ---------------------------------------------------------
    def test_exec_help_shows_the_parsing_rule(self, verb: str) -> None:
        component = components.hooks_for(verb).component()
        component.verb = verb
        component.args()
        assert isinstance(component.parser, argparse.ArgumentParser)
        try:
            orchestration.build_job(verb, "--exec-help")
        except ExecHelp as exc:
            text = str(exc)
        else:
            raise AssertionError(f"{verb} --exec-help did not raise ExecHelp")
        assert text.startswith(f"usage: {verb.upper()}"), text[:80]
        rule = components.collapse(component.parsing_rule(component.parser))
        assert rule in components.collapse(text), f"{verb} --exec-help lacks its parsing rule {rule!r}"
        for example in component.examples:
            assert f"{verb.upper()} {example}".rstrip() in text, f"{verb} --exec-help lacks the example {example!r}"

    def test_examples_build_serialisable_deterministic_jobs(self, verb: str) -> None:
        with _sandbox():
            for text in self.examples_of(verb):
                component = components.hooks_for(verb).component()
                component.verb = verb
                data = {"verb": verb}
                assert component.server(exec_array=[text], data=data, arg_vars={}) is data, \
                    f"{verb} {text!r}: server() must return the dict it was given"
                try:
                    first, second = orchestration.build_job(verb, text), orchestration.build_job(verb, text)
                except Exception as exc:  # e.g. a value the fingerprint cannot serialise
                    raise AssertionError(_one_line(verb, text, exc)) from None
                data = first.to_dict()
                assert json.loads(json.dumps(data)) == data, f"{verb} {text!r}: not JSON-serialisable"
                assert Job.from_dict(data) == first, f"{verb} {text!r}: does not survive the wire"
                assert _without_ids(first) == _without_ids(second), f"{verb} {text!r}: two builds differ"
                assert len(first.job_sha3_224) == 56

    def test_bad_text_is_one_line_component_error(self, verb: str) -> None:
        for text in (*BAD_TEXTS, *self.bad_texts.get(verb, ())):
            component = components.hooks_for(verb).component()
            component.verb = verb
            try:
                component.server(exec_array=[text], data={"verb": verb}, arg_vars={})
            except ComponentError as exc:
                message = str(exc)
                assert message and "\n" not in message, f"{verb} {text!r}: not one line: {message!r}"
            except BaseException as exc:  # SystemExit and tracebacks are what this check catches
                raise AssertionError(_one_line(verb, text, exc)) from None
            else:
                raise AssertionError(f"{verb} {text!r} was accepted")

    # -- node side -------------------------------------------------------------------
    def test_client_returns_a_result(self, verb: str) -> None:
        if verb in self.client_not_run:
            raise unittest.SkipTest(f"{verb}: client() not run: {self.client_not_run[verb]}")
        with _sandbox() as workspace:
            text = self.examples_of(verb)[0]
            built = orchestration.build_job(verb, text)
            job = built.replace(job_id="contract-job", parent_id="contract-parent").to_dict()
            bin_dir = os.path.join(workspace, ".bin")
            os.mkdir(bin_dir)
            logs = [_stub(bin_dir, command, out) for command, out in self.stubs.get(verb, {}).items()]
            cache = Cache(os.path.join(workspace, ".cache", "cache.sqlite"))
            try:
                cache.set("args", {"workspace": workspace, **self.node_args}, tag="args")
                cache.set("envs", {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}, tag="envs")
                result = self._client(verb, text, job, cache, workspace)
            finally:
                cache.close()
            for log in logs:
                assert os.path.exists(log), f"{verb} {text!r}: client() never ran {os.path.basename(log)[:-6]}"
        assert result.outcome in OUTCOMES, f"{verb} {text!r}: outcome {result.outcome!r}"
        for name in ("stdout", "stderr"):
            value = getattr(result, name)
            assert value is None or isinstance(value, str | bytes), f"{verb} {text!r}: {name} is {value!r}"
        if verb not in self.client_fails:
            assert result.outcome is True, f"{verb} {text!r} failed in the sandbox: {result!r}"

    @staticmethod
    def _client(verb: str, text: str, job: dict[str, Any], cache: Cache, workspace: str) -> ComponentResult:
        """``client()`` under a job context, file verbs confined to ``workspace``."""
        component = components.hooks_for(verb).component()
        context = lib.JobContext(job)
        services = LocalServices(NODE, job, context=context)
        component.attach(services)
        lib.configure_paths([workspace])
        try:
            with context:
                returned = component.client(cache=cache, job=job)
        except BaseException as exc:
            raise AssertionError(_one_line(verb, text, exc)) from None
        finally:
            lib.configure_paths([])
            services.close()
        try:
            return ComponentResult.of(returned)
        except TypeError as exc:
            raise AssertionError(f"{verb} {text!r}: {exc}") from None


def _without_ids(job: Job) -> Job:
    """``job`` without the ids each build draws afresh."""
    return job.replace(job_id="", parent_id="")
