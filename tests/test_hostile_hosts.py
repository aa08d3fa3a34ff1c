"""Hostile input at the door: bad Host headers, JSONP, oversized bodies and
spoofed full namespace names never reach python-socketio (docs/design.md §3-§4).

Requests are written byte for byte over ``asyncio.open_connection`` so that no
client library cleans them up first. uvicorn may refuse some of them itself
(with its own plain-text 400): that is as good, as long as nothing gets through.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
import socketio
from _helpers import TIMEOUT, serve
from _raw import (
    EIO_PATH,
    Message,
    RawResponse,
    build_request,
    engineio_headers,
    exchange,
    polling_handshake,
    polling_receive,
    polling_send,
    polling_send_raw,
)
from socketio.msgpack_packet import MsgPackPacket
from socketio.packet import Packet

from dynamic_io_asgi import DynamicIO

CONNECT, CONNECT_ERROR = 0, 4
INVALID_NAMESPACE = {"message": "Invalid namespace"}
UVICORN_400 = b"Invalid HTTP request received."
#: Full names with a connect handler: a CONNECT that reached one would succeed.
FULL_NAMES = (
    "/",
    "/chat",
    "//alpha.test/",
    "//alpha.test/chat",
    "//other.test/x",
    "//other.test/",
    "//main.test/chat",
)
WS_HANDSHAKE = (
    (b"Upgrade", b"websocket"),
    (b"Connection", b"Upgrade"),
    (b"Sec-WebSocket-Key", b"dGhlIHNhbXBsZSBub25jZQ=="),
    (b"Sec-WebSocket-Version", b"13"),
)


class Spy:
    """An ASGI app in front of python-socketio: every request that reached it."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests: list[tuple[str, str, str]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            query = scope["query_string"].decode("latin-1")
            self.requests.append((scope["type"], scope.get("method", ""), query))
        await self.app(scope, receive, send)


@dataclass
class Server:
    sio: socketio.AsyncServer
    spy: Spy
    url: str = ""
    #: full names whose connect handler ran
    connects: list[str] = field(default_factory=list)

    def assert_untouched(self) -> None:
        """Nothing reached python-socketio."""
        assert self.spy.requests == []
        assert self.sio.eio.sockets == {}
        assert self.connects == []


@contextlib.asynccontextmanager
async def running(serializer: str = "default", **options: Any) -> AsyncIterator[Server]:
    """A served ``DynamicIO`` (main host ``main.test``) with handlers on some full names."""
    sio = socketio.AsyncServer(async_mode="asgi", serializer=serializer, max_http_buffer_size=4096)
    spy = Spy(socketio.ASGIApp(sio))
    server = Server(sio, spy)
    for full in FULL_NAMES:
        sio.on("connect", _recorder(server, full), namespace=full)
    app = DynamicIO(spy, sio, host="main.test", trusted_proxies=["127.0.0.1"], **options)
    async with serve(app) as url:
        server.url = url
        yield server


def _recorder(server: Server, full: str) -> Any:
    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        server.connects.append(full)

    return connect


# -- bad Host headers -------------------------------------------------------------------------

HOSTILE = [
    pytest.param([(b"Host", b"a,b.test")], id="comma"),
    pytest.param([(b"Host", b"a?b.test")], id="question-mark"),
    pytest.param([(b"Host", b"evil/x")], id="slash"),
    pytest.param([(b"Host", b"a b.test")], id="space"),
    pytest.param([(b"Host", b"a\tb.test")], id="tab"),
    pytest.param([(b"Host", b"a\x01b.test")], id="control-character"),
    pytest.param([(b"Host", b"a\x7fb.test")], id="delete"),
    pytest.param([(b"Host", "x\ufffd.test".encode())], id="non-ascii-not-idna"),
    pytest.param([(b"Host", ("\u00fc" * 64 + ".test").encode())], id="idna-label-too-long"),
    pytest.param([(b"Host", b"\xff.test")], id="not-utf-8"),
    pytest.param([(b"Host", b"a" * 300)], id="300-characters"),
    pytest.param([(b"Host", b"a.test:")], id="empty-port"),
    pytest.param([(b"Host", b"a.test:http")], id="named-port"),
    pytest.param([(b"Host", b"a..test")], id="empty-label"),
    pytest.param([(b"Host", b"-a.test")], id="label-starting-with-dash"),
    pytest.param([(b"Host", b"[::1")], id="unterminated-ipv6"),
    pytest.param([(b"Host", b"[::1]x")], id="junk-after-ipv6"),
    pytest.param([(b"Host", b"alpha.test"), (b"Host", b"beta.test")], id="two-hosts"),
    pytest.param([(b"Host", b"main.test"), (b"Host", b"main.test")], id="same-host-twice"),
    pytest.param([(b"Host", b"main.test"), (b"X-Forwarded-Host", b"evil/x")], id="forwarded-slash"),
    pytest.param(
        [(b"Host", b"main.test"), (b"X-Forwarded-Host", b"a?b.test")], id="forwarded-question"
    ),
]


@pytest.mark.parametrize("headers", HOSTILE)
async def test_hostile_host_is_refused(headers: list[tuple[bytes, bytes]]) -> None:
    async with running() as server:
        polling = await exchange(
            server.url,
            build_request("GET", EIO_PATH + "polling", [*headers, (b"Connection", b"close")]),
        )
        websocket = await exchange(
            server.url, build_request("GET", EIO_PATH + "websocket", [*headers, *WS_HANDSHAKE])
        )
        server.assert_untouched()
    assert polling.status == 400
    assert polling.headers["content-type"].startswith("text/plain")
    by_middleware = polling.body.startswith(b"Bad host: ")
    assert by_middleware or polling.body == UVICORN_400, polling.body
    # a websocket closed before it was accepted is a 403 from uvicorn
    assert websocket.status == (403 if by_middleware else 400)


async def test_sane_hosts_pass() -> None:
    """The positive control for the table above: the same requests with good hosts."""
    async with running() as server:
        for host in (b"alpha.test", b"Alpha.Test.:8000", b"[::1]:80", b"127.0.0.1", b""):
            headers = [(b"Host", host)]
            polling = await exchange(
                server.url,
                build_request("GET", EIO_PATH + "polling", [*headers, (b"Connection", b"close")]),
            )
            assert polling.status == 200, (host, polling.body)
            websocket = await exchange(
                server.url, build_request("GET", EIO_PATH + "websocket", [*headers, *WS_HANDSHAKE])
            )
            assert websocket.status == 101, host
        assert len(server.spy.requests) == 10


# -- JSONP and request bodies -----------------------------------------------------------------


async def test_jsonp_handshake_is_refused() -> None:
    async with running() as server:
        response = await exchange(
            server.url,
            build_request("GET", EIO_PATH + "polling&j=0", engineio_headers(b"main.test")),
        )
        assert (response.status, response.body) == (400, b"JSONP is not supported")
        server.assert_untouched()


async def test_jsonp_requests_of_a_session_are_refused() -> None:
    async with running() as server:
        sid = await polling_handshake(server.url, b"main.test")
        seen = list(server.spy.requests)
        # a JSONP poll, and a JSONP-encoded body in a plain POST
        poll = await exchange(
            server.url,
            build_request(
                "GET", f"{EIO_PATH}polling&sid={sid}&j=0", engineio_headers(b"main.test")
            ),
        )
        post = await polling_send_raw(server.url, sid, b"main.test", "d=40")
        assert (poll.status, poll.body) == (400, b"JSONP is not supported")
        assert (post.status, post.body) == (400, b"JSONP is not supported")
        assert server.spy.requests == seen
        # the session itself still works, and nothing was connected meanwhile
        assert (await polling_send(server.url, sid, b"main.test", ["0/chat,"])).status == 200
        [answer] = await polling_receive(server.url, sid, b"main.test")
        assert isinstance(answer, str) and answer.startswith('0/chat,{"sid":')
        assert server.connects == ["/chat"]


@pytest.mark.parametrize("declared", [4097, 10**9], ids=["one-byte-over", "one-gigabyte"])
async def test_oversized_post_is_refused_unread(declared: int) -> None:
    """413 as soon as the body passes ``max_http_buffer_size`` (4096 here): a client
    that announced a gigabyte gets its answer after sending 4 KiB of it."""
    async with running() as server:
        sid = await polling_handshake(server.url, b"main.test")
        seen = list(server.spy.requests)
        headers = engineio_headers(b"main.test", (b"Content-Length", str(declared).encode()))
        sent = b"4" * 4097  # one byte over the limit, and never the rest of `declared`
        request = build_request("POST", f"{EIO_PATH}polling&sid={sid}", headers, sent)
        response = await exchange(server.url, request)
        assert response.status == 413
        assert response.headers["content-type"].startswith("text/plain")
        assert server.spy.requests == seen


# -- spoofed full names -------------------------------------------------------------------------


def encode_connect(serializer: str, namespace: str) -> Message:
    """A client's CONNECT to ``namespace``, as the serializer writes it."""
    packet_class = MsgPackPacket if serializer == "msgpack" else Packet
    encoded: Message = packet_class(CONNECT, namespace=namespace).encode()
    return encoded


def decode(message: Message) -> tuple[int, str, Any]:
    """``(type, namespace, data)`` of a Socket.IO packet from the server."""
    packet = MsgPackPacket if isinstance(message, bytes) else Packet
    decoded = packet(encoded_packet=message)
    return decoded.packet_type, decoded.namespace, decoded.data


class PollingClient:
    def __init__(self, url: str, host: bytes) -> None:
        self.url, self.host, self.sid = url, host, ""

    async def open(self) -> None:
        self.sid = await polling_handshake(self.url, self.host)

    async def send(self, message: Message) -> None:
        response: RawResponse = await polling_send(self.url, self.sid, self.host, [message])
        assert response.status == 200, response.body

    async def receive(self) -> Message:
        while True:
            messages = await polling_receive(self.url, self.sid, self.host)
            if messages:
                [message] = messages
                return message


class WebSocketClient:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    async def open(self) -> None:
        assert (await self.ws.receive_str(timeout=TIMEOUT)).startswith("0{")

    async def send(self, message: Message) -> None:
        if isinstance(message, bytes):
            await self.ws.send_bytes(message)
        else:
            await self.ws.send_str("4" + message)

    async def receive(self) -> Message:
        while True:
            frame = await self.ws.receive(timeout=TIMEOUT)
            if frame.type == aiohttp.WSMsgType.BINARY:
                data: bytes = frame.data
                return data
            assert frame.type == aiohttp.WSMsgType.TEXT, frame
            if frame.data == "2":
                await self.ws.send_str("3")
            elif frame.data.startswith("4"):
                text: str = frame.data[1:]
                return text


@contextlib.asynccontextmanager
async def raw_client(
    transport: str, url: str, host: str
) -> AsyncIterator[PollingClient | WebSocketClient]:
    if transport == "polling":
        client = PollingClient(url, host.encode())
        await client.open()
        yield client
        return
    ws_url = url.replace("http", "ws", 1) + EIO_PATH + "websocket"
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(ws_url, headers={"Host": host}) as ws,
    ):
        ws_client = WebSocketClient(ws)
        await ws_client.open()
        yield ws_client


OWN_CHAT = "//alpha.test/chat"
SPOOFS = [
    "//other.test/x",
    "//other.test/",
    "//other.test",
    "//other.test/x?token=1",
    "//alpha.test/chat",
    "//main.test/chat",
]


@pytest.mark.parametrize("serializer", ["default", "msgpack"])
@pytest.mark.parametrize("transport", ["polling", "websocket"])
@pytest.mark.parametrize(("host", "own"), [("main.test", "/chat"), ("alpha.test", OWN_CHAT)])
async def test_spoofed_full_names_are_refused(
    serializer: str, transport: str, host: str, own: str
) -> None:
    async with (
        running(serializer) as server,
        raw_client(transport, server.url, host) as client,
    ):
        for spoof in SPOOFS:
            await client.send(encode_connect(serializer, spoof))
            answer = decode(await client.receive())
            # the text decoder drops a ?query from the name; msgpack keeps it
            name = spoof if serializer == "msgpack" else spoof.partition("?")[0]
            assert answer == (CONNECT_ERROR, name, INVALID_NAMESPACE)
        # positive control: the client's own /chat on the same session
        await client.send(encode_connect(serializer, "/chat"))
        kind, namespace, data = decode(await client.receive())
        assert (kind, namespace, list(data)) == (CONNECT, "/chat", ["sid"])
    assert server.connects == [own]
