"""The app that tests/test_servers.py runs under granian and daphne (as a module)."""

from __future__ import annotations

import re
from typing import Any

import socketio

from dynamic_io_asgi import DynamicIO, DynamicNamespace

sio = socketio.AsyncServer(async_mode="asgi")
app = DynamicIO(socketio.ASGIApp(sio), host="main.test", retirement=0.5)


@app.setup_namespace("*")
def setup(nsp: DynamicNamespace, match: re.Match[str]) -> None:
    @nsp.on("whoami")
    def whoami(sid: str) -> dict[str, Any]:
        return {"fullname": nsp.fullname, "transport": sio.transport(sid, nsp.fullname)}

    nsp.on("echo", lambda sid, data: data)
