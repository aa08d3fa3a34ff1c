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
``/proc``). Exit status 1 when a message was lost or a namespace outlived the
run. ::

    .venv/bin/python benchmarks/soak.py --duration 180
    .venv/bin/python benchmarks/soak.py --ws 50 --polling 10 --hosts 4 --namespaces 20 --duration 20
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import aiohttp

MAIN = "main.soak.test"
PATH = "/socket.io/?EIO=4&transport="
STATS_PATH = "/soak/stats"
STARTUP_TIMEOUT = 30.0
TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


# -- server -----------------------------------------------------------------------------


def build_app(retirement: float) -> Any:
    """The soak server: every namespace echoes ``msg``; counters at ``/soak/stats``."""
    import socketio

    from dynamic_io_asgi import DynamicIO

    counters = {"messages": 0, "setups": 0, "retire_callbacks": 0}

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
        sio = app.sio
        body = json.dumps(
            {
                **counters,
                "created": app.created,
                "retired": app.retired,
                "live": len(app.namespaces),
                "handlers": len(sio.handlers),
                "rooms": len(sio.manager.rooms),
                "engineio_sessions": sum(not s.closed for s in sio.eio.sockets.values()),
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

    return app


def serve(retirement: float) -> None:
    """Run the soak server on 127.0.0.1:<port from the OS>; print ``PORT <n>``."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(4096)
    config = uvicorn.Config(
        build_app(retirement), log_level="warning", lifespan="on", timeout_graceful_shutdown=2
    )
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    uvicorn.Server(config).run(sockets=[sock])


class ServerProcess:
    """The server subprocess and its numbers from ``/proc``."""

    def __init__(self, process: asyncio.subprocess.Process, port: int) -> None:
        self.process = process
        self.url = f"http://127.0.0.1:{port}"

    @classmethod
    @contextlib.asynccontextmanager
    async def run(cls, retirement: float) -> AsyncIterator[ServerProcess]:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--serve",
            "--retirement",
            str(retirement),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
        )
        try:
            assert process.stdout is not None
            line = await asyncio.wait_for(process.stdout.readline(), STARTUP_TIMEOUT)
            if not line.startswith(b"PORT "):
                raise RuntimeError(f"the soak server did not start: {line!r}")
            yield cls(process, int(line.split()[1]))
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
        return cls(ws)

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
        sid = json.loads(opening[1:])["sid"]
        return cls(http, f"{url}{PATH}polling&sid={sid}", host)

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
        async with self._http.post(
            self._url, data=packet.encode(), headers=self._headers
        ) as response:
            await response.read()
        if response.status != 200:
            raise ConnectionError(f"POST answered {response.status}")

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
                    try:
                        answer = await conn.call(namespace, data, config.ack_timeout)
                    except (ConnectionError, TimeoutError, aiohttp.ClientError) as exc:
                        tally.lost += 1
                        tally.error(exc)
                        break
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
    async with ServerProcess.run(config.retirement) as server:
        await fetch_json(server.url, STATS_PATH)  # warm: the app is imported and serving
        memory_start = server.memory()["VmRSS"]
        cpu_start = server.cpu_seconds()
        started = time.monotonic()
        soak = Soak(config, server.url)
        peak_live = 0
        timeline: list[dict[str, float]] = []  # every 5 s: RSS and live namespaces

        async def sample() -> None:
            nonlocal peak_live
            while True:
                await asyncio.sleep(5)
                status = await fetch_json(server.url, "/socket.io/status.json")
                live = status["totals"]["namespaces"]
                peak_live = max(peak_live, live)
                rss = server.memory()["VmRSS"] / 2**20
                elapsed = time.monotonic() - started
                timeline.append({"t": round(elapsed), "rss_mib": round(rss, 1), "live": live})

        sampler = asyncio.ensure_future(sample())
        try:
            await soak.run()
        finally:
            sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiohttp.ClientError):
                await sampler
        load_seconds = time.monotonic() - started
        cpu_load = server.cpu_seconds() - cpu_start
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
    tally = soak.tally
    return {
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
        "server_rss_mib": {
            "start": round(memory_start / 2**20, 1),
            "peak": round(memory_end["VmHWM"] / 2**20, 1),
            "end": round(memory_end["VmRSS"] / 2**20, 1),
            "timeline": timeline,
        },
        "server_cpu": {
            "seconds": round(cpu_load, 2),
            "per_message_us": round(1e6 * cpu_load / max(1, tally.acked), 1),
            "busy_fraction": round(cpu_load / load_seconds, 2),
        },
    }


def ok(report: dict[str, Any]) -> bool:
    """No message lost or answered wrongly, and no namespace outlived the run."""
    messages, namespaces = report["messages"], report["namespaces"]
    return (
        messages["lost"] == 0
        and messages["wrong"] == 0
        and messages["sent"] == messages["acked"] == messages["handled_by_server"]
        and namespaces["live_at_end"] == 0
        and namespaces["created"] == namespaces["retired"]
    )


def summary(report: dict[str, Any]) -> str:
    m, n, c = report["messages"], report["namespaces"], report["connects"]
    rss, cpu, cfg = report["server_rss_mib"], report["server_cpu"], report["config"]
    return "\n".join(
        [
            f"{cfg['ws']} websocket + {cfg['polling']} polling clients, {cfg['hosts']} hosts, "
            f"{cfg['namespaces']} namespaces, retirement {cfg['retirement']} s, "
            f"{report['load_seconds']} s of load",
            f"messages: {m['sent']} sent, {m['acked']} acknowledged, {m['lost']} lost, "
            f"{m['wrong']} wrong, {m['handled_by_server']} handled by the server "
            f"({m['per_second']}/s)",
            f"CONNECTs: {c['accepted']} accepted, {c['refused']} refused, {c['failed']} failed; "
            f"sessions: {c['sessions_opened']} opened, {c['sessions_lost']} lost; "
            f"errors: {c['errors'] or 'none'}",
            f"namespaces: {n['created']} created, {n['retired']} retired, "
            f"{n['live_at_end']} live at the end (peak {n['peak_live']}), "
            f"last retirement {n['seconds_to_last_retirement']} s after the clients left",
            f"server RSS: {rss['start']} MiB at start, {rss['peak']} MiB peak, "
            f"{rss['end']} MiB at the end; during the load: {quarters(rss['timeline'])}",
            f"server CPU: {cpu['seconds']} s, {cpu['per_message_us']} us per message, "
            f"{cpu['busy_fraction']:.0%} of one core",
            "OK" if ok(report) else "FAILED",
        ]
    )


def quarters(timeline: list[dict[str, float]]) -> str:
    """The RSS at each quarter of the load: a plateau, or a climb that would be a leak."""
    if not timeline:
        return "no samples"
    picks = [timeline[min(len(timeline) - 1, len(timeline) * q // 4)] for q in (0, 1, 2, 3)]
    picks.append(timeline[-1])
    return ", ".join(f"{p['rss_mib']} MiB at {p['t']:.0f} s" for p in picks)


def main() -> None:
    defaults = Config()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    for name, value in asdict(defaults).items():
        parser.add_argument(
            "--" + name.replace("_", "-"), type=type(value), default=value, metavar="N"
        )
    parser.add_argument("--json", metavar="FILE", help="also write the report there")
    args = parser.parse_args()
    if args.serve:
        serve(args.retirement)
        return
    config = Config(**{name: getattr(args, name) for name in asdict(defaults)})
    try:
        import uvloop
    except ImportError:
        report = asyncio.run(run(config))
    else:
        report = uvloop.run(run(config))
    print(summary(report))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(report, out, indent=2)
    sys.exit(0 if ok(report) else 1)


if __name__ == "__main__":
    main()
