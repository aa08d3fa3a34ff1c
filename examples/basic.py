"""A plain python-socketio server with virtual hosts and namespaces on demand.

    uvicorn examples.basic:app --port 8000

Clients of http://localhost:8000 (or http://127.0.0.1:8000, the address uvicorn
prints) are on the main host; a client of
http://alpha.localhost:8000 has namespaces of its own: its `/chat` is `//alpha.localhost/chat`
inside the server, created the first time someone connects to it and deleted
30 seconds after the last one leaves.
"""

from __future__ import annotations

import re
from typing import Any

import socketio

from dynamic_io_asgi import DynamicIO, DynamicNamespace

sio = socketio.AsyncServer(async_mode="asgi")
app = DynamicIO(
    socketio.ASGIApp(sio),
    host=["localhost", "127.0.0.1", "::1"],  # the main host, by each name uvicorn is reached at
    public_status=True,
    retirement=10.0,
)


@sio.on("ping")  # a static handler on the main host's "/": plain python-socketio
async def ping(sid: str, data: Any) -> str:
    return "pong"


@app.setup_namespace("*")
async def setup(nsp: DynamicNamespace, match: re.Match[str]) -> bool:
    """Every name on every host: a chat room that echoes to everyone in it."""
    if nsp.name.startswith("/private"):
        return False  # the client gets CONNECT_ERROR "Invalid namespace"
    nsp.retirement = max(nsp.retirement, 30.0)

    @nsp.on("connect")
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        print(f"{sid} joined {nsp.fullname}")

    @nsp.on("chat")
    async def chat(sid: str, data: Any) -> str:
        await nsp.emit("chat", data)  # only to this namespace of this host
        return "delivered"

    @nsp.on_retire
    def retired(nsp: DynamicNamespace) -> None:
        print(f"{nsp.fullname} retired")

    return True


@app.setup_namespace(re.compile(r"^(//[^/]+)?/admin$"))
def admin(nsp: DynamicNamespace, match: re.Match[str]) -> None:
    """A later, more specific pattern wins over "*" for /admin on every host."""

    @nsp.on("connect")
    def connect(sid: str, environ: dict[str, Any], auth: Any) -> bool:
        return bool(auth and auth.get("token") == "secret")


@app.on_refuse
def refused(fullname: str, host: str | None, reason: str) -> None:
    """Every refused CONNECT, whatever refused it: a setup, a limit, a timeout."""
    print(f"refused {fullname} ({reason})")
