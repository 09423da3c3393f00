"""``directord server``."""

from __future__ import annotations

import asyncio

from cliff.command import Command

from directord import plugins
from directord.cli.common import DirectordCommand


class ServerCommand(DirectordCommand, Command):
    """Run the server: the hub every node and user talks to."""

    scope = "server"

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("--zmq-generate-keys", action="store_true",
                            help="Write new server and client CURVE key pairs under --zmq-keys-path and exit.")
        return parser

    def take_action(self, parsed_args) -> int:
        from directord.server import Server

        cfg = self.settings(parsed_args)
        if parsed_args.zmq_generate_keys:
            from directord.drivers.zmq_auth import generate

            generate(cfg.zmq_keys_path, ["server", "client"])
            self.app.stdout.write(f"New certificates generated under {cfg.zmq_keys_path}\n")
            return 0
        driver = plugins.load_driver(cfg.driver)(cfg)
        store = plugins.load_datastore(cfg.datastore)(cfg.datastore)
        asyncio.run(Server(cfg, driver, store).run())
        return 0
