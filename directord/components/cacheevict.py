"""CACHEEVICT: clear the node's cache: ``all``, a tag, or one key."""

from __future__ import annotations

from typing import Any

from directord import components
from directord.cache import TAGS
from directord.components.lib import ComponentResult


class Component(components.ComponentBase):
    cacheable = False
    requires_lock = True
    examples = ("args", "all", "my_key")

    def __init__(self) -> None:
        super().__init__(desc="Evict cache entries: all, " + ", ".join(TAGS) + ", or a key.")

    def args(self) -> None:
        super().args()
        self.parser.add_argument("cacheevict", metavar="WHAT", help="all, a tag (" + ", ".join(TAGS) + ") or a key")

    def server(self, exec_array: Any, data: dict[str, Any], arg_vars: Any) -> dict[str, Any]:
        super().server(exec_array=exec_array, data=data, arg_vars=arg_vars)
        data["cacheevict"] = self.known_args.cacheevict
        return data

    def client(self, cache: Any, job: dict[str, Any]) -> ComponentResult:
        tag = job.get("cacheevict")
        if tag == "all":
            cache.clear()
            return ComponentResult("All cache has been cleared", None, True)
        if tag in TAGS:
            count = cache.evict(tag)
            return ComponentResult(f"Evicted {count} items, tagged {tag}", None, True)
        if cache.delete(str(tag)):
            return ComponentResult(f"Evicted 1 items, tagged {tag}", None, True)
        return ComponentResult.failed(f"No cache entry or tag named {tag!r}")
