"""Helpers and decorators that components (ours and third parties') import.

``directord.components.lib.podman`` (the podman API helpers) is imported only by
the components that use it; it needs the ``podman`` extra.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from directord.components import processes
from directord.exceptions import PathRefused

LOG = logging.getLogger("directord")
_local = threading.local()
DEFAULT_TIMEOUT = 600.0
TIMEOUT_POLL = 0.1

ClientResult = tuple[Any, Any, Any, Any]


class ComponentResult(NamedTuple):
    """What ``client()`` returns; a 4-tuple, as components written for the original return.

    ``outcome`` is True (success), False (failure), None (still processing) or
    "skipped"; ``stdout``/``stderr`` are str, bytes or None; ``info`` is a short note.
    """

    stdout: str | bytes | None
    stderr: str | bytes | None
    outcome: bool | str | None
    info: Any = None

    @classmethod
    def failed(cls, stderr: str, stdout: str | bytes | None = None, info: Any = None) -> ComponentResult:
        return cls(stdout, stderr, False, info)

    @classmethod
    def of(cls, value: Any) -> ComponentResult:
        """A component's return value as a ComponentResult; TypeError unless it is a 4-tuple."""
        if isinstance(value, cls):
            return value
        if not isinstance(value, (tuple, list)) or len(value) != 4:
            raise TypeError(f"client() returned {value!r:.80}, not (stdout, stderr, outcome, info)")
        return cls(*value)


class JobContext:
    """Processes a running job started, so a timeout can kill their trees."""

    def __init__(self, job: dict[str, Any]):
        self.job = job
        self.processes: list[processes.Process] = []
        self.killed = False
        self._lock = threading.Lock()

    def track(self, process: processes.Process) -> None:
        with self._lock:
            if self.killed:
                _kill_group(process)
            self.processes.append(process)

    def kill(self) -> None:
        """SIGKILL the process group of every tracked process."""
        with self._lock:
            self.killed = True
            for process in self.processes:
                _kill_group(process)

    def __enter__(self) -> JobContext:
        _local.context = self
        return self

    def __exit__(self, *_exc: object) -> None:
        _local.context = None


def _kill_group(process: processes.Process) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def current_context() -> JobContext | None:
    """The JobContext of the job running in this worker thread, if any."""
    return getattr(_local, "context", None)


def killed() -> bool:
    """Was the job running in this thread killed (timeout or client stop)?"""
    context = current_context()
    return context is not None and context.killed


def text(value: Any) -> str | None:
    """``value`` (str, bytes or None) as stripped text; None stays None."""
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return str(value).strip()


def spawn(argv: list[str], env: dict[str, str] | None = None, no_block: bool = False,
          cwd: str | None = None) -> tuple[bytes | None, bytes | None, int]:
    """Run ``argv`` in its own session; returns (stdout, stderr, returncode).

    The process is tracked by the running job's context, so a timeout kills its tree.
    """
    if no_block:
        subprocess.Popen(argv, env=env, cwd=cwd, start_new_session=True,
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
        return None, None, 0
    context = current_context()
    return processes.run(argv, env, cwd, context.track if context is not None else None)


def merge_dict(base: Any, new: Any, extend: bool = True) -> Any:
    """Merge ``new`` into ``base``: dicts recursively, sequences and sets extended (``extend``)."""
    if isinstance(base, list) and isinstance(new, list):
        return base + new if extend else new
    if not isinstance(base, dict) or not isinstance(new, dict):
        return new
    merged = dict(base)
    for key, value in new.items():
        if key not in merged or not extend:
            merged[key] = value
            continue
        old = merged[key]
        if isinstance(old, dict) and isinstance(value, dict):
            merged[key] = merge_dict(old, value, extend)
        elif isinstance(old, list) and isinstance(value, (list, tuple)):
            merged[key] = old + list(value)
        elif isinstance(old, tuple) and isinstance(value, (list, tuple)):
            merged[key] = old + tuple(value)
        elif isinstance(old, set) and isinstance(value, (set, list, tuple)):
            merged[key] = old | set(value)
        else:
            merged[key] = value
    return merged


def store_output_args(cache: Any, job: dict[str, Any], stdout: Any, stderr: Any) -> None:
    """``--stdout-arg NAME`` / ``--stderr-arg NAME``: keep the stripped output as args.

    The client calls this after every verb, so later jobs on this node can use
    ``{{ NAME }}``. The value is set directly in this node's cache (no callback
    round trip through the server).
    """
    values = {}
    if job.get("stdout_arg"):
        values[job["stdout_arg"]] = text(stdout) or ""
    if job.get("stderr_arg"):
        values[job["stderr_arg"]] = text(stderr) or ""
    if values:
        cache.change("args", lambda current: merge_dict(current or {}, values, extend=False), tag="args")


def cacheargs(func: Callable[..., ClientResult]) -> Callable[..., ClientResult]:
    """Compatibility with components written for the original Directord.

    They decorate ``client()`` with it; output args are now stored by the
    client for every verb (``store_output_args``), so it returns ``func`` as is.
    """
    return func


def retry(func: Callable[..., ClientResult]) -> Callable[..., ClientResult]:
    """Re-run until the outcome is truthy, at most ``job['retry']`` times."""

    @functools.wraps(func)
    def wrapper(self: Any, cache: Any, job: dict[str, Any]) -> ClientResult:
        attempts = max(int(job.get("retry") or 1), 1)
        result = func(self, cache, job)
        for _ in range(attempts - 1):
            if result[2] or killed():
                break
            result = func(self, cache, job)
        return result

    return wrapper


class _Abandoned(BaseException):
    """Raised inside a timed-out ``client()`` thread; not an Exception, so no handler swallows it."""


class _TimedCall(threading.Thread):
    """``func(*args, **kwargs)`` in a daemon thread under ``context``; ``abandon()`` interrupts it."""

    def __init__(self, func: Callable[..., ClientResult], context: JobContext, name: str,
                 args: tuple[Any, ...], kwargs: dict[str, Any]):
        super().__init__(name=name, daemon=True)
        self.call = functools.partial(func, *args, **kwargs)
        self.context = context
        self.result: ClientResult | None = None
        self.error: BaseException | None = None
        self._guard = threading.Lock()
        self._finished = False

    def run(self) -> None:
        try:
            _local.context = self.context
            try:
                self.result = self.call()
            except _Abandoned:
                pass
            except BaseException as exc:  # handed to the waiting thread
                self.error = exc
            finally:
                _local.context = None
                with self._guard:
                    self._finished = True
        except _Abandoned:  # arrived during the clean-up above
            pass

    def abandon(self) -> None:
        """Raise ``_Abandoned`` in the thread at its next Python instruction, unless it is done
        (checked under the guard, so the exception never lands in a thread that reused its id)."""
        with self._guard:
            if not self._finished and self.ident is not None:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self.ident), ctypes.py_object(_Abandoned))


def timeout(func: Callable[..., ClientResult]) -> Callable[..., ClientResult]:
    """Fail the job after ``job['timeout']`` seconds (default 600), as the original's decorator did.

    ``client()`` runs in a helper thread sharing the job's ``JobContext``. At the deadline, or
    once the client's own timeout check (or a stop) has killed the context, the processes the
    job started are killed, the helper thread is interrupted and the job returns
    ``(None, "Timeout encountered", False, None)``; the client then reports its usual timeout.
    """

    @functools.wraps(func)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> ClientResult:
        job = kwargs["job"] if "job" in kwargs else args[1]
        seconds = float(job.get("timeout") or DEFAULT_TIMEOUT)
        context = current_context() or JobContext(job)
        call = _TimedCall(func, context, f"job-{job.get('job_id')}", (self, *args), kwargs)
        deadline = time.monotonic() + seconds
        call.start()
        while call.is_alive() and not context.killed and time.monotonic() < deadline:
            call.join(min(TIMEOUT_POLL, max(deadline - time.monotonic(), 0.0)))
        if call.is_alive():
            context.kill()
            call.abandon()
            LOG.warning("job %s timed out after %g seconds", job.get("job_id"), seconds)
            return ComponentResult.failed("Timeout encountered")
        if call.error is not None:
            raise call.error
        return call.result

    return wrapper


def parse_owner(value: str | None) -> tuple[str | None, str | None]:
    """``user[:group]`` -> (user, group)."""
    if not value:
        return None, None
    user, _, group = str(value).partition(":")
    return user or None, group or None


def apply_ownership(path: str, user: Any, group: Any, mode: Any) -> str | None:
    """chown/chmod ``path``; names or numeric ids. Returns an error text or None."""
    import grp
    import pwd

    try:
        uid = -1 if user in (None, "") else (int(user) if str(user).isdigit() else pwd.getpwnam(str(user)).pw_uid)
        gid = -1 if group in (None, "") else (int(group) if str(group).isdigit() else grp.getgrnam(str(group)).gr_gid)
    except KeyError:
        return f"Failed to set ownership properties. USER:{user} GROUP:{group}"
    try:
        if uid != -1 or gid != -1:
            os.chown(path, uid, gid)
        if mode not in (None, ""):
            os.chmod(path, int(str(mode), 8) if isinstance(mode, str) else int(mode))
    except (OSError, ValueError) as exc:
        return f"Failed to set ownership or mode of {path}: {exc}"
    return None


# -- path policy: where ADD/COPY, WORKDIR and CACHEFILE may touch a node ------
DENIED_PATHS = ("/proc", "/sys", "/dev")
_allowed_paths: list[str] = []


def configure_paths(prefixes: list[str]) -> None:
    """Confine file verbs to these prefixes (the client's ``--allowed-paths``); empty: anywhere."""
    _allowed_paths[:] = [os.path.realpath(p) for p in prefixes if p]


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix.rstrip("/") + "/")


def checked_path(path: str, what: str) -> str:
    """``path`` if the policy allows it: absolute, no NUL, outside /proc /sys /dev,
    and (symlinks resolved) inside ``--allowed-paths`` when that is set."""
    if "\x00" in path or not os.path.isabs(path):
        raise PathRefused(f"{what} {path!r} must be an absolute path")
    real = os.path.realpath(path)
    if any(_under(real, denied) for denied in DENIED_PATHS):
        raise PathRefused(f"{what} {path} is inside {', '.join(DENIED_PATHS)}, which file verbs may not touch")
    if _allowed_paths and not any(_under(real, allowed) for allowed in _allowed_paths):
        raise PathRefused(f"{what} {path} is outside the node's --allowed-paths ({', '.join(_allowed_paths)})")
    return path
