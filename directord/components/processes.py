"""Starting job commands as cheaply as CPython allows, output captured.

Every RUN is one child process, so this is the client's hot path. The usual
ways cost more than the work around them:

* ``subprocess.Popen`` spends about 60 us of Python per command;
* ``os.posix_spawn`` holds the GIL while the vfork child execs, which stalls
  every other job thread of the node, and converts ``os.environ`` each call.

``_posixsubprocess.fork_exec``, the primitive ``Popen`` itself calls, does
neither: it vforks with the GIL released and lets the child inherit the
environment. It is private to CPython, so its signature is checked once per
process by running a real command through it; where that check fails (another
CPython), commands start through ``subprocess.Popen`` instead.
"""

from __future__ import annotations

import functools
import logging
import os
import select
import subprocess
from collections.abc import Callable, Mapping

try:
    import _posixsubprocess
except ImportError:  # not CPython on POSIX
    _posixsubprocess = None

LOG = logging.getLogger(__name__)
READ_SIZE = 65536
ERRPIPE_LIMIT = 50000


class Child:
    """A started process, with the part of ``Popen``'s interface a ``JobContext`` uses."""

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        """The exit code once ``wait`` has reaped the child (it is never reaped elsewhere)."""
        return self.returncode

    def wait(self) -> int:
        self.returncode = os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])
        return self.returncode


Process = Child | subprocess.Popen


def run(argv: list[str], env: Mapping[str, str] | None = None, cwd: str | None = None,
        track: Callable[[Process], None] | None = None) -> tuple[bytes, bytes, int]:
    """Run ``argv`` in a new session with stdin from /dev/null: (stdout, stderr, exit code).

    ``track`` gets the started process (``pid``, ``poll()``) before its output is read.
    ``env`` replaces the environment; None inherits this process's.
    """
    return _capture(_start, argv, env, cwd, track)


def _capture(start: Callable[..., Process], argv: list[str], env: Mapping[str, str] | None,
             cwd: str | None, track: Callable[[Process], None] | None) -> tuple[bytes, bytes, int]:
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    try:
        process = start(argv, env, cwd, out_write, err_write)
    except BaseException:
        os.close(out_read)
        os.close(err_read)
        raise
    finally:
        os.close(out_write)
        os.close(err_write)
    if track is not None:
        track(process)
    stdout, stderr = _read_both(out_read, err_read)
    return stdout, stderr, process.wait()


def _read_both(out_read: int, err_read: int) -> tuple[bytes, bytes]:
    """Everything written to both pipes until every writer has closed them; closes both."""
    output = {out_read: bytearray(), err_read: bytearray()}
    poller = select.poll()
    for fd in output:
        poller.register(fd, select.POLLIN)
    remaining = len(output)
    while remaining:
        for fd, _event in poller.poll():
            data = os.read(fd, READ_SIZE)
            if data:
                output[fd] += data
            else:
                poller.unregister(fd)
                os.close(fd)
                remaining -= 1
    return bytes(output[out_read]), bytes(output[err_read])


def _start(argv: list[str], env: Mapping[str, str] | None, cwd: str | None,
           stdout: int, stderr: int) -> Process:
    if _fork_exec_works():
        return _fork_exec(argv, env, cwd, stdout, stderr)
    return subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
                            start_new_session=True)


@functools.cache
def _devnull() -> int:
    return os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)


def _fork_exec(argv: list[str], env: Mapping[str, str] | None, cwd: str | None,
               stdout: int, stderr: int) -> Child:
    """vfork + exec through CPython's own primitive (the arguments ``Popen`` passes it)."""
    env_list = None if env is None else [_env_entry(key, value) for key, value in env.items()]
    executable = os.fsencode(argv[0])
    if os.path.dirname(executable):
        candidates: tuple[bytes, ...] = (executable,)
    else:
        candidates = tuple(os.path.join(os.fsencode(path), executable) for path in os.get_exec_path(env))
    errpipe_read, errpipe_write = os.pipe()
    try:
        pid = _posixsubprocess.fork_exec(
            argv, candidates, True, (errpipe_write,), cwd, env_list,
            _devnull(), -1, -1, stdout, -1, stderr, errpipe_read, errpipe_write,
            True, True, -1, None, None, None, -1, None, True)
    finally:
        os.close(errpipe_write)
    try:
        failure = os.read(errpipe_read, ERRPIPE_LIMIT)  # empty once the exec succeeded (close-on-exec)
    finally:
        os.close(errpipe_read)
    child = Child(pid)
    if failure:
        child.wait()
        raise _exec_error(failure, argv[0], cwd)
    return child


def _env_entry(key: str, value: str) -> bytes:
    name = os.fsencode(key)
    if b"=" in name or not name:
        raise ValueError(f"illegal environment variable name {key!r}")
    return name + b"=" + os.fsencode(value)


def _exec_error(failure: bytes, executable: str, cwd: str | None) -> Exception:
    """The child's report (``Type:hex errno:message``) as the exception ``Popen`` would raise."""
    kind, _, rest = failure.partition(b":")
    hex_errno, _, message = rest.partition(b":")
    try:
        errno = int(hex_errno, 16)
    except ValueError:
        errno = 0
    text = message.decode(errors="replace")
    if kind == b"OSError" and errno:
        filename = cwd if text == "noexec:chdir" else None if text == "noexec" else executable
        return OSError(errno, os.strerror(errno), filename)
    return subprocess.SubprocessError(f"{kind.decode(errors='replace')}: {text}")


@functools.cache
def _fork_exec_works() -> bool:
    """Whether this interpreter's ``fork_exec`` takes the arguments above (checked by running a command)."""
    if _posixsubprocess is None:
        return False
    try:
        works = _capture(_fork_exec, ["/bin/sh", "-c", "echo ok"], None, None, None) == (b"ok\n", b"", 0)
    except Exception as exc:
        LOG.debug("fork_exec unusable here (%s); starting commands with subprocess.Popen", exc)
        return False
    if not works:
        LOG.debug("fork_exec gave unexpected results here; starting commands with subprocess.Popen")
    return works
