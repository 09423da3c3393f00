"""SERVICE: start, restart, reload or stop systemd units; enable, disable, mask or unmask them."""

from __future__ import annotations

import shlex
from typing import Any

from directord import components, templating
from directord.components.lib import ComponentResult, retry
from directord.exceptions import ComponentError


class Component(components.ComponentBase):
    requires_lock = True  # systemctl calls of one node never interleave
    examples = ("--restarted --enable sshd", "--stopped --disable httpd", "--daemon-reload nginx")

    def __init__(self) -> None:
        super().__init__(desc="Manage systemd services: run state (start by default), enablement, masking.")

    def args(self) -> None:
        super().args()
        running = self.parser.add_mutually_exclusive_group()
        running.add_argument("--reloaded", dest="running", action="store_const", const="reload",
                             help="Reload the services.")
        running.add_argument("--restarted", dest="running", action="store_const", const="restart",
                             help="Restart the services.")
        running.add_argument("--stopped", dest="running", action="store_const", const="stop",
                             help="Stop the services.")
        running.add_argument("--daemon-reload", action="store_true",
                             help="Run `systemctl daemon-reload` first (then start the services).")
        enablement = self.parser.add_mutually_exclusive_group()
        for state in ("enable", "disable", "mask", "unmask"):
            enablement.add_argument(f"--{state}", dest="enablement", action="store_const", const=state,
                                    help=f"{state.capitalize()} the services.")
        self.parser.add_argument("--retry", type=int, default=3, help="Attempts before failing.")
        self.parser.add_argument("services", nargs="*", help="Unit names (rendered with the node's args).")

    def server(self, exec_array: Any, data: dict[str, Any], arg_vars: Any) -> dict[str, Any]:
        super().server(exec_array=exec_array, data=data, arg_vars=arg_vars)
        known = self.known_args
        if not known.services:
            raise ComponentError("SERVICE: no services given")
        if known.enablement in ("enable", "disable"):
            data["state"] = known.enablement
        elif known.enablement:
            data["mask"] = known.enablement
        data["running"] = known.running or "start"
        data["retry"] = known.retry
        data["services"] = list(known.services)
        data["daemon_reload"] = known.daemon_reload
        return data

    @retry
    def client(self, cache: Any, job: dict[str, Any]) -> ComponentResult:
        services = templating.render_names(job.get("services"), cache.get("args"), "services")
        steps = []
        if job.get("daemon_reload"):
            steps.append((["daemon-reload"], "Failed to reload the systemd daemon"))
        if job.get("mask"):
            steps.append(([job["mask"], *services], "Failed to mask the systemd service"))
        if job.get("state"):
            steps.append(([job["state"], *services], "Failed to set the systemd state"))
        steps.append(([job.get("running") or "start", *services], "Failed to set the systemd running action"))
        out: list[bytes] = []
        err: list[bytes] = []
        env = cache.get("envs")
        for arguments, failure in steps:
            stdout, stderr, ok = self.run_command(shlex.join(["systemctl", *arguments]), env=env)
            out.append(stdout or b"")
            err.append(stderr or b"")
            if not ok:
                return ComponentResult(b"".join(out), b"".join(err), False, failure)
        return ComponentResult(b"".join(out), b"".join(err), True)
