"""End to end: virtual hosts, packet rewriting and isolation (docs/design.md §3-§4).

A real uvicorn server runs ``DynamicIO(socketio.ASGIApp(sio), ...)`` with
handlers registered directly on ``sio`` under full names; real python-socketio
clients talk to it over every Engine.IO transport, with both serializers.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import re
import zlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx
import pytest
import socketio
from _helpers import TIMEOUT, serve
from _raw import EIO_PATH, open_packet, socketio_packet, split_payload

from dynamic_io_asgi import DynamicIO

#: Full names that get handlers in every server of this module.
FULL_NAMES = (
    "/",
    "/chat",
    "//alpha.test/",
    "//alpha.test/chat",
    "//beta.test/",
    "//beta.test/chat",
)
BLOB = {"blob": b"\x00\xff binary \x01", "n": 1, "nested": [b"\x02", "text"]}


@pytest.fixture(params=["default", "msgpack"])
def serializer(request: pytest.FixtureRequest) -> str:
    """Each Socket.IO serializer, on the server and its clients alike."""
    value: str = request.param
    return value


class Recorder:
    """Handlers registered on ``sio`` for each full name; remembers who reached them."""

    def __init__(self, sio: socketio.AsyncServer, names: tuple[str, ...]) -> None:
        self.sio = sio
        #: (full name, Host header of the session's handshake) per accepted CONNECT.
        self.connects: list[tuple[str, str | None]] = []
        for full in dict.fromkeys(names):
            self._register(full)

    def _register(self, full: str) -> None:
        sio = self.sio

        async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
            self.connects.append((full, environ.get("HTTP_HOST")))

        async def echo(sid: str, data: Any = None) -> tuple[str, Any]:
            return full, data

        async def join(sid: str, room: str) -> list[str]:
            await sio.enter_room(sid, room, namespace=full)
            return sorted(sio.rooms(sid, namespace=full))

        async def big(sid: str, size: int) -> None:
            await sio.emit("big", "x" * size, to=sid, namespace=full)

        sio.on("connect", connect, namespace=full)
        sio.on("echo", echo, namespace=full)
        sio.on("join", join, namespace=full)
        sio.on("big", big, namespace=full)

    def reached(self, full: str) -> list[str | None]:
        return [host for name, host in self.connects if name == full]


def build(
    serializer: str = "default",
    options: dict[str, Any] | None = None,
    names: tuple[str, ...] = (),
) -> tuple[Any, socketio.AsyncServer, Recorder]:
    """``(asgi app, server, recorder)``; ``options=None`` serves plain python-socketio."""
    sio = socketio.AsyncServer(async_mode="asgi", serializer=serializer)
    recorder = Recorder(sio, FULL_NAMES + names)
    app: Any = socketio.ASGIApp(sio)
    if options is not None:
        app = DynamicIO(app, **options)
    return app, sio, recorder


class Inbox:
    """Every event a client received on one namespace, in order."""

    def __init__(self) -> None:
        self.items: list[tuple[str, tuple[Any, ...]]] = []
        self._changed = asyncio.Event()

    async def record(self, event: str, *args: Any) -> None:
        self.items.append((event, args))
        self._changed.set()

    @property
    def events(self) -> list[str]:
        return [event for event, _ in self.items]

    async def wait_for(self, event: str, *args: Any) -> tuple[Any, ...]:
        """Wait until ``event`` (with ``args`` when given) arrives; its arguments."""
        async with asyncio.timeout(TIMEOUT):
            while True:
                for name, received in self.items:
                    if name == event and (not args or received == args):
                        return received
                self._changed.clear()
                await self._changed.wait()


@dataclass
class Peer:
    client: socketio.AsyncClient
    inboxes: dict[str, Inbox]

    def sid(self, namespace: str) -> str:
        sid: str = self.client.get_sid(namespace)
        return sid

    async def call(self, event: str, data: Any, namespace: str) -> list[Any]:
        """``client.call``, its answer as a list of the ack's arguments."""
        answer = await self.client.call(event, data, namespace=namespace, timeout=TIMEOUT)
        return list(answer) if isinstance(answer, tuple) else [answer]


async def _answer(data: Any = None) -> tuple[str, Any]:
    return "answer", data


@contextlib.asynccontextmanager
async def peer(
    server: socketio.AsyncServer,
    url: str,
    headers: dict[str, str] | None = None,
    *,
    namespaces: tuple[str, ...] = ("/", "/chat"),
    transports: list[str] | None = None,
    serializer: str = "default",
) -> AsyncIterator[Peer]:
    """A connected client that records what it receives and answers ``question``."""
    client = socketio.AsyncClient(serializer=serializer, reconnection=False)
    inboxes = {namespace: Inbox() for namespace in namespaces}
    gone = asyncio.Event()

    async def disconnected(*reason: Any) -> None:
        gone.set()

    for namespace, inbox in inboxes.items():
        client.on("*", inbox.record, namespace=namespace)
        client.on("question", _answer, namespace=namespace)
        client.on("disconnect", disconnected, namespace=namespace)
    await client.connect(
        url,
        headers=headers or {},
        namespaces=list(namespaces),
        transports=transports or ["websocket"],
        wait_timeout=TIMEOUT,
    )
    try:
        yield Peer(client, inboxes)
    finally:
        if client.transport() == "polling" and client.eio.state == "connected":
            await close_polling(client, server, gone)
        await client.disconnect()


async def close_polling(
    client: socketio.AsyncClient, server: socketio.AsyncServer, gone: asyncio.Event
) -> None:
    """End a polling client's session from the server side, quickly.

    python-engineio's polling client waits for its pending long-poll when it
    disconnects, and the server answers that only at the next ping (25 s).
    Closing the server's socket answers it at once (``wait=False``: a poll
    racing with the close may be refused instead, which ends the client too).
    A client that reads the CLOSE drains its own send queue, stop signal
    included, so its writer is handed a new one.
    """
    socket = server.eio.sockets.get(client.eio.sid)
    if socket is not None:
        await socket.close(wait=False)
    async with asyncio.timeout(TIMEOUT):
        await gone.wait()
        client.eio.queue.put_nowait(None)
        await client.eio.wait()


def host_header(host: str | None) -> dict[str, str]:
    return {"Host": host} if host else {}


# -- talking: events, acks, binary, rooms ------------------------------------------------

TALK = [
    pytest.param(None, None, "", id="plain-python-socketio"),
    pytest.param({"host": "main.test"}, "main.test", "", id="main-host"),
    pytest.param({"host": None}, None, "", id="every-host-is-main"),
    pytest.param({"host": "main.test"}, "alpha.test", "//alpha.test", id="alpha.test"),
]


@pytest.mark.parametrize(("options", "host", "prefix"), TALK)
async def test_events_acks_binary_and_rooms(
    transports: list[str],
    serializer: str,
    options: dict[str, Any] | None,
    host: str | None,
    prefix: str,
) -> None:
    app, sio, recorder = build(serializer, options)
    async with (
        serve(app) as url,
        peer(sio, url, host_header(host), transports=transports, serializer=serializer) as p,
    ):
        for namespace in ("/", "/chat"):
            full = prefix + namespace
            inbox = p.inboxes[namespace]
            sid = p.sid(namespace)
            assert len(recorder.reached(full)) == 1
            # client -> server, with the server's ack; text, then bytes both ways
            assert await p.call("echo", "text", namespace) == [full, "text"]
            assert await p.call("echo", BLOB, namespace) == [full, BLOB]
            # server -> client
            await sio.emit("push", BLOB, to=sid, namespace=full)
            assert await inbox.wait_for("push") == (BLOB,)
            # server -> client with the client's ack, bytes both ways
            answer = await sio.call("question", BLOB, to=sid, namespace=full, timeout=TIMEOUT)
            assert list(answer) == ["answer", BLOB]
            # rooms
            assert await p.call("join", "room-1", namespace) == [sorted([sid, "room-1"])]
            await sio.emit("room_news", b"\x03room", room="room-1", namespace=full)
            assert await inbox.wait_for("room_news") == (b"\x03room",)
            assert inbox.events == ["push", "room_news"]
    # the session's other names were never touched
    assert sorted(name for name, _ in recorder.connects) == sorted([prefix + "/", prefix + "/chat"])


# -- isolation of broadcasts ---------------------------------------------------------------


async def test_broadcasts_reach_only_their_host(transports: list[str], serializer: str) -> None:
    app, sio, _ = build(serializer, {"host": "main.test"})
    hosts = {
        "alpha-1": "alpha.test",
        "alpha-2": "alpha.test",
        "beta": "beta.test",
        "main": "main.test",
    }
    targets = {
        "alpha.test": "//alpha.test/chat",
        "beta.test": "//beta.test/chat",
        "main.test": "/chat",
    }
    async with serve(app) as url, contextlib.AsyncExitStack() as stack:
        peers = {
            label: await stack.enter_async_context(
                peer(
                    sio,
                    url,
                    {"Host": host},
                    namespaces=("/chat",),
                    transports=transports,
                    serializer=serializer,
                )
            )
            for label, host in hosts.items()
        }
        for round_, target in enumerate(["alpha.test", "beta.test", "main.test"]):
            await sio.emit("news", [round_, b"\x00news"], namespace=targets[target])
            # positive control: a marker on each client's own namespace, after the news
            for full in targets.values():
                await sio.emit("marker", round_, namespace=full)
            for p in peers.values():
                await p.inboxes["/chat"].wait_for("marker", round_)
        for label, p in peers.items():
            expected: list[tuple[str, tuple[Any, ...]]] = []
            for round_, target in enumerate(["alpha.test", "beta.test", "main.test"]):
                if hosts[label] == target:
                    expected.append(("news", ([round_, b"\x00news"],)))
                expected.append(("marker", (round_,)))
            assert p.inboxes["/chat"].items == expected, label


# -- choosing the host ------------------------------------------------------------------------


def strip_www(scope: dict[str, Any]) -> str | None:
    for name, value in scope["headers"]:
        if name == b"host":
            host: str = value.decode("latin-1")
            return host.removeprefix("www.")
    return None


MAIN_RE = re.compile(r"(^|\.)main\.test\Z")
TRUSTED = {"host": "main.test", "trusted_proxies": ["127.0.0.1"]}
WWW = {"host": "main.test", "get_host": strip_www}
ALPHA_CHAT = "//alpha.test/chat"

RESOLUTION = [
    # options, request headers, the full name the client's /chat reaches
    pytest.param({"host": "main.test"}, {"Host": "MAIN.Test.:8080"}, "/chat", id="normalised-main"),
    pytest.param({"host": "main.test"}, {"Host": "Alpha.TEST:8080"}, ALPHA_CHAT, id="normalised"),
    pytest.param(WWW, {"Host": "www.main.test"}, "/chat", id="get_host-www-main"),
    pytest.param(WWW, {"Host": "www.alpha.test"}, ALPHA_CHAT, id="get_host-www-alpha"),
    pytest.param(WWW, {"Host": "main.test"}, "/chat", id="get_host-main"),
    pytest.param(
        TRUSTED,
        {"Host": "main.test", "X-Forwarded-Host": "alpha.test"},
        ALPHA_CHAT,
        id="forwarded-trusted",
    ),
    pytest.param(
        {"host": "main.test", "trusted_proxies": ["127.0.0.0/8"]},
        {"Host": "alpha.test", "X-Forwarded-Host": "main.test, beta.test"},
        "/chat",
        id="forwarded-trusted-network-first-of-list",
    ),
    pytest.param(
        {"host": "main.test"},
        {"Host": "main.test", "X-Forwarded-Host": "alpha.test"},
        "/chat",
        id="forwarded-untrusted",
    ),
    pytest.param(
        {"host": "main.test", "trusted_proxies": ["10.0.0.0/8"]},
        {"Host": "main.test", "X-Forwarded-Host": "alpha.test"},
        "/chat",
        id="forwarded-other-proxy",
    ),
    pytest.param({"host": MAIN_RE}, {"Host": "api.main.test"}, "/chat", id="regex-main"),
    pytest.param({"host": MAIN_RE}, {"Host": "alpha.test"}, ALPHA_CHAT, id="regex-other"),
    pytest.param(
        {"host": MAIN_RE}, {"Host": "notmain.test"}, "//notmain.test/chat", id="regex-near-miss"
    ),
    pytest.param({"host": True}, {}, "//127.0.0.1/chat", id="no-main-host-ip"),
    pytest.param({"host": True}, {"Host": "main.test"}, "//main.test/chat", id="no-main-host"),
    pytest.param({"host": None}, {"Host": "alpha.test"}, "/chat", id="every-host-is-main"),
]


@pytest.mark.parametrize(("options", "headers", "full"), RESOLUTION)
async def test_host_resolution(
    transports: list[str], options: dict[str, Any], headers: dict[str, str], full: str
) -> None:
    app, sio, recorder = build("default", options, names=(full,))
    async with (
        serve(app) as url,
        peer(sio, url, headers, namespaces=("/chat",), transports=transports) as p,
    ):
        assert await p.call("echo", "hi", "/chat") == [full, "hi"]
    assert [name for name, _ in recorder.connects] == [full]


# -- raw Engine.IO over polling -----------------------------------------------------------------


class Polling:
    """One Engine.IO polling session driven by hand with httpx."""

    def __init__(self, http: httpx.AsyncClient, host: str) -> None:
        self.http = http
        self.sid = ""
        self.handshake = {"Host": host}

    async def open(self) -> dict[str, Any]:
        response = await self.http.get(EIO_PATH + "polling", headers=self.handshake)
        assert response.status_code == 200, response.text
        data = open_packet(response.text)
        self.sid = data["sid"]
        return data

    def _url(self) -> str:
        return f"{EIO_PATH}polling&sid={self.sid}"

    async def post(self, *packets: str, host: str | None = None) -> None:
        headers = {"Host": host} if host else self.handshake
        body = "\x1e".join(packets).encode()
        response = await self.http.post(self._url(), content=body, headers=headers)
        assert response.status_code == 200, response.text

    async def get(self, host: str | None = None) -> list[str]:
        headers = {"Host": host} if host else self.handshake
        response = await self.http.get(self._url(), headers=headers)
        assert response.status_code == 200, response.text
        return split_payload(response.text)

    async def get_raw(self, accept_encoding: str) -> tuple[httpx.Headers, bytes]:
        """A GET: its headers, and its body exactly as it came over the wire."""
        headers = {**self.handshake, "Accept-Encoding": accept_encoding}
        async with self.http.stream("GET", self._url(), headers=headers) as response:
            assert response.status_code == 200
            raw = b"".join([chunk async for chunk in response.aiter_raw()])
        return response.headers, raw


@contextlib.asynccontextmanager
async def http_client(url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=url, timeout=TIMEOUT) as http:
        yield http


async def test_host_is_fixed_at_the_handshake() -> None:
    app, _, recorder = build("default", {"host": "main.test"})
    async with serve(app) as url, http_client(url) as http:
        session = Polling(http, "alpha.test")
        await session.open()
        # every later request claims another host
        await session.post("40/chat,", host="beta.test")
        [answer] = await session.get(host="beta.test")
        kind, namespace, data = socketio_packet(answer)
        assert (kind, namespace, set(data)) == ("0", "/chat", {"sid"})
        await session.post('42/chat,7["echo","hi"]', host="main.test")
        [ack] = await session.get(host="beta.test")
        assert socketio_packet(ack) == ("37", "/chat", ["//alpha.test/chat", "hi"])
        # and so does the websocket the session upgrades to
        ws_url = url.replace("http", "ws") + f"{EIO_PATH}websocket&sid={session.sid}"
        async with (
            aiohttp.ClientSession() as aio,
            aio.ws_connect(ws_url, headers={"Host": "beta.test"}) as ws,
        ):
            await ws.send_str("2probe")
            assert await ws.receive_str(timeout=TIMEOUT) == "3probe"
            await ws.send_str("5")
            await ws.send_str('42/chat,8["echo","upgraded"]')
            assert socketio_packet(await next_message(ws)) == (
                "38",
                "/chat",
                ["//alpha.test/chat", "upgraded"],
            )
    assert recorder.connects == [("//alpha.test/chat", "alpha.test")]


async def next_message(ws: aiohttp.ClientWebSocketResponse) -> str:
    """The next Engine.IO MESSAGE on a raw websocket, past NOOPs and pings."""
    while True:
        packet = await ws.receive_str(timeout=TIMEOUT)
        if packet == "2":
            await ws.send_str("3")
        elif packet != "6":
            return packet


COMPRESSION: list[tuple[str, str | None, Callable[[bytes], bytes]]] = [
    ("gzip", "gzip", gzip.decompress),
    ("deflate", "deflate", zlib.decompress),
    ("identity", None, lambda body: body),
]


@pytest.mark.parametrize(("accept", "encoding", "decompress"), COMPRESSION)
async def test_compressed_polling_payload_is_rewritten(
    accept: str, encoding: str | None, decompress: Callable[[bytes], bytes]
) -> None:
    app, _, _ = build("default", {"host": "main.test"})
    headers, body = await big_payload(app, accept)
    assert headers.get("content-encoding") == encoding
    # python-engineio sends no Content-Length (the body goes chunked); one the
    # middleware sets after compressing must be right
    assert headers.get("content-length", str(len(body))) == str(len(body))
    assert decompress(body).decode() == BIG


BIG = '42/chat,["big","' + "x" * 3000 + '"]'


async def big_payload(app: Any, accept: str = "gzip") -> tuple[httpx.Headers, bytes]:
    """An other-host session's 3000-character event: the GET's headers and raw body."""
    async with serve(app) as url, http_client(url) as http:
        session = Polling(http, "alpha.test")
        await session.open()
        await session.post("40/chat,")
        [answer] = await session.get()
        assert socketio_packet(answer)[:2] == ("0", "/chat")
        await session.post('42/chat,["big",3000]')
        return await session.get_raw(accept)


async def test_the_middleware_takes_compression_over_from_engineio() -> None:
    app, sio, _ = build("default", {"host": "main.test"})
    assert sio.eio.http_compression is False  # python-engineio no longer compresses
    again = DynamicIO(socketio.ASGIApp(sio), host="main.test")  # a second wrap keeps it on
    for wrapped in (app, again):
        headers, body = await big_payload(wrapped)
        assert headers["content-encoding"] == "gzip"
        assert gzip.decompress(body).decode() == BIG


def test_a_refused_option_leaves_the_servers_compression_alone() -> None:
    sio = socketio.AsyncServer(async_mode="asgi")
    with pytest.raises(ValueError, match="retirement"):
        DynamicIO(socketio.ASGIApp(sio), retirement=-1)
    assert sio.eio.http_compression is True


async def test_compression_off_on_the_server_stays_off() -> None:
    sio = socketio.AsyncServer(async_mode="asgi", http_compression=False)
    Recorder(sio, FULL_NAMES)
    headers, body = await big_payload(DynamicIO(socketio.ASGIApp(sio), host="main.test"))
    assert "content-encoding" not in headers
    assert body.decode() == BIG


async def test_a_payload_engineio_compressed_is_rewritten_all_the_same() -> None:
    app, sio, _ = build("default", {"host": "main.test"})
    sio.eio.http_compression = True  # turned back on behind the middleware's back
    headers, body = await big_payload(app, "deflate")
    assert headers["content-encoding"] == "deflate"
    assert headers.get("content-length", str(len(body))) == str(len(body))
    assert zlib.decompress(body).decode() == BIG


class Recompress:
    """A middleware inside DynamicIO that rewrites big polling responses its own
    way: fixed Content-Length, and optionally a Content-Encoding of its own."""

    def __init__(self, app: Any, encoding: bytes | None) -> None:
        self.app, self.encoding = app, encoding

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        start: dict[str, Any] = {}

        async def buffered(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            body = message.get("body", b"")
            headers = [(b"content-length", b"%d" % len(body))]
            if self.encoding and len(body) > 1000:
                body, headers = b"\x8b" + body, [(b"content-encoding", self.encoding)]
            await send({**start, "headers": [*start["headers"], *headers]})
            await send({**message, "body": body})

        await self.app(scope, receive, buffered if scope["type"] == "http" else send)


async def test_a_content_length_set_inside_is_fixed() -> None:
    _, sio, _ = build("default", {"host": "main.test"})
    app = DynamicIO(Recompress(socketio.ASGIApp(sio), None), sio, host="main.test")
    headers, body = await big_payload(app, "identity")
    assert headers["content-length"] == str(len(body))
    assert body.decode() == BIG


async def test_an_encoding_the_middleware_cannot_read_is_a_500(
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, sio, _ = build("default", {"host": "main.test"})
    app = DynamicIO(Recompress(socketio.ASGIApp(sio), b"br"), sio, host="main.test")
    async with serve(app) as url, http_client(url) as http:
        session = Polling(http, "alpha.test")
        await session.open()
        await session.post("40/chat,")
        await session.get()
        await session.post('42/chat,["big",3000]')
        response = await http.get(session._url(), headers=session.handshake)
    assert response.status_code == 500
    assert "x" * 100 not in response.text  # nothing of the unread payload
    assert "Content-Encoding br" in caplog.text
