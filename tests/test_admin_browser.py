"""The official Socket.IO Admin UI in headless Chromium against ``app.instrument()``.

The UI is the npm package ``@socket.io/admin-ui`` (its built ``ui/dist``, from
tests/js/node_modules), served by a second uvicorn server on 127.0.0.1; the page
reaches the Socket.IO server cross-origin at ``http://main.test:PORT`` (Chromium
maps ``*.test`` to 127.0.0.1), as it would from admin.socket.io. Every request
for another host (the UI's web fonts and icons on CDNs) is aborted: nothing
leaves 127.0.0.1.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import socketio
from _helpers import CHROMIUM, TIMEOUT, chromium_args, client, serve
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from dynamic_io_asgi import DynamicIO

ADMIN_UI = Path(__file__).parent / "js" / "node_modules" / "@socket.io" / "admin-ui" / "ui" / "dist"
playwright_api = pytest.importorskip("playwright.async_api")
pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium"),
    pytest.mark.skipif(
        not (ADMIN_UI / "index.html").exists(),
        reason="@socket.io/admin-ui missing from tests/js/node_modules (run scripts/bootstrap.sh)",
    ),
]

MAIN = "main.test"
LOCAL_HOSTS = {"127.0.0.1", MAIN}
CREDENTIALS = {"username": "admin", "password": "s3cret-for-the-test"}
STATS_INTERVAL = 0.5  # seconds between two server_stats
TIMEOUT_MS = TIMEOUT * 1000
# Retirement 0.3 s, then at most one stats interval: a few intervals is plenty.
RETIRED_MS = 10 * STATS_INTERVAL * 1000


def ui_app() -> Starlette:
    """The Admin UI's static files (a Starlette app: ``serve()`` runs the lifespan)."""
    return Starlette(routes=[Mount("/", StaticFiles(directory=ADMIN_UI, html=True))])


@contextlib.asynccontextmanager
async def chromium(*urls: str) -> AsyncIterator[tuple[Any, list[str]]]:
    """A headless Chromium context that may reach only ``LOCAL_HOSTS``, and the list
    of the URLs it was refused."""
    ports = [urlsplit(url).port for url in urls]
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=chromium_args(*ports),
        )
        try:
            # Wide enough for the UI's navigation drawer and status chip (lgAndUp).
            context = await browser.new_context(viewport={"width": 1400, "height": 900})
            context.set_default_timeout(TIMEOUT_MS)
            refused: list[str] = []

            async def only_local(route: Any) -> None:
                if urlsplit(route.request.url).hostname in LOCAL_HOSTS:
                    await route.continue_()
                else:
                    refused.append(route.request.url)
                    await route.abort()

            await context.route("**/*", only_local)
            yield context, refused
        finally:
            await browser.close()


async def test_the_admin_ui_dashboard_follows_dynamic_namespaces() -> None:
    async with serve(ui_app()) as ui_url:
        sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins=[ui_url])
        app = DynamicIO(socketio.ASGIApp(sio), host=MAIN, retirement=0.3)
        app.setup_namespace("*", lambda nsp, match: None)
        admin = app.instrument(auth=CREDENTIALS, server_stats_interval=STATS_INTERVAL)
        try:
            await use_the_ui(app, admin, ui_url)
        finally:
            admin.uninstrument()  # python-socketio patched engineio's AsyncSocket class


async def use_the_ui(app: DynamicIO, admin: Any, ui_url: str) -> None:
    expect = playwright_api.expect
    async with serve(app) as url:
        server_url = f"http://{MAIN}:{urlsplit(url).port}"
        async with chromium(ui_url, url) as (context, refused):
            page = await context.new_page()
            await page.goto(ui_url + "/")

            # The connection modal; python-socketio refuses a wrong password.
            modal = page.locator(".v-dialog--active")
            await modal.get_by_label("Server URL").fill(server_url)
            await modal.get_by_label("Username").fill(CREDENTIALS["username"])
            await modal.get_by_label("Password").fill("wrong")
            await modal.get_by_role("button", name="Connect").click()
            await expect(modal.locator(".red--text")).to_have_text(
                "Error: authentication failed", timeout=TIMEOUT_MS
            )
            await modal.get_by_label("Password").fill(CREDENTIALS["password"])
            await modal.get_by_role("button", name="Connect").click()
            await expect(modal).to_have_count(0, timeout=TIMEOUT_MS)
            status = page.locator(".v-app-bar .d-lg-flex .v-chip")
            await expect(status).to_have_text("connected", timeout=TIMEOUT_MS)

            # The dashboard's Namespaces card: name and socket count, from server_stats.
            title = page.locator(".v-card__title", has_text="Namespaces")
            card = page.locator(".v-card", has=title)
            cells = card.locator("tbody td")
            await expect(cells).to_have_text(["/admin", "1"], timeout=TIMEOUT_MS)

            async with (
                client(url, "alpha.test", namespaces=["/chat"]) as ws,
                client(url, "alpha.test", namespaces=["/chat"], transports=["polling"]) as poll,
            ):
                assert "//alpha.test/chat" in app.namespaces  # created on demand
                await expect(cells).to_have_text(
                    ["//alpha.test/chat", "2", "/admin", "1"], timeout=TIMEOUT_MS
                )

                # The Sockets view lists them under the namespace's full name.
                await page.get_by_role("link", name="Sockets").click()
                label = page.locator("label", has_text="Select namespace")
                await page.locator(".v-select", has=label).get_by_role("button").click()
                await page.get_by_role("option", name="//alpha.test/chat", exact=True).click()
                rows = page.locator(".v-data-table tbody tr")
                await expect(rows).to_have_count(2, timeout=TIMEOUT_MS)
                for sid, transport in [
                    (ws.get_sid("/chat"), "WebSocket"),
                    (poll.get_sid("/chat"), "HTTP long-polling"),
                ]:
                    row = rows.filter(has_text=sid)
                    await expect(row.locator("td")).to_have_text(
                        [sid, "127.0.0.1", transport, ""], timeout=TIMEOUT_MS
                    )

            # Both left: the view empties, and the namespace retires and leaves
            # the dashboard within a few stats intervals.
            await expect(page.locator(".v-data-table__empty-wrapper")).to_have_text(
                "No data available", timeout=TIMEOUT_MS
            )
            await page.get_by_role("link", name="Dashboard").click()
            # Names only: the UI lodash-merges each server_stats into the last one,
            # index by index, so a shorter list leaves its old tail behind, summed
            # into the counts (the card then says /admin has 2 sockets).
            await expect(card.locator("tbody td.key-column")).to_have_text(
                ["/admin"], timeout=RETIRED_MS
            )
            assert "//alpha.test/chat" not in app.namespaces
            await expect(status).to_have_text("connected")
            # Nothing but the UI's CDN stylesheets (web fonts, icons) tried to leave.
            assert {urlsplit(u).hostname for u in refused} <= {
                "fonts.googleapis.com",
                "cdn.jsdelivr.net",
            }
        await admin.shutdown()  # its stats task, before the server stops
