"""ARG: store a template variable in the node's cache (``KEY VALUE``)."""

from __future__ import annotations

import ast
from typing import Any

from directord import components, templating
from directord.components.lib import ComponentResult
from directord.exceptions import ComponentError


def parse_key_value(verb: str, text: str) -> tuple[str, Any]:
    """``KEY VALUE...`` -> (key, value); the value is a Python literal when it parses."""
    parts = text.split(None, 1)
    if len(parts) != 2:
        raise ComponentError(f"{verb}: expected KEY VALUE, got {text!r}")
    key, value = parts[0], parts[1].strip()
    try:
        return key, ast.literal_eval(value)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return key, value


class Component(components.ComponentBase):
    """ARG and ENV share this class; ENV overrides ``cache_key``/``convert``."""

    verbatim = True
    verbatim_text = "KEY VALUE"
    cacheable = False
    requires_lock = True
    lock_name = "arg"
    cache_key = "args"
    examples = ("greeting hello", "--extend-args ports [80, 443]", "settings {'tls': True, 'workers': 4}")

    def __init__(self) -> None:
        super().__init__(desc=f"Store a value in the node's {self.cache_key} cache.")

    def args(self) -> None:
        super().args()
        self.parser.add_argument("--extend-args", action="store_true",
                                 help="Deep-merge dicts and extend lists instead of replacing.")
        self.parser.add_argument("args", nargs="+", help="KEY VALUE")

    def server(self, exec_array: Any, data: dict[str, Any], arg_vars: Any) -> dict[str, Any]:
        super().server(exec_array=exec_array, data=data, arg_vars=arg_vars)
        key, value = parse_key_value(self.cache_key.upper()[:3], self.exec_text)
        if self.known_args.extend_args:
            data["extend_args"] = True
        data[self.cache_key] = {key: self.convert(value)}
        return data

    def fingerprint_data(self, data: dict[str, Any]) -> dict[str, Any]:
        """The value as the original hashed it: parsed from the collapsed text, not converted."""
        key, value = parse_key_value(self.cache_key.upper()[:3], components.collapse(self.exec_text))
        return {**data, self.cache_key: {key: value}}

    @staticmethod
    def convert(value: Any) -> Any:
        return value

    def client(self, cache: Any, job: dict[str, Any]) -> ComponentResult:
        values = job.get(self.cache_key)
        if not values:
            return ComponentResult(f"Nothing added to cache, no {self.cache_key} defined", None, True)
        rendered = {k: self.convert(v) for k, v in templating.render_value(values, cache.get("args")).items()}
        self.set_cache(cache=cache, key=self.cache_key, value=rendered, value_update=True,
                       extend=bool(job.get("extend_args")), tag=self.cache_key)
        return ComponentResult(f"{self.cache_key} added to cache", None, True,
                               f"type:{self.cache_key}, value:{rendered}")
