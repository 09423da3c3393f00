"""``file:///dir``: a SQLite database in ``dir``, persistent and crash-safe.

Layout of ``<dir>/directord.db`` (``PRAGMA user_version`` = 1):

* ``jobs(seq INTEGER PRIMARY KEY, job_id TEXT UNIQUE, last REAL, state TEXT)``:
  one row per job; ``seq`` keeps first-insertion order (an update keeps its
  row), ``last`` (indexed) is the record's last update for pruning, ``state``
  is ``JobRecord.to_state()`` as JSON.
* ``nodes(identity TEXT PRIMARY KEY, expire_time REAL, state TEXT)``: node
  entries as JSON; an entry past its ``expire_time`` is no longer listed and
  is removed on the next read, so nodes are re-learned from heartbeats.

The database runs in WAL mode with ``synchronous=NORMAL``: every committed
``put_jobs`` batch (one transaction) survives a kill -9 of the server. One
connection guarded by a lock serves every thread; other processes may open the
same directory (``busy_timeout`` waits for their writes).
"""

from __future__ import annotations

import functools
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar
from urllib.parse import unquote, urlparse

from directord.datastores import Datastore
from directord.datastores.codec import decode_job, decode_node, encode
from directord.exceptions import DatastoreError
from directord.models import JobRecord, Node

LOG = logging.getLogger(__name__)

DB_NAME = "directord.db"
SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY,
    job_id TEXT NOT NULL UNIQUE,
    last REAL NOT NULL,
    state TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_last ON jobs(last);
CREATE TABLE IF NOT EXISTS nodes (
    identity TEXT PRIMARY KEY,
    expire_time REAL NOT NULL,
    state TEXT NOT NULL
);
"""

T = TypeVar("T")


def directory_of(url: str) -> str:
    """``file:///abs/dir`` -> ``/abs/dir``; anything else is a DatastoreError."""
    parsed = urlparse(url)
    if parsed.scheme != "file":
        raise DatastoreError(f"not a file datastore URL: {url!r}")
    if parsed.netloc not in ("", "localhost"):
        raise DatastoreError(f"file datastore URL must be file:///absolute/dir, got {url!r}")
    path = unquote(parsed.path)
    if not path.startswith("/"):
        raise DatastoreError(f"file datastore URL must be file:///absolute/dir, got {url!r}")
    return os.path.normpath(path)


def _guarded(method: Callable[..., T]) -> Callable[..., T]:
    """Run under the store's lock; a SQLite failure becomes one DatastoreError line."""

    @functools.wraps(method)
    def wrapper(self: FileDatastore, *args: Any, **kwargs: Any) -> T:
        with self._lock:
            try:
                return method(self, *args, **kwargs)
            except sqlite3.Error as exc:
                raise DatastoreError(f"file datastore {self.path}: {exc}") from exc

    return wrapper


class FileDatastore(Datastore):
    """Jobs and nodes in one SQLite file (WAL) under the URL's directory."""

    def __init__(self, url: str):
        super().__init__(url)
        self.directory = directory_of(url)
        self.path = os.path.join(self.directory, DB_NAME)
        self._lock = threading.RLock()
        self._conn = self._open()

    # -- opening -------------------------------------------------------------
    def _open(self) -> sqlite3.Connection:
        where = self.directory
        try:
            os.makedirs(self.directory, mode=0o700, exist_ok=True)
            if not os.path.isdir(self.directory):
                raise NotADirectoryError("not a directory")
            if not os.access(self.directory, os.W_OK | os.X_OK):
                raise PermissionError("directory is not writable")
            where = self.path
            created = not os.path.exists(self.path)
            conn = sqlite3.connect(self.path, timeout=5.0, isolation_level=None, check_same_thread=False)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise DatastoreError(f"cannot use file datastore {where}: {reason}") from None
        except sqlite3.Error as exc:
            raise DatastoreError(f"cannot open file datastore {where}: {exc}") from None
        try:
            if created:
                os.chmod(self.path, 0o600)  # job output may hold secrets; WAL/SHM files inherit the mode
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise sqlite3.OperationalError(f"cannot switch to WAL mode (got {mode})")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=5000")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise sqlite3.DatabaseError(f"schema version {version} is newer than this directord ({SCHEMA_VERSION})")
            conn.execute("BEGIN IMMEDIATE")
            for statement in filter(str.strip, _SCHEMA.split(";")):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except (sqlite3.Error, OSError) as exc:
            conn.close()
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise DatastoreError(f"cannot open file datastore {self.path}: {reason}") from None
        return conn

    # -- nodes ---------------------------------------------------------------
    @_guarded
    def put_node(self, node: Node) -> None:
        state = node.to_dict()
        state.pop("expiry", None)
        self._conn.execute(
            "INSERT INTO nodes(identity, expire_time, state) VALUES (?, ?, ?) "
            "ON CONFLICT(identity) DO UPDATE SET expire_time=excluded.expire_time, state=excluded.state",
            (node.identity, float(node.expire_time), encode(state)),
        )

    @_guarded
    def delete_node(self, identity: str) -> None:
        self._conn.execute("DELETE FROM nodes WHERE identity = ?", (identity,))

    @_guarded
    def nodes(self) -> list[Node]:
        now = time.time()
        self._conn.execute("DELETE FROM nodes WHERE expire_time <= ?", (now,))
        found = []
        for identity, state in self._conn.execute("SELECT identity, state FROM nodes ORDER BY identity"):
            node = decode_node(state, f"{self.path} nodes[{identity!r}]", identity)
            if node is not None and node.expire_time > now:
                found.append(node)
        return found

    @_guarded
    def clear_nodes(self) -> int:
        live = self._conn.execute("SELECT COUNT(*) FROM nodes WHERE expire_time > ?", (time.time(),)).fetchone()[0]
        self._conn.execute("DELETE FROM nodes")
        return int(live)

    # -- jobs ----------------------------------------------------------------
    @_guarded
    def put_jobs(self, records: Iterable[JobRecord]) -> None:
        rows = [(r.job_id, float(r.last), encode(r.to_state())) for r in records]
        if not rows:
            return
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            self._conn.executemany(
                "INSERT INTO jobs(job_id, last, state) VALUES (?, ?, ?) "
                "ON CONFLICT(job_id) DO UPDATE SET last=excluded.last, state=excluded.state",
                rows,
            )
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise

    @_guarded
    def get_job(self, job_id: str) -> JobRecord | None:
        row = self._conn.execute("SELECT state FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        return None if row is None else decode_job(row[0], f"{self.path} jobs[{job_id!r}]", job_id)

    @_guarded
    def jobs(self) -> list[JobRecord]:
        found = []
        for job_id, state in self._conn.execute("SELECT job_id, state FROM jobs ORDER BY seq"):
            record = decode_job(state, f"{self.path} jobs[{job_id!r}]", job_id)
            if record is not None:
                found.append(record)
        return found

    @_guarded
    def last_job(self) -> JobRecord | None:
        cursor = self._conn.execute("SELECT job_id, state FROM jobs ORDER BY seq DESC")
        try:
            for job_id, state in cursor:  # newest first, past any corrupt row
                record = decode_job(state, f"{self.path} jobs[{job_id!r}]", job_id)
                if record is not None:
                    return record
            return None
        finally:
            cursor.close()

    @_guarded
    def clear_jobs(self) -> int:
        return self._conn.execute("DELETE FROM jobs").rowcount

    @_guarded
    def prune_jobs(self, older_than: float) -> int:
        return self._conn.execute("DELETE FROM jobs WHERE last < ?", (float(older_than),)).rowcount

    def close(self) -> None:
        with self._lock:
            try:
                self._conn.close()
            except sqlite3.Error as exc:  # closing twice or a failed checkpoint: nothing to keep
                LOG.debug("closing %s: %s", self.path, exc)
