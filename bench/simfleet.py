"""A fleet of simulated nodes in one process, speaking the real wire protocol.

Each node is a ZeroMQ DEALER with its own identity, like a real client. It
heartbeats on connect and then every interval (the real client's data keys),
answers every JOB with the "task queued" status and, at once, a success
result, in one frame (a real client batches its statuses the same way), and
ignores the server's ACKs and heartbeats: it keeps no unacked results, so an
ACK has nothing to release.

The sockets are plain (not asyncio) ZeroMQ sockets whose file descriptors the
event loop watches, so one process keeps a few thousand nodes busy; the
benchmark starts several processes for a larger fleet (``--first`` numbers
each one's nodes).

    python bench/simfleet.py --job-port 5555 --nodes 2500 --first 2501 --heartbeat 10
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import msgpack
import zmq

from directord import __version__, wire
from directord.client import host_uptime
from directord.models import Control
from directord.testing import reap

JOB, PROCESSING, END, HEARTBEAT = (Control.JOB.value, Control.JOB_PROCESSING.value, Control.JOB_END.value,
                                   Control.HEARTBEAT.value)
HEARTBEAT_TICK_S = 0.05  # heartbeats leave in small groups spread over each interval


class SimNode:
    """One simulated client on its own DEALER socket."""

    __slots__ = ("identity", "session", "started", "sock")

    def __init__(self, context: zmq.Context, identity: str, address: str):
        self.identity = identity
        self.session = str(uuid.uuid4())
        self.started = time.monotonic()
        self.sock = context.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.IDENTITY, identity.encode())
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.SNDHWM, 0)  # a real client keeps what it could not send yet; so does this one
        self.sock.setsockopt(zmq.RCVHWM, 0)
        self.sock.connect(address)

    def heartbeat(self) -> None:
        self._send([[str(uuid.uuid4()), HEARTBEAT, "", {
            "session": self.session,
            "machine_id": self.identity,
            "version": __version__,
            "driver": "zmq",
            "host_uptime": host_uptime(),
            "agent_uptime": time.monotonic() - self.started,
        }, None, None, None]])
        self.serve()  # a send can take the socket's read notification: look for jobs now

    def serve(self) -> None:
        """Answer every frame waiting on the socket (its descriptor is edge-triggered: read it dry)."""
        while self.sock.getsockopt(zmq.EVENTS) & zmq.POLLIN:
            try:
                version, batch = msgpack.unpackb(self.sock.recv(zmq.NOBLOCK), raw=False)
            except zmq.Again:
                return
            except (ValueError, TypeError, msgpack.UnpackException):
                continue  # not a frame this peer understands: a real client drops it too
            if version != wire.PROTOCOL_VERSION:
                continue
            replies = []
            for msg_id, control, command, *_ in batch:
                if control == JOB:
                    replies += [[msg_id, PROCESSING, command, None, "task queued", None, None],
                                [msg_id, END, command, {"execution_time": 0.0,
                                                        "return_timestamp": time.strftime("%Y-%m-%d %H:%M:%S")},
                                 "task finished", None, None]]
            if replies:
                self._send(replies)

    def _send(self, body: list) -> None:
        try:
            self.sock.send(msgpack.packb([wire.PROTOCOL_VERSION, body], use_bin_type=True), zmq.NOBLOCK)
        except zmq.Again:  # only when the connection is not up yet (no high-water mark)
            pass


async def heartbeats(nodes: list[SimNode], interval: float) -> None:
    """Everyone at once on connect, then spread evenly over each interval."""
    for node in nodes:
        node.heartbeat()
    per_tick = max(1, round(len(nodes) * HEARTBEAT_TICK_S / interval))
    position = 0
    while True:
        await asyncio.sleep(interval * per_tick / len(nodes))
        for _ in range(per_tick):
            nodes[position].heartbeat()
            position = (position + 1) % len(nodes)


async def run(args: argparse.Namespace) -> None:
    context = zmq.Context()
    context.set(zmq.MAX_SOCKETS, args.nodes + 64)
    address = f"tcp://{args.address}:{args.job_port}"
    loop = asyncio.get_running_loop()
    nodes = [SimNode(context, f"{args.prefix}{i:05d}", address) for i in range(args.first, args.first + args.nodes)]
    for node in nodes:
        loop.add_reader(node.sock.getsockopt(zmq.FD), node.serve)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    beating = asyncio.create_task(heartbeats(nodes, args.heartbeat))
    await stop.wait()
    beating.cancel()
    for node in nodes:
        loop.remove_reader(node.sock.getsockopt(zmq.FD))
        node.sock.close(0)
    context.term()


def launch(job_port: int, nodes: int, per_process: int, heartbeat: float = 10.0,
           logs: Path | None = None) -> list[subprocess.Popen]:
    """``nodes`` simulated nodes in processes of at most ``per_process`` each (output to ``logs``/simfleet-N.log)."""
    processes = -(-nodes // per_process)
    share = -(-nodes // processes)
    fleet = []
    for index in range(processes):
        command = [sys.executable, __file__, "--job-port", str(job_port), "--first", str(1 + index * share),
                   "--nodes", str(min(share, nodes - index * share)), "--heartbeat", str(heartbeat)]
        if logs is None:
            fleet.append(subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL))
            continue
        with open(logs / f"simfleet-{index}.log", "wb") as log:
            fleet.append(subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT))
    return fleet


def stop(fleet: list[subprocess.Popen]) -> None:
    """Stop every process ``launch`` started (all signalled first, so they end together)."""
    for process in fleet:
        process.terminate()
    for process in fleet:
        reap(process, 10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--job-port", type=int, required=True, help="The server's job port.")
    parser.add_argument("--address", default="127.0.0.1", help="The server's address.")
    parser.add_argument("--nodes", type=int, default=1000, help="Simulated nodes (default %(default)s).")
    parser.add_argument("--first", type=int, default=1, help="Number of the first node (default %(default)s).")
    parser.add_argument("--heartbeat", type=float, default=10.0, help="Heartbeat interval in seconds.")
    parser.add_argument("--prefix", default="sim", help="Identity prefix (default %(default)s).")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
