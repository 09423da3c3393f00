"""Test support for directord and its plugins, importable by third parties.

* ``Cluster``: one server and N clients as subprocesses on free ports (used by
  ``make demo``, the benchmark harness and the end-to-end tests). Every path
  (socket, caches, logs) lives under one directory; nothing is shared with a
  system-wide install. ``daemon``, ``redis_server``, ``wait_for``,
  ``free_port`` and ``reap`` are its process helpers.
* Contract suites, one per plugin kind, as pytest base classes (see each
  class's docstring): ``DriverContract`` (messaging drivers),
  ``ComponentContract`` (verbs) and ``DatastoreContract`` /
  ``PersistentDatastoreContract`` (job and node stores).
"""

from directord.testing.cluster import Cluster
from directord.testing.components import NODE, ComponentContract, LocalServices
from directord.testing.datastores import DatastoreContract, PersistentDatastoreContract, StoreKit
from directord.testing.drivers import DriverContract, DriverKit
from directord.testing.processes import PYTHON, daemon, free_port, reap, redis_server, wait_for

__all__ = [
    "NODE", "PYTHON", "Cluster", "ComponentContract", "DatastoreContract", "DriverContract", "DriverKit",
    "LocalServices", "PersistentDatastoreContract", "StoreKit", "daemon", "free_port", "reap",
    "redis_server", "wait_for",
]
