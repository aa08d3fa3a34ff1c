"""More ASGI servers: the essentials (hosts, both transports and the upgrade, binary
data) under granian and daphne, each run as a subprocess on 127.0.0.1.

daphne gets a listening socket the test bound to port 0 (``--fd``), so the port
comes from the OS and connections wait in its backlog until it serves them.
granian takes a port number only: the test asks the OS for a free one, and waits
for granian to accept connections on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from _helpers import TIMEOUT, client

HERE = Path(__file__).parent
BIN = Path(sys.executable).parent
SERVERS = {"granian": BIN / "granian", "daphne": BIN / "daphne"}
BLOB = bytes(range(256))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def _accepting(port: int, process: asyncio.subprocess.Process) -> None:
    async with asyncio.timeout(TIMEOUT):
        while True:
            if process.returncode is not None:
                raise AssertionError(f"the server exited with {process.returncode}")
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.05)  # not listening yet: granian is starting
                continue
            writer.close()
            return


@contextlib.asynccontextmanager
async def running(server: str) -> AsyncIterator[str]:
    """``tests/_server_app.py`` under ``server``; yields its base URL."""
    executable = SERVERS[server]
    if not executable.exists() and shutil.which(server) is None:
        pytest.skip(f"{server} is not installed")
    env = {**os.environ, "PYTHONPATH": str(HERE)}
    listener = None
    if server == "daphne":
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        port = listener.getsockname()[1]
        command = [str(executable), "--fd", str(listener.fileno()), "-v", "0", "_server_app:app"]
        pass_fds: tuple[int, ...] = (listener.fileno(),)
    else:
        port = _free_port()
        command = [
            str(executable), "--interface", "asgi", "--host", "127.0.0.1", "--port", str(port),
            "--log-level", "warning", "_server_app:app",
        ]  # fmt: skip
        pass_fds = ()
    process = await asyncio.create_subprocess_exec(
        *command, cwd=HERE, env=env, pass_fds=pass_fds,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        if listener is None:
            await _accepting(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        if listener is not None:
            listener.close()
        process.terminate()
        try:
            async with asyncio.timeout(TIMEOUT):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()


@pytest.mark.parametrize("server", list(SERVERS))
async def test_hosts_transports_and_binary(server: str) -> None:
    expected = {"main.test": "/chat", "alpha.test": "//alpha.test/chat"}
    async with running(server) as url:
        for transports, seen in (
            (["websocket"], "websocket"),
            (["polling"], "polling"),
            (["polling", "websocket"], "websocket"),
        ):
            for host, fullname in expected.items():
                async with client(url, host, namespaces=["/chat"], transports=transports) as c:
                    if transports == ["polling", "websocket"]:
                        async with asyncio.timeout(TIMEOUT):
                            while c.transport() != "websocket":
                                await asyncio.sleep(0.02)  # the upgrade is the client's
                    who: Any = await c.call("whoami", namespace="/chat", timeout=TIMEOUT)
                    assert who == {"fullname": fullname, "transport": seen}, (server, transports)
                    echoed = await c.call("echo", BLOB, namespace="/chat", timeout=TIMEOUT)
                    assert echoed == BLOB
