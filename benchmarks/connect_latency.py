"""Latency of a Socket.IO CONNECT to a namespace created on demand, against a static one.

Two uvicorn servers run in their own processes. ``baseline`` is plain
python-socketio with static namespaces ``/s0`` .. ``/s<K-1>``, each with three
handlers (``connect``, ``disconnect``, ``message``) registered by ``sio.on``.
``wrapped`` is the same server inside ``DynamicIO`` (main host ``main.test``,
default retirement of 10 s) with ``setup_namespace("*")`` registering the same
three handlers on every new namespace, plus the same static names.

This process holds one websocket Engine.IO session per series, opened before
timing starts, and times only the namespace CONNECT: from sending ``40/<ns>,``
to receiving ``40/<ns>,{"sid"...``. The series, interleaved sample by sample:

- ``static`` (baseline): ``/s<i>`` on plain python-socketio;
- ``dynamic`` (wrapped): a name never used before, from an other-host session
  (``Host: alpha.test``), so every CONNECT creates ``//alpha.test/d<n>``: setup
  runs, handlers are installed, then the CONNECT goes through;
- ``wrapped static``: ``/s<i>`` through the middleware from a main-host session.

Consecutive CONNECTs are 2 ms apart, so that work a CONNECT leaves behind in
one server does not compete with the next CONNECT's server. This process is
pinned to one CPU and the servers to the other (``_common.pin``): left to the
scheduler, the plain server's CONNECTs came out slower than the same static
CONNECTs through the middleware (771 against 615 µs), a matter of which
process shared a core with the client.
Each session is replaced by a fresh one after K CONNECTs (K = 250), so the
baseline always has an unused static name and no session holds thousands of
namespaces; the dynamic namespaces left behind retire 10 s later, as they would
in production, while later samples run.

Run: ``.venv/bin/python benchmarks/connect_latency.py [--quick]``
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import socketio
from _common import machine, main, median, percentile, pin, register_handlers, servers, table
from _eio import WebSocketClient, http_session

from dynamic_io_asgi import DynamicIO

PER_SESSION = 250
GOAL = 1.2
RETIREMENT = 10.0  # DynamicIO's default, which the wrapped server keeps


def make_app(variant: str) -> object:
    sio = socketio.AsyncServer(async_mode="asgi")

    for i in range(PER_SESSION):
        register_handlers(
            lambda event, handler, name=f"/s{i}": sio.on(event, handler, namespace=name)
        )
    if variant == "baseline":
        return socketio.ASGIApp(sio)
    # A session makes PER_SESSION CONNECTs: the per-session limit (128 by
    # default) is raised to that. metrics=True: the Prometheus endpoint, read
    # once at the end for the retirement delays (it costs nothing until requested).
    app = DynamicIO(
        socketio.ASGIApp(sio),
        host="main.test",
        max_namespaces_per_session=PER_SESSION,
        max_connects_per_second=None,  # the latency of one CONNECT, not the pacing's
        metrics=True,
    )

    async def setup(nsp: Any, match: Any) -> bool:
        register_handlers(nsp.on)
        return True

    app.setup_namespace("*", setup)
    return app


@dataclass
class Series:
    name: str
    variant: str
    host: str
    dynamic: bool
    latencies: list[float] = field(default_factory=list)  # seconds
    client: WebSocketClient | None = None
    used: int = 0


async def sample(series: Series, http: aiohttp.ClientSession, url: str, counter: int) -> None:
    if series.client is None or series.used == PER_SESSION:
        if series.client is not None:
            await series.client.close()
        series.client = await WebSocketClient.open(http, url, series.host)
        series.used = 0
    namespace = f"/d{counter}" if series.dynamic else f"/s{series.used}"
    started = time.perf_counter()
    await series.client.connect(namespace)
    series.latencies.append(time.perf_counter() - started)
    series.used += 1


async def bench(args: argparse.Namespace) -> None:
    if args.quick:
        args.samples = 600
    print(f"# connect latency: {machine()}")
    print(
        f"# {args.samples} CONNECTs per series, interleaved, {args.gap * 1e3:g} ms apart;"
        f" websocket sessions of {PER_SESSION} CONNECTs; raw Engine.IO client (aiohttp)\n",
        flush=True,
    )
    all_series = [
        Series("static (plain python-socketio)", "baseline", "main.test", dynamic=False),
        Series("dynamic, new name (DynamicIO)", "wrapped", "alpha.test", dynamic=True),
        Series("static through DynamicIO", "wrapped", "main.test", dynamic=False),
    ]
    script = os.path.abspath(__file__)
    async with (
        servers(script, ("baseline", "wrapped"), profile=args.profile_server) as running,
        http_session() as http,
    ):
        # One CONNECT at a time: the servers take turns on their CPU, the client has the other.
        print(f"# {pin(list(running.values()))}\n", flush=True)
        for series in all_series:  # warm up each path
            for n in range(20):
                await sample(series, http, running[series.variant].url, -1 - n)
            series.latencies.clear()
        started = time.perf_counter()
        for i in range(args.samples):
            # Rotate who goes first, so no series always follows the same one.
            shift = i % len(all_series)
            for series in itertools.islice(itertools.cycle(all_series), shift, shift + 3):
                await sample(series, http, running[series.variant].url, i)
                # Let the server finish what the CONNECT left it to do, so the
                # next CONNECT (often to the other server) does not share a core with it.
                await asyncio.sleep(args.gap)
        elapsed = time.perf_counter() - started
        for series in all_series:
            if series.client is not None:
                await series.client.close()
        retirement = None
        if args.json:  # let the last namespaces retire, then read the delays
            retirement = await retirement_delays(http, running["wrapped"].url)
    base = all_series[0].latencies
    rows = []
    for series in all_series:
        values = series.latencies
        rows.append(
            [
                series.name,
                len(values),
                f"{median(values) * 1e6:.0f}",
                f"{percentile(values, 99) * 1e6:.0f}",
                f"{median(values) / median(base):.2f}",
                f"{percentile(values, 99) / percentile(base, 99):.2f}",
            ]
        )
    print(table(["series", "CONNECTs", "median µs", "p99 µs", "median ratio", "p99 ratio"], rows))
    dynamic = all_series[1].latencies
    ratio = median(dynamic) / median(base)
    quarter = len(dynamic) // 4
    if args.json:
        with open(args.json, "w") as file:
            json.dump(
                {
                    "machine": machine(),
                    "samples": args.samples,
                    "gap_s": args.gap,
                    "series": [
                        {
                            "name": series.name,
                            "median_us": median(series.latencies) * 1e6,
                            "p99_us": percentile(series.latencies, 99) * 1e6,
                        }
                        for series in all_series
                    ],
                    "static_median_us": median(base) * 1e6,
                    "dynamic_median_us": median(dynamic) * 1e6,
                    "median_ratio": ratio,
                    "p99_ratio": percentile(dynamic, 99) / percentile(base, 99),
                    "retirement": retirement,
                },
                file,
                indent=2,
            )
    print(
        f"\ndynamic/static median ratio {ratio:.2f} (goal <= {GOAL}:"
        f" {'met' if ratio <= GOAL else 'MISSED'}); ran {elapsed:.1f} s."
        f"\ndynamic median over the first quarter {median(dynamic[:quarter]) * 1e6:.0f} µs,"
        f" last quarter {median(dynamic[-quarter:]) * 1e6:.0f} µs"
        f" (about {len(dynamic)} namespaces created, those older than 10 s retired)."
    )


async def retirement_delays(http: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    """Once every namespace created has retired (30 s at most), how many retired
    within ``max(0.1 s, 10 %)`` of the 10 s retirement: the wrapped server's
    ``dynamicio_retirement_delay_seconds`` histogram (a delay measured from the
    first check that saw each namespace empty)."""
    bound = max(0.1, 0.1 * RETIREMENT)
    deadline = time.monotonic() + RETIREMENT + 30
    while True:
        async with http.get(url + "/socket.io/metrics") as response:
            text = await response.text()
        values: dict[str, float] = {}
        for line in text.splitlines():
            if line.startswith("dynamicio_"):
                key, _, value = line.rpartition(" ")
                values[key] = float(value)
        created = values["dynamicio_namespaces_created_total"]
        retired = values["dynamicio_namespaces_retired_total"]
        if retired >= created or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    return {
        "created": int(created),
        "retired": int(retired),
        "bound_s": bound,
        "within": int(values[f'dynamicio_retirement_delay_seconds_bucket{{le="{bound}"}}']),
        "histogram": {
            key.split('"')[1]: int(value)
            for key, value in values.items()
            if key.startswith("dynamicio_retirement_delay_seconds_bucket")
        },
    }


def configure(options: argparse.ArgumentParser) -> None:
    options.add_argument("--samples", type=int, default=10_000, help="CONNECTs per series")
    options.add_argument(
        "--gap", type=float, default=0.002, help="seconds of rest after each CONNECT"
    )
    options.add_argument(
        "--json",
        metavar="FILE",
        help="write the figures to FILE, with the retirement delays of the dynamic"
        " namespaces (waits for the last ones to retire)",
    )


if __name__ == "__main__":
    main(__doc__, make_app, bench, configure)
