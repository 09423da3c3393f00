"""``directord dashboard``."""

from __future__ import annotations

from cliff.command import Command

from directord.cli.common import DirectordCommand
from directord.exceptions import ConfigError


class DashboardCommand(DirectordCommand, Command):
    """Serve the web dashboard of the server on this host: nodes, jobs, timelines, heat maps."""

    scope = "dashboard"

    def take_action(self, parsed_args) -> int:
        cfg = self.settings(parsed_args)
        try:
            from directord.dashboard.serve import serve
        except ImportError as exc:
            raise ConfigError(f"the dashboard needs aiohttp: pip install 'directord[dashboard]' ({exc})") from None
        return serve(cfg)
