"""Write seed inputs for fuzz_packets.py from real traffic.

Runs a DynamicIO app under uvicorn on 127.0.0.1 (a port from the OS) and
drives python-socketio clients through it: websocket, polling and upgrade,
text and msgpack, on another host and on the main host, with CONNECTs, ack'ed
events, binary events both ways and disconnects. Two recorders see the bytes:
one outside the middleware (what the client sent, in the client's names) and
one inside it (what the server sent, in full names). Each run becomes one
seed file in fuzz/corpus/, in the input format of fuzz_packets.py::

    .venv/bin/python fuzz/capture_corpus.py
"""

from __future__ import annotations

import asyncio
import codecs
import sys
from pathlib import Path
from typing import Any

import socketio

from dynamic_io_asgi import DynamicIO

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from conftest import serve  # noqa: E402  (the tests' uvicorn fixture)

CORPUS = Path(__file__).parent / "corpus"
TIMEOUT = 20.0
MAIN = "main.test"


def escape(data: bytes) -> bytes:
    return codecs.escape_encode(data)[0]  # type: ignore[no-any-return]


class Recorder:
    """ASGI middleware that appends the records it sees to ``records``."""

    def __init__(self, app: Any, records: list[bytes], *, inbound: bool) -> None:
        self.app = app
        self.records = records
        self.inbound = inbound

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        polling_get = scope["type"] == "http" and scope.get("method") == "GET"

        async def recv() -> dict[str, Any]:
            message = await receive()
            if self.inbound:
                self._inbound(message)
            return message

        async def snd(message: dict[str, Any]) -> None:
            if not self.inbound:
                self._outbound(message, polling_get)
            await send(message)

        await self.app(scope, recv, snd)

    def _inbound(self, message: dict[str, Any]) -> None:
        if message["type"] == "websocket.receive":
            if message.get("text") is not None:
                self._add(b"w", message["text"].encode())
            elif message.get("bytes") is not None:
                self._add(b"W", escape(message["bytes"]))
        elif message["type"] == "http.request" and message.get("body"):
            self._add(b"p", message["body"])

    def _outbound(self, message: dict[str, Any], polling_get: bool) -> None:
        if message["type"] == "websocket.send":
            if message.get("text") is not None:
                self._add(b"s", message["text"].encode())
            elif message.get("bytes") is not None:
                self._add(b"S", escape(message["bytes"]))
        elif message["type"] == "http.response.body" and polling_get and message.get("body"):
            self._add(b"g", message["body"])

    def _add(self, kind: bytes, record: bytes) -> None:
        if b"\n" not in record:
            self.records.append(kind + record)


def build_app(serializer: str, records: list[bytes]) -> Any:
    sio = socketio.AsyncServer(async_mode="asgi", serializer=serializer)
    inner = Recorder(socketio.ASGIApp(sio), records, inbound=False)
    app = DynamicIO(inner, sio, host=MAIN, retirement=0.5)

    @sio.on("echo")  # the main host's "/" is static: setup does not run for it
    async def echo_main(sid: str, data: Any) -> Any:
        return data

    @app.setup_namespace("*")
    def setup(nsp: Any, match: Any) -> None:
        @nsp.on("echo")
        async def echo(sid: str, data: Any) -> Any:
            return data

        @nsp.on("push")
        async def push(sid: str, data: Any) -> None:
            await nsp.emit("pushed", {"bytes": b"\x00\n\xff", "data": data}, to=sid)

    return Recorder(app, records, inbound=True)


async def conversation(url: str, host: str, transports: list[str], serializer: str) -> None:
    client = socketio.AsyncClient(serializer=serializer, reconnection=False)
    pushed = asyncio.Event()
    client.on("pushed", lambda data: pushed.set(), namespace="/chat")
    await client.connect(
        url,
        headers={"Host": host},
        namespaces=["/", "/chat"],
        transports=transports,
        auth={"token": "abc"},
        wait_timeout=TIMEOUT,
    )
    async with asyncio.timeout(TIMEOUT):
        await client.call("echo", {"text": "hi, there"}, namespace="/chat")
        await client.call("echo", [1, "two", None], namespace="/")
        await client.call("echo", {"blob": b"\x01\x02\n\x03"}, namespace="/chat")
        await client.emit("push", "x", namespace="/chat")
        await pushed.wait()
    await client.disconnect()


async def capture() -> None:
    CORPUS.mkdir(exist_ok=True)
    runs = [
        (transport, serializer, host)
        for transport in ("websocket", "polling", "upgrade")
        for serializer in ("default", "msgpack")
        for host in ("a.test:8000", MAIN)
    ]
    for transport, serializer, host in runs:
        records: list[bytes] = []
        async with serve(build_app(serializer, records)) as url:
            transports = ["polling", "websocket"] if transport == "upgrade" else [transport]
            await conversation(url, host, transports, serializer)
        options = (b"m" if serializer == "msgpack" else b"") + (b"M" if host == MAIN else b"")
        name = f"real_{transport}_{serializer}_{'main' if host == MAIN else 'other'}"
        (CORPUS / name).write_bytes(b"\n".join([host.encode(), options, *records]) + b"\n")
        print(f"{name}: {len(records)} records")


if __name__ == "__main__":
    asyncio.run(capture())
