"""Protocol conformance through the middleware, byte for byte.

A port to pytest of the official test-suites: ``test-suite/test-suite.js`` of
socketio/socket.io-protocol (its "Engine.IO protocol" and "Socket.IO protocol"
parts) and of socketio/engine.io-protocol. Each test's docstring names the
case it ports, as ``describe > describe > it``.

Every case runs against three servers that must look the same to a client:

* ``a-plain``: ``socketio.ASGIApp(sio)`` with the handlers on ``sio`` (the baseline);
* ``b-main-host``: ``DynamicIO(..., host=None)``, the same handlers installed by
  ``setup_namespace("/")`` and ``setup_namespace("/custom")``, none on ``sio``;
* ``c-no-main-host``: ``DynamicIO(..., host=True)``; clients send
  ``Host: tenant.test`` and the setup patterns are ``"//tenant.test/"`` and
  ``"//tenant.test/custom"`` (python-socketio sees ``//tenant.test/custom``,
  the client only ever ``/custom``).

The handlers are those the socket.io-protocol README asks of the reference
server: on connection ``socket.emit("auth", socket.handshake.auth)``; on "/",
``message`` echoed as ``message-back`` and ``message-with-ack`` acknowledged
with its own arguments.

The raw clients write every Engine.IO packet as given and compare what comes
back exactly (only the sids in CONNECT answers are masked). Where the reference
suite checks bytes or statuses, the test checks those; where it checks nothing
(the body of a POST in the Socket.IO suite, the packets before a close), the
test pins what python-socketio itself sends (``a-plain``), so that the other two
must send the same. The engine.io
suite talks to a bare Engine.IO echo server; here Engine.IO MESSAGEs carry
Socket.IO packets and the echo is the ``message`` handler's, so its cases
compare the same framing (one packet, several packets, text and binary in one
payload) with Socket.IO content.

Where python-socketio itself deviates from the reference: python-socketio 5.x /
python-engineio 4.x does not answer every case as the reference JS server does.
Those cases are listed, with what python-socketio does instead, in
:data:`PYTHON_SOCKETIO_DEVIATIONS`. A test computes the client-visible outcome
on each server and asserts, through :func:`expected`:

* a case not in the table: the reference outcome, on all three servers;
* a case in the table: python-socketio's own outcome (pinned in the test), on
  all three servers: what plain python-socketio gets right must not go wrong
  through the middleware, and where it deviates the middleware must deviate
  identically;
* a case in :data:`MIDDLEWARE_MATCHES_REFERENCE` (the middleware does better
  than plain python-socketio): the reference outcome through the middleware,
  python-socketio's pinned outcome on ``a-plain``.

Timing: the servers use python-socketio's default heartbeat (25 s / 20 s, so no
ping ever shows up), except the heartbeat cases, whose servers use the
reference suite's 300 ms / 200 ms (the disconnect cases too: the reference
expects a PING as the next packet). The servers handle the packets of a
session in order (``async_handlers=False``), as the JS server does. Nothing
sleeps and no test waits out a fixed window: a test waits for a response, a
close or an event of :class:`Probe`, each only bounded (``ANSWER`` seconds) by
``asyncio.timeout``. That a session stays open is shown by a further round
trip it answers (a CONNECT, an acknowledged event, a websocket ping), never by
the absence of a close for some time.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import inspect
import json
import re
import sys
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar
from unittest.mock import ANY
from urllib.parse import parse_qs

import pytest
import pytest_asyncio
import socketio
from _helpers import serve
from _raw import RECORD_SEPARATOR, RawResponse, build_request, engineio_headers, exchange
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from dynamic_io_asgi import DynamicIO, DynamicNamespace

VHOST = "tenant.test"
NAMESPACES = ("/", "/custom")
EIO = "/socket.io/?EIO=4&transport="
#: python-socketio's default heartbeat: no ping during a test.
QUIET = {"ping_interval": 25, "ping_timeout": 20}
#: The reference suite's PING_INTERVAL and PING_TIMEOUT (300 ms, 200 ms). (python-engineio
#: announces whole seconds, "pingInterval":0 here: the handshake cases use QUIET servers.)
FAST = {"ping_interval": 0.3, "ping_timeout": 0.2}
#: Seconds any awaited answer, close or refusal may take: a bound, never a wait (a test
#: goes on as soon as what it awaits comes).
ANSWER = 5.0
PLACEHOLDERS = '{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}'
#: python-engineio's answer to a POST (the engine.io suite's server answers ``ok``).
POST_OK = "OK"
SID = re.compile(r'^(40(?:/[^,]*,)?)\{"sid":"[^"]+"\}$')
#: In an outcome: the session ended (polling: HTTP 400) or the websocket was closed.
CLOSED = "<closed>"
#: An acknowledged event on "/" and its ack: a round trip that shows the session is open.
ALIVE, ALIVE_ACK = '42901["message-with-ack","alive"]', '43901["alive"]'
#: A CONNECT to "/" and its answers: the same, before any namespace is connected.
CONNECT, CONNECTED = "40", ['40{"sid":"<sid>"}', '42["auth",{}]']


class Deviation(NamedTuple):
    """How python-socketio deviates from the reference server in one case."""

    python_socketio: str  # what python-socketio 5.x / python-engineio 4.x does
    reference: str  # what the reference JS server does (and the reference suite checks)


_POST_OK = Deviation("a POST is answered `OK`", "`ok`")
_DROPPED = "the packet is dropped, the session stays open"

#: Every case where python-socketio itself does not do what the reference server does,
#: keyed by test, as found with python-socketio 5.18 / python-engineio 4.15. All three
#: servers give the same bytes there (the test pins them), except in the cases of
#: MIDDLEWARE_MATCHES_REFERENCE.
PYTHON_SOCKETIO_DEVIATIONS: dict[str, Deviation] = {
    "test_handshake_polling_bad_transport": Deviation(
        "no `transport` parameter is taken as polling: HTTP 200, a session opens",
        "HTTP 400",
    ),
    "test_handshake_polling_bad_method": Deviation(
        "a PUT is answered HTTP 405 (a POST without sid: 400, as the reference)", "HTTP 400"
    ),
    "test_message_polling_one_text_packet": _POST_OK,
    "test_message_polling_several_text_packets": _POST_OK,
    "test_message_polling_text_and_binary_packets": _POST_OK,
    "test_message_polling_invalid_packet_format": Deviation(
        "the POST of `abc` is answered 200 `OK`, the session stays open",
        "the POST is answered HTTP 400 and the session is closed",
    ),
    "test_message_polling_duplicate_poll": Deviation(
        "a second GET while one is pending is not refused: both wait and each takes a later"
        " packet, the session stays open",
        "the second GET is answered HTTP 400, the first `1` (CLOSE), the session is closed",
    ),
    "test_close_polling": Deviation(
        "the GET pending at CLOSE is left unanswered until its poll times out"
        " (pingInterval + pingTimeout, then HTTP 400)",
        "the pending GET is answered with NOOP `6`",
    ),
    "test_close_websocket": Deviation(
        "CLOSE ends the session but the websocket stays open (until the heartbeat ends it)",
        "the websocket is closed",
    ),
    "test_connect_unknown_namespace": Deviation(
        '`44/random,"Unable to connect"`', '`44/random,{"message":"Invalid namespace"}`'
    ),
    "test_connect_invalid_handshake": Deviation(
        f"`4abc` before any CONNECT: {_DROPPED}", "the session is closed"
    ),
    "test_message_unknown_packet_type": Deviation(f"`4abc`: {_DROPPED}", "the session is closed"),
    "test_message_invalid_payload_format": Deviation(
        f"`42{{}}`: {_DROPPED}", "the session is closed"
    ),
    "test_message_invalid_ack_id": Deviation(f"`42abc[...]`: {_DROPPED}", "the session is closed"),
}

#: The deviations of python-socketio that the middleware does not share: through it (the
#: variants ``b-main-host`` and ``c-no-main-host``) these cases give the reference outcome.
#: The middleware answers a polling GET pending at CLOSE itself, closes a websocket whose
#: client sent CLOSE, and refuses a CONNECT to an unknown namespace with the reference's error.
MIDDLEWARE_MATCHES_REFERENCE = frozenset(
    {"test_close_polling", "test_close_websocket", "test_connect_unknown_namespace"}
)

Packet = str | bytes  # one Engine.IO packet: text as sent ("40"), binary as its bytes
Emit = Callable[[str, Any, str], Awaitable[None]]
T = TypeVar("T")


async def within(seconds: float, what: str, awaitable: Awaitable[T]) -> T:
    """``await awaitable``; the test fails ("no <what>") if it takes over ``seconds``."""
    try:
        async with asyncio.timeout(seconds):
            return await awaitable
    except TimeoutError:
        pytest.fail(f"no {what} within {seconds} s")


def expected(server: Server, case: str, *, reference: T, plain: T) -> T:
    """The outcome ``server`` must give in ``case``, a deviation of python-socketio: its own
    outcome ``plain`` (pinned by the test), or ``reference`` through the middleware where
    the middleware does better (MIDDLEWARE_MATCHES_REFERENCE). ``reference`` otherwise only
    documents what the reference server gives."""
    assert case in PYTHON_SOCKETIO_DEVIATIONS, case
    if case in MIDDLEWARE_MATCHES_REFERENCE and server.variant != "a-plain":
        return reference
    return plain


def masked(packet: Packet) -> Packet:
    """``packet`` with the sid of a Socket.IO CONNECT answer replaced by ``<sid>``."""
    if isinstance(packet, str):
        return SID.sub(r'\1{"sid":"<sid>"}', packet)
    return packet


# -- the reference server ---------------------------------------------------------------


def reference_handlers(name: str, emit: Emit, tasks: set[asyncio.Task[None]]) -> dict[str, Any]:
    """The reference server's handlers for namespace ``name``; ``emit(event, data, sid)``."""

    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        # socket.emit("auth", socket.handshake.auth) in io.on("connection"). python-socketio
        # sends the CONNECT answer once this handler has returned, so the emit goes
        # to the next turn of the loop, after that answer is queued.
        task = asyncio.create_task(emit("auth", {} if auth is None else auth, sid))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    handlers: dict[str, Any] = {"connect": connect}
    if name == "/":

        async def message(sid: str, *args: Any) -> None:
            await emit("message-back", args, sid)  # a tuple: one argument each

        async def message_with_ack(sid: str, *args: Any) -> tuple[Any, ...]:
            return args  # the ack's arguments

        handlers |= {"message": message, "message-with-ack": message_with_ack}
    return handlers


class Probe:
    """The app under test, wrapped: tells a test that the server took up a polling GET,
    so a test can have a GET pending on the server without sleeping."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.gets: dict[str, int] = {}
        self.changed: asyncio.Condition | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            sid = parse_qs(scope.get("query_string", b"").decode()).get("sid", [None])[0]
            if sid is not None:
                changed = self._condition()
                async with changed:
                    self.gets[sid] = self.gets.get(sid, 0) + 1
                    changed.notify_all()
        await self.app(scope, receive, send)

    def _condition(self) -> asyncio.Condition:
        if self.changed is None:
            self.changed = asyncio.Condition()
        return self.changed

    async def get_pending(self, sid: str, count: int = 1) -> None:
        """Wait until the server has taken up ``count`` polling GETs of session ``sid``."""
        changed = self._condition()

        async def taken_up() -> None:
            async with changed:
                await changed.wait_for(lambda: self.gets.get(sid, 0) >= count)

        await within(ANSWER, f"polling GET of {sid} on the server", taken_up())


def build(variant: str, options: dict[str, float]) -> Any:
    """The ASGI app of server ``variant``."""
    sio = socketio.AsyncServer(
        async_mode="asgi",
        async_handlers=False,  # packets handled in order, as the JS server does
        **options,
    )
    tasks: set[asyncio.Task[None]] = set()
    if variant == "a-plain":
        for name in NAMESPACES:

            def emit(event: str, data: Any, sid: str, name: str = name) -> Awaitable[None]:
                return sio.emit(event, data, to=sid, namespace=name)

            for event, handler in reference_handlers(name, emit, tasks).items():
                sio.on(event, handler, namespace=name)
        return socketio.ASGIApp(sio)

    app = DynamicIO(socketio.ASGIApp(sio), host=None if variant == "b-main-host" else True)

    def setup(nsp: DynamicNamespace, match: re.Match[str]) -> None:
        def emit(event: str, data: Any, sid: str) -> Awaitable[None]:
            return nsp.emit(event, data, to=sid)

        for event, handler in reference_handlers(nsp.name, emit, tasks).items():
            nsp.on(event, handler)

    for name in NAMESPACES:
        app.setup_namespace(name if variant == "b-main-host" else f"//{VHOST}{name}", setup)
    return app


VARIANTS = ["a-plain", "b-main-host", "c-no-main-host"]


@dataclass
class Server:
    variant: str
    url: str  # http://127.0.0.1:<port>
    host: str  # the Host header the clients send
    probe: Probe

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])


@contextlib.asynccontextmanager
async def running(variant: str, options: dict[str, float]) -> AsyncIterator[Server]:
    probe = Probe(build(variant, options))
    # A long-poll the server never answers (test_close_polling leaves one on a-plain) must
    # not hold the shutdown for ever: uvicorn gives it 0.2 s at the end of the module.
    async with serve(probe, timeout_graceful_shutdown=0.2) as url:
        host = VHOST if variant == "c-no-main-host" else url.removeprefix("http://")
        yield Server(variant, url, host, probe)


# One server of each kind for the whole module (every test opens its own sessions):
# tests and fixtures share the module's event loop.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=VARIANTS)
async def server(request: pytest.FixtureRequest) -> AsyncIterator[Server]:
    """Each of the three servers, with a heartbeat too slow to show up."""
    async with running(request.param, QUIET) as server:
        yield server


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=VARIANTS)
async def fast_server(request: pytest.FixtureRequest) -> AsyncIterator[Server]:
    """Each of the three servers, with the reference suite's 300 ms / 200 ms heartbeat."""
    async with running(request.param, FAST) as server:
        yield server


@pytest.fixture(params=["polling", "websocket"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# -- raw clients ------------------------------------------------------------------------


async def http(
    server: Server, method: str, target: str, body: bytes = b"", host: str | None = ""
) -> RawResponse:
    """One raw HTTP/1.1 request; ``host``: the Host header ("" = the server's, None = none)."""
    header = server.host if host == "" else host
    extra = [(b"Content-Length", str(len(body)).encode())] if method != "GET" else []
    headers = engineio_headers(None if header is None else header.encode(), *extra)
    return await exchange(server.url, build_request(method, target, headers, body))


def encode_payload(packets: tuple[Packet, ...]) -> bytes:
    """An Engine.IO polling payload: packets joined by U+001E, binary ones ``b`` + base64."""
    return RECORD_SEPARATOR.join(
        "b" + base64.b64encode(p).decode() if isinstance(p, bytes) else p for p in packets
    ).encode()


def decode_payload(body: str) -> list[Packet]:
    return [
        base64.b64decode(p[1:]) if p.startswith("b") else p for p in body.split(RECORD_SEPARATOR)
    ]


class Polling:
    """A raw Engine.IO session over HTTP long-polling."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.sid = ""
        self.pending: deque[Packet] = deque()

    @property
    def target(self) -> str:
        return f"{EIO}polling&sid={self.sid}"

    async def open(self) -> str:
        """The handshake: the OPEN packet."""
        response = await http(self.server, "GET", EIO + "polling")
        assert response.status == 200, response.body
        self.sid = json.loads(response.text[1:])["sid"]
        return response.text

    async def get(self) -> RawResponse:
        return await http(self.server, "GET", self.target)

    async def post(self, *packets: Packet) -> RawResponse:
        return await http(self.server, "POST", self.target, encode_payload(packets))

    async def send(self, *packets: Packet) -> None:
        """POST ``packets`` in one payload; the server must take them (python-engineio's
        ``OK``: the Socket.IO suite checks no body, the engine.io suite ``ok``)."""
        response = await within(ANSWER, "answer to a POST", self.post(*packets))
        assert (response.status, response.text) == (200, POST_OK)

    async def receive(self) -> Packet:
        """The next packet, long-polling when none is left from the last GET."""
        packet = await self.next_packet()
        assert packet != CLOSED, "the session ended (HTTP 400)"
        return packet

    async def next_packet(self) -> Packet:
        """The next packet, or ``CLOSED`` once a GET is answered HTTP 400."""
        while not self.pending:
            response = await within(ANSWER, "answer to a polling GET", self.get())
            if response.status == 400:
                return CLOSED
            assert response.status == 200, (response.status, response.body)
            self.pending.extend(decode_payload(response.text))
        return self.pending.popleft()

    async def offer(self, *packets: Packet) -> None:
        """POST ``packets`` whatever the answer (an ended session answers HTTP 400)."""
        await within(ANSWER, "answer to a POST", self.post(*packets))

    async def closed(self, seconds: float = ANSWER) -> list[Packet]:
        """Long-poll until the session is gone (HTTP 400), for at most ``seconds``; the
        packets received until then."""
        received = list(self.pending)
        self.pending.clear()
        try:
            async with asyncio.timeout(seconds):
                while (response := await self.get()).status == 200:
                    received.extend(decode_payload(response.text))
        except TimeoutError:
            pytest.fail(f"session still open after {seconds} s; received {received!r}")
        assert response.status == 400, (response.status, response.body)
        return received

    async def aclose(self) -> None:
        with contextlib.suppress(OSError, TimeoutError):
            async with asyncio.timeout(ANSWER):
                await self.post("1")


class WebSocket:
    """A raw Engine.IO session over a websocket: one packet per frame."""

    def __init__(self, server: Server, sid: str | None = None) -> None:
        self.server = server
        self.sid = sid
        self.ws: ClientConnection | None = None

    async def connect(self) -> None:
        query = EIO + "websocket" + (f"&sid={self.sid}" if self.sid else "")
        self.ws = await ws_connect(self.server, query)

    async def open(self) -> str:
        """Connect without a sid: the OPEN packet."""
        await self.connect()
        opening = await self.receive()
        assert isinstance(opening, str), opening
        self.sid = json.loads(opening[1:])["sid"]
        return opening

    async def send(self, *packets: Packet) -> None:
        assert self.ws is not None
        for packet in packets:
            await self.ws.send(packet)

    async def receive(self) -> Packet:
        assert self.ws is not None
        return await within(ANSWER, "websocket frame", self.ws.recv())

    async def next_packet(self) -> Packet:
        """The next packet, or ``CLOSED`` once the websocket is closed."""
        try:
            return await self.receive()
        except ConnectionClosed:
            return CLOSED

    async def offer(self, *packets: Packet) -> None:
        """Send ``packets`` unless the websocket is closed already."""
        with contextlib.suppress(ConnectionClosed):
            await self.send(*packets)

    async def answers_ping(self) -> bool:
        """Whether the websocket is open: it answers a websocket ping (uvicorn answers it,
        whatever the app does; a closed websocket does not)."""
        assert self.ws is not None
        try:
            pong = await self.ws.ping()
            await within(ANSWER, "websocket pong", pong)
        except ConnectionClosed:
            return False
        return True

    async def closed(self, seconds: float = ANSWER) -> list[Packet]:
        """Read until the server closes the websocket, for at most ``seconds``; the packets
        received until then."""
        assert self.ws is not None
        received: list[Packet] = []
        try:
            async with asyncio.timeout(seconds):
                with contextlib.suppress(ConnectionClosed):
                    while True:
                        received.append(await self.ws.recv())
        except TimeoutError:
            pytest.fail(f"websocket still open after {seconds} s; received {received!r}")
        return received

    async def aclose(self) -> None:
        if self.ws is not None:
            await self.ws.close()


async def ws_connect(server: Server, target: str) -> ClientConnection:
    """A websocket to ``target`` on the server, with ``Host: server.host`` exactly."""
    # The Host header is the URI's; the TCP connection goes to host and port.
    return await connect(
        f"ws://{server.host}{target}",
        host="127.0.0.1",
        port=server.port,
        proxy=None,
        compression=None,
        ping_interval=None,
        open_timeout=ANSWER,
        user_agent_header=None,
    )


async def ws_refused(server: Server, target: str) -> tuple[str, list[Packet]]:
    """A websocket the server must turn down: how it ended (``"HTTP <status>"`` before the
    upgrade, ``"closed <code>"`` after it) and the packets received before."""
    try:
        ws = await ws_connect(server, target)
    except InvalidStatus as exc:
        return f"HTTP {exc.response.status_code}", []
    frames: list[Packet] = []
    try:
        async with asyncio.timeout(ANSWER):
            while True:
                frames.append(await ws.recv())
    except ConnectionClosed:
        return f"closed {ws.close_code}", frames
    except TimeoutError:
        pytest.fail(f"websocket {target} accepted, still open after {ANSWER} s: {frames!r}")
    finally:
        await ws.close()


Client = Polling | WebSocket


@contextlib.asynccontextmanager
async def session(server: Server, transport: str) -> AsyncIterator[Client]:
    """An open Engine.IO session (OPEN packet read) over ``transport``."""
    client: Client = Polling(server) if transport == "polling" else WebSocket(server)
    await client.open()
    try:
        yield client
    finally:
        await client.aclose()


async def receive(client: Client, count: int) -> list[Packet]:
    """The next ``count`` packets, sids masked."""
    return [masked(await client.receive()) for _ in range(count)]


async def answers(client: Client, probe: Packet, count: int) -> list[Packet]:
    """Send ``probe``; the ``count`` packets that come next (sids masked), or those that
    came until the session ended followed by ``CLOSED``: a round trip that tells an open
    session (it answers) from an ended one, without waiting for anything not to happen."""
    await client.offer(probe)
    received: list[Packet] = []
    while len(received) < count and CLOSED not in received:
        received.append(masked(await client.next_packet()))
    return received


@contextlib.asynccontextmanager
async def socketio_session(server: Server, transport: str) -> AsyncIterator[Client]:
    """initSocketIOConnection(): an Engine.IO session connected to "/" (CONNECT answered,
    "auth" received)."""
    async with session(server, transport) as client:
        await client.send("40")
        assert await receive(client, 2) == ['40{"sid":"<sid>"}', '42["auth",{}]']
        yield client


def open_fields(opening: str) -> dict[str, Any]:
    assert opening.startswith("0{"), opening
    value: dict[str, Any] = json.loads(opening[1:])
    assert sorted(value) == ["maxPayload", "pingInterval", "pingTimeout", "sid", "upgrades"]
    assert isinstance(value["sid"], str)
    return value


# == Engine.IO protocol =================================================================

# -- handshake ----------------------------------------------------------------------------


async def test_handshake_polling_opens_a_session(server: Server) -> None:
    """Engine.IO protocol > handshake > HTTP long-polling > should successfully open a
    session (engine.io: successfully opens a session)."""
    response = await http(server, "GET", EIO + "polling")
    assert response.status == 200
    value = open_fields(response.text)  # one packet: the whole body is the OPEN packet
    await http(server, "POST", f"{EIO}polling&sid={value['sid']}", b"1")
    assert {k: v for k, v in value.items() if k != "sid"} == {
        "upgrades": ["websocket"],
        "pingInterval": 25000,
        "pingTimeout": 20000,
        "maxPayload": 1000000,
    }


async def test_handshake_polling_bad_eio(server: Server) -> None:
    """Engine.IO protocol > handshake > HTTP long-polling > should fail with an invalid
    'EIO' query parameter."""
    statuses = [
        (await http(server, "GET", "/socket.io/?transport=polling")).status,
        (await http(server, "GET", "/socket.io/?EIO=abc&transport=polling")).status,
    ]
    assert statuses == [400, 400]


async def test_handshake_polling_bad_transport(server: Server) -> None:
    """Engine.IO protocol > handshake > HTTP long-polling > should fail with an invalid
    'transport' query parameter.

    python-socketio deviates: no ``transport`` at all is a polling handshake (HTTP 200)."""
    missing = await http(server, "GET", "/socket.io/?EIO=4")
    if missing.status == 200:  # python-socketio opened a session: close it
        await http(server, "POST", f"{EIO}polling&sid={open_fields(missing.text)['sid']}", b"1")
    statuses = [
        missing.status,
        (await http(server, "GET", "/socket.io/?EIO=4&transport=abc")).status,
    ]
    assert statuses == expected(
        server, "test_handshake_polling_bad_transport", reference=[400, 400], plain=[200, 400]
    )


async def test_handshake_polling_bad_method(server: Server) -> None:
    """Engine.IO protocol > handshake > HTTP long-polling > should fail with an invalid
    request method.

    python-socketio deviates: a PUT is answered HTTP 405, not 400."""
    statuses = [
        (await http(server, "POST", EIO + "polling")).status,
        (await http(server, "PUT", EIO + "polling")).status,
    ]
    assert statuses == expected(
        server, "test_handshake_polling_bad_method", reference=[400, 400], plain=[400, 405]
    )


async def test_handshake_websocket_opens_a_session(server: Server) -> None:
    """Engine.IO protocol > handshake > WebSocket > should successfully open a session."""
    client = WebSocket(server)
    try:
        value = open_fields(await client.open())
    finally:
        await client.aclose()
    assert {k: v for k, v in value.items() if k != "sid"} == {
        "upgrades": [],
        "pingInterval": 25000,
        "pingTimeout": 20000,
        "maxPayload": 1000000,
    }


async def test_handshake_websocket_bad_eio(server: Server) -> None:
    """Engine.IO protocol > handshake > WebSocket > should fail with an invalid 'EIO'
    query parameter: closed without an OPEN packet."""
    for target in ["/socket.io/?transport=websocket", "/socket.io/?EIO=abc&transport=websocket"]:
        how, frames = await ws_refused(server, target)
        assert frames == [], (target, how)


async def test_handshake_websocket_bad_transport(server: Server) -> None:
    """Engine.IO protocol > handshake > WebSocket > should fail with an invalid
    'transport' query parameter: closed without an OPEN packet."""
    for target in ["/socket.io/?EIO=4", "/socket.io/?EIO=4&transport=abc"]:
        how, frames = await ws_refused(server, target)
        assert frames == [], (target, how)


# -- message (engine.io-protocol suite; the echo is the "message" handler's) --------------


async def test_message_polling_one_text_packet(server: Server) -> None:
    """engine.io: Engine.IO protocol > message > HTTP long-polling > sends and receives a
    payload containing one plain text packet.

    python-socketio deviates: the POST is answered ``OK``, not ``ok``."""
    async with socketio_session(server, "polling") as client:
        assert isinstance(client, Polling)
        pushed = await client.post('42["message","hello"]')
        polled = await client.get()
        outcome = [pushed.status, pushed.text, polled.status, polled.text]
        back = '42["message-back","hello"]'
        assert outcome == expected(
            server,
            "test_message_polling_one_text_packet",
            reference=[200, "ok", 200, back],
            plain=[200, POST_OK, 200, back],
        )


async def test_message_polling_several_text_packets(server: Server) -> None:
    """engine.io: Engine.IO protocol > message > HTTP long-polling > sends and receives a
    payload containing several plain text packets.

    python-socketio deviates: the POST is answered ``OK``, not ``ok``."""
    async with socketio_session(server, "polling") as client:
        assert isinstance(client, Polling)
        pushed = await client.post(*(f'42["message","test{i}"]' for i in (1, 2, 3)))
        polled = await client.get()
        outcome = [pushed.status, pushed.text, polled.status, polled.text]
        back = RECORD_SEPARATOR.join(f'42["message-back","test{i}"]' for i in (1, 2, 3))
        assert outcome == expected(
            server,
            "test_message_polling_several_text_packets",
            reference=[200, "ok", 200, back],
            plain=[200, POST_OK, 200, back],
        )


async def test_message_polling_text_and_binary_packets(server: Server) -> None:
    """engine.io: Engine.IO protocol > message > HTTP long-polling > sends and receives a
    payload containing plain text and binary packets (``4hello\\x1ebAQIDBA==``).

    python-socketio deviates: the POST is answered ``OK``, not ``ok``."""
    async with socketio_session(server, "polling") as client:
        assert isinstance(client, Polling)
        body = '451-["message",{"_placeholder":true,"num":0}]\x1ebAQIDBA=='
        pushed = await http(server, "POST", client.target, body.encode())
        polled = await client.get()
        outcome = [pushed.status, pushed.text, polled.status, polled.text]
        back = '451-["message-back",{"_placeholder":true,"num":0}]\x1ebAQIDBA=='
        assert outcome == expected(
            server,
            "test_message_polling_text_and_binary_packets",
            reference=[200, "ok", 200, back],
            plain=[200, POST_OK, 200, back],
        )


async def test_message_polling_invalid_packet_format(server: Server) -> None:
    """engine.io: Engine.IO protocol > message > HTTP long-polling > closes the session
    upon invalid packet format (then a CONNECT shows whether the session is still open).

    python-socketio deviates: the POST is answered 200 ``OK``, the session stays open."""
    async with session(server, "polling") as client:
        assert isinstance(client, Polling)
        response = await within(ANSWER, "answer to the POST", client.post("abc"))
        outcome = [response.status, response.text, await answers(client, CONNECT, 2)]
    assert outcome == expected(
        server,
        "test_message_polling_invalid_packet_format",
        reference=[400, ANY, [CLOSED]],  # the reference suite checks no body
        plain=[200, POST_OK, CONNECTED],
    )


async def test_message_polling_duplicate_poll(server: Server) -> None:
    """engine.io: Engine.IO protocol > message > HTTP long-polling > closes the session
    upon duplicate poll requests. With both GETs on the server, an acknowledged event is
    posted, and once one GET is answered, a second one if the other is still waiting: the
    answers show whether the session was closed or is still open.

    python-socketio deviates: the second GET is not refused, the session stays open."""
    async with socketio_session(server, "polling") as client:
        assert isinstance(client, Polling)
        taken = server.probe.gets.get(client.sid, 0)
        first = asyncio.create_task(client.get())
        second: asyncio.Task[RawResponse] | None = None
        try:
            await server.probe.get_pending(client.sid, taken + 1)
            second = asyncio.create_task(http(server, "GET", client.target + "&t=burst"))
            await server.probe.get_pending(client.sid, taken + 2)
            posts = [(await client.post('42901["message-with-ack","first"]')).status]
            await within(
                ANSWER,
                "answer to either GET",
                asyncio.wait({first, second}, return_when=asyncio.FIRST_COMPLETED),
            )
            if not (first.done() and second.done()):
                posts.append((await client.post('42902["message-with-ack","second"]')).status)
            gets = [await within(ANSWER, "answer to a GET", get) for get in (first, second)]
        finally:
            first.cancel()
            if second is not None:
                second.cancel()
    outcome = {"POSTs": posts, "GETs": [(get.status, get.text) for get in gets]}
    assert outcome == expected(
        server,
        "test_message_polling_duplicate_poll",
        # (The reference suite checks no body for the refused GET; Node.js answers HTTP 500.)
        reference={"POSTs": [400], "GETs": [(200, "1"), (400, ANY)]},
        plain={"POSTs": [200, 200], "GETs": [(200, '43901["first"]'), (200, '43902["second"]')]},
    )


async def test_message_websocket_text_packet(server: Server) -> None:
    """engine.io: Engine.IO protocol > message > WebSocket > sends and receives a plain
    text packet."""
    async with socketio_session(server, "websocket") as client:
        await client.send('42["message","hello"]')
        assert await receive(client, 1) == ['42["message-back","hello"]']


async def test_message_websocket_binary_packet(server: Server) -> None:
    """engine.io: Engine.IO protocol > message > WebSocket > sends and receives a binary
    packet (a binary frame, ``[1, 2, 3, 4]``)."""
    async with socketio_session(server, "websocket") as client:
        await client.send('451-["message",{"_placeholder":true,"num":0}]', b"\x01\x02\x03\x04")
        assert await receive(client, 2) == [
            '451-["message-back",{"_placeholder":true,"num":0}]',
            b"\x01\x02\x03\x04",
        ]


async def test_message_websocket_invalid_packet_format(server: Server) -> None:
    """engine.io: Engine.IO protocol > message > WebSocket > closes the session upon
    invalid packet format."""
    async with session(server, "websocket") as client:
        await client.send("abc")
        assert await client.closed() == []


# -- heartbeat (the same cases in both suites) ------------------------------------------


async def test_heartbeat_polling_ping_pong(fast_server: Server) -> None:
    """Engine.IO protocol > heartbeat > HTTP long-polling > should send ping/pong packets."""
    async with session(fast_server, "polling") as client:
        assert isinstance(client, Polling)
        for _ in range(3):
            response = await within(ANSWER, "PING", client.get())
            assert (response.status, response.text) == (200, "2")
            response = await client.post("3")
            assert (response.status, response.text) == (200, POST_OK)


async def test_heartbeat_polling_ping_timeout(fast_server: Server) -> None:
    """Engine.IO protocol > heartbeat > HTTP long-polling > should close the session upon
    ping timeout (the PING is left unanswered; the session then ends with HTTP 400)."""
    async with session(fast_server, "polling") as client:
        assert await client.closed(seconds=ANSWER) == ["2"]


async def test_heartbeat_websocket_ping_pong(fast_server: Server) -> None:
    """Engine.IO protocol > heartbeat > WebSocket > should send ping/pong packets."""
    async with session(fast_server, "websocket") as client:
        for _ in range(3):
            assert await client.receive() == "2"
            await client.send("3")


async def test_heartbeat_websocket_ping_timeout(fast_server: Server) -> None:
    """Engine.IO protocol > heartbeat > WebSocket > should close the session upon ping
    timeout."""
    async with session(fast_server, "websocket") as client:
        assert await client.closed(seconds=ANSWER) == ["2"]


# -- close (the same cases in both suites) ----------------------------------------------


async def test_close_polling(server: Server) -> None:
    """Engine.IO protocol > close > HTTP long-polling > should forcefully close the session:
    the GET pending when CLOSE is posted is answered with NOOP ``6``; then HTTP 400.

    python-socketio deviates (the middleware does not): the pending GET is left unanswered
    until its poll times out (pingInterval + pingTimeout, 45 s here, then HTTP 400)."""
    client = Polling(server)
    await client.open()
    pending = asyncio.create_task(client.get())
    try:
        await server.probe.get_pending(client.sid)
        response = await client.post("1")
        assert (response.status, response.text) == (200, POST_OK)
        if server.variant == "a-plain":
            # Not waited for: python-socketio's answer would take 45 s. A GET after CLOSE
            # is answered at once (HTTP 400); the pending GET still has no answer by then.
            after = (await within(ANSWER, "answer to a GET after CLOSE", client.get())).status
            answer: tuple[int, str] | None = None
            assert not pending.done(), pending.result()
        else:
            got = await within(ANSWER, "answer to the pending GET", pending)
            answer = (got.status, got.text)
            after = (await within(ANSWER, "answer to a GET after CLOSE", client.get())).status
    finally:
        pending.cancel()
    outcome = {"pending GET": answer, "GET after CLOSE": after}
    assert outcome == expected(
        server,
        "test_close_polling",
        reference={"pending GET": (200, "6"), "GET after CLOSE": 400},
        plain={"pending GET": None, "GET after CLOSE": 400},  # None: not answered (yet)
    )


async def test_close_websocket(server: Server) -> None:
    """Engine.IO protocol > close > WebSocket > should forcefully close the session. Once a
    GET with its sid is refused (HTTP 400: CLOSE was handled, the session ended), a
    websocket ping shows whether the websocket is still open.

    python-socketio deviates: CLOSE ends the session but leaves the websocket open."""
    async with session(server, "websocket") as client:
        assert isinstance(client, WebSocket)
        await client.send("1")
        gone = await within(
            ANSWER, "answer to a GET", http(server, "GET", f"{EIO}polling&sid={client.sid}")
        )
        # "open", or (closed) the packets that came before the close.
        websocket = "open" if await client.answers_ping() else await client.closed()
    outcome = {"GET with its sid": gone.status, "websocket": websocket}
    assert outcome == expected(
        server,
        "test_close_websocket",
        reference={"GET with its sid": 400, "websocket": []},
        plain={"GET with its sid": 400, "websocket": "open"},
    )


# -- upgrade ----------------------------------------------------------------------------


async def connect_custom(client: Client) -> None:
    """A Socket.IO round trip on /custom: the session carries data (the engine.io suite's
    ``4hello`` echo)."""
    await client.send("40/custom,")
    assert await receive(client, 2) == ['40/custom,{"sid":"<sid>"}', '42/custom,["auth",{}]']


async def test_upgrade(server: Server) -> None:
    """Engine.IO protocol > upgrade > should successfully upgrade from HTTP long-polling to
    WebSocket (engine.io: the GET pending during the probe ends with NOOP ``6``)."""
    polling = Polling(server)
    await polling.open()
    pending = asyncio.create_task(polling.get())
    ws = WebSocket(server, polling.sid)
    try:
        await server.probe.get_pending(polling.sid)
        await ws.connect()
        await ws.send("2probe")
        assert await ws.receive() == "3probe"
        response = await within(ANSWER, "answer to the pending GET", pending)
        assert (response.status, response.text) == (200, "6")
        await ws.send("5")
        await connect_custom(ws)
    finally:
        pending.cancel()
        await ws.aclose()


async def test_upgrade_ignores_polling_after_upgrade(server: Server) -> None:
    """Engine.IO protocol > upgrade > should ignore HTTP requests with same sid after
    upgrade (engine.io: the NOOP ``6`` that ended polling comes over the websocket)."""
    polling = Polling(server)
    await polling.open()
    ws = WebSocket(server, polling.sid)
    try:
        await ws.connect()
        await ws.send("2probe")
        assert await ws.receive() == "3probe"
        await ws.send("5")
        assert await ws.receive() == "6"
        assert (await polling.get()).status == 400
        await connect_custom(ws)
    finally:
        await ws.aclose()


async def test_upgrade_ignores_second_websocket(server: Server) -> None:
    """Engine.IO protocol > upgrade > should ignore WebSocket connection with same sid
    after upgrade."""
    polling = Polling(server)
    await polling.open()
    ws = WebSocket(server, polling.sid)
    try:
        await ws.connect()
        await ws.send("2probe")
        assert await ws.receive() == "3probe"
        await ws.send("5")
        assert await ws.receive() == "6"
        how, frames = await ws_refused(server, f"{EIO}websocket&sid={polling.sid}")
        assert frames == [], how
        await connect_custom(ws)
    finally:
        await ws.aclose()


# == Socket.IO protocol =================================================================

# -- connect ----------------------------------------------------------------------------


async def test_connect_main_namespace(server: Server, transport: str) -> None:
    """Socket.IO protocol > connect > should allow connection to the main namespace."""
    async with session(server, transport) as client:
        await client.send("40")
        assert await receive(client, 2) == ['40{"sid":"<sid>"}', '42["auth",{}]']


async def test_connect_main_namespace_with_payload(server: Server, transport: str) -> None:
    """Socket.IO protocol > connect > should allow connection to the main namespace with a
    payload."""
    async with session(server, transport) as client:
        await client.send('40{"token":"123"}')
        assert await receive(client, 2) == ['40{"sid":"<sid>"}', '42["auth",{"token":"123"}]']


async def test_connect_custom_namespace(server: Server, transport: str) -> None:
    """Socket.IO protocol > connect > should allow connection to a custom namespace."""
    async with session(server, transport) as client:
        await client.send("40/custom,")
        assert await receive(client, 2) == [
            '40/custom,{"sid":"<sid>"}',
            '42/custom,["auth",{}]',
        ]


async def test_connect_custom_namespace_with_payload(server: Server, transport: str) -> None:
    """Socket.IO protocol > connect > should allow connection to a custom namespace with a
    payload."""
    async with session(server, transport) as client:
        await client.send('40/custom,{"token":"abc"}')
        assert await receive(client, 2) == [
            '40/custom,{"sid":"<sid>"}',
            '42/custom,["auth",{"token":"abc"}]',
        ]


async def test_connect_unknown_namespace(server: Server, transport: str) -> None:
    """Socket.IO protocol > connect > should disallow connection to an unknown namespace.

    python-socketio deviates (the middleware does not): its CONNECT_ERROR carries the
    string ``"Unable to connect"``, not ``{"message":"Invalid namespace"}``."""
    async with session(server, transport) as client:
        await client.send("40/random")
        outcome = await receive(client, 1)
    assert outcome == expected(
        server,
        "test_connect_unknown_namespace",
        reference=['44/random,{"message":"Invalid namespace"}'],
        plain=['44/random,"Unable to connect"'],
    )


async def test_connect_invalid_handshake(server: Server, transport: str) -> None:
    """Socket.IO protocol > connect > should disallow connection with an invalid handshake
    (then a CONNECT shows whether the session is still open).

    python-socketio deviates: ``4abc`` is dropped, the session stays open."""
    async with session(server, transport) as client:
        await client.send("4abc")
        outcome = await answers(client, CONNECT, 2)
    assert outcome == expected(
        server, "test_connect_invalid_handshake", reference=[CLOSED], plain=CONNECTED
    )


async def test_connect_no_handshake(fast_server: Server, transport: str) -> None:
    """Socket.IO protocol > connect > should close the connection if no handshake is
    received (the reference server's 300 ms / 200 ms heartbeat, pings unanswered)."""
    async with session(fast_server, transport) as client:
        assert await client.closed(seconds=ANSWER) == ["2"]


# -- disconnect -------------------------------------------------------------------------


async def test_disconnect_main_namespace(fast_server: Server, transport: str) -> None:
    """Socket.IO protocol > disconnect > should disconnect from the main namespace (the
    session stays: the next packet is the server's PING)."""
    async with socketio_session(fast_server, transport) as client:
        await client.send("41")
        assert await receive(client, 1) == ["2"]


async def test_disconnect_custom_namespace(fast_server: Server, transport: str) -> None:
    """Socket.IO protocol > disconnect > should connect then disconnect from a custom
    namespace (the PING is answered here, which the reference leaves to its timeout)."""
    async with socketio_session(fast_server, transport) as client:
        assert await receive(client, 1) == ["2"]
        await client.send("3")
        await client.send("40/custom")
        assert await receive(client, 2) == ['40/custom,{"sid":"<sid>"}', '42/custom,["auth",{}]']
        await client.send("41/custom", '42["message","message to main namespace"]')
        assert await receive(client, 1) == ['42["message-back","message to main namespace"]']


# -- message ----------------------------------------------------------------------------


async def test_message_plain_text(server: Server, transport: str) -> None:
    """Socket.IO protocol > message > should send a plain-text packet."""
    async with socketio_session(server, transport) as client:
        await client.send('42["message",1,"2",{"3":[true]}]')
        assert await receive(client, 1) == ['42["message-back",1,"2",{"3":[true]}]']


async def test_message_binary_attachments(server: Server, transport: str) -> None:
    """Socket.IO protocol > message > should send a packet with binary attachments."""
    async with socketio_session(server, transport) as client:
        await client.send(f'452-["message",{PLACEHOLDERS}]', b"\x01\x02\x03", b"\x04\x05\x06")
        assert await receive(client, 3) == [
            f'452-["message-back",{PLACEHOLDERS}]',
            b"\x01\x02\x03",
            b"\x04\x05\x06",
        ]


async def test_message_plain_text_with_ack(server: Server, transport: str) -> None:
    """Socket.IO protocol > message > should send a plain-text packet with an ack."""
    async with socketio_session(server, transport) as client:
        await client.send('42456["message-with-ack",1,"2",{"3":[false]}]')
        assert await receive(client, 1) == ['43456[1,"2",{"3":[false]}]']


async def test_message_binary_attachments_with_ack(server: Server, transport: str) -> None:
    """Socket.IO protocol > message > should send a packet with binary attachments and an
    ack."""
    async with socketio_session(server, transport) as client:
        await client.send(
            f'452-789["message-with-ack",{PLACEHOLDERS}]', b"\x01\x02\x03", b"\x04\x05\x06"
        )
        assert await receive(client, 3) == [
            f"462-789[{PLACEHOLDERS}]",
            b"\x01\x02\x03",
            b"\x04\x05\x06",
        ]


async def test_message_unknown_packet_type(server: Server, transport: str) -> None:
    """Socket.IO protocol > message > should close the connection upon invalid format
    (unknown packet type) (then an acknowledged event shows whether the session is still open).

    python-socketio deviates: ``4abc`` is dropped, the session stays open."""
    async with socketio_session(server, transport) as client:
        await client.send("4abc")
        outcome = await answers(client, ALIVE, 1)
    assert outcome == expected(
        server, "test_message_unknown_packet_type", reference=[CLOSED], plain=[ALIVE_ACK]
    )


async def test_message_invalid_payload_format(server: Server, transport: str) -> None:
    """Socket.IO protocol > message > should close the connection upon invalid format
    (invalid payload format) (then an acknowledged event shows whether the session is still open).

    python-socketio deviates: ``42{}`` is dropped, the session stays open."""
    async with socketio_session(server, transport) as client:
        await client.send("42{}")
        outcome = await answers(client, ALIVE, 1)
    assert outcome == expected(
        server, "test_message_invalid_payload_format", reference=[CLOSED], plain=[ALIVE_ACK]
    )


async def test_message_invalid_ack_id(server: Server, transport: str) -> None:
    """Socket.IO protocol > message > should close the connection upon invalid format
    (invalid ack id) (then an acknowledged event shows whether the session is still open).

    python-socketio deviates: ``42abc[...]`` is dropped, the session stays open."""
    async with socketio_session(server, transport) as client:
        await client.send('42abc["message-with-ack",1,"2",{"3":[false]}]')
        outcome = await answers(client, ALIVE, 1)
    assert outcome == expected(
        server, "test_message_invalid_ack_id", reference=[CLOSED], plain=[ALIVE_ACK]
    )


# == Not in the reference suites: no Host header =========================================

UPGRADE_HEADERS = [
    (b"Upgrade", b"websocket"),
    (b"Connection", b"Upgrade"),
    (b"Sec-WebSocket-Key", b"dGhlIHNhbXBsZSBub25jZQ=="),
    (b"Sec-WebSocket-Version", b"13"),
]


async def test_no_host_header_polling(server: Server) -> None:
    """A handshake without a Host header: with ``host=True`` (no main host) there is no
    host to serve, HTTP 400; the other two servers serve it (so uvicorn lets it through)."""
    response = await http(server, "GET", EIO + "polling", host=None)
    if server.variant == "c-no-main-host":
        assert response.status == 400, response.body
    else:
        assert response.status == 200, response.body
        open_fields(response.text)


async def test_no_host_header_websocket(server: Server) -> None:
    """A websocket handshake without a Host header: with ``host=True`` it is closed before
    it is accepted (uvicorn answers HTTP 403); the other two servers accept it (101)."""
    request = build_request("GET", EIO + "websocket", UPGRADE_HEADERS)
    response = await exchange(server.url, request, timeout=ANSWER)
    expected = 403 if server.variant == "c-no-main-host" else 101
    assert response.status == expected, (response.status, response.body)


# == The table ===========================================================================


async def test_deviation_table_names_tests() -> None:
    """Every case of PYTHON_SOCKETIO_DEVIATIONS is a test of this module that asserts
    through :func:`expected`, and only those cases do."""
    module = globals()
    tests = {name for name in module if name.startswith("test_") and callable(module[name])}
    assert set(PYTHON_SOCKETIO_DEVIATIONS) <= tests
    assert set(PYTHON_SOCKETIO_DEVIATIONS) >= MIDDLEWARE_MATCHES_REFERENCE
    source = inspect.getsource(sys.modules[__name__])
    assert set(re.findall(r'expected\(\s*server,\s*"(test_\w+)"', source)) == set(
        PYTHON_SOCKETIO_DEVIATIONS
    )
