"""The driver contract (``directord.testing.DriverContract``) for the built-in drivers:
zmq on free 127.0.0.1 ports, memory on a hub of each test's own, redis on a key prefix
of each test's own on a private redis-server."""

from __future__ import annotations

import pytest

from directord.testing import DriverContract, DriverKit
from directord.testing.drivers import RedisKit


class TestBuiltinDrivers(DriverContract):
    @pytest.fixture(params=["zmq", "memory", "redis"])
    def driver_name(self, request: pytest.FixtureRequest) -> str:
        if request.param == "redis":
            self.redis_url = request.getfixturevalue("redis_server")
        return request.param

    def kit(self, driver_name: str) -> DriverKit:
        if driver_name == "redis":
            return RedisKit(driver_name, self.redis_url)
        return super().kit(driver_name)
