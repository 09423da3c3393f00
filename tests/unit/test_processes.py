"""Starting commands: the fork_exec fast path and the Popen fallback behave the same."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from directord.components import processes


@pytest.fixture(params=["fork_exec", "popen"])
def start_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    if request.param == "popen":
        monkeypatch.setattr(processes, "_fork_exec_works", lambda: False)
    yield request.param


def test_fork_exec_is_usable_on_this_interpreter() -> None:
    assert processes._fork_exec_works()


def test_output_and_exit_code(start_path: str) -> None:
    assert processes.run(["/bin/sh", "-c", "echo out; echo err >&2; exit 3"]) == (b"out\n", b"err\n", 3)


def test_signal_death_is_a_negative_code(start_path: str) -> None:
    assert processes.run(["/bin/sh", "-c", "kill -9 $$"])[2] == -9


def test_large_output_on_both_streams_does_not_deadlock(start_path: str) -> None:
    script = "head -c 1048576 /dev/zero; head -c 524288 /dev/zero >&2"
    stdout, stderr, code = processes.run(["/bin/sh", "-c", script])
    assert (len(stdout), len(stderr), code) == (1048576, 524288, 0)


def test_stdin_is_empty_and_the_child_leads_its_own_session(start_path: str) -> None:
    stdout, _, code = processes.run(["/bin/sh", "-c", "cat; ps -o sid= -p $$"])
    assert code == 0
    assert int(stdout.split()[-1]) != os.getsid(0)


def test_bare_names_are_found_on_path(start_path: str) -> None:
    assert processes.run(["sh", "-c", "echo found"])[0] == b"found\n"


def test_env_replaces_the_environment(start_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIRECTORD_TEST_INHERITED", "yes")
    inherited = processes.run(["/bin/sh", "-c", "echo $DIRECTORD_TEST_INHERITED"])[0]
    replaced = processes.run(["/bin/sh", "-c", "echo $DIRECTORD_TEST_INHERITED-$ONLY"], env={"ONLY": "1"})[0]
    assert (inherited, replaced) == (b"yes\n", b"-1\n")


def test_cwd(start_path: str, tmp_path: Path) -> None:
    assert processes.run(["/bin/sh", "-c", "pwd"], cwd=str(tmp_path))[0].decode().strip() == str(tmp_path)


def test_a_missing_executable_raises_file_not_found(start_path: str) -> None:
    with pytest.raises(FileNotFoundError) as caught:
        processes.run(["/nonexistent/directord-test"])
    assert caught.value.errno == errno.ENOENT


def test_a_missing_cwd_raises_file_not_found(start_path: str, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        processes.run(["/bin/true"], cwd=str(tmp_path / "gone"))


def test_an_illegal_env_name_is_refused(start_path: str) -> None:
    with pytest.raises(ValueError, match="illegal environment variable name"):
        processes.run(["/bin/true"], env={"A=B": "1"})


def test_track_gets_the_process_before_it_is_waited_for(start_path: str) -> None:
    seen: list[processes.Process] = []
    processes.run(["/bin/sh", "-c", "exit 0"], track=seen.append)
    assert len(seen) == 1 and seen[0].pid > 0 and seen[0].poll() == 0


def test_no_descriptor_leaks(start_path: str) -> None:
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(20):
        processes.run(["/bin/sh", "-c", "echo x"])
    with pytest.raises(FileNotFoundError):
        processes.run(["/nonexistent/directord-test"])
    assert len(os.listdir("/proc/self/fd")) == before
