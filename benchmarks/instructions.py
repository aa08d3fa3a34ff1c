"""CPU instructions per echo round trip (valgrind): plain python-socketio against DynamicIO.

The in-process workload of ``overhead.py`` (one Engine.IO session driven
through the ASGI app, ack'ed ``echo`` calls back to back) runs in a child
process under ``valgrind --tool=callgrind``, twice: with ``--short`` and with
``--short + --extra`` round trips after the warm-up. The difference in
instructions divided by ``--extra`` is the cost of one round trip, start-up and
warm-up cancelled out. With ``PYTHONHASHSEED=0`` a figure repeats to about
0.5 %, where timings on a shared machine move by a few per cent: this is the
measure for changes smaller than the noise of ``throughput.py``. Slow (about
half a minute per figure, two at a time); needs valgrind (``apt install
valgrind``). ``callgrind_annotate`` on a kept ``--out`` file shows which C
functions grew.

The app gets an ASGI lifespan startup first, as under uvicorn. ``--metrics`` turns
``metrics=True`` on in the wrapped app; ``--cluster`` gives both a
``socketio.AsyncRedisManager`` (a throw-away redis-server, or ``--redis-url``), so the
wrapped one runs its cluster-status publisher (every 2 s of wall time; under valgrind a
round trip takes far longer, so far fewer round trips lie between two publishes than in
real time); each figure then says how many summaries the two runs published,
and the figure without them, at the instructions of one publish (measured first, by the
same two-length difference over publishes one after the other).

Run: ``.venv/bin/python benchmarks/instructions.py [--quick] [--out DIR] [--metrics] [--cluster]``
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import os
import re
import shutil
import sys
from dataclasses import dataclass
from typing import Any

from _common import add_feature_options, callgrind, features, main, table
from overhead import PollingSession, WebSocketSession, connect, round_trips
from throughput import HOSTS, make_app

VARIANTS = ("baseline", "wrapped")
TRANSPORTS = ("websocket", "polling")
#: Publishes of the short run of :func:`per_publish`, and how many more the long one does.
PUBLISHES, EXTRA_PUBLISHES = 50, 200


async def workload(variant: str, transport: str, host: str, count: int) -> None:
    """The measured process: start up, warm up, then ``count`` round trips, then exit at
    once. With a cluster publisher, say on stderr how many summaries it published."""
    logging.getLogger("engineio.server").setLevel(logging.CRITICAL)
    app: Any = make_app(variant)
    published = [0]
    cluster = getattr(app, "cluster", None)
    if cluster is not None:
        publish = cluster.publish

        async def counted() -> None:
            await publish()
            published[0] += 1

        cluster.publish = counted
    await lifespan_startup(app)
    kind = PollingSession if transport == "polling" else WebSocketSession
    session = kind(app, host)
    await connect(session)
    await round_trips(session, 300, 1)
    await round_trips(session, count, 1000)
    if cluster is not None:
        print(f"PUBLISHED {published[0]}", file=sys.stderr, flush=True)
    os._exit(0)  # no teardown in the count


async def publish_workload(variant: str, host: str, count: int) -> None:
    """The measured process of :func:`per_publish`: one websocket session in ``/chat``,
    20 publishes of warm-up, then ``count`` publishes one after the other (no lifespan:
    no publisher task of its own), then exit at once."""
    logging.getLogger("engineio.server").setLevel(logging.CRITICAL)
    app: Any = make_app(variant)
    session = WebSocketSession(app, host)
    await connect(session)
    for _ in range(20):
        await app.cluster.publish()
    for _ in range(count):
        await app.cluster.publish()
    os._exit(0)


async def lifespan_startup(app: Any) -> None:
    """Send the app ``lifespan.startup`` and wait for its answer; the lifespan task stays."""
    started = asyncio.Event()

    async def receive() -> dict[str, Any]:
        if not started.is_set():
            return {"type": "lifespan.startup"}
        await asyncio.Event().wait()  # no shutdown: the process exits
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        assert message["type"] == "lifespan.startup.complete", message
        started.set()

    task = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send))
    _background.append(task)
    await asyncio.wait_for(started.wait(), 10)


_background: list[asyncio.Task[None]] = []


def instructions(
    args: argparse.Namespace, variant: str, transport: str, host: str, n: int
) -> tuple[int, int | None]:
    """Instructions of one workload run of ``n`` round trips, and how many cluster
    summaries it published (``None``: no publisher)."""
    name = f"{variant}.{transport}.{host}.{n}{args.suffix}"
    out = os.path.join(args.out, name) if args.out else "/dev/null"
    count, stderr = callgrind(__file__, f"{variant},{transport},{host},{n}", out)
    published = re.search(r"^PUBLISHED (\d+)$", stderr, re.MULTILINE)
    return count, None if published is None else int(published[1])


@dataclass
class Figure:
    """Instructions per round trip of one variant and case, and with a cluster
    publisher how many summaries its short and long runs published."""

    per_round_trip: float
    published: tuple[int, int] | None = None


async def per_round_trip(
    args: argparse.Namespace, variant: str, transport: str, host: str
) -> Figure:
    """Instructions per round trip: two runs, side by side, and their difference."""
    (short, short_published), (long, long_published) = await asyncio.gather(
        *(
            asyncio.to_thread(instructions, args, variant, transport, host, n)
            for n in (args.short, args.short + args.extra)
        )
    )
    published = None
    if short_published is not None and long_published is not None:
        published = (short_published, long_published)
    return Figure((long - short) / args.extra, published)


async def per_publish(args: argparse.Namespace) -> float:
    """Instructions per cluster-status publish of the wrapped app (with one websocket
    session in ``/chat``, as in the round trips): 50 and 250 publishes, the difference."""
    (short, _), (long, _) = await asyncio.gather(
        *(
            asyncio.to_thread(instructions, args, "wrapped", "publish", HOSTS["main"], n)
            for n in (PUBLISHES, PUBLISHES + EXTRA_PUBLISHES)
        )
    )
    return (long - short) / EXTRA_PUBLISHES


async def bench(args: argparse.Namespace) -> None:
    if args.workload:
        variant, transport, host, count = args.workload.split(",")
        if transport == "publish":
            await publish_workload(variant, host, int(count))
        else:
            await workload(variant, transport, host, int(count))
        return
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (Debian: apt install valgrind)")
    if args.quick:
        args.short, args.extra = 100, 200
    if args.out:
        os.makedirs(args.out, exist_ok=True)
    args.suffix = (".metrics" if args.metrics else "") + (".cluster" if args.cluster else "")
    with features(args) as said:
        print(
            f"# instructions: valgrind callgrind, PYTHONHASHSEED=0, ({args.short} + {args.extra})"
            f" - {args.short} round trips after 300 of warm-up\n# {said}\n",
            flush=True,
        )
        publish = None
        if args.cluster:
            publish = await per_publish(args)
            print(f"one cluster-status publish: {publish:,.0f} instructions", flush=True)
        rows = []
        for transport, host_kind in itertools.product(TRANSPORTS, HOSTS):
            figures = {
                v: await per_round_trip(args, v, transport, HOSTS[host_kind]) for v in VARIANTS
            }
            base, wrapped = figures["baseline"].per_round_trip, figures["wrapped"].per_round_trip
            row = [
                transport,
                host_kind,
                f"{base:,.0f}",
                f"{wrapped:,.0f}",
                f"{wrapped / base - 1:+.2%}",
            ]
            line = f"{transport:9} {host_kind:5}: {base:,.0f} -> {wrapped:,.0f}"
            published = figures["wrapped"].published
            if publish is not None and published is not None:
                # The publisher runs every 2 s of wall time, not per message: take the
                # summaries that the long run published more than the short one out.
                short_published, long_published = published
                less = wrapped - (long_published - short_published) * publish / args.extra
                row += [
                    f"{short_published}/{long_published}",
                    f"{less:,.0f}",
                    f"{less / base - 1:+.2%}",
                ]
                line += f" ({short_published}/{long_published} published; {less:,.0f} without them)"
            rows.append(row)
            print(line, flush=True)
    print()
    header = ["transport", "session", "baseline", "wrapped", "middleware"]
    if args.cluster:
        header += ["published", "wrapped less publishes", "middleware less publishes"]
    print(table(header, rows))
    print("\ninstructions per echo round trip, in-process (no network, no uvicorn).")
    if args.cluster:
        print(
            "published = cluster summaries that the wrapped app's short / long run published"
            " (every 2 s of wall time:\nunder valgrind far fewer round trips than in real time"
            " lie between two); 'less publishes' takes the\nlong run's extra ones out, at the"
            " instructions of one publish measured above."
        )


def configure(options: argparse.ArgumentParser) -> None:
    options.add_argument("--short", type=int, default=200, help="round trips of the short run")
    options.add_argument("--extra", type=int, default=1000, help="more in the long run")
    options.add_argument("--out", help="keep the callgrind files in this folder")
    options.add_argument("--workload", help=argparse.SUPPRESS)
    add_feature_options(options)


if __name__ == "__main__":
    main(__doc__, make_app, bench, configure)
