"""Every user-facing failure is one of these; the CLI prints one line per error."""


class DirectordError(Exception):
    """Base of every directord error; ``exit_code`` is what the CLI returns."""

    exit_code = 1


class ConfigError(DirectordError):
    """A bad option value, config file or environment variable."""

    exit_code = 2


class PluginNotFound(DirectordError):
    """An unknown driver, datastore or verb."""

    exit_code = 2

    def __init__(self, kind: str, name: str, installed: list[str], hint: str = "", message: str = ""):
        self.kind, self.name, self.installed = kind, name, installed
        if not message:
            message = f"unknown {kind} '{name}'; installed: {', '.join(installed) or 'none'}"
            message += f"; {hint}" if hint else ""
        super().__init__(message)


class OrchestrationError(DirectordError):
    """An orchestration file or exec string that cannot become jobs."""

    exit_code = 2


class ComponentError(DirectordError):
    """A verb's arguments were rejected on the submitting side."""

    exit_code = 2


class ExecHelp(DirectordError):
    """Raised by ``--exec-help``: carries the verb's usage text, exit code 0."""

    exit_code = 0


class ServerUnavailable(DirectordError):
    """The user socket is missing, refused, or the server did not answer in time."""


class RequestError(DirectordError):
    """The server rejected a request (bad job, unknown target, no live nodes)."""


class NotFound(DirectordError):
    """A job or node that does not exist ("No data found")."""


class WireError(DirectordError):
    """A malformed, oversized or incompatible network frame."""


class DatastoreError(DirectordError):
    """A datastore that cannot be opened or used."""

    exit_code = 2


class TemplateError(DirectordError):
    """Rendering failed: undefined variable, syntax error or sandbox violation."""


class CatalogError(DirectordError):
    """A bootstrap catalog that cannot become a plan (nothing has been contacted yet)."""

    exit_code = 2


class BootstrapError(DirectordError):
    """One or more hosts failed to bootstrap."""


class UnitExists(DirectordError):
    """A systemd unit file is already there and ``--force`` was not given."""


class TransferError(DirectordError):
    """The server refused or failed a file transfer."""


class PathRefused(DirectordError, ValueError):
    """A destination or source path the node's path policy does not allow."""


class ServiceError(DirectordError):
    """A node service failed: no server to ask, no reply, or a refusal."""
