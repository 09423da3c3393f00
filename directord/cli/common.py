"""Shared command behaviour: settings, the user client, one-line errors."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from importlib import metadata
from typing import Any, TextIO

from cliff.formatters.base import SingleFormatter
from cliff.formatters.commaseparated import CSVLister
from cliff.show import ShowOne
from stevedore.extension import Extension, ExtensionManager

from directord import config, plugins
from directord.cli.views import export_rows, show
from directord.exceptions import DirectordError
from directord.user import UserClient

SHOW_FORMATTERS = "cliff.formatter.show"


class CsvShowFormatter(CSVLister, SingleFormatter):
    """``-f csv`` for show commands: a header row of the fields, then one row of their values
    (nothing when there are no fields)."""

    def emit_one(self, column_names: Sequence[str], data: Sequence[Any], stdout: TextIO,
                 parsed_args: argparse.Namespace) -> None:
        if column_names:
            self.emit_list(column_names, [data], stdout, parsed_args)


class DirectordCommand:
    """Mixin for every command: DirectordError -> one line on stderr + its exit code."""

    app: Any
    scope = "global"

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)  # type: ignore[misc]
        if self.scope != "global":
            config.add_options(parser, self.scope)
        plugins.fire("directord_add_options", parser=parser, command=self.scope)
        return parser

    def get_epilog(self) -> str:
        """cliff's epilog minus its "provided by the X plugin" line, which never applies to
        directord's own commands and costs a scan of every installed package per start."""
        hooks = (hook.obj.get_epilog() for hook in self._hooks if hook.obj is not None)  # type: ignore[attr-defined]
        parts = [self._epilog or "", *(epilog for epilog in hooks if epilog is not None)]  # type: ignore[attr-defined]
        return "\n\n".join(parts)

    def _load_formatter_plugins(self) -> ExtensionManager:
        """cliff's formatters, plus ``csv`` for show commands (cliff has it for listings only)."""
        manager = super()._load_formatter_plugins()  # type: ignore[misc]
        if getattr(self, "formatter_namespace", None) != SHOW_FORMATTERS or "csv" in manager.names():
            return manager
        point = metadata.EntryPoint("csv", f"{__name__}:CsvShowFormatter", SHOW_FORMATTERS)
        csv = Extension("csv", point, CsvShowFormatter, CsvShowFormatter())
        return ExtensionManager.make_test_instance([*manager.extensions, csv], namespace=SHOW_FORMATTERS)

    def run(self, parsed_args: argparse.Namespace) -> int:
        return self.guarded(super().run, parsed_args)  # type: ignore[misc]

    def guarded(self, action: Callable[[argparse.Namespace], Any], parsed_args: argparse.Namespace) -> int:
        """Run ``action``; a DirectordError becomes one stderr line and its exit code."""
        try:
            return action(parsed_args) or 0
        except DirectordError as exc:
            if self.app.options.debug:
                raise
            print(f"directord: {exc}", file=sys.stderr)
            return exc.exit_code

    def settings(self, parsed_args: argparse.Namespace) -> config.Config:
        """Global and command options resolved together (CLI > env > file > default)."""
        merged = argparse.Namespace(**vars(self.app.options))
        for key, value in vars(parsed_args).items():
            setattr(merged, key, value)
        return config.resolve(merged)

    @property
    def user(self) -> UserClient:
        cfg = self.app.config
        return UserClient(cfg.socket_path, cfg.request_timeout)


class ExportCommand(DirectordCommand, ShowOne):
    """Write every item of ``what`` (jobs or nodes) to FILE as YAML."""

    what = ""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("file", metavar="FILE")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[tuple[str, ...], tuple[Any, ...]]:
        return show(export_rows(self.user, self.what, parsed_args.file))
