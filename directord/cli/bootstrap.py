"""``directord bootstrap``: prepare hosts over SSH from catalog files."""

from __future__ import annotations

from cliff.lister import Lister

from directord import bootstrap
from directord.cli.common import DirectordCommand

COLUMNS = ("HOST", "NAME", "ROLE", "STATUS", "JOBS", "SECONDS", "ERROR")


class BootstrapCommand(DirectordCommand, Lister):
    """Run catalog jobs (RUN, ADD, GET) on hosts over SSH: the server first, then clients in parallel.

    Exits 1 when any host failed; the table says which and why.
    """

    scope = "bootstrap"

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("--catalog", action="append", required=True, metavar="FILE",
                            help="Catalog YAML file; repeat to deep-merge several, in order.")
        return parser

    def take_action(self, parsed_args):
        cfg = self.settings(parsed_args)
        catalog = bootstrap.load_catalogs(parsed_args.catalog)
        ssh = bootstrap.SshOptions(key_file=cfg.bootstrap_ssh_key_file or None,
                                   known_hosts=cfg.bootstrap_known_hosts,
                                   accept_new_host_keys=cfg.bootstrap_accept_new_host_keys,
                                   connect_timeout=cfg.bootstrap_connect_timeout)
        results = bootstrap.run(catalog, ssh, cfg.bootstrap_threads)
        self.failed = sum(result.status != "ok" for result in results)
        return COLUMNS, [(r.host, r.name or "", r.role, r.status, r.jobs_run, round(r.seconds, 2), r.error)
                         for r in results]

    def run(self, parsed_args):
        self.failed = 0
        code = super().run(parsed_args)
        return code or (1 if self.failed else 0)
