"""A fleet of simulated nodes in one process, speaking the real wire protocol.

Each node is a ZeroMQ DEALER with its own identity, like a real client. It
heartbeats on connect and then every interval (the real client's data keys),
answers every JOB with the "task queued" status and, at once, a success
result, in one frame (a real client batches its statuses the same way), and
ignores the server's ACKs and heartbeats: it keeps no unacked results, so an
ACK has nothing to release.

    python bench/simfleet.py --job-port 5555 --nodes 1000 --heartbeat 10
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import time
import uuid

import zmq
import zmq.asyncio

from directord import __version__, wire
from directord.client import host_uptime
from directord.exceptions import WireError
from directord.models import Control, Message


class SimNode:
    """One simulated client on its own DEALER socket."""

    def __init__(self, context: zmq.asyncio.Context, identity: str, address: str):
        self.identity = identity
        self.session = str(uuid.uuid4())
        self.started = time.monotonic()
        self.sock = context.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.IDENTITY, identity.encode())
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(address)

    async def heartbeat(self) -> None:
        await self.sock.send(wire.encode([Message(str(uuid.uuid4()), Control.HEARTBEAT.value, data={
            "session": self.session,
            "machine_id": self.identity,
            "version": __version__,
            "driver": "zmq",
            "host_uptime": host_uptime(),
            "agent_uptime": time.monotonic() - self.started,
        })]))

    async def serve(self) -> None:
        while True:
            try:
                messages = wire.decode(await self.sock.recv())
            except WireError:
                continue
            replies = []
            for message in messages:
                if message.control == Control.JOB.value:
                    replies += [
                        Message(message.msg_id, Control.JOB_PROCESSING.value, message.command, info="task queued"),
                        Message(message.msg_id, Control.JOB_END.value, message.command, info="task finished",
                                data={"execution_time": 0.0, "return_timestamp": time.strftime("%Y-%m-%d %H:%M:%S")}),
                    ]
            if replies:
                await self.sock.send(wire.encode(replies))


async def heartbeats(nodes: list[SimNode], interval: float) -> None:
    """Everyone at once on connect, then spread evenly over each interval."""
    for node in nodes:
        await node.heartbeat()
    while True:
        for node in nodes:
            await asyncio.sleep(interval / len(nodes))
            await node.heartbeat()


async def run(args: argparse.Namespace) -> None:
    context = zmq.asyncio.Context()
    context.set(zmq.MAX_SOCKETS, args.nodes + 64)
    address = f"tcp://{args.address}:{args.job_port}"
    nodes = [SimNode(context, f"{args.prefix}{i:05d}", address) for i in range(1, args.nodes + 1)]
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    tasks = [asyncio.create_task(node.serve()) for node in nodes]
    tasks.append(asyncio.create_task(heartbeats(nodes, args.heartbeat)))
    await stop.wait()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for node in nodes:
        node.sock.close(0)
    context.term()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--job-port", type=int, required=True, help="The server's job port.")
    parser.add_argument("--address", default="127.0.0.1", help="The server's address.")
    parser.add_argument("--nodes", type=int, default=1000, help="Simulated nodes (default %(default)s).")
    parser.add_argument("--heartbeat", type=float, default=10.0, help="Heartbeat interval in seconds.")
    parser.add_argument("--prefix", default="sim", help="Identity prefix (default %(default)s).")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
