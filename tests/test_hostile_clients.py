"""Hostile clients: raw Engine.IO / Socket.IO bytes that no well-behaved client sends.

Each test talks to a real uvicorn server over a raw websocket (aiohttp with a
``Host`` header) or raw long-polling, sends something malformed, oversized or
sly, checks the answer, and then checks the two things that must hold after
every attack: a well-behaved python-socketio client on another host is still
served, and nothing is left behind (``sio.handlers``, ``manager.rooms``,
Engine.IO sessions and ``app.namespaces`` are back to their baseline once the
attack's namespaces retired).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import aiohttp
import msgpack
import pytest
import socketio
from _helpers import TIMEOUT, client, serve
from _raw import build_request, exchange

from dynamic_io_asgi import DynamicIO, DynamicNamespace, _retirement

MAIN = "main.test"
HOST = "evil.test"
GOOD = "good.test"
PATH = "/socket.io/?EIO=4&transport="
MAX_BODY = 20_000
RETIREMENT = 0.2
SETUP_TIMEOUT = 0.5
INVALID = '{"message":"Invalid namespace"}'
PLACEHOLDER = '{"_placeholder":true,"num":0}'


class Server:
    """The app under attack and what it records."""

    def __init__(self, serializer: str = "default", **options: Any) -> None:
        self.sio = socketio.AsyncServer(
            async_mode="asgi",
            serializer=serializer,
            max_http_buffer_size=MAX_BODY,
            async_handlers=False,  # packets of one connection are handled in order
        )
        self.app = DynamicIO(
            socketio.ASGIApp(self.sio),
            host=MAIN,
            retirement=RETIREMENT,
            setup_timeout=SETUP_TIMEOUT,
            **options,
        )
        self.main_connects: list[str] = []
        self.setups: list[str] = []
        self.hung: list[str] = []
        self.cancelled: list[str] = []
        self.app.setup_namespace("*", self.setup)
        self.app.setup_namespace(re.compile(r"\A//[^/]+/hang"), self.hang)

        @self.sio.on("connect", namespace="/x")
        def main_x(sid: str, environ: dict[str, Any]) -> None:
            self.main_connects.append(sid)

    def setup(self, nsp: DynamicNamespace, match: re.Match[str]) -> bool:
        self.setups.append(nsp.fullname)
        nsp.on("echo", lambda sid, data=None: data)
        return nsp.name != "/refuse"

    async def hang(self, nsp: DynamicNamespace, match: re.Match[str]) -> None:
        self.hung.append(nsp.fullname)
        try:
            await asyncio.Event().wait()
        finally:
            self.cancelled.append(nsp.fullname)

    def state(self) -> dict[str, Any]:
        """Everything that must return to its baseline."""
        sio = self.sio
        return {
            "handlers": sorted(sio.handlers),
            "namespace_handlers": sorted(sio.namespace_handlers),
            "rooms": sorted(sio.manager.rooms),
            "pending_disconnect": sorted(sio.manager.pending_disconnect),
            "callbacks": sorted(sio.manager.callbacks),
            # A closed session waits for python-engineio's next sweep to leave this dict.
            "eio_sockets": sum(not s.closed for s in sio.eio.sockets.values()),
            "environ": len(sio.environ),
            "binary_packets": len(sio._binary_packet),
            "namespaces": sorted(self.app.namespaces),
        }


@contextlib.asynccontextmanager
async def attacked(
    serializer: str = "default", **options: Any
) -> AsyncIterator[tuple[Server, str]]:
    """A served app (``options`` go to ``DynamicIO``); on exit, the well-behaved
    client and the leak check."""
    server = Server(serializer, **options)
    baseline = server.state()
    async with serve(server.app) as url:
        yield server, url
        await well_behaved(url, serializer)
        await until(lambda: server.state() == baseline, server, baseline)


async def well_behaved(url: str, serializer: str) -> None:
    async with client(url, GOOD, namespaces=["/", "/chat"], serializer=serializer) as good:
        assert await good.call("echo", "hi", namespace="/chat", timeout=TIMEOUT) == "hi"
        assert await good.call("echo", [1], namespace="/", timeout=TIMEOUT) == [1]


async def until(
    predicate: Callable[[], bool], server: Server | None = None, baseline: Any = None
) -> None:
    """Wait for ``predicate`` (checked every 20 ms) for at most TIMEOUT seconds."""
    try:
        async with asyncio.timeout(TIMEOUT):
            while not predicate():
                await asyncio.sleep(0.02)
    except TimeoutError:
        if server is None:
            raise
        state = server.state()
        leaked = {k: (v, state[k]) for k, v in baseline.items() if state[k] != v}
        raise AssertionError(f"not back to the baseline (baseline, now): {leaked}") from None


@pytest.fixture(autouse=True)
def quick_stale_connects(monkeypatch: pytest.MonkeyPatch) -> None:
    """A CONNECT the server never reads (broken auth JSON, or swallowed as a missing
    attachment) pins its namespace for STALE_CONNECT (10 s); 1 s keeps the tests fast."""
    monkeypatch.setattr(_retirement, "STALE_CONNECT", 1.0)


@pytest.fixture(autouse=True)
def no_unhandled_errors() -> Iterator[list[logging.LogRecord]]:
    """No request may end in an unhandled exception (uvicorn logs those)."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.ERROR)
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("uvicorn.error")
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)
    assert not [r.getMessage() for r in records]


# -- raw clients ----------------------------------------------------------------------


class RawWebSocket:
    """A websocket-only Engine.IO session; pings are answered, frames kept in order."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    async def send(self, *frames: str | bytes) -> None:
        for frame in frames:
            if isinstance(frame, bytes):
                await self.ws.send_bytes(frame)
            else:
                await self.ws.send_str(frame)

    async def receive(self) -> str | bytes:
        async with asyncio.timeout(TIMEOUT):
            while True:
                message = await self.ws.receive()
                if message.type is aiohttp.WSMsgType.TEXT:
                    if message.data == "2":
                        await self.ws.send_str("3")
                        continue
                    return str(message.data)
                if message.type is aiohttp.WSMsgType.BINARY:
                    return bytes(message.data)
                raise ConnectionError(f"websocket closed: {message.type!r} {message.data!r}")

    async def expect(self, prefix: str) -> list[str | bytes]:
        """Everything received up to and including the first text starting with ``prefix``."""
        seen: list[str | bytes] = []
        while True:
            frame = await self.receive()
            seen.append(frame)
            if isinstance(frame, str) and frame.startswith(prefix):
                return seen


class RawPolling:
    """A polling-only Engine.IO session over aiohttp."""

    def __init__(self, http: aiohttp.ClientSession, url: str, host: str) -> None:
        self.http = http
        self.url = url
        self.headers = {"Host": host, "Content-Type": "text/plain;charset=UTF-8"}
        self.received: list[str] = []

    async def post(self, body: str | bytes) -> int:
        data = body.encode() if isinstance(body, str) else body
        async with (
            asyncio.timeout(TIMEOUT),
            self.http.post(self.url, data=data, headers=self.headers) as response,
        ):
            await response.read()
            return response.status

    async def expect(self, prefix: str) -> list[str]:
        """Long-poll until a packet starting with ``prefix`` arrived; all packets so far."""
        async with asyncio.timeout(TIMEOUT):
            while not any(p.startswith(prefix) for p in self.received):
                async with self.http.get(self.url, headers=self.headers) as response:
                    assert response.status == 200
                    for packet in (await response.text()).split("\x1e"):
                        if packet == "2":
                            await self.post("3")
                        self.received.append(packet)
        return self.received


@contextlib.asynccontextmanager
async def raw_ws(url: str, host: str = HOST) -> AsyncIterator[RawWebSocket]:
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(url + PATH + "websocket", headers={"Host": host}) as ws,
    ):
        raw = RawWebSocket(ws)
        opening = await raw.receive()
        assert isinstance(opening, str) and opening.startswith('0{"sid"'), opening
        yield raw


@contextlib.asynccontextmanager
async def raw_polling(url: str, host: str = HOST) -> AsyncIterator[RawPolling]:
    async with aiohttp.ClientSession() as http:
        async with http.get(url + PATH + "polling", headers={"Host": host}) as response:
            opening = await response.text()
        assert opening.startswith('0{"sid"'), opening
        sid = json.loads(opening[1:])["sid"]
        raw = RawPolling(http, f"{url}{PATH}polling&sid={sid}", host)
        try:
            yield raw
        finally:
            await raw.post("1")  # CLOSE: the session goes away now


def connected(frames: list[Any], namespace: str) -> bool:
    head = "40" if namespace == "/" else f"40{namespace},"
    return any(isinstance(f, str) and f.startswith(head + '{"sid"') for f in frames)


# -- malformed packets -----------------------------------------------------------------

MALFORMED = [
    "",
    "4",
    "4x",
    "4{",
    "4 40/x,",
    "4-",
    "4-1",
    "42-",
    "4452-/chat",
    "49/x,",  # an unknown Socket.IO type
    "4412345678901-/x,",  # more attachment digits than python-socketio reads
    "43/chat,1",  # an ACK nobody waits for
    "43/chat,99999999999999999999999999[1]",
    "42/chat," + "1" * 101 + '["echo"]',  # an ack id longer than the decoder reads
    "42/chat,[",
    '42/chat,["echo"',
    "41/never,",  # DISCONNECT from a namespace never joined
    "40/chat,{",  # CONNECT with broken auth JSON
    "9",  # an unknown Engine.IO type
    "x",
    "7",
    "b",  # a base64 attachment of nothing
    "b!!!",
    "\u0664" + "0/x,",  # an Arabic-Indic four: int() reads a MESSAGE, the middleware does not
    "4\u00b2/x,",  # a superscript two: isdigit(), but int() raises
    "4\u0662\u0662/x,",  # an Arabic-Indic two type and a two-digit ack id
    "4\x00",
    "4\ud7ff",
    "0",
    "2",
    "2probe",
    "5",
    "6",
]


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_malformed_packets(transport: str) -> None:
    async with attacked() as (server, url):
        if transport == "websocket":
            async with raw_ws(url) as ws:
                # (Not "x": python-engineio closes a websocket for a frame it can't
                # read a type of, see test_unreadable_engineio_type_closes_the_websocket.)
                await ws.send("40/chat,", *[p for p in MALFORMED if p != "x"], "40/after,")
                assert connected(await ws.expect("40/after,"), "/after")
        else:
            async with raw_polling(url) as polling:
                assert await polling.post("40/chat,") == 200
                for packet in MALFORMED:
                    assert await polling.post(packet) == 200
                assert await polling.post("40/after,") == 200
                assert connected(await polling.expect("40/after,"), "/after")
        assert server.main_connects == []


@pytest.mark.parametrize("frame", ["x", "abc", "{}"])
async def test_unreadable_engineio_type_closes_the_websocket(frame: str) -> None:
    """A frame with no Engine.IO type ends the connection, as the reference server
    ends it (the engine.io protocol suite's "invalid packet" case); without the
    middleware, python-engineio's websocket handler dies of a ValueError."""
    async with attacked() as (server, url):
        async with raw_ws(url) as ws:
            await ws.send("40/chat,", frame)
            with pytest.raises(ConnectionError):
                await ws.expect("never")
        await until(lambda: server.state()["eio_sockets"] == 0)


@pytest.mark.parametrize("packet", ["0", '0{"sid":"x"}', "2", "2probe", "6"])
async def test_engineio_packets_no_polling_client_sends(packet: str) -> None:
    """python-engineio answers a client's OPEN, PING or NOOP in a POST by closing the
    session and waiting, in that POST, for a GET that never comes: the middleware drops
    them, so the POST returns at once and the session lives on."""
    async with attacked() as (server, url), raw_polling(url) as polling:
        async with asyncio.timeout(2):
            assert await polling.post(packet) == 200
            assert await polling.post("\x1e".join([packet, "40/chat,", packet])) == 200
        assert connected(await polling.expect("40/chat,"), "/chat")


@pytest.mark.parametrize(
    "frames",
    [
        # One attachment too many: the spare one reaches the server as a packet.
        [f'451-/chat,1["echo",{PLACEHOLDER}]', b"\x01", b"\x02"],
        # One too few: the next text message becomes the missing attachment.
        [f'452-/chat,1["echo",{PLACEHOLDER},{PLACEHOLDER}]', b"\x01", "40/swallowed,"],
        # Attachments without a header.
        [b"\x01\x02", b"", b"40/x,"],
        # A header for a namespace the client never joined, then its attachment.
        [f'451-/elsewhere,["echo",{PLACEHOLDER}]', b"\x03"],
        # A header of another host's namespace (dropped) and its attachment.
        [f'451-//{GOOD}/chat,["echo",{PLACEHOLDER}]', b"\x04"],
        # An attachment count the server reads and will wait for for ever.
        [f'49999999999-/chat,["echo",{PLACEHOLDER}]', b"\x05", b"\x06"],
        # A count on a type that has no attachments.
        [f'421-/chat,7["echo",{PLACEHOLDER}]', b"\x07"],
    ],
    ids=["too-many", "too-few", "no-header", "not-joined", "other-host", "huge", "on-event"],
)
async def test_attachments(frames: list[str | bytes]) -> None:
    async with attacked() as (server, url):
        async with raw_ws(url) as ws:
            await ws.send("40/chat,")
            assert connected(await ws.expect("40/chat,"), "/chat")
            await ws.send(*frames)
            # More packets after the confusion (swallowed as attachments if the
            # server still waits for some); the connection then closes.
            await ws.send("41/chat,", "40/later,")
        async with raw_ws(url) as ws:
            await ws.send("40/chat,", '42/chat,1["echo","still"]')
            assert '43/chat,1["still"]' in await ws.expect("43/chat,")


async def test_attachments_over_polling() -> None:
    async with attacked() as (server, url), raw_polling(url) as polling:
        assert await polling.post("40/chat,") == 200
        await polling.expect("40/chat,")
        body = "\x1e".join(
            [f'451-/chat,1["echo",{PLACEHOLDER}]', "bAQID", "bBAUG", "b", "40/next,"]
        )
        assert await polling.post(body) == 200
        assert await polling.post('42/chat,2["echo","ok"]') == 200
        assert '43/chat,2["ok"]' in await polling.expect("43/chat,2")


# -- oversized bodies ------------------------------------------------------------------


async def test_oversized_polling_body_is_refused_before_it_is_read() -> None:
    async with attacked() as (server, url), raw_polling(url) as polling:
        sid_url = polling.url.removeprefix(url)
        headers = [
            (b"Host", HOST.encode()),
            (b"Content-Type", b"text/plain;charset=UTF-8"),
            (b"Content-Length", b"50000000"),
        ]
        # 50 MB announced, a little over the limit sent: the answer comes anyway.
        partial = b"42/chat," + b"x" * (MAX_BODY + 1000)
        response = await exchange(url, build_request("POST", sid_url, headers, partial))
        assert response.status == 413
        chunked = [
            (b"Host", HOST.encode()),
            (b"Transfer-Encoding", b"chunked"),
        ]
        chunk = b"x" * (MAX_BODY // 4)
        body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(5)) + b"0\r\n\r\n"
        response = await exchange(url, build_request("POST", sid_url, chunked, body))
        assert response.status == 413
        # The session itself is still usable.
        assert await polling.post("40/chat,") == 200
        await polling.expect("40/chat,")


async def test_oversized_websocket_frame_closes_only_that_connection() -> None:
    async with attacked() as (server, url):
        async with raw_ws(url) as ws:
            await ws.send("40/chat,")
            await ws.expect("40/chat,")
            await ws.send('42/chat,["echo","' + "x" * (2 * MAX_BODY) + '"]')
            with pytest.raises(ConnectionError):
                await ws.expect("never")
        await until(lambda: server.state()["eio_sockets"] == 0)


async def test_body_that_is_not_utf8_or_jsonp() -> None:
    async with attacked() as (server, url), raw_polling(url) as polling:
        assert await polling.post(b"40/chat,\xff\xfe") == 400
        assert await polling.post("d=40%2Fchat%2C") == 400
        async with polling.http.get(polling.url + "&j=0", headers=polling.headers) as response:
            assert response.status == 400


# -- names -----------------------------------------------------------------------------


@pytest.mark.parametrize("host", [HOST, MAIN])
@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_connect_to_another_hosts_namespace(host: str, transport: str) -> None:
    names = [f"//{GOOD}/x", "//other/x", f"//{HOST}/x", "//", "///x", f"//{GOOD}/x?y=1"]
    async with attacked() as (server, url):
        packets = [f"40{name}," for name in names] + ["40/ok,"]
        if transport == "websocket":
            async with raw_ws(url, host) as ws:
                await ws.send(*packets)
                seen: list[Any] = await ws.expect("40/ok,")
        else:
            async with raw_polling(url, host) as polling:
                assert await polling.post("\x1e".join(packets)) == 200
                seen = await polling.expect("40/ok,")
        for name in names:  # refused in the name the server reads: no query
            assert f"44{name.partition('?')[0]},{INVALID}" in seen
        assert not [full for full in server.app.namespaces if "/x" in full]


@pytest.mark.parametrize(
    ("packet", "answer"),
    [
        ("40/chat?x=1,", "40/chat,"),
        ("40/chat?to=//good.test/chat,", "40/chat,"),
        ("40/?x=1,", '40{"sid"'),
        ("40/q?,", "40/q,"),
        ("40/a?b,c", "40/a,"),  # the query ends at the comma; "c" is broken JSON: no answer
        ("40//good.test/chat?x,", f"44//good.test/chat,{INVALID}"),
        ("40/x?//y,", "40/x,"),
    ],
)
async def test_queries_in_namespace_names(packet: str, answer: str) -> None:
    async with attacked() as (server, url), raw_ws(url) as ws:
        await ws.send(packet, "40/sentinel,")
        seen = await ws.expect("40/sentinel,")
        if packet == "40/a?b,c":
            assert not any(str(f).startswith("40/a,") for f in seen)
        else:
            assert any(isinstance(f, str) and f.startswith(answer) for f in seen), seen
        assert all(full.startswith(f"//{HOST}/") for full in server.app.namespaces)


@pytest.mark.parametrize(
    "message",
    ['4"0/x,"', '4"0//main.test/x,"', '4["0/x,"]', '4{"0":"/x"}', "4true", "4null", '4 "0/x,"'],
)
async def test_engineio_json_messages_are_dropped(message: str) -> None:
    """python-engineio JSON-decodes a MESSAGE whose data does not start with a digit:
    ``4"0/x,"`` would reach python-socketio as the text ``0/x,``, never rewritten."""
    async with attacked() as (server, url), raw_ws(url) as ws:
        await ws.send(message, "40/sentinel,")
        seen = await ws.expect("40/sentinel,")
        assert len(seen) == 1, seen
        assert server.main_connects == []
        assert all(full.startswith(f"//{HOST}/") for full in server.app.namespaces)


@pytest.mark.parametrize(
    ("packet", "answer"),
    [
        ("4\u0660/digits,", "40/digits,"),  # int("٠") == 0: a CONNECT, as the server reads it
        ("4\u0660//good.test/x,", f"44//good.test/x,{INVALID}"),
        ("4\u06f0/persian,", "40/persian,"),
        ("4\u00b2/super,", None),  # "²".isdigit() but int("²") raises: dropped
        ("4\u2070/super,", None),
        ("\u0664" + "0/eio,", None),  # an Engine.IO type only int() reads: dropped
    ],
)
async def test_non_ascii_digits_as_types(packet: str, answer: str | None) -> None:
    async with attacked() as (server, url), raw_ws(url) as ws:
        await ws.send(packet, "40/sentinel,")
        seen = await ws.expect("40/sentinel,")
        if answer is None:
            assert len(seen) == 1, seen
        else:
            assert any(isinstance(f, str) and f.startswith(answer) for f in seen), seen
        assert server.main_connects == []


# -- many namespaces -------------------------------------------------------------------


@pytest.mark.parametrize(("transport", "count"), [("websocket", 2000), ("polling", 400)])
async def test_thousands_of_namespaces_from_one_client_all_retire(
    transport: str, count: int
) -> None:
    names = [f"/n{i}" for i in range(count)]
    # With no limit: test_namespaces_per_session_limit shows the limit.
    async with attacked(max_namespaces_per_session=None) as (server, url):
        if transport == "websocket":
            async with raw_ws(url) as ws:
                await ws.send(*[f"40{name}," for name in names])
                seen: list[Any] = await ws.expect(f"40{names[-1]},")
                assert len(server.app.namespaces) >= count
        else:
            async with raw_polling(url) as polling:
                for start in range(0, count, 16):  # python-engineio decodes 16 a payload
                    batch = names[start : start + 16]
                    assert await polling.post("\x1e".join(f"40{n}," for n in batch)) == 200
                seen = await polling.expect(f"40{names[-1]},")
                assert len(server.app.namespaces) >= count
        assert all(connected(seen, name) for name in names)
        assert server.app.created >= count
    assert server.app.retired == server.app.created


# -- setup that hangs ------------------------------------------------------------------


async def test_hanging_setup_times_out_and_frees_the_namespace() -> None:
    async with attacked() as (server, url):
        async with raw_ws(url) as first, raw_ws(url) as second:
            started = asyncio.get_running_loop().time()
            # Two CONNECTs to the same hanging name share one setup.
            await first.send("40/hang/a,")
            await second.send("40/hang/a,", "40/chat,")
            # While setup hangs, other hosts are served.
            await well_behaved(url, "default")
            for ws in (first, second):
                assert f"44/hang/a,{INVALID}" in await ws.expect("44/hang/a,")
            assert asyncio.get_running_loop().time() - started >= SETUP_TIMEOUT * 0.9
            assert connected(await second.expect("40/chat,"), "/chat")
        assert server.hung == [f"//{HOST}/hang/a"]
        assert server.cancelled == [f"//{HOST}/hang/a"]
        assert f"//{HOST}/hang/a" not in server.app.namespaces
        assert f"//{HOST}/hang/a" not in server.sio.handlers
        # A later CONNECT runs setup again (and is refused again).
        async with raw_ws(url) as ws:
            await ws.send("40/hang/a,")
            assert f"44/hang/a,{INVALID}" in await ws.expect("44/hang/a,")
        assert len(server.hung) == 2


async def test_refused_setup_leaves_nothing() -> None:
    async with attacked() as (server, url), raw_ws(url) as ws:
        await ws.send(*["40/refuse,"] * 20, "40/sentinel,")
        seen = await ws.expect("40/sentinel,")
        assert seen.count(f"44/refuse,{INVALID}") == 20
        assert f"//{HOST}/refuse" not in server.app.namespaces


# -- msgpack -----------------------------------------------------------------------------


def packed(packet_type: int, nsp: Any, data: Any = None, **extra: Any) -> bytes:
    result: bytes = msgpack.dumps({"type": packet_type, "nsp": nsp, "data": data, **extra})
    return result


async def test_msgpack_hostile_packets() -> None:
    async with attacked("msgpack") as (server, url), raw_ws(url) as ws:
        await ws.send(
            b"",
            b"\xc1",
            b"\x93\x01\x02\x03",
            msgpack.dumps({"type": 0}),
            packed(0, None),
            packed(0, 7),
            packed(0, "chat"),
            packed(0, f"//{GOOD}/chat"),
            packed(0.0, "/float"),
            packed(0, "/ok"),
            "40/text,",  # text Socket.IO packets mean nothing to a msgpack server
            "bé",  # base64 that is not ASCII
            "b!!",
        )
        seen = []
        while not any(isinstance(f, bytes) and msgpack.loads(f).get("nsp") == "/ok" for f in seen):
            seen.append(await ws.receive())
        answers = [msgpack.loads(f) for f in seen if isinstance(f, bytes)]
        assert {"type": 4, "nsp": f"//{GOOD}/chat", "data": {"message": "Invalid namespace"}} in [
            {k: a.get(k) for k in ("type", "nsp", "data")} for a in answers
        ]
        assert all(full.startswith(f"//{HOST}/") for full in server.app.namespaces)


async def test_msgpack_polling_base64_that_is_not_ascii() -> None:
    async with attacked("msgpack") as (server, url), raw_polling(url) as polling:
        assert await polling.post("bé") == 200
        assert await polling.post("b" + "\u0660" * 8) == 200


# -- binary attachments ------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["websocket", "polling"])
@pytest.mark.parametrize("host", [HOST, MAIN])
async def test_attachments_arrive_whole_whatever_their_first_byte(
    transport: str, host: str
) -> None:
    blobs = [b"\xc1\x02\x03", b"\xc1", b"\x00\xc1", bytes(range(256))]
    async with attacked() as (server, url):
        async with client(url, host, namespaces=["/chat"], transports=[transport]) as c:
            for blob in blobs:
                assert await c.call("echo", blob, namespace="/chat", timeout=TIMEOUT) == blob


async def test_attachment_bytes_over_a_raw_websocket() -> None:
    async with attacked() as (server, url), raw_ws(url) as ws:
        await ws.send("40/chat,")
        await ws.expect("40/chat,")
        await ws.send(f'451-/chat,1["echo",{PLACEHOLDER}]', b"\xc1\x02\x03")
        await ws.expect(f"461-/chat,1[{PLACEHOLDER}]")
        assert await ws.receive() == b"\xc1\x02\x03"


# -- bodies near the limit ----------------------------------------------------------------

#: The longest host name there is: 253 characters.
LONG_HOST = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])


async def test_the_handshake_advertises_the_limit_clients_have() -> None:
    async with attacked() as (server, url):
        for opening in [await _polling_opening(url), await _websocket_opening(url)]:
            assert json.loads(opening[1:])["maxPayload"] == MAX_BODY


async def _polling_opening(url: str) -> str:
    async with aiohttp.ClientSession() as http:
        async with http.get(url + PATH + "polling", headers={"Host": HOST}) as response:
            opening = await response.text()
        sid = json.loads(opening[1:])["sid"]
        async with http.post(f"{url}{PATH}polling&sid={sid}", data="1", headers={"Host": HOST}):
            return opening  # (closed again with CLOSE)


async def _websocket_opening(url: str) -> str:
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(url + PATH + "websocket", headers={"Host": HOST}) as ws,
    ):
        return str((await ws.receive()).data)


@pytest.mark.parametrize("transport", ["polling", "websocket"])
@pytest.mark.parametrize("host", [LONG_HOST, MAIN])
async def test_a_message_near_the_limit_works_on_every_host(transport: str, host: str) -> None:
    """What fits the limit on the main host fits it on another: rewriting adds the
    host to each packet, and python-engineio must not count that against the client."""
    async with attacked() as (server, url):
        async with client(url, host, namespaces=["/chat"], transports=[transport]) as c:
            big = "x" * (MAX_BODY - 40)  # "42/chat,1["echo","..."]": just under the limit
            assert await c.call("echo", big, namespace="/chat", timeout=TIMEOUT) == big
            assert await c.call("echo", "after", namespace="/chat", timeout=TIMEOUT) == "after"


async def test_near_limit_posts_of_many_packets_are_answered() -> None:
    """A POST that fits the limit before rewriting is answered, and pins nothing: of
    many packets (python-engineio drops a payload of more than 16, unread), or of 16."""
    async with attacked() as (server, url), raw_polling(url, LONG_HOST) as polling:
        assert await polling.post("40/chat,") == 200
        await polling.expect("40/chat,")
        many = "\x1e".join(["41"] * (MAX_BODY // 3))
        sixteen = "\x1e".join(['42/chat,["echo",' + '"' + "y" * (MAX_BODY // 16 - 40) + '"]'] * 16)
        for body in (many, many, sixteen, many):
            assert len(body.encode()) <= MAX_BODY
            assert await polling.post(body) == 200
        assert await polling.post('42/chat,7["echo","still here"]') == 200
        assert '43/chat,7["still here"]' in await polling.expect("43/chat,7")


async def test_a_payload_the_server_would_drop_runs_no_setup() -> None:
    async with attacked() as (server, url), raw_polling(url) as polling:
        connects = "\x1e".join(f"40/flood{i}," for i in range(MAX_BODY // 14))
        assert len(connects.encode()) <= MAX_BODY
        assert await polling.post(connects) == 200
        assert server.setups == []
        assert not [name for name in server.app.namespaces if "flood" in name]
        assert await polling.post("40/chat,") == 200
        assert connected(await polling.expect("40/chat,"), "/chat")
        assert server.setups == [f"//{HOST}/chat"]


# -- callbacks that never return, raise or exit -------------------------------------------


async def test_an_on_retire_callback_that_never_returns_stops_no_retirement(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from dynamic_io_asgi import _deletion

    monkeypatch.setattr(_deletion, "ON_RETIRE_TIMEOUT", 0.5)
    async with attacked() as (server, url):
        stuck = await server.app.of("/stuck", HOST)
        stuck.on_retire(lambda nsp: asyncio.Event().wait())
        stuck.retirement = RETIREMENT
        others = [await server.app.of(f"/other{i}", HOST) for i in range(20)]
        for nsp in others:
            nsp.retirement = RETIREMENT
        await until(lambda: all(nsp.closed for nsp in others))
        await until(lambda: stuck.closed)  # retired without its callback, after the timeout
    assert "on_retire callback of //evil.test/stuck took longer" in caplog.text


def test_setup_has_a_timeout_by_default() -> None:
    assert DynamicIO(socketio.AsyncServer(async_mode="asgi")).setup_timeout == 10.0


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_connect_handler_that_raises_refuses_and_the_namespace_retires(
    transport: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with attacked() as (server, url):

        @server.app.setup_namespace("/needs-auth")
        @server.app.setup_namespace(f"//{HOST}/needs-auth")
        def needs_auth(nsp: DynamicNamespace, match: re.Match[str]) -> None:
            @nsp.on("connect")
            def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
                auth["token"]  # no auth sent: TypeError

        for host in (HOST, MAIN):
            c = socketio.AsyncClient(reconnection=False)
            errors: list[Any] = []
            c.on("connect_error", errors.append, namespace="/needs-auth")
            with pytest.raises(socketio.exceptions.ConnectionError):
                await c.connect(
                    url,
                    headers={"Host": host},
                    namespaces=["/needs-auth"],
                    transports=[transport],
                    wait_timeout=TIMEOUT,
                )
            assert errors == [{"message": "Connection rejected by server"}]
        # Back to the baseline (checked on exit): nothing pinned, the namespaces retire.
    assert "connect handler of //evil.test/needs-auth raised" in caplog.text


async def test_disconnect_handler_that_raises_leaves_the_namespace_free(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with attacked() as (server, url):

        @server.app.setup_namespace(f"//{HOST}/grumpy")
        def grumpy(nsp: DynamicNamespace, match: re.Match[str]) -> None:
            nsp.on("echo", lambda sid, data: data)
            nsp.on("disconnect", lambda sid, reason: 1 / 0)

        async with client(url, HOST, namespaces=["/grumpy"]) as c:
            assert await c.call("echo", 1, namespace="/grumpy", timeout=TIMEOUT) == 1
        await until(lambda: f"//{HOST}/grumpy" not in server.app.namespaces)
    assert "disconnect handler of //evil.test/grumpy raised" in caplog.text


@pytest.mark.parametrize("error", [SystemExit(3), asyncio.CancelledError(), KeyError("x")])
async def test_setup_that_exits_or_is_cancelled_refuses_and_the_server_lives(
    error: BaseException,
) -> None:
    async with attacked() as (server, url):

        @server.app.setup_namespace(f"//{HOST}/bad")
        async def bad(nsp: DynamicNamespace, match: re.Match[str]) -> None:
            raise error

        for _ in range(2):
            async with raw_ws(url) as ws:
                await ws.send("40/bad,", "40/chat,")
                seen = await ws.expect("40/chat,")
                assert f"44/bad,{INVALID}" in seen
        assert server.app.refused["error"] == 2


async def test_close_while_a_connect_waits_for_setup() -> None:
    async with attacked() as (server, url):
        release = asyncio.Event()

        @server.app.setup_namespace(f"//{HOST}/slow")
        async def slow(nsp: DynamicNamespace, match: re.Match[str]) -> None:
            await release.wait()

        async with raw_polling(url) as polling:
            posting = asyncio.ensure_future(polling.post("40/slow,"))
            await until(lambda: f"//{HOST}/slow" in server.app.registry._creating)
            assert await polling.post("1") == 200  # CLOSE while the CONNECT waits
            release.set()
            assert await posting == 400  # the session is gone: not a 500
        # no_unhandled_errors: no request ended in an exception.


async def test_public_status_that_raises_answers_404(caplog: pytest.LogCaptureFixture) -> None:
    def broken(scope: Any) -> bool:
        raise RuntimeError("auth backend down")

    async with attacked(public_status=broken) as (server, url):
        request = build_request("GET", "/socket.io/status", [(b"Host", b"main.test")])
        assert (await exchange(url, request)).status == 404
    assert "public_status raised" in caplog.text


# -- limits ------------------------------------------------------------------------------


async def test_name_length_limit() -> None:
    async with attacked(max_name_length=50) as (server, url), raw_ws(url) as ws:
        await ws.send("40/" + "n" * 49 + ",", "40/" + "n" * 50 + ",", "40/chat,")
        seen = await ws.expect("40/chat,")
        assert "44/" + "n" * 50 + ',{"message":"Namespace name too long"}' in seen
        assert connected(seen, "/" + "n" * 49)
        assert server.setups == [f"//{HOST}/" + "n" * 49, f"//{HOST}/chat"]
        assert server.app.refused["limit"] == 1


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_namespaces_per_session_limit(transport: str) -> None:
    names = [f"/n{i}" for i in range(5)]
    async with attacked(max_namespaces_per_session=4) as (server, url):
        if transport == "websocket":
            async with raw_ws(url) as ws:
                await ws.send(*[f"40{name}," for name in names])
                seen: list[Any] = await ws.expect("44/n4,")
                await ws.send('42/n0,1["echo","still"]', "41/n1,", "40/n4,")
                seen += await ws.expect("40/n4,{")
                assert '43/n0,1["still"]' in seen
        else:
            async with raw_polling(url) as polling:
                assert await polling.post("\x1e".join(f"40{name}," for name in names)) == 200
                seen = await polling.expect("44/n4,")
                # (The middleware decides a payload's CONNECTs before the server
                # reads it: the DISCONNECT goes first, in a POST of its own.)
                assert await polling.post('42/n0,1["echo","still"]\x1e41/n1,') == 200
                assert await polling.post("40/n4,") == 200
                seen = await polling.expect("40/n4,{")
                assert '43/n0,1["still"]' in seen
        assert '44/n4,{"message":"Too many namespaces"}' in seen
        assert server.setups.count(f"//{HOST}/n4") == 1  # none for the refused CONNECT
        # A well-behaved client on another host is served (checked on exit).


async def test_a_connect_flood_waits_its_turn() -> None:
    # 40 CONNECTs at once, 10 a second allowed (a burst of 20): the first 20 are
    # answered at once, the rest one by one, while another session is served as usual.
    rate, flood = 10, 40
    async with attacked(max_connects_per_second=rate, max_namespaces_per_session=None) as (
        server,
        url,
    ):
        async with raw_ws(url) as ws, raw_ws(url, "other.test") as other:
            loop = asyncio.get_running_loop()
            started = loop.time()
            await ws.send(*[f"40/n{i}," for i in range(flood)])
            await ws.expect("40/n19,{")
            burst = loop.time() - started
            await other.send("40/chat,", '42/chat,1["echo","prompt"]')
            assert '43/chat,1["prompt"]' in await other.expect("43/chat,1")
            assert len(server.setups) < flood  # the flood is still waiting
            await ws.expect(f"40/n{flood - 1},{{")
            paced = loop.time() - started
        assert burst < 1.0, burst
        assert paced >= (flood - 2 * rate) / rate * 0.9, paced
        assert server.app.refused["limit"] == 0  # slowed, not refused


async def test_a_hosts_creations_wait_their_turn_and_other_hosts_are_served() -> None:
    # Two sessions of one host create 24 namespaces at once, 4 a second allowed for
    # the host (a burst of 8): the burst at once, the rest one by one, while another
    # host creates its namespace as usual.
    rate, flood = 4, 24
    async with attacked(max_creations_per_second=rate, max_namespaces_per_session=None) as (
        server,
        url,
    ):
        async with raw_ws(url) as one, raw_ws(url) as two, raw_ws(url, "other.test") as other:
            loop = asyncio.get_running_loop()
            started = loop.time()
            await one.send(*[f"40/a{i}," for i in range(flood // 2)])
            await two.send(*[f"40/b{i}," for i in range(flood // 2)])
            await until(lambda: len(server.setups) >= 2 * rate)
            await other.send("40/chat,", '42/chat,1["echo","prompt"]')
            assert '43/chat,1["prompt"]' in await other.expect("43/chat,1")
            assert len(server.setups) < flood  # the host's flood is still waiting
            await one.expect(f"40/a{flood // 2 - 1},{{")
            await two.expect(f"40/b{flood // 2 - 1},{{")
            paced = loop.time() - started
        assert paced >= (flood - 2 * rate) / rate * 0.9, paced
        assert server.app.refused["limit"] == 0  # slowed, not refused
        assert server.app.max_creations_per_second == rate


async def test_connects_waiting_their_turn_when_the_server_closes_the_session() -> None:
    # Paced CONNECTs whose session the server closes while they wait (no PONG: a
    # raw client that does not answer pings): none reaches python-socketio for a
    # closed session (it would half connect it, raise KeyError and leave the socket
    # behind, so the namespace would never retire). Nothing is left (checked on exit).
    async with attacked(max_connects_per_second=2, max_namespaces_per_session=None) as (
        server,
        url,
    ):
        server.sio.eio.ping_interval = server.sio.eio.ping_timeout = 0.5
        async with raw_ws(url) as ws:
            await ws.send(*[f"40/w{i}," for i in range(12)])
            await ws.expect("40/w3,{")  # the burst of 4; the rest wait their turn
            await until(lambda: not server.sio.eio.sockets)  # closed: no PONG came
            # The waiting ones' turns, the last one 4 s after the burst.
            await asyncio.sleep((12 - 4) / 2 + 0.5)
        assert len(server.setups) < 12, server.setups


async def test_a_connect_handled_as_its_session_closes_leaves_no_namespace_behind() -> None:
    # A connect handler still running when the server closes the session (no PONG
    # came: the raw client answers no ping, and python-socketio reads nothing else
    # of the connection meanwhile) connects its socket after python-socketio has
    # disconnected the session: that socket stays, with no disconnect to come. Its
    # namespace must retire all the same.
    sio = socketio.AsyncServer(async_mode="asgi")
    sio.eio.ping_interval = sio.eio.ping_timeout = 0.5
    app = DynamicIO(socketio.ASGIApp(sio), host=MAIN, retirement=RETIREMENT)
    entered, gate = asyncio.Event(), asyncio.Event()

    @app.setup_namespace("*")
    def setup(nsp: DynamicNamespace, match: re.Match[str]) -> None:
        @nsp.on("connect")
        async def connect(sid: str, environ: dict[str, Any]) -> None:
            entered.set()
            await gate.wait()

    async with serve(app) as url:
        async with raw_ws(url) as ws:
            await ws.send("40/slow,")
            await asyncio.wait_for(entered.wait(), TIMEOUT)
            await until(lambda: not sio.environ)  # closed: python-socketio saw it end
            gate.set()
            await until(lambda: f"//{HOST}/slow" in sio.manager.rooms)  # the socket stays
            await until(lambda: f"//{HOST}/slow" not in app.namespaces)
            assert f"//{HOST}/slow" not in sio.manager.rooms
            assert f"//{HOST}/slow" not in sio.handlers


async def test_namespaces_per_host_limit_and_a_slot_freed_by_retirement() -> None:
    async with attacked(max_namespaces_per_host=2) as (server, url):
        async with raw_ws(url) as ws:
            await ws.send("40/a,", "40/b,", "40/c,")
            seen = await ws.expect("44/c,")
            assert '44/c,{"message":"Too many namespaces"}' in seen
            assert f"//{HOST}/c" not in server.setups
            await well_behaved(url, "default")  # another host is unaffected
            await ws.send("41/a,")
        await until(lambda: f"//{HOST}/a" not in server.app.namespaces)
        await until(lambda: f"//{HOST}/b" not in server.app.namespaces)
        async with raw_ws(url) as ws:
            await ws.send("40/c,")
            assert connected(await ws.expect("40/c,"), "/c")


async def test_process_wide_limit_and_the_status_page_shows_limits() -> None:
    async with attacked(max_namespaces=3, public_status=True) as (server, url):
        async with raw_ws(url) as ws, raw_ws(url, "other.test") as other:
            await ws.send("40/a,", "40/b,", "40/c,")
            await ws.expect("40/c,")
            await other.send("40/a,")
            assert '44/a,{"message":"Too many namespaces"}' in await other.expect("44/a,")
            request = build_request(
                "GET",
                "/socket.io/status.json",
                [(b"Host", MAIN.encode()), (b"Connection", b"close")],
            )
            status = json.loads((await exchange(url, request)).body)
            assert status["limits"]["max_namespaces"] == 3
            assert status["totals"]["refused"]["limit"] == 1
            assert {"host": HOST, "namespaces": 3, "limit": None} in status["hosts"]
        await until(lambda: server.app.namespaces == {})  # room for the well-behaved client


@pytest.mark.parametrize(
    "option", ["max_name_length", "max_namespaces_per_session", "max_namespaces_per_host"]
)
def test_limit_options_are_checked(option: str) -> None:
    sio = socketio.AsyncServer(async_mode="asgi")
    with pytest.raises(ValueError, match=option):
        DynamicIO(sio, **{option: 0})
    with pytest.raises(TypeError, match=option):
        DynamicIO(sio, **{option: "10"})
    assert getattr(DynamicIO(sio, **{option: None}), option) is None


async def test_concurrent_first_connects_cannot_slip_past_the_host_limit() -> None:
    """First CONNECTs to new names from many connections at once, each waiting for a
    slow setup: the limit is checked and counted together, so no more namespaces
    than it are ever set up."""
    async with attacked(max_namespaces_per_host=5) as (server, url):
        release = asyncio.Event()
        started: list[str] = []

        @server.app.setup_namespace(re.compile(r"\A//[^/]+/slow"))
        async def slow(nsp: DynamicNamespace, match: re.Match[str]) -> None:
            started.append(nsp.name)
            await release.wait()

        async with contextlib.AsyncExitStack() as stack:
            sockets = [await stack.enter_async_context(raw_ws(url)) for _ in range(8)]
            await asyncio.gather(*(ws.send(f"40/slow{i},") for i, ws in enumerate(sockets)))
            await until(lambda: server.app.refused["limit"] == 3)
            assert server.app.registry.limits.host_count(HOST) == 5 and len(started) == 5
            release.set()
            answers = [await ws.expect("4") for ws in sockets]
            refused = [a for a in answers if "Too many namespaces" in str(a)]
            assert len(refused) == 3
