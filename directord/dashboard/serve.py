"""``directord dashboard``: check the options, then serve until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import signal
import ssl
from typing import Any

from aiohttp import web

from directord.config import split_bind
from directord.dashboard.app import create_app
from directord.exceptions import ConfigError
from directord.user import UserClient

LOG = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name other than localhost may resolve to anything
        return False


def read_token(path: str) -> str:
    if not path:
        return ""
    try:
        with open(path, encoding="utf-8") as handle:
            token = handle.read().strip()
    except OSError as exc:
        raise ConfigError(f"cannot read the token file {path}: {exc.strerror or exc}") from None
    if len(token) < 16:
        raise ConfigError(f"the token in {path} is too short: use at least 16 characters")
    return token


def tls_context(cert: str, key: str) -> ssl.SSLContext | None:
    if not cert and not key:
        return None
    if not (cert and key):
        raise ConfigError("--tls-cert and --tls-key go together")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load the TLS certificate {cert} and key {key}: {exc}") from None
    return context


def serve(cfg: Any) -> int:
    host, port = split_bind(cfg.dashboard_bind)
    token = read_token(cfg.dashboard_token_file)
    if not token and not is_loopback(host):
        raise ConfigError(f"the dashboard on {cfg.dashboard_bind} needs --token-file: anyone who reaches it"
                          " would see every job (or bind 127.0.0.1 and reach it through an SSH tunnel)")
    tls = tls_context(cfg.dashboard_tls_cert, cfg.dashboard_tls_key)
    app = create_app(UserClient(cfg.socket_path, cfg.request_timeout), float(cfg.heartbeat_interval), token,
                     bool(cfg.dashboard_allow_submit), secure_cookie=tls is not None)
    asyncio.run(_serve(app, host, port, tls))
    return 0


async def _serve(app: web.Application, host: str, port: int, tls: ssl.SSLContext | None) -> None:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port, ssl_context=tls).start()
    except OSError as exc:
        await runner.cleanup()
        raise ConfigError(f"cannot serve the dashboard on {host}:{port}: {exc.strerror or exc}") from None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    LOG.info("dashboard on %s://%s:%d/", "https" if tls else "http", host, port)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
