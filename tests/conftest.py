"""Shared fixtures (the shared helpers are in ``_helpers.py``)."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["websocket", "polling", "upgrade"])
def transports(request: pytest.FixtureRequest) -> list[str]:
    """Each Engine.IO transport: websocket only, polling only, polling then websocket."""
    return {
        "websocket": ["websocket"],
        "polling": ["polling"],
        "upgrade": ["polling", "websocket"],
    }[request.param]
