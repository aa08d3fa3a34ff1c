"""Shared fixtures (the shared helpers are in ``_helpers.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from _redis import RedisServer


@pytest.fixture(params=["websocket", "polling", "upgrade"])
def transports(request: pytest.FixtureRequest) -> list[str]:
    """Each Engine.IO transport: websocket only, polling only, polling then websocket."""
    return {
        "websocket": ["websocket"],
        "polling": ["polling"],
        "upgrade": ["polling", "websocket"],
    }[request.param]


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own, on a free port of 127.0.0.1."""
    (tmp_path / "redis").mkdir()
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()
