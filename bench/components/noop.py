"""NOOP: succeed without starting any process (the benchmark's pure orchestration cost).

Written against the original Directord component API, so one file serves both:
this project ships it from the server's ``--components-path``; the harness
installs it as ``builtin_noop`` in the original's private venv.
"""

from __future__ import annotations

from typing import Any

from directord import components


class Component(components.ComponentBase):
    def __init__(self) -> None:
        super().__init__(desc="Do nothing and succeed (benchmark verb).")

    def server(self, exec_array: Any, data: dict[str, Any], arg_vars: Any) -> dict[str, Any]:
        super().server(exec_array=exec_array, data=data, arg_vars=arg_vars)
        return data

    def client(self, cache: Any, job: dict[str, Any]) -> tuple[str, None, bool, None]:
        return "", None, True, None
