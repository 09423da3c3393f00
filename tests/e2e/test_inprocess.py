"""Server and client objects in one event loop, over real ZeroMQ sockets and over the memory driver.

This lets the tests reach inside: register pluggy hooks, re-send a job on
purpose, and watch de-duplication.
"""

from __future__ import annotations

import asyncio

import pytest

from directord import config, hookimpl, orchestration, plugins
from directord.client import Client
from directord.datastores.memory import MemoryDatastore
from directord.job import Job
from directord.models import Control, Message
from directord.server import Server
from directord.testing import free_port


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    @hookimpl
    def directord_node_joined(self, node):
        self.events.append(("joined", node["identity"]))

    @hookimpl
    def directord_job_submitted(self, job):
        self.events.append(("submitted", job["job_id"]))

    @hookimpl
    def directord_job_started(self, job, identity):
        self.events.append(("started", job["job_id"]))

    @hookimpl
    def directord_job_finished(self, record):
        self.events.append(("finished", record["JOB_ID"]))

    @hookimpl
    def directord_node_left(self, node, reason):
        self.events.append(("left", node["identity"]))


@pytest.fixture
def recorder():
    instance = Recorder()
    plugins.hooks().register(instance)
    yield instance
    plugins.hooks().unregister(instance)


async def until(condition, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


@pytest.fixture(params=["zmq", "memory"])
def driver_name(request):
    return request.param


async def run_pair(tmp_path, scenario, driver_name):
    settings = dict(socket_path=str(tmp_path / "s.sock"), job_port=free_port(), backend_port=free_port(),
                    heartbeat_interval=0.2, zmq_bind_address="127.0.0.1", zmq_server_address="127.0.0.1",
                    driver=driver_name, memory_hub=str(tmp_path))
    driver = plugins.load_driver(driver_name)
    server_cfg = config.defaults(**settings)
    server = Server(server_cfg, driver.server_transport(server_cfg), MemoryDatastore())
    client_cfg = config.defaults(**settings, identity="n1", cache_path=str(tmp_path / "n1"))
    client = Client(client_cfg, driver.client_transport(client_cfg))
    server_task = asyncio.create_task(server.run())
    client_task = asyncio.create_task(client.run())
    try:
        await until(lambda: server.registry.is_live("n1"))
        await scenario(server, client)
    finally:
        client.stop()
        await client_task
        server.stop()
        await server_task


async def submit(server: Server, job: Job) -> dict:
    """Submit ``job`` through the server's user API, as the unix socket does."""
    return await server.user_api.submit({"jobs": [job.to_dict()]})


def test_lifecycle_hooks_fire_in_order(tmp_path, recorder, driver_name):
    async def scenario(server, client):
        reply = await submit(server, orchestration.build_job("RUN", "echo hooked"))
        job_id = reply["job_ids"][0]
        await server.jobs.wait([job_id], 5)
        assert server.jobs.get(job_id).stdout == {"n1": "hooked"}
        names = [name for name, key in recorder.events if key in (job_id, "n1")]
        assert names == ["joined", "submitted", "started", "finished"]

    asyncio.run(run_pair(tmp_path, scenario, driver_name))


def test_resent_job_runs_once_and_result_is_not_flipped(tmp_path, recorder, driver_name):
    counter = tmp_path / "count"

    async def scenario(server, client):
        job = orchestration.build_job("RUN", f"--skip-cache echo run >> {counter}")
        reply = await submit(server, job)
        job_id = reply["job_ids"][0]
        await server.jobs.wait([job_id], 5)
        record = server.jobs.get(job_id)
        first = (record.processing["n1"], record.last)
        # Pretend the ack was lost: the server sends the same job id again, twice.
        message = server.delivery.unacked("n1").get(job_id)
        assert message is None  # it was acked
        again = Message(job_id, Control.JOB.value, "RUN", data=record.definition.to_dict())
        server.delivery.queue("n1", again, reliable=True)
        server.delivery.queue("n1", again, reliable=True)
        # A later job takes the same node queue: once it finished, a second run would have too.
        later_job = orchestration.build_job("RUN", f"--skip-cache echo later >> {counter}")
        later = await submit(server, later_job)
        await server.jobs.wait(later["job_ids"], 5)
        assert server.jobs.get(later["job_ids"][0]).success == ["n1"]
        assert job_id not in server.delivery.unacked("n1")  # the re-sends were acked
        assert counter.read_text() == "run\nlater\n"
        assert (record.processing["n1"], record.last) == first
        assert [n for n, k in recorder.events if k == job_id].count("started") == 1

    asyncio.run(run_pair(tmp_path, scenario, driver_name))


def test_results_are_resent_until_acked(tmp_path, driver_name):
    async def scenario(server, client):
        acks_dropped = []
        original = client._handle

        def drop_first_ack(message, received):
            if message.control == Control.ACK.value and not acks_dropped:
                acks_dropped.append(message.data)
                return
            original(message, received)

        client._handle = drop_first_ack
        reply = await submit(server, orchestration.build_job("RUN", "--skip-cache true"))
        job_id = reply["job_ids"][0]
        await server.jobs.wait([job_id], 5)
        await until(lambda: acks_dropped)
        assert job_id in client.delivery.unacked("server")  # not acked yet: kept for a re-send
        await until(lambda: job_id not in client.delivery.unacked("server"), timeout=3)
        assert server.jobs.get(job_id).success == ["n1"]

    asyncio.run(run_pair(tmp_path, scenario, driver_name))


def test_add_fetches_the_file_over_the_backend_from_a_worker_thread(tmp_path, driver_name):
    source, target = tmp_path / "source.bin", tmp_path / "copied" / "target.bin"
    source.write_bytes(bytes(range(256)) * 8192)  # 2 MiB: two backend chunks

    async def scenario(server, client):
        reply = await submit(server, orchestration.build_job("ADD", f"{source} {target}"))
        job_id = reply["job_ids"][0]
        await server.jobs.wait([job_id], 10)
        assert server.jobs.get(job_id).success == ["n1"]
        assert target.read_bytes() == source.read_bytes()

    asyncio.run(run_pair(tmp_path, scenario, driver_name))
