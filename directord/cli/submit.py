"""``directord exec`` and ``directord orchestrate``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from cliff.command import Command
from cliff.lister import Lister

from directord import orchestration
from directord.cli.common import DirectordCommand
from directord.cli.results import follow
from directord.exceptions import ExecHelp

DEFAULT_POLL_TIMEOUT = 600.0


def add_follow_options(parser: argparse.ArgumentParser, extra: tuple[str, ...] = ()) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--poll", action="store_true", help="Print each job's status as it completes.")
    group.add_argument("--wait", action="store_true", help="Show progress until every job completes.")
    group.add_argument("--stream", action="store_true", help="Print each node's stdout/stderr as jobs complete.")
    for flag in extra:
        group.add_argument(flag, action="store_true", help="Print the fingerprint table; submit nothing.")
    parser.add_argument("--check", action="store_true", help="Exit 1 and list failed jobs if any failed.")
    parser.add_argument("--target", action="append", default=[], metavar="NODE", nargs="+",
                        help="Run only on these nodes (repeatable).")
    parser.add_argument("--force-async", action="store_true", help="Run every orchestration async.")
    parser.add_argument("--poll-timeout", type=float, default=DEFAULT_POLL_TIMEOUT,
                        help="Seconds to wait for results (default %(default)s).")


class SubmitMixin(DirectordCommand):
    """Submit jobs, then follow them the way the flags ask."""

    def submit(self, parsed_args: argparse.Namespace, jobs: list[dict[str, Any]]) -> int:
        reply = self.user.submit(jobs)
        for warning in reply.get("warnings", []):
            print(f"directord: {warning}", file=sys.stderr)
        job_ids = reply["job_ids"]
        mode = next((m for m in ("wait", "poll", "stream") if getattr(parsed_args, m)), None)
        if mode is None:
            for job_id in job_ids:
                self.app.stdout.write(f"Job received. Task ID: {job_id}\n")
            return 1 if reply.get("warnings") else 0
        code = follow(self.user, job_ids, mode, parsed_args.check, parsed_args.poll_timeout, self.app.stdout)
        return code or (1 if reply.get("warnings") else 0)

    @staticmethod
    def targets(parsed_args: argparse.Namespace) -> list[str]:
        return [t for group in parsed_args.target for t in group]


class ExecCommand(SubmitMixin, Command):
    """Run one job: ``directord exec --verb RUN 'echo hi' --wait``."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("--verb", required=True, help="The component (RUN, ARG, ADD, ...).")
        parser.add_argument("exec", nargs="+", help="The verb's arguments, as one quoted string.")
        add_follow_options(parser)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        targets = self.targets(parsed_args)
        try:
            job = orchestration.build_job(
                parsed_args.verb, " ".join(parsed_args.exec),
                return_raw=True,
                extra={"targets": list(dict.fromkeys(targets)), "parent_async": parsed_args.force_async},
            )
        except ExecHelp as exc:
            self.app.stdout.write(f"{exc}\n")
            return 0
        return self.submit(parsed_args, [job])


class OrchestrateCommand(SubmitMixin, Lister):
    """Run orchestration files in order; ``--finger-print`` lists their jobs instead."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("files", nargs="+", metavar="FILE", help="Orchestration YAML files.")
        parser.add_argument("--restrict", nargs="+", default=[], metavar="SHA",
                            help="Run only jobs with these fingerprints.")
        parser.add_argument("--ignore-cache", action="store_true", help="Skip every cache hit.")
        add_follow_options(parser, extra=("--finger-print",))
        return parser

    def _load(self, parsed_args: argparse.Namespace) -> list[dict[str, Any]]:
        loaded = []
        for path in parsed_args.files:
            loaded.extend(orchestration.load_orchestrations(path))
        return loaded

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[tuple[str, ...], list[tuple]]:
        rows = orchestration.fingerprint_rows(self._load(parsed_args))
        return ("count", "parent", "verb", "exec", "job"), rows

    def run(self, parsed_args: argparse.Namespace) -> int:
        if parsed_args.finger_print:
            return super().run(parsed_args)
        return self.guarded(self._submit_files, parsed_args)

    def _submit_files(self, parsed_args: argparse.Namespace) -> int:
        jobs = orchestration.orchestration_jobs(
            self._load(parsed_args), defined_targets=self.targets(parsed_args),
            restrict=parsed_args.restrict, ignore_cache=parsed_args.ignore_cache,
            force_async=parsed_args.force_async, return_raw=True,
        )
        return self.submit(parsed_args, jobs)
