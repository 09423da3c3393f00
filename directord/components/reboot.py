"""REBOOT: restart the node's host; the server holds its later jobs until the client is back."""

from __future__ import annotations

from typing import Any

from directord import components
from directord.components.lib import ComponentResult
from directord.exceptions import ComponentError
from directord.job import Job

REBOOT_TIMEOUT = 600
REBOOT_COMMAND = "sleep {seconds}; systemctl --message='Directord reboot instruction' reboot"


class Component(components.ComponentBase):
    cacheable = False
    examples = ("30", "5 --reboot-timeout 900")

    def __init__(self) -> None:
        super().__init__(desc="Reboot the targets after TIME seconds. Jobs sent to them after this one"
                              " wait on the server until their client is back (a new client session).")

    def args(self) -> None:
        super().args()
        self.parser.add_argument("time", type=int, nargs="?", default=10,
                                 help="Seconds before the reboot (default %(default)s); the result is sent first.")
        self.parser.add_argument("--reboot-timeout", type=int, default=REBOOT_TIMEOUT,
                                 help="Seconds after TIME the server waits for the node to come back before"
                                      " it expires as usual and its held jobs fail (default %(default)s).")

    def server(self, exec_array: Any, data: dict[str, Any], arg_vars: Any) -> dict[str, Any]:
        super().server(exec_array=exec_array, data=data, arg_vars=arg_vars)
        known = self.known_args
        if known.time < 1 or known.reboot_timeout < 1:
            raise ComponentError("REBOOT: TIME and --reboot-timeout must be at least 1 second")
        data["time"] = known.time
        data["reboot_timeout"] = known.reboot_timeout
        return data

    def fingerprint_data(self, data: dict[str, Any]) -> dict[str, Any]:
        """Without a default ``reboot_timeout``, which the original's REBOOT did not have."""
        if data.get("reboot_timeout") != REBOOT_TIMEOUT:
            return data
        return {key: value for key, value in data.items() if key != "reboot_timeout"}

    @staticmethod
    def hold_seconds(job: Job) -> float:
        """Server side: how long later jobs for a node this job went to are held back."""
        try:
            return float(job.get("time", 10)) + float(job.get("reboot_timeout", REBOOT_TIMEOUT))
        except (TypeError, ValueError):  # not from our CLI: the defaults
            return 610.0

    def client(self, cache: Any, job: dict[str, Any]) -> ComponentResult:
        seconds = int(job.get("time", 10))
        self.run_command(REBOOT_COMMAND.format(seconds=seconds), env=cache.get("envs"), no_block=True)
        return ComponentResult(f"Rebooting in {seconds} seconds", None, True, "reboot scheduled")
