"""Node registry: expiry after missed heartbeats, holds (REBOOT) that outlast them."""

from __future__ import annotations

import time

import pytest

from directord.server.registry import NodeRegistry


@pytest.fixture
def registry() -> NodeRegistry:
    registry = NodeRegistry(heartbeat_interval=1.0)
    registry.heartbeat("n1", {"session": "s1"})
    return registry


def test_first_heartbeat_joins_and_a_new_session_is_a_restart(registry: NodeRegistry) -> None:
    assert registry.heartbeat("n1", {"session": "s1"})[1:] == (False, False)
    assert registry.heartbeat("n1", {"session": "s2"})[1:] == (False, True)
    assert registry.heartbeat("n2", {"session": "x"})[1:] == (True, False)


def test_a_hold_outlasts_the_heartbeat_expiry(registry: NodeRegistry) -> None:
    registry.hold("n1", 600, "held (REBOOT)", "job-1")
    node = registry.get("n1")
    assert registry.is_held("n1")
    assert node.expire_time >= time.time() + 599
    registry.heartbeat("n1", {"session": "s1"})  # the same client, still counting down to the reboot
    assert registry.is_held("n1") and node.expire_time >= time.time() + 599
    assert node.to_dict()["state"] == "held (REBOOT)"


def test_a_restart_alone_keeps_the_hold_release_ends_it(registry: NodeRegistry) -> None:
    registry.hold("n1", 600, "held (REBOOT)", "job-1")
    registry.heartbeat("n1", {"session": "s2"})  # the server decides: was the REBOOT already done?
    assert registry.is_held("n1") and registry.get("n1").held_by == "job-1"
    registry.release("n1")
    registry.heartbeat("n1", {"session": "s2"})
    node = registry.get("n1")
    assert not registry.is_held("n1") and node.held_by == ""
    assert node.expire_time <= time.time() + registry.ttl
    assert node.to_dict()["state"] == "active"


def test_a_hold_that_ran_out_ends_at_the_next_heartbeat(registry: NodeRegistry) -> None:
    registry.hold("n1", 0.0, "held (REBOOT)", "job-1")
    assert not registry.is_held("n1")
    registry.heartbeat("n1", {"session": "s1"})
    assert registry.get("n1").held == ""


def test_holding_an_unknown_node_does_nothing(registry: NodeRegistry) -> None:
    registry.hold("ghost", 600, "held (REBOOT)", "job-1")
    assert registry.get("ghost") is None and not registry.is_held("ghost")


def test_silence_while_the_server_is_behind_on_reading_is_not_expiry(registry: NodeRegistry,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    start = time.time()
    registry.reading(behind=True)  # a backlog: this node's next heartbeat may be in it
    monkeypatch.setattr(time, "time", lambda: start + 60)  # well past the 3 s expiry
    assert registry.is_live("n1") and [n.identity for n in registry.live()] == ["n1"]
    assert registry.expire() == []
    registry.reading(behind=True)  # still behind: judged as of when it fell behind
    assert registry.expire() == []
    registry.reading(behind=False)  # caught up, and still nothing from n1: it is gone
    assert not registry.is_live("n1")
    assert [n.identity for n in registry.expire()] == ["n1"]
