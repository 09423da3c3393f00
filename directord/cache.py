"""The client cache: a small key/value store with tags and TTLs, in SQLite.

Values are JSON (never pickled). Tags group keys for eviction: ``args``,
``envs``, ``jobs`` (job fingerprint states), ``parents`` (parent states) and
``query``. Every entry may carry an expiry; expired entries read as absent
and are swept lazily.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from typing import Any

HOUR = 3600.0
DEFAULT_TTLS = {"args": 12 * HOUR, "envs": 12 * HOUR, "query": 12 * HOUR,
                "jobs": 72 * HOUR, "parents": 72 * HOUR}
TAGS = ("args", "envs", "jobs", "parents", "query")
_MISSING = object()


class Cache:
    """Thread-safe persistent cache (components run in worker threads)."""

    def __init__(self, path: str, ttls: dict[str, float] | None = None):
        self.path = path
        self.ttls = {**DEFAULT_TTLS, **(ttls or {})}
        if path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS cache (key TEXT PRIMARY KEY, value TEXT NOT NULL,"
            " tag TEXT, expire REAL, created REAL NOT NULL)"
        )

    # -- reading -------------------------------------------------------------
    def get(self, key: str, default: Any = None) -> Any:
        with self._lock:
            row = self._db.execute(
                "SELECT value, expire FROM cache WHERE key = ?", (key,)
            ).fetchone()
        if row is None or (row[1] is not None and row[1] <= time.time()):
            return default
        return json.loads(row[0])

    def __getitem__(self, key: str) -> Any:
        value = self.get(key, _MISSING)
        if value is _MISSING:
            raise KeyError(key)
        return value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key, _MISSING) is not _MISSING

    def items(self, tag: str | None = None) -> Iterator[tuple[str, Any]]:
        """Live entries in creation order, optionally of one tag."""
        query = "SELECT key, value FROM cache WHERE (expire IS NULL OR expire > ?)"
        params: tuple[Any, ...] = (time.time(),)
        if tag is not None:
            query, params = query + " AND tag = ?", params + (tag,)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY created", params).fetchall()
        return ((key, json.loads(value)) for key, value in rows)

    def dump(self) -> dict[str, Any]:
        """Everything live, as a plain dict (``cache dump``)."""
        return dict(self.items())

    # -- writing -------------------------------------------------------------
    def set(self, key: str, value: Any, expire: float | None = None, tag: str | None = None) -> bool:
        """Store ``value``; ``expire`` seconds default to the tag's TTL.

        The ``args``/``envs``/``query`` keys are tagged as themselves when no
        tag is given, so components written without tags stay evictable.
        """
        if tag is None and key in TAGS:
            tag = key
        if expire is None and tag is not None:
            expire = self.ttls.get(tag)
        now = time.time()
        deadline = now + expire if expire else None
        encoded = json.dumps(value)
        with self._lock:
            self._db.execute(
                "INSERT INTO cache (key, value, tag, expire, created) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT(key) DO UPDATE SET value=excluded.value, tag=excluded.tag,"
                " expire=excluded.expire",
                (key, encoded, tag, deadline, now),
            )
        return True

    def set_many(self, entries: list[tuple[str, Any, str | None]]) -> None:
        """Store several ``(key, value, tag)`` entries in one transaction."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                for key, value, tag in entries:
                    self.set(key, value, tag=tag)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def __setitem__(self, key: str, value: Any) -> None:
        self.set(key, value)

    def delete(self, key: str) -> bool:
        with self._lock:
            return self._db.execute("DELETE FROM cache WHERE key = ?", (key,)).rowcount > 0

    def __delitem__(self, key: str) -> None:
        if not self.delete(key):
            raise KeyError(key)

    def evict(self, tag: str) -> int:
        """Remove every entry of ``tag``; returns how many went."""
        with self._lock:
            return self._db.execute("DELETE FROM cache WHERE tag = ?", (tag,)).rowcount

    def clear(self) -> int:
        with self._lock:
            return self._db.execute("DELETE FROM cache").rowcount

    def expire(self) -> int:
        """Sweep expired entries."""
        with self._lock:
            return self._db.execute(
                "DELETE FROM cache WHERE expire IS NOT NULL AND expire <= ?", (time.time(),)
            ).rowcount

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Cache:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
