"""ZeroMQ driver: server ROUTERs bound on the job and backend ports, clients DEALERs.

* job channel: one DEALER per client, identity = the node name;
* backend channel (file chunks, coordination): a short-lived DEALER per
  request stream, opened from a component's worker thread (blocking API).

This module is what every command loads to learn the options; pyzmq is
imported only by the halves (``server``, ``client``) and the keys (``auth``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from directord.config import Option, parse_bool, port
from directord.drivers import ClientTransport, Driver, ServerTransport


class ZmqDriver(Driver):
    """ROUTER/DEALER over TCP, optionally PLAIN- or CURVE-authenticated."""

    name = "zmq"
    options: ClassVar[tuple[Option, ...]] = (
        Option("job_port", port, 5555, "TCP port of the job channel.",
               env=("DIRECTORD_JOB_PORT", "DIRECTORD_MSG_PORT")),
        Option("backend_port", port, 5556, "TCP port of the backend (file transfer) channel."),
        Option("zmq_shared_key", str, "", "Shared key (ZeroMQ PLAIN auth); prefer the env var or config file."),
        Option("zmq_curve_encryption", parse_bool, False, "Encrypt and authenticate with CURVE keys."),
        Option("zmq_keys_path", str, "/etc/directord", "Directory of public_keys/ and private_keys/."),
        Option("zmq_highwater_mark", int, 1024, "ZeroMQ high-water mark (x4 on job sockets)."),
        Option("zmq_bind_address", str, "*", "Address the server binds to.", scope="server"),
        Option("zmq_server_address", str, "127.0.0.1", "Server address to connect to.", scope="client"),
    )

    @classmethod
    def server_transport(cls, config: Any) -> ServerTransport:
        from directord.drivers.zmq.server import ZmqServer

        return ZmqServer(config)

    @classmethod
    def client_transport(cls, config: Any, identity: str | None = None) -> ClientTransport:
        from directord.drivers.zmq.client import ZmqClient

        return ZmqClient(config, identity)

    @classmethod
    def generate_keys(cls, config: Any, names: Sequence[str] = ()) -> list[tuple[str, str]]:
        """CURVE key pairs under ``--zmq-keys-path`` (existing ones are kept as ``<file>.bak``)."""
        from directord.drivers.zmq import auth

        return auth.generate(config.zmq_keys_path, list(names) or [auth.SERVER, auth.SHARED_CLIENT])
