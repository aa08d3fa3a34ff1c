"""Scale (issue 17): many namespaces over many hosts, DynamicIO beside plain python-socketio.

Every figure comes from real uvicorn servers in their own processes (this script
with ``--serve``) driven by real clients (the raw Engine.IO websocket client of
``_eio.py``) over loopback, in one run. The two servers:

- ``plain``: ``socketio.AsyncServer(namespaces="*")`` with three catch-all handlers
  (``connect``, ``disconnect``, and ``message``, which returns its data: the ack);
- ``dynamic``: ``DynamicIO`` (main host ``main.test``) around a plain
  ``socketio.AsyncServer`` with ``setup_namespace("*")`` registering the same three
  handlers, new closures for every namespace, on every namespace a client asks for.

Both serve ``/bench/...`` (their ``other_asgi_app``): RSS after ``gc.collect()``,
counters, and, in the dynamic server, a record of every retirement made by an
``app.on_retire`` hook: the time each namespace became empty is taken in its own
disconnect handler, the time it was gone in the hook, so "late" is
``gone - (empty + retirement)`` against the documented bound
``max(0.1 s, 10 % of retirement)``, measured from outside the retirement code.

Sections (``--only idle,retire,memory,rate,latency,status``):

1. ``idle``: the CPU (``/proc/<pid>/stat``) of both idle servers, measured over the
   same windows, after clients created 10,000, 50,000 and 100,000 namespaces over
   1,000 hosts (CONNECT + DISCONNECT, sessions closed: the dynamic server holds
   them as live idle namespaces, retirement 1 h; the plain one holds nothing of
   them). Goal: at most 1 % of a core at 100,000, flat in the count. None
   retires here (checked). ``--drain``: at the end every namespace is made due at
   one instant (``nsp.retirement`` set so that ``empty + retirement`` is 10 s
   from now) and the drain is timed, for information (a shortened retirement
   meets an idle clock that may have started up to 5 s late).
2. ``retire``: 20,000 namespaces (20 on each of 1,000 hosts) retire at once with
   2,000 other Engine.IO sessions open (``loaded``) or none (``quiet``), rounds
   alternating. The creating sessions hold one socket per namespace; then each
   namespace's disconnect handler sets its retirement so that all are due at one
   instant T (10 s after the DISCONNECTs start). A probe session on another host
   sends an ack'ed event every ~10 ms throughout. Goals: the probe's worst round
   trip during the retirement (T to the last namespace gone) under 50 ms; the
   retirement (T to the last gone) with the other sessions within 2x the quiet one.
3. ``memory``: server RSS growth per namespace a client connected to (one socket
   each, sessions of at most 100 namespaces over 100 hosts; the session cost is
   taken before the CONNECTs), names of 16 and of 10,000 characters; fresh servers
   per round. Goal: dynamic at most 1.25x plain.
4. ``rate``: CONNECTs to new names pipelined on one websocket, CONNECT answers
   counted: namespaces created per second (dynamic) against CONNECTs per second to
   ``namespaces="*"`` (plain), interleaved rounds. Goal: at least 0.8x. The session
   then closes and its namespaces retire before the next round (checked).
5. ``latency``: runs ``connect_latency.py --json``. Goal: dynamic/static median at
   most 1.10x (stricter than that script's own 1.2x).
6. ``status``: the main host's default status view (``/socket.io/status`` and
   ``status.json``) at each ``idle`` size (or at 100,000 alone). Goal: under 50 ms
   and under 256 kB at 100,000 namespaces over 1,000 hosts.

Sizes scale with ``--scale`` (``--quick``: 0.05, short windows, one round). The
machine's load (``/proc/loadavg``, and the CPU that was not this run's, from
``/proc/stat``) is printed beside every section.

Run: ``.venv/bin/python benchmarks/scale.py [--quick] [--only idle,status] [--json FILE]``
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import os
import re
import resource
import signal
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import aiohttp
import socketio
from _common import SCRIPT_DIR, ServerProcess, machine, main, median, percentile, table
from _eio import WebSocketClient, http_session

from dynamic_io_asgi import DynamicIO

SECTIONS = ("idle", "retire", "memory", "rate", "latency", "status")
MAIN_HOST = "main.test"
_PAGE = os.sysconf("SC_PAGE_SIZE")
_TICKS = os.sysconf("SC_CLK_TCK")

# Goals (issue 17).
GOAL_IDLE_SHARE = 0.01  # of a core, at 100,000 namespaces
GOAL_IDLE_FLAT = 0.002  # 100,000 minus 10,000: 0.2 % of a core at most ("flat")
GOAL_PROBE = 0.050  # seconds, worst round trip during the retirement
GOAL_RETIRE_RATIO = 2.0
GOAL_MEMORY_RATIO = 1.25
GOAL_RATE_RATIO = 0.8
GOAL_LATENCY_RATIO = 1.10
GOAL_STATUS_SECONDS = 0.050
GOAL_STATUS_BYTES = 256 * 1024


def window(retirement: float) -> float:
    """How late a namespace may retire (docs/concepts/retirement.md)."""
    return max(0.1, 0.1 * retirement)


def rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * _PAGE


# -- the servers (this script with --serve "plain {...}" / "dynamic {...}") ---------


class Recorder:
    """In the dynamic server: when each namespace became empty, and when it was gone."""

    def __init__(self) -> None:
        #: A monotonic instant: each namespace emptied from now on gets the retirement
        #: that makes it due then (``None``: its own retirement stays).
        self.retire_at: float | None = None
        self.reset()

    def reset(self) -> None:
        self.empty: dict[str, float] = {}  # full name -> when its last socket left
        self.count = 0
        self.unknown = 0  # retired with no empty time recorded
        self.late_min = math.inf
        self.late_max = -math.inf
        self.over = 0  # later than the documented bound
        self.worst = 0.0  # the largest late / bound
        self.first_deadline = math.inf
        self.last_deadline = -math.inf
        self.first_gone = math.inf
        self.last_gone = -math.inf

    def left(self, nsp: Any) -> None:
        """A socket left ``nsp`` (one socket per namespace here: it is empty now)."""
        now = time.monotonic()
        if nsp.retirement == math.inf:
            return  # one that never retires (the probe's, the other sessions')
        if self.retire_at is not None:
            nsp.retirement = max(0.0, self.retire_at - now)
        self.empty[nsp.fullname] = now

    def gone(self, nsp: Any) -> None:
        now = time.monotonic()
        empty = self.empty.pop(nsp.fullname, None)
        if empty is None:
            self.unknown += 1
            return
        retirement = nsp.retirement
        deadline = empty + retirement
        late = now - deadline
        self.count += 1
        self.late_min = min(self.late_min, late)
        self.late_max = max(self.late_max, late)
        if late > window(retirement):
            self.over += 1
        self.worst = max(self.worst, late / window(retirement))
        self.first_deadline = min(self.first_deadline, deadline)
        self.last_deadline = max(self.last_deadline, deadline)
        self.first_gone = min(self.first_gone, now)
        self.last_gone = max(self.last_gone, now)

    def summary(self) -> dict[str, Any]:
        def finite(value: float) -> float | None:
            return value if math.isfinite(value) else None

        return {
            "waiting": len(self.empty),
            "count": self.count,
            "unknown": self.unknown,
            "late_min": finite(self.late_min),
            "late_max": finite(self.late_max),
            "over": self.over,
            "worst": self.worst,
            "first_deadline": finite(self.first_deadline),
            "last_deadline": finite(self.last_deadline),
            "first_gone": finite(self.first_gone),
            "last_gone": finite(self.last_gone),
        }


class LagMonitor:
    """In a server: how late its event loop wakes a task that sleeps ``every`` seconds
    (how long the loop was busy with something else)."""

    def __init__(self, every: float = 0.005) -> None:
        self.every = every
        self.late: list[tuple[float, float]] = []  # (the sleep began, how late it ended)

    async def run(self) -> None:
        while True:
            began = time.monotonic()
            await asyncio.sleep(self.every)
            late = time.monotonic() - began - self.every
            if late > 0.002:
                self.late.append((began, late))
                if len(self.late) > 100_000:
                    del self.late[:50_000]

    def between(self, start: float, end: float) -> dict[str, Any]:
        """The longest wait that overlapped ``[start, end]``, and how many over 20 ms."""
        during = [
            late for began, late in self.late if began <= end and began + self.every + late >= start
        ]
        return {
            "max_s": max(during, default=0.0),
            "over_20ms": sum(late > 0.020 for late in during),
            # When the last stall over 20 ms that was over by ``end`` ended.
            "last_over_20ms": max(
                (
                    b + self.every + late
                    for b, late in self.late
                    if late > 0.020 and b + self.every + late <= end
                ),
                default=None,
            ),
        }


class BenchEndpoint:
    """``/bench/<what>``: what the benchmark asks a server (its ``other_asgi_app``)."""

    def __init__(self) -> None:
        self.sio: Any = None
        self.app: DynamicIO | None = None
        self.recorder: Recorder | None = None
        self.traced: tracemalloc.Snapshot | None = None
        self.lag: LagMonitor | None = None
        self._lag_task: asyncio.Task[None] | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":  # python-engineio hands lifespan on to us
            while (await receive())["type"] != "lifespan.shutdown":
                if self.lag is not None and self._lag_task is None:
                    self._lag_task = asyncio.create_task(self.lag.run())
                await send({"type": "lifespan.startup.complete"})
            if self._lag_task is not None:
                self._lag_task.cancel()
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        query = {k: v[-1] for k, v in parse_qs(scope["query_string"].decode()).items()}
        body = json.dumps(self.answer(scope["path"].rsplit("/", 1)[-1], query)).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def answer(self, what: str, query: dict[str, str]) -> dict[str, Any]:
        app, recorder = self.app, self.recorder
        if what == "gc":
            gc.collect()
            gc.collect()
            return {"rss": rss()}
        if what == "trace":  # where the memory goes: tracemalloc, between start and diff
            gc.collect()
            if query.get("do") == "start":
                tracemalloc.start(int(query.get("frames", "1")))
                self.traced = tracemalloc.take_snapshot()
                return {}
            assert self.traced is not None
            snapshot = tracemalloc.take_snapshot()
            tracemalloc.stop()
            frames = int(query.get("frames", "1"))
            diff = snapshot.compare_to(self.traced, "lineno" if frames == 1 else "traceback")
            self.traced = None
            return {
                "total": sum(stat.size_diff for stat in diff),
                "sites": [
                    [
                        " <- ".join(str(frame) for frame in list(stat.traceback)[::-1]),
                        stat.size_diff,
                        stat.count_diff,
                    ]
                    for stat in diff[: int(query.get("top", "15"))]
                ],
            }
        if what == "lag" and self.lag is not None:
            return self.lag.between(float(query["start"]), float(query["end"]))
        if what == "reset" and recorder is not None:
            recorder.reset()
        elif what == "retire_at" and recorder is not None:
            value = query.get("t", "none")
            recorder.retire_at = None if value == "none" else float(value)
        elif what == "drain" and app is not None and recorder is not None:
            # Every empty namespace due at one instant: empty + retirement = due.
            due = time.monotonic() + float(query.get("lead", "10"))
            count = 0
            for nsp in app.namespaces.values():
                empty = recorder.empty.get(nsp.fullname)
                if empty is not None and nsp.retirement != math.inf:
                    nsp.retirement = max(0.0, due - empty)
                    count += 1
            return {"due": due, "count": count}
        result: dict[str, Any] = {
            "rss": rss(),
            "sockets": len(self.sio.eio.sockets),
            "rooms": len(self.sio.manager.rooms),
        }
        if app is not None:
            result.update(created=app.created, retired=app.retired)
            result["histogram"] = list(app.registry.retirement_delay.counts)
            if query.get("full"):
                result["namespaces"] = len(app.namespaces)
        if recorder is not None:
            result["record"] = recorder.summary()
        return result


def plain_handlers(sio: socketio.AsyncServer) -> None:
    """The three handlers, for every namespace of a ``namespaces="*"`` server."""

    async def connect(namespace: str, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        return None

    async def disconnect(namespace: str, sid: str, reason: str = "") -> None:
        return None

    async def message(namespace: str, sid: str, data: Any) -> Any:
        return data

    sio.on("connect", connect, namespace="*")
    sio.on("disconnect", disconnect, namespace="*")
    sio.on("message", message, namespace="*")


async def dynamic_connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
    return None


async def dynamic_disconnect(sid: str, reason: str = "") -> None:
    return None


async def dynamic_message(sid: str, data: Any) -> Any:
    return data


def make_app(spec: str) -> object:
    """``plain`` or ``dynamic``, then a JSON object of options."""
    variant, _, raw = spec.partition(" ")
    config: dict[str, Any] = json.loads(raw) if raw else {}
    endpoint = BenchEndpoint()
    if variant == "plain":
        sio = socketio.AsyncServer(async_mode="asgi", namespaces="*")
        plain_handlers(sio)
        endpoint.sio = sio
        return socketio.ASGIApp(sio, other_asgi_app=endpoint)
    sio = socketio.AsyncServer(async_mode="asgi")
    app = DynamicIO(
        socketio.ASGIApp(sio, other_asgi_app=endpoint),
        host=MAIN_HOST,
        retirement=config.get("retirement", 10.0),
        public_status=bool(config.get("status", False)),
        max_name_length=config.get("max_name_length", 1024),
        max_namespaces_per_session=config.get("max_namespaces_per_session", 128),
        # Off: the sections pipeline thousands of CONNECTs per session to measure
        # the server's capacity, which the pacing would hold to 64 a second.
        max_connects_per_second=config.get("max_connects_per_second"),
    )
    recorder = Recorder() if config.get("record", False) else None
    forever = ("/probe", "/stay")

    async def setup(nsp: Any, match: Any) -> bool:
        # The same function objects on every namespace, as the plain server's
        # catch-all ones: what differs per namespace is the middleware's own.
        nsp.on("connect", dynamic_connect)
        nsp.on("message", dynamic_message)
        if recorder is None:
            nsp.on("disconnect", dynamic_disconnect)
        else:  # the one closure: it must know its namespace

            async def disconnect(sid: str, reason: str = "") -> None:
                recorder.left(nsp)

            nsp.on("disconnect", disconnect)
        if nsp.name.startswith(forever):
            nsp.retirement = None
        return True

    app.setup_namespace("*", setup)
    if recorder is not None:
        app.on_retire(recorder.gone)
    endpoint.sio, endpoint.app, endpoint.recorder = sio, app, recorder
    if config.get("lag", False):
        endpoint.lag = LagMonitor()
    return app


# -- the client side -------------------------------------------------------------------


#: ``--profile-server PREFIX``: every server runs under cProfile, its stats in
#: ``PREFIX.<section>.<variant>.<n>.prof`` (``benchmarks/profile_diff.py`` reads them).
PROFILE: str | None = None
#: ``--py-spy DIR``: every server is sampled by py-spy (``$PY_SPY`` or ``py-spy`` on
#: the PATH), its collapsed stacks in ``DIR/<section>.<variant>.<n>.txt``.
PY_SPY: str | None = None


class Fleet:
    """The servers of a section: started here, stopped (and their CPU kept) at the end."""

    started = 0

    def __init__(self, section: str) -> None:
        self.section = section
        self.running: list[ServerProcess] = []
        self.spies: dict[int, asyncio.subprocess.Process] = {}

    async def start(self, variant: str, **config: Any) -> ServerProcess:
        spec = variant + " " + json.dumps(config)
        extra = []
        if PROFILE is not None:
            Fleet.started += 1
            path = f"{PROFILE}.{self.section}.{variant}.{Fleet.started}.prof"
            extra = ["--profile-server", path]
        server = await ServerProcess.start(os.path.abspath(__file__), spec, *extra)
        server.variant = variant
        if PY_SPY is not None:
            Fleet.started += 1
            out = os.path.join(PY_SPY, f"{self.section}.{variant}.{Fleet.started}.txt")
            self.spies[server.process.pid] = await asyncio.create_subprocess_exec(
                os.environ.get("PY_SPY", "py-spy"),
                "record",
                "--pid",
                str(server.process.pid),
                "--rate",
                "200",
                "--format",
                "raw",
                "--output",
                out,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
        self.running.append(server)
        return server

    async def stop(self, server: ServerProcess) -> None:
        spy = self.spies.pop(server.process.pid, None)
        if spy is not None:  # SIGINT: py-spy writes what it sampled
            spy.send_signal(signal.SIGINT)
            await spy.wait()
        await server.stop()
        self.running.remove(server)

    async def stop_all(self) -> None:
        for server in list(self.running):
            await self.stop(server)


def machine_cpu() -> tuple[float, float]:
    """Busy and total CPU seconds of the whole machine so far (``/proc/stat``)."""
    with open("/proc/stat") as stat:
        fields = [int(value) for value in stat.readline().split()[1:9]]
    idle = fields[3] + fields[4]
    return (sum(fields) - idle) / _TICKS, sum(fields) / _TICKS


def own_cpu() -> float:
    """This process's CPU and that of its children that ended (servers, subprocesses)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class Load:
    """How busy the machine was during a section, and how much of that was not ours."""

    def __init__(self) -> None:
        self.loadavg_start = os.getloadavg()
        self.machine_start = machine_cpu()
        self.ours_start = own_cpu()
        self.wall_start = time.monotonic()

    def report(self) -> dict[str, Any]:
        """Call once the section's servers have stopped (their CPU is then ours)."""
        busy, total = (e - s for e, s in zip(machine_cpu(), self.machine_start, strict=True))
        seconds = total / (os.cpu_count() or 1)
        ours = own_cpu() - self.ours_start
        return {
            "seconds": round(time.monotonic() - self.wall_start, 1),
            "loadavg_start": [round(x, 2) for x in self.loadavg_start],
            "loadavg_end": [round(x, 2) for x in os.getloadavg()],
            "busy_cores": round(busy / max(seconds, 1e-9), 2),
            "ours_cores": round(ours / max(seconds, 1e-9), 2),
            "other_work_cores": round(max(0.0, busy - ours) / max(seconds, 1e-9), 2),
        }


def load_line(load: dict[str, Any]) -> str:
    return (
        f"load: {load['seconds']:.0f} s; loadavg {load['loadavg_start'][0]:.2f} ->"
        f" {load['loadavg_end'][0]:.2f}; machine busy {load['busy_cores']:.2f} cores, this run"
        f" {load['ours_cores']:.2f}, other work {load['other_work_cores']:.2f}"
    )


async def ask(http: aiohttp.ClientSession, server: ServerProcess, what: str, **query: Any) -> Any:
    async with http.get(f"{server.url}/bench/{what}", params=query) as response:
        return await response.json()


async def wait_for(
    http: aiohttp.ClientSession,
    server: ServerProcess,
    done: Callable[[dict[str, Any]], bool],
    timeout: float,
    every: float = 0.25,
    **query: Any,
) -> dict[str, Any]:
    """``/bench/stats`` once ``done(stats)`` holds (``TimeoutError`` after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        stats: dict[str, Any] = await ask(http, server, "stats", **query)
        if done(stats):
            return stats
        if time.monotonic() > deadline:
            raise TimeoutError(f"{server.variant}: still {stats} after {timeout:g} s")
        await asyncio.sleep(every)


async def in_parallel(
    items: Iterable[Any], workers: int, job: Callable[[Any], Awaitable[Any]]
) -> list[Any]:
    """``job(item)`` for every item, ``workers`` at a time; the results in order."""
    indexed = list(enumerate(items))
    results: list[Any] = [None] * len(indexed)
    queue = iter(indexed)

    async def worker() -> None:
        for index, item in queue:
            results[index] = await job(item)

    await asyncio.gather(*(worker() for _ in range(max(1, min(workers, len(indexed))))))
    return results


async def connect_all(client: WebSocketClient, names: Sequence[str]) -> None:
    """CONNECT to every name, pipelined; wait for every answer (a refusal raises)."""
    for name in names:
        await client.send(f"40{name},")
    await expect_connects(client, len(names))


async def expect_connects(client: WebSocketClient, count: int) -> None:
    while count:
        packet = await client.receive()
        if packet.startswith("40"):
            count -= 1
        elif packet.startswith("44"):
            raise ConnectionError(f"CONNECT refused: {packet[:160]}")


async def disconnect_all(client: WebSocketClient, names: Sequence[str]) -> None:
    for name in names:
        await client.send(f"41{name},")


class Held:
    """An open session whose incoming packets (pings) are read and answered."""

    def __init__(self, client: WebSocketClient) -> None:
        self.client = client
        self.task = asyncio.create_task(self._drain())

    async def pause(self) -> None:
        """Stop reading (the caller reads the session's packets until :meth:`resume`)."""
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)

    def resume(self) -> None:
        self.task = asyncio.create_task(self._drain())

    async def _drain(self) -> None:
        try:
            while True:
                await self.client.receive()
        except (ConnectionError, aiohttp.ClientError, RuntimeError):
            pass

    async def close(self) -> None:
        await self.pause()
        try:
            await self.client.close()
        except (ConnectionError, aiohttp.ClientError, RuntimeError):
            pass


def names(count: int, first: int = 0, prefix: str = "/room") -> list[str]:
    return [f"{prefix}{i}" for i in range(first, first + count)]


def hosts(count: int) -> list[str]:
    return [f"h{i}.test" for i in range(count)]


async def create_empty(
    http: aiohttp.ClientSession,
    server: ServerProcess,
    plan: Sequence[tuple[str, Sequence[str]]],
    workers: int,
) -> float:
    """For each ``(host, names)``: a session that CONNECTs to them all (pipelined),
    then DISCONNECTs and closes. Returns the seconds it took."""

    async def job(item: tuple[str, Sequence[str]]) -> None:
        host, wanted = item
        client = await WebSocketClient.open(http, server.url, host)
        try:
            await connect_all(client, wanted)
            await disconnect_all(client, wanted)
        finally:
            await client.close()

    started = time.perf_counter()
    await in_parallel(plan, workers, job)
    return time.perf_counter() - started


async def open_held(
    http: aiohttp.ClientSession,
    server: ServerProcess,
    plan: Sequence[tuple[str, Sequence[str]]],
    workers: int,
) -> list[Held]:
    """For each ``(host, names)``: a session that CONNECTs to them all and stays."""

    async def job(item: tuple[str, Sequence[str]]) -> Held:
        host, wanted = item
        client = await WebSocketClient.open(http, server.url, host)
        await connect_all(client, wanted)
        return Held(client)

    result: list[Held] = await in_parallel(plan, workers, job)
    return result


async def close_held(held: Sequence[Held]) -> None:
    await asyncio.gather(*(session.close() for session in held))


#: The bounds of the package's retirement delay histogram (dynamic_io_asgi._metrics).
BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def histogram_delta(after: dict[str, Any], before: dict[str, Any]) -> list[int]:
    """The package's retirement delays observed between two ``/bench/stats``."""
    return [a - b for a, b in zip(after["histogram"], before["histogram"], strict=True)]


def histogram_text(counts: Sequence[int]) -> str:
    """``all N <= bound`` for the smallest bound that holds them all."""
    total = sum(counts)
    if not total:
        return "none"
    running = 0
    for bound, count in zip((*BUCKETS, math.inf), counts, strict=True):
        running += count
        if running == total:
            return f"all {total:,} <= {bound:g} s" if bound != math.inf else f"{total:,} > 10 s"
    return ""


def retirement_check(record: dict[str, Any], expected: int | None = None) -> dict[str, Any]:
    """The recorder's summary, read against the documented bound."""
    ok = record["count"] > 0 and record["over"] == 0 and record["unknown"] == 0
    if expected is not None:
        ok = ok and record["count"] == expected
    ok = ok and (record["late_min"] is None or record["late_min"] >= -0.001)
    return {**record, "expected": expected, "ok": ok}


def retirement_text(check: dict[str, Any]) -> str:
    if not check["count"]:
        return "none retired"
    return (
        f"{check['count']:,} retired (expected {check['expected']:,}),"
        f" late {1e3 * check['late_min']:.0f} to {1e3 * check['late_max']:.0f} ms,"
        f" {check['over']:,} over the bound (worst {check['worst']:.2f}x the bound),"
        f" {check['unknown']} unaccounted"
        if check["expected"] is not None
        else f"{check['count']:,} retired"
    )


# -- results ---------------------------------------------------------------------------


@dataclass
class Figure:
    section: str
    name: str
    value: str
    goal: str
    passed: bool | None  # None: no goal (shown for information)
    note: str = ""


@dataclass
class Results:
    args: dict[str, Any]
    figures: list[Figure] = field(default_factory=list)
    sections: dict[str, Any] = field(default_factory=dict)

    def add(self, figure: Figure) -> None:
        self.figures.append(figure)
        mark = "" if figure.passed is None else ("PASS" if figure.passed else "MISS")
        print(f"  {figure.name}: {figure.value}   goal {figure.goal}   {mark} {figure.note}")

    def to_json(self) -> dict[str, Any]:
        return {
            "machine": machine(),
            "args": self.args,
            "figures": [figure.__dict__ for figure in self.figures],
            "sections": self.sections,
        }


def verdict(passed: bool | None) -> str:
    return "" if passed is None else ("PASS" if passed else "MISS")


# -- 1 and 6: idle CPU and the status page -----------------------------------------------


async def status_requests(
    http: aiohttp.ClientSession, server: ServerProcess, repeat: int, host: str = MAIN_HOST
) -> dict[str, Any]:
    """The default view, HTML and JSON, ``repeat`` times each (interleaved)."""
    result: dict[str, Any] = {}
    times: dict[str, list[float]] = {"html": [], "json": []}
    sizes: dict[str, int] = {}
    cpu: dict[str, float] = {"html": 0.0, "json": 0.0}
    paths = {"html": "/socket.io/status", "json": "/socket.io/status.json"}
    for _ in range(repeat):
        for kind, path in paths.items():
            before = server.cpu_seconds()
            started = time.perf_counter()
            async with http.get(server.url + path, headers={"Host": host}) as response:
                body = await response.read()
            times[kind].append(time.perf_counter() - started)
            cpu[kind] += server.cpu_seconds() - before
            if response.status != 200:
                raise RuntimeError(f"{path}: {response.status} {body[:200]!r}")
            sizes[kind] = len(body)
    for kind in paths:
        result[kind] = {
            "median_s": median(times[kind]),
            "max_s": max(times[kind]),
            "bytes": sizes[kind],
            "server_cpu_s": cpu[kind] / repeat,
        }
    return result


async def idle_windows(
    servers: Sequence[ServerProcess], seconds: float, count: int
) -> dict[str, dict[str, Any]]:
    """Both servers' CPU over the same ``count`` windows of ``seconds``."""
    used: dict[str, list[float]] = {s.variant: [] for s in servers}
    spans: list[float] = []
    for _ in range(count):
        before = {s.variant: s.cpu_seconds() for s in servers}
        started = time.monotonic()
        await asyncio.sleep(seconds)
        span = time.monotonic() - started
        spans.append(span)
        for s in servers:
            used[s.variant].append(s.cpu_seconds() - before[s.variant])
    return {
        variant: {
            "share": sum(cpu) / sum(spans),
            "max_window_share": max(c / t for c, t in zip(cpu, spans, strict=True)),
            "cpu_s": sum(cpu),
            "seconds": sum(spans),
        }
        for variant, cpu in used.items()
    }


async def section_idle(
    args: argparse.Namespace, results: Results, idle: bool, status: bool
) -> None:
    sizes = (
        [scaled(args, n) for n in args.idle_sizes] if idle else [scaled(args, args.idle_sizes[-1])]
    )
    host_names = hosts(scaled(args, args.hosts))
    title = " + ".join(x for x, on in (("idle", idle), ("status", status)) if on)
    print(
        f"\n## {title}: {', '.join(f'{n:,}' for n in sizes)} namespaces over"
        f" {len(host_names):,} hosts; windows {args.windows} x {args.window:g} s",
        flush=True,
    )
    load = Load()
    fleet = Fleet("idle")
    section: dict[str, Any] = {"sizes": sizes, "hosts": len(host_names), "steps": []}
    try:
        dynamic = await fleet.start("dynamic", retirement=3600.0, record=True, status=True)
        plain = await fleet.start("plain") if idle else None
        servers = [s for s in (plain, dynamic) if s is not None]
        async with http_session() as http:
            made = 0
            for step, size in enumerate(sizes):
                per_host = size // len(host_names)
                first = made // len(host_names)
                plan = [(host, names(per_host - first, first)) for host in host_names]
                order = servers if step % 2 == 0 else servers[::-1]
                built: dict[str, float] = {}
                for server in order:
                    cpu = server.cpu_seconds()
                    seconds = await create_empty(http, server, plan, args.workers)
                    built[server.variant] = seconds
                    print(
                        f"  {server.variant}: {per_host * len(host_names) - made:,} namespaces"
                        f" created (CONNECT + DISCONNECT) in {seconds:.1f} s,"
                        f" server CPU {server.cpu_seconds() - cpu:.1f} s",
                        flush=True,
                    )
                made = per_host * len(host_names)

                def settled(stats: dict[str, Any], made: int = made) -> bool:
                    return bool(stats["sockets"] == 0 and stats["record"]["waiting"] >= made)

                stats = await wait_for(http, dynamic, settled, 60, full=1)
                assert stats["namespaces"] == made, stats
                entry: dict[str, Any] = {"namespaces": made, "build_s": built}
                # The retirement task looks at what just changed once more (at
                # most 5 s later), and at the namespaces of each closed session
                # 10 s after it closed (RetirementScheduler.recheck), then sleeps
                # until the first deadline.
                settle = await idle_windows(servers, args.settle, 1)
                entry["settle"] = settle
                if idle:
                    entry["idle"] = await idle_windows(servers, args.window, args.windows)
                    print(
                        f"  idle at {made:,}: "
                        + ", ".join(
                            f"{v}: {100 * r['share']:.3f} % of a core"
                            f" (max window {100 * r['max_window_share']:.3f} %)"
                            for v, r in entry["idle"].items()
                        )
                        + f"; the first {args.settle:g} s after the build: "
                        + ", ".join(f"{v}: {100 * r['share']:.2f} %" for v, r in settle.items()),
                        flush=True,
                    )
                if status:
                    entry["status"] = await status_requests(http, dynamic, args.status_repeat)
                    entry["status_host"] = await status_requests(
                        http, dynamic, max(3, args.status_repeat // 3), host=host_names[0]
                    )
                    for kind, r in entry["status"].items():
                        print(
                            f"  status {kind} at {made:,}: median {1e3 * r['median_s']:.1f} ms,"
                            f" max {1e3 * r['max_s']:.1f} ms, {r['bytes'] / 1024:.1f} kB,"
                            f" server CPU {1e3 * r['server_cpu_s']:.1f} ms per request;"
                            f" one host's view"
                            f" {1e3 * entry['status_host'][kind]['median_s']:.1f} ms",
                            flush=True,
                        )
                section["steps"].append(entry)
            before = await ask(http, dynamic, "stats")
            section["retired_before_drain"] = before["retired"]
            if args.drain:
                lead = args.drain_lead
                drained = await ask(http, dynamic, "drain", lead=lead)
                print(
                    f"  drain: {drained['count']:,} namespaces made due at one instant,"
                    f" {lead:g} s from now",
                    flush=True,
                )
                stats = await wait_for(
                    http,
                    dynamic,
                    lambda s: s["record"]["count"] + s["record"]["unknown"] >= drained["count"],
                    lead + 300,
                    every=0.5,
                )
                check = retirement_check(stats["record"], drained["count"])
                check["duration_s"] = check["last_gone"] - drained["due"]
                check["package_histogram"] = histogram_delta(stats, before)
                section["drain"] = check
                print(
                    f"  drain: {retirement_text(check)}; the last gone"
                    f" {check['duration_s']:.2f} s after the instant; the package's own"
                    f" delays (from its idle clock): {histogram_text(check['package_histogram'])}",
                    flush=True,
                )
        await fleet.stop_all()
    finally:
        await fleet.stop_all()
    section["load"] = load.report()
    results.sections[title] = section
    print("  " + load_line(section["load"]))
    last = section["steps"][-1]
    at = f"{last['namespaces']:,}"
    if idle:
        first = section["steps"][0]
        share = last["idle"]["dynamic"]["share"]
        base = last["idle"]["plain"]["share"]
        results.add(
            Figure(
                "idle",
                f"idle CPU at {at} namespaces",
                f"{100 * share:.3f} % of a core (plain {100 * base:.3f} %)",
                f"<= {100 * GOAL_IDLE_SHARE:g} %",
                share <= GOAL_IDLE_SHARE,
            )
        )
        growth = share - first["idle"]["dynamic"]["share"]
        results.add(
            Figure(
                "idle",
                f"idle CPU, {at} minus {first['namespaces']:,}",
                f"{100 * growth:+.3f} % of a core (plain"
                f" {100 * (base - first['idle']['plain']['share']):+.3f} %)",
                f"<= {100 * GOAL_IDLE_FLAT:g} % (flat)",
                growth <= GOAL_IDLE_FLAT,
            )
        )
    if status:
        for kind in ("html", "json"):
            r = last["status"][kind]
            results.add(
                Figure(
                    "status",
                    f"status {kind}, default view, {at} namespaces",
                    f"{1e3 * r['median_s']:.1f} ms (max {1e3 * r['max_s']:.1f}),"
                    f" {r['bytes'] / 1024:.1f} kB",
                    f"< {1e3 * GOAL_STATUS_SECONDS:g} ms, < {GOAL_STATUS_BYTES // 1024} kB",
                    r["median_s"] < GOAL_STATUS_SECONDS and r["bytes"] < GOAL_STATUS_BYTES,
                )
            )
    results.add(
        Figure(
            "idle",
            "retirement during the idle run (retirement 1 h: none due)",
            f"{section['retired_before_drain']:,} retired",
            "none retired early",
            section["retired_before_drain"] == 0,
        )
    )
    if "drain" in section:
        check = section["drain"]
        results.add(
            Figure(
                "idle",
                f"drain: {check['expected']:,} made due at once (information)",
                retirement_text(check)
                + f"; package's own delays {histogram_text(check['package_histogram'])}",
                "",
                None,
            )
        )


# -- 2: retiring at once -------------------------------------------------------------------


async def run_probe(url: str, host: str, namespace: str, interval: float) -> None:
    """The probe process: an ack'ed event every ``interval``; each round trip printed
    as ``<sent, monotonic> <seconds>`` (a process of its own, so that the benchmark's
    thousands of sessions can't delay it on the client side)."""
    async with http_session() as http:
        client = await WebSocketClient.open(http, url, host)
        await client.connect(namespace)
        print("ready", flush=True)
        lines: list[str] = []
        flushed = time.monotonic()
        while True:
            sent = time.monotonic()
            await client.call(namespace, "message", '"probe"')
            done = time.monotonic()
            lines.append(f"{sent!r} {done - sent!r}")
            if done - flushed > 0.1:
                print("\n".join(lines), flush=True)
                lines.clear()
                flushed = done
            await asyncio.sleep(max(0.0, sent + interval - done))


class Probe:
    """The probe process and the round trips it reported: ``(sent, seconds)``."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.samples: list[tuple[float, float]] = []
        self.task = asyncio.create_task(self._read())

    @classmethod
    async def start(cls, url: str, host: str, namespace: str, interval: float) -> Probe:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            os.path.abspath(__file__),
            "--probe",
            json.dumps([url, host, namespace, interval]),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
        )
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        if line.strip() != b"ready":
            raise RuntimeError(f"probe did not start: {line!r}")
        return cls(process)

    async def _read(self) -> None:
        assert self.process.stdout is not None
        async for line in self.process.stdout:
            sent, rtt = line.split()
            self.samples.append((float(sent), float(rtt)))

    def worst(self, start: float, end: float) -> tuple[float, int]:
        """The longest round trip that overlapped ``[start, end]``, and how many did."""
        during = [rtt for sent, rtt in self.samples if sent <= end and sent + rtt >= start]
        return (max(during) if during else math.nan), len(during)

    async def stop(self) -> None:
        self.process.terminate()
        await self.process.wait()
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def retire_round(
    args: argparse.Namespace,
    http: aiohttp.ClientSession,
    server: ServerProcess,
    probe: Probe,
    mode: str,
    round_number: int,
) -> dict[str, Any]:
    """One retirement of ``--retire-namespaces`` at once.

    Sessions hold a socket in each namespace; T is set; they DISCONNECT (each
    namespace's disconnect handler makes it due at T). ``quiet``: 1,000 sessions
    (one per host) made them and close once the server has every DISCONNECT, so
    only the probe's session is open at T. ``loaded``: the 2,000 other sessions
    (two per host) made them, ten each beside a namespace of their own that they
    stay in, and stay open. (Closing sessions while thousands of namespaces are
    occupied costs python-socketio O(namespaces) per session, so no session
    closes in a loaded round until the retirement is over: that is timed apart.)
    """
    host_names = hosts(scaled(args, args.hosts))
    count = scaled(args, args.retire_namespaces)
    result: dict[str, Any] = {"mode": mode}
    if mode == "loaded":
        sessions = scaled(args, args.others)
        per_session = max(1, count // sessions)
        plan = [
            (
                host_names[i % len(host_names)],
                [f"/stay{i}", *names(per_session, prefix=f"/r{round_number}_{i}_")],
            )
            for i in range(sessions)
        ]
        leaving_plan = [(host, wanted[1:]) for host, wanted in plan]
    else:
        per_host = max(1, count // len(host_names))
        plan = [(host, names(per_host, prefix=f"/r{round_number}_")) for host in host_names]
        leaving_plan = plan
    count = sum(len(wanted) for _, wanted in leaving_plan)
    result["namespaces"] = count
    await ask(http, server, "reset")
    before = await ask(http, server, "stats")
    started = time.perf_counter()
    held = await open_held(http, server, plan, args.workers * (2 if mode == "loaded" else 1))
    created = time.perf_counter() - started
    others = held if mode == "loaded" else []
    result["others"] = len(others)
    leaving = time.monotonic()
    due = leaving + args.retire_lead
    await ask(http, server, "retire_at", t=repr(due))
    await asyncio.gather(
        *(
            disconnect_all(session.client, wanted)
            for session, (_, wanted) in zip(held, leaving_plan, strict=True)
        )
    )
    await wait_for(http, server, lambda s: s["record"]["waiting"] >= count, args.retire_lead)
    left = time.monotonic()
    await ask(http, server, "retire_at", t="none")
    if mode == "quiet":
        await close_held(held)
        await wait_for(http, server, lambda s: s["sockets"] <= 1, args.retire_lead)
    closed = time.monotonic()
    stats = await wait_for(
        http,
        server,
        lambda s: s["record"]["count"] + s["record"]["unknown"] >= count,
        args.retire_lead + 120,
    )
    record = retirement_check(stats["record"], count)
    await asyncio.sleep(0.5)  # the probe's round trip that overlapped the end is reported
    first, last = record["first_deadline"], record["last_gone"]
    worst, samples = probe.worst(first, last)
    lag = await ask(http, server, "lag", start=repr(first), end=repr(last))
    settling = await ask(http, server, "lag", start=repr(leaving), end=repr(due - 0.001))
    settled = settling["last_over_20ms"]
    histogram = histogram_delta(stats, before)
    calm = [rtt for sent, rtt in probe.samples if sent + rtt < leaving]
    result.update(
        created_s=created,
        disconnect_s=left - leaving,
        close_s=closed - left,
        due=due,
        settled_before_due_s=None if settled is None else due - settled,
        first_deadline=first,
        last_deadline=record["last_deadline"],
        first_gone=record["first_gone"],
        last_gone=last,
        duration_s=last - first,
        probe_worst_s=worst,
        probe_samples=samples,
        server_lag_s=lag["max_s"],
        probe_worst_leaving_s=probe.worst(leaving, closed)[0],
        server_lag_leaving_s=settling["max_s"],
        probe_calm={
            "count": len(calm),
            "median_s": median(calm) if calm else None,
            "p99_s": percentile(calm, 99) if calm else None,
            "max_s": max(calm) if calm else None,
        },
        retirement=record,
        package_histogram=histogram,
    )
    quiet_for = (
        "no stall over 20 ms"
        if settled is None
        else f"the last stall over 20 ms {due - settled:.1f} s before T"
    )
    print(
        f"    {mode}: {count:,} namespaces from {len(held):,} sessions; created in"
        f" {created:.1f} s, DISCONNECTs handled in {left - leaving:.1f} s"
        + (f", sessions closed in {closed - left:.1f} s" if mode == "quiet" else "")
        + f" (probe worst {1e3 * result['probe_worst_leaving_s']:.0f} ms, server loop"
        f" {1e3 * settling['max_s']:.0f} ms; {quiet_for}); at T: deadlines to"
        f" T+{record['last_deadline'] - due:.3f} s, gone T+{record['first_gone'] - due:.3f}"
        f" to T+{last - due:.3f} s; during it the probe's worst {1e3 * worst:.1f} ms"
        f" ({samples} round trips), the server loop's longest stall {1e3 * lag['max_s']:.1f} ms;"
        f" before: probe median {1e3 * (result['probe_calm']['median_s'] or math.nan):.1f},"
        f" p99 {1e3 * (result['probe_calm']['p99_s'] or math.nan):.1f} ms;"
        f" {retirement_text(record)}; the package's own delays {histogram_text(histogram)}",
        flush=True,
    )
    if others:
        started_close = time.monotonic()
        await close_held(others)
        await wait_for(http, server, lambda s: s["sockets"] <= 1, 300)
        ended = time.monotonic()
        stall = await ask(http, server, "lag", start=repr(started_close), end=repr(ended))
        result["others_close_s"] = ended - started_close
        result["others_close_lag_s"] = stall["max_s"]
        print(
            f"    then closing the {len(others):,} other sessions took"
            f" {ended - started_close:.1f} s (server loop's longest stall"
            f" {1e3 * stall['max_s']:.0f} ms: python-socketio visits every occupied"
            " namespace for each session that closes)",
            flush=True,
        )
    return result


async def section_retire(args: argparse.Namespace, results: Results) -> None:
    count = scaled(args, args.retire_namespaces)
    modes = args.retire_modes.split(",")
    print(
        f"\n## retire: {count:,} namespaces over {scaled(args, args.hosts):,} hosts due at once"
        f" (T {args.retire_lead:g} s after their DISCONNECTs start), with"
        f" {scaled(args, args.others):,} other sessions (loaded) or none (quiet);"
        f" {args.rounds} rounds of {', '.join(modes)}",
        flush=True,
    )
    load = Load()
    fleet = Fleet("retire")
    rounds: list[dict[str, Any]] = []
    try:
        server = await fleet.start("dynamic", retirement=args.retirement, record=True, lag=True)
        async with http_session() as http:
            probe = await Probe.start(server.url, "probe.test", "/probe", args.probe_interval)
            try:
                number = 0
                for i in range(args.rounds):
                    for mode in modes if i % 2 == 0 else modes[::-1]:
                        rounds.append(await retire_round(args, http, server, probe, mode, number))
                        number += 1
                        probe.samples.clear()
            finally:
                await probe.stop()
        await fleet.stop_all()
    finally:
        await fleet.stop_all()
    section: dict[str, Any] = {"rounds": rounds, "load": load.report()}
    results.sections["retire"] = section
    print("  " + load_line(section["load"]))
    quiet = [r for r in rounds if r["mode"] == "quiet"]
    loaded = [r for r in rounds if r["mode"] == "loaded"]
    for label, group in (("loaded", loaded), ("quiet", quiet)):
        if not group:
            continue
        worst = max(r["probe_worst_s"] for r in group)
        results.add(
            Figure(
                "retire",
                f"probe's worst round trip during the retirement, {label}"
                f" ({group[0]['others']:,} other sessions)",
                f"{1e3 * worst:.1f} ms (rounds: "
                + ", ".join(f"{1e3 * r['probe_worst_s']:.1f}" for r in group)
                + "; the server loop's longest stall: "
                + ", ".join(f"{1e3 * r['server_lag_s']:.1f}" for r in group)
                + " ms)",
                f"< {1e3 * GOAL_PROBE:g} ms",
                worst < GOAL_PROBE if label == "loaded" else None,
            )
        )
    if quiet and loaded:
        ratio = median([r["duration_s"] for r in loaded]) / median([r["duration_s"] for r in quiet])
        results.add(
            Figure(
                "retire",
                "retirement duration (T to the last gone), loaded / quiet",
                f"{ratio:.2f}x (loaded "
                + ", ".join(f"{r['duration_s']:.2f}" for r in loaded)
                + " s; quiet "
                + ", ".join(f"{r['duration_s']:.2f}" for r in quiet)
                + " s)",
                f"<= {GOAL_RETIRE_RATIO:g}x",
                ratio <= GOAL_RETIRE_RATIO,
            )
        )
    checks = [r["retirement"] for r in rounds]
    results.add(
        Figure(
            "retire",
            "retirement bound, every round",
            f"{sum(c['count'] for c in checks):,} retired, {sum(c['over'] for c in checks):,} over"
            f" the bound, latest {1e3 * max(c['late_max'] for c in checks):.0f} ms late (worst"
            f" {max(c['worst'] for c in checks):.2f}x the bound)",
            "every one within retirement + max(0.1 s, 10 %)",
            all(c["ok"] for c in checks),
        )
    )
    unsettled = [
        r for r in rounds if r["settled_before_due_s"] is not None and r["settled_before_due_s"] < 1
    ]
    if unsettled:
        print(
            f"  warning: in {len(unsettled)} rounds the server was still busy less than 1 s"
            " before T (--retire-lead longer?)"
        )


# -- 3: memory -----------------------------------------------------------------------------


async def memory_round(
    args: argparse.Namespace, length: int, count: int, first_variant: str, trace: int = 0
) -> dict[str, Any]:
    """Fresh servers; RSS per namespace a client connected to (a socket each). With
    ``trace``, the ``trace`` largest allocation sites of the CONNECTs instead (tracemalloc
    in the servers, so the RSS figures of that round are not kept)."""
    host_names = hosts(max(1, min(scaled(args, args.memory_hosts), count)))
    per_host = count // len(host_names)
    count = per_host * len(host_names)

    def name(index: int, prefix: str = "/") -> str:
        return prefix + str(index).zfill(length - len(prefix))

    plan: list[tuple[str, list[str]]] = []
    index = 0
    for host in host_names:
        mine = [name(index + k) for k in range(per_host)]
        index += per_host
        for start in range(0, per_host, args.memory_per_session):
            plan.append((host, mine[start : start + args.memory_per_session]))
    fleet = Fleet("memory")
    result: dict[str, Any] = {"length": length, "namespaces": count, "sessions": len(plan)}
    try:
        servers = {
            "plain": await fleet.start("plain"),
            "dynamic": await fleet.start(
                "dynamic",
                retirement=args.retirement,
                max_name_length=max(1024, length),
                max_namespaces_per_session=128,
            ),
        }
        order = ["plain", "dynamic"] if first_variant == "plain" else ["dynamic", "plain"]
        async with http_session() as http:
            for variant in order:
                server = servers[variant]
                warm = await open_held(
                    http, server, [(host_names[0], [name(k, "/w") for k in range(100)])], 1
                )

                def session(host: str, url: str = server.url) -> Awaitable[WebSocketClient]:
                    return WebSocketClient.open(http, url, host)

                # Held: each answers the server's pings while the others connect
                # (a slow round, under tracemalloc say, outlasts the ping timeout).
                clients: list[Held] = [
                    Held(client)
                    for client in await in_parallel(
                        [host for host, _ in plan], args.workers, session
                    )
                ]
                before = (await ask(http, server, "gc"))["rss"]
                if trace:
                    await ask(http, server, "trace", do="start", frames=args.memory_frames)

                async def connect(item: tuple[Held, list[str]]) -> None:
                    held, wanted = item
                    await held.pause()
                    await connect_all(held.client, wanted)
                    held.resume()

                await in_parallel(
                    list(zip(clients, [wanted for _, wanted in plan], strict=True)),
                    args.workers,
                    connect,
                )
                if trace:
                    result[variant] = await ask(
                        http, server, "trace", do="diff", top=trace, frames=args.memory_frames
                    )
                    await close_held(clients)
                    await close_held(warm)
                    continue
                after = (await ask(http, server, "gc"))["rss"]
                stats = await ask(http, server, "stats")
                result[variant] = {
                    "rss_before": before,
                    "rss_after": after,
                    "per_namespace": (after - before) / count,
                    "rooms": stats["rooms"],
                }
                await close_held(clients)
                await close_held(warm)
        await fleet.stop_all()
    finally:
        await fleet.stop_all()
    if trace:
        for variant in ("plain", "dynamic"):
            traced = result[variant]
            print(
                f"    {variant}, {length:,}-character names: traced"
                f" {traced['total'] / count:,.0f} B per namespace; largest sites:"
            )
            for where, size, number in traced["sites"]:
                where = re.sub(r"\S*/(site-packages|python3\.\d+)/", "", where)
                where = where.replace(str(SCRIPT_DIR.parent) + "/", "")
                print(f"      {size / count:9,.1f} B {number / count:6.2f} blocks  {where}")
        return result
    result["ratio"] = result["dynamic"]["per_namespace"] / result["plain"]["per_namespace"]
    print(
        f"    {length:,}-character names, {count:,} namespaces in {len(plan)} sessions over"
        f" {len(host_names)} hosts: plain {result['plain']['per_namespace']:,.0f} B,"
        f" dynamic {result['dynamic']['per_namespace']:,.0f} B per namespace:"
        f" {result['ratio']:.2f}x",
        flush=True,
    )
    return result


async def section_memory(args: argparse.Namespace, results: Results) -> None:
    cases = [(16, scaled(args, args.memory_short)), (10_000, scaled(args, args.memory_long))]
    print(
        "\n## memory: RSS growth per namespace a client connected to (a socket each);"
        f" {args.memory_rounds} rounds with fresh servers",
        flush=True,
    )
    load = Load()
    section: dict[str, Any] = {"cases": []}
    for length, count in cases:
        rounds = [
            await memory_round(args, length, count, "plain" if i % 2 == 0 else "dynamic")
            for i in range(args.memory_rounds)
        ]
        entry: dict[str, Any] = {"length": length, "rounds": rounds}
        if args.memory_sites:
            entry["traced"] = await memory_round(args, length, count, "plain", args.memory_sites)
        section["cases"].append(entry)
    section["load"] = load.report()
    results.sections["memory"] = section
    print("  " + load_line(section["load"]))
    for case in section["cases"]:
        rounds = case["rounds"]
        ratio = median([r["ratio"] for r in rounds])
        plain = median([r["plain"]["per_namespace"] for r in rounds])
        dynamic = median([r["dynamic"]["per_namespace"] for r in rounds])
        results.add(
            Figure(
                "memory",
                f"RSS per live namespace, {case['length']:,}-character names"
                f" ({rounds[0]['namespaces']:,})",
                f"{ratio:.2f}x (dynamic {dynamic:,.0f} B, plain {plain:,.0f} B; rounds "
                + ", ".join(f"{r['ratio']:.2f}" for r in rounds)
                + ")",
                f"<= {GOAL_MEMORY_RATIO:g}x plain",
                ratio <= GOAL_MEMORY_RATIO,
            )
        )


# -- 4: namespaces created per second --------------------------------------------------------


async def rate_once(
    http: aiohttp.ClientSession, server: ServerProcess, wanted: Sequence[str]
) -> dict[str, float]:
    client = await WebSocketClient.open(http, server.url, "rate.test")
    try:
        user, system = server.cpu_split()
        started = time.perf_counter()
        sender = asyncio.create_task(_send_connects(client, wanted))
        await expect_connects(client, len(wanted))
        seconds = time.perf_counter() - started
        user_after, system_after = server.cpu_split()
        user, system = user_after - user, system_after - system
        await sender
    finally:
        await client.close()
    return {
        "per_second": len(wanted) / seconds,
        "seconds": seconds,
        "cpu_us": 1e6 * (user + system) / len(wanted),
        "system_us": 1e6 * system / len(wanted),
    }


async def _send_connects(client: WebSocketClient, wanted: Sequence[str]) -> None:
    for name in wanted:
        await client.send(f"40{name},")


async def section_rate(args: argparse.Namespace, results: Results) -> None:
    count = scaled(args, args.rate_connects)
    print(
        f"\n## rate: {count:,} CONNECTs to new names pipelined on one websocket,"
        f" {args.rate_rounds} interleaved rounds per server",
        flush=True,
    )
    load = Load()
    fleet = Fleet("rate")
    rounds: list[dict[str, Any]] = []
    checks: list[dict[str, Any]] = []
    try:
        servers = {
            "plain": await fleet.start("plain"),
            "dynamic": await fleet.start(
                "dynamic",
                retirement=args.retirement,
                record=True,
                max_namespaces_per_session=None,
            ),
        }
        async with http_session() as http:

            async def one(variant: str, wanted: list[str]) -> dict[str, float]:
                server = servers[variant]
                if variant == "dynamic":
                    await ask(http, server, "reset")
                figure = await rate_once(http, server, wanted)
                if variant == "dynamic":  # its namespaces retire before the next round
                    stats = await wait_for(
                        http,
                        server,
                        lambda s: s["record"]["count"] + s["record"]["unknown"] >= len(wanted),
                        args.retirement + 60,
                    )
                    checks.append(retirement_check(stats["record"], len(wanted)))
                else:
                    await wait_for(http, server, lambda s: s["sockets"] == 0, 30)
                return figure

            for variant in servers:  # warm up
                await one(variant, names(min(500, count), prefix="/warm"))
            for i in range(args.rate_rounds):
                order = ("plain", "dynamic") if i % 2 == 0 else ("dynamic", "plain")
                entry: dict[str, Any] = {}
                for variant in order:
                    entry[variant] = await one(variant, names(count, prefix=f"/c{i}_"))
                entry["ratio"] = entry["dynamic"]["per_second"] / entry["plain"]["per_second"]
                rounds.append(entry)
                print(
                    f"    round {i + 1}: plain {entry['plain']['per_second']:,.0f}/s"
                    f" ({entry['plain']['cpu_us']:.0f} µs server CPU each, system"
                    f" {entry['plain']['system_us']:.0f}), dynamic"
                    f" {entry['dynamic']['per_second']:,.0f}/s"
                    f" ({entry['dynamic']['cpu_us']:.0f} µs, system"
                    f" {entry['dynamic']['system_us']:.0f}): {entry['ratio']:.2f}x;"
                    f" retirement: {retirement_text(checks[-1])}",
                    flush=True,
                )
        await fleet.stop_all()
    finally:
        await fleet.stop_all()
    section: dict[str, Any] = {"rounds": rounds, "retirement": checks, "load": load.report()}
    results.sections["rate"] = section
    print("  " + load_line(section["load"]))
    ratio = median([r["ratio"] for r in rounds])
    results.add(
        Figure(
            "rate",
            "namespaces created per second from one websocket / plain CONNECTs per second",
            f"{ratio:.2f}x (dynamic {median([r['dynamic']['per_second'] for r in rounds]):,.0f}/s,"
            f" plain {median([r['plain']['per_second'] for r in rounds]):,.0f}/s; server CPU"
            f" {median([r['dynamic']['cpu_us'] for r in rounds]):.0f} vs"
            f" {median([r['plain']['cpu_us'] for r in rounds]):.0f} µs per CONNECT)",
            f">= {GOAL_RATE_RATIO:g}x",
            ratio >= GOAL_RATE_RATIO,
        )
    )
    results.add(
        Figure(
            "rate",
            f"retirement bound, {count:,} namespaces of one closed session, every round",
            f"{sum(c['count'] for c in checks):,} retired, {sum(c['over'] for c in checks):,} over"
            f" the bound, latest {1e3 * max(c['late_max'] for c in checks):.0f} ms late"
            f" (worst {max(c['worst'] for c in checks):.2f}x the bound)",
            "every one within retirement + max(0.1 s, 10 %)",
            all(c["ok"] for c in checks),
        )
    )


# -- 5: connect latency ---------------------------------------------------------------------


async def section_latency(args: argparse.Namespace, results: Results) -> None:
    print("\n## latency: benchmarks/connect_latency.py", flush=True)
    load = Load()
    out = f"/tmp/scale-latency-{os.getpid()}.json"
    command = [sys.executable, str(SCRIPT_DIR / "connect_latency.py"), "--json", out]
    if args.quick:
        command.append("--quick")
    print("  " + " ".join(command), flush=True)
    process = await asyncio.create_subprocess_exec(*command)
    await process.wait()
    if process.returncode:
        raise RuntimeError(f"connect_latency.py failed: {process.returncode}")
    with open(out) as file:
        figures = json.load(file)
    os.unlink(out)
    section = {**figures, "load": load.report()}
    results.sections["latency"] = section
    print("  " + load_line(section["load"]))
    ratio = figures["median_ratio"]
    results.add(
        Figure(
            "latency",
            "CONNECT creating a namespace / CONNECT to a static one, median",
            f"{ratio:.2f}x ({figures['dynamic_median_us']:.0f} vs {figures['static_median_us']:.0f}"
            f" µs; p99 {figures['p99_ratio']:.2f}x)",
            f"<= {GOAL_LATENCY_RATIO:g}x",
            ratio <= GOAL_LATENCY_RATIO,
        )
    )
    check = figures["retirement"]
    results.add(
        Figure(
            "latency",
            "retirement bound (the package's own histogram, from the first check that saw"
            " each empty)",
            f"{check['within']:,} of {check['retired']:,} retired within"
            f" {check['bound_s']:g} s of the deadline ({check['created']:,} created)",
            "every one within retirement + max(0.1 s, 10 %)",
            check["retired"] == check["created"] and check["within"] == check["retired"],
        )
    )


# -- the run ---------------------------------------------------------------------------------


def scaled(args: argparse.Namespace, value: int) -> int:
    return max(1, round(value * float(args.scale)))


def summary(results: Results) -> None:
    print("\n## summary\n")
    rows = [[f.section, f.name, f.value, f.goal, verdict(f.passed)] for f in results.figures]
    print(table(["section", "figure", "measured", "goal", ""], rows))
    print()
    for name, section in results.sections.items():
        if "load" in section:
            print(f"{name}: {load_line(section['load'])}")


async def bench(args: argparse.Namespace) -> None:
    if args.probe:
        await run_probe(*json.loads(args.probe))
        return
    if args.quick:
        args.scale = min(args.scale, 0.05)
        args.window, args.windows, args.settle = 3.0, 1, 6.0
        args.rounds, args.memory_rounds, args.rate_rounds = 1, 1, 2
        args.status_repeat, args.drain_lead = 5, 5.0
        args.retirement = min(args.retirement, 3.0)
        args.retire_lead = min(args.retire_lead, 5.0)
    only = SECTIONS if args.only is None else tuple(args.only.split(","))
    unknown = set(only) - set(SECTIONS)
    if unknown:
        raise SystemExit(f"--only: unknown sections {sorted(unknown)}; choose from {SECTIONS}")
    global PROFILE, PY_SPY
    PROFILE = args.profile_server
    PY_SPY = args.py_spy
    print(f"# scale: {machine()}")
    print(f"# sections {', '.join(only)}; scale {args.scale:g}", flush=True)
    results = Results(args={k: v for k, v in vars(args).items() if k != "serve"})

    def save() -> None:
        if args.json:
            with open(args.json, "w") as file:
                json.dump(results.to_json(), file, indent=2)

    try:
        if "idle" in only or "status" in only:
            await section_idle(args, results, "idle" in only, "status" in only)
            save()
        steps: list[tuple[str, Callable[[argparse.Namespace, Results], Awaitable[None]]]] = [
            ("retire", section_retire),
            ("memory", section_memory),
            ("rate", section_rate),
            ("latency", section_latency),
        ]
        for name, run in steps:
            if name in only:
                await run(args, results)
                save()
    finally:
        summary(results)
        save()


def configure(options: argparse.ArgumentParser) -> None:
    options.add_argument("--only", help=f"comma-separated sections of {','.join(SECTIONS)}")
    options.add_argument("--json", metavar="FILE", help="write every figure to FILE")
    options.add_argument(
        "--py-spy",
        metavar="DIR",
        help="sample every server with py-spy ($PY_SPY): collapsed stacks in DIR",
    )
    options.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="multiply every count (namespaces, hosts, sessions)",
    )
    options.add_argument(
        "--idle-sizes",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[10_000, 50_000, 100_000],
    )
    options.add_argument("--hosts", type=int, default=1000)
    options.add_argument("--workers", type=int, default=16, help="sessions opened at once")
    options.add_argument("--window", type=float, default=10.0, help="seconds per idle window")
    options.add_argument("--windows", type=int, default=3, help="idle windows per size")
    options.add_argument("--settle", type=float, default=12.0, help="seconds after a build")
    options.add_argument("--status-repeat", type=int, default=10)
    options.add_argument(
        "--drain", action="store_true", help="idle: make every namespace due at once at the end"
    )
    options.add_argument("--drain-lead", type=float, default=10.0)
    options.add_argument("--retirement", type=float, default=10.0, help="retire and rate sections")
    options.add_argument("--retire-namespaces", type=int, default=20_000)
    options.add_argument("--others", type=int, default=2_000, help="other sessions (retire)")
    options.add_argument("--probe-interval", type=float, default=0.010)
    options.add_argument(
        "--retire-lead",
        type=float,
        default=15.0,
        help="retire: seconds from the DISCONNECTs to T (the namespaces' retirement)",
    )
    options.add_argument("--retire-modes", default="quiet,loaded")
    options.add_argument("--probe", help=argparse.SUPPRESS)
    options.add_argument("--rounds", type=int, default=2, help="retire rounds of each mode")
    options.add_argument("--memory-short", type=int, default=20_000)
    options.add_argument("--memory-long", type=int, default=2_000)
    options.add_argument("--memory-hosts", type=int, default=100)
    options.add_argument("--memory-per-session", type=int, default=100)
    options.add_argument("--memory-rounds", type=int, default=2)
    options.add_argument(
        "--memory-sites",
        type=int,
        default=0,
        metavar="N",
        help="memory: one more round under tracemalloc, printing its N largest sites",
    )
    options.add_argument(
        "--memory-frames",
        type=int,
        default=1,
        metavar="N",
        help="memory: the sites as call chains of N frames (innermost first)",
    )
    options.add_argument("--rate-connects", type=int, default=5_000)
    options.add_argument("--rate-rounds", type=int, default=6)


if __name__ == "__main__":
    main(__doc__, make_app, bench, configure)
