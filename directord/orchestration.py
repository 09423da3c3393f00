"""Orchestration files and exec strings -> job specs.

Each job is built by its component's ``server()`` and fingerprinted exactly
like the original Directord (from the component's ``fingerprint_data()``), so
``--restrict`` and ``--finger-print`` values carry over.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Iterable
from typing import Any

from directord import components
from directord.config import parse_bool
from directord.exceptions import ComponentError, OrchestrationError, RequestError
from directord.fingerprint import object_sha3_224
from directord.job import Job

MAX_ALIASES = 1000
MAX_NODES = 1_000_000
JOB_KEYS = ("vars", "name", "assign")


@functools.cache
def _safe_loader() -> type:
    """safe_load with a cap on alias use (no "billion laughs"); PyYAML is imported only to read a file."""
    import yaml

    class SafeLoader(yaml.SafeLoader):
        aliases = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                self.aliases += 1
                if self.aliases > MAX_ALIASES:
                    raise yaml.YAMLError(f"more than {MAX_ALIASES} aliases")
            return super().compose_node(parent, index)

    return SafeLoader


def load_yaml(path: str, kind: str = "orchestration file") -> Any:
    """Read a YAML file safely (``kind`` names it in errors); errors become one readable line.

    Aliases are capped, and so is the size of the data once they are expanded.
    """
    full = os.path.abspath(os.path.expanduser(path))
    try:
        with open(full, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        raise OrchestrationError(f"{kind} not found: {full}") from None
    except OSError as exc:
        raise OrchestrationError(f"cannot read {full}: {exc.strerror}") from None
    return parse_yaml(text, full)


def parse_yaml(text: str, where: str) -> Any:
    """YAML text parsed safely (``where`` names it in errors), aliases and expanded size capped."""
    import yaml

    try:
        data = yaml.load(text, Loader=_safe_loader())  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise OrchestrationError(f"{where} is not valid YAML{line}: {problem}") from None
    if _expanded_size(data, MAX_NODES) > MAX_NODES:
        raise OrchestrationError(f"{where} expands to more than {MAX_NODES} values (alias bomb?)")
    return data


def load_orchestrations(path: str) -> list[dict[str, Any]]:
    """Load and validate one orchestration file: a list of mappings with ``jobs``."""
    return validate_orchestrations(load_yaml(path), path)


def parse_orchestrations(text: str, where: str) -> list[dict[str, Any]]:
    """Orchestrations from YAML text (``where`` names it in errors), validated like a file's."""
    return validate_orchestrations(parse_yaml(text, where), where)


def _expanded_size(data: Any, limit: int) -> int:
    """How many values ``data`` holds once aliases are expanded, counting up to ``limit + 1``."""
    count, stack = 0, [data]
    while stack and count <= limit:
        item = stack.pop()
        count += 1
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return count


def validate_orchestrations(data: Any, path: str) -> list[dict[str, Any]]:
    """Check the orchestration structure; ``path`` names it in errors."""
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not data:
        raise OrchestrationError(f"{path}: expected a list of orchestrations")
    for number, item in enumerate(data, 1):
        where = f"{path}: orchestration {number}"
        if not isinstance(item, dict):
            raise OrchestrationError(f"{where} is not a mapping")
        jobs = item.get("jobs")
        if not isinstance(jobs, list) or not jobs:
            raise OrchestrationError(f"{where} needs a non-empty 'jobs' list")
        for key in ("targets", "assign"):
            if key in item and not _is_name_list(item[key]):
                raise OrchestrationError(f"{where}: '{key}' must be a list of node names")
        for index, job in enumerate(jobs, 1):
            _check_job(job, f"{where}, job {index}")
    return data


def _is_name_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) and v for v in value)


def _check_job(job: Any, where: str) -> None:
    if not isinstance(job, dict):
        raise OrchestrationError(f"{where} is not a mapping of VERB: ARGS")
    verbs = [k for k in job if k not in JOB_KEYS]
    if len(verbs) != 1:
        raise OrchestrationError(f"{where} must have exactly one verb, found {verbs or 'none'}")
    if "assign" in job and not _is_name_list(job["assign"]):
        raise OrchestrationError(f"{where}: 'assign' must be a list of node names")
    if "vars" in job and not isinstance(job["vars"], dict):
        raise OrchestrationError(f"{where}: 'vars' must be a mapping")


def build_job(verb: str, execute: Any, arg_vars: dict[str, Any] | None = None, *,
              ignore_cache: bool = False, extra: dict[str, Any] | None = None) -> Job:
    """One job: the component's fields, ``timeout``/``run_once``, then the fingerprint.

    ``extra``: common job fields (targets, parent ids and names, ...); empty values are left out.
    """
    component = components.hooks_for(verb).component()
    component.verb = verb
    data: dict[str, Any] = {"verb": verb}
    if isinstance(execute, (list, tuple)):
        text = " ".join(map(str, execute))
    else:
        text = "" if execute is None else str(execute)
    try:
        result = component.server(exec_array=[text], data=data, arg_vars=arg_vars or {})
    except ComponentError:
        raise
    except SystemExit as exc:  # upstream-style components may exit on bad input
        raise ComponentError(f"{verb}: rejected its arguments ({exc})") from None
    data = result if isinstance(result, dict) else data
    known = component.known_args
    data["timeout"] = int(getattr(known, "timeout", 600))
    data["run_once"] = bool(getattr(known, "run_once", False))
    data["job_sha3_224"] = object_sha3_224(component.fingerprint_data(data))
    component.finalize_job(data)  # fields outside the fingerprint (e.g. file content hashes)
    data["skip_cache"] = bool(ignore_cache or getattr(known, "skip_cache", False))
    if getattr(known, "force_lock", False):
        data["force_lock"] = True
    for key, value in (extra or {}).items():
        if value:
            data[key] = value
    try:
        return Job.from_dict(data)
    except RequestError as exc:
        raise ComponentError(f"{verb}: {exc}") from None


def _unique(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))


def orchestration_jobs(orchestrations: list[dict[str, Any]], defined_targets: list[str] | None = None,
                       restrict: list[str] | None = None, ignore_cache: bool = False,
                       force_async: bool = False) -> list[Job]:
    """Every job of every orchestration, in order.

    A job goes to its own ``assign``, else the CLI targets, else the
    orchestration's ``assign`` or ``targets``.
    """
    cli_targets = _unique(defined_targets or [])
    jobs: list[Job] = []
    for orchestration in orchestrations:
        parent_sha = object_sha3_224(orchestration)
        parent_id = str(uuid.uuid4())
        is_async = force_async or _as_bool(orchestration.get("async", False))
        default_targets = cli_targets or orchestration.get("assign") or orchestration.get("targets") or []
        for job in orchestration["jobs"]:
            job = dict(job)
            arg_vars = job.pop("vars", None) or {}
            job_name = job.pop("name", None)
            assign = job.pop("assign", None)
            (verb, execute), = job.items()
            jobs.append(build_job(
                verb, execute, arg_vars, ignore_cache=ignore_cache,
                extra={
                    "targets": _unique(assign or default_targets),
                    "parent_async": is_async,
                    "parent_id": parent_id,
                    "parent_sha3_224": parent_sha,
                    "parent_name": orchestration.get("name"),
                    "job_name": job_name,
                    "restrict": list(restrict or []),
                },
            ))
    return jobs


def _as_bool(value: Any) -> bool:
    try:
        return parse_bool(value)
    except ValueError:
        return bool(value)


def fingerprint_rows(orchestrations: list[dict[str, Any]]) -> list[tuple[int, str, str, str, str, str]]:
    """``--finger-print`` rows: count, parent, verb, exec, job (its fingerprint, for
    ``--restrict``), name (the job's ``name``, else empty)."""
    rows = []
    count = 0
    for orchestration in orchestrations:
        parent = orchestration.get("name") or object_sha3_224(orchestration)
        for job in orchestration["jobs"]:
            job = dict(job)
            arg_vars = job.pop("vars", None) or {}
            name = job.pop("name", None)
            job.pop("assign", None)
            (verb, execute), = job.items()
            spec = build_job(verb, execute, arg_vars)
            text = str(execute)
            count += 1
            rows.append((count, parent, verb, text if len(text) < 30 else text[:27] + "...",
                         spec.job_sha3_224, name or ""))
    return rows
