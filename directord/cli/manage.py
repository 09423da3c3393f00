"""``directord manage``: the upstream management flags, one mode per call."""

from __future__ import annotations

from cliff.lister import Lister

from directord.cli.common import DirectordCommand
from directord.cli.views import (
    FILTERS,
    JOB_COLUMNS,
    NODE_COLUMNS,
    analysis_rows,
    cache_rows,
    export_rows,
    job_info_rows,
    job_rows,
    node_rows,
)

KEY_VALUE = ("KEY", "VALUE")


class ManageCommand(DirectordCommand, Lister):
    """Inspect and purge nodes and jobs (upstream-compatible flags and keys)."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("--filter", choices=FILTERS, help="Filter list views.")
        modes = parser.add_mutually_exclusive_group(required=True)
        modes.add_argument("--list-nodes", action="store_true", help="List live nodes (exit 1 if none).")
        modes.add_argument("--list-jobs", action="store_true", help="List jobs.")
        modes.add_argument("--job-info", metavar="ID", help="Show one job, or 'last'.")
        modes.add_argument("--purge-nodes", action="store_true", help="Forget every node.")
        modes.add_argument("--purge-jobs", action="store_true", help="Forget every job.")
        modes.add_argument("--export-jobs", metavar="FILE", help="Write every job record to FILE (YAML).")
        modes.add_argument("--export-nodes", metavar="FILE", help="Write every live node to FILE (YAML).")
        modes.add_argument("--dump-cache", action="store_true", help="Show this host's client cache.")
        modes.add_argument("--analyze-parent", metavar="ID", help="Analyze one parent's jobs ('last': the last job's).")
        modes.add_argument("--analyze-job", metavar="ID", help="Analyze one job, or 'last'.")
        modes.add_argument("--analyze-all", action="store_true", help="Analyze every job.")
        return parser

    def take_action(self, parsed_args):
        args = parsed_args
        if args.list_nodes:
            return NODE_COLUMNS, node_rows(self.user.call("list_nodes"))
        if args.list_jobs:
            return JOB_COLUMNS, job_rows(self.user.call("list_jobs"), args.filter)
        if args.job_info:
            record = self.user.call("job_info", job_id=args.job_info)
            return KEY_VALUE, job_info_rows(record, args.formatter != "json")
        if args.export_jobs:
            return KEY_VALUE, export_rows(self.user, "jobs", args.export_jobs)
        if args.export_nodes:
            return KEY_VALUE, export_rows(self.user, "nodes", args.export_nodes)
        if args.dump_cache:
            return KEY_VALUE, cache_rows(self.app.config.cache_path)
        if args.analyze_parent or args.analyze_job or args.analyze_all:
            result = self.user.call("analyze", parent_id=args.analyze_parent, job_id=args.analyze_job)
            return KEY_VALUE, analysis_rows(result)
        op = "purge_nodes" if args.purge_nodes else "purge_jobs"
        return KEY_VALUE, [("SUCCESS", bool(self.user.call(op).get("success")))]
