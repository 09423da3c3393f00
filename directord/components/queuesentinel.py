"""QUEUESENTINEL: purge the jobs still queued on the targets; each is recorded failed."""

from __future__ import annotations

from typing import Any

from directord import components
from directord.components.lib import ComponentResult


class Component(components.ComponentBase):
    cacheable = False
    requires_lock = True
    queue_sentinel = True
    examples = ("true",)

    def __init__(self) -> None:
        super().__init__(desc="Purge every queued (not yet running) job on the targets.")

    def args(self) -> None:
        super().args()
        self.parser.add_argument("sentinel", nargs="?", help="Any word (kept for compatibility).")

    def server(self, exec_array: Any, data: dict[str, Any], arg_vars: Any) -> dict[str, Any]:
        super().server(exec_array=exec_array, data=data, arg_vars=arg_vars)
        data["parent_async_bypass"] = True
        return data

    def client(self, cache: Any, job: dict[str, Any]) -> ComponentResult:
        return ComponentResult(f"Queues purged: {job.get('purged', 0)} job(s) omitted", None, True)
