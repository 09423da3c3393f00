"""RUN: execute a shell command (``/bin/sh -c``) with the node's ENV values."""

from __future__ import annotations

from typing import Any

from directord import components, templating
from directord.components.lib import ComponentResult, retry
from directord.exceptions import ComponentError


class Component(components.ComponentBase):
    verbatim = True
    verbatim_text = "the command"
    examples = ("echo hello", "--stdout-arg kernel uname -r", "--retry 3 --timeout 60 systemctl is-active sshd")

    def __init__(self) -> None:
        super().__init__(desc="Run a shell command on the targets.")

    def args(self) -> None:
        super().args()
        self.parser.add_argument("--no-block", action="store_true",
                                 help="Start the command detached and succeed at once.")
        self.parser.add_argument("--retry", type=int, default=1, help="Attempts before failing.")

    def server(self, exec_array: Any, data: dict[str, Any], arg_vars: Any) -> dict[str, Any]:
        super().server(exec_array=exec_array, data=data, arg_vars=arg_vars)
        if not self.exec_text:
            raise ComponentError("RUN: no command given")
        data["no_block"] = self.known_args.no_block
        data["retry"] = self.known_args.retry
        data["command"] = self.exec_text
        return data

    @retry
    def client(self, cache: Any, job: dict[str, Any]) -> ComponentResult:
        command = templating.render(job["command"], cache.get("args"))
        if not command.strip():
            return ComponentResult.failed("The rendered command is empty")
        stdout, stderr, ok = self.run_command(
            command, env=cache.get("envs"), no_block=bool(job.get("no_block"))
        )
        return ComponentResult(stdout, stderr, ok, command)
