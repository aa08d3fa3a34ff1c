"""Make docs/demo.png and docs/demo-narrow.png: the demo in headless Chromium.

    .venv/bin/python examples/demo/screenshot.py [docs/demo.png]

Runs the demo in this process (uvicorn on 127.0.0.1, a port from the OS), opens
one page holding two iframes, http://alpha.localhost:PORT/ and
http://beta.localhost:PORT/ (Chromium resolves ``*.localhost`` to loopback
itself), has a short conversation in each, with a python-socketio client for
the second person of each tenant, and takes the screenshot (1440 x 760). Then a
third person joins alpha's room on a phone's screen (390 x 844), and that is
``demo-narrow.png`` beside the first. Needs Playwright, /usr/bin/chromium and a
local Socket.IO client (scripts/bootstrap.sh).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import socketio
import uvicorn
from playwright.async_api import Frame, Page, async_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
import app as demo  # noqa: E402

OUTPUT = Path(__file__).resolve().parents[2] / "docs" / "demo.png"
TIMEOUT = 20.0
WIDE = {"width": 1440, "height": 760}
NARROW = {"width": 390, "height": 844}  # a phone's screen, in CSS pixels
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
FRAMES = """<!doctype html>
<style>
  body { margin: 0; padding: 14px; background: #d9dde6; display: flex; gap: 14px;
         height: 100vh; box-sizing: border-box; }
  iframe { flex: 1; border: 0; border-radius: 10px; background: #fff;
           box-shadow: 0 4px 18px rgb(0 0 0 / 0.18); }
</style>
<iframe src="{alpha}"></iframe><iframe src="{beta}"></iframe>
"""


async def person(url: str, host: str, room: str, nick: str) -> socketio.AsyncClient:
    """A second member of a tenant's room: a python-socketio client."""
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(
        url,
        headers={"Host": host},
        namespaces=[room],
        auth={"nick": nick},
        transports=["websocket"],
        wait_timeout=TIMEOUT,
    )
    await client.call("join", namespace=room, timeout=TIMEOUT)
    return client


async def say(client: socketio.AsyncClient, room: str, text: str) -> None:
    await client.call("message", text, namespace=room, timeout=TIMEOUT)


async def type_in(frame: Frame, text: str) -> None:
    count = await frame.locator("#messages li").count()
    await frame.fill("#text", text)
    await frame.press("#text", "Enter")
    await frame.locator("#messages li").nth(count).wait_for()


async def frame_for(page: Page, host: str) -> Frame:
    for frame in page.frames:
        if f"//{host}:" in frame.url:
            await frame.wait_for_function("window.demo && window.demo.joined")
            return frame
    raise LookupError(host)


async def conversation(page: Page, url: str, port: int) -> list[Any]:
    alpha, beta = f"alpha.localhost:{port}", f"beta.localhost:{port}"
    alpha_frame = await frame_for(page, "alpha.localhost")
    beta_frame = await frame_for(page, "beta.localhost")

    grace = await person(url, alpha, "/room/general", "grace")
    designers = await person(url, alpha, "/room/design", "grace")
    linus = await person(url, beta, "/room/general", "linus")
    await say(grace, "/room/general", "Morning! The alpha deploy is green.")
    await type_in(alpha_frame, "Great, I'll tell our customers.")
    await say(grace, "/room/general", "The mockups are up for review in #design.")
    await say(linus, "/room/general", "Beta standup in five minutes.")
    await type_in(beta_frame, "Same room name as alpha's, but nobody there can read this.")
    await say(linus, "/room/general", "Each host gets its own namespaces. Nice.")
    await page.wait_for_timeout(300)  # let the last renders settle
    return [grace, designers, linus]


async def on_a_phone(page: Page, port: int, output: Path) -> None:
    """Katherine joins alpha's room on a narrow screen, says something, and is photographed."""
    await page.goto(f"http://alpha.localhost:{port}/?nick=katherine#general")
    await page.wait_for_function("window.demo && window.demo.joined")
    count = await page.locator("#messages li").count()
    await page.fill("#text", "On my phone: same room, same history.")
    await page.press("#text", "Enter")
    await page.locator("#messages li").nth(count).wait_for()
    await page.wait_for_timeout(300)  # let the last renders settle
    await page.screenshot(path=str(output))


def narrow_output(output: Path) -> Path:
    """``docs/demo-narrow.png`` for ``docs/demo.png``."""
    return output.with_name(f"{output.stem}-narrow{output.suffix}")


async def main(output: Path) -> None:
    config = uvicorn.Config(demo.app, host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(TIMEOUT):
        while not server.started:
            await asyncio.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    clients: list[Any] = []
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
            )
            page = await browser.new_page(viewport=WIDE)
            page.set_default_timeout(TIMEOUT * 1000)
            await page.set_content(
                FRAMES.replace(
                    "{alpha}", f"http://alpha.localhost:{port}/?nick=ada#general"
                ).replace("{beta}", f"http://beta.localhost:{port}/?nick=bob#general")
            )
            clients = await conversation(page, url, port)
            output.parent.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(output))
            phone = await browser.new_page(viewport=NARROW)
            phone.set_default_timeout(TIMEOUT * 1000)
            await on_a_phone(phone, port, narrow_output(output))
            await browser.close()
    finally:
        for client in clients:
            await client.disconnect()
        server.should_exit = True
        await task
    print(f"wrote {output} and {narrow_output(output)}")


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUTPUT))
