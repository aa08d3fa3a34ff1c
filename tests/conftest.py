"""Shared fixtures (the shared helpers are in ``_helpers.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from _redis import RedisServer

from dynamic_io_asgi import _tasks


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


@pytest.fixture(autouse=True)
def _tracebacks_afresh() -> Iterator[None]:
    """Each test logs the first traceback of each failing callback (the package logs one
    per callback at most every 10 s, and the tests' callbacks are shared code)."""
    _tasks._last_traceback.clear()
    yield
