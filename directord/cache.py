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
from collections.abc import Callable, Iterator
from typing import Any

HOUR = 3600.0
DEFAULT_TTLS = {"args": 12 * HOUR, "envs": 12 * HOUR, "query": 12 * HOUR,
                "jobs": 72 * HOUR, "parents": 72 * HOUR}
TAGS = ("args", "envs", "jobs", "parents", "query")
_MISSING = object()
MEMO_LIMIT = 4096
LATER_BATCH = 256
UPSERT = ("INSERT INTO cache (key, value, tag, expire, created) VALUES (?, ?, ?, ?, ?)"
          " ON CONFLICT(key) DO UPDATE SET value=excluded.value, tag=excluded.tag, expire=excluded.expire")
LATER_SECONDS = 0.25


_SCALARS: dict[str, Any] = {}  # JSON text -> its decoded str/number/bool/None (states: read every job)
SCALAR_TEXT_LIMIT = 256


def _decode(text: str) -> Any:
    """JSON to a fresh value (callers may change what they get); small scalars come from a memo."""
    value = _SCALARS.get(text, _MISSING)
    if value is _MISSING:
        value = json.loads(text)
        if isinstance(value, str | int | float | bool | type(None)) and len(text) <= SCALAR_TEXT_LIMIT:
            if len(_SCALARS) >= MEMO_LIMIT:
                _SCALARS.clear()
            _SCALARS[text] = value
    return value


class Cache:
    """Thread-safe persistent cache (components run in worker threads)."""

    def __init__(self, path: str, ttls: dict[str, float] | None = None):
        self.path = path
        self.ttls = {**DEFAULT_TTLS, **(ttls or {})}
        if path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self._lock = threading.RLock()
        self._memo: dict[str, tuple[str | None, float | None]] = {}  # key -> (json, expire); this process writes all
        self._pending: dict[str, tuple[str, str, str | None, float | None, float]] = {}
        self._pending_since = 0.0
        self._pending_guard = threading.Lock()  # _pending and _memo; held briefly, never during I/O
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS cache (key TEXT PRIMARY KEY, value TEXT NOT NULL,"
            " tag TEXT, expire REAL, created REAL NOT NULL)"
        )

    # -- reading -------------------------------------------------------------
    def get(self, key: str, default: Any = None) -> Any:
        row = self._memo.get(key)  # lock-free: a flush in another thread never blocks a hot read
        if row is None:
            with self._lock, self._pending_guard:
                pending = self._pending.get(key)
                if pending is not None:
                    row = (pending[1], pending[3])
                else:
                    row = self._db.execute("SELECT value, expire FROM cache WHERE key = ?", (key,)).fetchone()
                self._remember(key, row)
        if row is None or row[0] is None or (row[1] is not None and row[1] <= time.time()):
            return default
        return _decode(row[0])

    def _remember(self, key: str, row: tuple[str | None, float | None] | None) -> None:
        """Keep a read or written row in the in-process read cache (bounded)."""
        if len(self._memo) >= MEMO_LIMIT:
            self._memo.clear()
        self._memo[key] = row if row is not None else (None, None)

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
            self.flush()
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
        self._write([self._row(key, value, tag, expire)])
        return True

    def change(self, key: str, how: Callable[[Any], Any], tag: str | None = None) -> Any:
        """Store ``how(current value or None)`` as one step: jobs in parallel queues that change
        the same key (``args``) never lose each other's changes. Returns what was stored."""
        with self._lock:
            value = how(self.get(key))
            self.set(key, value, tag=tag)
        return value

    def _row(self, key: str, value: Any, tag: str | None, expire: float | None = None) -> tuple:
        """The stored form: (key, JSON, tag, deadline, created); the tag's TTL by default."""
        if tag is None and key in TAGS:
            tag = key
        if expire is None and tag is not None:
            expire = self.ttls.get(tag)
        now = time.time()
        return key, json.dumps(value), tag, now + expire if expire else None, now

    def _write(self, rows: list[tuple]) -> None:
        """Upsert ``rows`` in one transaction and remember them; all or nothing."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(UPSERT, rows)
            except BaseException:
                self._db.execute("ROLLBACK")
                self._memo.clear()
                raise
            self._db.execute("COMMIT")
            for key, encoded, _tag, deadline, _created in rows:
                self._remember(key, (encoded, deadline))

    def set_later(self, entries: list[tuple[str, Any, str | None]]) -> None:
        """Store entries soon: readable at once here, written in batched transactions.

        Used for job and parent states, so the client pays one SQLite commit per
        batch instead of one per job; ``flush`` (housekeeping, close) writes the rest.
        """
        rows = [self._row(key, value, tag) for key, value, tag in entries]
        with self._pending_guard:  # never waits for a flush in progress
            if not self._pending:
                self._pending_since = time.monotonic()
            for row in rows:
                self._pending[row[0]] = row  # a later state of the same key replaces the earlier one
                self._remember(row[0], (row[1], row[3]))
            due = len(self._pending) >= LATER_BATCH or time.monotonic() - self._pending_since >= LATER_SECONDS
        if due:
            self.flush()

    def flush(self) -> None:
        """Write what ``set_later`` holds, in one transaction."""
        with self._lock:
            with self._pending_guard:
                rows, self._pending = list(self._pending.values()), {}
            if rows:
                self._write(rows)

    def set_many(self, entries: list[tuple[str, Any, str | None]]) -> None:
        """Store several ``(key, value, tag)`` entries in one transaction."""
        self._write([self._row(key, value, tag) for key, value, tag in entries])

    def __setitem__(self, key: str, value: Any) -> None:
        self.set(key, value)

    def delete(self, key: str) -> bool:
        with self._lock:
            self.flush()
            self._memo.pop(key, None)
            return self._db.execute("DELETE FROM cache WHERE key = ?", (key,)).rowcount > 0

    def __delitem__(self, key: str) -> None:
        if not self.delete(key):
            raise KeyError(key)

    def evict(self, tag: str) -> int:
        """Remove every entry of ``tag``; returns how many went."""
        with self._lock:
            self.flush()
            self._memo.clear()
            return self._db.execute("DELETE FROM cache WHERE tag = ?", (tag,)).rowcount

    def clear(self) -> int:
        with self._lock, self._pending_guard:
            self._pending.clear()
            self._memo.clear()
            return self._db.execute("DELETE FROM cache").rowcount

    def expire(self) -> int:
        """Sweep expired entries."""
        with self._lock:
            return self._db.execute(
                "DELETE FROM cache WHERE expire IS NOT NULL AND expire <= ?", (time.time(),)
            ).rowcount

    def close(self) -> None:
        with self._lock:
            self.flush()
            self._db.close()

    def __enter__(self) -> Cache:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
