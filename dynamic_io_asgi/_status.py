"""The status page (placeholder until the status page lands)."""

from __future__ import annotations

from typing import Any


async def serve_status(middleware: Any, scope: Any, receive: Any, send: Any) -> bool:
    """Serve the status page; ``False`` hands the request on to the wrapped app."""
    return False
