"""DynamicIO in real framework stacks: FastAPI, Starlette's CORS and GZip middleware,
uvicorn's ProxyHeadersMiddleware, each served by a real uvicorn."""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
import socketio
from _helpers import TIMEOUT, client, load_script, serve
from _raw import EIO_PATH, open_packet, socketio_packet, split_payload
from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from dynamic_io_asgi import DynamicIO, DynamicNamespace

EXAMPLES = Path(__file__).parent.parent / "examples"
ORIGIN = "http://app.test"
CHAT = re.compile(r"^(//[^/]+)?/chat$")


_loaded = itertools.count()


def load_example(name: str) -> ModuleType:
    """A fresh copy of ``examples/<name>.py`` (its server state is its own)."""
    module_name = f"example_{name.replace('/', '_')}_{next(_loaded)}"
    return load_script(EXAMPLES / f"{name}.py", module_name)


# -- FastAPI -------------------------------------------------------------------------------


async def test_fastapi_example_serves_routes_beside_socketio() -> None:
    example = load_example("fastapi_app")
    async with serve(example.app) as url, httpx.AsyncClient(base_url=url) as http:
        docs = await http.get("/docs")
        assert docs.status_code == 200
        hello = await http.get("/api/hello", headers={"Host": "Alpha.Localhost:8000"})
        assert hello.json() == {"host": "alpha.localhost", "socketio_path": "/socket.io/"}

        async with client(url, "alpha.localhost", namespaces=["/room/blue"]) as alpha:
            announcements: asyncio.Queue[Any] = asyncio.Queue()
            alpha.on("announcement", announcements.put, namespace="/room/blue")
            answer = await alpha.call("chat", "hi", namespace="/room/blue", timeout=TIMEOUT)
            assert answer == "delivered"

            rooms = {
                host: (await http.get("/api/rooms", headers={"Host": host})).json()
                for host in ("alpha.localhost", "beta.localhost", "localhost")
            }
            assert rooms == {
                "alpha.localhost": [{"name": "/room/blue", "sockets": 1}],
                "beta.localhost": [],
                "localhost": [],
            }

            said = await http.post(
                "/api/rooms/blue/announce",
                json={"text": "lunch"},
                headers={"Host": "alpha.localhost"},
            )
            assert said.json() == {"room": "/room/blue", "delivered_to": 1}
            async with asyncio.timeout(TIMEOUT):
                assert await announcements.get() == "lunch"
            elsewhere = await http.post(
                "/api/rooms/blue/announce",
                json={"text": "lunch"},
                headers={"Host": "beta.localhost"},
            )
            assert elsewhere.status_code == 404

            status = await http.get("/socket.io/status.json", headers={"Host": "localhost"})
            assert status.status_code == 200
            assert "//alpha.localhost/room/blue" in status.text


# -- Starlette's CORSMiddleware and GZipMiddleware -----------------------------------------


def big_text(size: int) -> str:
    """``size`` characters of compressible, but not trivial, text."""
    text = "".join(f"{i}," for i in range(size))
    return text[:size]


async def big_page(request: Request) -> PlainTextResponse:
    return PlainTextResponse(big_text(100_000))


def chat_server() -> tuple[socketio.AsyncServer, Any]:
    # cors_allowed_origins=[]: Engine.IO leaves CORS to CORSMiddleware
    sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins=[])
    web = Starlette(routes=[Route("/big", big_page)])
    return sio, socketio.ASGIApp(sio, other_asgi_app=web)


def with_chat(app: DynamicIO) -> DynamicIO:
    @app.setup_namespace(CHAT)
    def chat(nsp: DynamicNamespace, match: re.Match[str]) -> None:
        @nsp.on("big")
        async def big(sid: str, size: int) -> str:
            return big_text(size)

    return app


def cors(app: Any) -> Any:
    return CORSMiddleware(app, allow_origins=[ORIGIN], allow_methods=["GET", "POST"])


def gzip(app: Any) -> Any:
    return GZipMiddleware(app, minimum_size=500)


def stack(order: str) -> Any:
    """The app with the layers named outermost first, ``dynamic`` being DynamicIO."""
    sio, asgi_app = chat_server()
    layers: dict[str, Callable[[Any], Any]] = {"cors": cors, "gzip": gzip}
    names = order.split(" > ")
    inner = asgi_app
    for name in reversed(names[names.index("dynamic") + 1 :]):
        inner = layers[name](inner)
    app: Any = with_chat(DynamicIO(inner, sio))
    for name in reversed(names[: names.index("dynamic")]):
        app = layers[name](app)
    return app


ORDERS = [
    "cors > gzip > dynamic",
    "gzip > cors > dynamic",
    "dynamic > cors > gzip",
    "dynamic > gzip > cors",
    "cors > dynamic > gzip",
    "gzip > dynamic > cors",
]


class Polling:
    """One Engine.IO polling session driven by hand, as a browser on ORIGIN would."""

    def __init__(self, http: httpx.AsyncClient, host: str) -> None:
        self.http = http
        self.headers = {"Host": host, "Origin": ORIGIN, "Accept-Encoding": "gzip"}
        self.sid = ""

    @property
    def path(self) -> str:
        return f"{EIO_PATH}polling&sid={self.sid}"

    async def open(self) -> httpx.Response:
        response = await self.http.get(EIO_PATH + "polling", headers=self.headers)
        self.sid = open_packet(response.text)["sid"]
        return response

    async def post(self, *packets: str) -> None:
        body = "\x1e".join(packets)
        response = await self.http.post(self.path, content=body, headers=self.headers)
        assert (response.status_code, response.text) == (200, "OK")

    async def get(self) -> httpx.Response:
        return await self.http.get(self.path, headers=self.headers)


@pytest.mark.parametrize("order", ORDERS)
async def test_cors_and_gzip_compose_in_any_order(order: str) -> None:
    size = 200_000
    async with serve(stack(order)) as url, httpx.AsyncClient(base_url=url) as http:
        preflight = await http.options(
            EIO_PATH + "polling",
            headers={
                "Host": "alpha.test",
                "Origin": ORIGIN,
                "Access-Control-Request-Method": "POST",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers.get_list("access-control-allow-origin") == [ORIGIN]

        session = Polling(http, "alpha.test")
        handshake = await session.open()
        assert handshake.headers.get_list("access-control-allow-origin") == [ORIGIN]
        await session.post("40/chat,")
        connected = split_payload((await session.get()).text)
        assert [socketio_packet(p)[:2] for p in connected] == [("0", "/chat")]

        await session.post(f'42/chat,7["big",{size}]')
        response = await session.get()
        # compressed once (httpx undoes one gzip layer), and still one valid payload
        assert response.headers.get_list("content-encoding") == ["gzip"]
        assert response.headers.get_list("access-control-allow-origin") == [ORIGIN]
        assert int(response.headers["content-length"]) < size // 2
        (packet,) = split_payload(response.text)
        assert socketio_packet(packet) == ("37", "/chat", [big_text(size)])

        page = await http.get("/big", headers={"Host": "alpha.test", "Accept-Encoding": "gzip"})
        assert page.headers.get_list("content-encoding") == ["gzip"]
        assert page.text == big_text(100_000)


async def test_large_polling_payload_reaches_a_real_client_through_gzip() -> None:
    size = 300_000
    async with serve(stack("cors > gzip > dynamic")) as url:
        async with client(url, "alpha.test", namespaces=["/chat"], transports=["polling"]) as sio:
            answer = await sio.call("big", size, namespace="/chat", timeout=TIMEOUT)
    assert answer == big_text(size)


# -- uvicorn's ProxyHeadersMiddleware and trusted_proxies -------------------------------------


def proxied_stack(order: str, trusted_proxies: list[str]) -> Any:
    sio = socketio.AsyncServer(async_mode="asgi")
    asgi_app: Any = socketio.ASGIApp(sio)
    if order == "dynamic > proxy":
        inner = ProxyHeadersMiddleware(asgi_app, trusted_hosts="127.0.0.1")
        app: Any = DynamicIO(inner, sio, host="main.test", trusted_proxies=trusted_proxies)
    else:
        app = DynamicIO(asgi_app, host="main.test", trusted_proxies=trusted_proxies)
    outer = app
    if order == "proxy > dynamic":
        outer = ProxyHeadersMiddleware(app, trusted_hosts="127.0.0.1")

    @app.setup_namespace(CHAT)
    def chat(nsp: DynamicNamespace, match: re.Match[str]) -> None:
        @nsp.on("whoami")
        async def whoami(sid: str) -> dict[str, Any]:
            client = sio.get_environ(sid, namespace=nsp.fullname)["asgi.scope"]["client"]
            return {"host": nsp.host, "client": client[0]}

    return outer


FORWARDED = {"X-Forwarded-Host": "alpha.test", "X-Forwarded-For": "203.0.113.7"}
ONLY_HOST = {"X-Forwarded-Host": "alpha.test"}
PROXIES = [
    # (order, trusted_proxies, headers the proxy adds, (session host, client the app sees))
    # DynamicIO sees the proxy's address and believes it; the app sees the real client
    ("dynamic > proxy", ["127.0.0.1"], FORWARDED, ("alpha.test", "203.0.113.7")),
    ("dynamic > proxy", ["127.0.0.0/8"], FORWARDED, ("alpha.test", "203.0.113.7")),
    # a peer that is not a trusted proxy: its X-Forwarded-Host is ignored
    ("dynamic > proxy", ["10.0.0.0/8"], FORWARDED, ("edge.test", "203.0.113.7")),
    ("dynamic", [], FORWARDED, ("edge.test", "127.0.0.1")),
    # ProxyHeadersMiddleware outside has already replaced the proxy's address by the
    # client's, so DynamicIO no longer sees the proxy: X-Forwarded-Host is ignored...
    ("proxy > dynamic", ["127.0.0.1"], FORWARDED, ("edge.test", "203.0.113.7")),
    # ... unless the proxy sends no X-Forwarded-For
    ("proxy > dynamic", ["127.0.0.1"], ONLY_HOST, ("alpha.test", "127.0.0.1")),
]


@pytest.mark.parametrize(("order", "trusted", "forwarded", "expected"), PROXIES)
async def test_forwarded_host_with_proxy_headers_middleware(
    order: str, trusted: list[str], forwarded: dict[str, str], expected: tuple[str, str]
) -> None:
    app = proxied_stack(order, trusted)
    # proxy_headers=False: the only proxy-header handling is the app's own (uvicorn's
    # default wraps the whole app in ProxyHeadersMiddleware: the "proxy > dynamic" order).
    async with serve(app, proxy_headers=False) as url:
        sio = socketio.AsyncClient(reconnection=False)
        await sio.connect(
            url,
            headers={"Host": "edge.test", **forwarded},
            namespaces=["/chat"],
            transports=["websocket"],
            wait_timeout=TIMEOUT,
        )
        try:
            answer = await sio.call("whoami", namespace="/chat", timeout=TIMEOUT)
            assert (answer["host"], answer["client"]) == expected
        finally:
            await sio.disconnect()


# -- the demo's choice of Socket.IO client -----------------------------------------------------

CDN = "https://cdn.socket.io/4.8.1/socket.io.min.js"
LOCAL = "/vendor/socket.io.min.js"
CLIENT_CHOICES = [
    # (SOCKETIO_CLIENT_JS, the script the page loads, what /vendor/socket.io.min.js serves)
    ("unset", LOCAL, 200),  # tests/js/node_modules is installed
    ("cdn", CDN, 404),
    ("a missing file", CDN, 404),
    ("a file", LOCAL, 200),
]


@pytest.mark.parametrize(("choice", "script", "vendor_status"), CLIENT_CHOICES)
async def test_demo_loads_the_client_from_a_local_copy_or_the_cdn(
    choice: str,
    script: str,
    vendor_status: int,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    demo = load_example("demo/app")
    custom = tmp_path / "socket.io.min.js"
    custom.write_text("/* a local copy */")
    values = {"cdn": "cdn", "a missing file": str(tmp_path / "missing.js"), "a file": str(custom)}
    if choice in values:
        monkeypatch.setenv("SOCKETIO_CLIENT_JS", values[choice])
    else:
        monkeypatch.delenv("SOCKETIO_CLIENT_JS", raising=False)
        if not demo.LOCAL_CLIENT.is_file():
            pytest.skip("tests/js/node_modules missing (run scripts/bootstrap.sh)")
    async with serve(demo.app) as url, httpx.AsyncClient(base_url=url) as http:
        page = await http.get("/", headers={"Host": "alpha.localhost:8000"})
        vendor = await http.get(LOCAL)
        css = await http.get("/static/demo.css")
    assert page.status_code == 200
    assert f'<script src="{script}"' in page.text
    assert ('integrity="sha384-' in page.text) == (script == CDN)
    assert vendor.status_code == vendor_status
    if choice == "a file":
        assert vendor.text == "/* a local copy */"
    assert css.status_code == 200
