"""The datastore contract: a nodes table and a jobs table, with retention.

The server keeps live job records in memory and hands them to the store in
batches (``put_jobs``); reads for the user API go to the store. Stores hold
JSON-able state only (``JobRecord.to_state``), never pickles.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable

from directord.models import JobRecord, Node


class Datastore(abc.ABC):
    """Base class of every datastore plugin (``directord.datastores``)."""

    def __init__(self, url: str):
        self.url = url

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
