"""``directord exec`` and ``directord orchestrate``."""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from cliff.command import Command
from cliff.lister import Lister

from directord import orchestration
from directord.cli.common import DirectordCommand
from directord.cli.results import follow
from directord.exceptions import ConfigError, ExecHelp
from directord.job import Job
from directord.user import job_status

DEFAULT_POLL_TIMEOUT = 600.0
FOLLOW_MODES = ("wait", "poll", "stream")
SKIPPED_NOTE = """; jobs --restrict left out
     are reported "Job Skipped" and count as done (nothing failed)"""
EXIT_CODES = """\
exit codes (with --wait, --poll, --stream or --check):
  0  every job succeeded on every target{skipped}
  1  a job failed on a target (also: the server refused or was unreachable)
  2  bad usage: options, orchestration file or verb arguments
  3  --poll-timeout ended the wait with jobs still unknown or processing
  (without them: 0 once the server accepted the jobs, 1 if a target is unknown)
On failure, --wait and --poll end with each failed job, its nodes and the
last lines of their STDERR (or INFO)."""


class _ListOption(argparse.Action):
    """A repeatable option taking one or more values; every use is kept as one group in ``uses``."""

    def __init__(self, option_strings: list[str], dest: str, uses: list[list[str]], **kwargs: Any):
        super().__init__(option_strings, dest, **kwargs)
        self.uses = uses

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        group = list(values)
        self.uses.append(group)
        setattr(namespace, self.dest, [*(getattr(namespace, self.dest) or []), group])


class _Text(argparse.Action):
    """The required positional(s); when a list option before them swallowed them, take them back.

    A use before the text keeps its first value: the rest of the first use
    holding more than one value is the text. ``single``: that rest must be one value.
    """

    def __init__(self, option_strings: list[str], dest: str, uses: list[list[str]], single: bool,
                 **kwargs: Any):
        super().__init__(option_strings, dest, **kwargs)
        self.uses, self.single = uses, single

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        values = list(values or [])
        if not values:
            group = next((g for g in self.uses if len(g) > 1), [])
            values = group[1:]
            del group[1:]
            if self.single and len(values) > 1:
                parser.error("--target before the text takes one node: quote the text as one argument, "
                             "repeat --target NODE, or list the nodes after the text")
        if not values:
            parser.error(f"the following arguments are required: {self.metavar}")
        setattr(namespace, self.dest, values)


def add_follow_options(parser: argparse.ArgumentParser, uses: list[list[str]], target_rule: str,
                       extra: tuple[str, ...] = ()) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--poll", action="store_true", help="Print each job's status as it completes.")
    group.add_argument("--wait", action="store_true", help="Show progress until every job completes.")
    group.add_argument("--stream", action="store_true", help="Print each node's stdout/stderr as jobs complete.")
    for flag in extra:
        group.add_argument(flag, action="store_true", help="Print the fingerprint table; submit nothing.")
    parser.add_argument("--check", action="store_true",
                        help="Wait (as --wait unless --poll or --stream is given); exit 1 and list failed "
                             "jobs if any failed.")
    parser.add_argument("--target", action=_ListOption, uses=uses, nargs="+", default=[], metavar="NODE",
                        help="Run only on this node (repeatable). " + target_rule)
    parser.add_argument("--force-async", action="store_true", help="Run every orchestration async.")
    parser.add_argument("--poll-timeout", type=float, default=DEFAULT_POLL_TIMEOUT,
                        help="Seconds to wait for results (default %(default)s); then exit 3.")
    parser.formatter_class = _formatter(parser.formatter_class)


def _formatter(base: type[argparse.HelpFormatter]) -> type[argparse.HelpFormatter]:
    """``base`` keeping the epilog's lines, showing a ``_Text`` positional as required."""

    class Formatter(argparse.RawDescriptionHelpFormatter, base):  # type: ignore[misc, valid-type]
        def _format_args(self, action: argparse.Action, default_metavar: str) -> str:
            if isinstance(action, _Text):
                return f"{action.metavar} [{action.metavar} ...]"
            return super()._format_args(action, default_metavar)

    return Formatter


def flat(groups: list[list[str]]) -> list[str]:
    """The values of every use of a ``_ListOption``, in order, without repeats."""
    return list(dict.fromkeys(value for group in groups for value in group))


class SubmitMixin(DirectordCommand):
    """Submit jobs, then follow them the way the flags ask."""

    @staticmethod
    def mode(parsed_args: argparse.Namespace) -> str | None:
        """wait, poll or stream; ``--check`` alone waits."""
        chosen = next((m for m in FOLLOW_MODES if getattr(parsed_args, m)), None)
        return chosen or ("wait" if parsed_args.check else None)

    def submit(self, parsed_args: argparse.Namespace, jobs: list[Job],
               out: TextIO | None = None) -> tuple[int, list[str], dict[str, Any]]:
        """Submit and follow; the exit code, the job ids and their summaries."""
        out = out or self.app.stdout
        reply = self.user.submit(jobs)
        for warning in reply.get("warnings", []):
            print(f"directord: {warning}", file=sys.stderr)
        job_ids = reply["job_ids"]
        mode = self.mode(parsed_args)
        code, summaries = 0, {}
        if mode is None:
            for job_id in job_ids:
                out.write(f"Job received. Task ID: {job_id}\n")
        else:
            code, summaries = follow(self.user, job_ids, mode, parsed_args.check, parsed_args.poll_timeout, out)
        return code or (1 if reply.get("warnings") else 0), job_ids, summaries


class ExecCommand(SubmitMixin, Command):
    """Run one job: ``directord exec --verb RUN 'echo hi' --wait``."""

    _epilog = EXIT_CODES.format(skipped="")

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        uses: list[list[str]] = []
        parser.add_argument("--verb", required=True, help="The component (RUN, ARG, ADD, ...).")
        parser.add_argument("exec", action=_Text, uses=uses, nargs="*", single=True, metavar="exec",
                            help="The verb's arguments, as one quoted string.")
        add_follow_options(parser, uses, "Before the text it takes one node (repeat --target);"
                                         " after the text one --target may list several.")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        try:
            job = orchestration.build_job(
                parsed_args.verb, " ".join(parsed_args.exec),
                extra={"targets": flat(parsed_args.target), "parent_async": parsed_args.force_async},
            )
        except ExecHelp as exc:
            self.app.stdout.write(f"{exc}\n")
            return 0
        return self.submit(parsed_args, [job])[0]


class OrchestrateCommand(SubmitMixin, Lister):
    """Run orchestration files in order; ``--finger-print`` lists their jobs instead.

    ``-f``/``-c`` print the fingerprint table, or after a wait the per-job
    results (the usual report then goes to stderr).
    """

    _epilog = EXIT_CODES.format(skipped=SKIPPED_NOTE)

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        uses: list[list[str]] = []
        parser.add_argument("files", action=_Text, uses=uses, nargs="*", single=False, metavar="FILE",
                            help="Orchestration YAML files.")
        parser.add_argument("--restrict", action=_ListOption, uses=uses, nargs="+", default=[], metavar="SHA",
                            help="Run only jobs with these fingerprints (the 'job' column of --finger-print); "
                                 "the others are reported skipped.")
        parser.add_argument("--ignore-cache", action="store_true", help="Skip every cache hit.")
        add_follow_options(parser, uses, "Before FILE, --target and --restrict take one value each (repeat"
                                         " the option); after FILE one use may list several.",
                           extra=("--finger-print",))
        parser.set_defaults(formatter=None)  # None: no -f given
        return parser

    def _load(self, parsed_args: argparse.Namespace) -> list[dict[str, Any]]:
        loaded = []
        for path in parsed_args.files:
            loaded.extend(orchestration.load_orchestrations(path))
        return loaded

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[tuple[str, ...], list[tuple]]:
        rows = orchestration.fingerprint_rows(self._load(parsed_args))
        return ("count", "parent", "verb", "exec", "job", "name"), rows

    def run(self, parsed_args: argparse.Namespace) -> int:
        formatted = parsed_args.formatter is not None or bool(parsed_args.columns)
        parsed_args.formatter = parsed_args.formatter or "table"
        if parsed_args.finger_print:
            return super().run(parsed_args)
        return self.guarded(lambda args: self._submit_files(args, formatted), parsed_args)

    def _submit_files(self, parsed_args: argparse.Namespace, formatted: bool) -> int:
        if formatted and self.mode(parsed_args) is None:
            raise ConfigError("-f/--format and -c/--column need --finger-print, --wait, --poll, --stream or --check")
        jobs = orchestration.orchestration_jobs(
            self._load(parsed_args), defined_targets=flat(parsed_args.target),
            restrict=flat(parsed_args.restrict), ignore_cache=parsed_args.ignore_cache,
            force_async=parsed_args.force_async,
        )
        code, job_ids, summaries = self.submit(parsed_args, jobs, sys.stderr if formatted else None)
        if formatted:
            self.formatter = self._formatter_plugins[parsed_args.formatter].obj
            self.produce_output(parsed_args, RESULT_COLUMNS, [
                _result_row(job_id, job, summaries.get(job_id)) for job_id, job in zip(job_ids, jobs, strict=True)
            ])
        return code


RESULT_COLUMNS = ("job_id", "job", "name", "verb", "status", "succeeded", "failed")


def _result_row(job_id: str, job: Job, summary: dict[str, Any] | None) -> tuple[Any, ...]:
    summary = summary or {}
    return (job_id, job.job_sha3_224, job.job_name or "", job.verb, job_status(summary),
            summary.get("success", []), summary.get("failed", []))
