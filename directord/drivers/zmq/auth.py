"""ZeroMQ authentication: PLAIN shared key, CURVE encryption, per-node keys.

Key layout under ``--zmq-keys-path`` (default ``/etc/directord``), as the
original Directord used it:

* ``public_keys/<name>.key``  -- public keys the server accepts (``server.key``
  is the server's own); a node whose key is named after it (``web1.key``) is
  bound to that identity; ``client.key`` is the shared client key;
* ``private_keys/<name>.key_secret`` -- secret keys: the server's, the shared
  client's, and per-node ones to copy to each node.

Revoking a node = deleting ``public_keys/<name>.key``: new connections are
refused and the server drops messages from live connections of that key.
"""

from __future__ import annotations

import hmac
import logging
import os
import shutil
import tempfile
import time
from typing import Any

import zmq
import zmq.auth
from zmq.auth.asyncio import AsyncioAuthenticator

from directord.exceptions import ConfigError

LOG = logging.getLogger(__name__)
PLAIN_USER = "admin"
SHARED_CLIENT = "client"
SERVER = "server"
RELOAD_SECONDS = 1.0


def key_dirs(keys_path: str) -> tuple[str, str]:
    return os.path.join(keys_path, "public_keys"), os.path.join(keys_path, "private_keys")


def generate(keys_path: str, names: list[str]) -> list[tuple[str, str]]:
    """Create key pairs for ``names``: (name, file) rows; existing files are kept as ``<file>.bak``."""
    public, private = key_dirs(keys_path)
    for directory in (public, private):
        os.makedirs(directory, mode=0o700, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory() as scratch:
        for name in names:
            if not name or os.sep in name or name.startswith("."):
                raise ConfigError(f"invalid key name {name!r}")
            public_file, secret_file = zmq.auth.create_certificates(scratch, name)
            for source, directory in ((public_file, public), (secret_file, private)):
                target = os.path.join(directory, os.path.basename(source))
                if os.path.exists(target):
                    os.replace(target, target + ".bak")
                shutil.move(source, target)
                written.append((name, target))
            os.chmod(os.path.join(private, f"{name}.key_secret"), 0o600)
    return written


def load_pair(keys_path: str, name: str) -> tuple[bytes, bytes]:
    """(public, secret) of ``private_keys/<name>.key_secret``."""
    path = os.path.join(key_dirs(keys_path)[1], f"{name}.key_secret")
    try:
        public, secret = zmq.auth.load_certificate(path)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot load the CURVE key {path}: {exc}") from None
    if secret is None:
        raise ConfigError(f"{path} holds no secret key")
    return public, secret


def load_public(keys_path: str, name: str) -> bytes:
    path = os.path.join(key_dirs(keys_path)[0], f"{name}.key")
    try:
        return zmq.auth.load_certificate(path)[0]
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot load the CURVE public key {path}: {exc}") from None


class KeyRing:
    """The accepted client public keys, re-read from disk at most once a second."""

    def __init__(self, keys_path: str):
        self.directory = key_dirs(keys_path)[0]
        self._names: dict[bytes, str] = {}
        self._loaded = float("-inf")

    def _refresh(self) -> None:
        if time.monotonic() - self._loaded < RELOAD_SECONDS:
            return
        names: dict[bytes, str] = {}
        try:
            entries = sorted(os.listdir(self.directory))
        except OSError:
            entries = []
        for entry in entries:
            name, dot, ext = entry.rpartition(".")
            if ext != "key" or not dot or name == SERVER:
                continue
            try:
                public = zmq.auth.load_certificate(os.path.join(self.directory, entry))[0]
            except (OSError, ValueError):
                LOG.warning("ignoring unreadable key file %s", entry)
                continue
            names[public] = name
        self._names, self._loaded = names, time.monotonic()

    def name_of(self, z85_key: bytes) -> str | None:
        self._refresh()
        return self._names.get(z85_key)

    def active(self, name: str) -> bool:
        self._refresh()
        return name in self._names.values()

    def callback(self, _domain: str, z85_key: bytes) -> bool:
        """pyzmq's credentials-provider hook: is this client key accepted?"""
        return self.name_of(z85_key) is not None


class Authenticator(AsyncioAuthenticator):
    """ZAP handler: constant-time PLAIN check (never logged), CURVE key names as User-Id."""

    def __init__(self, context: zmq.Context, shared_key: str = "", ring: KeyRing | None = None):
        super().__init__(context)
        self._shared_key = shared_key.encode()
        self.ring = ring
        if ring is not None:
            self.configure_curve_callback(domain="*", credentials_provider=ring)

    def _authenticate_plain(self, _domain: str, username: str, password: str) -> tuple[bool, bytes]:
        good_user = hmac.compare_digest(str(username).encode(), PLAIN_USER.encode())
        good_key = hmac.compare_digest(str(password).encode(), self._shared_key)
        return (True, b"OK") if good_user and good_key and self._shared_key else (False, b"Denied")

    def curve_user_id(self, client_public_key: bytes) -> str:
        return (self.ring.name_of(zmq.utils.z85.encode(client_public_key)) if self.ring else None) or "unknown"

    def _send_zap_reply(self, request_id: bytes, status_code: bytes, status_text: bytes,
                        user_id: str = "anonymous") -> None:
        if status_code != b"200":
            LOG.warning("refused a connection: %s", status_text.decode("utf-8", "replace"))
        super()._send_zap_reply(request_id, status_code, status_text, user_id)


class Security:
    """Applies the configured mode to sockets and checks who sent what."""

    def __init__(self, config: Any):
        self.shared_key = str(getattr(config, "zmq_shared_key", "") or "")
        self.curve = bool(getattr(config, "zmq_curve_encryption", False))
        self.keys_path = str(getattr(config, "zmq_keys_path", "/etc/directord"))
        self.identity = str(getattr(config, "identity", ""))
        if self.shared_key and self.curve:
            raise ConfigError("--zmq-shared-key and --zmq-curve-encryption cannot be used together")
        self.ring = KeyRing(self.keys_path) if self.curve else None
        self._authenticator: Authenticator | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.shared_key) or self.curve

    def start_server(self, context: zmq.Context) -> None:
        """Start the ZAP handler (before any socket binds)."""
        if self.enabled and self._authenticator is None:
            self._authenticator = Authenticator(context, self.shared_key, self.ring)
            self._authenticator.start()

    def stop(self) -> None:
        if self._authenticator is not None:
            self._authenticator.stop()
            self._authenticator = None

    def server_socket(self, sock: zmq.Socket) -> None:
        if self.shared_key:
            sock.plain_server = True
        elif self.curve:
            public, secret = load_pair(self.keys_path, SERVER)
            sock.curve_publickey, sock.curve_secretkey, sock.curve_server = public, secret, True

    def client_socket(self, sock: zmq.Socket) -> None:
        if self.shared_key:
            sock.plain_username, sock.plain_password = PLAIN_USER.encode(), self.shared_key.encode()
        elif self.curve:
            own = self.identity if os.path.exists(
                os.path.join(key_dirs(self.keys_path)[1], f"{self.identity}.key_secret")) else SHARED_CLIENT
            public, secret = load_pair(self.keys_path, own)
            sock.curve_publickey, sock.curve_secretkey = public, secret
            sock.curve_serverkey = load_public(self.keys_path, SERVER)

    def allows(self, identity: str, user_id: str | None) -> bool:
        """CURVE: a per-node key speaks only for its node, and only while it is not revoked."""
        if not self.curve or self.ring is None:
            return True
        if not user_id or not self.ring.active(user_id):
            return False
        return user_id == SHARED_CLIENT or user_id == identity
