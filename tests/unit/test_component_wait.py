"""WAIT: server-side fields and the client's seconds / command / URL modes."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from directord.cache import Cache
from directord.components import lib, wait
from directord.components.services import NodeServices
from directord.exceptions import ComponentError, ExecHelp, TemplateError

from .helpers import built, client_in_thread

FAST = {"retry": 2, "retry_wait": 0.01, "insecure": False}


def fields(job: dict[str, Any]) -> list[str]:
    """The job's keys up to the fingerprint (the fingerprinted part, in order)."""
    keys = list(job)
    return keys[: keys.index("job_sha3_224")]


# -- server() ------------------------------------------------------------------
def test_seconds_fields_in_order() -> None:
    job = built("WAIT", "--seconds 5")
    assert fields(job) == ["verb", "seconds", "retry", "retry_wait", "insecure", "timeout", "run_once"]
    assert job["seconds"] == 5
    assert (job["retry"], job["retry_wait"], job["insecure"]) == (30, 1, False)
    assert "url" not in job and "command" not in job


def test_url_fields_in_order() -> None:
    job = built("WAIT", "--url --retry 3 --retry-wait 0.5 --insecure https://example.test/health")
    assert fields(job) == ["verb", "url", "retry", "retry_wait", "insecure", "timeout", "run_once"]
    assert job["url"] == "https://example.test/health"
    assert (job["retry"], job["retry_wait"], job["insecure"]) == (3, 0.5, True)


def test_cmd_fields_and_golden_fingerprint() -> None:
    job = built("WAIT", "--cmd curl -s http://x")
    assert fields(job) == ["verb", "command", "retry", "retry_wait", "insecure", "timeout", "run_once"]
    assert job["command"] == "curl -s http://x"
    assert job["job_sha3_224"] == "e6b6d4755d69f90d250ad2409a4a497eb3ddf798ba677366a0f9a188"


def test_cmd_text_is_kept_verbatim() -> None:
    job = built("WAIT", "--cmd test -f '/tmp/a  b'")
    assert job["command"] == "test -f '/tmp/a  b'"


@pytest.mark.parametrize("text", [
    '--cmd "test -f /x" --retry 2',
    "--cmd test -f /x --retry 2",
    "--retry 2 --cmd test -f /x",
    "--cmd --retry 2 test -f /x",
    "--cmd=test -f /x --retry=2",
])
def test_options_anywhere_around_the_command(text: str) -> None:
    job = built("WAIT", text)
    assert (job["command"], job["retry"]) == ("test -f /x", 2)
    assert job["job_sha3_224"] == built("WAIT", "--retry 2 --cmd test -f /x")["job_sha3_224"]


def test_a_quoted_command_keeps_wait_option_names() -> None:
    job = built("WAIT", "--timeout 9 --cmd 'curl --timeout 5 --retry 1 http://x'")
    assert (job["command"], job["timeout"], job["retry"]) == ("curl --timeout 5 --retry 1 http://x", 9, 30)


def test_double_dash_ends_the_options() -> None:
    job = built("WAIT", "--retry 1 --cmd -- grep --retry log")
    assert (job["command"], job["retry"]) == ("grep --retry log", 1)


def test_url_with_options_after_it() -> None:
    job = built("WAIT", "--url https://example.test/h?a=1 --insecure --retry-wait 0.5")
    assert (job["url"], job["insecure"], job["retry_wait"]) == ("https://example.test/h?a=1", True, 0.5)


def test_seconds_takes_no_text() -> None:
    with pytest.raises(ComponentError, match="--seconds takes no other text"):
        built("WAIT", "--seconds 5 true")


def test_exec_help_names_what_cmd_and_url_take() -> None:
    with pytest.raises(ExecHelp) as excinfo:
        built("WAIT", "--exec-help")
    text = " ".join(str(excinfo.value).split())
    assert "--url URL" in text and "--cmd CMD" in text and "--retry N" in text
    assert "Options may appear anywhere." in text


@pytest.mark.parametrize("text", ["--url", "--cmd", "--url   ", "--retry 2 --cmd"])
def test_url_or_cmd_without_text_is_rejected(text: str) -> None:
    with pytest.raises(ComponentError, match="need a URL or command"):
        built("WAIT", text)


@pytest.mark.parametrize("text", ["", "--retry 2", "just some text"])
def test_one_mode_is_required(text: str) -> None:
    with pytest.raises(ComponentError, match="one of the arguments --seconds --url --cmd is required"):
        built("WAIT", text)


@pytest.mark.parametrize("text", ["--seconds 1 --url http://x", "--url --cmd true", "--cmd --seconds 2 true"])
def test_modes_are_mutually_exclusive(text: str) -> None:
    with pytest.raises(ComponentError, match="not allowed with argument"):
        built("WAIT", text)


def test_seconds_must_be_a_number() -> None:
    with pytest.raises(ComponentError, match="seconds"):
        built("WAIT", "--seconds soon")


# -- client(): seconds -----------------------------------------------------------
def test_seconds_sleeps_then_succeeds(cache: Cache) -> None:
    stdout, stderr, outcome, info = wait.Component().client(cache, {"seconds": 0.05})
    assert (stdout, stderr, outcome, info) == ("Waited 0.05 seconds", None, True, None)


# -- client(): command -------------------------------------------------------------
def test_cmd_success(cache: Cache) -> None:
    stdout, stderr, outcome, info = wait.Component().client(cache, {"command": "echo ready", **FAST})
    assert outcome is True
    assert stdout == "ready"
    assert info is None
    assert not stderr


def test_cmd_failure_retries_and_concatenates_outputs(cache: Cache) -> None:
    job = {"command": "echo out; echo err >&2; exit 3", **FAST}
    stdout, stderr, outcome, info = wait.Component().client(cache, job)
    assert outcome is False
    assert info == "Command was not successful. Retried 2 times."
    assert stdout == "out\nout\nout"  # the first attempt plus two retries
    assert stderr == "err\nerr\nerr"


def test_cmd_with_zero_retries_runs_once(cache: Cache) -> None:
    stdout, _, outcome, info = wait.Component().client(cache, {**FAST, "command": "echo once; false", "retry": 0})
    assert outcome is False
    assert stdout == "once"
    assert info == "Command was not successful. Retried 0 times."


def test_cmd_succeeds_on_a_later_attempt(cache: Cache, tmp_path: Any) -> None:
    counter = tmp_path / "count"
    # Fails twice, succeeds on the third attempt (two retries).
    command = f"echo x >> {counter}; test $(wc -l < {counter}) -ge 3"
    _, _, outcome, info = wait.Component().client(cache, {"command": command, **FAST})
    assert outcome is True
    assert info is None
    assert counter.read_text().count("x") == 3


def test_cmd_is_rendered_with_args_and_runs_with_envs(cache: Cache) -> None:
    cache.set("args", {"word": "templated"})
    cache.set("envs", {"WAIT_TEST_VAR": "from-env"})
    stdout, _, outcome, _ = wait.Component().client(
        cache, {"command": 'echo "{{ word }} $WAIT_TEST_VAR"', **FAST})
    assert outcome is True
    assert stdout == "templated from-env"


def test_cmd_with_undefined_template_variable_fails(cache: Cache) -> None:
    with pytest.raises(TemplateError, match="nope"):  # the client fails the job with the message
        wait.Component().client(cache, {"command": "echo {{ nope }}", **FAST})


# -- client(): URL ---------------------------------------------------------------
class _Handler(http.server.BaseHTTPRequestHandler):
    hits: dict[str, int] = {}

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        _Handler.hits[self.path] = _Handler.hits.get(self.path, 0) + 1
        if self.path == "/ok":
            code = 200
        elif self.path == "/flaky":
            code = 200 if _Handler.hits[self.path] >= 3 else 503
        else:
            code = 500
        body = f"status {code}".encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture
def http_base(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 (ephemeral port); yields its base URL."""
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    _Handler.hits = {}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_url_200_succeeds(cache: Cache, http_base: str) -> None:
    stdout, stderr, outcome, info = wait.Component().client(cache, {"url": f"{http_base}/ok", **FAST})
    assert outcome is True
    assert stdout == "Response code was 200"
    assert info is None
    assert not stderr
    assert _Handler.hits == {"/ok": 1}


def test_url_500_fails_after_retries(cache: Cache, http_base: str) -> None:
    stdout, _, outcome, info = wait.Component().client(cache, {"url": f"{http_base}/broken", **FAST})
    assert outcome is False
    assert info == "URL did not return a 2xx or 3xx. Retried 2 times."
    assert stdout == "\n".join(["Response code was 500"] * 3)
    assert _Handler.hits == {"/broken": 3}


def test_url_recovers_on_a_later_attempt(cache: Cache, http_base: str) -> None:
    stdout, _, outcome, _ = wait.Component().client(cache, {"url": f"{http_base}/flaky", **FAST})
    assert outcome is True
    assert stdout.splitlines() == ["Response code was 503", "Response code was 503", "Response code was 200"]


def test_url_is_rendered_with_args(cache: Cache, http_base: str) -> None:
    cache.set("args", {"base": http_base})
    _, _, outcome, _ = wait.Component().client(cache, {"url": "{{ base }}/ok", **FAST})
    assert outcome is True
    assert _Handler.hits == {"/ok": 1}


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_url_fails(cache: Cache, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    url = f"http://127.0.0.1:{_closed_port()}/health"
    stdout, stderr, outcome, info = wait.Component().client(cache, {"url": url, **FAST, "retry": 1})
    assert outcome is False
    assert info == "URL did not return a 2xx or 3xx. Retried 1 times."
    assert not stdout
    assert stderr.count(url) == 2  # one error line per attempt, naming the URL


def test_malformed_url_fails_without_raising(cache: Cache) -> None:
    _, stderr, outcome, _ = wait.Component().client(cache, {"url": "not a url", **FAST, "retry": 0})
    assert outcome is False
    assert "not a url" in stderr


# -- a killed job stops waiting ------------------------------------------------------
def _run_killed(cache: Cache, job: dict[str, Any], started: Callable[[], bool],
                wait_for: Callable[..., bool]) -> tuple[Any, ...]:
    context = lib.JobContext(job)
    thread, results = client_in_thread(wait.Component(), cache, job, context)
    assert wait_for(started, timeout=5)
    assert not results  # still waiting
    context.kill()
    thread.join(5)
    assert not thread.is_alive(), "the killed WAIT did not stop"
    return results[0]


def test_killed_seconds_wait_stops_early(cache: Cache, wait_for: Callable[..., bool],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    entered: list[float] = []
    original = NodeServices.sleep

    def tracking_sleep(self: NodeServices, seconds: float) -> bool:
        entered.append(seconds)
        return original(self, seconds)

    monkeypatch.setattr(NodeServices, "sleep", tracking_sleep)
    result = _run_killed(cache, {"seconds": 60}, lambda: bool(entered), wait_for)
    assert result == (None, "interrupted", False, None)
    assert entered == [60.0]


def test_killed_cmd_wait_stops_the_command_and_the_retries(cache: Cache, tmp_path: Any,
                                                           wait_for: Callable[..., bool]) -> None:
    marker = tmp_path / "started"
    job = {"command": f"touch {marker}; sleep 60", "retry": 30, "retry_wait": 60, "insecure": False}
    stdout, _, outcome, info = _run_killed(cache, job, marker.exists, wait_for)
    assert outcome is False
    assert info.startswith("Command was not successful.")
    assert not stdout


def test_killed_during_retry_wait_stops(cache: Cache, tmp_path: Any, wait_for: Callable[..., bool]) -> None:
    marker = tmp_path / "attempts"
    job = {"command": f"echo x >> {marker}; false", "retry": 30, "retry_wait": 60, "insecure": False}
    _, _, outcome, _ = _run_killed(cache, job, marker.exists, wait_for)
    assert outcome is False
    assert marker.read_text() == "x\n"  # no second attempt after the kill
