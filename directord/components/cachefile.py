"""CACHEFILE: load a YAML or JSON file on the node into its args."""

from __future__ import annotations

import os
from typing import Any

import yaml

from directord import components, templating
from directord.components import lib
from directord.components.lib import ComponentResult
from directord.exceptions import ComponentError

MAX_BYTES = 16 * 1024 * 1024


class Component(components.ComponentBase):
    shell_words = True
    cacheable = False
    requires_lock = True
    examples = ("{{ workspace }}/example.yaml", "'/etc/app/vars file.yaml'")

    def __init__(self) -> None:
        super().__init__(desc="Merge a YAML/JSON file on the node into its args.")

    def args(self) -> None:
        super().args()
        self.parser.add_argument("cachefile", metavar="PATH",
                                 help="Path of the file on the node (rendered with the node's args).")

    def server(self, exec_array: Any, data: dict[str, Any], arg_vars: Any) -> dict[str, Any]:
        super().server(exec_array=exec_array, data=data, arg_vars=arg_vars)
        if self.unknown_args:
            raise ComponentError(f"CACHEFILE: expected one PATH (quote a path with spaces), got {self.unknown_args}")
        data["cachefile"] = self.known_args.cachefile
        return data

    def client(self, cache: Any, job: dict[str, Any]) -> ComponentResult:
        path = templating.render(job.get("cachefile", ""), cache.get("args"))
        try:
            lib.checked_path(path, "cache file")
            if os.path.getsize(path) > MAX_BYTES:
                return ComponentResult.failed(f"{path} is larger than {MAX_BYTES} bytes")
            with open(path, encoding="utf-8") as handle:
                values = yaml.safe_load(handle)
        except (OSError, ValueError, yaml.YAMLError) as exc:
            return ComponentResult.failed(f"Cannot load {path}: {exc}")
        if not isinstance(values, dict):
            return ComponentResult.failed(f"{path} must hold a mapping, not {type(values).__name__}")
        self.set_cache(cache=cache, key="args", value=values, value_update=True, extend=True, tag="args")
        return ComponentResult("Cache file loaded", None, True)
