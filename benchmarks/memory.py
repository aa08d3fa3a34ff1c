"""Memory per live idle namespace, and growth over create-and-retire cycles.

Every namespace here is set up the typical way: ``setup_namespace("*")``
registering three handlers (``connect``, ``disconnect``, ``message``), fresh
closures per namespace. Python heap figures come from ``tracemalloc`` (current
traced bytes after ``gc.collect()``), process figures from RSS (``/proc``).

1. Live idle namespaces, in this process: ``await app.of(name, "alpha.test")``
   for N names (N = 10,000), against plain python-socketio with the same three
   handlers registered by ``sio.on(..., namespace=name)`` for N names.
2. Live idle namespaces created by real clients: a DynamicIO server (its own
   process, ``retirement=None``) gets N CONNECT + DISCONNECT pairs from a
   websocket session on ``alpha.test``; the server reports its own tracemalloc
   figure over HTTP before and after (session closed).
3. Create-and-retire cycles, in this process: ``nsp = await app.of(name, host)``
   then ``await nsp.close()``, 100,000 times with new names (``retirement=0``),
   measured once under tracemalloc and once without it (RSS only).
4. Create-and-retire by real clients: CONNECT then DISCONNECT of a new name on a
   ``retirement=0`` server, 30,000 times in 5 chunks, each followed by a wait
   until every namespace has retired and a reading of the server's figures (so
   growth that goes on shows as a trend, and a plateau as one); the baseline is
   plain python-socketio doing the same CONNECT + DISCONNECT cycles on one static
   namespace.

Goals (issue 4): < 4 KB per live namespace, < 1 MB growth over 100,000 cycles.

Run: ``.venv/bin/python benchmarks/memory.py [--quick]``
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import socketio
from _common import machine, main, register_handlers, servers, table
from _eio import WebSocketClient, http_session

from dynamic_io_asgi import DynamicIO

GOAL_LIVE = 4096
GOAL_GROWTH = 1 << 20
CHECKPOINTS = 5
_PAGE = os.sysconf("SC_PAGE_SIZE")

Register = Callable[[str, Callable[..., Any]], Any]


def dynamic_app(retirement: float | None, **options: Any) -> DynamicIO:
    sio = socketio.AsyncServer(async_mode="asgi")
    app = DynamicIO(socketio.ASGIApp(sio, **options), host="main.test", retirement=retirement)

    async def setup(nsp: Any, match: Any) -> bool:
        register_handlers(nsp.on)
        return True

    app.setup_namespace("*", setup)
    return app


def rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * _PAGE


def traced() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


# -- servers (variants for --serve) -------------------------------------------------


def make_app(variant: str) -> object:
    """``live`` and ``churn``: DynamicIO (retirement None / 0); ``baseline``: plain."""
    tracemalloc.start()
    holder: dict[str, Any] = {}

    async def report(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":  # python-socketio hands lifespan on to us
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        sio = holder["sio"]
        app = holder.get("app")
        body = json.dumps(
            {
                "traced": traced(),
                "rss": rss(),
                "sockets": len(sio.eio.sockets),
                "namespaces": None if app is None else len(app.namespaces),
                "handlers": len(sio.handlers),
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})

    if variant == "baseline":
        sio = socketio.AsyncServer(async_mode="asgi")
        register_handlers(on_namespace(sio, "/c"))
        holder["sio"] = sio
        return socketio.ASGIApp(sio, other_asgi_app=report)
    app = dynamic_app(None if variant == "live" else 0.0, other_asgi_app=report)
    holder.update(sio=app.sio, app=app)
    return app


async def server_memory(
    http: aiohttp.ClientSession, url: str, settled: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """The server's own figures, once ``settled(report)`` holds (30 s at most)."""
    deadline = time.monotonic() + 30
    while True:
        async with http.get(url + "/mem") as response:
            report: dict[str, Any] = await response.json()
        if settled(report) or time.monotonic() > deadline:
            return report
        await asyncio.sleep(0.1)


async def cycles(
    http: aiohttp.ClientSession,
    url: str,
    names: Callable[[int], str],
    count: int,
    first: int = 0,
) -> None:
    """CONNECT + DISCONNECT ``names(i)`` for ``first <= i < first + count`` over one
    websocket session."""
    client = await WebSocketClient.open(http, url, "alpha.test")
    try:
        for i in range(first, first + count):
            await client.connect(names(i))
            await client.disconnect(names(i))
    finally:
        await client.close()


def new_name(i: int) -> str:
    return f"/c{i}"


def warm_name(i: int) -> str:
    return f"/w{i}"


def static_name(i: int) -> str:
    return "/c"


def idle(report: dict[str, Any]) -> bool:
    """No Engine.IO session left, and every namespace retired."""
    return report["sockets"] == 0 and not report["namespaces"]


# -- measurements -----------------------------------------------------------------


async def live_of(count: int) -> tuple[int, tracemalloc.Snapshot, tracemalloc.Snapshot]:
    app = dynamic_app(None)
    for i in range(100):  # warm up: first-use allocations are not per namespace
        await app.of(f"/warm{i}", "alpha.test")
    before_bytes, before = traced(), tracemalloc.take_snapshot()
    for i in range(count):
        await app.of(f"/room{i}", "alpha.test")
    after_bytes, after = traced(), tracemalloc.take_snapshot()
    assert len(app.namespaces) == count + 100
    await app.aclose()
    return after_bytes - before_bytes, before, after


async def live_plain(count: int) -> int:
    sio = socketio.AsyncServer(async_mode="asgi")
    for i in range(100):
        register_handlers(on_namespace(sio, f"/warm{i}"))
    before = traced()
    for i in range(count):
        register_handlers(on_namespace(sio, f"/room{i}"))
    return traced() - before


def on_namespace(sio: socketio.AsyncServer, name: str) -> Register:
    """``sio.on(event, handler)`` for namespace ``name``."""

    def register(event: str, handler: Callable[..., Any]) -> Any:
        return sio.on(event, handler, namespace=name)

    return register


async def churn_of(count: int, measure: Callable[[], int]) -> int:
    app = dynamic_app(0.0)

    async def cycle(name: str) -> None:
        nsp = await app.of(name, "alpha.test")
        await nsp.close()

    for i in range(1000):
        await cycle(f"/warm{i}")
    before = measure()
    for i in range(count):
        await cycle(f"/churn{i}")
    after = measure()
    assert not app.namespaces and app.retired == count + 1000
    await app.aclose()
    return after - before


def measured_rss() -> int:
    gc.collect()
    return rss()


async def timed(label: str, work: Awaitable[Any]) -> Any:
    started = time.perf_counter()
    result = await work
    print(f"  {label}: {time.perf_counter() - started:.1f} s", flush=True)
    return result


async def bench(args: argparse.Namespace) -> None:
    live_n = 2_000 if args.quick else args.live
    churn_n = 10_000 if args.quick else args.churn
    client_n = 1_000 if args.quick else args.client_live
    client_churn = 1_000 if args.quick else args.client_churn
    print(f"# memory: {machine()}")
    rows_live: list[list[object]] = []
    rows_churn: list[list[object]] = []

    tracemalloc.start()
    grown, before, after = await timed(f"{live_n:,} namespaces by of()", live_of(live_n))
    rows_live.append(["DynamicIO, of()", live_n, f"{grown / live_n:,.0f}"])
    plain = await timed(f"{live_n:,} names by sio.on", live_plain(live_n))
    rows_live.append(["plain python-socketio, sio.on x3", live_n, f"{plain / live_n:,.0f}"])
    sites = after.compare_to(before, "lineno")[: args.sites]
    churned = await timed(f"{churn_n:,} of()+close() traced", churn_of(churn_n, traced))
    rows_churn.append(["DynamicIO, of() + close()", churn_n, "tracemalloc", f"{churned:+,}"])
    tracemalloc.stop()
    churned = await timed(f"{churn_n:,} of()+close() untraced", churn_of(churn_n, measured_rss))
    rows_churn.append(["DynamicIO, of() + close()", churn_n, "RSS", f"{churned:+,}"])

    script = os.path.abspath(__file__)
    variants = ("live", "churn", "baseline")
    async with servers(script, variants) as running, http_session() as http:
        url = running["live"].url
        start = await server_memory(http, url, lambda r: True)
        await timed(
            f"{client_n:,} namespaces by client CONNECT",
            cycles(http, url, lambda i: f"/room{i}", client_n),
        )
        end = await server_memory(http, url, lambda r: r["sockets"] == 0)
        per = (end["traced"] - start["traced"]) / client_n
        rows_live.append(["DynamicIO, client CONNECT + DISCONNECT", client_n, f"{per:,.0f}"])
        churns = {
            "churn": ("DynamicIO retirement=0, CONNECT + DISCONNECT new name", new_name),
            "baseline": ("plain python-socketio, CONNECT + DISCONNECT /c", static_name),
        }
        for variant, (label, names) in churns.items():
            url = running[variant].url
            await cycles(http, url, warm_name if variant == "churn" else static_name, 500)
            start = await server_memory(http, url, idle)
            trend = []
            started = time.perf_counter()
            chunk = client_churn // CHECKPOINTS
            for i in range(CHECKPOINTS):  # growth that goes on shows as a trend
                await cycles(http, url, names, chunk, first=i * chunk)
                end = await server_memory(http, url, idle)
                trend.append(end)
            print(
                f"  {chunk * CHECKPOINTS:,} client cycles, {variant}:"
                f" {time.perf_counter() - started:.1f} s; growth at each"
                f" {chunk:,}: traced {[r['traced'] - start['traced'] for r in trend]},"
                f" RSS {[r['rss'] - start['rss'] for r in trend]}",
                flush=True,
            )
            for kind, measure in (("traced", "tracemalloc"), ("rss", "RSS")):
                rows_churn.append(
                    [label, chunk * CHECKPOINTS, measure, f"{end[kind] - start[kind]:+,}"]
                )
            if end["namespaces"]:
                print(f"  warning: {end['namespaces']} namespaces left on {variant}")

    print()
    print(table(["live idle namespaces", "count", "bytes per namespace"], rows_live))
    print()
    print(table(["create and retire", "cycles", "measure", "growth, bytes"], rows_churn))
    print(
        f"\ngoals: < {GOAL_LIVE:,} bytes per live namespace, < {GOAL_GROWTH:,} bytes growth"
        " over 100,000 cycles."
    )
    print(f"\nlargest allocation sites of the {live_n:,} namespaces made by of():")
    for stat in sites:
        frame = stat.traceback[0]
        path = frame.filename.split("site-packages/")[-1].split("/work/main/")[-1]
        print(f"  {stat.size_diff / live_n:8,.0f} B/ns  {path}:{frame.lineno}")


def configure(options: argparse.ArgumentParser) -> None:
    options.add_argument("--live", type=int, default=10_000, help="live namespaces (of())")
    options.add_argument("--churn", type=int, default=100_000, help="of()+close() cycles")
    options.add_argument(
        "--client-live", type=int, default=10_000, help="namespaces made by client CONNECTs"
    )
    options.add_argument(
        "--client-churn", type=int, default=30_000, help="client create-and-retire cycles"
    )
    options.add_argument("--sites", type=int, default=12, help="allocation sites to list")


if __name__ == "__main__":
    main(__doc__, make_app, bench, configure)
