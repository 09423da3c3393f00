"""The datastore contract: a nodes table and a jobs table, with retention.

The server keeps live job records in memory and hands them to the store in
batches (``put_jobs``); reads for the user API go to the store. Stores hold
JSON-able state only (``JobRecord.to_state``), never pickles.

The contract (``tests/unit/test_datastore_contract.py`` runs it against every
built-in store):

* ``nodes()`` lists only entries whose ``expire_time`` is still ahead: node
  entries expire by themselves and are re-learned from heartbeats, so the
  server must ``put_node`` again when it refreshes a node.
* ``jobs()`` is in first-insertion order (an update keeps a record's place);
  ``last_job()`` is the most recently inserted record.
* ``prune_jobs(t)`` drops records with ``last < t``; ``clear_*`` and
  ``prune_jobs`` return how many entries went.
* A stored value that is not JSON, or not the shape of a record, is logged and
  skipped by every read; it never raises and is never executed.
* Persistent stores may return copies (``get_job`` after ``put_jobs`` is a
  snapshot); the memory store keeps references.
* A store that cannot be opened or used raises ``DatastoreError`` with one line.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable
from typing import ClassVar

from directord.config import safe_url
from directord.models import JobRecord, Node


class Datastore(abc.ABC):
    """Base class of every datastore plugin (``directord.datastores``)."""

    shared: ClassVar[bool] = False  # do servers on other hosts see the same data? (several servers need it)

    def __init__(self, url: str):
        self.url = safe_url(url)  # as shown to people: no password

    # -- nodes ---------------------------------------------------------------
    @abc.abstractmethod
    def put_node(self, node: Node) -> None: ...

    @abc.abstractmethod
    def delete_node(self, identity: str) -> None: ...

    @abc.abstractmethod
    def nodes(self) -> list[Node]: ...

    @abc.abstractmethod
    def clear_nodes(self) -> int: ...

    # -- jobs ----------------------------------------------------------------
    @abc.abstractmethod
    def put_jobs(self, records: Iterable[JobRecord]) -> None: ...

    @abc.abstractmethod
    def get_job(self, job_id: str) -> JobRecord | None: ...

    @abc.abstractmethod
    def jobs(self) -> list[JobRecord]:
        """Every retained record, oldest first."""

    @abc.abstractmethod
    def last_job(self) -> JobRecord | None: ...

    @abc.abstractmethod
    def clear_jobs(self) -> int: ...

    @abc.abstractmethod
    def prune_jobs(self, older_than: float) -> int:
        """Drop records whose last update is before ``older_than`` (epoch seconds)."""

    def close(self) -> None:  # noqa: B027 - optional hook, most stores hold nothing
        """Release connections and files."""
