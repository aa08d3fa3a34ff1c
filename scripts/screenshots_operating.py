"""Make the screenshots of the docs' "Operating it" pages, in headless Chromium.

    .venv/bin/python scripts/screenshots_operating.py [admin-ui] [cluster] [--out docs/operating]

- ``admin-ui.png``: the Socket.IO Admin UI (the npm package ``@socket.io/admin-ui``, its
  built ``ui/dist`` from tests/js/node_modules, served on 127.0.0.1) logged in to an
  instrumented ``DynamicIO`` server; its dashboard lists the namespaces that clients of
  three hosts had created on demand, with their socket counts.
- ``cluster.png``: the HTML status page of one of three processes of
  ``examples/multiprocess/app.py`` that share a throw-away redis-server: the servers of
  the cluster, and on which server each namespace has its sockets.

Everything listens on 127.0.0.1 with ports from the OS; Chromium maps ``*.test`` to
127.0.0.1 and every request for another host (the UI's web fonts on CDNs) is aborted.
It uses the test suite's helpers (tests/_helpers.py, tests/_redis.py). Needs Playwright,
/usr/bin/chromium, redis-server and the npm packages of scripts/bootstrap.sh.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import socketio
from playwright.async_api import Browser, async_playwright, expect
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from _helpers import CHROMIUM, chromium_args, serve  # noqa: E402
from _redis import AppProcess, RedisServer, start_cluster  # noqa: E402

from dynamic_io_asgi import DynamicIO  # noqa: E402

OUTPUT = ROOT / "docs" / "operating"
ADMIN_UI = ROOT / "tests" / "js" / "node_modules" / "@socket.io" / "admin-ui" / "ui" / "dist"
TIMEOUT = 20.0
MAIN = "main.test"
CREDENTIALS = {"username": "admin", "password": "screenshot-only"}


@contextlib.asynccontextmanager
async def chromium(*urls: str) -> AsyncIterator[Browser]:
    """Headless Chromium that resolves ``*.test`` to 127.0.0.1 and may use these ports."""
    ports = [urlsplit(url).port for url in urls]
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=chromium_args(*ports)
        )
        try:
            yield browser
        finally:
            await browser.close()


async def local_only(context: Any) -> None:
    """Abort every request of ``context`` that is not for 127.0.0.1 or ``*.test``."""

    async def route(route: Any) -> None:
        host = urlsplit(route.request.url).hostname or ""
        if host == "127.0.0.1" or host.endswith(".test"):
            await route.continue_()
        else:
            await route.abort()

    await context.route("**/*", route)


@contextlib.asynccontextmanager
async def clients(
    url: str, people: list[tuple[str, str, list[str]]]
) -> AsyncIterator[list[socketio.AsyncClient]]:
    """A python-socketio client per ``(host, transport, namespaces)``, connected to ``url``."""
    connected: list[socketio.AsyncClient] = []
    try:
        for host, transport, namespaces in people:
            sio = socketio.AsyncClient(reconnection=False)
            await sio.connect(
                url,
                headers={"Host": host},
                namespaces=namespaces,
                transports=[transport],
                wait_timeout=TIMEOUT,
            )
            connected.append(sio)
        yield connected
    finally:
        for sio in connected:
            await sio.disconnect()


async def until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll ``check`` until it holds; fail with ``what`` after TIMEOUT seconds."""
    deadline = time.monotonic() + TIMEOUT
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


# -- the Admin UI ------------------------------------------------------------------------


async def admin_ui(output: Path) -> None:
    """The Admin UI's dashboard with namespaces of three hosts."""
    if not (ADMIN_UI / "index.html").exists():
        raise SystemExit(f"{ADMIN_UI} is missing: run scripts/bootstrap.sh")
    ui = Starlette(routes=[Mount("/", StaticFiles(directory=ADMIN_UI, html=True))])
    async with serve(ui) as ui_url:
        sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins=[ui_url])
        app = DynamicIO(socketio.ASGIApp(sio), host=MAIN, retirement=60)
        app.setup_namespace("*", lambda nsp, match: None)
        admin = app.instrument(auth=CREDENTIALS, server_stats_interval=0.5)
        try:
            async with serve(app) as url:
                await _admin_ui(url, ui_url, output)
                await admin.shutdown()  # its stats task, before the server stops
        finally:
            admin.uninstrument()


async def _admin_ui(url: str, ui_url: str, output: Path) -> None:
    people = [
        ("alpha.test", "websocket", ["/chat"]),
        ("alpha.test", "websocket", ["/chat", "/game-7"]),
        ("alpha.test", "polling", ["/chat"]),
        ("beta.test", "websocket", ["/chat"]),
        ("beta.test", "websocket", ["/news"]),
        ("gamma.test", "websocket", ["/game-42"]),
        (MAIN, "websocket", ["/lobby"]),
    ]
    async with chromium(ui_url, url) as browser:
        context = await browser.new_context(viewport={"width": 1400, "height": 860})
        context.set_default_timeout(TIMEOUT * 1000)
        await local_only(context)
        page = await context.new_page()
        await page.goto(ui_url + "/")
        modal = page.locator(".v-dialog--active")
        await modal.get_by_label("Server URL").fill(f"http://{MAIN}:{urlsplit(url).port}")
        await modal.get_by_label("Username").fill(CREDENTIALS["username"])
        await modal.get_by_label("Password").fill(CREDENTIALS["password"])
        await modal.get_by_role("button", name="Connect").click()
        await expect(modal).to_have_count(0)
        await expect(page.locator(".v-app-bar .d-lg-flex .v-chip")).to_have_text("connected")
        # The clients come once the UI listens: its charts show their connections.
        async with clients(url, people):
            title = page.locator(".v-card__title", has_text="Namespaces")
            listed = page.locator(".v-card", has=title).locator("tbody td.key-column")
            namespaces = {(host, name) for host, _, names in people for name in names}
            await expect(listed).to_have_count(len(namespaces) + 1)  # and /admin
            await page.wait_for_timeout(1000)  # two more server_stats: the charts settle
            await page.screenshot(path=str(output))


# -- the cluster view of the status page -------------------------------------------------


async def cluster(output: Path, folder: Path) -> None:
    """The status page of p1 of three processes over Redis, once it lists them all."""
    redis = RedisServer(folder)
    redis.start()
    processes: list[AppProcess] = []
    try:
        processes = start_cluster(
            folder,
            redis.url,
            3,
            DYNAMIC_IO_STATUS="1",
            REDIS_CHANNEL="screenshot",
            DYNAMIC_IO_RETIREMENT="60",
        )
        await _cluster(processes, output)
    finally:
        for process in processes:
            process.stop()
        redis.stop()


async def _cluster(processes: list[AppProcess], output: Path) -> None:
    p1, p2, p3 = processes
    async with contextlib.AsyncExitStack() as stack:
        enter = stack.enter_async_context
        await enter(clients(p1.url, [("alpha.test", "websocket", ["/chat"])] * 2))
        (room,) = await enter(clients(p1.url, [("beta.test", "websocket", ["/news"])]))
        await room.call("join", "editors", namespace="/news", timeout=TIMEOUT)
        await enter(
            clients(
                p2.url,
                [("alpha.test", "polling", ["/chat"]), ("beta.test", "websocket", ["/news"])],
            )
        )
        await enter(clients(p3.url, [("alpha.test", "websocket", ["/chat", "/game-7"])]))
        http = await enter(httpx.AsyncClient(timeout=TIMEOUT))

        async def everything_everywhere() -> bool:
            response = await http.get(p1.url + "/socket.io/status.json", headers={"Host": MAIN})
            doc = response.json()
            servers = doc.get("servers", [])
            return (
                len(servers) == 3
                and all(server["healthy"] for server in servers)
                and sum(server["sockets"] for server in servers) == 7
            )

        await until(everything_everywhere, "p1's page to list the three processes")
        async with chromium(p1.url) as browser:
            page = await browser.new_page(viewport={"width": 1100, "height": 700})
            await page.goto(f"http://{MAIN}:{p1.port}/socket.io/status")
            await expect(page.locator("table.servers tbody tr")).to_have_count(3)
            await page.screenshot(path=str(output), full_page=True)


async def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    options.add_argument("which", nargs="*", help="admin-ui, cluster (default: both)")
    options.add_argument("--out", type=Path, default=OUTPUT, help="folder of the PNG files")
    args = options.parse_args()
    which = args.which or ["admin-ui", "cluster"]
    if not set(which) <= {"admin-ui", "cluster"}:
        options.error(f"unknown screenshot in {which}: admin-ui or cluster")
    args.out.mkdir(parents=True, exist_ok=True)
    if "admin-ui" in which:
        await admin_ui(args.out / "admin-ui.png")
        print(f"wrote {args.out / 'admin-ui.png'}")
    if "cluster" in which:
        import tempfile

        with tempfile.TemporaryDirectory() as folder:
            await cluster(args.out / "cluster.png", Path(folder))
        print(f"wrote {args.out / 'cluster.png'}")


if __name__ == "__main__":
    asyncio.run(main())
