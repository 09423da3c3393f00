"""DNF: install, upgrade or remove packages with ``dnf`` on the targets."""

from __future__ import annotations

import shlex
from typing import Any

from directord import components, templating
from directord.components import lib
from directord.components.lib import ComponentResult, retry
from directord.exceptions import ComponentError


class Component(components.ComponentBase):
    requires_lock = True  # one package transaction at a time on a node
    examples = ("--latest vim-enhanced", "--absent telnet", "--clear-metadata --exclude kernel* httpd mod_ssl")

    def __init__(self) -> None:
        super().__init__(desc="Install (default), upgrade (--latest) or remove (--absent) packages with dnf.")

    def args(self) -> None:
        super().args()
        self.parser.add_argument("--clear-metadata", action="store_true",
                                 help="Run `dnf clean all` and `dnf makecache` first.")
        self.parser.add_argument("--exclude", help="Comma-separated packages dnf must leave alone.")
        state = self.parser.add_mutually_exclusive_group()
        state.add_argument("--latest", action="store_true", help="Install or upgrade to the newest version.")
        state.add_argument("--absent", action="store_true", help="Remove the packages.")
        self.parser.add_argument("--retry", type=int, default=3, help="Attempts before failing.")
        self.parser.add_argument("packages", nargs="*", help="Package names (rendered with the node's args).")

    def server(self, exec_array: Any, data: dict[str, Any], arg_vars: Any) -> dict[str, Any]:
        super().server(exec_array=exec_array, data=data, arg_vars=arg_vars)
        known = self.known_args
        if not known.packages:
            raise ComponentError("DNF: no packages given")
        data["state"] = "absent" if known.absent else "latest" if known.latest else "present"
        data["retry"] = known.retry
        data["clear"] = known.clear_metadata
        data["packages"] = list(known.packages)
        data["exclude"] = known.exclude
        return data

    @retry
    def client(self, cache: Any, job: dict[str, Any]) -> ComponentResult:
        packages = templating.render_names(job.get("packages"), cache.get("args"), "packages")
        out: list[str] = []
        err: list[str] = []
        env = cache.get("envs")
        if job.get("clear"):  # stale metadata is refreshed; its outcome does not decide the job
            for step in ("clean all", "makecache"):
                self._step(step, f"dnf -q -y {step}", env, out, err)
        state = job.get("state", "present")
        command = ["dnf", "-q", "-y"]
        if state == "latest":
            command.append("--best")
        if job.get("exclude"):
            command.append(f"--exclude={job['exclude']}")
        action = "remove" if state == "absent" else "install"
        ok = self._step(action, shlex.join([*command, action, *packages]), env, out, err)
        info = None if ok else f"dnf {state} failed for {' '.join(packages)}"
        return ComponentResult("\n".join(out), "\n".join(err), ok, info)

    def _step(self, title: str, command: str, env: Any, out: list[str], err: list[str]) -> bool:
        """Run one dnf command, appending its output under a ``=== dnf <title> ===`` header."""
        stdout, stderr, ok = self.run_command(command, env=env)
        header = f"=== dnf {title} ==="
        for sink, data in ((out, stdout), (err, stderr)):
            text = lib.text(data)
            if text:
                sink.append(f"{header}\n{text}")
        return ok
