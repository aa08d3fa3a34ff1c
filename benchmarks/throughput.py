"""Echo round trips per second: plain python-socketio against the same app behind DynamicIO.

Two uvicorn servers run in their own processes: ``baseline`` is a plain
``socketio.ASGIApp`` whose ``echo`` handler (returning its argument) is
registered on ``/chat``; ``wrapped`` is the same server inside ``DynamicIO``
with main host ``main.test``, where ``echo`` is also registered statically on
``//alpha.test/chat``. Raw Engine.IO clients (``_eio.py``) in this process
connect to ``/chat`` with ``Host: main.test`` (a main-host session) or
``Host: alpha.test`` (an other-host session, which the baseline serves from
its ``/chat``) and do ack'ed ``echo`` calls back to back: 1 caller, or 32
callers each on its own Engine.IO session, over websocket or long-polling.
Baseline and wrapped rounds alternate (same clients, same load; each goes
first in half the rounds) and are compared two ways: the ratio of the medians
over the rounds, and the median of the per-round ratios (each round's two runs
are adjacent in time, so a slow spell of a shared machine hits both). Two
server processes running the same code differ by 1-3% (memory layout, hash
seed, which started first), so the whole run is repeated with fresh processes
(``--repeat``, 5; the start order alternates) and the rounds are pooled. The
clients run on one CPU and the servers on another (``--no-pin`` leaves them to
the scheduler). The server's CPU time per round trip is read from ``/proc`` as
a second measure of the overhead.

``--metrics`` turns ``metrics=True`` on in the wrapped server; ``--cluster`` gives both
servers a ``socketio.AsyncRedisManager`` (a throw-away redis-server, or ``--redis-url``;
each server on a channel of its own), so the wrapped one publishes its cluster-status
summary every 2 s; the run checks that it does. Compare such a run with one without.

Run: ``.venv/bin/python benchmarks/throughput.py [--quick] [--repeat N] [--metrics] [--cluster]``
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import time
from dataclasses import dataclass, field

import socketio
from _common import (
    CLUSTER_ENV,
    ServerProcess,
    add_feature_options,
    cluster_summaries,
    feature_options,
    features,
    machine,
    main,
    median,
    pin,
    servers,
    table,
)
from _eio import Client, http_session, open_client

from dynamic_io_asgi import DynamicIO

VARIANTS = ("baseline", "wrapped")
HOSTS = {"main": "main.test", "other": "alpha.test"}
NAMESPACE = "/chat"
GOALS = {"websocket": 0.97, "polling": 0.95}


def make_app(variant: str) -> object:
    """The server of ``variant``, with the features its environment asks for
    (``--metrics``, ``--cluster``: see ``_common.features``)."""
    server_options, middleware_options = feature_options(variant)
    sio = socketio.AsyncServer(async_mode="asgi", **server_options)

    async def echo(sid: str, data: object) -> object:
        return data

    sio.on("echo", echo, namespace=NAMESPACE)
    if variant in ("baseline", "control"):  # control: a second plain server (--control)
        return socketio.ASGIApp(sio)
    sio.on("echo", echo, namespace="//alpha.test" + NAMESPACE)
    return DynamicIO(socketio.ASGIApp(sio), host="main.test", **middleware_options)


@dataclass
class Samples:
    rates: list[float] = field(default_factory=list)  # round trips per second
    cpu_us: list[float] = field(default_factory=list)  # server CPU µs per round trip
    busy: list[tuple[float, float]] = field(default_factory=list)  # server, client CPU share
    count: int = 0


async def one_round(
    clients: list[Client], server: ServerProcess, duration: float, payload: str
) -> tuple[float, float, int, tuple[float, float]]:
    """Every client calls ``echo`` back to back for ``duration`` seconds."""
    done = 0

    async def caller(client: Client) -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await client.call(NAMESPACE, "echo", payload)
            done += 1

    cpu = server.cpu_seconds()
    own = time.process_time()
    started = time.perf_counter()
    deadline = started + duration
    await asyncio.gather(*(caller(c) for c in clients))
    elapsed = time.perf_counter() - started
    cpu = server.cpu_seconds() - cpu
    own = time.process_time() - own
    return done / elapsed, cpu / max(done, 1) * 1e6, done, (cpu / elapsed, own / elapsed)


async def run_case(
    running: dict[str, ServerProcess],
    transport: str,
    callers: int,
    host: str,
    args: argparse.Namespace,
) -> dict[str, Samples]:
    payload = '{"text":"' + "x" * args.payload + '","n":1}'
    samples = {variant: Samples() for variant in VARIANTS}
    async with http_session() as http:
        clients: dict[str, list[Client]] = {}
        for variant in VARIANTS:
            url = running[variant].url
            clients[variant] = await asyncio.gather(
                *(open_client(http, url, host, transport) for _ in range(callers))
            )
            await asyncio.gather(*(c.connect(NAMESPACE) for c in clients[variant]))
        try:
            for variant in VARIANTS:  # warm up both
                await one_round(clients[variant], running[variant], args.warmup, payload)
            for round_no in range(args.rounds):
                order = VARIANTS if round_no % 2 == 0 else VARIANTS[::-1]
                for variant in order:
                    rate, cpu_us, count, busy = await one_round(
                        clients[variant], running[variant], args.duration, payload
                    )
                    samples[variant].rates.append(rate)
                    samples[variant].cpu_us.append(cpu_us)
                    samples[variant].count += count
                    samples[variant].busy.append(busy)
        finally:
            for client in itertools.chain(*clients.values()):
                await client.close()
    return samples


async def bench(args: argparse.Namespace) -> None:
    if args.quick:
        args.rounds, args.duration, args.warmup, args.repeat = 2, 0.4, 0.2, 1
    with features(args) as said:
        print(f"# throughput: {machine()}")
        print(f"# {said}")
        await _bench(args)
        print(f"\n# throughput: load average at the end {os.getloadavg()[0]:.2f}")


async def published(running: dict[str, ServerProcess]) -> str:
    """With ``--cluster``: wait until the wrapped server's summary is in Redis (and no
    other's is); say how old it is. Fails after 10 s."""
    wrapped_pid = running["wrapped"].process.pid
    async with asyncio.timeout(10):
        while True:
            summaries = await cluster_summaries(os.environ[CLUSTER_ENV])
            pids = [summary["pid"] for summary in summaries]
            assert set(pids) <= {wrapped_pid}, summaries
            if pids:
                (summary,) = summaries
                return (
                    f"cluster status: the wrapped server's summary, {summary['uptime']:.1f} s"
                    f" after its start, is {time.time() - summary['last_seen']:.1f} s old"
                )
            await asyncio.sleep(0.1)


async def _bench(args: argparse.Namespace) -> None:
    script = os.path.abspath(__file__)
    print(
        f"# {args.repeat} runs with fresh server processes, each {args.rounds} interleaved"
        f" rounds of {args.duration}s per variant and case, payload {args.payload} chars,"
        " raw Engine.IO clients (aiohttp)\n",
        flush=True,
    )
    if args.control:
        print("# CONTROL RUN: 'wrapped' is a second plain python-socketio server\n", flush=True)
    cases = list(itertools.product(args.transports, args.callers, HOSTS))
    pooled = {case: {variant: Samples() for variant in VARIANTS} for case in cases}
    per_run: dict[tuple[str, int, str], list[float]] = {case: [] for case in cases}
    for run_no in range(args.repeat):
        profile = args.profile_server if run_no == 0 else None  # the first run's servers
        second = "control" if args.control else "wrapped"
        # The server started second ran 1 % faster in an A/A run: the order
        # alternates from run to run.
        order = ("baseline", second) if run_no % 2 == 0 else (second, "baseline")
        async with servers(script, order, profile=profile) as started:
            running = {"baseline": started["baseline"], "wrapped": started[second]}
            if not args.no_pin:
                pinned = pin(list(running.values()))
                if run_no == 0:
                    print(f"# {pinned}\n", flush=True)
            if args.cluster and not args.control:
                print(f"# run {run_no + 1} starts; {await published(running)}", flush=True)
            for case in cases:
                transport, callers, host_kind = case
                result = await run_case(running, transport, callers, HOSTS[host_kind], args)
                base, wrapped = result["baseline"], result["wrapped"]
                paired = _paired(base, wrapped)
                per_run[case].append(paired)
                for variant in VARIANTS:
                    _extend(pooled[case][variant], result[variant])
                print(
                    f"run {run_no + 1} {transport:9} {callers:2} callers {host_kind:5}:"
                    f" paired ratio {paired:.3f}"
                    f"  rounds baseline {[round(r) for r in base.rates]}"
                    f" wrapped {[round(r) for r in wrapped.rates]}"
                    f"  CPU share server/client {_busy(base)} and {_busy(wrapped)}",
                    flush=True,
                )
            if args.cluster and not args.control:
                print(f"# run {run_no + 1} ends; {await published(running)}", flush=True)
    rows = []
    for case in cases:
        transport, callers, host_kind = case
        base, wrapped = pooled[case]["baseline"], pooled[case]["wrapped"]
        # Each round's wrapped and baseline runs are adjacent in time, so a slow
        # spell of the machine hits both: the median of the per-round ratios,
        # pooled over the runs, is the steadier figure and the one held to the goal.
        paired = _paired(base, wrapped)
        goal = GOALS[transport]
        rows.append(
            [
                transport,
                callers,
                host_kind,
                f"{median(base.rates):,.0f}",
                f"{median(wrapped.rates):,.0f}",
                f"{median(wrapped.rates) / median(base.rates):.3f}",
                f"{paired:.3f}" + ("" if paired >= goal else " (< goal)"),
                " ".join(f"{r:.3f}" for r in per_run[case]),
                f"{median(base.cpu_us):.0f}",
                f"{median(wrapped.cpu_us):.0f}",
                f"{median(wrapped.cpu_us) - median(base.cpu_us):+.0f}",
            ]
        )
    print()
    print(
        table(
            [
                "transport",
                "callers",
                "session",
                "baseline rt/s",
                "wrapped rt/s",
                "ratio of medians",
                "paired ratio",
                "paired, per run",
                "baseline CPU µs/rt",
                "wrapped CPU µs/rt",
                "overhead µs/rt",
            ],
            rows,
        )
    )
    print(
        "\nratio of medians = median wrapped / median baseline round trips per second;"
        "\npaired ratio = median of wrapped / baseline over the rounds (a round's two runs"
        " are adjacent), pooled over the runs; goal >= 0.97 (websocket), >= 0.95 (polling)."
        "\nCPU µs/rt = server process CPU time (/proc, 10 ms ticks) per round trip."
    )


def _paired(base: Samples, wrapped: Samples) -> float:
    return median([w / b for w, b in zip(wrapped.rates, base.rates, strict=True)])


def _extend(into: Samples, samples: Samples) -> None:
    into.rates += samples.rates
    into.cpu_us += samples.cpu_us
    into.busy += samples.busy
    into.count += samples.count


def _busy(samples: Samples) -> str:
    server = median([b[0] for b in samples.busy])
    client = median([b[1] for b in samples.busy])
    return f"{server:.0%}/{client:.0%}"


def configure(options: argparse.ArgumentParser) -> None:
    options.add_argument(
        "--rounds",
        type=int,
        default=6,
        help="interleaved rounds per variant (an even number: each goes first as often)",
    )
    options.add_argument(
        "--control",
        action="store_true",
        help="an A/A run: the 'wrapped' server is a second plain one (the noise floor)",
    )
    options.add_argument(
        "--repeat",
        type=int,
        default=5,
        help="runs, each with fresh server processes (ratios move by 1-3%% between processes)",
    )
    options.add_argument(
        "--no-pin",
        action="store_true",
        help="leave client and servers to the scheduler (by default they get a CPU each)",
    )
    options.add_argument("--duration", type=float, default=1.0, help="seconds per round")
    options.add_argument("--warmup", type=float, default=0.5, help="warm-up seconds per case")
    options.add_argument("--payload", type=int, default=64, help="characters of echoed text")
    options.add_argument(
        "--transports",
        nargs="+",
        default=["websocket", "polling"],
        choices=["websocket", "polling"],
    )
    options.add_argument("--callers", nargs="+", type=int, default=[1, 32])
    add_feature_options(options)


if __name__ == "__main__":
    main(__doc__, make_app, bench, configure)
