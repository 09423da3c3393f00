"""``directord server``."""

from __future__ import annotations

import asyncio
import os

from cliff.command import Command

from directord import plugins
from directord.cli.common import DirectordCommand


class ServerCommand(DirectordCommand, Command):
    """Run the server: the hub every node and user talks to."""

    scope = "server"

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("--zmq-generate-keys", action="store_true",
                            help="Write new server and client key pairs (zmq: CURVE, under --zmq-keys-path) and exit.")
        return parser

    def take_action(self, parsed_args) -> int:
        from directord.server import Server

        cfg = self.settings(parsed_args)
        driver = plugins.load_driver(cfg.driver)
        if parsed_args.zmq_generate_keys:
            written = [path for _name, path in driver.generate_keys(cfg)]
            self.app.stdout.write(f"New certificates generated under {os.path.commonpath(written)}\n")
            return 0
        store = plugins.load_datastore(cfg.datastore)(cfg.datastore)
        return asyncio.run(Server(cfg, driver.server_transport(cfg), store).run())
