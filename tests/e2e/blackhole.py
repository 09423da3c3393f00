"""A TCP proxy that can blackhole traffic: a network partition without root."""

from __future__ import annotations

import socket
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
