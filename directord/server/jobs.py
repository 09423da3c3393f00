"""The server's job table: records, results, waiters."""

from __future__ import annotations

import asyncio
import collections
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from directord import plugins
from directord.datastores import Datastore
from directord.exceptions import NotFound
from directord.job import Job
from directord.models import FINAL_STATES, Control, JobRecord, Message
from directord.server.metrics import ServerMetrics

LOG = logging.getLogger(__name__)
END = Control.JOB_END.value
CHANGES_KEPT = 100_000  # job ids remembered as changed; a reader further behind reads every job again

class _Waiter:
    __slots__ = ("future", "remaining")

    def __init__(self, remaining: set[str], future: asyncio.Future):
        self.remaining, self.future = remaining, future


def find_record(store: Datastore, job_id: str, get: Callable[[str], JobRecord | None]) -> JobRecord:
    """``get(job_id)``, or for ``last`` the newest job a user submitted in ``store`` (never a
    ``callback`` the server made, such as QUERY's ARG); raises NotFound."""
    if job_id == "last":
        record = store.last_job()
        if record is not None and record.definition.callback:
            record = next((r for r in reversed(store.jobs()) if not r.definition.callback), None)
    else:
        record = get(job_id)
    if record is None:
        raise NotFound("No data found" if job_id == "last" else f"No data found for job {job_id}")
    return record


class JobTable:
    """Live (incomplete) records in memory; every record is written to the store.

    Result handling never reads the store: it mutates the live record and marks
    it dirty; ``flush`` writes dirty records in one batch.
    """

    def __init__(self, store: Datastore, metrics: ServerMetrics | None = None):
        self._store = store
        self.metrics = metrics or ServerMetrics()
        self._active: dict[str, JobRecord] = {}
        self._by_node: dict[str, set[str]] = {}
        self._dirty: dict[str, JobRecord] = {}
        self._sha_states: dict[str, dict[str, str]] = {}  # job fingerprint -> node -> final state
        self._waiters: dict[str, list[_Waiter]] = {}
        self._version = 0  # counts changes to any record
        self._epoch = uuid.uuid4().hex[:8]  # a new one when records were removed: readers start over
        self._changed: collections.OrderedDict[str, int] = collections.OrderedDict()  # id -> version, oldest first

    # -- creation ------------------------------------------------------------
    def create(self, job: Job, nodes: list[str]) -> JobRecord:
        record = JobRecord(job_id=job.job_id, definition=job, nodes=list(nodes))
        self.metrics.job_submitted(job.verb)
        self._active[record.job_id] = record
        for node in nodes:
            self._by_node.setdefault(node, set()).add(record.job_id)
        self._touch(record)
        return record

    def restore(self) -> list[JobRecord]:
        """Take back the unfinished records of a persistent store (after a restart)."""
        restored = [record for record in self._store.jobs() if not record.complete]
        for record in restored:
            self._active[record.job_id] = record
            for node in record.processing:
                if not record.is_final(node):
                    self._by_node.setdefault(node, set()).add(record.job_id)
        return restored

    def skip(self, job: Job, reason: str) -> None:
        """Store a job that runs nowhere."""
        self.metrics.job_skipped(job.verb)
        self._changed_now(job.job_id)
        self._store.put_jobs([JobRecord(job_id=job.job_id, definition=job.replace(skipped=reason), nodes=[])])

    def active_count(self) -> int:
        """How many jobs are not yet final on every node."""
        return len(self._active)

    def running(self, job_id: str) -> JobRecord | None:
        """The record of an unfinished job."""
        return self._active.get(job_id)

    def fingerprint_states(self, sha: str) -> dict[str, str]:
        """Final state per node of the jobs with fingerprint ``sha``."""
        return dict(self._sha_states.get(sha, {}))

    def nodes_with_jobs(self) -> list[str]:
        """Nodes with unfinished jobs."""
        return list(self._by_node)

    def get(self, job_id: str) -> JobRecord | None:
        return self._active.get(job_id) or self._dirty.get(job_id) or self._store.get_job(job_id)

    def find(self, job_id: str) -> JobRecord:
        """A record by id, or ``last``: the newest job a user submitted (never a
        ``callback`` the server made, such as QUERY's ARG); raises NotFound."""
        if job_id == "last":
            self.flush()
        return find_record(self._store, job_id, self.get)

    # -- results -------------------------------------------------------------
    def apply(self, node: str, message: Message) -> bool:
        """Record a node's status; False when ignored (unknown job, not a target, already final)."""
        record = self._active.get(message.msg_id)
        if record is None or not record.apply(node, message):
            return False
        self._touch(record)
        if message.control in FINAL_STATES:
            self.metrics.node_result(message.control == END, *record.times(node))
            self._node_done(node, record.job_id)
            sha = record.definition.job_sha3_224
            if sha:
                self._sha_states.setdefault(sha, {})[node] = message.control
        if record.complete:
            self._complete(record)
        return True

    def queued(self, node: str, job_id: str) -> None:
        """``node`` acknowledged ``job_id``: it is queued there."""
        record = self._active.get(job_id)
        if record is not None and record.mark_queued(node):
            self._touch(record)

    def requeue(self, node: str, job_id: str, info: str) -> JobRecord | None:
        """``node`` handed ``job_id`` back unstarted; the record, if it now waits to be re-sent."""
        record = self._active.get(job_id)
        if record is None or not record.requeue(node, info):
            return None
        self._touch(record)
        return record

    def fail(self, node: str, job_id: str, reason: str) -> None:
        """End ``node``'s part of an unfinished job as failed (expiry, restart, ...)."""
        record = self._active.get(job_id)
        if record is not None and record.fail(node, reason):
            self._touch(record)
            if record.complete:
                self._complete(record)
        self._node_done(node, job_id)

    def fail_node(self, node: str, reason: str) -> None:
        """Fail every unfinished job of ``node``."""
        for job_id in list(self._by_node.get(node, ())):
            self.fail(node, job_id, reason)

    def reject(self, record: JobRecord, nodes: list[str], reason: str) -> None:
        """Fail ``nodes`` of a new record before anything is sent to them."""
        for node in nodes:
            record.fail(node, reason)
            self._node_done(node, record.job_id)
        self._touch(record)
        if record.complete:
            self._complete(record)

    def unfinished(self, node: str) -> list[str]:
        return list(self._by_node.get(node, ()))

    def _node_done(self, node: str, job_id: str) -> None:
        jobs = self._by_node.get(node)
        if jobs is not None:
            jobs.discard(job_id)
            if not jobs:
                del self._by_node[node]

    def _complete(self, record: JobRecord) -> None:
        self._active.pop(record.job_id, None)
        self.metrics.job_finished(record.verb, failed=record.has_failed())
        for waiter in self._waiters.pop(record.job_id, ()):
            waiter.remaining.discard(record.job_id)
            if not waiter.remaining and not waiter.future.done():
                waiter.future.set_result(None)
        if plugins.wants("directord_job_finished"):
            plugins.fire("directord_job_finished", record=record.to_dict())

    def _touch(self, record: JobRecord) -> None:
        self._dirty[record.job_id] = record
        self._changed_now(record.job_id)

    def _changed_now(self, job_id: str) -> None:
        self._version += 1
        self._changed[job_id] = self._version
        self._changed.move_to_end(job_id)
        if len(self._changed) > CHANGES_KEPT:
            self._changed.popitem(last=False)

    def changes(self, epoch: str, since: int) -> dict[str, Any]:
        """The rows (``JobRecord.row``) of the jobs changed after version ``since`` of ``epoch`` (every
        job's, when the reader is too far behind or records were removed since): ``epoch``, ``version``,
        ``full``, ``columns`` (``JobRecord.ROW_FIELDS``) and ``rows``."""
        oldest = next(iter(self._changed.values()), self._version + 1)
        full = epoch != self._epoch or since < oldest - 1
        if full:
            self.flush()
            rows = [record.row() for record in self._store.jobs()]
        else:
            ids = []
            for job_id, version in reversed(self._changed.items()):
                if version <= since:
                    break
                ids.append(job_id)
            rows = [record.row() for record in map(self.get, ids) if record is not None]
        return {"epoch": self._epoch, "version": self._version, "full": full, "columns": JobRecord.ROW_FIELDS,
                "rows": rows}

    def parent_timelines(self, parent_id: str) -> list[dict[str, Any]]:
        """``JobRecord.timeline`` of every job of one parent (``last``: the newest job's), oldest first."""
        if parent_id == "last":
            parent_id = self.find("last").parent_id
        self.flush()
        records = [record for record in self._store.jobs() if record.parent_id == parent_id]
        if not records:
            raise NotFound(f"No data found for parent {parent_id}")
        return [record.timeline() for record in sorted(records, key=lambda r: r.created)]

    def flush(self) -> None:
        if self._dirty:
            dirty, self._dirty = self._dirty, {}
            started = time.perf_counter()
            try:
                self._store.put_jobs(dirty.values())
            except Exception:
                self._dirty = {**dirty, **self._dirty}  # keep the batch for the next flush
                raise
            self.metrics.datastore_writes.observe(time.perf_counter() - started)

    # -- waiting -------------------------------------------------------------
    async def wait(self, job_ids: list[str], timeout: float) -> dict[str, Any]:
        """Block until every job is complete or ``timeout``; return summaries."""
        remaining = {j for j in job_ids if j in self._active}
        if remaining:
            future = asyncio.get_running_loop().create_future()
            waiter = _Waiter(remaining, future)
            for job_id in remaining:
                self._waiters.setdefault(job_id, []).append(waiter)
            try:
                await asyncio.wait_for(future, timeout)
            except TimeoutError:
                pass
            finally:
                for job_id in waiter.remaining:
                    waiters = self._waiters.get(job_id)
                    if waiters and waiter in waiters:
                        waiters.remove(waiter)
                        if not waiters:
                            del self._waiters[job_id]
        summaries = {}
        for job_id in job_ids:
            record = self.get(job_id)
            summaries[job_id] = record.summary() if record else None
        return summaries

    # -- maintenance ---------------------------------------------------------
    def purge(self) -> int:
        """Forget every job (running ones included: they end failed)."""
        for record in list(self._active.values()):
            for node in record.nodes:
                record.fail(node, "job purged")
            self._complete(record)
        self._by_node.clear()
        self._dirty.clear()
        self._sha_states.clear()
        self._epoch = uuid.uuid4().hex[:8]
        return self._store.clear_jobs()

    def prune(self, ttl: float) -> int:
        self.flush()
        removed = self._store.prune_jobs(time.time() - ttl)
        if removed:
            self._epoch = uuid.uuid4().hex[:8]
        return removed

