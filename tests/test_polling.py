"""The polling transport (``_polling``, ``_longpoll``) driven in process: the
middleware around a real python-socketio server, called through httpx's
``ASGITransport`` (no uvicorn, no sockets). Exact bytes both ways."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import socketio

from dynamic_io_asgi import DynamicIO, DynamicNamespace

MAIN = "main.test"
TENANT = "tenant.test"
PATH = "/socket.io/?EIO=4&transport=polling"


@pytest.fixture
async def app() -> AsyncIterator[DynamicIO]:
    sio = socketio.AsyncServer(async_mode="asgi", max_http_buffer_size=1000)
    middleware = DynamicIO(socketio.ASGIApp(sio), host=MAIN)

    @middleware.setup_namespace("*")
    def setup(nsp: DynamicNamespace, match: Any) -> None:
        @nsp.on("echo")
        async def echo(sid: str, data: Any) -> Any:
            return data

    yield middleware
    await middleware.aclose()


class Polling:
    """One Engine.IO polling session, request by request."""

    def __init__(self, http: httpx.AsyncClient, host: str) -> None:
        self.http, self.host, self.sid = http, host, ""

    async def open(self) -> dict[str, Any]:
        response = await self.http.get(PATH, headers={"Host": self.host})
        assert response.status_code == 200 and response.text[0] == "0"
        handshake: dict[str, Any] = json.loads(response.text[1:])
        self.sid = handshake["sid"]
        return handshake

    async def post(self, body: str | bytes) -> httpx.Response:
        return await self.http.post(
            f"{PATH}&sid={self.sid}", content=body, headers={"Host": self.host}
        )

    async def get(self) -> str:
        response = await self.http.get(f"{PATH}&sid={self.sid}", headers={"Host": self.host})
        assert response.status_code == 200
        return response.text

    async def close(self) -> None:
        await self.post("1")


@pytest.fixture
async def http(app: DynamicIO) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://main.test") as client:
        yield client


@pytest.mark.parametrize(("host", "server_name"), [(MAIN, "/chat"), (TENANT, "//tenant.test/chat")])
async def test_a_round_trip_in_the_clients_names(
    app: DynamicIO, http: httpx.AsyncClient, host: str, server_name: str
) -> None:
    session = Polling(http, host)
    await session.open()
    assert (await session.post("40/chat,")).text == "OK"
    connected = await session.get()
    assert connected.startswith("40/chat,{")
    assert server_name in app.namespaces
    assert (await session.post('42/chat,7["echo","hi"]')).text == "OK"
    assert await session.get() == '43/chat,7["hi"]'
    await session.close()


async def test_the_handshake_tells_the_clients_limit(http: httpx.AsyncClient) -> None:
    handshake = await Polling(http, TENANT).open()
    assert handshake["maxPayload"] == 1000


async def test_a_body_over_the_clients_limit_is_refused(http: httpx.AsyncClient) -> None:
    session = Polling(http, TENANT)
    await session.open()
    response = await session.post('42/chat,["echo","' + "x" * 1000 + '"]')
    assert response.status_code == 413 and response.text == "Payload too large"
    await session.close()


@pytest.mark.parametrize(
    ("body", "reason"),
    [(b"\xff\xfe", "Body is not UTF-8"), (b'd=42["x"]', "JSONP is not supported")],
)
async def test_unreadable_bodies_are_refused(
    http: httpx.AsyncClient, body: bytes, reason: str
) -> None:
    session = Polling(http, TENANT)
    await session.open()
    response = await session.post(body)
    assert response.status_code == 400 and response.text == reason
    await session.close()


async def test_a_payload_of_more_packets_than_the_server_reads_runs_no_setup(
    app: DynamicIO, http: httpx.AsyncClient
) -> None:
    session = Polling(http, TENANT)
    await session.open()
    body = "\x1e".join(f"40/n{i}," for i in range(17))
    await session.post(body)  # answered by python-engineio, which drops the payload
    assert app.created == 0 and app.namespaces == {}


async def test_a_payload_the_server_drops_reaches_it_as_the_smallest_such_body() -> None:
    """python-engineio splits all of a payload of more than 16 packets before it drops
    it (43 ms of CPU for a near-limit body of ``41``s): it is handed 17 empty ones."""
    sio = socketio.AsyncServer(async_mode="asgi", max_http_buffer_size=1_000_000)
    inner = socketio.ASGIApp(sio)
    bodies: list[tuple[bytes, bytes | None]] = []

    async def spy(scope: dict[str, Any], receive: Any, send: Any) -> None:
        async def receive_and_record() -> Any:
            message = await receive()
            if message["type"] == "http.request" and scope["method"] == "POST":
                length = dict(scope["headers"]).get(b"content-length")
                bodies.append((message["body"], length))
            return message

        await inner(scope, receive_and_record, send)

    app = DynamicIO(spy, sio=sio, host=MAIN)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://main.test") as http:
        session = Polling(http, TENANT)
        await session.open()
        response = await session.post("\x1e".join(["41"] * 300_000))
        assert (response.status_code, response.text) == (200, "OK")  # as python-engineio answers
        assert bodies == [(b"\x1e" * 16, b"16")]
        assert (await session.post("40/chat,")).text == "OK"  # the session goes on
    await app.aclose()


async def test_another_hosts_name_is_refused_in_the_clients_own_words(
    app: DynamicIO, http: httpx.AsyncClient
) -> None:
    session = Polling(http, TENANT)
    await session.open()
    assert (await session.post("40//other.test/chat,")).text == "OK"
    assert await session.get() == '44//other.test/chat,{"message":"Invalid namespace"}'
    assert app.refused["invalid"] == 1 and app.namespaces == {}
    await session.close()
