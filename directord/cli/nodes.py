"""``directord node list|purge``."""

from __future__ import annotations

from cliff.lister import Lister
from cliff.show import ShowOne

from directord.cli.common import DirectordCommand
from directord.cli.views import NODE_COLUMNS, node_rows


class NodeList(DirectordCommand, Lister):
    """List live nodes (exits 1 when there are none: usable as a readiness probe)."""

    def take_action(self, parsed_args):
        return NODE_COLUMNS, node_rows(self.user.call("list_nodes"))


class NodePurge(DirectordCommand, ShowOne):
    """Forget every node; live ones re-register on their next heartbeat."""

    def take_action(self, parsed_args):
        result = self.user.call("purge_nodes")
        return ("SUCCESS",), (bool(result.get("success")),)
