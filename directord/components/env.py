"""ENV: store an environment variable for later RUN/WAIT commands on the node."""

from __future__ import annotations

from typing import Any

from directord.components import arg


class Component(arg.Component):
    cache_key = "envs"
    examples = ("LANG C.UTF-8", "PATH /usr/local/bin:/usr/bin:/bin")

    @staticmethod
    def convert(value: Any) -> str:
        return value if isinstance(value, str) else str(value)
