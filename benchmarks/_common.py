"""Shared machinery of the benchmarks: server subprocesses, statistics, the event loop.

Each benchmark script doubles as its own server: ``python benchmarks/x.py --serve VARIANT``
builds the app for ``VARIANT`` and runs it under uvicorn on ``127.0.0.1`` with a port from the
OS, printing ``PORT <n>`` on its stdout once it listens. The benchmark process starts one such
subprocess per variant (so client and server never share an event loop or a core) and drives
them with the raw Engine.IO clients of ``_eio.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Coroutine, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` on uvloop when it is installed (as uvicorn would), else asyncio."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def serve(app: Any, profile: str | None = None) -> None:
    """Run ``app`` under uvicorn's defaults on 127.0.0.1:<free port> until SIGTERM.

    The port is printed as ``PORT <n>`` on stdout once the socket listens. With
    ``profile``, the whole server runs under cProfile and the stats go to that file.
    """
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)  # connections wait in the backlog until uvicorn accepts them
    config = uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    if profile is None:
        server.run(sockets=[sock])
        return
    # uvicorn re-raises the SIGTERM that stopped it once it is done; let that
    # one through quietly so the stats are written.
    signal.signal(signal.SIGTERM, lambda *_: None)
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        server.run(sockets=[sock])
    finally:
        profiler.disable()
        profiler.dump_stats(profile)


class ServerProcess:
    """One benchmark server in its own process."""

    def __init__(self, variant: str, process: asyncio.subprocess.Process, port: int) -> None:
        self.variant = variant
        self.process = process
        self.url = f"http://127.0.0.1:{port}"

    @classmethod
    async def start(cls, script: str, variant: str, *extra: str) -> ServerProcess:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            script,
            "--serve",
            variant,
            *extra,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
        )
        assert process.stdout is not None
        try:
            line = await asyncio.wait_for(process.stdout.readline(), STARTUP_TIMEOUT)
            if not line.startswith(b"PORT "):
                raise RuntimeError(f"server {variant} did not start: {line!r}")
        except BaseException:
            process.kill()
            await process.wait()
            raise
        return cls(variant, process, int(line.split()[1]))

    def cpu_seconds(self) -> float:
        """User + system CPU time the server process has used so far (Linux ``/proc``)."""
        return sum(self.cpu_split())

    def cpu_split(self) -> tuple[float, float]:
        """User and system CPU time the server process has used so far, apart."""
        with open(f"/proc/{self.process.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return int(fields[11]) / _TICKS, int(fields[12]) / _TICKS

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), STOP_TIMEOUT)
            except asyncio.TimeoutError:
                self.process.kill()
                await self.process.wait()


#: The CPUs this process may run on, before :func:`pin` narrows them.
_CPUS = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None


def pin(servers: Sequence[ServerProcess]) -> str:
    """Pin this process (the clients) to one CPU and ``servers`` to another.

    On a 2-core machine the scheduler otherwise moves client and server
    between the cores, and a server process that shares a core for a while
    loses a round: pinned, each has a core of its own (the servers of a run
    take turns on theirs). Returns what was done, for the report."""
    if _CPUS is None:
        return "not pinned (no sched_setaffinity)"
    cpus = sorted(_CPUS)  # as this process started: servers inherit its pinning
    if len(cpus) < 2:
        return "not pinned (one CPU)"
    client, server = cpus[0], cpus[1]
    os.sched_setaffinity(0, {client})
    for process in servers:
        os.sched_setaffinity(process.process.pid, {server})
    return f"clients pinned to CPU {client}, servers to CPU {server}"


@contextlib.asynccontextmanager
async def servers(script: str, variants: Sequence[str], profile: str | None = None) -> Any:
    """Start one server subprocess per variant; yield ``{variant: ServerProcess}``.

    With ``profile``, each runs under cProfile and writes ``<profile>.<variant>.prof``.
    """
    started: dict[str, ServerProcess] = {}
    try:
        for variant in variants:
            extra = ["--profile-server", f"{profile}.{variant}.prof"] if profile else []
            started[variant] = await ServerProcess.start(script, variant, *extra)
        yield started
    finally:
        for server in started.values():
            await server.stop()


def parser(description: str | None) -> argparse.ArgumentParser:
    """The options every benchmark takes: ``--quick`` and the hidden ``--serve``."""
    result = argparse.ArgumentParser(description=(description or "").split("\n\n")[0])
    result.add_argument("--quick", action="store_true", help="a short smoke run (< 30 s)")
    result.add_argument("--serve", help=argparse.SUPPRESS)
    result.add_argument(
        "--profile-server",
        metavar="PREFIX",
        help="run the servers under cProfile; stats go to PREFIX.<variant>.prof"
        " (compare them with benchmarks/profile_diff.py)",
    )
    return result


def main(
    description: str | None,
    make_app: Callable[[str], Any],
    bench: Callable[[argparse.Namespace], Coroutine[Any, Any, None]],
    configure: Callable[[argparse.ArgumentParser], None] | None = None,
) -> None:
    """Entry point of a benchmark script: serve one variant, or run the benchmark."""
    options = parser(description)
    if configure is not None:
        configure(options)
    args = options.parse_args()
    if args.serve:
        serve(make_app(args.serve), args.profile_server)
        return
    run(bench(args))


# -- Redis and the optional features of a server -------------------------------------


@contextlib.contextmanager
def redis_server(url: str | None) -> Iterator[str]:
    """The given Redis, or a throw-away redis-server on a free port of 127.0.0.1."""
    if url:
        yield url
        return
    if shutil.which("redis-server") is None:
        raise SystemExit("redis-server not found: install it or pass --redis-url")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory() as folder:
        process = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", folder],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            process.terminate()
            process.wait()


#: Environment variables that carry ``--metrics`` and ``--cluster`` to the servers (and to
#: the workload processes of ``instructions.py``), which build their app from them.
METRICS_ENV = "BENCH_METRICS"
CLUSTER_ENV = "BENCH_CLUSTER_REDIS_URL"


def add_feature_options(options: argparse.ArgumentParser) -> None:
    """``--metrics`` and ``--cluster`` (with ``--redis-url``): features of the servers."""
    options.add_argument(
        "--metrics",
        action="store_true",
        help="the wrapped server serves Prometheus metrics (DynamicIO(..., metrics=True))",
    )
    options.add_argument(
        "--cluster",
        action="store_true",
        help="both servers use socketio.AsyncRedisManager on a throw-away redis-server"
        " (or --redis-url), so the wrapped one runs the cluster-status publisher",
    )
    options.add_argument("--redis-url", help="with --cluster: this Redis, not a throw-away one")


@contextlib.contextmanager
def features(args: argparse.Namespace) -> Iterator[str]:
    """Set the environment that turns ``args.metrics`` and ``args.cluster`` on in the
    servers started meanwhile; yield a line that says which are on."""
    saved = {name: os.environ.get(name) for name in (METRICS_ENV, CLUSTER_ENV)}
    try:
        with contextlib.ExitStack() as stack:
            os.environ.pop(METRICS_ENV, None)
            os.environ.pop(CLUSTER_ENV, None)
            said = []
            if args.metrics:
                os.environ[METRICS_ENV] = "1"
                said.append("metrics=True (wrapped)")
            if args.cluster:
                url = stack.enter_context(redis_server(args.redis_url))
                os.environ[CLUSTER_ENV] = url
                said.append(f"AsyncRedisManager at {url} (both; cluster status in wrapped)")
            yield "features: " + (", ".join(said) or "none (the default)")
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def feature_options(variant: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``AsyncServer`` and ``DynamicIO`` keyword arguments that this process's
    environment asks for (see :func:`features`). Each server process gets a Redis
    channel of its own, so servers never read each other's messages."""
    server: dict[str, Any] = {}
    url = os.environ.get(CLUSTER_ENV)
    if url:
        import socketio

        channel = f"bench-{variant}-{os.getpid()}"
        server["client_manager"] = socketio.AsyncRedisManager(url, channel=channel)
    middleware = {"metrics": True} if os.environ.get(METRICS_ENV) == "1" else {}
    return server, middleware


async def cluster_summaries(url: str) -> list[dict[str, Any]]:
    """The cluster-status summaries that the servers published to the Redis at ``url``."""
    import json

    import redis.asyncio

    client = redis.asyncio.Redis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(match="dynamicio:*:server:*")]
        values = await client.mget(keys) if keys else []
        return [json.loads(value) for value in values if value]
    finally:
        await client.aclose()


# -- statistics -----------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100), nearest rank."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table, columns padded for the terminal."""
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]

    def line(row: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(cells[0]), rule] + [line(row) for row in cells[1:]])


def machine() -> str:
    """One line about where the numbers come from."""
    from importlib.metadata import version

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"python {sys.version.split()[0]}, python-socketio {version('python-socketio')}, "
        f"python-engineio {version('python-engineio')}, uvicorn {version('uvicorn')}, "
        f"{os.cpu_count()} CPUs, load average {load:.2f}"
    )


SCRIPT_DIR = Path(__file__).resolve().parent


def register_handlers(register: Callable[[str, Any], Any]) -> None:
    """The typical setup: three handlers, new closures for every namespace."""

    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        return None

    async def disconnect(sid: str, reason: str = "") -> None:
        return None

    async def message(sid: str, data: Any) -> Any:
        return data

    register("connect", connect)
    register("disconnect", disconnect)
    register("message", message)


def callgrind(script: str, workload: str, out: str = "/dev/null") -> tuple[int, str]:
    """Run ``script --workload WORKLOAD`` under ``valgrind --tool=callgrind`` (with
    ``PYTHONHASHSEED=0``): the instructions it took, and its stderr."""
    command = [
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={out}",
        sys.executable,
        os.path.abspath(script),
        "--workload",
        workload,
    ]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise RuntimeError(f"valgrind gave no count: {done.stderr[-500:]}")
    return int(found[1]), done.stderr
