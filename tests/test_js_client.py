"""End to end with the official JS client: socket.io-client v4 under node.

pytest runs ``tests/js/driver.js`` as an asyncio subprocess, writes commands to
its stdin and reads JSON lines from its stdout (every wait is bounded). The
client reaches virtual hosts by their names in the URL
(``http://alpha.test:PORT/chat``) through an ``http.Agent`` whose ``lookup``
answers 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import socketio
from _helpers import TIMEOUT, serve

from dynamic_io_asgi import DynamicIO, DynamicNamespace

JS_DIR = Path(__file__).parent / "js"
DRIVER = JS_DIR / "driver.js"
NODE = shutil.which("node")
JS_READY = NODE is not None and (JS_DIR / "node_modules" / "socket.io-client").is_dir()

requires_node = pytest.mark.skipif(
    not JS_READY, reason="node or tests/js/node_modules missing (run scripts/bootstrap.sh)"
)
pytestmark = requires_node

CHAT = re.compile(r"^(//[^/]+)?/(chat|room/[a-z0-9-]+)$")
PRIVATE = re.compile(r"^(//[^/]+)?/private$")
BLOB = bytes(range(256))

TRANSPORTS: dict[str, tuple[dict[str, Any], str]] = {
    # name: (io() options, the transport the server sees once connected)
    "polling": ({"transports": ["polling"]}, "polling"),
    "websocket": ({"transports": ["websocket"]}, "websocket"),
    "upgrade": ({"transports": ["polling", "websocket"]}, "websocket"),
}


def binary(data: bytes) -> dict[str, str]:
    """How driver.js writes a binary value in JSON."""
    return {"$binary": base64.b64encode(data).decode("ascii")}


class NodeClient:
    """One node process running driver.js; reports are matched by their fields."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.output: list[str] = []
        self._reports: list[dict[str, Any]] = []
        self._arrived = asyncio.Event()
        self._refs = itertools.count(1)
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.process.stdout is not None
        async for raw in self.process.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.output.append(line)
            if line.startswith("{"):
                self._reports.append(json.loads(line))
                self._arrived.set()
        self._arrived.set()

    async def send(self, op: str, **fields: Any) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"op": op, **fields}).encode("utf-8") + b"\n")
        await self.process.stdin.drain()

    async def expect(self, event: str, *, timeout: float = TIMEOUT, **fields: Any) -> Any:
        """Wait for (and consume) the first report of ``event`` with these fields."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    for index, report in enumerate(self._reports):
                        if report["event"] == "error":
                            raise AssertionError(f"driver.js failed: {report}")
                        if report["event"] == event and all(
                            report.get(key) == value for key, value in fields.items()
                        ):
                            return self._reports.pop(index)
                    if self._reader.done():
                        raise AssertionError("node exited")
                    self._arrived.clear()
                    await self._arrived.wait()
        except (TimeoutError, AssertionError) as exc:
            tail = "\n".join(self.output[-20:])
            raise AssertionError(f"no {event} {fields} ({exc!r}); node said:\n{tail}") from None

    def messages(self, socket_id: str) -> list[tuple[str, list[Any]]]:
        """The events received so far by one socket, as (name, args), consumed."""
        found = [r for r in self._reports if r["event"] == "message" and r["id"] == socket_id]
        self._reports = [r for r in self._reports if r not in found]
        return [(r["name"], r["args"]) for r in found]

    async def call(self, socket_id: str, event: str, *args: Any) -> list[Any]:
        """Emit with an ack and return the ack's arguments."""
        ref = next(self._refs)
        await self.send("emit", id=socket_id, event=event, args=list(args), ack=ref)
        ack = await self.expect("ack", ref=ref)
        assert ack["error"] is None, ack
        result: list[Any] = ack["args"]
        return result


@contextlib.asynccontextmanager
async def node_client() -> AsyncIterator[NodeClient]:
    """A running driver.js, stopped (and if need be killed) on exit."""
    assert NODE is not None
    process = await asyncio.create_subprocess_exec(
        NODE,
        str(DRIVER),
        cwd=JS_DIR,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    node = NodeClient(process)
    try:
        await node.expect("ready")
        yield node
    finally:
        with contextlib.suppress(ConnectionError):
            await node.send("exit")
        try:
            async with asyncio.timeout(5):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()
        await node._reader


def install_chat(nsp: DynamicNamespace) -> None:
    """The handlers every test namespace gets."""

    @nsp.on("whoami")
    async def whoami(sid: str) -> dict[str, Any]:
        return {
            "host": nsp.host,
            "fullname": nsp.fullname,
            "name": nsp.name,
            "transport": nsp.sio.transport(sid, namespace=nsp.fullname),
        }

    @nsp.on("echo")
    async def echo(sid: str, *args: Any) -> tuple[Any, ...]:
        return args

    @nsp.on("ask")
    async def ask(sid: str, data: Any) -> dict[str, Any]:
        reply = await nsp.call("question", data, to=sid, timeout=TIMEOUT)
        return {"reply": reply}

    @nsp.on("shout")
    async def shout(sid: str, data: Any) -> None:
        await nsp.emit("shout", data)


def make_app(**options: Any) -> DynamicIO:
    """``main.test`` is the main host; ``/chat`` and ``/room/*`` exist on demand on every
    host, ``/private`` refuses with data, anything else is an invalid namespace."""
    sio = socketio.AsyncServer(async_mode="asgi")
    app = DynamicIO(socketio.ASGIApp(sio), host="main.test", **options)
    app.setup_namespace(CHAT, lambda nsp, match: install_chat(nsp))

    @app.setup_namespace(PRIVATE)
    def private(nsp: DynamicNamespace, match: re.Match[str]) -> None:
        raise socketio.exceptions.ConnectionRefusedError("members only", {"code": 403})

    return app


def port_of(url: str) -> int:
    port = urlsplit(url).port
    assert port is not None
    return port


@pytest.mark.parametrize("transport", list(TRANSPORTS))
async def test_events_and_acks_both_ways(transport: str) -> None:
    options, server_transport = TRANSPORTS[transport]
    async with serve(make_app()) as url, node_client() as node:
        await node.send("open", id="a", url=f"http://alpha.test:{port_of(url)}/chat", opts=options)
        connected = await node.expect("connect", id="a")
        assert connected["namespace"] == "/chat"
        if transport == "upgrade":
            await node.expect("upgrade", id="a", transport="websocket")

        assert await node.call("a", "whoami") == [
            {
                "host": "alpha.test",
                "fullname": "//alpha.test/chat",
                "name": "/chat",
                "transport": server_transport,
            }
        ]
        # client -> server event with an ack, text and binary arguments
        args = ["text", {"n": 1, "blob": binary(BLOB)}, binary(b"\x00\xff")]
        assert await node.call("a", "echo", *args) == args
        # server -> client event with an ack (the client answers with its arguments)
        question = {"q": binary(BLOB), "n": 2}
        assert await node.call("a", "ask", question) == [{"reply": question}]
        asked = await node.expect("message", id="a", name="question")
        assert asked["args"] == [question]
        assert asked["acked"] is True


@pytest.mark.parametrize("transport", list(TRANSPORTS))
async def test_io_sets_up_the_root_namespace_of_every_host(transport: str) -> None:
    """``io(url)`` connects to ``/``: a ``"*"`` setup serves it on the main host too."""
    options, _ = TRANSPORTS[transport]
    sio = socketio.AsyncServer(async_mode="asgi")
    app = DynamicIO(socketio.ASGIApp(sio), host="main.test")
    app.setup_namespace("*", lambda nsp, match: install_chat(nsp))
    async with serve(app) as url, node_client() as node:
        port = port_of(url)
        for socket_id, host in (("m", "main.test"), ("a", "alpha.test")):
            opts = {**options, "forceNew": True}
            await node.send("open", id=socket_id, url=f"http://{host}:{port}", opts=opts)
            connected = await node.expect("connect", id=socket_id)
            assert connected["namespace"] == "/"
        [main] = await node.call("m", "whoami")
        [alpha] = await node.call("a", "whoami")
        assert (main["fullname"], main["host"]) == ("/", None)
        assert (alpha["fullname"], alpha["host"]) == ("//alpha.test/", "alpha.test")
        assert await node.call("m", "echo", "hi", binary(BLOB)) == ["hi", binary(BLOB)]


@pytest.mark.parametrize("transport", list(TRANSPORTS))
async def test_hosts_see_only_their_own_messages(transport: str) -> None:
    options, _ = TRANSPORTS[transport]
    app = make_app()
    async with serve(app) as url, node_client() as node:
        port = port_of(url)
        sockets = {"a1": "alpha.test", "a2": "alpha.test", "b": "beta.test", "m": "main.test"}
        for socket_id, host in sockets.items():
            # forceNew: one Engine.IO connection per socket, even on the same host
            opts = {**options, "forceNew": True}
            await node.send("open", id=socket_id, url=f"http://{host}:{port}/chat", opts=opts)
        for socket_id in sockets:
            await node.expect("connect", id=socket_id)
        # a client's broadcast reaches its own host's namespace only
        await node.send("emit", id="a1", event="shout", args=["hello alpha"])
        for socket_id in ("a1", "a2"):
            await node.expect("message", id=socket_id, name="shout")
        # the server emits to the same short name on every host, then a marker
        tenants = (None, "alpha.test", "beta.test")
        for tenant in tenants:
            await (await app.of("/chat", tenant)).emit("news", tenant or "main")
        for tenant in tenants:
            await (await app.of("/chat", tenant)).emit("done")
        for socket_id in sockets:
            await node.expect("message", id=socket_id, name="done")

        expected = {
            "a1": [("news", ["alpha.test"])],
            "a2": [("news", ["alpha.test"])],
            "b": [("news", ["beta.test"])],
            "m": [("news", ["main"])],
        }
        assert {socket_id: node.messages(socket_id) for socket_id in sockets} == expected


REFUSALS = [
    # (namespace, err.message, err.data)
    ("/forbidden", "Invalid namespace", None),
    ("//beta.test/chat", "Invalid namespace", None),
    ("//alpha.test/chat", "Invalid namespace", None),
    ("/private", "members only", {"code": 403}),
]


@pytest.mark.parametrize(("namespace", "message", "data"), REFUSALS)
async def test_refused_namespace_gives_connect_error(
    namespace: str, message: str, data: Any
) -> None:
    async with serve(make_app()) as url, node_client() as node:
        alpha = f"http://alpha.test:{port_of(url)}"
        await node.send("open", id="ok", url=f"{alpha}/chat")
        await node.expect("connect", id="ok")
        # the refused namespace shares the Engine.IO connection of "ok"
        await node.send("open", id="bad", url=alpha, namespace=namespace, via="ok")
        refused = await node.expect("connect_error", id="bad")
        assert (refused["message"], refused["data"]) == (message, data)
        # the other namespace on the same connection is unaffected
        assert (await node.call("ok", "whoami"))[0]["fullname"] == "//alpha.test/chat"


async def test_namespaces_multiplexed_on_one_connection_retire_alone() -> None:
    app = make_app(retirement=0.2)
    async with serve(app) as url, node_client() as node:
        alpha = f"http://alpha.test:{port_of(url)}"
        await node.send("open", id="chat", url=f"{alpha}/chat", opts={"transports": ["websocket"]})
        await node.expect("connect", id="chat")
        await node.send("open", id="room", url=f"{alpha}/room/blue")
        await node.expect("connect", id="room")
        assert len(app.sio.eio.sockets) == 1
        assert (await node.call("room", "whoami"))[0]["fullname"] == "//alpha.test/room/blue"

        retired = asyncio.Event()
        app.namespaces["//alpha.test/room/blue"].on_retire(lambda nsp: retired.set())
        await node.send("close", id="room")
        async with asyncio.timeout(TIMEOUT):
            await retired.wait()
        assert "//alpha.test/room/blue" not in app.namespaces
        assert "//alpha.test/chat" in app.namespaces
        assert await node.call("chat", "echo", "still here") == ["still here"]


@pytest.mark.parametrize("transport", list(TRANSPORTS))
async def test_client_leaves_without_waiting_for_a_long_poll(transport: str) -> None:
    """On exit the client closes its Engine.IO connection; node then exits by
    itself (status 0) only if the server answered the pending long-poll GET."""
    options, _ = TRANSPORTS[transport]
    app = make_app()
    async with serve(app) as url:
        async with node_client() as node:
            alpha = f"http://alpha.test:{port_of(url)}/chat"
            await node.send("open", id="a", url=alpha, opts=options)
            await node.expect("connect", id="a")
            assert await node.call("a", "echo", 1) == [1]
        assert node.process.returncode == 0, node.output
        assert app.sio.eio.sockets == {}
