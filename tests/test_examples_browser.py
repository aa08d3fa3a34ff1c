"""The examples' pages in headless Chromium, each example started by its documented command.

Every request a page makes to anything but loopback (the CDN included) is blocked and
recorded, so these tests show what a person sees offline. Chromium maps ``*.test`` to
127.0.0.1 and resolves ``*.localhost`` to loopback itself.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from _examples import (
    LOCAL_CLIENT,
    MULTIPROCESS,
    Running,
    connected,
    demo_command,
    example_env,
    multiprocess_command,
    redis_server,
    running,
)
from _helpers import CHROMIUM, chromium_args
from _redis import TIMEOUT

playwright_api = pytest.importorskip("playwright.async_api")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM.exists() and LOCAL_CLIENT.exists()),
    reason="/usr/bin/chromium or tests/js/node_modules missing (run scripts/bootstrap.sh)",
)


def is_loopback(url: str) -> bool:
    """Whether ``url`` goes to this machine: 127.0.0.1, localhost, ``*.localhost``, ``*.test``
    (which the browser maps to 127.0.0.1), or a URL that needs no network (``data:``)."""
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about"):
        return True
    host = parts.hostname or ""
    return host in ("127.0.0.1", "localhost", "[::1]", "::1") or host.endswith(
        (".localhost", ".test")
    )


@dataclass
class Browser:
    """A Chromium context whose pages reach loopback only, and what its pages reported."""

    context: Any
    blocked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # console errors, page errors, failures

    async def open(self, url: str, width: int, height: int = 800) -> Any:
        """A new page of ``width`` x ``height`` CSS pixels at ``url``."""
        page = await self.context.new_page()
        await page.set_viewport_size({"width": width, "height": height})
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        page.on("requestfailed", self._failed)
        await page.goto(url)
        return page

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text}")

    def _failed(self, request: Any) -> None:
        if is_loopback(request.url):  # the blocked ones are in self.blocked
            self.errors.append(f"request failed: {request.url} {request.failure}")

    async def _route(self, route: Any) -> None:
        if is_loopback(route.request.url):
            await route.continue_()
        else:
            self.blocked.append(route.request.url)
            await route.abort("internetdisconnected")


@contextlib.asynccontextmanager
async def chromium(port: int) -> AsyncIterator[Browser]:
    """Headless Chromium that may reach the example at ``port`` and nothing off this machine."""
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=chromium_args(port),
        )
        try:
            context = await browser.new_context()
            context.set_default_timeout(TIMEOUT * 1000)
            watched = Browser(context)
            await context.route("**/*", watched._route)
            yield watched
        finally:
            await browser.close()


def origin(example: Running, host: str) -> str:
    return f"http://{host}:{example.port}"


# -- examples/multiprocess: the page, served by one process, offline -------------------------


@contextlib.asynccontextmanager
async def multiprocess(tmp_path: Path, **env: str) -> AsyncIterator[Running]:
    """One process of the multi-process example by its documented command, with a Redis."""
    with redis_server(tmp_path) as redis:
        environment = example_env(REDIS_URL=redis.url, REDIS_CHANNEL="dynamic-io-page", **env)
        argv, log = multiprocess_command(), tmp_path / "app.log"
        async with running(argv, log, cwd=MULTIPROCESS, env=environment) as example:
            yield example
    example.assert_stopped_cleanly()


async def served_by(page: Any) -> str:
    """What the page says after "Served by", once it says more than "?"."""
    process = page.locator("#process")
    await page.wait_for_function("document.getElementById('process').textContent !== '?'")
    text: str = await process.inner_text()
    return text


async def test_multiprocess_page_uses_the_local_client(tmp_path: Path) -> None:
    async with multiprocess(tmp_path) as example, chromium(example.port) as browser:
        alpha = await browser.open(origin(example, "alpha.test") + "/", 800)
        main = await browser.open(origin(example, "127.0.0.1") + "/", 800)
        for page in (alpha, main):  # the default name: the pid of the uvicorn process
            assert await served_by(page) == f"pid {example.process.pid}"
        assert await alpha.inner_text("#host") == f"alpha.test:{example.port}"

        await alpha.fill("#text", "hello from alpha")
        await alpha.press("#text", "Enter")
        await alpha.locator("#log", has_text="hello from alpha").wait_for()
        await main.fill("#text", "hello from main")
        await main.press("#text", "Enter")
        await main.locator("#log", has_text="hello from main").wait_for()
        assert (await alpha.inner_text("#log")).strip() == "hello from alpha"  # alpha's own
        assert browser.blocked == [] and browser.errors == []


async def test_multiprocess_page_without_a_local_client_says_so(tmp_path: Path) -> None:
    async with (
        multiprocess(tmp_path, SOCKETIO_CLIENT_JS="cdn") as example,
        chromium(example.port) as browser,
    ):
        page = await browser.open(origin(example, "alpha.test") + "/", 800)
        assert await served_by(page) == "? (the Socket.IO client did not load)"
        assert [urlsplit(url).hostname for url in browser.blocked] == ["cdn.socket.io"]


# -- examples/demo at a desktop's width and at a phone's -------------------------------------

# Every element that reaches past the left or right edge of the viewport.
OUTSIDE = """() => {
  const width = document.documentElement.clientWidth;
  const outside = [];
  for (const element of document.querySelectorAll("body *")) {
    const box = element.getBoundingClientRect();
    if (box.width > 0 && (box.left < -0.5 || box.right > width + 0.5)) {
      const name = element.tagName.toLowerCase() + (element.id ? "#" + element.id : "");
      outside.push(`${name} ${Math.round(box.left)}..${Math.round(box.right)}`);
    }
  }
  return outside;
}"""
LONG_ROOM = "quarterly-planning-and-reviews-1"  # 32 characters, the longest a room name may be
LONG_WORD = "https://example.com/" + "a-long-unbroken-path/" * 6
NICKS = ["ada-lovelace-of-london", "grace-brewster-hopper", "katherine-johnson-of-wv"]  # <= 24


async def say(page: Any, text: str) -> None:
    await page.fill("#text", text)
    await page.press("#text", "Enter")
    await page.locator("#messages li", has_text=text[:40]).wait_for()


async def horizontal_overflow(page: Any) -> tuple[int, list[str]]:
    """The page's scroll width and the elements outside the viewport, left or right."""
    scroll_width: int = await page.evaluate("document.documentElement.scrollWidth")
    outside: list[str] = await page.evaluate(OUTSIDE)
    return scroll_width, outside


async def box(page: Any, selector: str) -> dict[str, float]:
    found: dict[str, float] = await page.locator(selector).bounding_box()
    return found


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (390, 844)])
async def test_demo_fits_the_screen(tmp_path: Path, width: int, height: int) -> None:
    async with (
        running(demo_command(), tmp_path / "demo.log") as example,
        chromium(example.port) as browser,
    ):
        host = "marketing-team.localhost"  # long names everywhere: host, nicks, room, words
        url = origin(example, host) + f"/?nick={NICKS[0]}#general"
        page = await browser.open(url, width, height)
        await page.wait_for_function("window.demo && window.demo.joined")
        await say(page, "Hello! The agenda is at " + LONG_WORD)
        await page.fill("#new-room-name", LONG_ROOM)
        await page.press("#new-room-name", "Enter")
        await page.wait_for_function(f"window.demo.room === '{LONG_ROOM}' && window.demo.joined")
        await page.locator(f"#rooms a[href='#{LONG_ROOM}']").wait_for()
        async with contextlib.AsyncExitStack() as others:
            for nick in NICKS[1:]:
                room = await others.enter_async_context(
                    connected(example, host, f"/room/{LONG_ROOM}", {"nick": nick})
                )
                await room.call("join", namespace=f"/room/{LONG_ROOM}", timeout=TIMEOUT)
            await page.locator("#members", has_text=f"{len(NICKS)} members").wait_for()
            await say(page, "A long room name, and a long link: " + LONG_WORD)
            await check_fits(page, width)
            await page.screenshot(path=str(tmp_path / f"demo-{width}.png"))
        assert browser.blocked == [] and browser.errors == []
    example.assert_stopped_cleanly()


async def check_fits(page: Any, width: int) -> None:
    """Nothing reaches past the sides of the screen, the layout suits the width, and the
    message box is on the screen."""

    scroll_width, outside = await horizontal_overflow(page)
    assert scroll_width <= width and outside == []
    sidebar, chat = await box(page, ".sidebar"), await box(page, ".chat")
    if width > 640:  # side by side
        assert sidebar["x"] + sidebar["width"] <= chat["x"] + 0.5
    else:  # the sidebar above the conversation
        assert sidebar["y"] + sidebar["height"] <= chat["y"] + 0.5
    await playwright_api.expect(page.locator("#text")).to_be_in_viewport(ratio=1)
