"""``directord job list|show|purge|analyze|export``."""

from __future__ import annotations

from cliff.lister import Lister
from cliff.show import ShowOne

from directord.cli.common import DirectordCommand, ExportCommand
from directord.cli.views import (
    FILTERS,
    JOB_LIST_COLUMNS,
    analysis_rows,
    job_info_rows,
    job_rows,
    show,
)


class JobList(DirectordCommand, Lister):
    """List jobs with their per-node outcome counts."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("--filter", choices=FILTERS, help="Only jobs that succeeded/failed/are running.")
        return parser

    def take_action(self, parsed_args):
        return JOB_LIST_COLUMNS, job_rows(self.user.call("list_jobs"), parsed_args.filter, JOB_LIST_COLUMNS)


class JobShow(DirectordCommand, ShowOne):
    """Show one job (an id, or ``last``) with every node's INFO/STDOUT/STDERR."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("job_id", metavar="ID", help="Job id, or 'last'.")
        return parser

    def take_action(self, parsed_args):
        record = self.user.call("job_info", job_id=parsed_args.job_id)
        flatten = parsed_args.formatter in ("table", "value", "shell")
        rows = job_info_rows(record, flatten)
        return show(rows)


class JobPurge(DirectordCommand, ShowOne):
    """Forget every job record."""

    def take_action(self, parsed_args):
        result = self.user.call("purge_jobs")
        return ("SUCCESS",), (bool(result.get("success")),)


class JobAnalyze(DirectordCommand, ShowOne):
    """Analyze an orchestration (PARENT_ID), one job (--job ID) or every job (--all)."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("parent_id", nargs="?", metavar="PARENT_ID", help="A parent id ('last': the last job's).")
        which.add_argument("--job", metavar="ID", help="One job id (or 'last').")
        which.add_argument("--all", action="store_true", help="Every job.")
        return parser

    def take_action(self, parsed_args):
        result = self.user.call("analyze", parent_id=parsed_args.parent_id, job_id=parsed_args.job)
        return show(analysis_rows(result))


class JobExport(ExportCommand):
    """Write every job record to FILE as YAML."""

    what = "jobs"
