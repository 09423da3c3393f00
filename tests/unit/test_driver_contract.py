"""The driver contract (``directord.testing.DriverContract``) for the built-in drivers:
zmq on free 127.0.0.1 ports, memory on a hub of each test's own."""

from __future__ import annotations

import pytest

from directord.testing import DriverContract


class TestBuiltinDrivers(DriverContract):
    @pytest.fixture(params=["zmq", "memory"])
    def driver_name(self, request: pytest.FixtureRequest) -> str:
        return request.param
