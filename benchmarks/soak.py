"""Load and soak: many raw clients on many hosts joining and leaving dynamic namespaces.

The server runs in a subprocess (uvicorn, one worker: ``soak.py --serve``); the
clients are raw Engine.IO v4 / Socket.IO v5 sessions multiplexed in this
process, websocket (aiohttp) and long-polling (aiohttp GET/POST), each on one of
``--hosts`` virtual hosts. Every client loops until ``--duration`` is over:
CONNECT to a random namespace of its host (``--namespaces`` in all, spread over
the hosts), emit a few ``msg`` events with an ack id and wait for each ACK,
DISCONNECT, stay idle a moment. With a short ``--retirement`` the namespaces
are created and retired all the time. At the end every client leaves and the
harness waits for the last retirement.

Reported: messages sent and acknowledged (lost = not acknowledged within
``--ack-timeout``) and how many the server handled; namespaces created and
retired and live at the end (from ``/socket.io/status.json``); the server's
RSS at start, peak (``VmHWM``) and end, and its CPU time per message (from
``/proc``), and the well-behaved clients' ack latency. Exit status 1 when a
message was lost or a namespace outlived the run.

With ``--hostile``, one more host (``hostile.soak.test``, beside the ``--hosts``
well-behaved ones) floods the server from a process of its own
(``soak.py --flood``) for the whole run: CONNECTs to ever new namespace names
(websocket batches of ``--flood-batch`` frames, polling POSTs of 16), POSTs
just under the server's limit (many ``41`` packets, many CONNECTs, or 16 big
packets), and CONNECTs to a namespace whose connect handler raises
(``/raises``) and to namespaces whose disconnect handler raises
(``/grumpy<N>``). Its sessions are reopened whenever the server drops them. The
server has ``max_namespaces_per_host`` (``--max-namespaces-per-host``, 1000)
in every run, so the flood is bounded; the report counts the flood's CONNECTs,
their answers by message, the server's refusals by reason and its log. ::

    .venv/bin/python benchmarks/soak.py --duration 180
    .venv/bin/python benchmarks/soak.py --ws 50 --polling 10 --hosts 4 --namespaces 20 --duration 20
    .venv/bin/python benchmarks/soak.py --ws 400 --polling 100 --hosts 19 --duration 180 --hostile
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import random
import re
import resource
import signal
import socket
import sys
import tempfile
import time
from array import array
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import aiohttp

MAIN = "main.soak.test"
HOSTILE = "hostile.soak.test"
PATH = "/socket.io/?EIO=4&transport="
STATS_PATH = "/soak/stats"
SAMPLE_EVERY = 2.0  # seconds between two samples of the server's RSS and namespaces
STARTUP_TIMEOUT = 30.0
TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


# -- server -----------------------------------------------------------------------------


def _connects_per_second() -> dict[str, float]:
    """``max_connects_per_second`` from ``SOAK_MAX_CONNECTS_PER_SECOND``, if set."""
    value = os.environ.get("SOAK_MAX_CONNECTS_PER_SECOND")
    return {} if not value else {"max_connects_per_second": float(value)}


def build_app(
    retirement: float,
    max_namespaces_per_host: int | None = None,
    max_creations_per_second: float | None = None,
) -> Any:
    """The soak server: every namespace echoes ``msg``; counters at ``/soak/stats``.

    Two patterns are there for the hostile tenant: ``/raises`` (its connect
    handler reads ``auth["token"]`` of a client that sent no auth: TypeError) and
    ``/grumpy<N>`` (its disconnect handler divides by zero)."""
    import socketio

    import dynamic_io_asgi
    from dynamic_io_asgi import DynamicIO

    counters = {"messages": 0, "setups": 0, "retire_callbacks": 0}
    pauses = GcPauses()
    pauses.start()

    async def control(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                kind = message["type"].rsplit(".", 1)[1]  # startup / shutdown
                await send({"type": f"lifespan.{kind}.complete"})
                if kind == "shutdown":
                    return
        if scope["type"] != "http" or scope["path"] != STATS_PATH:
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        sio, namespaces = app.sio, app.namespaces
        body = json.dumps(
            {
                **counters,
                "created": app.created,
                "retired": app.retired,
                "live": len(namespaces),
                "hostile_live": sum(nsp.host == HOSTILE for nsp in namespaces.values()),
                "refused": dict(app.refused),
                "handlers": len(sio.handlers),
                "rooms": len(sio.manager.rooms),
                "engineio_sessions": sum(not s.closed for s in sio.eio.sockets.values()),
                "package": os.path.dirname(dynamic_io_asgi.__file__),
                "gc": pauses.summary(),
            }
        ).encode()
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    sio = socketio.AsyncServer(async_mode="asgi")
    app = DynamicIO(
        socketio.ASGIApp(sio, other_asgi_app=control),
        host=MAIN,
        retirement=retirement,
        public_status=True,
        max_namespaces_per_host=max_namespaces_per_host,
        max_creations_per_second=max_creations_per_second,
        # The package's default unless SOAK_MAX_CONNECTS_PER_SECOND says otherwise.
        **_connects_per_second(),
    )

    @app.setup_namespace("*")
    def setup(nsp: Any, match: Any) -> None:
        counters["setups"] += 1

        @nsp.on("msg")
        def msg(sid: str, data: Any) -> Any:
            counters["messages"] += 1
            return data

        @nsp.on_retire
        def retired(nsp: Any) -> None:
            counters["retire_callbacks"] += 1

    # (Registered after "*": the most recently registered matching pattern wins.)
    @app.setup_namespace(re.compile(r"/raises$"))
    def raises(nsp: Any, match: Any) -> None:
        setup(nsp, match)

        @nsp.on("connect")
        def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
            auth["token"]  # the client sent no auth: TypeError, the CONNECT is refused

    @app.setup_namespace(re.compile(r"/grumpy\d*$"))
    def grumpy(nsp: Any, match: Any) -> None:
        setup(nsp, match)
        nsp.on("disconnect", lambda sid, reason: 1 / 0)

    return app


class GcPauses:
    """The server's garbage collections, by generation: how many, and how long the
    event loop stood still for them (a full collection is the longest pause a
    server of this size has; the ack latency's tail is made of them)."""

    def __init__(self) -> None:
        self.generations = [{"count": 0, "seconds": 0.0, "max_ms": 0.0} for _ in range(3)]
        self._began = 0.0

    def start(self) -> None:
        gc.callbacks.append(self._observe)

    def _observe(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
            return
        took = time.perf_counter() - self._began
        entry = self.generations[info["generation"]]
        entry["count"] += 1
        entry["seconds"] += took
        entry["max_ms"] = max(entry["max_ms"], 1e3 * took)

    def summary(self) -> list[dict[str, float]]:
        return [
            {
                "count": g["count"],
                "seconds": round(g["seconds"], 3),
                "max_ms": round(g["max_ms"], 1),
            }
            for g in self.generations
        ]


def serve(
    retirement: float, max_namespaces_per_host: int | None, max_creations_per_second: float | None
) -> None:
    """Run the soak server on 127.0.0.1:<port from the OS>; print ``PORT <n>``."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(4096)
    config = uvicorn.Config(
        build_app(retirement, max_namespaces_per_host, max_creations_per_second),
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=2,
    )
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    uvicorn.Server(config).run(sockets=[sock])


class ServerProcess:
    """The server subprocess and its numbers from ``/proc``; its stderr goes to ``log``."""

    def __init__(self, process: asyncio.subprocess.Process, port: int, log: str) -> None:
        self.process = process
        self.url = f"http://127.0.0.1:{port}"
        self.log = log

    @classmethod
    @contextlib.asynccontextmanager
    async def run(
        cls, retirement: float, max_namespaces_per_host: int = 0, max_creations: float = 0.0
    ) -> AsyncIterator[ServerProcess]:
        with tempfile.NamedTemporaryFile("w+b", prefix="soak-server-", suffix=".log") as log:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                __file__,
                "--serve",
                "--retirement",
                str(retirement),
                "--max-namespaces-per-host",
                str(max_namespaces_per_host),
                "--max-creations-per-second",
                str(max_creations),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
            )
            try:
                assert process.stdout is not None
                line = await asyncio.wait_for(process.stdout.readline(), STARTUP_TIMEOUT)
                if not line.startswith(b"PORT "):
                    log.seek(0)
                    error = log.read()[-2000:].decode(errors="replace")
                    raise RuntimeError(f"the soak server did not start: {line!r}\n{error}")
                yield cls(process, int(line.split()[1]), log.name)
            finally:
                if process.returncode is None:
                    process.send_signal(signal.SIGTERM)
                    try:
                        await asyncio.wait_for(process.wait(), 15)
                    except TimeoutError:
                        process.kill()
                        await process.wait()

    def cpu_seconds(self) -> float:
        with open(f"/proc/{self.process.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS

    def memory(self) -> dict[str, int]:
        """``VmRSS`` and ``VmHWM`` (peak RSS) in bytes."""
        result = {}
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    result[key] = int(value.split()[0]) * 1024
        return result


# -- clients ----------------------------------------------------------------------------


class Refused(Exception):
    """The server answered a CONNECT with CONNECT_ERROR."""


class Connection:
    """A raw Engine.IO session: CONNECT/DISCONNECT and ack'ed events, demultiplexed.

    Wire format (text): ``40/ns,`` CONNECT and ``40/ns,{"sid":..}`` its answer,
    ``44/ns,{..}`` CONNECT_ERROR, ``42/ns,<id>[...]`` an EVENT with an ack id and
    ``43/ns,<id>[...]`` its ACK; Engine.IO pings (``2``) are answered with ``3``.
    """

    def __init__(self) -> None:
        self._waiters: dict[tuple[str, str], asyncio.Future[str]] = {}
        self._next_id = 0
        self.closed = asyncio.Event()
        #: The hostile tenant's: counts every CONNECT answer instead of waiting for one.
        self.answers: Answers | None = None
        #: ``maxPayload`` of the OPEN packet: the most bytes a POST or message may have.
        self.max_payload = 0

    async def send(self, packet: str) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    def dispatch(self, packet: str) -> None:
        """Hand one text packet from the server to whoever waits for it."""
        if packet == "2":
            asyncio.ensure_future(self._pong())
            return
        if not packet.startswith("4") or len(packet) < 2:
            return
        kind, rest = packet[1], packet[2:]
        namespace = "/"
        if rest.startswith("/"):
            namespace, _, rest = rest.partition(",")
        if kind in "04" and self.answers is not None:
            self.answers.answer(kind, namespace, rest)
            return
        if kind in "04":
            key = (namespace, "connect")
        elif kind == "3":
            digits = len(rest) - len(rest.lstrip("0123456789"))
            key = (namespace, rest[:digits])
        else:
            return
        waiter = self._waiters.pop(key, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(packet)

    async def _pong(self) -> None:
        with contextlib.suppress(ConnectionError, aiohttp.ClientError):
            await self.send("3")

    def lost(self) -> None:
        """The session is gone: fail every waiter."""
        self.closed.set()
        if self.answers is not None:
            self.answers.done.set()
        for waiter in self._waiters.values():
            if not waiter.done():
                waiter.set_exception(ConnectionError("session closed"))
        self._waiters.clear()

    async def _request(self, key: tuple[str, str], packet: str, timeout: float) -> str:
        if self.closed.is_set():
            raise ConnectionError("session closed")
        waiter = asyncio.get_running_loop().create_future()
        self._waiters[key] = waiter
        try:
            await self.send(packet)
            return await asyncio.wait_for(waiter, timeout)
        finally:
            self._waiters.pop(key, None)

    async def connect(self, namespace: str, timeout: float) -> None:
        answer = await self._request((namespace, "connect"), f"40{namespace},", timeout)
        if answer.startswith("44"):
            raise Refused(answer)

    async def disconnect(self, namespace: str) -> None:
        await self.send(f"41{namespace},")

    async def call(self, namespace: str, data: str, timeout: float) -> str:
        """Emit ``msg`` with an ack id; return the ACK's data (JSON text)."""
        self._next_id += 1
        ack = str(self._next_id)
        packet = f'42{namespace},{ack}["msg",{data}]'
        answer = await self._request((namespace, ack), packet, timeout)
        return answer[len(f"43{namespace},{ack}") :]


class WebSocketConnection(Connection):
    """A websocket-only session: the websocket request is the handshake."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        super().__init__()
        self._ws = ws
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def open(cls, http: aiohttp.ClientSession, url: str, host: str) -> Connection:
        ws = await http.ws_connect(url + PATH + "websocket", headers={"Host": host})
        opening = await ws.receive()
        if opening.type is not aiohttp.WSMsgType.TEXT or not opening.data.startswith("0{"):
            await ws.close()
            raise ConnectionError(f"no OPEN packet: {opening!r}")
        conn = cls(ws)
        conn.max_payload = json.loads(opening.data[1:]).get("maxPayload", 0)
        return conn

    async def _read(self) -> None:
        try:
            async for message in self._ws:
                if message.type is aiohttp.WSMsgType.TEXT:
                    self.dispatch(message.data)
        finally:
            self.lost()

    async def send(self, packet: str) -> None:
        if self._ws.closed:
            raise ConnectionError("websocket closed")
        await self._ws.send_str(packet)

    async def close(self) -> None:
        await self._ws.close()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


class PollingConnection(Connection):
    """A polling-only session: one long-poll GET always pending, a POST per packet."""

    def __init__(self, http: aiohttp.ClientSession, url: str, host: str) -> None:
        super().__init__()
        self._http = http
        self._url = url
        self._headers = {"Host": host, "Content-Type": "text/plain;charset=UTF-8"}
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def open(cls, http: aiohttp.ClientSession, url: str, host: str) -> Connection:
        async with http.get(url + PATH + "polling", headers={"Host": host}) as response:
            opening = await response.text()
        if response.status != 200 or not opening.startswith("0{"):
            raise ConnectionError(f"handshake failed: {response.status} {opening[:100]!r}")
        handshake = json.loads(opening[1:])
        conn = cls(http, f"{url}{PATH}polling&sid={handshake['sid']}", host)
        conn.max_payload = handshake.get("maxPayload", 0)
        return conn

    async def _read(self) -> None:
        try:
            while True:
                async with self._http.get(self._url, headers=self._headers) as response:
                    body = await response.text()
                if response.status != 200:
                    return
                for packet in body.split("\x1e"):
                    if packet.startswith("1"):
                        return
                    self.dispatch(packet)
        except aiohttp.ClientError:
            return
        finally:
            self.lost()

    async def send(self, packet: str) -> None:
        status = await self.post(packet.encode())
        if status != 200:
            raise ConnectionError(f"POST answered {status}")

    async def post(self, body: bytes) -> int:
        """POST ``body`` (packets joined by ``\\x1e``); the answer's status."""
        async with self._http.post(self._url, data=body, headers=self._headers) as response:
            await response.read()
        return response.status

    async def close(self) -> None:
        with contextlib.suppress(ConnectionError, aiohttp.ClientError):
            await self.send("1")
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


# -- the soak ---------------------------------------------------------------------------


@dataclass
class Config:
    ws: int = 500
    polling: int = 100
    hosts: int = 20
    namespaces: int = 200
    duration: float = 180.0
    retirement: float = 1.0
    messages: int = 5  # at most, per visit to a namespace
    interval: float = 0.5  # at most, between two messages of one client
    idle: float = 1.0  # at most, between two visits
    ramp: float = 10.0  # seconds over which the clients start
    ack_timeout: float = 30.0
    seed: int = 1
    max_namespaces_per_host: int = 1000  # the server's limit (0: none)
    max_creations_per_second: float = 0.0  # the server's limit (0: none)
    hostile: bool = False  # one more host, whose clients flood the server
    flood_ws: int = 4  # hostile websocket sessions: CONNECTs to new names
    flood_batch: int = 200  # CONNECT frames per websocket batch
    flood_oversize_every: int = 50  # batches between two messages over the limit (0: none)
    flood_polling: int = 2  # hostile polling sessions: POSTs of 16 CONNECTs to new names
    flood_rate: float = 0.0  # the hostile host's CONNECTs per second at most (0: no cap)
    near_limit: int = 1  # hostile polling sessions: POSTs just under the limit
    near_limit_rate: float = 2.0  # their POSTs per second at most (0: no cap)
    raisers: int = 1  # hostile websocket sessions: CONNECTs to /raises and /grumpy<N>
    raiser_batch: int = 20  # CONNECTs per batch, to each of the two


HELP = {
    "ws": "well-behaved websocket clients",
    "polling": "well-behaved polling clients",
    "hosts": "well-behaved hosts (the hostile host is one more)",
    "namespaces": "dynamic namespaces of the well-behaved hosts, in all",
    "duration": "seconds of load after the ramp",
    "retirement": "seconds an empty namespace stays",
    "messages": "acknowledged messages per visit to a namespace, at most",
    "interval": "seconds between two messages of a client, at most",
    "idle": "seconds between two visits, at most",
    "ramp": "seconds over which the well-behaved clients start",
    "ack_timeout": "seconds after which a message counts as lost",
    "seed": "random seed",
    "max_namespaces_per_host": "the server's max_namespaces_per_host (0: no limit)",
    "max_creations_per_second": "the server's max_creations_per_second (0: no limit)",
    "hostile": "add the hostile host and its flood",
    "flood_ws": "hostile websocket sessions sending CONNECTs to new names",
    "flood_batch": "CONNECT frames per batch of those (DISCONNECTs follow the accepted)",
    "flood_oversize_every": "batches of a websocket session between two messages over the"
    " size limit, which make the server close it (0: never)",
    "flood_polling": "hostile polling sessions sending POSTs of 16 CONNECTs to new names",
    "flood_rate": "CONNECTs per second of the hostile host at most (0: as fast as it can)",
    "near_limit": "hostile polling sessions sending POSTs just under the size limit",
    "near_limit_rate": "near-limit POSTs per second at most, in all (0: as fast as they can)",
    "raisers": "hostile websocket sessions sending CONNECTs to /raises and /grumpy<N>",
    "raiser_batch": "CONNECTs per batch of those, to each of the two",
}


@dataclass
class Tally:
    sent: int = 0
    acked: int = 0
    lost: int = 0
    wrong: int = 0  # an ACK with other data than the message
    connects: int = 0
    refused: int = 0
    connect_failures: int = 0
    sessions_opened: int = 0
    sessions_lost: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    #: Seconds from each message sent to its ACK, by transport.
    latencies: dict[str, array[float]] = field(
        default_factory=lambda: {"websocket": array("d"), "polling": array("d")}
    )

    def error(self, exc: BaseException) -> None:
        name = type(exc).__name__
        self.errors[name] = self.errors.get(name, 0) + 1


class Soak:
    def __init__(self, config: Config, url: str) -> None:
        self.config = config
        self.url = url
        self.tally = Tally()
        self.random = random.Random(config.seed)
        hosts = [f"h{i}.soak.test" for i in range(config.hosts)]
        self.namespaces: dict[str, list[str]] = {host: [] for host in hosts}
        for k in range(config.namespaces):
            self.namespaces[hosts[k % len(hosts)]].append(f"/ns{k}")
        self.hosts = hosts
        self.deadline = 0.0

    async def run(self) -> None:
        config = self.config
        loop = asyncio.get_running_loop()
        self.deadline = loop.time() + config.ramp + config.duration
        connector = aiohttp.TCPConnector(limit=0, force_close=False)
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=30)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
            clients = [
                self.client(http, i, "websocket" if i < config.ws else "polling")
                for i in range(config.ws + config.polling)
            ]
            await asyncio.gather(*clients)

    async def client(self, http: aiohttp.ClientSession, index: int, transport: str) -> None:
        config, tally = self.config, self.tally
        rng = random.Random(config.seed * 100_003 + index)
        host = self.hosts[index % len(self.hosts)]
        names = self.namespaces[host]
        opener: Callable[..., Awaitable[Connection]] = (
            WebSocketConnection.open if transport == "websocket" else PollingConnection.open
        )
        loop = asyncio.get_running_loop()
        await asyncio.sleep(rng.uniform(0, config.ramp))
        conn: Connection | None = None
        seq = 0
        latencies = tally.latencies[transport]
        try:
            while loop.time() < self.deadline:
                if conn is None or conn.closed.is_set():
                    if conn is not None:
                        tally.sessions_lost += 1
                    conn = await opener(http, self.url, host)
                    tally.sessions_opened += 1
                namespace = rng.choice(names) if names else "/"
                try:
                    await conn.connect(namespace, config.ack_timeout)
                except Refused:
                    tally.refused += 1
                    continue
                except (ConnectionError, TimeoutError, aiohttp.ClientError) as exc:
                    tally.connect_failures += 1
                    tally.error(exc)
                    continue
                tally.connects += 1
                for _ in range(rng.randint(1, config.messages)):
                    seq += 1
                    data = f'{{"c":{index},"n":{seq}}}'
                    tally.sent += 1
                    sent = time.perf_counter()
                    try:
                        answer = await conn.call(namespace, data, config.ack_timeout)
                    except (ConnectionError, TimeoutError, aiohttp.ClientError) as exc:
                        tally.lost += 1
                        tally.error(exc)
                        break
                    latencies.append(time.perf_counter() - sent)
                    tally.acked += 1
                    if answer != f"[{data}]":
                        tally.wrong += 1
                    await asyncio.sleep(rng.uniform(0, config.interval))
                with contextlib.suppress(ConnectionError, aiohttp.ClientError):
                    await conn.disconnect(namespace)
                await asyncio.sleep(rng.uniform(0, config.idle))
        except (ConnectionError, aiohttp.ClientError, OSError) as exc:
            tally.error(exc)
        finally:
            if conn is not None:
                await conn.close()


# -- the hostile tenant -----------------------------------------------------------------


@dataclass
class FloodTally:
    """What the hostile host sent and what it heard back."""

    connects: dict[str, int] = field(default_factory=dict)  # CONNECTs sent, by kind
    #: By kind of CONNECT: "accepted", "unanswered" (no answer within --ack-timeout,
    #: or the session was lost first), and each CONNECT_ERROR's message.
    answers: dict[str, dict[str, int]] = field(default_factory=dict)
    disconnects: int = 0
    posts: dict[str, int] = field(default_factory=dict)  # by kind
    post_statuses: dict[str, int] = field(default_factory=dict)
    near_limit_bytes: int = 0
    oversized_messages: int = 0  # websocket messages over the limit (the server closes)
    sessions_opened: dict[str, int] = field(default_factory=dict)
    sessions_lost: dict[str, int] = field(default_factory=dict)  # and reopened
    errors: dict[str, int] = field(default_factory=dict)

    @staticmethod
    def count(counter: dict[str, int], key: str, n: int = 1) -> None:
        counter[key] = counter.get(key, 0) + n

    def error(self, exc: BaseException) -> None:
        self.count(self.errors, type(exc).__name__)


class Answers:
    """The answers to a batch of CONNECTs of one session, counted as they come."""

    def __init__(self, tally: FloodTally) -> None:
        self.tally = tally
        self.pending = 0
        self.accepted: list[str] = []
        self.counts: dict[str, int] = {}
        self.done = asyncio.Event()

    def expect(self, kind: str, count: int) -> None:
        self.pending = count
        self.accepted = []
        self.counts = self.tally.answers.setdefault(kind, {})
        self.done.clear()

    def answer(self, kind: str, namespace: str, rest: str) -> None:
        if kind == "0":
            self.accepted.append(namespace)
            message = "accepted"
        else:
            try:
                message = str(json.loads(rest)["message"])
            except (ValueError, KeyError, TypeError):
                message = rest[:80]
        self.tally.count(self.counts, message)
        self.pending -= 1
        if self.pending <= 0:
            self.done.set()

    async def wait(self, timeout: float) -> list[str]:
        """The batch's accepted namespaces; what did not answer in time counts as unanswered."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.done.wait(), timeout)
        if self.pending > 0:
            self.tally.count(self.counts, "unanswered", self.pending)
            self.pending = 0
        accepted, self.accepted = self.accepted, []
        return accepted


class Flood:
    """The hostile host's clients, in a process of their own (``soak.py --flood``).

    Each kind of client keeps its session open until ``deadline`` (on
    ``time.monotonic()``), reopening it whenever the server drops it:

    - websocket: batches of ``flood_batch`` CONNECT frames to names never used
      before, then DISCONNECTs from those accepted;
    - polling: POSTs of 16 CONNECTs to new names (the most python-engineio reads
      from one payload), then a POST of the DISCONNECTs;
    - near-limit polling: POSTs just under ``maxPayload``, in turn ``41`` repeated,
      CONNECTs to new names (both more than 16 packets: python-engineio drops
      them unread) and 16 big EVENTs to a namespace it joined;
    - raisers (websocket): CONNECTs to ``/raises`` (refused: its connect handler
      raises), and to ``/grumpy<N>`` then DISCONNECTs (its disconnect handler raises).
    """

    def __init__(self, config: Config, url: str, deadline: float) -> None:
        self.config = config
        self.url = url
        self.deadline = deadline
        self.tally = FloodTally()
        self._serial = 0
        self._next_connects = 0.0
        self._next_post = 0.0
        self._kinds = 0
        self._batches = 0
        self._bodies: dict[tuple[str, int], bytes] = {}

    def running(self) -> bool:
        return time.monotonic() < self.deadline

    def timeout(self) -> float:
        left = self.deadline - time.monotonic()
        return max(1.0, min(self.config.ack_timeout, left + 5))

    def new_names(self, prefix: str, count: int) -> list[str]:
        start, self._serial = self._serial, self._serial + count
        return [f"/{prefix}{n}" for n in range(start, start + count)]

    async def pace_connects(self, count: int) -> None:
        """Wait until ``count`` more CONNECTs keep the host under ``flood_rate``."""
        delay, self._next_connects = _slot(self.config.flood_rate, count, self._next_connects)
        if delay > 0:
            await asyncio.sleep(delay)

    async def pace_post(self) -> None:
        """Wait until one more near-limit POST keeps them under ``near_limit_rate``."""
        delay, self._next_post = _slot(self.config.near_limit_rate, 1, self._next_post)
        if delay > 0:
            await asyncio.sleep(delay)

    async def run(self) -> None:
        config = self.config
        connector = aiohttp.TCPConnector(limit=0, force_close=False)
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=30)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
            jobs = [self.keep(http, "websocket", self.ws_batch) for _ in range(config.flood_ws)]
            jobs += [
                self.keep(http, "polling", self.polling_batch) for _ in range(config.flood_polling)
            ]
            jobs += [
                self.keep(http, "polling", self.near_limit_post) for _ in range(config.near_limit)
            ]
            jobs += [self.keep(http, "websocket", self.raiser_batch) for _ in range(config.raisers)]
            await asyncio.gather(*jobs)

    async def keep(
        self,
        http: aiohttp.ClientSession,
        transport: str,
        work: Callable[[Connection, bool], Awaitable[None]],
    ) -> None:
        """Run ``work`` over a session of ``transport`` until the deadline, reopening it."""
        tally = self.tally
        opener: Callable[..., Awaitable[Connection]] = (
            WebSocketConnection.open if transport == "websocket" else PollingConnection.open
        )
        conn: Connection | None = None
        fresh = False
        try:
            while self.running():
                if conn is None or conn.closed.is_set():
                    if conn is not None:
                        tally.count(tally.sessions_lost, transport)
                        with contextlib.suppress(ConnectionError, aiohttp.ClientError, OSError):
                            await conn.close()
                        conn = None
                    try:
                        conn = await opener(http, self.url, HOSTILE)
                    except (ConnectionError, aiohttp.ClientError, OSError, ValueError) as exc:
                        tally.error(exc)
                        await asyncio.sleep(0.2)
                        continue
                    conn.answers = Answers(tally)
                    tally.count(tally.sessions_opened, transport)
                    fresh = True
                try:
                    await work(conn, fresh)
                except (ConnectionError, aiohttp.ClientError, OSError) as exc:
                    tally.error(exc)
                    conn.lost()  # reopened on the next turn
                fresh = False
        finally:
            if conn is not None:
                with contextlib.suppress(ConnectionError, aiohttp.ClientError, OSError):
                    await conn.close()

    async def connect_all(self, conn: Connection, names: list[str], kind: str) -> None:
        """CONNECT to every name (one frame each), wait for the answers, DISCONNECT
        from those accepted."""
        answers = conn.answers
        assert answers is not None
        answers.expect(kind, len(names))
        for name in names:
            await conn.send(f"40{name},")
            self.tally.count(self.tally.connects, kind)
        for name in await answers.wait(self.timeout()):
            await conn.send(f"41{name},")
            self.tally.disconnects += 1

    async def ws_batch(self, conn: Connection, fresh: bool) -> None:
        self._batches += 1
        every = self.config.flood_oversize_every
        if every and self._batches % every == 0:
            # One byte over the limit: the server closes the websocket; reopened.
            await conn.send('42/x,["' + "x" * (conn.max_payload - 8) + '"]')
            self.tally.oversized_messages += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(conn.closed.wait(), self.timeout())
            return
        await self.pace_connects(self.config.flood_batch)
        await self.connect_all(
            conn, self.new_names("flood", self.config.flood_batch), "new names, websocket"
        )

    async def polling_batch(self, conn: Connection, fresh: bool) -> None:
        assert isinstance(conn, PollingConnection) and conn.answers is not None
        await self.pace_connects(16)
        names = self.new_names("pflood", 16)
        conn.answers.expect("new names, polling", len(names))
        await self.post(conn, "16 CONNECTs", "\x1e".join(f"40{name}," for name in names))
        self.tally.count(self.tally.connects, "new names, polling", len(names))
        accepted = await conn.answers.wait(self.timeout())
        if accepted:
            await self.post(conn, "DISCONNECTs", "\x1e".join(f"41{name}," for name in accepted))
            self.tally.disconnects += len(accepted)

    async def near_limit_post(self, conn: Connection, fresh: bool) -> None:
        assert isinstance(conn, PollingConnection) and conn.answers is not None
        if fresh:  # a namespace for the big EVENTs
            conn.answers.expect("/big (near-limit session)", 1)
            await self.post(conn, "CONNECT /big", "40/big,")
            self.tally.count(self.tally.connects, "/big (near-limit session)")
            await conn.answers.wait(self.timeout())
        await self.pace_post()
        kind = ("41 repeated", "CONNECTs to new names", "16 big EVENTs")[self._kinds % 3]
        self._kinds += 1
        limit = conn.max_payload
        if kind == "CONNECTs to new names":
            packets: list[str] = []
            size = -1
            while True:
                packet = f"40/bulk{self._serial},"
                if size + 1 + len(packet) > limit:
                    break
                packets.append(packet)
                size += 1 + len(packet)
                self._serial += 1
            body = "\x1e".join(packets).encode()
            self.tally.count(self.tally.connects, DROPPED, len(packets))
        else:
            body = self._bodies.get((kind, limit), b"")
            if not body:
                if kind == "41 repeated":
                    body = b"\x1e".join([b"41"] * ((limit + 1) // 3))
                else:
                    empty = len('42/big,["blob",""]')
                    each = (limit - 15) // 16  # 16 packets and 15 separators
                    packet = '42/big,["blob","' + "y" * (each - empty) + '"]'
                    body = "\x1e".join([packet] * 16).encode()
                self._bodies[(kind, limit)] = body
        assert len(body) <= limit, (kind, len(body), limit)
        await self.post(conn, kind, body)
        self.tally.near_limit_bytes += len(body)

    async def raiser_batch(self, conn: Connection, fresh: bool) -> None:
        batch = self.config.raiser_batch
        await self.pace_connects(2 * batch)
        await self.connect_all(conn, ["/raises"] * batch, "/raises (connect handler raises)")
        grumpy = [f"/grumpy{i}" for i in range(batch)]
        await self.connect_all(conn, grumpy, "/grumpy<N> (disconnect handler raises)")

    async def post(self, conn: PollingConnection, kind: str, body: str | bytes) -> None:
        status = await conn.post(body.encode() if isinstance(body, str) else body)
        self.tally.count(self.tally.posts, kind)
        self.tally.count(self.tally.post_statuses, str(status))
        if status != 200:
            raise ConnectionError(f"POST answered {status}")


def _slot(rate: float, count: int, next_at: float) -> tuple[float, float]:
    """A turn to send ``count`` at ``rate`` per second (0: at once): how long to
    wait for it, and from when (``time.monotonic()``) the next one may go."""
    if rate <= 0:
        return 0.0, 0.0
    now = time.monotonic()
    start = max(now, next_at)
    return start - now, start + count / rate


def flood(url: str, config_json: str, deadline: float) -> None:
    """The hostile host's process: flood until ``deadline``; print ``FLOOD <json>``."""
    config = Config(**json.loads(config_json))
    attack = Flood(config, url, deadline)
    started = time.monotonic()
    run_loop(attack.run())
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result = {
        **asdict(attack.tally),
        "seconds": round(time.monotonic() - started, 1),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
    }
    print("FLOOD " + json.dumps(result), flush=True)


def run_loop(main: Awaitable[Any]) -> Any:
    """Run ``main`` on uvloop when it is installed, else asyncio."""

    async def wrapped() -> Any:
        return await main

    try:
        import uvloop
    except ImportError:
        return asyncio.run(wrapped())
    return uvloop.run(wrapped())


async def fetch_json(url: str, path: str) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(url + path, headers={"Host": MAIN}) as response,
    ):
        response.raise_for_status()
        result: dict[str, Any] = await response.json()
        return result


async def run(config: Config) -> dict[str, Any]:
    """Run one soak; return its report (a JSON-able dict)."""
    async with ServerProcess.run(
        config.retirement, config.max_namespaces_per_host, config.max_creations_per_second
    ) as server:
        # warm: the app is imported and serving
        stats_start = await fetch_json(server.url, STATS_PATH)
        memory_start = server.memory()["VmRSS"]
        cpu_start = server.cpu_seconds()
        usage_start = resource.getrusage(resource.RUSAGE_SELF)
        machine_start = machine_cpu()
        started = time.monotonic()
        soak = Soak(config, server.url)
        peak_live = peak_hostile = 0
        timeline: list[dict[str, float]] = []  # RSS and live namespaces

        async def sample() -> None:
            nonlocal peak_live, peak_hostile
            while True:
                await asyncio.sleep(SAMPLE_EVERY)
                try:
                    stats = await fetch_json(server.url, STATS_PATH)
                except aiohttp.ClientError:
                    continue
                live, hostile = stats["live"], stats["hostile_live"]
                peak_live, peak_hostile = max(peak_live, live), max(peak_hostile, hostile)
                rss = server.memory()["VmRSS"] / 2**20
                elapsed = time.monotonic() - started
                timeline.append(
                    {
                        "t": round(elapsed),
                        "rss_mib": round(rss, 1),
                        "live": live,
                        "hostile": hostile,
                    }
                )

        attacker: asyncio.subprocess.Process | None = None
        if config.hostile:
            deadline = time.monotonic() + config.ramp + config.duration
            attacker = await asyncio.create_subprocess_exec(
                sys.executable,
                __file__,
                "--flood",
                server.url,
                json.dumps(asdict(config)),
                repr(deadline),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
            )
        sampler = asyncio.ensure_future(sample())
        flood_report: dict[str, Any] | None = None
        try:
            await soak.run()
            if attacker is not None:
                out, _ = await asyncio.wait_for(attacker.communicate(), 120)
                for line in out.decode().splitlines():
                    if line.startswith("FLOOD "):
                        flood_report = json.loads(line[6:])
        finally:
            if attacker is not None and attacker.returncode is None:
                attacker.kill()
                await attacker.wait()
            sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiohttp.ClientError):
                await sampler
        load_seconds = time.monotonic() - started
        cpu_load = server.cpu_seconds() - cpu_start
        usage_end = resource.getrusage(resource.RUSAGE_SELF)
        machine_end = machine_cpu()
        # Every client has left: wait for the last retirement (bounded).
        left = time.monotonic()
        window = max(0.1, 0.1 * config.retirement)
        limit = left + config.retirement + window + 30
        while True:
            status = await fetch_json(server.url, "/socket.io/status.json")
            stats = await fetch_json(server.url, STATS_PATH)
            if status["totals"]["namespaces"] == 0 and stats["engineio_sessions"] == 0:
                break
            if time.monotonic() > limit:
                break
            await asyncio.sleep(0.1)
        drained = time.monotonic() - left
        memory_end = server.memory()
        await asyncio.sleep(0.2)  # (the log of the last retirements)
        log = read_log(server.log)
    tally = soak.tally
    client_cpu = sum(
        getattr(usage_end, f) - getattr(usage_start, f) for f in ("ru_utime", "ru_stime")
    )
    report: dict[str, Any] = {
        "config": asdict(config),
        "load_seconds": round(load_seconds, 1),
        "messages": {
            "sent": tally.sent,
            "acked": tally.acked,
            "lost": tally.lost,
            "wrong": tally.wrong,
            "handled_by_server": stats["messages"],
            "per_second": round(tally.acked / load_seconds, 1),
        },
        "ack_latency_ms": {
            **latency(tally.latencies["websocket"] + tally.latencies["polling"]),
            "websocket": latency(tally.latencies["websocket"]),
            "polling": latency(tally.latencies["polling"]),
        },
        "connects": {
            "accepted": tally.connects,
            "refused": tally.refused,
            "failed": tally.connect_failures,
            "sessions_opened": tally.sessions_opened,
            "sessions_lost": tally.sessions_lost,
            "errors": tally.errors,
        },
        "namespaces": {
            "created": status["totals"]["created"],
            "retired": status["totals"]["retired"],
            "live_at_end": status["totals"]["namespaces"],
            "peak_live": peak_live,
            "setups": stats["setups"],
            "retire_callbacks": stats["retire_callbacks"],
            "seconds_to_last_retirement": round(drained, 2),
        },
        "server_at_end": {
            "handlers": stats["handlers"],
            "rooms": stats["rooms"],
            "engineio_sessions": stats["engineio_sessions"],
        },
        "server_refused": status["totals"]["refused"],
        "server_package": stats["package"],
        "server_rss_mib": {
            "start": round(memory_start / 2**20, 1),
            "peak": round(memory_end["VmHWM"] / 2**20, 1),
            "end": round(memory_end["VmRSS"] / 2**20, 1),
            "after_warmup": after_warmup(timeline, config.ramp + config.duration / 3),
            "timeline": timeline,
        },
        "server_gc": gc_during(stats_start["gc"], stats["gc"]),
        "server_cpu": {
            "seconds": round(cpu_load, 2),
            "per_message_us": round(1e6 * cpu_load / max(1, tally.acked), 1),
            "busy_fraction": round(cpu_load / load_seconds, 2),
        },
        "client_cpu_seconds": round(client_cpu, 1),
        "machine": machine_report(
            machine_start,
            machine_end,
            cpu_load + client_cpu + (flood_report or {}).get("cpu_seconds", 0.0),
        ),
        "server_log": log,
        "hostile": None,
    }
    if config.hostile:
        report["hostile"] = hostile_report(config, flood_report, timeline, peak_hostile)
    return report


def machine_cpu() -> tuple[float, float]:
    """Busy and total CPU seconds of the whole machine so far (``/proc/stat``)."""
    with open("/proc/stat") as stat:
        fields = [int(value) for value in stat.readline().split()[1:9]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields) - idle) / TICKS, sum(fields) / TICKS


def machine_report(
    start: tuple[float, float], end: tuple[float, float], ours: float
) -> dict[str, float]:
    """How busy the machine was during the load, and how much of that was not the soak's
    (other work on a shared machine): in cores."""
    busy, total = end[0] - start[0], end[1] - start[1]
    seconds = total / max(1, os.cpu_count() or 1)
    return {
        "cpus": os.cpu_count() or 1,
        "busy_cores": round(busy / max(seconds, 1e-9), 2),
        "other_work_cores": round(max(0.0, busy - ours) / max(seconds, 1e-9), 2),
    }


def gc_during(
    before: list[dict[str, float]], after: list[dict[str, float]]
) -> list[dict[str, Any]]:
    """The server's collections between two ``gc`` summaries, by generation (the
    longest pause: since the server started)."""
    return [
        {
            "count": int(b["count"] - a["count"]),
            "seconds": round(b["seconds"] - a["seconds"], 3),
            "max_ms": b["max_ms"],
        }
        for a, b in zip(before, after, strict=True)
    ]


def gc_text(generations: list[dict[str, Any]]) -> str:
    return "; ".join(
        f"generation {i}: {g['count']} collections, {g['seconds']} s, longest {g['max_ms']} ms"
        for i, g in enumerate(generations)
    )


def latency(seconds: array[float]) -> dict[str, float | None]:
    """p50, p99, p99.9 and max of the ack latencies, in ms (nearest rank)."""
    ordered = sorted(seconds)
    if not ordered:
        return {"p50": None, "p99": None, "p999": None, "max": None}

    def rank(q: float) -> float:
        index = max(0, min(len(ordered) - 1, round(q * len(ordered) + 0.5) - 1))
        return round(1000 * ordered[index], 2)

    return {"p50": rank(0.5), "p99": rank(0.99), "p999": rank(0.999), "max": rank(1.0)}


def after_warmup(timeline: list[dict[str, float]], since: float) -> dict[str, float | None]:
    """The RSS samples from ``since`` seconds on: lowest, highest, first, last, and
    the slope of their least-squares line (MiB per minute: 0 when flat)."""
    points = [(point["t"], point["rss_mib"]) for point in timeline if point["t"] >= since]
    if len(points) < 2:
        return {
            "from_s": round(since),
            "min": None,
            "max": None,
            "first": None,
            "last": None,
            "mib_per_minute": None,
        }
    samples = [rss for _, rss in points]
    mean_t = sum(t for t, _ in points) / len(points)
    mean_rss = sum(samples) / len(points)
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    slope = sum((t - mean_t) * (rss - mean_rss) for t, rss in points) / max(spread, 1e-9)
    return {
        "from_s": round(since),
        "min": min(samples),
        "max": max(samples),
        "first": samples[0],
        "last": samples[-1],
        "mib_per_minute": round(60 * slope, 3),
    }


def hostile_report(
    config: Config,
    flood: dict[str, Any] | None,
    timeline: list[dict[str, float]],
    peak: int,
) -> dict[str, Any]:
    limit = config.max_namespaces_per_host or None
    at_limit = sum(1 for point in timeline if limit is not None and point["hostile"] >= limit)
    result: dict[str, Any] = {
        "host": HOSTILE,
        "ran": flood is not None,
        "namespaces_peak": peak,
        "namespaces_limit": limit,
        "samples_at_limit": at_limit,
        "samples": len(timeline),
    }
    if flood is None:
        return result
    seconds = max(flood["seconds"], 1e-9)
    dropped = flood["connects"].get(DROPPED, 0)
    connects = sum(flood["connects"].values()) - dropped
    posts = sum(flood["posts"].values())
    near = sum(n for kind, n in flood["posts"].items() if kind in NEAR_LIMIT_KINDS)
    result.update(
        {
            "seconds": flood["seconds"],
            "client_cpu_seconds": flood["cpu_seconds"],
            "connects_sent": connects,  # that the server reads
            "connects_per_second": round(connects / seconds),
            "connects_in_dropped_posts": dropped,
            "connects_by_kind": {k: n for k, n in flood["connects"].items() if k != DROPPED},
            "answers": flood["answers"],
            "accepted": sum(a.get("accepted", 0) for a in flood["answers"].values()),
            "refused": refusals(flood["answers"]),
            "unanswered": sum(a.get("unanswered", 0) for a in flood["answers"].values()),
            "disconnects_sent": flood["disconnects"],
            "posts": posts,
            "posts_per_second": round(posts / seconds, 1),
            "posts_by_kind": flood["posts"],
            "post_statuses": flood["post_statuses"],
            "near_limit_posts": near,
            "near_limit_posts_per_second": round(near / seconds, 2),
            "near_limit_mib": round(flood["near_limit_bytes"] / 2**20, 1),
            "oversized_messages": flood["oversized_messages"],
            "sessions_opened": flood["sessions_opened"],
            "sessions_lost_and_reopened": flood["sessions_lost"],
            "errors": flood["errors"],
        }
    )
    return result


NEAR_LIMIT_KINDS = ("41 repeated", "CONNECTs to new names", "16 big EVENTs")
#: CONNECTs in near-limit POSTs, which python-engineio drops unread (more than 16 packets).
DROPPED = "new names, in near-limit POSTs (dropped unread)"


def refusals(answers: dict[str, dict[str, int]]) -> dict[str, int]:
    """The CONNECT_ERRORs of every kind of CONNECT, by message."""
    result: dict[str, int] = {}
    for counts in answers.values():
        for message, n in counts.items():
            if message not in ("accepted", "unanswered"):
                result[message] = result.get(message, 0) + n
    return result


def read_log(path: str) -> dict[str, Any]:
    """The server's stderr, summed up: its messages by kind, the exceptions of its tracebacks."""
    kinds = {
        "connect handler raised": re.compile(r"connect handler of .* raised"),
        "disconnect handler raised": re.compile(r"disconnect handler of .* raised"),
        "python-engineio: post request handler error": re.compile(r"post request handler error"),
    }
    messages: dict[str, int] = {}
    exceptions: dict[str, int] = {}
    other: list[str] = []
    lines = 0
    in_traceback = False
    with open(path, errors="replace") as log:
        for line in log:
            lines += 1
            line = line.rstrip("\n")
            if line.startswith("Traceback (most recent call last):"):
                in_traceback = True
                continue
            if not line.strip() or line[:1].isspace():
                continue
            if in_traceback:  # the exception that ends it
                in_traceback = False
                name = line.split(":", 1)[0]
                exceptions[name] = exceptions.get(name, 0) + 1
                continue
            if line.startswith(("During handling of", "The above exception")):
                continue
            for kind, pattern in kinds.items():
                if pattern.search(line) and not (
                    kind == "connect handler raised" and "disconnect handler" in line
                ):
                    messages[kind] = messages.get(kind, 0) + 1
                    break
            else:
                messages["other"] = messages.get("other", 0) + 1
                if len(other) < 5:
                    other.append(line[:200])
    return {"lines": lines, "messages": messages, "exceptions": exceptions, "other": other}


def ok(report: dict[str, Any]) -> bool:
    """No message lost or answered wrongly, no namespace outlived the run, and the
    hostile host (if any) did flood."""
    messages, namespaces = report["messages"], report["namespaces"]
    hostile = report.get("hostile")
    return (
        messages["lost"] == 0
        and messages["wrong"] == 0
        and messages["sent"] == messages["acked"] == messages["handled_by_server"]
        and namespaces["live_at_end"] == 0
        and namespaces["created"] == namespaces["retired"]
        and (hostile is None or bool(hostile["ran"] and hostile["connects_sent"]))
    )


def summary(report: dict[str, Any]) -> str:
    m, n, c = report["messages"], report["namespaces"], report["connects"]
    rss, cpu, cfg = report["server_rss_mib"], report["server_cpu"], report["config"]
    lat, log, warm = report["ack_latency_ms"], report["server_log"], rss["after_warmup"]
    lines = [
        f"{cfg['ws']} websocket + {cfg['polling']} polling clients, {cfg['hosts']} hosts, "
        f"{cfg['namespaces']} namespaces, retirement {cfg['retirement']} s, "
        f"max_namespaces_per_host {cfg['max_namespaces_per_host'] or 'none'}, "
        f"max_creations_per_second {cfg.get('max_creations_per_second') or 'none'}, "
        f"{'with' if cfg['hostile'] else 'without'} the hostile host, "
        f"{report['load_seconds']} s of load",
        f"messages: {m['sent']} sent, {m['acked']} acknowledged, {m['lost']} lost, "
        f"{m['wrong']} wrong, {m['handled_by_server']} handled by the server "
        f"({m['per_second']}/s)",
        f"ack latency: p50 {lat['p50']} ms, p99 {lat['p99']} ms, p99.9 {lat['p999']} ms, "
        f"max {lat['max']} ms (websocket: p50 {lat['websocket']['p50']}, p99 "
        f"{lat['websocket']['p99']}; polling: p50 {lat['polling']['p50']}, p99 "
        f"{lat['polling']['p99']})",
        f"CONNECTs: {c['accepted']} accepted, {c['refused']} refused, {c['failed']} failed; "
        f"sessions: {c['sessions_opened']} opened, {c['sessions_lost']} lost; "
        f"errors: {c['errors'] or 'none'}",
        f"namespaces: {n['created']} created, {n['retired']} retired, "
        f"{n['live_at_end']} live at the end (peak {n['peak_live']}), "
        f"last retirement {n['seconds_to_last_retirement']} s after the clients left",
        f"server RSS: {rss['start']} MiB at start, {rss['peak']} MiB peak, "
        f"{rss['end']} MiB at the end; during the load: {quarters(rss['timeline'])}; "
        f"from {warm['from_s']} s on: {warm['min']}-{warm['max']} MiB, "
        f"{warm['mib_per_minute']} MiB/min",
        f"server CPU: {cpu['seconds']} s, {cpu['per_message_us']} us per message, "
        f"{cpu['busy_fraction']:.0%} of one core; clients' CPU: "
        f"{report['client_cpu_seconds']} s",
        f"server GC during the load: {gc_text(report['server_gc'])}",
        f"machine: {report['machine']['busy_cores']} of {report['machine']['cpus']} cores "
        f"busy during the load, {report['machine']['other_work_cores']} of them with other "
        "work than the soak's",
        f"server refusals by reason: {report['server_refused']}; package "
        f"{report['server_package']}",
        f"server log: {log['lines']} lines; messages {log['messages'] or 'none'}; "
        f"exceptions {log['exceptions'] or 'none'}",
    ]
    lines += [f"  server log: {line}" for line in log["other"]]
    h = report.get("hostile")
    if h is not None and not h["ran"]:
        lines.append("hostile host: its process reported nothing")
    elif h is not None:
        lines += [
            f"hostile host {h['host']} ({h['seconds']} s, its process used "
            f"{h['client_cpu_seconds']} s of CPU): {h['connects_sent']} CONNECTs sent "
            f"({h['connects_per_second']}/s), and {h['connects_in_dropped_posts']} more in "
            "near-limit POSTs of more than 16 packets (dropped unread)",
            f"  answers: {h['accepted']} accepted, refused {h['refused'] or 'none'}, "
            f"{h['unanswered']} unanswered; {h['disconnects_sent']} DISCONNECTs sent",
        ]
        lines += [
            f"    {kind}: {h['connects_by_kind'].get(kind, 0)} sent, answers {counts}"
            for kind, counts in h["answers"].items()
        ]
        lines += [
            f"  POSTs: {h['posts']} ({h['posts_per_second']}/s) {h['posts_by_kind']}, "
            f"answered {h['post_statuses']}; near-limit: {h['near_limit_posts']} "
            f"({h['near_limit_posts_per_second']}/s, {h['near_limit_mib']} MiB)",
            f"  sessions opened {h['sessions_opened']}, lost and reopened "
            f"{h['sessions_lost_and_reopened'] or 'none'} ({h['oversized_messages']} websocket "
            f"messages over the limit sent); errors {h['errors'] or 'none'}",
            f"  its namespaces: peak {h['namespaces_peak']} (limit {h['namespaces_limit']}"
            f"{over_limit(h)}), at the limit in {h['samples_at_limit']} of {h['samples']} "
            "samples",
        ]
    lines.append("OK" if ok(report) else "FAILED")
    return "\n".join(lines)


def over_limit(hostile: dict[str, Any]) -> str:
    limit = hostile["namespaces_limit"]
    if limit is None or hostile["namespaces_peak"] <= limit:
        return ""
    return f", {hostile['namespaces_peak'] - limit} over it"


def quarters(timeline: list[dict[str, float]]) -> str:
    """The RSS at each quarter of the load: a plateau, or a climb that would be a leak."""
    if not timeline:
        return "no samples"
    picks = [timeline[min(len(timeline) - 1, len(timeline) * q // 4)] for q in (0, 1, 2, 3)]
    picks.append(timeline[-1])
    return ", ".join(f"{p['rss_mib']} MiB at {p['t']:.0f} s" for p in picks)


def compare(earlier: dict[str, Any], this: dict[str, Any]) -> str:
    """Two reports side by side: an earlier run's (``--against``) and this one's."""

    def row(label: str, pick: Callable[[dict[str, Any]], Any]) -> str:
        cells = []
        for report in (earlier, this):
            try:
                cells.append(str(pick(report)))
            except (KeyError, TypeError):  # a report of an older soak.py
                cells.append("n/a")
        return f"| {label} | {cells[0]} | {cells[1]} |"

    def lat(report: dict[str, Any], key: str) -> Any:
        return report["ack_latency_ms"][key]

    p99 = (lat(this, "p99") or 0) / max(lat(earlier, "p99") or 0, 1e-9)
    lines = [
        "| | earlier run (--against) | this run |",
        "|---|---|---|",
        row("hostile host", lambda r: "yes" if r["config"]["hostile"] else "no"),
        row(
            "messages sent / acked / lost",
            lambda r: "{sent} / {acked} / {lost}".format(**r["messages"]),
        ),
        row(
            "ack latency p50 / p99 / p99.9 ms",
            lambda r: "{p50} / {p99} / {p999}".format(**r["ack_latency_ms"]),
        ),
        row(
            "websocket / polling p99 ms",
            lambda r: "{} / {}".format(
                r["ack_latency_ms"]["websocket"]["p99"], r["ack_latency_ms"]["polling"]["p99"]
            ),
        ),
        row(
            "RSS start / peak / end MiB",
            lambda r: "{start} / {peak} / {end}".format(**r["server_rss_mib"]),
        ),
        row(
            "RSS after warm-up: min-max MiB, slope",
            lambda r: "{min}-{max}, {mib_per_minute} MiB/min (from {from_s} s)".format(
                **r["server_rss_mib"]["after_warmup"]
            ),
        ),
        row("namespaces live at the end", lambda r: r["namespaces"]["live_at_end"]),
        row("server CPU, share of a core", lambda r: f"{r['server_cpu']['busy_fraction']:.0%}"),
        row(
            "full collections, longest pause ms",
            lambda r: "{count}, {max_ms}".format(**r["server_gc"][2]) if "server_gc" in r else "-",
        ),
        row("other work on the machine, cores", lambda r: r["machine"]["other_work_cores"]),
        f"p99 ack latency, this run / the earlier one: {p99:.2f}",
    ]
    return "\n".join(lines)


def main() -> None:
    defaults = Config()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--flood", nargs=3, help=argparse.SUPPRESS)  # URL CONFIG DEADLINE
    for name, value in asdict(defaults).items():
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            parser.add_argument(flag, action="store_true", help=HELP[name])
        else:
            parser.add_argument(
                flag, type=type(value), default=value, metavar="N", help=f"{HELP[name]} ({value})"
            )
    parser.add_argument("--json", metavar="FILE", help="also write the report there")
    parser.add_argument(
        "--against",
        metavar="FILE",
        help="a report (--json) of an earlier run to print side by side with this one",
    )
    args = parser.parse_args()
    if args.serve:
        serve(
            args.retirement,
            args.max_namespaces_per_host or None,
            args.max_creations_per_second or None,
        )
        return
    if args.flood:
        url, config_json, deadline = args.flood
        flood(url, config_json, float(deadline))
        return
    config = Config(**{name: getattr(args, name) for name in asdict(defaults)})
    report = run_loop(run(config))
    print(summary(report))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(report, out, indent=2)
    if args.against:
        with open(args.against) as earlier:
            print(compare(json.load(earlier), report))
    sys.exit(0 if ok(report) else 1)


if __name__ == "__main__":
    main()
