"""SSH bootstrap from catalog files: prepare hosts before they run a server or client.

A catalog (YAML; several are deep-merged in order: mappings merge, lists
concatenate) names ``directord_server`` and ``directord_clients`` entries of
``targets`` and ``jobs``. Every other top-level key is a template variable,
and so is ``directord_bootstrap``, the host being processed. Jobs are
``RUN: <command>`` (over SSH with a PTY), ``ADD: <local> <remote>`` and
``GET: <remote> <local>`` (SFTP). A job is rendered before its paths are
split, so a path may hold ``{{ expression }}``. Every job of every host is
rendered before any host is contacted. Server entries run first, one host at
a time; client hosts then run in parallel.
"""

from __future__ import annotations

import concurrent.futures
import getpass
import logging
import os
import stat
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from directord import orchestration, templating
from directord.components.lib import merge_dict
from directord.exceptions import CatalogError

LOG = logging.getLogger("directord-ssh")
VERBS = ("RUN", "ADD", "GET")
CHUNK = 128 * 1024
OUTPUT_TAIL = 2000  # characters of a failed command's output kept in its error
TOOLS_DIR = os.path.join(sys.prefix, "share", "directord", "tools")


class _HostFailure(Exception):
    """Ends one host's run; its text is the host's error."""


@dataclass(frozen=True)
class Host:
    """One target of a catalog entry, with that entry's jobs."""

    host: str
    port: int
    username: str
    role: str  # "server" or "client"
    jobs: tuple[tuple[str, str], ...]  # (VERB, unrendered text)
    name: str | None = None

    def variables(self, key_file: str | None) -> dict[str, Any]:
        """The ``directord_bootstrap`` template variable."""
        return {"host": self.host, "port": self.port, "username": self.username, "name": self.name,
                "jobs": [{verb: text} for verb, text in self.jobs], "key_file": key_file}


@dataclass(frozen=True)
class Step:
    """One rendered job: RUN has the command, ADD (local, remote) and GET (remote, local)."""

    verb: str
    text: str  # as written in the catalog
    args: tuple[str, ...]


@dataclass
class HostResult:
    host: str
    name: str | None
    role: str
    status: str = "ok"  # ok | failed | unreachable | skipped
    jobs_run: int = 0
    seconds: float = 0.0
    error: str = ""


@dataclass(frozen=True)
class SshOptions:
    """How to reach hosts: credentials, host-key policy and timeout."""

    key_file: str | None = None
    known_hosts: str = "~/.ssh/known_hosts"
    accept_new_host_keys: bool = False
    connect_timeout: float = 10.0
    save_guard: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)


# -- catalogs -> plan -----------------------------------------------------------
def load_catalogs(paths: list[str]) -> dict[str, Any]:
    """Read and deep-merge catalog files, in order."""
    if not paths:
        raise CatalogError("no catalog given (--catalog FILE)")
    merged: dict[str, Any] = {}
    for path in paths:
        data = orchestration.load_yaml(path, kind="catalog")
        if data is None:
            continue
        if not isinstance(data, dict):
            raise CatalogError(f"catalog {path} must hold a mapping, not {type(data).__name__}")
        merged = merge_dict(merged, data)
    return merged


def plan(catalog: dict[str, Any]) -> tuple[list[Host], list[Host]]:
    """(server hosts, client hosts) of a merged catalog; each job's verb and text are checked (steps() renders)."""
    servers: list[Host] = []
    clients: list[Host] = []
    for key, role, into, jobs_required in (("directord_server", "server", servers, False),
                                            ("directord_clients", "client", clients, True)):
        entries = catalog.get(key)
        if entries is None:
            continue
        for index, entry in enumerate(entries if isinstance(entries, list) else [entries]):
            into.extend(_entry_hosts(entry, role, f"{key}[{index}]" if isinstance(entries, list) else key,
                                     jobs_required))
    if not servers and not clients:
        raise CatalogError("the catalogs define no directord_server or directord_clients targets with jobs")
    return servers, clients


def _entry_hosts(entry: Any, role: str, where: str, jobs_required: bool) -> list[Host]:
    if not isinstance(entry, dict):
        raise CatalogError(f"{where} must be a mapping with targets and jobs")
    if not entry.get("targets"):
        raise CatalogError(f"{where} has no targets")
    if not entry.get("jobs"):
        if jobs_required:
            raise CatalogError(f"{where} has no jobs")
        return []  # a server entry without jobs is only there to be referenced by templates
    args = entry.get("args") or {}
    if not isinstance(args, dict):
        raise CatalogError(f"{where}.args must be a mapping")
    jobs = tuple(_check_job(job, f"{where}.jobs") for job in flatten(entry["jobs"]))
    targets = entry["targets"] if isinstance(entry["targets"], list) else [entry["targets"]]
    return [_target(target, args, role, jobs, f"{where}.targets[{i}]") for i, target in enumerate(targets)]


def _target(target: Any, args: dict[str, Any], role: str, jobs: tuple[tuple[str, str], ...], where: str) -> Host:
    if not isinstance(target, dict) or not target.get("host"):
        raise CatalogError(f"{where} needs a host")
    values = {**args, **target}
    try:
        port = int(values.get("port", 22))
    except (TypeError, ValueError):
        raise CatalogError(f"{where}: port {values.get('port')!r} is not a number") from None
    return Host(host=str(values["host"]), port=port, username=str(values.get("username") or getpass.getuser()),
                role=role, jobs=jobs, name=str(values["name"]) if values.get("name") else None)


def flatten(jobs: Any) -> Iterator[Any]:
    """Jobs may nest lists (e.g. from merged catalogs or YAML anchors)."""
    for job in jobs if isinstance(jobs, list) else [jobs]:
        if isinstance(job, list):
            yield from flatten(job)
        else:
            yield job


def _check_job(job: Any, where: str) -> tuple[str, str]:
    if not isinstance(job, dict) or len(job) != 1:
        raise CatalogError(f"{where}: each job is a one-key mapping such as RUN: <command>, not {job!r}")
    verb, text = next(iter(job.items()))
    verb = str(verb).upper()
    if verb not in VERBS:
        raise CatalogError(f"{where}: unknown bootstrap verb {verb!r}; known: {', '.join(VERBS)}")
    if not isinstance(text, str | int | float) or not str(text).strip():
        raise CatalogError(f"{where}: {verb} needs text")
    return verb, str(text)


def steps(host: Host, catalog: dict[str, Any], key_file: str | None = None) -> tuple[Step, ...]:
    """``host``'s jobs rendered with the catalog and ``directord_bootstrap``; ADD/GET then split in two."""
    variables = {**catalog, "directord_bootstrap": host.variables(key_file)}
    out = []
    for verb, text in host.jobs:
        try:
            rendered = templating.render(text, variables)
        except templating.TemplateError as exc:
            raise CatalogError(f"[ {host.host} ] {verb} {text!r}: {exc}") from None
        if verb == "RUN":
            out.append(Step(verb, text, (rendered,)))
            continue
        paths = tuple(rendered.split())
        if len(paths) != 2:
            source, target = ("<local>", "<remote>") if verb == "ADD" else ("<remote>", "<local>")
            raise CatalogError(f"[ {host.host} ] {verb} takes two paths, {verb}: {source} {target};"
                               f" {text!r} rendered to {rendered!r}")
        out.append(Step(verb, text, paths))
    return tuple(out)


# -- running --------------------------------------------------------------------
def run(catalog: dict[str, Any], ssh: SshOptions, threads: int = 10) -> list[HostResult]:
    """Bootstrap every host of ``catalog``: servers one by one, then clients in parallel.

    Clients are skipped when a server host failed: they would point at a server
    that is not there.
    """
    servers, clients = plan(catalog)
    rendered = {host: steps(host, catalog, ssh.key_file) for host in servers + clients}  # before any contact
    results = [_bootstrap(host, rendered[host], ssh) for host in servers]
    if any(result.status != "ok" for result in results):
        return results + [HostResult(h.host, h.name, h.role, "skipped", error="a server host failed")
                          for h in clients]
    with concurrent.futures.ThreadPoolExecutor(max(threads, 1), thread_name_prefix="bootstrap") as pool:
        results += list(pool.map(lambda host: _bootstrap(host, rendered[host], ssh), clients))
    return results


def _bootstrap(host: Host, jobs: tuple[Step, ...], ssh: SshOptions) -> HostResult:
    result = HostResult(host.host, host.name, host.role)
    start = time.monotonic()
    try:
        with _Session.open(host, ssh) as session:
            for number, step in enumerate(jobs, 1):
                LOG.info("[ %s ] %s (%d/%d)", host.host, step.verb, number, len(jobs))
                _run_job(session, step)
                result.jobs_run = number
    except _Unreachable as exc:
        result.status, result.error = "unreachable", str(exc)
    except _HostFailure as exc:
        result.status, result.error = "failed", str(exc)
    except Exception as exc:  # noqa: BLE001 - e.g. the connection dropped mid-job: this host fails, others go on
        result.status, result.error = "failed", f"{type(exc).__name__}: {exc}"
    result.seconds = time.monotonic() - start
    if result.error:
        LOG.error("[ %s ] %s", host.host, result.error)
    return result


def _run_job(session: _Session, step: Step) -> None:
    if step.verb == "RUN":
        code, output = session.run(step.args[0])
        if code != 0:
            tail = output[-OUTPUT_TAIL:].strip()
            raise _HostFailure(f"Bootstrap command failed (exit {code}): {step.text}" + (f"\n{tail}" if tail else ""))
    elif step.verb == "ADD":
        session.put(local_source(step.args[0]), step.args[1])
    else:
        session.get(*step.args)


def local_source(path: str) -> str:
    """An ADD source: as given, or (relative and absent here) under the installed tools directory."""
    expanded = os.path.expanduser(path)
    if os.path.isabs(expanded) or os.path.exists(expanded):
        candidate = expanded
    else:
        candidate = os.path.join(TOOLS_DIR, expanded)
    if not os.path.isfile(candidate):
        raise _HostFailure(f"ADD: no such local file {path!r} (looked in the current directory and {TOOLS_DIR})")
    return candidate


class _Unreachable(Exception):
    """No SSH session could be opened to the host."""


class _Session:
    """One SSH connection: commands with a PTY, SFTP transfers."""

    def __init__(self, client: Any, host: Host):
        self.client = client
        self.host = host

    @classmethod
    def open(cls, host: Host, ssh: SshOptions) -> _Session:
        import paramiko  # imported when bootstrapping, not by every CLI start

        client = paramiko.SSHClient()
        known_hosts = os.path.expanduser(ssh.known_hosts)
        client.load_system_host_keys()
        if os.path.isfile(known_hosts):
            client.load_host_keys(known_hosts)
        client.set_missing_host_key_policy(paramiko.AutoAddPolicy() if ssh.accept_new_host_keys
                                           else paramiko.RejectPolicy())
        try:
            client.connect(host.host, port=host.port, username=host.username, key_filename=ssh.key_file or None,
                           allow_agent=True, look_for_keys=True, timeout=ssh.connect_timeout,
                           banner_timeout=ssh.connect_timeout, auth_timeout=ssh.connect_timeout)
        except paramiko.AuthenticationException:
            client.close()
            raise _Unreachable(f"Authentication failure for {host.username}@{host.host}:{host.port}") from None
        except paramiko.BadHostKeyException as exc:
            client.close()
            raise _Unreachable(f"Host key of [ {host.host} ] changed: refusing to connect ({exc})") from None
        except paramiko.SSHException as exc:
            client.close()
            hint = "; pass --accept-new-host-keys to trust it" if "not found in known_hosts" in str(exc) else ""
            raise _Unreachable(f"Failed to connect to [ {host.host} ]: {exc}{hint}") from None
        except OSError as exc:
            client.close()
            raise _Unreachable(f"Failed to connect to [ {host.host} ]: {exc.strerror or exc}") from None
        if ssh.accept_new_host_keys:
            with ssh.save_guard:  # parallel hosts append to one file
                os.makedirs(os.path.dirname(known_hosts) or ".", mode=0o700, exist_ok=True)
                client.save_host_keys(known_hosts)
        return cls(client, host)

    def __enter__(self) -> _Session:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.client.close()

    def run(self, command: str) -> tuple[int, str]:
        """Run ``command`` on a PTY (output and errors interleaved): (exit status, output)."""
        channel = self._transport().open_session()
        try:
            channel.get_pty()
            channel.exec_command(command)
            chunks = []
            while True:
                data = channel.recv(CHUNK)
                if not data:
                    break
                chunks.append(data)
            code = channel.recv_exit_status()
        finally:
            channel.close()
        return code, b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")

    def put(self, local: str, remote: str) -> None:
        """Upload: the remote file is replaced, written in 128 KiB appends, and gets the local mode."""
        mode = stat.S_IMODE(os.stat(local).st_mode)
        with self._sftp() as sftp:
            try:
                sftp.remove(remote)
            except OSError:  # absent: nothing to replace
                pass
            try:
                with open(local, "rb") as source, sftp.open(remote, "wb") as target:
                    target.set_pipelined(True)
                    while chunk := source.read(CHUNK):
                        target.write(chunk)
                sftp.chmod(remote, mode)
            except OSError as exc:
                raise _HostFailure(f"ADD {local} -> {remote}: {exc.strerror or exc}") from None

    def get(self, remote: str, local: str) -> None:
        """Download atomically: a temporary file beside ``local``, renamed when complete."""
        local = os.path.expanduser(local)
        directory = os.path.dirname(os.path.abspath(local))
        with self._sftp() as sftp:
            try:
                handle, temp = tempfile.mkstemp(dir=directory, prefix=".directord-get-")
            except OSError as exc:
                raise _HostFailure(f"GET {remote} -> {local}: {exc.strerror or exc}") from None
            os.close(handle)
            try:
                sftp.get(remote, temp)
                os.replace(temp, local)
            except OSError as exc:
                os.unlink(temp)
                raise _HostFailure(f"GET {remote} -> {local}: {exc.strerror or exc}") from None

    def _transport(self) -> Any:
        transport = self.client.get_transport()
        if transport is None or not transport.is_active():
            raise _HostFailure(f"the SSH connection to [ {self.host.host} ] closed")
        return transport

    def _sftp(self) -> Any:
        try:
            return self.client.open_sftp()
        except Exception as exc:  # noqa: BLE001 - paramiko raises SSHException or EOFError here
            raise _HostFailure(f"SFTP is not available on [ {self.host.host} ]: {exc}") from None
