"""Built-in components: option parsing (server side) and client() with a real cache."""

from __future__ import annotations

import asyncio
import getpass
import os
import signal
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from directord.cache import Cache
from directord.client.runner import Runner
from directord.components import (
    ComponentBase,
    arg,
    cacheevict,
    env,
    lib,
    run,
    sanitized_args,
    split_words,
    workdir,
)
from directord.exceptions import ComponentError, DirectordError, ExecHelp, TemplateError
from directord.job import Job
from directord.models import Control, Message

from .helpers import built, until


def parsed(component: ComponentBase, text: Any, arg_vars: dict[str, Any] | None = None) -> Any:
    component.args()
    return component.exec_parser(component.parser, text, arg_vars)


# -- exec_parser ---------------------------------------------------------------
def test_leading_options_are_parsed_and_the_rest_kept_verbatim() -> None:
    component = run.Component()
    known, _ = parsed(component, "--timeout 5 --skip-cache --stdout-arg out echo   'a  b'\n  done")
    assert known.timeout == 5
    assert known.skip_cache is True
    assert known.stdout_arg == "out"
    assert component.exec_text == "echo   'a  b'\n  done"


def test_option_with_equals_sign() -> None:
    component = run.Component()
    known, _ = parsed(component, "--timeout=7 --retry=2 ls")
    assert (known.timeout, known.retry) == (7, 2)
    assert component.exec_text == "ls"


def test_options_after_the_text_belong_to_the_text() -> None:
    component = run.Component()
    known, unknown = parsed(component, "echo --timeout 5 --skip-cache hi")
    assert known.timeout == 600
    assert known.skip_cache is False
    assert component.exec_text == "echo --timeout 5 --skip-cache hi"
    assert unknown == ["echo", "--timeout", "5", "--skip-cache", "hi"]


def test_double_dash_ends_the_options() -> None:
    component = run.Component()
    known, _ = parsed(component, "-- --timeout 5")
    assert known.timeout == 600
    assert component.exec_text == "--timeout 5"


def test_unknown_leading_option_is_rejected() -> None:
    with pytest.raises(ComponentError, match="--bogus") as excinfo:
        parsed(run.Component(), "--bogus echo hi")
    assert excinfo.value.exit_code == 2
    with pytest.raises(ComponentError, match="--nope"):
        built("RUN", "--timeout 5 --nope echo hi")


def test_bad_option_value_is_rejected() -> None:
    with pytest.raises(ComponentError, match="timeout"):
        parsed(run.Component(), "--timeout soon echo hi")


def test_vars_override_parsed_options() -> None:
    known, _ = parsed(run.Component(), "--timeout 5 echo hi", {"timeout": 9, "skip-cache": True, "stdout_arg": "o"})
    assert known.timeout == 9
    assert known.skip_cache is True
    assert known.stdout_arg == "o"


def test_positionals_are_filled_from_the_text() -> None:
    component = arg.Component()
    known, _ = parsed(component, "--extend-args key [1, 2]")
    assert known.extend_args is True
    assert known.args == ["key", "[1,", "2]"]
    assert component.exec_text == "key [1, 2]"


def test_exec_array_list_is_joined() -> None:
    component = run.Component()
    parsed(component, ["--timeout", "3", "echo", "hi"])
    assert component.known_args.timeout == 3
    assert component.exec_text == "echo hi"


@pytest.mark.parametrize("verb", ["RUN", "ARG", "ENV", "WORKDIR", "CACHEEVICT"])
def test_exec_help_raises_with_usage_text(verb: str) -> None:
    with pytest.raises(ExecHelp) as excinfo:
        built(verb, "--exec-help")
    text = str(excinfo.value)
    assert text.startswith(f"usage: {verb}")
    assert "--timeout" in text and "--skip-cache" in text
    assert excinfo.value.exit_code == 0


def test_run_exec_help_lists_its_own_options() -> None:
    with pytest.raises(ExecHelp, match="--no-block"):
        parsed(run.Component(), "--exec-help")


def test_sanitized_args_flattens_and_splits() -> None:
    assert sanitized_args(["a  b", ["c", ["d e"]], None, 5]) == ["a", "b", "c", "d", "e", "5"]


# -- server() fields -------------------------------------------------------------
def test_run_server_fields_in_upstream_order() -> None:
    job = built("RUN", "--no-block --retry 3 --stderr-arg e sleep 1")
    assert list(job)[:5] == ["verb", "stderr_arg", "no_block", "retry", "command"]
    assert (job["no_block"], job["retry"], job["command"], job["stderr_arg"]) == (True, 3, "sleep 1", "e")


def test_run_without_command_is_rejected() -> None:
    with pytest.raises(ComponentError, match="no command"):
        built("RUN", "--timeout 5")


@pytest.mark.parametrize(("text", "value"), [
    ("n 5", 5),
    ("f 1.5", 1.5),
    ("l [1, 'a']", [1, "a"]),
    ("d {'a': {'b': 2}}", {"a": {"b": 2}}),
    ("b True", True),
    ("s hello world", "hello world"),
    ("t {{ other }}", "{{ other }}"),
    ("path /etc/x", "/etc/x"),
])
def test_arg_values_are_python_literals_when_they_parse(text: str, value: Any) -> None:
    job = built("ARG", text)
    key = text.split()[0]
    assert job["args"] == {key: value}
    assert "extend_args" not in job


def test_arg_extend_args_field() -> None:
    job = built("ARG", "--extend-args k [1]")
    assert list(job)[:3] == ["verb", "extend_args", "args"]
    assert job["extend_args"] is True


@pytest.mark.parametrize("text", ["keyonly", ""])
def test_arg_needs_key_and_value(text: str) -> None:
    with pytest.raises(ComponentError):
        built("ARG", text)


def test_env_server_stringifies() -> None:
    job = built("ENV", "N 5")
    assert job["envs"] == {"N": "5"}
    assert built("ENV", "L [1, 2]")["envs"] == {"L": "[1, 2]"}
    assert built("ENV", "S some text")["envs"] == {"S": "some text"}


def test_workdir_server_fields() -> None:
    job = built("WORKDIR", "--chown alice:staff --chmod 0750 /opt/app")
    assert list(job)[:5] == ["verb", "user", "group", "mode", "workdir"]
    assert (job["user"], job["group"], job["mode"], job["workdir"]) == ("alice", "staff", 0o750, "/opt/app")
    only_user = built("WORKDIR", "--chown alice /opt/app")
    assert only_user["user"] == "alice" and only_user["group"] is None
    plain = built("WORKDIR", "/opt/app")
    assert "user" not in plain and "mode" not in plain


def test_workdir_server_rejects_bad_input() -> None:
    with pytest.raises(ComponentError, match="octal"):
        built("WORKDIR", "--chmod 9z /opt/app")
    with pytest.raises(ComponentError, match="required: PATH"):
        built("WORKDIR", "--chmod 0755")
    with pytest.raises(ComponentError, match="expected one PATH"):
        built("WORKDIR", "/opt/my app")


def test_workdir_options_before_or_after_the_path() -> None:
    after = built("WORKDIR", "/opt/app --chmod 0750 --chown alice:staff")
    before = built("WORKDIR", "--chown alice:staff --chmod 0750 /opt/app")
    fields = ("user", "group", "mode", "workdir", "job_sha3_224")
    assert [after[k] for k in fields] == [before[k] for k in fields] == ["alice", "staff", 0o750, "/opt/app",
                                                                         before["job_sha3_224"]]


def test_workdir_path_quoted_or_templated() -> None:
    assert built("WORKDIR", '"/opt/my app" --chmod 0700')["workdir"] == "/opt/my app"
    assert built("WORKDIR", "/opt/{{ name }}/data")["workdir"] == "/opt/{{ name }}/data"


def test_chown_group_only_keeps_the_group() -> None:
    job = built("WORKDIR", "--chown :staff /opt/app")
    assert (job["user"], job["group"]) == ("", "staff")  # "" leaves the owner as it is


# -- the parsing rule of each verb ----------------------------------------------------
@pytest.mark.parametrize(("verb", "rule"), [
    ("RUN", "Options only before the command; the command is kept verbatim"),
    ("ARG", "Options only before KEY VALUE; KEY VALUE is kept verbatim"),
    ("ENV", "Options only before KEY VALUE"),
    ("ADD", "Options may appear before, between or after SRC DEST. Quote a word that holds spaces;"
            " a {{ ... }} span is part of the word it touches."),
    ("COPY", "Options may appear before, between or after SRC DEST."),
    ("WORKDIR", "Options may appear before, between or after PATH. Quote"),
    ("CACHEFILE", "Options may appear before, between or after PATH. Quote"),
    ("CACHEEVICT", "Options may appear before, between or after WHAT."),
    ("DNF", "Options may appear before, between or after PACKAGES."),
    ("SERVICE", "Options may appear before, between or after SERVICES."),
    ("QUERY", "Options may appear before, between or after KEY."),
    ("QUERY_WAIT", "Options may appear before, between or after ITEM."),
    ("JOB_WAIT", "Options may appear before, between or after SHA."),
    ("REBOOT", "Options may appear before, between or after TIME."),
    ("QUEUESENTINEL", "Options may appear before, between or after SENTINEL."),
    ("FACTER", "Options may appear in any order."),
])
def test_exec_help_states_where_options_go(verb: str, rule: str) -> None:
    with pytest.raises(ExecHelp) as excinfo:
        built(verb, "--exec-help")
    assert rule in " ".join(str(excinfo.value).split())


def test_split_words_keeps_quotes_and_template_spans_whole() -> None:
    text = "--chown root 'my file.txt' /etc/{{ host }}.crt \"{{ a }} b\" {{ x | default('p q') }}/y {% if z %}"
    assert split_words("ADD", text) == ["--chown", "root", "my file.txt", "/etc/{{ host }}.crt", "{{ a }} b",
                                        "{{ x | default('p q') }}/y", "{% if z %}"]
    with pytest.raises(ComponentError, match="ADD: No closing quotation"):
        split_words("ADD", "'open")


def test_option_only_verbs_take_options_between_positionals() -> None:
    job = built("DNF", "vim --latest tmux --exclude kernel")
    assert (job["packages"], job["state"], job["exclude"]) == (["vim", "tmux"], "latest", "kernel")
    job = built("SERVICE", "sshd --restarted crond --enable")
    assert (job["services"], job["running"], job["state"]) == (["sshd", "crond"], "restart", "enable")
    with pytest.raises(ComponentError, match="--bogus"):
        built("DNF", "vim --bogus")


def test_cacheevict_server_field() -> None:
    assert built("CACHEEVICT", "jobs")["cacheevict"] == "jobs"
    with pytest.raises(ComponentError):
        built("CACHEEVICT", "")


# -- RUN client ---------------------------------------------------------------
def test_run_uses_envs_from_the_cache(cache: Cache) -> None:
    cache.set("envs", {"GREETING": "hello world"}, tag="envs")
    stdout, stderr, outcome, info = run.Component().client(cache, {"command": 'printf "%s" "$GREETING"'})
    assert outcome is True
    assert stdout == b"hello world"
    assert info == 'printf "%s" "$GREETING"'


def test_run_renders_args(cache: Cache) -> None:
    cache.set("args", {"name": "node-1", "items": ["a", "b"]}, tag="args")
    stdout, _, outcome, info = run.Component().client(
        cache, {"command": "echo {{ name }} {{ items | join(',') }}"})
    assert outcome is True
    assert stdout == b"node-1 a,b\n"
    assert info == "echo node-1 a,b"  # INFO shows the rendered command


def test_run_undefined_variable_fails_with_reason(cache: Cache, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    with pytest.raises(TemplateError, match="'missing' is undefined"):
        run.Component().client(cache, {"command": f"touch {marker} {{{{ missing }}}}", "retry": 3})
    assert not marker.exists()  # nothing was run


def test_a_template_error_fails_the_job_with_its_message(cache: Cache, tmp_path: Path) -> None:
    """The runner turns a TemplateError raised by client() into the job's failure: no traceback."""
    reports: list[Message] = []

    async def scenario() -> None:
        runner = Runner("n1", cache, reports.append)
        runner.submit(Job("RUN", job_id="j1", parent_id="p1", fields={"command": "echo {{ missing }}"}))
        assert await until(lambda: bool(reports))
        runner.stop()

    asyncio.run(scenario())
    (report,) = reports
    assert (report.control, report.stdout) == (Control.JOB_FAILED.value, None)
    assert report.stderr == "template error: 'missing' is undefined"
    assert report.info == "task failed"


def test_run_templates_are_sandboxed(cache: Cache) -> None:
    command = "echo {{ ''.__class__.__mro__[1].__subclasses__() }}"
    with pytest.raises(TemplateError, match="unsafe"):
        run.Component().client(cache, {"command": command})


def test_run_empty_rendered_command_fails(cache: Cache) -> None:
    cache.set("args", {"nothing": "  "})
    _, stderr, outcome, _ = run.Component().client(cache, {"command": "{{ nothing }}"})
    assert outcome is False
    assert "empty" in stderr


def test_run_failure_reports_stderr(cache: Cache) -> None:
    stdout, stderr, outcome, _ = run.Component().client(cache, {"command": "echo out; echo bad >&2; exit 3"})
    assert outcome is False
    assert stdout == b"out\n"
    assert stderr == b"bad\n"


def test_run_retries_until_success_or_limit(cache: Cache, tmp_path: Path) -> None:
    log = tmp_path / "attempts"
    _, _, outcome, _ = run.Component().client(cache, {"command": f"echo x >> {log}; exit 1", "retry": 3})
    assert outcome is False
    assert log.read_text().count("x") == 3
    log.unlink()
    _, _, outcome, _ = run.Component().client(cache, {"command": f"echo x >> {log}", "retry": 3})
    assert outcome is True
    assert log.read_text().count("x") == 1


def test_run_no_block_returns_at_once(cache: Cache) -> None:
    stdout, stderr, outcome, info = run.Component().client(cache, {"command": "exit 7", "no_block": True})
    assert (stdout, stderr, outcome, info) == (None, None, True, "exit 7")


def test_stdout_and_stderr_args_are_stored(cache: Cache) -> None:
    cache.set("args", {"kept": 1}, tag="args")
    job = {"command": "echo '  value  '; echo oops >&2", "stdout_arg": "out", "stderr_arg": "err"}
    stdout, stderr, _, _ = run.Component().client(cache, job)
    lib.store_output_args(cache, job, stdout, stderr)
    assert cache.get("args") == {"kept": 1, "out": "value", "err": "oops"}
    # A later job on this node can use it.
    stdout, _, outcome, _ = run.Component().client(cache, {"command": "echo got {{ out }}"})
    assert outcome is True
    assert stdout == b"got value\n"
    assert dict(cache.items("args")) == {"args": {"kept": 1, "out": "value", "err": "oops"}}


def test_stdout_arg_of_a_silent_command_is_empty_text(cache: Cache) -> None:
    job = {"command": "true", "stdout_arg": "out"}
    stdout, stderr, _, _ = run.Component().client(cache, job)
    lib.store_output_args(cache, job, stdout, stderr)
    assert cache.get("args") == {"out": ""}


# -- ARG / ENV client -----------------------------------------------------------
def test_arg_client_merges_into_args(cache: Cache) -> None:
    cache.set("args", {"old": "x", "n": [1]}, tag="args")
    stdout, stderr, outcome, info = arg.Component().client(cache, {"args": {"n": [2], "d": {"a": 1}}})
    assert (stdout, stderr, outcome) == ("args added to cache", None, True)
    assert "type:args" in info
    assert cache.get("args") == {"old": "x", "n": [2], "d": {"a": 1}}


def test_arg_client_extend_args(cache: Cache) -> None:
    cache.set("args", {"n": [1], "d": {"a": 1}}, tag="args")
    arg.Component().client(cache, {"args": {"n": [2], "d": {"b": 2}}, "extend_args": True})
    assert cache.get("args") == {"n": [1, 2], "d": {"a": 1, "b": 2}}


def test_arg_client_renders_values(cache: Cache) -> None:
    cache.set("args", {"name": "web"}, tag="args")
    _, _, outcome, _ = arg.Component().client(cache, {"args": {"url": "http://{{ name }}:80", "n": 3}})
    assert outcome is True
    assert cache.get("args")["url"] == "http://web:80"
    assert cache.get("args")["n"] == 3


def test_arg_client_undefined_variable_fails(cache: Cache) -> None:
    with pytest.raises(TemplateError, match="nope"):
        arg.Component().client(cache, {"args": {"k": "{{ nope }}"}})
    assert cache.get("args") is None


def test_arg_client_with_nothing_to_add(cache: Cache) -> None:
    stdout, _, outcome, _ = arg.Component().client(cache, {"args": {}})
    assert outcome is True
    assert stdout.startswith("Nothing added to cache")


@pytest.mark.parametrize("value", ['say "hi"', "line one\nline two", "C:\\path", "tab\there"])
def test_arg_client_renders_values_with_json_special_characters(cache: Cache, value: str) -> None:
    # e.g. a multi-line --stdout-arg reused in a later ARG: the rendered value
    # must arrive intact (or the job must fail cleanly), never blow up.
    cache.set("args", {"q": value}, tag="args")
    result = arg.Component().client(cache, {"args": {"k": "{{ q }}"}})
    assert result[2] is True
    assert cache.get("args")["k"] == value


def test_env_client_stringifies_and_run_sees_it(cache: Cache) -> None:
    _, _, outcome, _ = env.Component().client(cache, {"envs": {"N": 5, "L": [1], "S": "x"}})
    assert outcome is True
    assert cache.get("envs") == {"N": "5", "L": "[1]", "S": "x"}
    assert cache.get("args") is None  # ENV never touches args
    stdout, _, _, _ = run.Component().client(cache, {"command": 'printf "%s" "$N"'})
    assert stdout == b"5"


def test_arg_and_env_are_not_cacheable_and_share_a_lock() -> None:
    assert arg.Component.cacheable is False and env.Component.cacheable is False
    assert arg.Component.requires_lock and env.Component.requires_lock
    assert arg.Component.lock_name == env.Component.lock_name == "arg"
    assert run.Component.cacheable is True


# -- WORKDIR client ---------------------------------------------------------------
def test_workdir_creates_directory_with_mode(cache: Cache, tmp_path: Path) -> None:
    target = tmp_path / "a" / "b"
    stdout, stderr, outcome, _ = workdir.Component().client(cache, {"workdir": str(target), "mode": 0o750})
    assert (outcome, stderr) == (True, None)
    assert stdout == f"Directory {target} OK"
    assert stat.S_IMODE(target.stat().st_mode) == 0o750
    # Idempotent: the directory may exist already.
    assert workdir.Component().client(cache, {"workdir": str(target), "mode": 0o700})[2] is True
    assert stat.S_IMODE(target.stat().st_mode) == 0o700


def test_workdir_renders_path_and_chowns_to_a_named_user(cache: Cache, tmp_path: Path) -> None:
    cache.set("args", {"app": "svc"}, tag="args")
    job = {"workdir": str(tmp_path / "{{ app }}"), "user": getpass.getuser(), "group": None}
    _, stderr, outcome, _ = workdir.Component().client(cache, job)
    assert (outcome, stderr) == (True, None)
    assert (tmp_path / "svc").is_dir()
    assert (tmp_path / "svc").stat().st_uid == os.getuid()


def test_workdir_unknown_owner_fails(cache: Cache, tmp_path: Path) -> None:
    job = {"workdir": str(tmp_path / "d"), "user": "no-such-user-directord", "group": None}
    _, stderr, outcome, _ = workdir.Component().client(cache, job)
    assert outcome is False
    assert stderr.startswith("Failed to set ownership properties")


def test_workdir_empty_or_undefined_path_fails(cache: Cache, tmp_path: Path) -> None:
    assert workdir.Component().client(cache, {"workdir": ""})[2] is False
    with pytest.raises(TemplateError, match="nope"):
        workdir.Component().client(cache, {"workdir": f"{tmp_path}/{{{{ nope }}}}"})
    assert list(tmp_path.iterdir()) == [tmp_path / "client"]  # only the cache's own directory


# -- CACHEEVICT client ----------------------------------------------------------
@pytest.fixture
def filled(cache: Cache) -> Cache:
    cache.set("args", {"a": 1}, tag="args")
    cache.set("envs", {"E": "1"}, tag="envs")
    cache.set("sha-1", "\x04", tag="jobs")
    cache.set("sha-2", "\x15", tag="jobs")
    cache.set("parent-1", "\x04", tag="parents")
    return cache


def evict(cache: Cache, what: str) -> tuple[Any, Any, Any, Any]:
    return cacheevict.Component().client(cache, {"cacheevict": what})


def test_cacheevict_all(filled: Cache) -> None:
    stdout, _, outcome, _ = evict(filled, "all")
    assert (stdout, outcome) == ("All cache has been cleared", True)
    assert filled.dump() == {}


@pytest.mark.parametrize(("tag", "count", "left"), [
    ("jobs", 2, {"args", "envs", "parent-1"}),
    ("parents", 1, {"args", "envs", "sha-1", "sha-2"}),
    ("args", 1, {"envs", "sha-1", "sha-2", "parent-1"}),
    ("envs", 1, {"args", "sha-1", "sha-2", "parent-1"}),
    ("query", 0, {"args", "envs", "sha-1", "sha-2", "parent-1"}),
])
def test_cacheevict_documented_tags(filled: Cache, tag: str, count: int, left: set[str]) -> None:
    stdout, _, outcome, _ = evict(filled, tag)
    assert outcome is True
    assert stdout == f"Evicted {count} items, tagged {tag}"
    assert set(filled.dump()) == left


def test_cacheevict_single_key(filled: Cache) -> None:
    stdout, _, outcome, _ = evict(filled, "sha-2")
    assert outcome is True
    assert "sha-2" in stdout
    assert set(filled.dump()) == {"args", "envs", "sha-1", "parent-1"}


def test_cacheevict_missing_key_fails(filled: Cache) -> None:
    stdout, stderr, outcome, _ = evict(filled, "not-there")
    assert outcome is False
    assert stdout is None
    assert "not-there" in stderr
    assert len(filled.dump()) == 5


def test_upstream_style_set_cache_keeps_args_evictable(cache: Cache) -> None:
    # A component written for the original Directord stores args with the
    # old signature (no tag). CACHEEVICT args must still remove them.
    class Facts(ComponentBase):
        def client(self, cache: Any, job: dict[str, Any]) -> tuple[Any, Any, Any, Any]:
            self.set_cache(cache=cache, key="args", value={"facter": {"os": "linux"}}, value_update=True)
            return "ok", None, True, None

    arg.Component().client(cache, {"args": {"a": 1}})
    Facts().client(cache, {})
    assert cache.get("args") == {"a": 1, "facter": {"os": "linux"}}
    _, _, outcome, _ = evict(cache, "args")
    assert outcome is True
    assert "args" not in cache


# -- lib --------------------------------------------------------------------------
def test_merge_dict_adds_new_keys_without_mutating() -> None:
    base = {"a": 1}
    assert lib.merge_dict(base, {"b": 2}) == {"a": 1, "b": 2}
    assert lib.merge_dict(base, {"b": 2}, extend=False) == {"a": 1, "b": 2}
    assert base == {"a": 1}


def test_merge_dict_extend() -> None:
    base = {"d": {"x": 1, "deep": {"l": [1]}}, "l": [1], "t": (1,), "s": {1}, "v": "old"}
    new = {"d": {"y": 2, "deep": {"l": [2]}}, "l": [2], "t": (2,), "s": {2}, "v": "new"}
    assert lib.merge_dict(base, new, extend=True) == {
        "d": {"x": 1, "y": 2, "deep": {"l": [1, 2]}},
        "l": [1, 2],
        "t": (1, 2),
        "s": {1, 2},
        "v": "new",
    }
    assert base["l"] == [1] and base["d"] == {"x": 1, "deep": {"l": [1]}}


def test_merge_dict_replace() -> None:
    base = {"d": {"x": 1}, "l": [1], "v": "old"}
    assert lib.merge_dict(base, {"d": {"y": 2}, "l": [2]}, extend=False) == {"d": {"y": 2}, "l": [2], "v": "old"}


def test_merge_dict_top_level_lists_and_scalars() -> None:
    assert lib.merge_dict([1], [2], extend=True) == [1, 2]
    assert lib.merge_dict([1], [2], extend=False) == [2]
    assert lib.merge_dict(None, {"a": 1}) == {"a": 1}
    assert lib.merge_dict({"a": 1}, "x") == "x"


def test_parse_owner() -> None:
    assert lib.parse_owner("u:g") == ("u", "g")
    assert lib.parse_owner("u") == ("u", None)
    assert lib.parse_owner(":g") == (None, "g")
    assert lib.parse_owner(None) == (None, None)


def test_spawn_without_context() -> None:
    stdout, stderr, code = lib.spawn(["/bin/sh", "-c", "echo out; echo err >&2; exit 4"])
    assert (stdout, stderr, code) == (b"out\n", b"err\n", 4)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_job_context_kills_the_tracked_process_tree(tmp_path: Path, wait_for: Callable[..., bool]) -> None:
    pidfile = tmp_path / "grandchild.pid"
    context = lib.JobContext({"job_id": "j"})
    result: dict[str, Any] = {}

    def work() -> None:
        with context:
            result["inside"] = lib.current_context()
            result["run"] = lib.spawn(["/bin/sh", "-c", f"sleep 60 & echo $! > {pidfile}; wait"])
        result["after"] = lib.current_context()

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    try:
        assert wait_for(lambda: bool(context.processes) and pidfile.exists() and pidfile.read_text().strip())
        grandchild = int(pidfile.read_text())
        assert _alive(grandchild)
        context.kill()
        thread.join(timeout=10)
        assert not thread.is_alive()
        assert result["run"][2] == -signal.SIGKILL
        assert result["inside"] is context
        assert result["after"] is None
        assert context.killed
        assert wait_for(lambda: not _alive(grandchild))
    finally:
        for process in context.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)


def test_job_context_kills_processes_started_after_kill() -> None:
    context = lib.JobContext({"job_id": "j"})
    context.kill()
    result: dict[str, Any] = {}

    def work() -> None:
        with context:
            result["run"] = lib.spawn(["/bin/sh", "-c", "sleep 60"])

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(timeout=10)
    try:
        assert not thread.is_alive()
        assert result["run"][2] == -signal.SIGKILL
    finally:
        for process in context.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)


def test_retry_stops_when_the_job_was_killed(cache: Cache) -> None:
    calls = []

    class Failing(ComponentBase):
        @lib.retry
        def client(self, cache: Any, job: dict[str, Any]) -> tuple[Any, Any, Any, Any]:
            calls.append(1)
            lib.current_context().kill()
            return None, "failed", False, None

    with lib.JobContext({"job_id": "j"}):
        result = Failing().client(cache, {"retry": 5})
    assert result[2] is False
    assert len(calls) == 1


def test_component_errors_are_directord_errors() -> None:
    assert issubclass(ComponentError, DirectordError)
    with pytest.raises(NotImplementedError):
        ComponentBase().client(None, {})


def test_blueprint_is_the_sandboxed_environment_built_on_first_use() -> None:
    from jinja2.sandbox import SandboxedEnvironment

    from directord import templating

    component = ComponentBase()
    assert isinstance(component.blueprint, SandboxedEnvironment)
    assert component.blueprint is templating.ENVIRONMENT is templating.environment()
