"""The Socket.IO Admin UI's server side through ``app.instrument()``: python-socketio's
own instrumentation, with a dashboard that follows dynamic namespaces."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import socketio
from _helpers import TIMEOUT, client, serve

from dynamic_io_asgi import DynamicIO

MAIN = "main.test"


async def stats_until(stats: asyncio.Queue[Any], predicate: Any) -> dict[str, Any]:
    """The first ``server_stats`` whose namespaces (name -> sockets) satisfy ``predicate``."""
    async with asyncio.timeout(TIMEOUT):
        while True:
            data = await stats.get()
            namespaces = {n["name"]: n["socketsCount"] for n in data["namespaces"]}
            if predicate(namespaces):
                return namespaces


def live_twice(names: dict[str, int]) -> bool:
    return names.get("//alpha.test/chat") == 2


async def test_the_dashboard_lists_live_namespaces_and_drops_retired_ones() -> None:
    """(One test for both transports: python-socketio's instrumentation patches
    python-engineio's socket class, so a process instruments one server at a time.)"""
    sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins="*")
    app = DynamicIO(socketio.ASGIApp(sio), host=MAIN, retirement=0.1)
    app.setup_namespace("*", lambda nsp, match: None)
    admin = app.instrument(auth=False, server_stats_interval=0.1)
    assert isinstance(admin, socketio.async_admin.InstrumentedAsyncServer)
    stats: asyncio.Queue[Any] = asyncio.Queue()
    try:
        await watch_dashboard(app, admin, stats)
    finally:
        admin.uninstrument()


async def watch_dashboard(app: DynamicIO, admin: Any, stats: asyncio.Queue[Any]) -> None:
    async with serve(app) as url:
        async with client(url, MAIN, namespaces=["/admin"]) as ui:
            ui.on("server_stats", stats.put_nowait, namespace="/admin")
            await stats_until(stats, lambda names: "/admin" in names)
            async with (
                client(url, "alpha.test", namespaces=["/chat"], transports=["websocket"]),
                client(url, "alpha.test", namespaces=["/chat"], transports=["polling"]),
            ):
                live = await stats_until(stats, lambda names: live_twice(names))
                assert live["//alpha.test/chat"] == 2
            # Retired within one stats interval of its retirement.
            async with asyncio.timeout(TIMEOUT):
                while "//alpha.test/chat" in app.namespaces:
                    await asyncio.sleep(0.02)
            while not stats.empty():
                stats.get_nowait()
            await stats_until(stats, lambda names: "//alpha.test/chat" not in names)
            # A tenant's /admin is its own: it sees nothing of the dashboard.
            async with client(url, "alpha.test", namespaces=["/admin"]) as tenant:
                tenant_stats: list[Any] = []
                tenant.on("server_stats", tenant_stats.append, namespace="/admin")
                assert "//alpha.test/admin" in app.namespaces
                await stats_until(stats, lambda names: "//alpha.test/admin" in names)
                assert tenant_stats == []
        await admin.shutdown()  # its stats task


def test_instrument_needs_what_sio_instrument_returns() -> None:
    from dynamic_io_asgi._admin import live_server_stats

    with pytest.raises(TypeError, match="instrument"):
        live_server_stats(object())
