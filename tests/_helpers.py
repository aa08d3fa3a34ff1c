"""Helpers shared by the test modules: a real uvicorn server on 127.0.0.1 with a port
from the OS, a connected python-socketio client, and scripts imported from their files.
(The fixtures are in ``conftest.py``.)"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any

import socketio
import uvicorn

TIMEOUT = 20.0

#: Debian's Chromium, and how the browser tests run it: headless as root, every
#: ``*.test`` host on 127.0.0.1.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--no-proxy-server",
    "--host-resolver-rules=MAP *.test 127.0.0.1",
]


def chromium_args(*ports: int | None) -> list[str]:
    """``CHROMIUM_ARGS``, and leave to use these ports (Chromium blocks some by default)."""
    allowed = ",".join(str(port) for port in ports)
    return [*CHROMIUM_ARGS, f"--explicitly-allowed-ports={allowed}"]


@contextlib.asynccontextmanager
async def serve(app: Any, **options: Any) -> AsyncIterator[str]:
    """Run ``app`` under uvicorn on 127.0.0.1:<free port>; yield its base URL.

    ``options`` go to ``uvicorn.Config`` (for example ``proxy_headers=False``).
    """
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", lifespan="on", **options
    )
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(TIMEOUT):
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        async with asyncio.timeout(TIMEOUT):
            await task


@contextlib.asynccontextmanager
async def client(
    url: str,
    host: str | None = None,
    *,
    namespaces: list[str] | None = None,
    transports: list[str] | None = None,
    serializer: str = "default",
    **kwargs: Any,
) -> AsyncIterator[socketio.AsyncClient]:
    """A connected python-socketio ``AsyncClient`` whose requests carry ``Host: host``."""
    sio = socketio.AsyncClient(serializer=serializer, reconnection=False)
    headers = {"Host": host} if host else {}
    await sio.connect(
        url,
        headers=headers,
        namespaces=namespaces or ["/"],
        transports=transports or ["websocket"],
        wait_timeout=TIMEOUT,
        **kwargs,
    )
    try:
        yield sio
    finally:
        await sio.disconnect()


def load_script(path: Path, name: str | None = None) -> ModuleType:
    """A script outside the package (an example, the fuzz target, a benchmark), imported
    from its file as module ``name`` (default: the file's stem); a new name, a fresh copy."""
    name = name or path.stem
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module
