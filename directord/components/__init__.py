"""ComponentBase: the verb contract, compatible with components written for
the original Directord (``Component(components.ComponentBase)`` with ``args``,
``server`` and ``client``).

* ``args()`` builds ``self.parser`` (subclasses call super, then add options);
* ``server(exec_array, data, arg_vars)`` runs where the job is submitted and
  adds the verb's fields to ``data``; it must return ``data``;
* ``client(cache, job)`` runs on the node and returns
  ``(stdout, stderr, outcome, info)`` with outcome True, False, None
  (still processing) or "skipped".
"""

from __future__ import annotations

import argparse
import logging
import os
import re
from typing import Any

from directord import templating
from directord.components import lib
from directord.exceptions import ComponentError, ExecHelp

LOG = logging.getLogger("directord")
_TOKEN = re.compile(r"\S+")


class _ExecHelpAction(argparse.Action):
    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_args: Any) -> None:
        raise ExecHelp(parser.format_help().rstrip())


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting (errors become ComponentError)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise ComponentError(f"{self.prog}: {message}")


class ComponentBase:
    """Base of every verb. Class attributes describe how the client runs it."""

    cacheable = True
    requires_lock = False
    lock_name: str | None = None
    queue_sentinel = False  # True: purge the node's queued jobs before running
    verbatim = False  # True: options first, the rest kept verbatim (quoting, spacing)

    def __init__(self, desc: str | None = None):
        self.desc = desc
        self.command: str | None = None
        self.info: str | None = None
        self.driver: Any = None
        self.verb: str | None = None
        self.block_on_tasks: list[dict[str, Any]] | None = None
        self.publisher: Any = None  # set by the client: sends an interim status
        self.known_args: argparse.Namespace | None = None
        self.unknown_args: list[str] = []
        self.exec_text = ""
        self.parser: argparse.ArgumentParser | None = None
        self.log = LOG

    @property
    def blueprint(self) -> Any:
        """The sandboxed jinja2 environment (the original's attribute name)."""
        return templating.environment()

    # -- submitting side -----------------------------------------------------
    def args(self) -> None:
        """Build ``self.parser`` with the options every verb has."""
        name = (self.verb or type(self).__module__.rsplit(".", 1)[-1]).upper()
        self.parser = _Parser(prog=name, description=self.desc, add_help=False, allow_abbrev=False)
        self.parser.add_argument("--exec-help", action=_ExecHelpAction, help="Show this help and exit.")
        self.parser.add_argument("--skip-cache", action="store_true", help="Run even on a cache hit.")
        self.parser.add_argument("--run-once", action="store_true", help="Run on one target only.")
        self.parser.add_argument("--timeout", type=int, default=600, help="Seconds before the job is killed.")
        self.parser.add_argument("--force-lock", action="store_true", help="Serialise with this verb's lock.")
        self.parser.add_argument("--stdout-arg", help="Store stripped stdout as this arg on the node.")
        self.parser.add_argument("--stderr-arg", help="Store stripped stderr as this arg on the node.")

    def server(self, exec_array: Any, data: dict[str, Any], arg_vars: dict[str, Any] | None) -> dict[str, Any]:
        """Parse the execute text; add ``stdout_arg``/``stderr_arg`` to ``data``."""
        self.args()
        self.known_args, self.unknown_args = self.exec_parser(self.parser, exec_array, arg_vars)
        for key in ("stdout_arg", "stderr_arg"):
            if getattr(self.known_args, key, None):
                data[key] = getattr(self.known_args, key)
        return data

    def exec_parser(self, parser: argparse.ArgumentParser, exec_array: Any,
                    arg_vars: dict[str, Any] | None = None) -> tuple[argparse.Namespace, list[str]]:
        """Parse the verb's text into ``known_args``/``unknown_args``/``exec_text``.

        Verbatim verbs (``verbatim = True``: RUN, ARG, ADD, ...) take their
        options first; everything from the first other token on is the verb's
        text, quoting and spacing kept. Other verbs parse options anywhere,
        like the original Directord. An unknown ``--option`` is an error.
        ``arg_vars`` (an orchestration's ``vars:``) override parsed options.
        """
        text = " ".join(map(str, exec_array)) if isinstance(exec_array, (list, tuple)) else str(exec_array or "")
        if self.verbatim:
            leading, rest = _split_leading_options(parser, text)
            if rest.startswith("--") and rest != "--" and not rest.startswith("-- "):
                raise ComponentError(f"{parser.prog}: unknown option {rest.split()[0]} (see --exec-help)")
            self.exec_text = rest[2:].lstrip() if rest.startswith("--") else rest
            known, unknown = parser.parse_known_args(leading + ["--"] + sanitized_args([self.exec_text]))
        else:
            known, unknown = parser.parse_known_args(sanitized_args([text]))
            bad = [item for item in unknown if item.startswith("--") and len(item) > 2]
            if bad:
                raise ComponentError(f"{parser.prog}: unknown option {bad[0]} (see --exec-help)")
            self.exec_text = " ".join(unknown)
        unknown = [item for item in unknown if item != "--"]
        for key, value in (arg_vars or {}).items():
            setattr(known, key.replace("-", "_"), value)
        self.known_args, self.unknown_args = known, unknown
        return known, unknown

    # -- node side -----------------------------------------------------------
    def client(self, cache: Any, job: dict[str, Any]) -> lib.ClientResult:
        raise NotImplementedError(f"{type(self).__name__} has no client()")

    def publish(self, stdout: str | None = None, info: str | None = None) -> None:
        """Report an interim status (still processing) with ``stdout``/``info``."""
        if self.publisher is not None:
            self.publisher(stdout, info)

    def run_command(self, command: str, shell: bool = True, env: dict[str, str] | None = None,
                    execute: str = "/bin/sh", return_codes: Any = None,
                    no_block: bool = False) -> tuple[bytes | None, bytes | None, bool]:
        """Run ``command``; returns (stdout, stderr, ok). ``env`` overlays os.environ."""
        argv = [execute, "-c", command] if shell else command.split()
        merged = {**os.environ, **{k: str(v) for k, v in env.items()}} if env else None
        stdout, stderr, code = lib.spawn(argv, env=merged, no_block=no_block)
        codes = return_codes if return_codes is not None else [0]
        codes = [codes] if isinstance(codes, int) else list(codes)
        return stdout, stderr, no_block or code in codes

    def set_cache(self, cache: Any, key: str, value: Any, value_update: bool = False,
                  extend: bool = False, tag: str | None = None) -> None:
        """Store ``value``; with ``value_update`` merge it into the existing dict."""
        if value_update:
            value = lib.merge_dict(cache.get(key) or {}, value, extend)
        cache.set(key, value, tag=tag)

    def blueprinter(self, content: str, values: dict[str, Any] | None,
                    allow_empty_values: bool = False) -> tuple[str | None, str | None]:
        """Render ``content``; returns (text, None) or (None, error)."""
        try:
            return templating.render(content, values, allow_empty_values), None
        except templating.TemplateError as exc:
            return None, str(exc)

    def file_blueprinter(self, cache: Any, file_to: str) -> tuple[bool, str | None]:
        """Render a file in place with the node's args."""
        with open(file_to, encoding="utf-8") as handle:
            rendered, error = self.blueprinter(handle.read(), cache.get("args"))
        if error is not None:
            return False, error
        with open(file_to, "w", encoding="utf-8") as handle:
            handle.write(rendered or "")
        return True, None

    @staticmethod
    def sanitized_args(execute: list[Any]) -> list[str]:
        return sanitized_args(execute)

    def close(self) -> None:
        """Release resources (context-manager support)."""

    def __enter__(self) -> ComponentBase:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def sanitized_args(execute: list[Any]) -> list[str]:
    """Flatten and split on whitespace."""
    tokens: list[str] = []
    for item in execute:
        if isinstance(item, (list, tuple)):
            tokens.extend(sanitized_args(list(item)))
        elif item is not None:
            tokens.extend(str(item).split())
    return tokens


def _split_leading_options(parser: argparse.ArgumentParser, text: str) -> tuple[list[str], str]:
    """Split ``text`` into leading option tokens known to ``parser`` and the rest."""
    actions = parser._option_string_actions  # argparse has no public lookup
    tokens = list(_TOKEN.finditer(text))
    taken: list[str] = []
    index = 0
    while index < len(tokens):
        token = tokens[index].group()
        name = token.split("=", 1)[0]
        action = actions.get(name)
        if action is None or not token.startswith("-"):
            break
        taken.append(token)
        index += 1
        if "=" in token or action.nargs == 0:
            continue
        wanted = 1 if action.nargs in (None, "?") else None
        while index < len(tokens) and not tokens[index].group().startswith("--"):
            taken.append(tokens[index].group())
            index += 1
            if wanted == 1:
                break
    rest = text[tokens[index].start():].strip() if index < len(tokens) else ""
    return taken, rest
