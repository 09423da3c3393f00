"""WORKDIR: create a directory, optionally owned and moded."""

from __future__ import annotations

import os
from typing import Any

from directord import components, templating
from directord.components import lib
from directord.components.lib import ComponentResult
from directord.exceptions import ComponentError


def add_ownership_options(component: components.ComponentBase) -> None:
    component.parser.add_argument("--chown", help="user[:group] owning the result.")
    component.parser.add_argument("--chmod", help="Octal mode, e.g. 0755.")


def ownership_fields(component: components.ComponentBase, data: dict[str, Any]) -> None:
    """Add ``user``/``group`` and ``mode`` to ``data`` (upstream field names and values).

    ``--chown alice`` gives group None, ``--chown :staff`` user "" (left unchanged).
    """
    chown = component.known_args.chown
    if chown:
        user, colon, group = str(chown).partition(":")
        data["user"], data["group"] = user, (group if colon else None)
    if component.known_args.chmod:
        try:
            data["mode"] = int(str(component.known_args.chmod), 8)
        except ValueError:
            raise ComponentError(f"--chmod {component.known_args.chmod!r} is not an octal mode") from None


class Component(components.ComponentBase):
    shell_words = True
    examples = ("{{ workspace }}/app", "--chown app:app --chmod 0750 /srv/app/data")

    def __init__(self) -> None:
        super().__init__(desc="Create a directory on the targets.")

    def args(self) -> None:
        super().args()
        add_ownership_options(self)
        self.parser.add_argument("workdir", metavar="PATH", help="The directory (rendered with the node's args).")

    def server(self, exec_array: Any, data: dict[str, Any], arg_vars: Any) -> dict[str, Any]:
        super().server(exec_array=exec_array, data=data, arg_vars=arg_vars)
        ownership_fields(self, data)
        if self.unknown_args:
            raise ComponentError(f"WORKDIR: expected one PATH (quote a path with spaces), got {self.unknown_args}")
        data["workdir"] = self.known_args.workdir
        return data

    def client(self, cache: Any, job: dict[str, Any]) -> ComponentResult:
        path = templating.render(job.get("workdir") or "", cache.get("args")).strip()
        if not path:
            return ComponentResult.failed("The rendered path is empty")
        try:
            os.makedirs(lib.checked_path(path, "directory"), exist_ok=True)
        except lib.PathRefused as exc:
            return ComponentResult.failed(str(exc))
        except OSError as exc:
            return ComponentResult.failed(f"Cannot create {path}: {exc}")
        error = lib.apply_ownership(path, job.get("user"), job.get("group"), job.get("mode"))
        if error:
            return ComponentResult.failed(error)
        return ComponentResult(f"Directory {path} OK", None, True)
