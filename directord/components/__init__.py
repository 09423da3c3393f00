"""ComponentBase: the verb contract, compatible with components written for
the original Directord (``Component(components.ComponentBase)`` with ``args``,
``server`` and ``client``).

* ``args()`` builds ``self.parser`` (subclasses call super, then add options);
* ``server(exec_array, data, arg_vars)`` runs where the job is submitted and
  adds the verb's fields to ``data``; it must return ``data``;
* ``client(cache, job)`` runs on the node and returns a ``ComponentResult``
  ``(stdout, stderr, outcome, info)`` (a plain 4-tuple works too) with outcome
  True, False, None (still processing) or "skipped". A ``TemplateError`` it
  raises fails the job with its message.

Every other hook the server, the client and job building call is a method or
attribute of ComponentBase with a default (see the class); ``hooks_of``
resolves them once per class, also for a class not derived from ComponentBase.
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import re
import shlex
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from directord import plugins, templating
from directord.components import lib
from directord.components.lib import ComponentResult
from directord.components.services import NodeServices
from directord.exceptions import ComponentError, ExecHelp

if TYPE_CHECKING:
    from directord.job import Job
    from directord.models import JobRecord

LOG = logging.getLogger("directord")
_TOKEN = re.compile(r"\S+")
_OPTION_TYPES: dict[str, Any] = {"list": list, "dict": dict, "int": int, "str": str}


class _ExecHelpAction(argparse.Action):
    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_args: Any) -> None:
        raise ExecHelp(parser.format_help().rstrip())


class _HelpFormatter(argparse.HelpFormatter):
    """Fills each line of a description or epilog on its own; indented lines are kept as they are."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return "\n".join(indent + line if line.startswith(" ") or not line.strip()
                         else super(_HelpFormatter, self)._fill_text(line, width, indent)
                         for line in text.splitlines())


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting (errors become ComponentError)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise ComponentError(f"{self.prog}: {message}")


_PARSERS: weakref.WeakKeyDictionary[type, dict[str | None, argparse.ArgumentParser]] = weakref.WeakKeyDictionary()


class ComponentBase:
    """Base of every verb: the hooks and attributes below are what callers use, with defaults.

    Read by the client (a component written for the original may set them in ``__init__``):
    ``cacheable`` (a repeat of a job that ended is skipped), ``requires_lock`` and
    ``lock_name`` (jobs of verbs sharing a lock name run one at a time on a node;
    the name defaults to the verb), ``block_on_tasks`` (set by ``client()``:
    callback jobs, see README), ``queue_sentinel`` (purge the node's queued jobs
    first). Parsing: ``verbatim``/``verbatim_text``, ``shell_words`` (see
    ``exec_parser``). ``examples``: good texts of the verb, shown by ``--exec-help``.
    """

    cacheable = True
    requires_lock = False
    lock_name: str | None = None
    queue_sentinel = False
    verbatim = False  # True: options first, the rest kept verbatim (quoting, spacing)
    verbatim_text = "the text"  # what the verbatim rest is, for --exec-help
    shell_words = False  # True: quoted words and {{ ... }} spans stay whole (paths)
    examples: tuple[str, ...] = ()
    known_args: argparse.Namespace | None = None
    block_on_tasks: list[dict[str, Any]] | None = None

    def __init__(self, desc: str | None = None):
        self.desc = desc
        self.command: str | None = None
        self.info: str | None = None
        self.driver: Any = None
        self.verb: str | None = None
        self.services = NodeServices()
        self.unknown_args: list[str] = []
        self.exec_text = ""
        self.parser: argparse.ArgumentParser | None = None
        self.log = LOG

    def attach(self, services: NodeServices) -> None:
        """Called by the client before ``client()``: the node's services for this job, and
        ``driver``, ``command`` and ``info`` as components written for the original read them."""
        self.services = services
        self.driver = services.driver
        self.command = services.job.get("verb")
        self.info = services.job.get("info")

    @property
    def blueprint(self) -> Any:
        """The sandboxed jinja2 environment (the original's attribute name)."""
        return templating.environment()

    # -- submitting side -----------------------------------------------------
    def args(self) -> None:
        """Build ``self.parser`` with the options every verb has."""
        name = (self.verb or type(self).__module__.rsplit(".", 1)[-1]).upper()
        self.parser = _Parser(prog=name, description=self.desc, add_help=False, allow_abbrev=False,
                              formatter_class=_HelpFormatter)
        self.parser.add_argument("--exec-help", action=_ExecHelpAction, help="Show this help and exit.")
        self.parser.add_argument("--skip-cache", action="store_true", help="Run even on a cache hit.")
        self.parser.add_argument("--run-once", action="store_true", help="Run on one target only.")
        self.parser.add_argument("--timeout", type=int, default=600, help="Seconds before the job is killed.")
        self.parser.add_argument("--force-lock", action="store_true", help="Serialise with this verb's lock.")
        self.parser.add_argument("--stdout-arg", help="Store stripped stdout as this arg on the node.")
        self.parser.add_argument("--stderr-arg", help="Store stripped stderr as this arg on the node.")

    def server(self, exec_array: Any, data: dict[str, Any], arg_vars: dict[str, Any] | None) -> dict[str, Any]:
        """Parse the execute text; add ``stdout_arg``/``stderr_arg`` to ``data``."""
        self.parser = self._built_parser()
        self.known_args, self.unknown_args = self.exec_parser(self.parser, exec_array, arg_vars)
        for key in ("stdout_arg", "stderr_arg"):
            if getattr(self.known_args, key, None):
                data[key] = getattr(self.known_args, key)
        return data

    def _built_parser(self) -> argparse.ArgumentParser:
        """The parser ``args()`` builds, built once per component class and verb (argparse is
        slow to build and fast to use: an orchestration of a thousand RUNs builds one)."""
        by_verb = _PARSERS.setdefault(type(self), {})
        parser = by_verb.get(self.verb)
        if parser is None:
            self.args()
            assert self.parser is not None, f"{type(self).__name__}.args() built no parser"
            parser = by_verb[self.verb] = self.parser
        return parser

    def exec_parser(self, parser: argparse.ArgumentParser, exec_array: Any,
                    arg_vars: dict[str, Any] | None = None) -> tuple[argparse.Namespace, list[str]]:
        """Parse the verb's text into ``known_args``/``unknown_args``/``exec_text``.

        Verbatim verbs (``verbatim = True``: RUN, ARG, ENV, WAIT) take their
        options first; everything from the first other token on is the verb's
        text, quoting and spacing kept. Other verbs take options before,
        between or after their positional words, which are split on
        whitespace, or like a shell with ``shell_words`` (see ``split_words``).
        An unknown ``--option`` is an error. ``arg_vars`` (an orchestration's
        ``vars:``) override parsed options.
        """
        text = " ".join(map(str, exec_array)) if isinstance(exec_array, (list, tuple)) else str(exec_array or "")
        if parser.epilog is None:
            parser.epilog = self.help_epilog(parser)
        if self.verbatim:
            leading, rest = _split_leading_options(parser, text)
            if rest.startswith("--") and rest != "--" and not rest.startswith("-- "):
                raise ComponentError(f"{parser.prog}: unknown option {rest.split()[0]} (see --exec-help)")
            self.exec_text = rest[2:].lstrip() if rest.startswith("--") else rest
            known, unknown = parser.parse_known_args(leading + ["--"] + sanitized_args([self.exec_text]))
        else:
            words = split_words(parser.prog, text) if self.shell_words else sanitized_args([text])
            known, unknown = _parse_anywhere(parser, words)
            bad = [item for item in unknown if item.startswith("--") and len(item) > 2]
            if bad:
                raise ComponentError(f"{parser.prog}: unknown option {bad[0]} (see --exec-help)")
            self.exec_text = " ".join(unknown)
        unknown = [item for item in unknown if item != "--"]
        for key, value in (arg_vars or {}).items():
            setattr(known, key.replace("-", "_"), value)
        self.known_args, self.unknown_args = known, unknown
        return known, unknown

    def parsing_rule(self, parser: argparse.ArgumentParser) -> str:
        """Where options may go in this verb's text (the ``--exec-help`` epilog)."""
        if self.verbatim:
            return (f"Options only before {self.verbatim_text}; {self.verbatim_text} is kept verbatim"
                    " (quoting, spacing and newlines).")
        positionals = [a for a in parser._actions if not a.option_strings]  # argparse has no public lookup
        if not positionals:
            return "Options may appear in any order."
        names = " ".join(str(a.metavar or a.dest.upper()) for a in positionals)
        rule = f"Options may appear before, between or after {names}."
        if self.shell_words:
            rule += " Quote a word that holds spaces; a {{ ... }} span is part of the word it touches."
        return rule

    def help_epilog(self, parser: argparse.ArgumentParser) -> str:
        """The ``--exec-help`` epilog: the parsing rule, then the examples."""
        epilog = self.parsing_rule(parser)
        if self.examples:
            epilog += "\n\nExamples:\n" + "\n".join(f"  {parser.prog} {example}".rstrip() for example in self.examples)
        return epilog

    def fingerprint_data(self, data: dict[str, Any]) -> dict[str, Any]:
        """The form of a built job its fingerprint is computed from.

        The original Directord split the text on whitespace before hashing, so
        for verbatim verbs the text (wherever ``server()`` stored it) is hashed
        whitespace-collapsed; other verbs hash ``data`` as it is.
        """
        if not self.verbatim or self.exec_text == collapse(self.exec_text):
            return data
        return {key: collapse(value) if value == self.exec_text else value for key, value in data.items()}

    def finalize_job(self, data: dict[str, Any]) -> None:
        """Add fields that stay outside the fingerprint (e.g. file content hashes); default none."""

    # -- server side (called on the class by the server) ----------------------
    @staticmethod
    def plan(job: Job, targets: list[str], live: list[str]) -> Plan:
        """Where a job is sent, given the live requested ``targets`` and every ``live`` node
        (and verb fields to add to the job it sends); default: the targets."""
        return Plan(targets)

    @staticmethod
    def coordinate(record: JobRecord) -> list[dict[str, Any]] | None:
        """After a node's status: follow-up jobs to submit once (e.g. QUERY's answers); default none."""
        return None

    @staticmethod
    def hold_seconds(job: Job) -> float:
        """Seconds later jobs for a node are held back once this job was sent to it (0: not held)."""
        return 0.0

    # -- node side -----------------------------------------------------------
    def client(self, cache: Any, job: dict[str, Any]) -> ComponentResult:
        raise NotImplementedError(f"{type(self).__name__} has no client()")

    def publish(self, stdout: str | None = None, info: str | None = None) -> None:
        """Report an interim status (still processing) with ``stdout``/``info``."""
        self.services.publish(stdout, info)

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
                  extend: bool = False, tag: str | None = None) -> Any:
        """Store ``value`` (with ``value_update``: merged into the existing dict); returns what was stored."""
        if value_update:
            return cache.change(key, lambda current: lib.merge_dict(current or {}, value, extend), tag=tag)
        cache.set(key, value, tag=tag)
        return value

    def options_converter(self, documentation: str) -> None:
        """Add a ``--NAME`` option to ``self.parser`` per entry of a YAML ``options:`` mapping
        (description, default, required, type bool/list/dict/int/str, choices)."""
        import yaml  # only components documented this way need it

        for name, spec in (yaml.safe_load(documentation).get("options") or {}).items():
            spec = dict(spec or {})
            options: dict[str, Any] = {}
            description = spec.get("description")
            if description:
                options["help"] = " ".join(description) if isinstance(description, list) else str(description)
            if spec.get("default"):
                options["default"] = spec["default"]
            required = spec.get("required")
            if required is True or str(required).lower() in ("yes", "true"):
                options["required"] = True
            kind = str(spec.get("type") or "").lower()
            if kind == "bool":
                options["action"] = "store_true"
            elif kind in _OPTION_TYPES:
                options["type"] = _OPTION_TYPES[kind]
            if spec.get("choices"):
                options["choices"] = spec["choices"]
            self.parser.add_argument(f"--{name.replace('_', '-')}", **options)

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


class Plan(NamedTuple):
    """Where a job goes (``plan``): its nodes, and verb fields added to the job they get."""

    targets: list[str]
    fields: dict[str, Any] | None = None


@dataclass(frozen=True)
class ComponentHooks:
    """A component class's contract, resolved once per class by ``hooks_of``.

    ``component`` is the class to build: the class itself, or for a class not
    derived from ComponentBase a subclass with ComponentBase behind it, so every
    hook and attribute the class lacks has its default. ``coordinates``: the
    class has its own ``coordinate`` (the server skips the default on every status).
    """

    component: type[ComponentBase]
    queue_sentinel: bool
    plan: Callable[[Job, list[str], list[str]], Plan]
    coordinate: Callable[[JobRecord], list[dict[str, Any]] | None]
    hold_seconds: Callable[[Job], float]
    coordinates: bool


@functools.cache
def hooks_of(cls: type) -> ComponentHooks:
    """The contract of component class ``cls`` (cached per class)."""
    if not issubclass(cls, ComponentBase):
        cls = type(cls.__name__, (cls, ComponentBase), {"__module__": cls.__module__, "__doc__": cls.__doc__})
    return ComponentHooks(component=cls, queue_sentinel=bool(cls.queue_sentinel), plan=cls.plan,
                          coordinate=cls.coordinate, hold_seconds=cls.hold_seconds,
                          coordinates=cls.coordinate is not ComponentBase.coordinate)


def hooks_for(verb: str) -> ComponentHooks:
    """The contract of ``verb``'s component (PluginNotFound when there is none)."""
    return hooks_of(plugins.load_component(verb))


class Backend:
    """``with Backend(driver, log, job_id) as driver:`` a backend session of ``driver``
    (the original's coordination context manager: ``backend_init`` on entry, ``backend_close`` on exit)."""

    def __init__(self, driver: Any, log: logging.Logger, job_id: str):
        self.driver = driver
        self.log = log
        self.job_id = job_id
        driver.backend_init()

    def __enter__(self) -> Any:
        self.log.debug("backend session of %s for job %s", self.driver.identity, self.job_id)
        return self.driver

    def __exit__(self, *_exc: object) -> None:
        self.driver.backend_close()


def sanitized_args(execute: list[Any]) -> list[str]:
    """Flatten and split on whitespace."""
    tokens: list[str] = []
    for item in execute:
        if isinstance(item, (list, tuple)):
            tokens.extend(sanitized_args(list(item)))
        elif item is not None:
            tokens.extend(str(item).split())
    return tokens


def collapse(text: str) -> str:
    """``text`` with each whitespace run made one space, ends trimmed."""
    return " ".join(text.split())


_JINJA_SPAN = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)
_HELD_SPAN = re.compile("\ue000(\\d+)\ue001")  # a private-use placeholder for a held span


def split_words(prog: str, text: str) -> list[str]:
    """Split ``text`` like a shell; a ``{{ ... }}``/``{% ... %}`` span stays in the word it touches."""
    spans: list[str] = []

    def hold(match: re.Match[str]) -> str:
        spans.append(match.group())
        return f"\ue000{len(spans) - 1}\ue001"

    try:
        words = shlex.split(_JINJA_SPAN.sub(hold, text))
    except ValueError as exc:
        raise ComponentError(f"{prog}: {exc}") from None
    return [_HELD_SPAN.sub(lambda m: spans[int(m.group(1))], word) for word in words]


def _parse_anywhere(parser: argparse.ArgumentParser, words: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """Options before, between or after the positionals (intermixed, where argparse allows it)."""
    if "--exec-help" in words:  # the help must see the positionals, which the intermixed passes hide
        return parser.parse_known_args(words)
    try:
        return parser.parse_known_intermixed_args(words)
    except TypeError:  # a REMAINDER positional or a group holding positionals
        return parser.parse_known_args(words)


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
