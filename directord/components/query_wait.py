"""QUERY_WAIT: wait until ``args.query`` holds ITEM for the given nodes (or any node)."""

from __future__ import annotations

import time
from typing import Any

from directord import components
from directord.components.lib import ComponentResult
from directord.components.query import POLL, gathered


class Component(components.ComponentBase):
    cacheable = False
    examples = ("greeting", "--identity node1 node2 --query-timeout 60 greeting")

    def __init__(self) -> None:
        super().__init__(desc="Wait until QUERY answers for ITEM are in this node's args.")

    def args(self) -> None:
        super().args()
        self.parser.add_argument("--query-timeout", type=int, default=600, help="Seconds to wait.")
        self.parser.add_argument("--identity", nargs="+", help="Nodes whose answer is needed (default: any node).")
        self.parser.add_argument("item", metavar="ITEM", help="The queried arg.")

    def server(self, exec_array: Any, data: dict[str, Any], arg_vars: Any) -> dict[str, Any]:
        super().server(exec_array=exec_array, data=data, arg_vars=arg_vars)
        data["item"] = self.known_args.item
        data["query_timeout"] = self.known_args.query_timeout
        data["identity"] = self.known_args.identity
        return data

    def client(self, cache: Any, job: dict[str, Any]) -> ComponentResult:
        item, identities = job["item"], job.get("identity") or []
        deadline = time.monotonic() + float(job.get("query_timeout", 600))
        while time.monotonic() < deadline:
            if identities and gathered(cache, identities, item):
                return ComponentResult("Item found in all identities", None, True)
            query = (cache.get("args") or {}).get("query") or {}
            if not identities and any(isinstance(v, dict) and item in v for v in query.values()):
                return ComponentResult("Item found", None, True)
            if not self.services.sleep(POLL):
                break
        return ComponentResult.failed(f"Timeout after {job.get('query_timeout', 600)} seconds")
