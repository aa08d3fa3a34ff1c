"""Helpers for the multi-process tests: a real redis-server, server processes, recording clients.

Everything listens on 127.0.0.1. Redis gets a port picked from the OS (bound, released,
then given to redis-server; a start that loses the port to someone else is retried on
another one). Each server process runs ``examples/multiprocess/app.py``, which binds a
port from the OS itself and prints ``PORT <n>``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import redis
import socketio
import yarl

TIMEOUT = 20.0
ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "examples" / "multiprocess" / "app.py"
CHANNEL = "dynamic-io-test"


def free_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def free_ports(count: int) -> list[int]:
    """``count`` different ports on 127.0.0.1 that were free a moment ago."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


def wait_until(condition: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    """Poll ``condition`` until it holds; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.02)


async def eventually(condition: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    """``wait_until`` for async code: polls without blocking the event loop."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


def stop_process(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if it lingers."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class RedisServer:
    """A throw-away redis-server in ``folder``: no persistence, loopback only."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, port: int | None = None) -> None:
        """Start on ``port`` (a restart), or on a free port; return once it answers PING."""
        for _attempt in range(5):
            self.port = port or free_port()
            log = open(self.folder / "redis.log", "ab")  # the process keeps its own copy
            self.process = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                 "--save", "", "--appendonly", "no", "--dir", str(self.folder)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            )  # fmt: skip
            log.close()
            if self._wait_ready():
                return
            stop_process(self.process)
            if port is not None:
                break
        raise RuntimeError(f"redis-server did not start: {self.log()}")

    def _wait_ready(self) -> bool:
        assert self.process is not None
        client = redis.Redis(port=self.port, socket_timeout=1)
        deadline = time.monotonic() + TIMEOUT
        try:
            while time.monotonic() < deadline and self.process.poll() is None:
                try:
                    if client.ping():
                        return True
                except redis.ConnectionError:
                    time.sleep(0.02)
            return False
        finally:
            client.close()

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None

    def subscribers(self, channel: str = CHANNEL) -> int:
        """How many clients listen on ``channel`` (``PUBSUB NUMSUB``)."""
        with redis.Redis(port=self.port, socket_timeout=2) as client:
            return int(dict(client.pubsub_numsub(channel))[channel.encode()])

    def log(self) -> str:
        path = self.folder / "redis.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""


class AppProcess:
    """``examples/multiprocess/app.py`` in a subprocess, configured by environment variables."""

    def __init__(self, name: str, folder: Path, env: dict[str, str]) -> None:
        self.name = name
        self.log_path = folder / f"{name}.log"
        self.env = env
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> AppProcess:
        """Start the process and wait until it listens."""
        self.start_async()
        self.wait_started()
        return self

    def start_async(self) -> None:
        env = {**os.environ, "DYNAMIC_IO_NAME": self.name, "DYNAMIC_IO_CONTROL": "1", **self.env}
        env.pop("PORT", None)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(APP)],
                cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log,
            )  # fmt: skip

    def wait_started(self) -> None:
        """Read ``PORT <n>`` from the process (it listens from then on)."""
        assert self.process is not None and self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], TIMEOUT)
        line = self.process.stdout.readline() if ready else b""
        if not line.startswith(b"PORT "):
            self.stop()
            raise RuntimeError(f"{self.name} did not start: {line!r}\n{self.log()}")
        self.port = int(line.split()[1])

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            if self.process.stdout is not None:
                self.process.stdout.close()
            self.process = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


def start_cluster(folder: Path, redis_url: str, count: int, **env: str) -> list[AppProcess]:
    """``count`` server processes ``p1``..``pN`` on one Redis channel, started in parallel."""
    common = {"REDIS_URL": redis_url, "REDIS_CHANNEL": CHANNEL, "DYNAMIC_IO_HOST": "main.test"}
    processes = [AppProcess(f"p{i}", folder, {**common, **env}) for i in range(1, count + 1)]
    try:
        # The imports take most of the start-up: let them overlap.
        for process in processes:
            process.start_async()
        for process in processes:
            process.wait_started()
    except BaseException:
        for process in processes:
            process.stop()
        raise
    return processes


async def control(url: str, action: str, **body: Any) -> Any:
    """POST ``/control/<action>`` to a server process; its JSON answer."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT)) as http:
        async with http.post(f"{url}/control/{action}", json=body) as response:
            answer = await response.json()
            if response.status != 200:
                raise AssertionError(f"{action} failed: {response.status} {answer}")
            return answer


class Recorder:
    """Every event and namespace disconnect a client sees, in arrival order.

    Events are recorded as ``(namespace, event, data)``; a namespace disconnect
    as ``(namespace, "disconnect", reason)``. Events the server ``call()``s are
    answered with ``{"echo": data}``.
    """

    def __init__(self, sio: socketio.AsyncClient) -> None:
        self.sio = sio
        self.events: list[tuple[str, str, Any]] = []
        self._changed = asyncio.Event()
        sio.on("*", self._event, namespace="*")
        sio.on("disconnect", self._disconnect, namespace="*")

    def _event(self, event: str, namespace: str, *args: Any) -> Any:
        data = args[0] if len(args) == 1 else list(args)
        self._record(namespace, event, data)
        return {"echo": data}

    def _disconnect(self, namespace: str, reason: Any = None) -> None:
        self._record(namespace, "disconnect", str(reason))

    def _record(self, namespace: str, event: str, data: Any) -> None:
        self.events.append((namespace, event, data))
        self._changed.set()

    def received(self, event: str, namespace: str | None = None) -> list[Any]:
        """The data of each ``event`` received (in ``namespace``, or in any)."""
        return [d for n, e, d in self.events if e == event and namespace in (None, n)]

    async def wait_for(
        self, event: str, data: Any, namespace: str | None = None, timeout: float = TIMEOUT
    ) -> None:
        """Until ``event`` with ``data`` arrived (in ``namespace``, or in any)."""
        async with asyncio.timeout(timeout):
            while data not in self.received(event, namespace):
                self._changed.clear()
                await self._changed.wait()


@contextlib.asynccontextmanager
async def recorded_client(
    url: str,
    host: str,
    namespaces: list[str],
    transports: list[str],
    cookies: dict[str, str] | None = None,
) -> AsyncIterator[tuple[socketio.AsyncClient, Recorder]]:
    """A connected client of ``host``, recorded from the start.

    python-engineio sends extra headers with the handshake only, so ``cookies`` go
    into the client's cookie jar, as a browser would send them: on every request.
    A python-socketio polling client's ``disconnect()`` waits for its pending
    long-poll, which the server only answers at its next ping (25 s): end polling
    clients with :func:`hang_up` first.
    """
    jar = aiohttp.CookieJar(unsafe=True)  # unsafe: also for an IP address like 127.0.0.1
    jar.update_cookies(cookies or {}, yarl.URL(url))
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        sio = socketio.AsyncClient(reconnection=False, http_session=http)
        recorder = Recorder(sio)
        await sio.connect(
            url,
            headers={"Host": host},
            namespaces=namespaces,
            transports=transports,
            wait_timeout=TIMEOUT,
        )
        try:
            yield sio, recorder
        finally:
            await sio.disconnect()


async def hang_up(sio: socketio.AsyncClient, url: str, full_namespace: str, namespace: str) -> None:
    """Have the process at ``url`` close the client's connection, and wait until it noticed."""
    await control(url, "close", namespace=full_namespace, sid=sio.get_sid(namespace))
    await eventually(lambda: sio.eio.state == "disconnected", "the client to be disconnected")
