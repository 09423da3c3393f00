"""pluggy hook specifications: one-to-many lifecycle events.

Implement them in a module registered under the ``directord.plugins`` entry
point group, decorating functions with ``directord.hookimpl``. Hooks run in
the process where the event happens (server or client) and must be quick:
they run on that process's event loop.
"""

from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("directord")
hookimpl = pluggy.HookimplMarker("directord")


@hookspec
def directord_add_options(parser: Any, command: str) -> None:
    """Add options to the argparse parser of CLI ``command`` (e.g. "server")."""


@hookspec
def directord_job_submitted(job: dict[str, Any]) -> None:
    """Server: a job was accepted and is about to be sent to its nodes."""


@hookspec
def directord_job_started(job: dict[str, Any], identity: str) -> None:
    """Client: ``identity`` is about to run ``job`` through its component."""


@hookspec
def directord_job_finished(record: dict[str, Any]) -> None:
    """Server: every targeted node reached a final state; ``record`` is the job view."""


@hookspec
def directord_node_joined(node: dict[str, Any]) -> None:
    """Server: a node registered (first heartbeat, or back after expiry)."""


@hookspec
def directord_node_left(node: dict[str, Any], reason: str) -> None:
    """Server: a node expired or was purged."""
