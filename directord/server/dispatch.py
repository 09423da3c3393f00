"""Submission: validate jobs, plan their nodes, record them, send them."""

from __future__ import annotations

import logging
from typing import Any

from directord import components, plugins
from directord.exceptions import DirectordError, RequestError
from directord.fingerprint import stamped_file_sha3_224
from directord.job import Job
from directord.models import Control, Message
from directord.server.holds import Holds
from directord.server.jobs import JobTable
from directord.server.registry import NodeRegistry

LOG = logging.getLogger(__name__)


class Dispatcher:
    """Turns submitted jobs into records and messages to their nodes."""

    def __init__(self, registry: NodeRegistry, jobs: JobTable, holds: Holds):
        self._registry = registry
        self._jobs = jobs
        self._holds = holds
        self._hooks: dict[str, components.ComponentHooks] = {}

    def hooks(self, verb: str) -> components.ComponentHooks:
        """A verb's component hooks (the defaults for a verb the server cannot load).

        Resolved once per verb: this runs for every status message, and a verb
        the server cannot load must not cost a plugin scan each time.
        """
        hooks = self._hooks.get(verb)
        if hooks is None:
            try:
                hooks = components.hooks_for(verb)
            except DirectordError:
                hooks = components.hooks_of(components.ComponentBase)
            self._hooks[verb] = hooks
        return hooks

    def submit(self, jobs: list[Any]) -> dict[str, Any]:
        """Validate and plan every job (in the original's dict shape), then send them.

        Nothing is sent unless every job is valid and has somewhere to run.
        Returns the job ids and the warnings (unknown targets).
        """
        typed = [Job.from_dict(job) for job in jobs]
        taken = next((job.job_id for job in typed if self._jobs.get(job.job_id) is not None), None)
        if taken is not None:
            raise RequestError(f"job {taken} already exists; a new job needs an id of its own")
        if len({job.job_id for job in typed}) < len(typed):
            raise RequestError("two jobs of one submission have the same id")
        live = [n.identity for n in self._registry.live()]
        plans = [self._plan(job, live) for job in typed]
        warnings: list[str] = []
        for job, targets, unknown in plans:
            warnings.extend(self._dispatch(job, targets, unknown, live))
        self._jobs.flush()  # accepted means stored
        return {"job_ids": [job.job_id for job in typed], "warnings": sorted(set(warnings))}

    def _plan(self, job: Job, live: list[str]) -> tuple[Job, list[str], list[str]]:
        """The job as it is sent (its component's planned fields added), its nodes, unknown targets."""
        requested = job.targets
        unknown = [t for t in requested if t not in live]
        targets = [t for t in requested if t in live] if requested else list(live)
        if not targets and not unknown:
            raise RequestError("no live nodes to run on; start a client or check `directord node list`")
        plan = self.hooks(job.verb).plan(job, targets, live)
        job = job.replace(fields=plan.fields or {}, component=self._component_file(job.verb))
        targets = plan.targets[:1] if job.run_once else plan.targets
        return job, targets, unknown

    def _dispatch(self, job: Job, targets: list[str], unknown: list[str], live: list[str]) -> list[str]:
        if job.restrict and job.job_sha3_224 not in job.restrict:
            self._jobs.skip(job, "restricted: fingerprint not in --restrict")
            return []
        record = self._jobs.create(job, targets + unknown)
        warnings = []
        if unknown:
            self._jobs.reject(record, unknown, f"Target unknown. Available targets {live}")
            warnings.append(f"unknown target(s) {', '.join(unknown)}; live nodes: {', '.join(live) or 'none'}")
        data = job.to_dict()
        if plugins.wants("directord_job_submitted"):
            plugins.fire("directord_job_submitted", job=dict(data))
        message = job_message(data)
        hold_seconds = self.hooks(job.verb).hold_seconds(job)
        self._holds.send(targets, message, hold_seconds)
        return warnings

    def _component_file(self, verb: str) -> dict[str, str] | None:
        """The component file (and its hash) of a verb no entry point provides."""
        path = plugins.component_file(verb)
        if path is None:
            return None
        return {"name": verb.lower(), "path": path, "sha3_224": stamped_file_sha3_224(path)}


def job_message(job: dict[str, Any]) -> Message:
    """The message that sends a job (in the original's dict shape) to a node."""
    return Message(str(job["job_id"]), Control.JOB.value, str(job["verb"]), data=job)
