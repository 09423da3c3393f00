"""The transport floor: the least a ZeroMQ server can do for a fleet of simulated nodes.

A bare ROUTER that waits for every node's first heartbeat, then sends one
JOB frame (encoded once) to every node and reads frames until every node has
answered, ``--jobs`` times. No records, no acks, no user API: its memory per
registered node and its CPU per node-result are what libzmq and the kernel
cost, and what the real server's figures can be read against. Its idle CPU is
what reading the fleet's heartbeats costs.

    python bench/zmqfloor.py --nodes 10000 --jobs 10

It prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import msgpack
import procstat
import simfleet
import zmq

from directord import wire
from directord.models import Control

REGISTER_TIMEOUT_S = 300.0
JOB_TIMEOUT_S = 120.0
IDLE_S = 10.0  # simfleet's default heartbeat interval


def idle_percent(router: zmq.Socket) -> float:
    """CPU over one heartbeat interval of the simulated nodes, reading their heartbeats and nothing else."""
    cpu, start = time.process_time(), time.monotonic()
    while time.monotonic() - start < IDLE_S:
        if router.poll(100):
            while router.poll(0):
                router.recv_multipart()
    return (time.process_time() - cpu) / (time.monotonic() - start) * 100


def measure(nodes: int, jobs: int, per_process: int) -> dict[str, float]:
    context = zmq.Context()
    router = context.socket(zmq.ROUTER)
    router.setsockopt(zmq.ROUTER_MANDATORY, 1)
    router.setsockopt(zmq.LINGER, 0)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    sims = simfleet.launch(port, nodes, per_process)
    try:
        seen: set[bytes] = set()
        deadline = time.monotonic() + REGISTER_TIMEOUT_S
        while len(seen) < nodes:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(seen)} of {nodes} nodes registered")
            if router.poll(1000):
                seen.add(router.recv_multipart()[0])
        result = {"nodes": nodes, "rss_registered_mib": procstat.rss_mib(os.getpid(), children=False),
                  "idle_cpu_pct": idle_percent(router)}
        cpu = time.process_time()
        for number in range(jobs):
            job_id = f"floor-{number}"
            frame = msgpack.packb([wire.PROTOCOL_VERSION, [[job_id, Control.JOB.value, "RUN", {}, None, None,
                                                            None]]], use_bin_type=True)
            for identity in seen:
                router.send_multipart([identity, frame], zmq.DONTWAIT)
            answered: set[bytes] = set()
            deadline = time.monotonic() + JOB_TIMEOUT_S
            while len(answered) < nodes and time.monotonic() < deadline:
                if router.poll(1000):
                    identity, reply = router.recv_multipart()
                    if job_id.encode() in reply:  # its statuses (heartbeats pass by)
                        answered.add(identity)
        result["cpu_us_per_node_result"] = (time.process_time() - cpu) / (jobs * nodes) * 1e6
        return result
    finally:
        simfleet.stop(sims)
        router.close(0)
        context.term()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, required=True, help="Simulated nodes.")
    parser.add_argument("--jobs", type=int, default=10, help="Jobs to every node (default %(default)s).")
    parser.add_argument("--per-process", type=int, default=2500, help="Simulated nodes per simfleet process.")
    args = parser.parse_args()
    print(json.dumps(measure(args.nodes, args.jobs, args.per_process)))


if __name__ == "__main__":
    main()
