"""Run an example by its documented command line, as a subprocess on 127.0.0.1.

The commands are written as the docs write them (``uvicorn examples.basic:app --port 8000``,
``.venv/bin/uvicorn`` being the uvicorn beside this test's Python), with ``{port}`` standing
for the port: a free one from the OS, tried again on another if the server loses it before
it binds. Readiness is an HTTP answer from the server (any status), polled with bounded
timeouts; the server is stopped with SIGTERM and must exit on its own (uvicorn exits
with status 0 or re-raises the SIGTERM once it has shut down, a shell script exits with 143),
having logged no traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import socketio
from _redis import TIMEOUT, RedisServer, free_port

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
LOCAL_CLIENT = ROOT / "tests/js/node_modules/socket.io-client/dist/socket.io.min.js"
STOP_TIMEOUT = 10.0
PORT_ATTEMPTS = 3


def uvicorn_command() -> list[str]:
    """``.venv/bin/uvicorn`` of the docs: the uvicorn script beside this Python."""
    script = Path(sys.executable).parent / "uvicorn"
    return [str(script)] if script.exists() else [sys.executable, "-m", "uvicorn"]


def demo_command() -> list[str]:
    """The demo, as docs/getting-started.md and its docstring run it from the top."""
    return [*uvicorn_command(), "app:app", "--app-dir", "examples/demo", "--port", "{port}"]


MULTIPROCESS = EXAMPLES / "multiprocess"


def multiprocess_command() -> list[str]:
    """One process of the multi-process example, run from ``examples/multiprocess``."""
    return [*uvicorn_command(), "app:app", "--host", "127.0.0.1", "--port", "{port}"]


@contextlib.contextmanager
def redis_server(folder: Path) -> Iterator[RedisServer]:
    """A throw-away redis-server on a free port of 127.0.0.1 (the test is skipped without one)."""
    if not shutil.which("redis-server"):
        pytest.skip("needs redis-server")
    server = RedisServer(folder)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def example_env(**extra: str) -> dict[str, str]:
    """This process's environment, without the variables the examples read, plus ``extra``.

    ``PYTHONUNBUFFERED``: what the examples print reaches their log at once.
    """
    env = {k: v for k, v in os.environ.items() if k not in ("PORT", "SOCKETIO_CLIENT_JS")}
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


@dataclass
class Running:
    """An example's server process and where it listens."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    killed: bool = False  # SIGTERM did not stop it in time

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def host(self, name: str) -> str:
        """The ``Host`` header a browser sends for ``http://name:PORT/``."""
        return f"{name}:{self.port}"

    def log(self, tail: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-tail:]

    def assert_stopped_cleanly(self) -> None:
        """SIGTERM stopped it by itself, and it logged no traceback."""
        assert not self.killed, f"SIGTERM did not stop it:\n{self.log()}"
        # 0, or the SIGTERM re-raised (uvicorn), or reported as 128 + 15 (a shell script)
        assert self.process.returncode in (0, -signal.SIGTERM, 128 + signal.SIGTERM), self.log()
        assert "Traceback" not in self.log(tail=10**7), self.log()


def _start(argv: list[str], port: int, cwd: Path, env: dict[str, str], log_path: Path) -> Running:
    command = [arg.replace("{port}", str(port)) for arg in argv]
    env = {name: value.replace("{port}", str(port)) for name, value in env.items()}
    with open(log_path, "ab") as log:
        log.write(f"$ {' '.join(command)}\n".encode())
        log.flush()
        process = subprocess.Popen(
            command,
            cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            start_new_session=True,  # its own process group: a SIGKILL of last resort reaches all
        )  # fmt: skip
    return Running(process, port, log_path)


async def _serving(example: Running, deadline: float) -> bool:
    """Until the server answers HTTP (``True``) or its process has exited (``False``)."""
    loop = asyncio.get_running_loop()
    async with httpx.AsyncClient(timeout=2.0) as http:
        while example.process.poll() is None:
            if loop.time() > deadline:
                raise TimeoutError(f"the example did not serve in time:\n{example.log()}")
            try:
                await http.get(example.url + "/")
                return True
            except httpx.TransportError:
                await asyncio.sleep(0.05)
    return False


async def stop(example: Running, timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM; wait (bounded) for the process to exit, else SIGKILL its group."""
    process = example.process
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while process.poll() is None and loop.time() < deadline:
        await asyncio.sleep(0.05)
    if process.poll() is None:
        example.killed = True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@contextlib.asynccontextmanager
async def running(
    argv: list[str],
    log_path: Path,
    *,
    cwd: Path = ROOT,
    env: dict[str, str] | None = None,
    timeout: float = TIMEOUT,
) -> AsyncIterator[Running]:
    """Run ``argv`` until it serves; stop it after the block.

    ``{port}`` in ``argv`` and in the values of ``env`` stands for a free port.

    After the block, ``assert_stopped_cleanly()`` tells whether SIGTERM stopped it within
    ``STOP_TIMEOUT``, without a traceback in its log.
    """
    env = env if env is not None else example_env()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    for _attempt in range(PORT_ATTEMPTS):
        example = _start(argv, free_port(), cwd, env, log_path)
        try:
            if await _serving(example, deadline):
                break
        except BaseException:
            await stop(example)
            raise
    else:
        raise RuntimeError(f"the example did not start:\n{example.log()}")
    try:
        yield example
    finally:
        await stop(example)


@contextlib.asynccontextmanager
async def connected(
    example: Running, host: str, namespace: str, auth: Any = None
) -> AsyncIterator[socketio.AsyncClient]:
    """A python-socketio client of ``http://host:PORT/`` in ``namespace``, over websocket.

    Connecting raises ``socketio.exceptions.ConnectionError`` if the namespace is refused.
    """
    sio = socketio.AsyncClient(reconnection=False)
    await sio.connect(
        example.url,
        headers={"Host": example.host(host)},
        namespaces=[namespace],
        auth=auth,
        transports=["websocket"],
        wait_timeout=TIMEOUT,
    )
    try:
        yield sio
    finally:
        await sio.disconnect()
