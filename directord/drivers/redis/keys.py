"""Where the redis driver keeps its streams, and what a node's ACL user may touch.

``P`` is the prefix (``directord`` unless the driver URL says ``?prefix=NAME``):

=========================  ================================================
key                        holds
=========================  ================================================
``P:down:<node>``          server -> node frames (the node reads, never writes)
``P:up:<node>``            node -> server frames and backend requests, read by
                           the servers' consumer group (the node only writes)
``P:reply:<node>:<conn>``  backend replies of one connection (short-lived)
``P:hello``                nodes announce themselves here (write-only for them)
``P:lease``                the id of the server that serves the nodes now
``P:forward``              user requests standbys forward to the active server
``P:answer:<server>``      the active server's answers to one standby
=========================  ================================================
"""

from __future__ import annotations

GROUP = "directord"  # the servers' consumer group on every up stream and on hello
_GLOB = str.maketrans({c: "\\" + c for c in "*?[]\\"})


class Keys:
    """Key names under one prefix."""

    def __init__(self, prefix: str = "directord"):
        self.prefix = prefix.rstrip(":")
        self.hello = f"{self.prefix}:hello"
        self.lease = f"{self.prefix}:lease"
        self.up_prefix = f"{self.prefix}:up:"
        self.forward = f"{self.prefix}:forward"

    def answer(self, server: str) -> str:
        return f"{self.prefix}:answer:{server}"

    def down(self, node: str) -> str:
        return f"{self.prefix}:down:{node}"

    def up(self, node: str) -> str:
        return self.up_prefix + node

    def reply(self, node: str, connection: str) -> str:
        return f"{self.prefix}:reply:{node}:{connection}"

    def node_of(self, up_stream: str) -> str:
        return up_stream[len(self.up_prefix):]

    def acl_rules(self, node: str, secret: str) -> list[str]:
        """``ACL SETUSER node ...`` arguments: read its own down and reply streams, write its
        own up stream and the hello stream, nothing else (no other command, key or channel)."""
        me = node.translate(_GLOB)
        prefix = self.prefix.translate(_GLOB)
        return ["reset", "on", f">{secret}", "resetchannels", "-@all",
                "+xadd", "+xread", "+xrevrange", "+ping", "+select",
                f"%R~{prefix}:down:{me}", f"%R~{prefix}:reply:{me}:*",
                f"%W~{prefix}:up:{me}", f"%W~{prefix}:hello"]
