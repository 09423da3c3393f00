"""Runs jobs on a node: per-parent queues, worker pool, gates, cache hits, timeouts."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from directord import plugins, transfer
from directord.cache import Cache
from directord.components import lib
from directord.exceptions import DirectordError
from directord.fingerprint import file_sha3_224
from directord.models import Control, Message

LOG = logging.getLogger(__name__)
GENERAL_QUEUE = "q_general"
MAX_OUTPUT = 4 * 1024 * 1024
OUTCOMES = {
    False: (Control.JOB_FAILED, "task failed"),
    True: (Control.JOB_END, "task finished"),
    "skipped": (Control.JOB_END, "task skipped"),
}


def queue_name(job: dict[str, Any]) -> str:
    """Non-async parents share one FIFO; async and bypass parents get their own."""
    parent = job.get("parent_id") or job.get("job_id")
    if job.get("parent_async_bypass"):
        return f"q_bypass_{parent}"
    if job.get("parent_async"):
        return f"q_async_{parent}"
    return GENERAL_QUEUE


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    value = str(value).strip()
    if len(value) > MAX_OUTPUT:
        value = value[:MAX_OUTPUT] + f"\n[truncated {len(value) - MAX_OUTPUT} characters]"
    return value


def idempotency_key(job: dict[str, Any]) -> str:
    """The cache key of a job's outcome: its fingerprint, plus file content if any."""
    sha = str(job.get("job_sha3_224") or "")
    content = job.get("content_sha3_224")
    return f"{sha}:{content}" if content else sha


def _stamp() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S")


class Runner:
    """Routes jobs into queues and reports each outcome through ``report``."""

    def __init__(self, identity: str, cache: Cache, report: Callable[[Message], None],
                 workers: int = 64, driver: Any = None, shipped_dir: str = ""):
        self.identity = identity
        self.driver = driver
        self.shipped_dir = shipped_dir
        self.cache = cache
        self.report = report
        self.pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="job")
        self.queues: dict[str, asyncio.Queue] = {}
        self.tasks: dict[str, asyncio.Task] = {}
        self.running: dict[str, lib.JobContext] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    # -- routing -------------------------------------------------------------
    def submit(self, job: dict[str, Any]) -> None:
        if self._is_sentinel(job):
            job["purged"] = self.purge(job["job_id"])
        name = queue_name(job)
        queue = self.queues.get(name)
        if queue is None:
            queue = self.queues[name] = asyncio.Queue()
        queue.put_nowait(job)
        if name not in self.tasks:
            self.tasks[name] = asyncio.create_task(self._serve(name, queue))

    async def _serve(self, name: str, queue: asyncio.Queue) -> None:
        try:
            while not queue.empty():
                await self._run(queue.get_nowait())
        finally:
            self.tasks.pop(name, None)
            if queue.empty():
                self.queues.pop(name, None)
            else:  # cancelled with work left: keep the queue for shutdown accounting
                LOG.debug("queue %s stopped with %d job(s) left", name, queue.qsize())

    @staticmethod
    def _is_sentinel(job: dict[str, Any]) -> bool:
        try:
            return bool(getattr(plugins.load_component(job["verb"]), "queue_sentinel", False))
        except DirectordError:
            return False  # reported when the job runs

    def purge(self, sentinel_id: str) -> int:
        """Fail every queued (not running) job; their parents are marked failed."""
        count = 0
        for queue in list(self.queues.values()):
            while not queue.empty():
                job = queue.get_nowait()
                count += 1
                self._finish(job, None, None, False, f"Omitted due to sentinel from {sentinel_id}", 0.0)
        return count

    def pending(self) -> int:
        return sum(q.qsize() for q in self.queues.values())

    # -- running -------------------------------------------------------------
    async def _run(self, job: dict[str, Any]) -> None:
        job_id = job["job_id"]
        parent = job.get("parent_id") or job_id
        if parent != job_id and self.cache.get(parent) == Control.JOB_FAILED.value:
            self._finish(job, None, "Job omitted, parent failure", False,
                         f"Job [ {job_id} ] was not allowed to run because there was a failure"
                         f" under this parent ID [ {parent} ]", 0.0)
            return
        try:
            if isinstance(job.get("component"), dict):
                await self._receive_component(job)
            component = plugins.load_component(job["verb"])()
        except Exception as exc:  # a component that cannot even be built still gets a result
            self._finish(job, None, str(exc), False, None, 0.0)
            return
        if (component.cacheable and not job.get("skip_cache") and not job.get("ignore_cache")
                and self.cache.get(idempotency_key(job)) == Control.JOB_END.value):
            self._finish(job, None, None, "skipped", None, 0.0)
            return
        component.command = job.get("verb")
        component.info = job.get("info")
        component.driver = self.driver
        component.publisher = self._publisher(job)
        plugins.fire("directord_job_started", job=job, identity=self.identity)
        context = lib.JobContext(job)
        self.running[job_id] = context
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self.pool, self._execute, component, job, context)
        timeout = float(job.get("timeout") or 600)
        try:
            result = await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            context.kill()
            result = (None, f"Timeout encountered after {timeout:g} seconds", False, None, timeout)
        finally:
            self.running.pop(job_id, None)
        self._finish(job, *result)

    async def _receive_component(self, job: dict[str, Any]) -> None:
        await asyncio.get_running_loop().run_in_executor(self.pool, self._sync_component, job)

    def _sync_component(self, job: dict[str, Any]) -> None:
        """Worker thread: fetch the server's copy of a component file unless this node has it."""
        spec = job["component"]
        name, sha = str(spec.get("name", "")), str(spec.get("sha3_224", ""))
        if not name.replace("_", "").isalnum():
            raise transfer.TransferError(f"refusing component name {name!r}")
        target = os.path.join(self.shipped_dir, f"{name}.py")
        if os.path.isfile(target) and file_sha3_224(target) == sha:
            return
        temp, got = transfer.atomic_download(self.driver, job["job_id"], self.identity, str(spec.get("path")), target)
        if got != sha:
            os.unlink(temp)
            raise transfer.TransferError(f"component {name} arrived with SHA3_224 {got}, expected {sha}")
        os.replace(temp, target)
        LOG.info("received component %s (%s) from the server", name, sha[:12])

    def _execute(self, component: Any, job: dict[str, Any], context: lib.JobContext) -> tuple:
        """Worker thread: the component's ``client()`` under its lock, timed."""
        lock = self._lock_for(component, job)
        start = time.perf_counter()
        with context:
            try:
                if lock is not None:
                    with lock:
                        stdout, stderr, outcome, info = component.client(cache=self.cache, job=job)
                else:
                    stdout, stderr, outcome, info = component.client(cache=self.cache, job=job)
                lib.store_output_args(self.cache, job, stdout, stderr)
            except Exception as exc:
                stdout, outcome = None, False
                stderr = f"Job [ {job['job_id']} ] Component Failure: {exc}"
                info = traceback.format_exc(limit=5)
        job["component_exec_timestamp"] = _stamp()
        return stdout, stderr, outcome, info, time.perf_counter() - start

    def _publisher(self, job: dict[str, Any]) -> Callable[[str | None, str | None], None]:
        """Thread-safe interim status for a running job (e.g. QUERY answers)."""
        loop = asyncio.get_running_loop()

        def publish(stdout: str | None, info: str | None) -> None:
            message = Message(job["job_id"], Control.JOB_PROCESSING.value, str(job.get("verb", "")),
                              info=info, stdout=_text(stdout))
            loop.call_soon_threadsafe(self.report, message)

        return publish

    def _lock_for(self, component: Any, job: dict[str, Any]) -> threading.Lock | None:
        if not (getattr(component, "requires_lock", False) or job.get("force_lock")):
            return None
        name = getattr(component, "lock_name", None) or str(job.get("verb", "")).lower()
        with self._locks_guard:
            return self._locks.setdefault(name, threading.Lock())

    def _finish(self, job: dict[str, Any], stdout: Any, stderr: Any, outcome: Any,
                info: Any, execution_time: float) -> None:
        control, default_info = OUTCOMES.get(outcome, (Control.JOB_PROCESSING, "task processing"))
        if control != Control.JOB_PROCESSING:
            parent = job.get("parent_id") or job["job_id"]
            entries = []
            if control == Control.JOB_FAILED or self.cache.get(parent) != Control.JOB_FAILED.value:
                entries.append((parent, control.value, "parents"))  # a failed parent stays failed
            if job.get("job_sha3_224"):
                entries.append((idempotency_key(job), control.value, "jobs"))
            self.cache.set_many(entries)
        data = {"execution_time": execution_time, "return_timestamp": _stamp()}
        if job.get("component_exec_timestamp"):
            data["component_exec_timestamp"] = job["component_exec_timestamp"]
        self.report(Message(job["job_id"], control.value, str(job.get("verb", "")), data=data,
                            info=_text(info) or default_info, stderr=_text(stderr), stdout=_text(stdout)))

    # -- shutdown ------------------------------------------------------------
    def stop(self) -> None:
        """Kill running jobs' processes and stop taking work."""
        for context in list(self.running.values()):
            context.kill()
        for task in list(self.tasks.values()):
            task.cancel()
        self.pool.shutdown(wait=False, cancel_futures=True)
