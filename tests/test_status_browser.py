"""The status page as a person sees it: headless Chromium (Playwright) against a real server.

``UPDATE_DOCS=1`` copies the screenshot to ``docs/status.png``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import socketio
from _helpers import CHROMIUM, TIMEOUT, chromium_args, client, serve

from dynamic_io_asgi import DynamicIO

MAIN = {"Host": "main.test"}
DOCS_SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "status.png"

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium")


def make_app() -> DynamicIO:
    sio = socketio.AsyncServer(async_mode="asgi", ping_interval=1, ping_timeout=2)
    app = DynamicIO(sio, host="main.test", public_status=True, retirement=30)

    @app.setup_namespace("*")
    async def setup(nsp: Any, match: re.Match[str]) -> None:
        @nsp.on("join")
        async def join(sid: str, room: str) -> bool:
            await nsp.enter_room(sid, room)
            return True

    @app.setup_namespace(re.compile(r"^//[^/]+/game-\d+$"))
    async def game(nsp: Any, match: re.Match[str]) -> None:
        await setup(nsp, match)
        nsp.retirement = 120

    return app


@contextlib.asynccontextmanager
async def browser(port: int) -> Any:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=chromium_args(port),
        )
        try:
            yield chromium
        finally:
            await chromium.close()


async def test_the_status_page_in_chromium(tmp_path: Path) -> None:
    from playwright.async_api import expect

    app = make_app()
    async with serve(app) as url:
        port = urlsplit(url).port
        assert port is not None
        async with (
            client(url, "main.test", namespaces=["/chat"]) as alice,
            client(url, "main.test", namespaces=["/chat"]) as bob,
            client(url, "a.test", namespaces=["/chat"], transports=["polling"]) as carol,
            client(url, "a.test", namespaces=["/chat", "/game-7"]) as dave,
            browser(port) as chromium,
        ):
            for person, namespace, room in [
                (alice, "/chat", "lobby"),
                (bob, "/chat", "lobby"),
                (bob, "/chat", "moderators"),
                (dave, "/game-7", "table-1"),
            ]:
                assert await person.call("join", room, namespace=namespace, timeout=TIMEOUT)
            async with client(url, "b.test", namespaces=["/news"]):
                pass
            # Wait (bounded) until b.test's session is gone and the retirement
            # task has started the idle clock of its /news.
            async with asyncio.timeout(TIMEOUT), httpx.AsyncClient() as http:
                while True:
                    response = await http.get(url + "/socket.io/status.json", headers=MAIN)
                    document = response.json()
                    (news,) = [n for n in document["namespaces"] if n["name"] == "//b.test/news"]
                    sessions = document["totals"]["engineio_sessions"]
                    if sessions == 4 and news["retires_in"] is not None:
                        break
                    await asyncio.sleep(0.05)

            page = await chromium.new_page(viewport={"width": 1100, "height": 600})
            main = f"http://main.test:{port}/socket.io/status"
            await page.goto(main)
            await expect(page.get_by_text("retires in")).to_be_visible()

            await expect(page).to_have_title("Socket.IO status")
            totals = page.locator(".totals")
            await expect(totals.locator(".total", has_text="Engine.IO sessions")).to_contain_text(
                "4"
            )
            await expect(totals.locator(".total", has_text="Live namespaces")).to_contain_text("4")
            sections = page.locator("section.nsp")
            await expect(sections.locator(".nsp-name")).to_have_text(
                ["/chat", "//a.test/chat", "//a.test/game-7", "//b.test/news"]
            )
            main_chat = sections.nth(0)
            await expect(main_chat.locator(".facts")).to_contain_text("2 sockets")
            await expect(main_chat.locator(".transport")).to_have_text(["websocket"] * 2)
            await expect(main_chat.get_by_text("moderators")).to_be_visible()
            a_chat = sections.nth(1)
            await expect(a_chat.locator(".facts")).to_contain_text("2 sockets")
            polling = a_chat.locator("tr", has_text=carol.get_sid("/chat"))
            await expect(polling.locator(".transport")).to_have_text("polling")
            await expect(sections.nth(2).locator(".tag")).to_contain_text(
                ["a.test", r"pattern ^//[^/]+/game-\d+$"]
            )
            await expect(sections.nth(3)).to_contain_text("No sockets")

            shot = tmp_path / "status.png"
            await page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
            if os.environ.get("UPDATE_DOCS") == "1":
                shutil.copyfile(shot, DOCS_SCREENSHOT)

            # The links work from where the page is: auto-refresh and the JSON view.
            await page.get_by_role("link", name="5 s", exact=True).click()
            await expect(page).to_have_url(main + "?refresh=5")
            await expect(page.locator('meta[http-equiv="refresh"]')).to_have_attribute(
                "content", "5"
            )
            await page.get_by_role("link", name="JSON", exact=True).click()
            await expect(page).to_have_url(main + ".json")
            document = await page.evaluate("() => JSON.parse(document.body.innerText)")
            assert document["totals"]["engineio_sessions"] == 4

            # Another host sees only its own namespaces, by short name.
            await page.goto(f"http://a.test:{port}/socket.io/status")
            await expect(page).to_have_title("Socket.IO status · a.test")
            await expect(sections.locator(".nsp-name")).to_have_text(["/chat", "/game-7"])
            await expect(page.locator("body")).not_to_contain_text("b.test")
            await expect(page.locator("body")).not_to_contain_text("lobby")
            await page.close()
