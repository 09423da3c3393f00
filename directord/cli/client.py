"""``directord client``."""

from __future__ import annotations

import asyncio

from cliff.command import Command

from directord import plugins
from directord.cli.common import DirectordCommand


class ClientCommand(DirectordCommand, Command):
    """Run a client: receives jobs from the server and runs them on this node."""

    scope = "client"

    def take_action(self, parsed_args) -> int:
        from directord.client import Client

        cfg = self.settings(parsed_args)
        transport = plugins.load_driver(cfg.driver).client_transport(cfg)
        asyncio.run(Client(cfg, transport).run())
        return 0
