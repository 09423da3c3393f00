"""BackendService: file chunks for ADD/COPY (guarded by the job) and JOB_WAIT lookups."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from directord import config, transfer, wire
from directord.datastores.memory import MemoryDatastore
from directord.drivers import ClientTransport
from directord.drivers.memory import MemoryDriver
from directord.job import Job
from directord.models import Control, Message
from directord.server import backend
from directord.server.backend import BackendService, transfer_sources
from directord.server.jobs import JobTable

from .helpers import until

END, FAILED, PROCESSING = Control.JOB_END.value, Control.JOB_FAILED.value, Control.JOB_PROCESSING.value
TRANSFER_END = Control.TRANSFER_END.value
CONTENT = b"0123456789"


@pytest.fixture
def table() -> JobTable:
    return JobTable(MemoryDatastore())


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "source.bin"
    path.write_bytes(CONTENT)
    return path


def add_job(table: JobTable, source: Path | str, job_id: str = "j1", nodes: tuple[str, ...] = ("n1", "n2"),
            **extra: Any) -> None:
    definition = {"verb": "ADD", "job_id": job_id, "parent_id": job_id, "from": [str(source)], "to": "/dest",
                  **extra}
    table.create(Job.from_dict(definition), list(nodes))


def ask(service: BackendService, message: Message) -> Message:
    return asyncio.run(service.answer(message))


def chunk_request(path: Path | str, offset: int, size: int | None = 4, node: str = "n1",
                  job_id: str = "j1") -> Message:
    data: dict[str, Any] = {"node": node}
    if size is not None:
        data["size"] = size
    return Message(job_id, Control.TRANSFER_START.value, str(offset), data=data, info=str(path))


# -- chunks ---------------------------------------------------------------------------
def test_chunked_read(table: JobTable, source: Path) -> None:
    add_job(table, source)
    service = BackendService(None, table)  # type: ignore[arg-type]  # answer() never touches the driver
    replies = [ask(service, chunk_request(source, offset)) for offset in (0, 4, 8)]
    assert [r.control for r in replies] == [PROCESSING, PROCESSING, TRANSFER_END]
    assert [r.data for r in replies] == [b"0123", b"4567", b"89"]
    assert [r.command for r in replies] == ["0", "4", "8"]  # the offset is echoed
    assert all(r.msg_id == "j1" for r in replies)


def test_exact_multiple_ends_on_the_last_full_chunk(table: JobTable, tmp_path: Path) -> None:
    path = tmp_path / "eight.bin"
    path.write_bytes(b"abcdefgh")
    add_job(table, path)
    service = BackendService(None, table)  # type: ignore[arg-type]
    first, last = ask(service, chunk_request(path, 0)), ask(service, chunk_request(path, 4))
    assert (first.control, first.data) == (PROCESSING, b"abcd")
    assert (last.control, last.data) == (TRANSFER_END, b"efgh")


def test_whole_file_in_one_chunk(table: JobTable, source: Path) -> None:
    add_job(table, source)
    reply = ask(BackendService(None, table), chunk_request(source, 0, size=None))  # type: ignore[arg-type]
    assert (reply.control, reply.data) == (TRANSFER_END, CONTENT)


def test_empty_file(table: JobTable, tmp_path: Path) -> None:
    path = tmp_path / "empty"
    path.write_bytes(b"")
    add_job(table, path)
    reply = ask(BackendService(None, table), chunk_request(path, 0))  # type: ignore[arg-type]
    assert (reply.control, reply.data) == (TRANSFER_END, b"")


def test_offset_past_the_end(table: JobTable, source: Path) -> None:
    add_job(table, source)
    reply = ask(BackendService(None, table), chunk_request(source, 100))  # type: ignore[arg-type]
    assert (reply.control, reply.data) == (TRANSFER_END, b"")


def test_requested_size_is_capped(table: JobTable, source: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backend, "MAX_CHUNK", 3)
    add_job(table, source)
    reply = ask(BackendService(None, table), chunk_request(source, 0, size=1_000_000))  # type: ignore[arg-type]
    assert (reply.control, reply.data) == (PROCESSING, b"012")


def test_reply_survives_the_wire(table: JobTable, source: Path) -> None:
    add_job(table, source)
    reply = ask(BackendService(None, table), chunk_request(source, 4))  # type: ignore[arg-type]
    (decoded,) = wire.decode(wire.encode([reply]))
    assert decoded == reply


def test_component_file_path_is_allowed(table: JobTable, tmp_path: Path) -> None:
    path = tmp_path / "greet.py"
    path.write_bytes(b"class Component: pass\n")
    table.create(Job("GREET", job_id="j1", component={"name": "greet", "path": str(path)}), ["n1"])
    assert transfer_sources(table.running("j1").definition) == {str(path)}
    reply = ask(BackendService(None, table), chunk_request(path, 0, size=None))  # type: ignore[arg-type]
    assert (reply.control, reply.data) == (TRANSFER_END, b"class Component: pass\n")


# -- refusals ----------------------------------------------------------------------
def test_path_not_in_the_jobs_sources_is_refused(table: JobTable, source: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_bytes(b"do not send")
    add_job(table, source)
    reply = ask(BackendService(None, table), chunk_request(secret, 0))  # type: ignore[arg-type]
    assert reply.control == FAILED
    assert reply.data is None
    assert reply.info == f"transfer of [ {secret} ] is not allowed for this job"


def test_node_that_is_not_a_target_is_refused(table: JobTable, source: Path) -> None:
    add_job(table, source, nodes=("n1",))
    reply = ask(BackendService(None, table), chunk_request(source, 0, node="intruder"))  # type: ignore[arg-type]
    assert reply.control == FAILED
    assert "not allowed" in reply.info
    assert reply.data is None


def test_request_without_node_is_refused(table: JobTable, source: Path) -> None:
    add_job(table, source)
    message = Message("j1", Control.TRANSFER_START.value, "0", data=None, info=str(source))
    reply = ask(BackendService(None, table), message)  # type: ignore[arg-type]
    assert reply.control == FAILED
    assert "not allowed" in reply.info


def test_unknown_job_is_refused(table: JobTable, source: Path) -> None:
    add_job(table, source)
    reply = ask(BackendService(None, table), chunk_request(source, 0, job_id="nope"))  # type: ignore[arg-type]
    assert reply.control == FAILED
    assert "not allowed" in reply.info


def test_completed_job_is_refused(table: JobTable, source: Path) -> None:
    add_job(table, source, nodes=("n1",))
    table.apply("n1", Message("j1", END, "ADD"))
    assert table.running("j1") is None
    reply = ask(BackendService(None, table), chunk_request(source, 0))  # type: ignore[arg-type]
    assert reply.control == FAILED
    assert "not allowed" in reply.info


def test_missing_file(table: JobTable, tmp_path: Path) -> None:
    gone = tmp_path / "gone.txt"
    add_job(table, gone)
    reply = ask(BackendService(None, table), chunk_request(gone, 0))  # type: ignore[arg-type]
    assert reply.control == FAILED
    assert reply.info == f"File [ {gone} ] was not found"


@pytest.mark.parametrize("offset", ["soon", "-5"])
def test_bad_offset(table: JobTable, source: Path, offset: str) -> None:
    add_job(table, source)
    message = Message("j1", Control.TRANSFER_START.value, offset, data={"node": "n1"}, info=str(source))
    reply = ask(BackendService(None, table), message)  # type: ignore[arg-type]
    assert reply.control == FAILED
    assert reply.info.startswith(f"cannot read [ {source} ]")


def test_unknown_request(table: JobTable) -> None:
    reply = ask(BackendService(None, table), Message("m1", Control.HEARTBEAT.value))  # type: ignore[arg-type]
    assert (reply.msg_id, reply.control, reply.info) == ("m1", FAILED, "unknown backend request")


# -- JOB_WAIT lookups ------------------------------------------------------------------
def notice(sha: str, identities: list[str], msg_id: str = "w1") -> Message:
    return Message(msg_id, Control.COORDINATION_NOTICE.value, data={"sha": sha, "identities": identities})


def test_job_states_by_fingerprint(table: JobTable) -> None:
    sha = "f" * 56
    table.create(Job.from_dict({"verb": "RUN", "job_id": "r1", "job_sha3_224": sha}), ["n1", "n2", "n3", "n4"])
    table.apply("n1", Message("r1", END, "RUN"))
    table.apply("n2", Message("r1", FAILED, "RUN"))
    table.apply("n3", Message("r1", PROCESSING, "RUN"))
    assert table.fingerprint_states(sha) == {"n1": END, "n2": FAILED}
    service = BackendService(None, table)  # type: ignore[arg-type]
    reply = ask(service, notice(sha, ["n1", "n2", "n3", "n4", "n9"]))
    assert (reply.msg_id, reply.control) == ("w1", Control.COORDINATION_ACK.value)
    assert reply.data == {"n1": END, "n2": FAILED}  # only finished nodes, only those asked for
    assert ask(service, notice(sha, ["n2"])).data == {"n2": FAILED}


def test_job_states_survive_completion_and_span_jobs(table: JobTable) -> None:
    sha = "e" * 56
    table.create(Job.from_dict({"verb": "RUN", "job_id": "r1", "job_sha3_224": sha}), ["n1"])
    table.create(Job.from_dict({"verb": "RUN", "job_id": "r2", "job_sha3_224": sha}), ["n2"])
    table.apply("n1", Message("r1", END, "RUN"))  # r1 completes and leaves the active table
    table.apply("n2", Message("r2", END, "RUN"))
    reply = ask(BackendService(None, table), notice(sha, ["n1", "n2"]))  # type: ignore[arg-type]
    assert reply.data == {"n1": END, "n2": END}


@pytest.mark.parametrize("data", [{"sha": "0" * 56, "identities": ["n1"]}, {}, None, "junk"])
def test_job_states_unknown_or_malformed(table: JobTable, data: Any) -> None:
    message = Message("w1", Control.COORDINATION_NOTICE.value, data=data)
    reply = ask(BackendService(None, table), message)  # type: ignore[arg-type]
    assert (reply.control, reply.data) == (Control.COORDINATION_ACK.value, {})


# -- the client's fetch against the real service, over the memory driver ----------------
@contextlib.asynccontextmanager
async def served(table: JobTable) -> AsyncIterator[tuple[BackendService, ClientTransport]]:
    """A running BackendService on a memory-driver server, and node n1's connected transport."""
    settings = config.defaults(driver="memory", memory_hub=f"backend-{uuid.uuid4()}")
    server = MemoryDriver.server_transport(settings)
    await server.start()
    client = MemoryDriver.client_transport(settings, "n1")
    await client.connect()
    service = BackendService(server, table)
    running = asyncio.create_task(service.run())
    try:
        yield service, client
    finally:
        running.cancel()
        client.close()
        server.close()


def test_fetch_streams_the_file_in_chunks(table: JobTable, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transfer, "CHUNK", 4096)
    path = tmp_path / "big.bin"
    content = bytes(range(256)) * 50  # 12800 bytes: 4 chunks of 4096
    path.write_bytes(content)
    add_job(table, path)
    offsets: list[str] = []

    async def scenario() -> tuple[str, bytes]:
        async with served(table) as (service, client):
            answer = service.answer

            async def counting(message: Message) -> Message:
                offsets.append(message.command)
                return await answer(message)

            service.answer = counting  # type: ignore[method-assign]
            handle = io.BytesIO()
            sha = await asyncio.to_thread(transfer.fetch, client, "j1", "n1", str(path), handle)  # a worker thread
            return sha, handle.getvalue()

    sha, got = asyncio.run(scenario())
    assert got == content
    assert sha == hashlib.sha3_224(content).hexdigest()
    assert offsets == ["0", "4096", "8192", "12288"]


def test_fetch_of_a_refused_path_fails(table: JobTable, source: Path, tmp_path: Path) -> None:
    add_job(table, source)

    async def scenario() -> None:
        async with served(table) as (_service, client):
            await asyncio.to_thread(transfer.fetch, client, "j1", "n1", str(tmp_path / "other"), io.BytesIO())

    with pytest.raises(transfer.TransferError, match="Transfer failed: transfer of .* is not allowed"):
        asyncio.run(scenario())


# -- the service loop --------------------------------------------------------------------
def test_run_drops_malformed_frames_and_answers_the_rest(table: JobTable, source: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    add_job(table, source)

    def explode(*_args: Any) -> Any:
        raise RuntimeError("disk on fire")

    def ask_over(client: ClientTransport, message: Message) -> Message:
        with client.open_backend() as connection:
            (reply,) = wire.decode(connection.request(wire.encode([message]), 5))
            return reply

    async def scenario() -> tuple[Message, Message, int]:
        async with served(table) as (service, client):
            with client.open_backend() as connection, contextlib.suppress(TimeoutError):
                await asyncio.to_thread(connection.request, b"not msgpack", 0.01)  # dropped: never answered
            assert await until(lambda: service.dropped.total == 1)
            good = await asyncio.to_thread(ask_over, client, chunk_request(source, 0, size=None))
            monkeypatch.setattr(backend, "_read", explode)
            failed = await asyncio.to_thread(ask_over, client, chunk_request(source, 0, node="n2"))
            return good, failed, service.dropped.total

    good, failed, dropped = asyncio.run(scenario())
    assert dropped == 1
    assert (good.control, good.data) == (TRANSFER_END, CONTENT)
    assert (failed.control, failed.info) == (FAILED, "backend error: disk on fire")
