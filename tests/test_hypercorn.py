"""A second ASGI server: the end-to-end essentials again, under hypercorn.

hypercorn is started programmatically (``hypercorn.asyncio.serve`` with a
``shutdown_trigger``). Its port: the test binds a listening socket to
127.0.0.1:0 itself, reads the port the OS chose, and hands hypercorn the file
descriptor (``bind = ["fd://N"]``). Unlike picking a free port and binding it
again, nothing can take the port in between; and since the socket is already
listening, connections wait in its backlog until hypercorn accepts them, so no
readiness polling is needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import socketio
from _helpers import TIMEOUT, client
from _raw import build_request, exchange
from hypercorn.asyncio import serve
from hypercorn.config import Config
from test_js_client import BLOB, binary, make_app, node_client, port_of, requires_node


@contextlib.asynccontextmanager
async def serve_hypercorn(app: Any) -> AsyncIterator[str]:
    """Run ``app`` under hypercorn on 127.0.0.1:<free port>; yield its base URL."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    config = Config()
    config.bind = [f"fd://{listener.detach()}"]
    config.loglevel = "WARNING"
    config.graceful_timeout = 2.0
    stop = asyncio.Event()
    task = asyncio.create_task(serve(app, config, shutdown_trigger=stop.wait))
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop.set()
        async with asyncio.timeout(TIMEOUT):
            await task


async def whoami(sio: socketio.AsyncClient, namespace: str = "/chat") -> Any:
    return await sio.call("whoami", namespace=namespace, timeout=TIMEOUT)


async def test_hosts_events_and_isolation(transports: list[str]) -> None:
    async with serve_hypercorn(make_app()) as url:
        shouts: dict[str, asyncio.Queue[Any]] = {}
        async with (
            client(url, "alpha.test", namespaces=["/chat"], transports=transports) as alpha,
            client(url, "beta.test", namespaces=["/chat"], transports=transports) as beta,
        ):
            for name, sio in (("alpha", alpha), ("beta", beta)):
                shouts[name] = asyncio.Queue()
                sio.on("shout", shouts[name].put, namespace="/chat")
            assert (await whoami(alpha))["fullname"] == "//alpha.test/chat"
            assert (await whoami(beta))["fullname"] == "//beta.test/chat"
            echoed = await alpha.call("echo", {"blob": BLOB}, namespace="/chat", timeout=TIMEOUT)
            assert echoed == {"blob": BLOB}

            await alpha.emit("shout", "alpha only", namespace="/chat")
            await beta.emit("shout", "beta only", namespace="/chat")
            async with asyncio.timeout(TIMEOUT):
                assert await shouts["alpha"].get() == "alpha only"
                assert await shouts["beta"].get() == "beta only"
            # one more round trip on each: anything misrouted would have arrived by now
            await whoami(alpha)
            await whoami(beta)
            assert shouts["alpha"].empty() and shouts["beta"].empty()


async def test_status_page_per_host() -> None:
    async with serve_hypercorn(make_app(public_status=True)) as url:
        async with (
            client(url, "alpha.test", namespaces=["/chat"]) as alpha,
            httpx.AsyncClient(base_url=url) as http,
        ):
            await whoami(alpha)
            seen = {}
            for host in ("main.test", "alpha.test", "beta.test"):
                response = await http.get("/socket.io/status.json", headers={"Host": host})
                assert response.status_code == 200
                seen[host] = [
                    (row["name"], row["socket_count"]) for row in response.json()["namespaces"]
                ]
            page = await http.get("/socket.io/status", headers={"Host": "main.test"})
        assert seen == {
            "main.test": [("//alpha.test/chat", 1)],
            "alpha.test": [("/chat", 1)],
            "beta.test": [],
        }
        assert page.headers["server"].startswith("hypercorn")
        assert page.headers["content-type"].startswith("text/html")
        assert "//alpha.test/chat" in page.text


async def test_bad_host_is_refused_before_socketio() -> None:
    async with serve_hypercorn(make_app()) as url:
        request = build_request(
            "GET", "/socket.io/?EIO=4&transport=polling", [(b"Host", b"alpha.test,beta.test")]
        )
        response = await exchange(url, request)
    assert response.status == 400
    assert response.text.startswith("Bad host")


@requires_node
async def test_js_client_under_hypercorn() -> None:
    async with serve_hypercorn(make_app()) as url, node_client() as node:
        alpha = f"http://alpha.test:{port_of(url)}"
        await node.send("open", id="a", url=f"{alpha}/chat")
        await node.expect("connect", id="a")
        await node.expect("upgrade", id="a", transport="websocket")
        info = await node.call("a", "whoami")
        assert info == [
            {
                "host": "alpha.test",
                "fullname": "//alpha.test/chat",
                "name": "/chat",
                "transport": "websocket",
            }
        ]
        question = {"q": binary(BLOB)}
        assert await node.call("a", "ask", question) == [{"reply": question}]

        await node.send("open", id="bad", url=alpha, namespace="/forbidden", via="a")
        refused = await node.expect("connect_error", id="bad")
        assert refused["message"] == "Invalid namespace"
