"""Lifecycle hooks, end to end: ``app.on_create``, ``app.on_retire`` and ``app.on_refuse``
(sync or async, as decorators), with real uvicorn and python-socketio clients."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import pytest
import socketio
from _helpers import TIMEOUT, client, serve

from dynamic_io_asgi import DynamicIO, DynamicNamespace

MAIN = "main.test"


async def refused(url: str, name: str, host: str = MAIN, **options: Any) -> None:
    c = socketio.AsyncClient(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await c.connect(
            url,
            headers={"Host": host},
            namespaces=[name],
            transports=["websocket"],
            wait_timeout=TIMEOUT,
            **options,
        )


async def test_hooks_see_creation_retirement_and_each_refusal() -> None:
    sio = socketio.AsyncServer(async_mode="asgi")
    app = DynamicIO(
        socketio.ASGIApp(sio), host=MAIN, retirement=0.1, setup_timeout=0.3, max_name_length=20
    )
    events: list[tuple[Any, ...]] = []
    retired = asyncio.Event()

    @app.setup_namespace("*")
    async def setup(nsp: DynamicNamespace, match: re.Match[str]) -> bool:
        if nsp.name == "/slow":
            await asyncio.Event().wait()
        if nsp.name == "/raise":
            raise KeyError("boom")
        if nsp.name == "/members":
            raise socketio.exceptions.ConnectionRefusedError("members only")
        nsp.on_retire(lambda nsp: events.append(("own on_retire", nsp.fullname)))
        return nsp.name != "/refuse"

    @app.on_create
    def created(nsp: DynamicNamespace) -> None:
        # Before the CONNECT goes on: the client is not in yet.
        events.append(("create", nsp.fullname, len(nsp.sockets)))

    @app.on_retire
    async def retiring(nsp: DynamicNamespace) -> None:
        events.append(("retire", nsp.fullname))
        retired.set()

    @app.on_refuse
    async def refusal(full: str, host: str | None, reason: str) -> None:
        events.append(("refuse", full, host, reason))

    async with serve(app) as url:
        async with client(url, "alpha.test", namespaces=["/chat"]):
            pass
        async with asyncio.timeout(TIMEOUT):
            await retired.wait()
        for name in ("/refuse", "/raise", "/members", "/slow", "/" + "x" * 30, "//beta.test/x"):
            await refused(url, name, "alpha.test")
    assert events[:3] == [
        ("create", "//alpha.test/chat", 0),
        ("own on_retire", "//alpha.test/chat"),
        ("retire", "//alpha.test/chat"),
    ]
    assert sorted(events[3:]) == sorted(
        [
            ("refuse", "//alpha.test/refuse", "alpha.test", "invalid"),
            ("refuse", "//alpha.test/raise", "alpha.test", "error"),
            ("refuse", "//alpha.test/members", "alpha.test", "rejected"),
            ("refuse", "//alpha.test/slow", "alpha.test", "timeout"),
            ("refuse", "//alpha.test/" + "x" * 30, "alpha.test", "limit"),
            ("refuse", "//beta.test/x", "alpha.test", "invalid"),
        ]
    )
    assert app.refused == {"invalid": 2, "rejected": 1, "error": 1, "limit": 1, "timeout": 1}


async def test_a_hook_that_raises_or_hangs_changes_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sio = socketio.AsyncServer(async_mode="asgi")
    app = DynamicIO(socketio.ASGIApp(sio), host=MAIN)
    app.setup_namespace("*", lambda nsp, match: nsp.on("echo", lambda sid, data: data))
    hung = asyncio.Event()

    @app.on_create
    def raises(nsp: DynamicNamespace) -> None:
        raise RuntimeError("hook bug")

    @app.on_create
    async def hangs(nsp: DynamicNamespace) -> None:
        hung.set()
        await asyncio.Event().wait()

    @app.on_create
    async def raises_later(nsp: DynamicNamespace) -> None:
        raise RuntimeError("async hook bug")

    with caplog.at_level(logging.ERROR, "dynamic_io_asgi"):
        async with serve(app) as url, client(url, "alpha.test", namespaces=["/chat"]) as c:
            assert await c.call("echo", 1, namespace="/chat", timeout=TIMEOUT) == 1
            await asyncio.wait_for(hung.wait(), TIMEOUT)
    # The lifespan shutdown cancelled the hanging hook; both bugs are logged.
    assert "hook bug" in caplog.text and "async hook bug" in caplog.text
    assert app.registry.hooks.tasks == set()


def test_hooks_must_be_callable() -> None:
    app = DynamicIO(socketio.AsyncServer(async_mode="asgi"))
    with pytest.raises(TypeError, match="on_create"):
        app.on_create("not a function")  # type: ignore[arg-type]
