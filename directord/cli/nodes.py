"""``directord node list|purge``."""

from __future__ import annotations

from cliff.lister import Lister
from cliff.show import ShowOne

from directord import plugins
from directord.cli.common import DirectordCommand, ExportCommand
from directord.cli.views import NODE_COLUMNS, cache_rows, node_rows, show


class NodeList(DirectordCommand, Lister):
    """List live nodes (exits 1 when there are none: usable as a readiness probe)."""

    def take_action(self, parsed_args):
        return NODE_COLUMNS, node_rows(self.user.call("list_nodes"))


class NodePurge(DirectordCommand, ShowOne):
    """Forget every node; live ones re-register on their next heartbeat."""

    def take_action(self, parsed_args):
        result = self.user.call("purge_nodes")
        return ("SUCCESS",), (bool(result.get("success")),)


class NodeExport(ExportCommand):
    """Write every live node to FILE as YAML."""

    what = "nodes"


class CacheDump(DirectordCommand, ShowOne):
    """Show this host's client cache (args, envs, job and parent states)."""

    def take_action(self, parsed_args):
        rows = cache_rows(self.app.config.cache_path)
        return show(rows)


class NodeKeygen(DirectordCommand, Lister):
    """Create per-node credentials (zmq: CURVE key files; redis: an ACL user and the URL the node
    starts with): the node may then speak only as itself."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("names", nargs="+", metavar="NAME", help="Node identities.")
        return parser

    def take_action(self, parsed_args):
        cfg = self.app.config
        return ("NODE", "CREDENTIAL"), plugins.load_driver(cfg.driver).generate_keys(cfg, parsed_args.names)
