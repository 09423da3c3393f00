"""Network partitions for the fault tests: network namespaces (root), or a blackholing TCP proxy."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading


class BlackholeProxy:
    """Forwards 127.0.0.1:<port> to a target; ``cut()`` drops every byte and refuses
    new connections (a partition), ``heal()`` restores forwarding."""

    def __init__(self, target_port: int):
        self.target = ("127.0.0.1", target_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.partitioned = threading.Event()
        self.closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self) -> None:
        self.partitioned.set()

    def heal(self) -> None:
        self.partitioned.clear()

    def close(self) -> None:
        self.closed.set()
        self.listener.close()

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.partitioned.is_set():  # SYNs "time out": the peer retries later
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while not self.closed.is_set():
                data = source.recv(65536)
                if not data:
                    break
                if not self.partitioned.is_set():
                    sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


class NetnsPartition:
    """A node in its own network namespace behind a veth pair; ``cut()`` downs the link.

    Needs root and iproute2. Packets on a downed link are dropped without any
    reset, exactly like a switch failing between the node and the server.
    """

    def __init__(self, subnet: int):
        self.namespace = f"dtd{os.getpid() % 10000}x{subnet}"
        self.host_if, self.node_if = f"{self.namespace}a", f"{self.namespace}b"
        self.server_address = f"10.199.{subnet}.1"
        commands = [
            ["ip", "netns", "add", self.namespace],
            ["ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.node_if,
             "netns", self.namespace],
            ["ip", "addr", "add", f"{self.server_address}/30", "dev", self.host_if],
            ["ip", "link", "set", self.host_if, "up"],
            ["ip", "netns", "exec", self.namespace, "ip", "addr", "add", f"10.199.{subnet}.2/30", "dev", self.node_if],
            ["ip", "netns", "exec", self.namespace, "ip", "link", "set", self.node_if, "up"],
            ["ip", "netns", "exec", self.namespace, "ip", "link", "set", "lo", "up"],
        ]
        for command in commands:
            subprocess.run(command, check=True, capture_output=True, timeout=10)

    @staticmethod
    def available() -> bool:
        if os.geteuid() != 0 or shutil.which("ip") is None:
            return False
        probe = f"dtdprobe{os.getpid() % 10000}"
        made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, timeout=10).returncode == 0
        if made:
            subprocess.run(["ip", "netns", "del", probe], capture_output=True, timeout=10)
        return made

    def wrap(self, argv: list[str]) -> list[str]:
        """Run ``argv`` inside the node's namespace."""
        return ["ip", "netns", "exec", self.namespace, *argv]

    def cut(self) -> None:
        subprocess.run(["ip", "link", "set", self.host_if, "down"], check=True, timeout=10)

    def heal(self) -> None:
        subprocess.run(["ip", "link", "set", self.host_if, "up"], check=True, timeout=10)

    def close(self) -> None:
        subprocess.run(["ip", "netns", "del", self.namespace], capture_output=True, timeout=10)
