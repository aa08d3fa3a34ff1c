"""The middleware's own CPU cost per echo round trip, in-process, without a network.

The same app as ``throughput.py`` (``echo`` on ``/chat``, and for the wrapped
app also on ``//alpha.test/chat``) is driven through its ASGI interface
directly: no uvicorn, no sockets, no client library. A websocket session is
an ASGI ``websocket`` scope fed from a queue; a polling session is one ASGI
``http`` call per POST and per long-poll GET. Baseline and wrapped runs
alternate in one process, and the CPU time per round trip (``process_time``)
of each is compared. The difference is what the middleware adds to a round
trip, free of the scheduling noise that ``throughput.py`` sees on a loaded
machine; the end-to-end cost of a round trip (uvicorn, sockets) comes on top of
both, so the ratio here is a lower bound of the end-to-end ratio.

``--profile`` runs extra wrapped rounds under cProfile and lists the functions
of ``dynamic_io_asgi`` by their own time per round trip.

Run: ``.venv/bin/python benchmarks/overhead.py [--quick] [--profile]``
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import itertools
import json
import logging
import pstats
import time
from collections.abc import Callable, Coroutine
from typing import Any

from _common import machine, main, median, table
from throughput import HOSTS, NAMESPACE, make_app

Message = dict[str, Any]
App = Callable[[dict[str, Any], Any, Any], Coroutine[Any, Any, None]]
PAYLOAD = '{"text":"' + "x" * 64 + '","n":1}'


def _scope(kind: str, host: str, query: str, method: str = "GET") -> dict[str, Any]:
    headers = [
        (b"host", host.encode()),
        (b"user-agent", b"benchmark"),
        (b"accept", b"*/*"),
        (b"accept-encoding", b"gzip, deflate"),
    ]
    if kind == "websocket":
        headers += [(b"connection", b"Upgrade"), (b"upgrade", b"websocket")]
    return {
        "type": kind,
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "scheme": "http" if kind == "http" else "ws",
        "method": method,
        "path": "/socket.io/",
        "raw_path": b"/socket.io/",
        "root_path": "",
        "query_string": query.encode(),
        "headers": headers,
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
    }


class WebSocketSession:
    """An ASGI websocket connection to ``app``, driven from this process."""

    def __init__(self, app: App, host: str) -> None:
        self._in: asyncio.Queue[Message] = asyncio.Queue()
        self._out: asyncio.Queue[str] = asyncio.Queue()
        self._in.put_nowait({"type": "websocket.connect"})
        scope = _scope("websocket", host, "EIO=4&transport=websocket")
        self._task: asyncio.Task[None] = asyncio.create_task(app(scope, self._in.get, self._send))

    async def _send(self, message: Message) -> None:
        if message["type"] == "websocket.send" and message.get("text") is not None:
            self._out.put_nowait(message["text"])

    async def send(self, packet: str) -> None:
        self._in.put_nowait({"type": "websocket.receive", "text": packet})

    async def receive(self) -> str:
        while True:
            packet = await self._out.get()
            if packet == "2":
                await self.send("3")
                continue
            return packet

    async def open(self) -> None:
        opening = await self.receive()
        assert opening.startswith("0{"), opening

    async def close(self) -> None:
        self._in.put_nowait({"type": "websocket.disconnect", "code": 1000})
        await asyncio.wait_for(self._task, 10)


class PollingSession:
    """Engine.IO long-polling against ``app``: one ASGI http call per request."""

    def __init__(self, app: App, host: str) -> None:
        self._app = app
        self._host = host
        self._query = "EIO=4&transport=polling"
        self._packets: asyncio.Queue[str] = asyncio.Queue()
        self._poller: asyncio.Task[None] | None = None

    async def _request(self, method: str, body: bytes = b"") -> tuple[int, bytes]:
        scope = _scope("http", self._host, self._query, method)
        if method == "POST":
            scope["headers"] = scope["headers"] + [
                (b"content-type", b"text/plain;charset=UTF-8"),
                (b"content-length", str(len(body)).encode()),
            ]
        chunks: list[bytes] = []
        status = 0
        done = asyncio.get_running_loop().create_future()
        requested = False

        async def receive() -> Message:
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": body, "more_body": False}
            await done  # nothing more until the response is out
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            if message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body") and not done.done():
                    done.set_result(None)

        await self._app(scope, receive, send)
        return status, b"".join(chunks)

    async def open(self) -> None:
        _, body_bytes = await self._request("GET")
        body = body_bytes.decode()
        sid = json.loads(body[1:])["sid"]
        self._query += "&sid=" + sid
        self._poller = asyncio.create_task(self._poll())

    async def _poll(self) -> None:
        while True:
            # python-engineio answers a cancelled long-poll itself: stop on non-200.
            status, body = await self._request("GET")
            if status != 200:
                return
            for packet in body.decode().split("\x1e"):
                if packet == "2":
                    await self.send("3")
                elif packet.startswith("1"):
                    return
                elif packet != "6":
                    self._packets.put_nowait(packet)

    async def send(self, packet: str) -> None:
        await self._request("POST", packet.encode())

    async def receive(self) -> str:
        return await self._packets.get()

    async def close(self) -> None:
        await self.send("1")
        if self._poller is not None:
            self._poller.cancel()
            try:
                await self._poller
            except asyncio.CancelledError:
                pass


Session = WebSocketSession | PollingSession


async def connect(session: Session) -> None:
    await session.open()
    await session.send("40" + NAMESPACE + ",")
    answer = await session.receive()
    assert answer.startswith("40" + NAMESPACE + ',{"sid"'), answer


async def round_trips(session: Session, count: int, first: int) -> None:
    for ack in range(first, first + count):
        await session.send(f'42{NAMESPACE},{ack}["echo",{PAYLOAD}]')
        expected = f"43{NAMESPACE},{ack}["
        while not (await session.receive()).startswith(expected):
            pass


async def bench(args: argparse.Namespace) -> None:
    if args.quick:
        args.rounds, args.round_trips = 3, 300
    # Closing a polling session cancels its pending GET, and python-engineio
    # logs the next one as an error ("Invalid session"): expected here.
    logging.getLogger("engineio.server").setLevel(logging.CRITICAL)
    print(f"# overhead: {machine()}")
    print(
        f"# {args.rounds} interleaved rounds of {args.round_trips} round trips per variant"
        " and case, in-process ASGI calls (no network)\n",
        flush=True,
    )
    apps = {variant: make_app(variant) for variant in ("baseline", "wrapped")}
    rows = []
    profiles: list[tuple[str, cProfile.Profile]] = []
    for transport, host_kind in itertools.product(("websocket", "polling"), HOSTS):
        cpu: dict[str, list[float]] = {"baseline": [], "wrapped": []}
        sessions: dict[str, Session] = {}
        for variant, app in apps.items():
            kind = WebSocketSession if transport == "websocket" else PollingSession
            sessions[variant] = kind(app, HOSTS[host_kind])  # type: ignore[arg-type]
            await connect(sessions[variant])
            await round_trips(sessions[variant], 100, 1)  # warm up
        acks = itertools.count(1000, args.round_trips)
        for round_no in range(args.rounds):
            order = ("baseline", "wrapped") if round_no % 2 == 0 else ("wrapped", "baseline")
            for variant in order:
                started = time.process_time()
                await round_trips(sessions[variant], args.round_trips, next(acks))
                cpu[variant].append((time.process_time() - started) / args.round_trips * 1e6)
        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            await round_trips(sessions["wrapped"], args.round_trips, next(acks))
            profiler.disable()
            profiles.append((f"{transport}, {host_kind} host", profiler))
        for session in sessions.values():
            await session.close()
        base, wrapped = median(cpu["baseline"]), median(cpu["wrapped"])
        rows.append(
            [transport, host_kind, f"{base:.1f}", f"{wrapped:.1f}", f"{wrapped - base:+.1f}"]
        )
        print(f"{transport:9} {host_kind:5}: baseline {base:.1f} µs, wrapped {wrapped:.1f} µs")
    print()
    print(
        table(
            ["transport", "session", "baseline µs/rt", "wrapped µs/rt", "middleware µs/rt"],
            rows,
        )
    )
    print(
        "\nµs/rt: CPU time of one echo round trip through the ASGI app, median of the"
        " rounds; no uvicorn, no sockets."
    )
    for label, profiler in profiles:
        print_profile(label, profiler, args.round_trips, args.top)


def print_profile(label: str, profiler: cProfile.Profile, count: int, top: int) -> None:
    """The ``dynamic_io_asgi`` functions by own time per round trip."""
    print(f"\n{label}: dynamic_io_asgi functions by own time per round trip (profiled):")
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    ours = sorted(
        ((v[2], v[0], k) for k, v in stats.items() if "dynamic_io_asgi" in k[0]),
        reverse=True,
    )
    for own, calls, (path, line, name) in ours[:top]:
        where = path.split("dynamic_io_asgi/")[-1]
        print(f"  {own / count * 1e6:6.2f} µs  {calls / count:4.1f} calls  {where}:{line}({name})")
    total = sum(v[2] for k, v in stats.items() if "dynamic_io_asgi" in k[0])
    print(f"  {total / count * 1e6:6.2f} µs  in all (profiled)")


def configure(options: argparse.ArgumentParser) -> None:
    options.add_argument("--rounds", type=int, default=9, help="interleaved rounds")
    options.add_argument("--round-trips", type=int, default=3000, help="round trips per round")
    options.add_argument("--profile", action="store_true", help="profile the wrapped app")
    options.add_argument("--top", type=int, default=12, help="functions to list per profile")


if __name__ == "__main__":
    main(__doc__, make_app, bench, configure)
