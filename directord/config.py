"""Options: CLI flag > DIRECTORD_* environment > YAML config file > default.

Every option is declared once, in ``OPTIONS`` or by the driver plugin that
owns it (``Driver.options``), and gets all four forms. The CLI parsers use
``default=None`` so that "not given" is distinguishable from a value, and
``resolve`` applies the precedence.
"""

from __future__ import annotations

import argparse
import functools
import os
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse, urlunparse

from directord.exceptions import ConfigError

DEFAULT_CONFIG_FILE = "/etc/directord/config.yaml"
_TRUE = {"1", "true", "yes", "on", "y", "t"}
_FALSE = {"0", "false", "no", "off", "n", "f", ""}
_WARNED: set[tuple[str, str]] = set()  # (config file, key) pairs already warned about


def safe_url(url: str) -> str:
    """``url`` with its password replaced by ``***``, for messages and logs."""
    parsed = urlparse(url)
    if parsed.password is None:
        return url
    host = parsed.netloc.rsplit("@", 1)[1]
    return urlunparse(parsed._replace(netloc=f"{parsed.username or ''}:***@{host}"))


def parse_bool(value: Any) -> bool:
    """Booleans from env/config text: true/yes/1/on and false/no/0/off."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"not a boolean: {value!r}")


def positive_float(value: Any) -> float:
    number = float(value)
    if number <= 0:
        raise ValueError(f"must be positive: {value!r}")
    return number


def positive_int(value: Any) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(f"must be at least 1: {value!r}")
    return number


def port(value: Any) -> int:
    number = int(value)
    if not 0 < number < 65536:
        raise ValueError(f"not a TCP port: {value!r}")
    return number


def bind_address(value: Any) -> str:
    """``HOST:PORT`` (``[v6]:PORT`` for IPv6), or empty for "off"; returned as given."""
    text = str(value).strip()
    if text:
        split_bind(text)
    return text


def split_bind(text: str) -> tuple[str, int]:
    """``HOST:PORT`` -> (host, port); ValueError for anything else."""
    host, sep, number = text.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host:
        raise ValueError(f"not HOST:PORT: {text!r}")
    return host, port(number)


@dataclass(frozen=True)
class Option:
    """One setting with its flag, environment names, type and default."""

    dest: str
    type: Callable[[Any], Any]
    default: Any
    help: str
    scope: str = "global"  # global | server | client | bootstrap | cliff
    env: tuple[str, ...] = ()
    flag: str = ""

    @property
    def flags(self) -> list[str]:
        return [self.flag or "--" + self.dest.replace("_", "-")]

    @property
    def env_names(self) -> tuple[str, ...]:
        return self.env or ("DIRECTORD_" + self.dest.upper(),)


OPTIONS: tuple[Option, ...] = (
    Option("config_file", str, DEFAULT_CONFIG_FILE, "YAML config file (absent is fine)."),
    Option("driver", str, "zmq", "Messaging driver (directord.drivers entry point)."),
    Option("datastore", str, "memory", "Datastore URL: memory, file:///dir, redis://host:port/db."),
    Option("identity", str, socket.gethostname(), "This node's name (default: hostname)."),
    Option("socket_path", str, "/var/run/directord.sock", "User API unix socket."),
    Option("socket_group", str, "0", "Group (name or gid) owning the user socket."),
    Option("cache_path", str, "/var/cache/directord", "Directory for local caches."),
    Option("heartbeat_interval", positive_float, 60.0,
           "Seconds between heartbeats; a node expires after 3 missed."),
    Option("request_timeout", positive_float, 10.0,
           "Seconds the CLI waits for the server to answer one request."),
    Option("components_path", str, "/etc/directord/components",
           "Directory of component files (<verb>.py) that the server ships to nodes."),
    Option("job_ttl", positive_float, 7 * 86400.0, "Seconds job records are kept.", scope="server"),
    Option("metrics_bind", bind_address, "",
           "HOST:PORT to serve Prometheus metrics on at /metrics (off when empty; needs the metrics extra).",
           scope="server"),
    Option("machine_id", str, "", "Machine id reported by this client.", scope="client"),
    Option("worker_threads", int, 64, "Component worker pool size.", scope="client"),
    Option("allowed_paths", str, "", "Comma-separated prefixes ADD/COPY, WORKDIR and CACHEFILE are confined to.",
           scope="client"),
    Option("cache_args_ttl", positive_float, 12 * 3600.0,
           "Seconds cached args, envs and query answers live.", scope="client"),
    Option("cache_jobs_ttl", positive_float, 72 * 3600.0,
           "Seconds cached job and parent states live.", scope="client"),
    Option("bootstrap_ssh_key_file", str, "", "SSH private key tried first (then the agent, then ~/.ssh keys).",
           scope="bootstrap", flag="--key-file"),
    Option("bootstrap_threads", positive_int, 10, "Client hosts bootstrapped at once.",
           scope="bootstrap", flag="--threads"),
    Option("bootstrap_known_hosts", str, "~/.ssh/known_hosts", "Known host keys; unknown hosts are refused.",
           scope="bootstrap", flag="--known-hosts"),
    Option("bootstrap_accept_new_host_keys", parse_bool, False,
           "Trust and record the keys of hosts not yet in --known-hosts (a changed key is still refused).",
           scope="bootstrap", flag="--accept-new-host-keys"),
    Option("bootstrap_connect_timeout", positive_float, 10.0, "Seconds to wait for each SSH connection.",
           scope="bootstrap", flag="--connect-timeout"),
    Option("dashboard_bind", bind_address, "127.0.0.1:8080",
           "HOST:PORT the dashboard serves on; an address other than loopback needs --token-file.",
           scope="dashboard", flag="--bind"),
    Option("dashboard_token_file", str, "", "File holding the token a browser or API client must present.",
           scope="dashboard", flag="--token-file"),
    Option("dashboard_tls_cert", str, "", "TLS certificate (PEM) to serve HTTPS with.", scope="dashboard",
           flag="--tls-cert"),
    Option("dashboard_tls_key", str, "", "TLS private key (PEM) of --tls-cert.", scope="dashboard",
           flag="--tls-key"),
    Option("dashboard_allow_submit", parse_bool, False,
           "Let the page run ad-hoc jobs and orchestrations (read-only without it).", scope="dashboard",
           flag="--allow-submit"),
    Option("debug", parse_bool, False, "Debug logging and tracebacks.", scope="cliff"),
)
BY_DEST = {opt.dest: opt for opt in OPTIONS}


@functools.cache
def options() -> tuple[Option, ...]:
    """``OPTIONS``, then those of every installed driver (a name declared twice keeps its first declaration)."""
    from directord import plugins  # the drivers' entry points, read once per process

    merged = dict(BY_DEST)
    for opt in plugins.driver_options():
        merged.setdefault(opt.dest, opt)
    return tuple(merged.values())


def option(dest: str) -> Option:
    """The option named ``dest`` (core or a driver's); KeyError when there is none."""
    return _by_dest()[dest]


@functools.cache
def _by_dest() -> dict[str, Option]:
    return {opt.dest: opt for opt in options()}


def add_options(parser: argparse.ArgumentParser, scope: str) -> None:
    """Add every option of ``scope`` to ``parser`` with ``default=None``."""
    for opt in options():
        if opt.scope != scope:
            continue
        text = f"{opt.help} [env {opt.env_names[0]}, default {opt.default!r}]"
        if opt.type is parse_bool:  # a flag: present means true
            parser.add_argument(*opt.flags, dest=opt.dest, default=None, action="store_const", const=True, help=text)
        else:
            parser.add_argument(*opt.flags, dest=opt.dest, default=None, type=_cli_type(opt),
                                metavar=opt.dest.upper(), help=text)


def _cli_type(opt: Option) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        try:
            return opt.type(text)
        except (TypeError, ValueError) as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = opt.type.__name__
    return convert


def load_file(path: str) -> dict[str, Any]:
    """Read the YAML config mapping; an absent file is an empty mapping."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path}: not UTF-8 text") from None
    import yaml  # only once there is a file: most commands run without one

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path}: {yaml_problem(exc)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping, not {type(data).__name__}")
    return data


def yaml_problem(exc: Exception) -> str:
    """A YAML error as one line: ``line L, column C: problem``."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return f"{where}{problem}"


def warn_unknown_keys(path: str, keys: list[str], ignored: set[str]) -> None:
    """One stderr line per key (besides ``ignored``) that looks like a mistyped option name, once per process."""
    for key in keys:
        dest = key.replace("-", "_")
        if dest in _by_dest() or dest in ignored:
            continue
        import difflib  # only for a key that is no option: kept off every CLI start

        nearest = difflib.get_close_matches(dest, list(_by_dest()), n=1, cutoff=0.75)
        if nearest and (path, key) not in _WARNED:
            _WARNED.add((path, key))
            print(f"directord: warning: config file {path}: unknown key {key!r}; did you mean {nearest[0]!r}?",
                  file=sys.stderr)


class Config(argparse.Namespace):
    """Resolved settings; attribute access like the argparse namespace it extends."""


def resolve(cli: argparse.Namespace, environ: dict[str, str] | None = None) -> Config:
    """Apply precedence CLI > env > file > default for every known option.

    Keys of the config file that are not options are kept as extra attributes
    (third-party drivers and components may read them); one close to an option
    name is warned about on stderr.
    """
    environ = os.environ if environ is None else environ
    given = vars(cli)
    config_file = given.get("config_file") or _from_env(BY_DEST["config_file"], environ)[1]
    config_file = config_file or DEFAULT_CONFIG_FILE
    raw = load_file(config_file)
    warn_unknown_keys(config_file, [str(key) for key in raw], set(given))
    file_values = {str(k).replace("-", "_"): v for k, v in raw.items()}
    known = _by_dest()
    resolved = Config(**{k: v for k, v in given.items() if k not in known})
    for key, value in file_values.items():
        if key not in known and not hasattr(resolved, key):
            setattr(resolved, key, value)
    for opt in options():
        value = given.get(opt.dest)
        source = "command line"
        if value is None:
            name, value = _from_env(opt, environ)
            source = f"environment variable {name}"
        if value is None and opt.dest in file_values:
            value, source = file_values[opt.dest], f"config file {config_file}"
        if value is None:
            setattr(resolved, opt.dest, opt.default)
            continue
        try:
            setattr(resolved, opt.dest, opt.type(value))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"bad value for {opt.dest} from {source}: {exc}") from None
    resolved.config_file = config_file
    return resolved


def _from_env(opt: Option, environ: dict[str, str]) -> tuple[str, str | None]:
    """(variable name, value) of the first environment variable set for ``opt``."""
    for name in opt.env_names:
        if name in environ:
            return name, environ[name]
    return "", None


def defaults(**overrides: Any) -> Config:
    """A fully-defaulted config (for libraries and tests), ignoring env and file."""
    config = Config(**{opt.dest: opt.default for opt in options()})
    for key, value in overrides.items():
        setattr(config, key, value)
    return config
