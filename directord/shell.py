"""The ``directord`` command: a cliff App with global options and plugin bootstrap."""

from __future__ import annotations

import logging
import sys

from cliff.app import App
from cliff.commandmanager import CommandManager

from directord import __version__, config, plugins
from directord.exceptions import DirectordError


class LazyCommandManager(CommandManager):
    """Commands by entry point, each imported only when it runs.

    cliff's own manager imports every command module at start-up (the whole
    CLI, bootstrap and jinja2 included) just to learn the names.
    """

    def load_commands(self, namespace: str) -> None:
        self.group_list.append(namespace)
        for entry_point in plugins.entry_points(namespace):
            name = entry_point.name.replace("_", " ") if self.convert_underscores else entry_point.name
            self.commands[name] = entry_point


class DirectordApp(App):
    """Global options (with env/config-file forms) before the sub-command."""

    CONSOLE_MESSAGE_FORMAT = "%(levelname)s %(name)s: %(message)s"

    def __init__(self) -> None:
        super().__init__(
            description="Fast, plugin-driven infrastructure orchestration.",
            version=__version__,
            command_manager=LazyCommandManager("directord.cli"),
            deferred_help=True,
        )
        self.config: config.Config | None = None

    def build_option_parser(self, description, version, argparse_kwargs=None):  # type: ignore[override]
        kwargs = {"allow_abbrev": False, "prog": "directord", **(argparse_kwargs or {})}
        parser = super().build_option_parser(description, version, kwargs)
        config.add_options(parser, "global")
        return parser

    def interact(self) -> None:
        """No command given: the usage and one line (exit 1), never an interactive prompt."""
        self.parser.print_usage(sys.stderr)
        print("directord: a command is required; `directord --help` lists them", file=sys.stderr)

    def initialize_app(self, argv: list[str]) -> None:
        if not self.options.debug:
            self.options.debug = None  # "not given": let env/config decide
        try:
            self.config = config.resolve(self.options)
        except DirectordError as exc:
            print(f"directord: {exc}", file=sys.stderr)
            raise SystemExit(exc.exit_code) from None
        self.options.debug = self.config.debug
        plugins.configure_components([self.config.components_path])
        if self.config.debug:
            for handler in logging.getLogger().handlers:
                handler.setLevel(logging.DEBUG)


def main(argv: list[str] | None = None) -> int:
    return DirectordApp().run(sys.argv[1:] if argv is None else argv)
