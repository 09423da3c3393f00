"""Runs jobs on a node: per-parent queues, worker pool, gates, cache hits, timeouts."""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import logging
import os
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from typing import Any, NamedTuple

from directord import components, plugins, transfer
from directord.cache import Cache
from directord.client.compat import ComponentDriver
from directord.components import lib
from directord.components.lib import ComponentResult
from directord.components.services import NodeServices
from directord.exceptions import DirectordError, TemplateError
from directord.fingerprint import object_sha3_224, stamped_file_sha3_224
from directord.job import Job
from directord.models import Control, Message

LOG = logging.getLogger(__name__)
GENERAL_QUEUE = "q_general"
REPORT_BATCH_DELAY = 0.025
CALLBACK_POLL = 0.1
MAX_OUTPUT = 4 * 1024 * 1024
SHIPPED_RECHECK_S = 1.0  # a verified copy of a shipped component is trusted this long before it is hashed again
FAILED, ENDED, PROCESSING = Control.JOB_FAILED.value, Control.JOB_END.value, Control.JOB_PROCESSING.value
OUTCOMES = {
    False: (FAILED, "task failed"),
    True: (ENDED, "task finished"),
    "skipped": (ENDED, "task skipped"),
}


def queue_name(job: Job) -> str:
    """Non-async parents share one FIFO; async and bypass parents get their own."""
    if job.callback_of:  # never behind the job waiting for it, whatever parent it names
        return f"q_callback_{job.job_id}"
    if job.parent_async_bypass:
        return f"q_bypass_{job.parent_id}"
    if job.parent_async:
        return f"q_async_{job.parent_id}"
    return GENERAL_QUEUE


class JobReport(NamedTuple):
    """A job's end on this node, as ``_finish`` reports it."""

    result: ComponentResult
    elapsed: float = 0.0
    new_tasks: tuple[dict[str, Any], ...] = ()
    started: str | None = None  # when the component ran (``component_exec_timestamp``)


def _text(value: Any) -> str | None:
    """Stripped text of an output, truncated past ``MAX_OUTPUT`` characters."""
    value = lib.text(value)
    if value is not None and len(value) > MAX_OUTPUT:
        value = value[:MAX_OUTPUT] + f"\n[truncated {len(value) - MAX_OUTPUT} characters]"
    return value


def idempotency_key(job: Job) -> str:
    """The cache key of a job's outcome: its fingerprint, plus file content if any."""
    content = job.get("content_sha3_224")
    return f"{job.job_sha3_224}:{content}" if content else job.job_sha3_224


def callback_task(task: dict[str, Any], waiting: str) -> dict[str, Any]:
    """A ``block_on_tasks`` entry of job ``waiting`` as the server gets it: ids filled in,
    a queue of its own on every node, a fingerprint of this run (no stale cache hit)."""
    task = {**task, "callback_of": waiting, "parent_async_bypass": True}
    task.setdefault("job_id", str(uuid.uuid4()))
    task.setdefault("job_sha3_224", object_sha3_224({k: v for k, v in task.items() if k != "job_id"}))
    return task


_last_stamp: tuple[int, str] = (-1, "")  # the second last formatted, and its text


def _stamp() -> str:
    """Local time to the second (formatted once per second: every result carries two)."""
    global _last_stamp
    second = int(time.time())
    if _last_stamp[0] != second:
        _last_stamp = (second, time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second)))
    return _last_stamp[1]


class Runner:
    """Routes jobs into queues and reports each outcome through ``report``.

    Each queue is drained by one pool thread, which runs its jobs back to back
    (no event-loop round trip per job); outcomes go back to the event loop with
    ``call_soon_threadsafe``. ``check_timeouts`` (called by the client's
    housekeeping) kills the process tree of a job past its ``--timeout``.
    """

    def __init__(self, identity: str, cache: Cache, report: Callable[[Message], None],
                 workers: int = 64, driver: Any = None, shipped_dir: str = ""):
        self.identity = identity
        self.driver = driver
        self.shipped_dir = shipped_dir
        self.cache = cache
        self.report = report
        self.pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="job")
        self.queues: dict[str, collections.deque] = {}
        self.running: dict[str, lib.JobContext] = {}
        self._deadlines: dict[str, float] = {}
        self._workers: set[str] = set()
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped = False
        self._outbox: list[Message] = []
        self._outbox_guard = threading.Lock()
        self._active = 0  # jobs taken off a queue whose result is not yet in the outbox
        self._awaited: dict[str, threading.Event] = {}  # callback job id -> set when it ends here
        self._callback_states: dict[str, str] = {}
        self._sentinels: dict[str, bool] = {}  # shipped component hash -> is it a queue sentinel
        self._shipped_classes: dict[str, tuple[type, float]] = {}  # hash -> its class, when last verified

    # -- routing (event loop) ------------------------------------------------
    def submit(self, job: Job) -> None:
        self._loop = self._loop or asyncio.get_running_loop()
        if self._is_sentinel(job):
            job.fields["purged"] = self.purge(job.job_id)
        name = queue_name(job)
        with self._guard:
            self.queues.setdefault(name, collections.deque()).append(job)
            start = name not in self._workers
            self._workers.add(name)
        if start:
            self.pool.submit(self._work, name)

    def _is_sentinel(self, job: Job) -> bool:
        """Does ``job``'s component purge the queue? A shipped component answers once it is
        here (by content hash, remembered); until then, and for an unknown verb, no."""
        spec = job.component
        try:
            if spec is None:
                return components.hooks_for(job.verb).queue_sentinel
            known = self._sentinels.get(str(spec.get("sha3_224", "")))
            if known is not None:  # what the content with this hash is never changes
                return known
            target, sha, here = self._shipped(spec)
            if sha not in self._sentinels:
                if not here:
                    return False
                self._sentinels[sha] = components.hooks_of(plugins.load_file(target)).queue_sentinel
            return self._sentinels[sha]
        except DirectordError:
            return False  # reported when the job runs

    def purge(self, sentinel_id: str) -> int:
        """Fail every queued (not running) job; their parents are marked failed."""
        with self._guard:
            drained = [job for queue in self.queues.values() for job in queue]
            for queue in self.queues.values():
                queue.clear()
        omitted = JobReport(ComponentResult(None, None, False, f"Omitted due to sentinel from {sentinel_id}"))
        for job in drained:
            self._finish(job, omitted)
        return len(drained)

    def pending(self) -> int:
        with self._guard:
            return sum(len(q) for q in self.queues.values())

    def check_timeouts(self) -> None:
        """Kill the process trees of jobs past their deadline (event loop)."""
        now = time.monotonic()
        for job_id, deadline in list(self._deadlines.items()):
            context = self.running.get(job_id)
            if context is not None and now >= deadline and not context.killed:
                LOG.warning("job %s timed out; killing its processes", job_id)
                context.kill()

    # -- running (pool threads) ----------------------------------------------
    def _work(self, name: str) -> None:
        while True:
            with self._guard:
                queue = self.queues.get(name)
                if self._stopped or not queue:  # stop() hands whatever is left back to the server
                    self.queues.pop(name, None)
                    self._workers.discard(name)
                    return
                job = queue.popleft()
                self._active += 1  # taken: from now on its result is owed (see idle())
            try:
                self._run(job)
            except Exception:  # never lose the queue's thread to one job
                LOG.exception("job %s crashed its runner", job.job_id)
                self._finish(job, JobReport(ComponentResult.failed("internal error running the job")))
            finally:
                with self._guard:
                    self._active -= 1

    def _run(self, job: Job) -> None:
        job_id, parent = job.job_id, job.parent_id
        if parent != job_id and self.cache.get(parent) == FAILED:
            self._finish(job, JobReport(ComponentResult.failed(
                "Job omitted, parent failure",
                info=f"Job [ {job_id} ] was not allowed to run because there was a failure"
                     f" under this parent ID [ {parent} ]")))
            return
        try:
            if job.component is not None:  # the server's file, whatever this node has
                cls = self._shipped_class(job)
            else:
                cls = plugins.load_component(job.verb)
            component = components.hooks_of(cls).component()
        except Exception as exc:  # a component that cannot even be built still gets a result
            self._finish(job, JobReport(ComponentResult.failed(str(exc))))
            return
        if component.cacheable and not job.skip_cache and self.cache.get(idempotency_key(job)) == ENDED:
            self._finish(job, JobReport(ComponentResult(None, None, "skipped")))
            return
        payload = job.to_dict()  # what the component reads: the original's dict
        plugins.fire("directord_job_started", job=payload, identity=self.identity)
        context = lib.JobContext(payload)
        services = NodeServices(self.identity, payload, context=context, publisher=self._publisher(job),
                                driver=ComponentDriver(self.driver, self.identity, self._emit))
        component.attach(services)
        timeout = float(job.timeout or 600)
        self.running[job_id] = context
        self._deadlines[job_id] = time.monotonic() + timeout
        if self._stopped:  # stop() came between taking the job and now: it never really starts
            context.kill()
        try:
            report = self._execute(component, payload, context)
            if component.block_on_tasks:
                report = self._callbacks(component.block_on_tasks, job, context, report)
        finally:
            services.close()
            self.running.pop(job_id, None)
            self._deadlines.pop(job_id, None)
        if context.killed:
            reason = "Killed: the client stopped while the job ran" if self._stopped else \
                f"Timeout encountered after {timeout:g} seconds"
            report = report._replace(result=ComponentResult.failed(reason))
        self._finish(job, report)

    def _callbacks(self, tasks: list[Any], job: Job, context: lib.JobContext, report: JobReport) -> JobReport:
        """A component's ``block_on_tasks``: the server dispatches them (``new_tasks``); when one
        targets this node and the job succeeded, the job stays processing until they all ended."""
        tasks = [callback_task(task, job.job_id) for task in tasks if isinstance(task, dict)]
        mine = [t["job_id"] for t in tasks if self.identity in (t.get("targets") or [self.identity])]
        result = report.result
        if result.outcome is not True or not mine:
            return report._replace(new_tasks=tuple(tasks))
        events = {job_id: self._awaited.setdefault(job_id, threading.Event()) for job_id in mine}
        self._emit(Message(job.job_id, PROCESSING, job.verb, stdout=_text(result.stdout),
                           info="Waiting for callback tasks to complete", data={"new_tasks": tasks}))
        start = time.perf_counter()
        try:
            for event in events.values():
                while not event.wait(CALLBACK_POLL):
                    if context.killed or self._stopped:
                        return report._replace(result=result._replace(
                            outcome=False, info="interrupted waiting for callback tasks"))
        finally:
            for job_id in mine:
                self._awaited.pop(job_id, None)
        failed = [job_id for job_id in mine if self._callback_states.pop(job_id, None) == FAILED]
        elapsed = report.elapsed + time.perf_counter() - start
        if failed:
            return report._replace(result=result._replace(outcome=False, info=f"Callback [ {failed[0]} ] failed"),
                                   elapsed=elapsed)
        return report._replace(result=result._replace(info=f"Callback [ {mine[-1]} ] completed"), elapsed=elapsed)

    def _shipped(self, spec: dict[str, Any]) -> tuple[str, str, bool]:
        """Where the server's copy of component ``spec`` lives on this node, its SHA3-224, and
        whether that copy is here already (TransferError for a name that is not a plain word)."""
        name, sha = str(spec.get("name", "")), str(spec.get("sha3_224", ""))
        if not name.replace("_", "").isalnum():
            raise transfer.TransferError(f"refusing component name {name!r}")
        target = os.path.join(self.shipped_dir, f"{name}.py")
        return target, sha, os.path.isfile(target) and stamped_file_sha3_224(target) == sha

    def _shipped_class(self, job: Job) -> type:
        """Worker thread: the class of the server's component file for ``job``, fetched unless this
        node has it; a copy verified in the last ``SHIPPED_RECHECK_S`` is not looked at again."""
        sha = str((job.component or {}).get("sha3_224", ""))
        known = self._shipped_classes.get(sha)
        if known is not None and time.monotonic() - known[1] < SHIPPED_RECHECK_S:
            return known[0]
        cls = plugins.load_file(self._sync_component(job))
        self._shipped_classes[sha] = (cls, time.monotonic())
        return cls

    def _sync_component(self, job: Job) -> str:
        """Worker thread: fetch the server's copy of a component file unless this node has it; its path."""
        spec = job.component or {}
        target, sha, here = self._shipped(spec)
        if here:
            return target
        name = str(spec["name"])
        temp, got = transfer.atomic_download(self.driver, job.job_id, self.identity, str(spec.get("path")), target)
        if got != sha:
            os.unlink(temp)
            raise transfer.TransferError(f"component {name} arrived with SHA3_224 {got}, expected {sha}")
        os.replace(temp, target)
        LOG.info("received component %s (%s) from the server", name, sha[:12])
        return target

    def _execute(self, component: components.ComponentBase, job: dict[str, Any],
                 context: lib.JobContext) -> JobReport:
        """Worker thread: the component's ``client()`` (given the job as the original's dict) under its lock, timed."""
        lock = self._lock_for(component, job)
        start = time.perf_counter()
        with context:
            try:
                if lock is not None:
                    with lock:
                        result = ComponentResult.of(component.client(cache=self.cache, job=job))
                else:
                    result = ComponentResult.of(component.client(cache=self.cache, job=job))
                lib.store_output_args(self.cache, job, result.stdout, result.stderr)
            except TemplateError as exc:
                result = ComponentResult.failed(str(exc))
            except Exception as exc:
                result = ComponentResult.failed(f"Job [ {job['job_id']} ] Component Failure: {exc}",
                                                info=traceback.format_exc(limit=5))
        return JobReport(result, time.perf_counter() - start, started=_stamp())

    def _publisher(self, job: Job) -> Callable[[str | None, str | None], None]:
        """Thread-safe interim status for a running job (e.g. QUERY answers)."""

        def publish(stdout: str | None, info: str | None) -> None:
            self._emit(Message(job.job_id, PROCESSING, job.verb, info=info, stdout=_text(stdout)))

        return publish

    def _emit(self, message: Message) -> None:
        """Hand a status to the event loop (from any thread), in batches.

        The first status of a batch wakes the loop, which collects everything
        emitted within ``REPORT_BATCH_DELAY``: one wake-up and one frame for
        many results instead of one each. When nothing else is running or
        queued, no other result can join the batch, so it leaves at once.
        """
        with self._outbox_guard:
            self._outbox.append(message)
            first = len(self._outbox) == 1
        if first and self._loop is not None and not self._loop.is_closed():
            delay = REPORT_BATCH_DELAY if self._busy() else 0.0
            self._loop.call_soon_threadsafe(self._loop.call_later, delay, self._drain)

    def _busy(self) -> bool:
        """Is another job running or queued on this node (besides the one reporting)?"""
        with self._guard:
            return self._active > 1 or any(self.queues.values())

    def _drain(self) -> None:
        with self._outbox_guard:
            batch, self._outbox = self._outbox, []
        for message in batch:
            self.report(message)

    def _lock_for(self, component: components.ComponentBase, job: dict[str, Any]) -> threading.Lock | None:
        if not (component.requires_lock or job.get("force_lock")):
            return None
        name = component.lock_name or str(job["verb"]).lower()
        with self._guard:
            return self._locks.setdefault(name, threading.Lock())

    def _finish(self, job: Job, report: JobReport) -> None:
        stdout, stderr, outcome, info = report.result
        control, default_info = OUTCOMES.get(outcome, (PROCESSING, "task processing"))
        event = self._awaited.get(job.job_id) if control != PROCESSING else None
        if event is not None:  # a callback another job of this node waits for
            self._callback_states[job.job_id] = control
            event.set()
        if control != PROCESSING:
            parent = job.parent_id
            entries = []
            if control == FAILED or self.cache.get(parent) != FAILED:
                entries.append((parent, control, "parents"))  # a failed parent stays failed
            if job.job_sha3_224:
                entries.append((idempotency_key(job), control, "jobs"))
            self.cache.set_later(entries)
        data: dict[str, Any] = {"execution_time": report.elapsed, "return_timestamp": _stamp()}
        if report.new_tasks:
            data["new_tasks"] = list(report.new_tasks)
        if report.started:
            data["component_exec_timestamp"] = report.started
        self._emit(Message(job.job_id, control, job.verb, data=data,
                           info=_text(info) or default_info, stderr=_text(stderr), stdout=_text(stdout)))

    # -- shutdown ------------------------------------------------------------
    def stop(self) -> list[str]:
        """Stop taking work, kill running jobs' processes; the ids of queued jobs never started."""
        self._stopped = True
        with self._guard:
            returned = [job.job_id for queue in self.queues.values() for job in queue]
            for queue in self.queues.values():
                queue.clear()
        for context in list(self.running.values()):
            context.kill()
        self.pool.shutdown(wait=False, cancel_futures=True)
        return returned

    def idle(self) -> bool:
        """No job taken whose result has not been handed to ``report`` (after ``stop``: drained)."""
        with self._guard, self._outbox_guard:
            return not self._active and not self._outbox
