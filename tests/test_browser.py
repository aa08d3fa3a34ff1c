"""End to end in a real browser: headless Chromium (Playwright) with the official client.

The test app serves a page and ``socket.io.min.js`` (from tests/js/node_modules)
beside Socket.IO. Chromium maps every ``*.test`` name to 127.0.0.1, so pages on
``http://alpha.test:PORT/`` and ``http://beta.test:PORT/`` are two virtual hosts
of one server, each its own origin.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import pytest
import socketio
from _helpers import CHROMIUM, CHROMIUM_ARGS, TIMEOUT, load_script, serve
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse
from starlette.routing import Route

from dynamic_io_asgi import DynamicIO, DynamicNamespace

CLIENT_JS = (
    Path(__file__).parent / "js" / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js"
)
playwright_api = pytest.importorskip("playwright.async_api")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM.exists() and CLIENT_JS.exists()),
    reason="/usr/bin/chromium or tests/js/node_modules missing (run scripts/bootstrap.sh)",
)

TIMEOUT_MS = TIMEOUT * 1000

# ?server=http://beta.test:PORT connects to another origin; by default the page's own.
PAGE = """<!doctype html>
<meta charset="utf-8">
<title>dynamic-io-asgi browser test</title>
<script src="/socket.io.min.js"></script>
<script>
  const server = new URLSearchParams(location.search).get("server") || "";
  window.received = [];
  window.state = {};
  const socket = io(server + "/chat");
  socket.on("connect", () => {
    socket.emit("whoami", (info) => { window.state.whoami = info; });
  });
  socket.on("connect_error", (err) => { window.state.error = err.message; });
  socket.on("chat", (message) => window.received.push(message));
  window.socket = socket;
</script>
"""


async def page(request: Request) -> HTMLResponse:
    return HTMLResponse(PAGE)


async def client_script(request: Request) -> FileResponse:
    return FileResponse(CLIENT_JS, media_type="text/javascript")


WEB = Starlette(routes=[Route("/", page), Route("/socket.io.min.js", client_script)])


def make_app(cors_allowed_origins: Any = None) -> DynamicIO:
    sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins=cors_allowed_origins)
    app = DynamicIO(socketio.ASGIApp(sio, other_asgi_app=WEB), host="main.test")

    @app.setup_namespace(re.compile(r"^(//[^/]+)?/chat$"))
    def chat(nsp: DynamicNamespace, match: re.Match[str]) -> None:
        @nsp.on("whoami")
        async def whoami(sid: str) -> dict[str, Any]:
            return {"host": nsp.host, "fullname": nsp.fullname}

        @nsp.on("chat")
        async def say(sid: str, message: str) -> None:
            await nsp.emit("chat", message)

    return app


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    """A headless Chromium browser context (one per test)."""
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            context = await browser.new_context()
            context.set_default_timeout(TIMEOUT_MS)
            yield context
        finally:
            await browser.close()


def origin(url: str, host: str) -> str:
    """``http://host:PORT`` for the server at ``url``."""
    return f"http://{host}:{urlsplit(url).port}"


async def open_page(context: Any, url: str) -> Any:
    tab = await context.new_page()
    await tab.goto(url)
    await tab.wait_for_function("window.state.whoami || window.state.error")
    return tab


async def test_pages_on_two_hosts_see_only_their_own_messages() -> None:
    app = make_app()
    async with serve(app) as url, chromium() as context:
        alpha = await open_page(context, origin(url, "alpha.test") + "/")
        beta = await open_page(context, origin(url, "beta.test") + "/")
        assert await alpha.evaluate("window.state.whoami") == {
            "host": "alpha.test",
            "fullname": "//alpha.test/chat",
        }
        assert await beta.evaluate("window.state.whoami") == {
            "host": "beta.test",
            "fullname": "//beta.test/chat",
        }
        for tab in (alpha, beta):  # the browser's default: polling, then websocket
            await tab.wait_for_function("window.socket.io.engine.transport.name === 'websocket'")

        await alpha.evaluate("window.socket.emit('chat', 'hello from alpha')")
        await beta.evaluate("window.socket.emit('chat', 'hello from beta')")
        for host in ("alpha.test", "beta.test"):
            await (await app.of("/chat", host)).emit("chat", "done")
        for tab in (alpha, beta):
            await tab.wait_for_function("window.received.includes('done')")
        assert await alpha.evaluate("window.received") == ["hello from alpha", "done"]
        assert await beta.evaluate("window.received") == ["hello from beta", "done"]


def alpha_only(origin: str | None) -> bool:
    """CORS: only pages served from alpha.test may reach the server cross-origin."""
    return origin is not None and urlsplit(origin).hostname == "alpha.test"


CROSS_ORIGIN: list[tuple[str, dict[str, Any]]] = [
    # (the page's host, window.state once it has connected or failed)
    ("alpha.test", {"whoami": {"host": "beta.test", "fullname": "//beta.test/chat"}}),
    ("gamma.test", {"error": "xhr poll error"}),  # the handshake fails the CORS check
]


@pytest.mark.parametrize(("page_host", "expected"), CROSS_ORIGIN)
async def test_page_reaches_another_hosts_namespace_with_cors(
    page_host: str, expected: dict[str, Any]
) -> None:
    app = make_app(cors_allowed_origins=alpha_only)
    async with serve(app) as url, chromium() as context:
        beta = origin(url, "beta.test")
        tab = await open_page(context, origin(url, page_host) + f"/?server={beta}")
        assert await tab.evaluate("window.state") == expected
        if "whoami" in expected:
            await (await app.of("/chat", "beta.test")).emit("chat", "for beta")
            await tab.wait_for_function("window.received.length > 0")
            assert await tab.evaluate("window.received") == ["for beta"]
        else:
            assert "//beta.test/chat" not in app.namespaces


def load_demo() -> ModuleType:
    """A fresh copy of examples/demo/app.py."""
    path = Path(__file__).parent.parent / "examples" / "demo" / "app.py"
    return load_script(path, "demo_app_under_test")


async def say(tab: Any, text: str) -> None:
    await tab.fill("#text", text)
    await tab.press("#text", "Enter")
    await tab.locator("#messages li", has_text=text).wait_for()


async def test_demo_tenants_chat_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCKETIO_CLIENT_JS", str(CLIENT_JS))
    demo = load_demo()
    async with serve(demo.app) as url, chromium() as context:
        tabs = {}
        for host, nick in (("alpha.test", "ada"), ("beta.test", "bob")):
            tabs[host] = tab = await context.new_page()
            await tab.goto(origin(url, host) + f"/?nick={nick}#general")
            await tab.wait_for_function("window.demo.joined")
        alpha, beta = tabs["alpha.test"], tabs["beta.test"]
        assert await alpha.inner_text("#fullname") == "//alpha.test/room/general"
        assert await beta.inner_text("#fullname") == "//beta.test/room/general"

        await say(alpha, "hello from alpha")
        await say(beta, "hello from beta")
        assert "hello from beta" not in await alpha.inner_text("#messages")
        assert "hello from alpha" not in await beta.inner_text("#messages")

        # a new room on alpha: alpha's lobby lists it, beta's does not
        await alpha.fill("#new-room-name", "design")
        await alpha.press("#new-room-name", "Enter")
        await alpha.wait_for_function("window.demo.room === 'design' && window.demo.joined")
        await alpha.locator("#rooms a[href='#design']").wait_for()
        await say(alpha, "in design")
        assert await beta.locator("#rooms a").all_inner_texts() == ["# general\n1"]
        assert sorted(demo.rooms) == [
            "//alpha.test/room/design",
            "//alpha.test/room/general",
            "//beta.test/room/general",
        ]
