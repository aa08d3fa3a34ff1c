"""CPU instructions per namespace-creating CONNECT (valgrind): plain python-socketio's
CONNECT to ``namespaces="*"`` against DynamicIO creating a namespace for each.

In-process, as ``instructions.py``: one websocket session driven through the ASGI
app (``overhead.WebSocketSession``), CONNECTs to new names back to back, each
answered before the next. The plain server has catch-all ``connect`` and
``disconnect`` handlers and an ``echo``; the dynamic one's setup registers the
same three on each namespace (shared functions, no closures). Two runs under
``valgrind --tool=callgrind`` with ``--short`` and ``--short + --extra``
CONNECTs; the difference divided by ``--extra`` is one CONNECT's cost. With
``--pipelined``, all the CONNECTs are sent before the first answer is read, as
``scale.py``'s rate section sends them.

Run: ``PYTHONHASHSEED=0 .venv/bin/python benchmarks/create_instructions.py``
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from typing import Any

import socketio
from _common import callgrind
from overhead import WebSocketSession

from dynamic_io_asgi import DynamicIO


async def echo(sid: str, data: Any) -> Any:
    return data


async def connected(sid: str, environ: Any) -> None:
    return None


async def disconnected(sid: str, reason: Any) -> None:
    return None


def plain() -> Any:
    sio = socketio.AsyncServer(async_mode="asgi", namespaces="*")

    @sio.on("*", namespace="*")
    async def any_event(event: str, namespace: str, sid: str, data: Any) -> Any:
        return data

    @sio.on("connect", namespace="*")
    async def connect(namespace: str, sid: str, environ: Any) -> None:
        return None

    @sio.on("disconnect", namespace="*")
    async def disconnect(namespace: str, sid: str, reason: Any) -> None:
        return None

    return socketio.ASGIApp(sio)


def dynamic() -> Any:
    sio = socketio.AsyncServer(async_mode="asgi")
    app = DynamicIO(
        socketio.ASGIApp(sio),
        host="main.test",
        retirement=3600,
        max_name_length=None,
        max_namespaces_per_session=None,
        max_connects_per_second=None,
    )

    @app.setup_namespace("*")
    def setup(nsp: Any, match: Any) -> None:
        nsp.on("echo", echo)
        nsp.on("connect", connected)
        nsp.on("disconnect", disconnected)

    return app


async def workload(variant: str, host: str, count: int, pipelined: bool) -> None:
    """The measured process: ``count`` namespace-creating CONNECTs, then exit at once."""
    logging.getLogger("engineio.server").setLevel(logging.CRITICAL)
    session = WebSocketSession(plain() if variant == "plain" else dynamic(), host)
    await session.open()
    for index in range(count):
        await session.send(f"40/n{index},")
        if not pipelined:
            answer = await session.receive()
            assert answer.startswith(f"40/n{index},"), answer
    if pipelined:
        for index in range(count):
            answer = await session.receive()
            assert answer.startswith(f"40/n{index},"), answer
    os._exit(0)  # no teardown in the count


def instructions(variant: str, host: str, count: int, pipelined: bool) -> int:
    return callgrind(__file__, f"{variant},{host},{count},{int(pipelined)}")[0]


async def per_connect(variant: str, host: str, args: argparse.Namespace) -> float:
    short, extra = args.short, args.extra
    counts = await asyncio.gather(
        *(
            asyncio.to_thread(instructions, variant, host, n, args.pipelined)
            for n in (short, short + extra)
        )
    )
    return (counts[1] - counts[0]) / extra


async def bench(args: argparse.Namespace) -> None:
    runs = f"({args.short} + {args.extra}) - {args.short}"
    how = "pipelined" if args.pipelined else "each answered before the next"
    print(f"# instructions per namespace-creating CONNECT, {runs}, {how}")
    plain_cost = await per_connect("plain", "main.test", args)
    print(f"plain python-socketio, main host: {plain_cost:,.0f}")
    for host in ("main.test", "a.test"):
        cost = await per_connect("dynamic", host, args)
        print(f"DynamicIO, {host}: {cost:,.0f} (plain / dynamic {plain_cost / cost:.3f})")


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--short", type=int, default=300)
    options.add_argument("--extra", type=int, default=1000)
    options.add_argument(
        "--pipelined", action="store_true", help="send every CONNECT before reading answers"
    )
    options.add_argument("--workload", help=argparse.SUPPRESS)
    args = options.parse_args()
    if args.workload:
        variant, host, count, pipelined = args.workload.split(",")
        asyncio.run(workload(variant, host, int(count), pipelined == "1"))
    else:
        asyncio.run(bench(args))


if __name__ == "__main__":
    main()
