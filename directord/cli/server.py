"""``directord server``."""

from __future__ import annotations

import asyncio

from cliff.command import Command

from directord import plugins
from directord.cli.common import DirectordCommand


class ServerCommand(DirectordCommand, Command):
    """Run the server: the hub every node and user talks to."""

    scope = "server"

    def take_action(self, parsed_args) -> int:
        from directord.server import Server

        cfg = self.settings(parsed_args)
        driver = plugins.load_driver(cfg.driver)(cfg)
        store = plugins.load_datastore(cfg.datastore)(cfg.datastore)
        asyncio.run(Server(cfg, driver, store).run())
        return 0
