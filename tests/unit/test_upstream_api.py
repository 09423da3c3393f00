"""The original Directord's component API: ``lib.timeout``, ``directord.utils``,
``ComponentBase.options_converter``/``set_cache``, ``components.Backend`` and the
client's ``ComponentDriver`` (``job_send``, ``ClientStatus``)."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from pathlib import Path

import pytest
import yaml

from directord import components, utils
from directord.client.compat import ComponentDriver
from directord.components import lib
from directord.exceptions import ComponentError
from directord.fingerprint import object_sha3_224
from directord.models import Control, Message


class Sleeper(components.ComponentBase):
    """A shell sleep that writes its pid first."""

    def __init__(self, pid_file: Path):
        super().__init__(desc="sleep")
        self.pid_file = pid_file

    @lib.timeout
    def client(self, cache, job):
        stdout, stderr, ok = self.run_command(f"echo $$ > {self.pid_file}; exec sleep {job['seconds']}")
        return stdout, stderr, ok, "slept"


class Spinner(components.ComponentBase):
    """A pure-Python loop that swallows every Exception, as careless components do."""

    def __init__(self):
        super().__init__(desc="spin")
        self.loops = 0

    @lib.timeout
    def client(self, cache, job):
        while True:
            try:
                self.loops += 1
                time.sleep(0.01)
            except Exception:  # noqa: BLE001, S110 - the point: a handler that would swallow an Exception
                pass


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as handle:  # a zombie left for its parent is dead too
        return handle.read().split()[2] != "Z"


def test_timeout_passes_a_quick_result_through(tmp_path, cache):
    result = Sleeper(tmp_path / "pid").client(cache=cache, job={"job_id": "j1", "seconds": 0, "timeout": 5})
    assert result == (b"", b"", True, "slept")


def test_timeout_kills_the_process_tree_at_the_deadline(tmp_path, cache, wait_for):
    pid_file = tmp_path / "pid"
    start = time.monotonic()
    result = Sleeper(pid_file).client(cache=cache, job={"job_id": "j2", "seconds": 60, "timeout": 1})
    assert result == (None, "Timeout encountered", False, None)
    assert 0.9 <= time.monotonic() - start < 5
    assert wait_for(lambda: not alive(int(pid_file.read_text())), timeout=5)


def test_timeout_interrupts_a_python_loop(cache, wait_for):
    spinner = Spinner()
    result = spinner.client(cache=cache, job={"job_id": "spin-1", "timeout": 0.3})
    assert result == (None, "Timeout encountered", False, None)
    assert wait_for(lambda: "job-spin-1" not in {t.name for t in threading.enumerate()}, timeout=5)
    loops = spinner.loops
    time.sleep(0.1)  # the thread is gone: the count no longer moves
    assert spinner.loops == loops


def test_timeout_ends_early_when_the_client_killed_the_job(tmp_path, cache):
    """The client's own timeout check (or a stop) kills the JobContext: the decorator stops waiting too."""
    context = lib.JobContext({"job_id": "j3"})
    killer = threading.Timer(0.3, context.kill)
    killer.start()
    start = time.monotonic()
    with context:
        result = Spinner().client(cache=cache, job={"job_id": "j3", "timeout": 60})
    killer.join()
    assert result[1:3] == ("Timeout encountered", False)
    assert time.monotonic() - start < 5


def test_timeout_raises_what_the_client_raised(cache):
    class Broken(components.ComponentBase):
        @lib.timeout
        def client(self, cache, job):
            raise ValueError("bad job")

    with pytest.raises(ValueError, match="bad job"):
        Broken().client(cache=cache, job={"job_id": "j4"})


def test_utils_fingerprints_and_uuid(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"content")
    assert utils.file_sha3_224(str(path)) == hashlib.sha3_224(b"content").hexdigest()
    assert utils.file_sha3_224(str(tmp_path / "missing")) is None
    assert utils.object_sha3_224({"a": 1}) == object_sha3_224({"a": 1})
    first, second = utils.get_uuid(), utils.get_uuid()
    assert first != second and len(first) == 36


def test_utils_merge_dict_and_dump_yaml(tmp_path):
    merged = utils.merge_dict({"a": [1], "b": {"c": 1}}, {"a": [2], "b": {"d": 2}})
    assert merged == {"a": [1, 2], "b": {"c": 1, "d": 2}}
    assert utils.merge_dict({"a": 1}, None) == {"a": 1}  # no overrides: the configs as they are
    assert utils.merge_dict({"a": [1]}, {"a": [2]}, extend=False) == {"a": [2]}
    target = tmp_path / "out.yaml"
    assert utils.dump_yaml(str(target), {"k": [1, 2]}) == str(target)
    assert target.read_text() == "k:\n- 1\n- 2\n"


def test_utils_print_tabulated_data(capsys):
    utils.print_tabulated_data([["node1", 10], ["node-long", None]], ["ID", "UPTIME"])
    assert capsys.readouterr().out.splitlines() == [
        "ID         UPTIME", "---------  ------", "node1      10", "node-long"]


def test_utils_return_poller_interval():
    now = time.time()
    assert utils.return_poller_interval(now, 128) == 128
    assert utils.return_poller_interval(now - 40, 128) == 1024
    assert utils.return_poller_interval(now - 70, 1024) == 2048


def test_utils_component_lock_search():
    locks = utils.component_lock_search()
    assert "arg" in locks  # FACTER and ARG write args under ARG's lock
    assert "run" not in locks


def test_options_converter_builds_options_from_yaml():
    documentation = yaml.safe_dump({"options": {
        "config_path": {"description": ["Where", "configs are."], "required": True, "type": "str"},
        "config_pattern": {"default": "*.json", "type": "str"},
        "debug": {"type": "bool"},
        "level": {"type": "int", "choices": [1, 2]},
    }})

    class Converted(components.ComponentBase):
        def args(self):
            super().args()
            self.options_converter(documentation=documentation)

    component = Converted(desc="converted")
    known, _ = component.exec_parser(_parser(component), ["--config-path /etc --debug --level 2"])
    assert (known.config_path, known.config_pattern, known.debug, known.level) == ("/etc", "*.json", True, 2)
    assert "Where configs are." in component.parser.format_help()
    with pytest.raises(ComponentError, match="--config-path"):
        component.exec_parser(_parser(component), [""])


def _parser(component: components.ComponentBase):
    component.args()
    return component.parser


def test_set_cache_returns_what_it_stored(cache):
    component = components.ComponentBase()
    assert component.set_cache(cache, "args", {"a": 1}) == {"a": 1}
    assert component.set_cache(cache, "args", {"b": 2}, value_update=True) == {"a": 1, "b": 2}
    assert cache.get("args") == {"a": 1, "b": 2}


def test_client_status_sends_the_job_state_through_the_driver():
    sent: list[Message] = []
    component = components.ComponentBase()
    component.driver = ComponentDriver(None, "node1", sent.append)
    with utils.ClientStatus(job_id="j5", command="ECHO", ctx=component) as status:
        status.job_state = component.driver.job_processing
        status.stdout = "half way"
    assert sent == [Message("j5", Control.JOB_PROCESSING.value, "ECHO", stdout="half way")]


def test_component_driver_passes_our_driver_through():
    class Ours:
        name = "zmq"

        def open_backend(self):
            return "connection"

    driver = ComponentDriver(Ours(), "node1")
    assert (driver.name, driver.open_backend(), driver.identity) == ("zmq", "connection", "node1")
    assert driver.job_end == Control.JOB_END.value and driver.nullbyte == "\x00"
    copied = driver.__copy__()
    assert copied is not driver and copied.driver is driver.driver
    with pytest.raises(AttributeError):
        driver.no_such_attribute  # noqa: B018


def test_backend_opens_and_closes_a_session():
    class Recording(ComponentDriver):
        calls: list[str] = []

        def backend_init(self):
            self.calls.append("init")

        def backend_close(self):
            self.calls.append("close")

    driver = Recording(None, "node1")
    with components.Backend(driver=driver, log=components.LOG, job_id="j6") as inside:
        assert inside is driver and driver.calls == ["init"]
    assert driver.calls == ["init", "close"]
