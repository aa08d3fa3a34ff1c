"""Cross-process broadcasts per second over Redis: plain python-socketio against DynamicIO.

Each variant runs two uvicorn processes that share a redis-server through
``socketio.AsyncRedisManager`` (one channel per variant): an *emitter* with no
clients and a *receiver* with raw websocket clients (``_eio.py``) in this process.
A round asks the emitter (``POST /emit``) to broadcast ``--messages`` events, one
after the other, and waits until every client has received all of them.

- ``plain``: python-socketio alone; the clients are on ``/chat``, which has a handler.
- ``dynamic``: the same inside ``DynamicIO`` (main host ``main.bench``); the clients
  are on ``/chat`` of ``alpha.bench``, a namespace created on demand by
  ``setup_namespace("*")`` in the receiver only; the emitter broadcasts to the full
  name ``//alpha.bench/chat`` without any namespace object of its own.

Rounds of the two variants alternate. The result is the ratio of the median
deliveries per second (messages x clients / round time), goal >= 0.95, with the
receivers' CPU time per delivery (from ``/proc``) beside it.

Run: ``.venv/bin/python benchmarks/redis_broadcast.py [--quick]`` (needs redis-server,
or ``--redis-url`` of a server to use).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import socketio
from _common import ServerProcess, machine, main, median, redis_server, table
from _eio import WebSocketClient, http_session

from dynamic_io_asgi import DynamicIO

VARIANTS = ("plain", "dynamic")
TARGET = {"plain": "/chat", "dynamic": "//alpha.bench/chat"}
CLIENT_HOST = {"plain": "main.bench", "dynamic": "alpha.bench"}
NAMESPACE = "/chat"
GOAL = 0.95
REDIS_ENV = "BENCH_REDIS_URL"

Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def make_app(variant: str) -> object:
    """A server process of ``variant``; the emitter and the receiver are the same app."""
    sio = socketio.AsyncServer(
        async_mode="asgi",
        client_manager=socketio.AsyncRedisManager(
            os.environ[REDIS_ENV], channel=f"bench-{variant}"
        ),
    )

    async def control(scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":  # answer it, so DynamicIO sees the startup
            while True:
                message = await receive()
                await send({"type": message["type"] + ".complete"})
                if message["type"] == "lifespan.shutdown":
                    return
        query = parse_qs(scope.get("query_string", b"").decode())
        payload = "x" * int(query["size"][0])
        for _ in range(int(query["n"][0])):
            await sio.emit("tick", payload, namespace=TARGET[variant])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    app = socketio.ASGIApp(sio, other_asgi_app=control)
    if variant == "plain":
        sio.on("connect", lambda sid, environ: None, namespace=NAMESPACE)
        return app
    dynamic = DynamicIO(app, host="main.bench")
    dynamic.setup_namespace("*", lambda nsp, match: None)
    return dynamic


# -- Redis ---------------------------------------------------------------------------------


async def subscribers(url: str, channel: str) -> int:
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(url)
    try:
        for _ in range(500):
            try:
                answer = dict(await client.pubsub_numsub(channel))
                return int(answer[channel.encode()])
            except redis.ConnectionError:
                await asyncio.sleep(0.02)  # redis-server is still starting
        raise RuntimeError(f"no Redis at {url}")
    finally:
        await client.aclose()


# -- one variant: emitter, receiver, clients ------------------------------------------------


@dataclass
class Variant:
    name: str
    emitter: ServerProcess
    receiver: ServerProcess
    clients: list[WebSocketClient] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    rates: list[float] = field(default_factory=list)  # deliveries per second
    cpu_us: list[float] = field(default_factory=list)  # receiver CPU µs per delivery
    emitter_cpu_us: list[float] = field(default_factory=list)  # per message

    async def read(self, index: int, changed: asyncio.Event) -> None:
        tick = f'42{NAMESPACE},["tick",'  # the client's own name, in both variants
        client = self.clients[index]
        with contextlib.suppress(ConnectionError):
            while True:
                if (await client.receive()).startswith(tick):
                    self.counts[index] += 1
                    changed.set()


async def start_variant(name: str, script: str, redis_url: str, profile: str | None) -> Variant:
    os.environ[REDIS_ENV] = redis_url  # the server processes inherit it
    emitter = await ServerProcess.start(script, name)
    extra = ["--profile-server", f"{profile}.{name}.prof"] if profile else []
    receiver = await ServerProcess.start(script, name, *extra)
    return Variant(name, emitter, receiver)


@contextlib.asynccontextmanager
async def connected(variant: Variant, http: Any, clients: int) -> AsyncIterator[None]:
    variant.clients = list(
        await asyncio.gather(
            *(
                WebSocketClient.open(http, variant.receiver.url, CLIENT_HOST[variant.name])
                for _ in range(clients)
            )
        )
    )
    await asyncio.gather(*(c.connect(NAMESPACE) for c in variant.clients))
    variant.counts = [0] * clients
    # python-socketio starts a process's Redis listener with its first client (DynamicIO
    # at startup): give the plain emitter one too, so both emitters also read their own
    # broadcasts back, as every process of a real deployment does.
    idle = await WebSocketClient.open(http, variant.emitter.url, "main.bench")
    await idle.connect("/")
    try:
        yield
    finally:
        for client in [*variant.clients, idle]:
            await client.close()


async def one_round(variant: Variant, http: Any, messages: int, size: int) -> None:
    """Broadcast ``messages`` from the emitter; wait until every client has them all."""
    changed = asyncio.Event()
    readers = [asyncio.create_task(variant.read(i, changed)) for i in range(len(variant.clients))]
    variant.counts[:] = [0] * len(variant.clients)
    receiver_cpu, emitter_cpu = variant.receiver.cpu_seconds(), variant.emitter.cpu_seconds()
    started = time.perf_counter()
    try:
        async with http.post(f"{variant.emitter.url}/emit?n={messages}&size={size}") as r:
            assert r.status == 204, r.status
        async with asyncio.timeout(60):
            while min(variant.counts) < messages:
                changed.clear()
                await changed.wait()
    finally:
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
    elapsed = time.perf_counter() - started
    deliveries = messages * len(variant.clients)
    variant.rates.append(deliveries / elapsed)
    variant.cpu_us.append((variant.receiver.cpu_seconds() - receiver_cpu) / deliveries * 1e6)
    variant.emitter_cpu_us.append((variant.emitter.cpu_seconds() - emitter_cpu) / messages * 1e6)


async def bench(args: argparse.Namespace) -> None:
    if args.quick:
        args.rounds, args.messages, args.clients = 4, 800, 8
    script = os.path.abspath(__file__)
    print(f"# redis_broadcast: {machine()}")
    print(
        f"# {args.rounds} interleaved rounds per variant, {args.messages} broadcasts of"
        f" {args.size} chars to {args.clients} websocket clients on another process\n",
        flush=True,
    )
    with redis_server(args.redis_url) as url:
        variants = [
            await start_variant(name, script, url, args.profile_server) for name in VARIANTS
        ]
        try:
            async with http_session() as http, contextlib.AsyncExitStack() as stack:
                async with asyncio.timeout(60):
                    for variant in variants:
                        await stack.enter_async_context(connected(variant, http, args.clients))
                    for variant in variants:  # both processes listen on the variant's channel
                        while await subscribers(url, f"bench-{variant.name}") < 2:
                            await asyncio.sleep(0.02)
                for variant in variants:  # warm up, not measured
                    await one_round(variant, http, max(args.messages // 5, 20), args.size)
                    variant.rates.clear()
                    variant.cpu_us.clear()
                    variant.emitter_cpu_us.clear()
                for round_no in range(args.rounds):
                    order = variants if round_no % 2 == 0 else variants[::-1]
                    for variant in order:
                        await one_round(variant, http, args.messages, args.size)
                    print(
                        f"round {round_no + 1}: "
                        + ", ".join(f"{v.name} {v.rates[-1]:,.0f}/s" for v in variants),
                        flush=True,
                    )
        finally:
            for variant in variants:
                await variant.emitter.stop()
                await variant.receiver.stop()
    plain, dynamic = variants
    ratio = median(dynamic.rates) / median(plain.rates)
    pairs = median([d / p for d, p in zip(dynamic.rates, plain.rates, strict=True)])
    print()
    print(
        table(
            ["variant", "deliveries/s", "receiver CPU µs/delivery", "emitter CPU µs/message"],
            [
                [
                    v.name,
                    f"{median(v.rates):,.0f}",
                    f"{median(v.cpu_us):.1f}",
                    f"{median(v.emitter_cpu_us):.1f}",
                ]
                for v in variants
            ],
        )
    )
    verdict = "meets" if ratio >= GOAL else "below"
    print(
        f"\nratio dynamic / plain = {ratio:.3f} (median of per-round ratios {pairs:.3f});"
        f" goal >= {GOAL}: {verdict}."
        "\nCPU = /proc user+system time of the process (10 ms ticks) over the round."
    )
    print(json.dumps({"ratio": round(ratio, 4), "pairs": round(pairs, 4)}))


def configure(options: argparse.ArgumentParser) -> None:
    options.add_argument("--rounds", type=int, default=9, help="interleaved rounds per variant")
    options.add_argument("--messages", type=int, default=2000, help="broadcasts per round")
    options.add_argument("--clients", type=int, default=16, help="websocket clients")
    options.add_argument("--size", type=int, default=64, help="characters per message")
    options.add_argument("--redis-url", help="use this Redis instead of a throw-away one")


if __name__ == "__main__":
    main(__doc__, make_app, bench, configure)
