"""FastAPI routes beside Socket.IO, with virtual hosts and rooms created on demand.

    uvicorn examples.fastapi_app:app --port 8000

The layers, outermost first::

    DynamicIO                  every request; rewrites Socket.IO traffic by host
      socketio.ASGIApp         /socket.io/ to python-socketio, the rest to FastAPI
        FastAPI                /api/..., /docs

Each host has its own rooms: a client of http://alpha.localhost:8000 that joins
``/room/blue`` is in ``//alpha.localhost/room/blue`` inside the server. The REST
routes see the same hosts: ``GET /api/rooms`` on alpha.localhost lists alpha's
live rooms only, and ``POST /api/rooms/blue/announce`` speaks in alpha's blue room.
FastAPI's lifespan still runs: ``socketio.ASGIApp`` hands lifespan to it.
"""

from __future__ import annotations

import re
from typing import Any

import socketio
from fastapi import FastAPI, HTTPException, Request
from pydantic import BaseModel

from dynamic_io_asgi import DynamicIO, DynamicNamespace

ROOM = re.compile(r"^(//[^/]+)?/room/(?P<room>[a-z0-9-]{1,32})$")

sio = socketio.AsyncServer(async_mode="asgi")
api = FastAPI(title="dynamic-io-asgi with FastAPI")
app = DynamicIO(
    socketio.ASGIApp(sio, other_asgi_app=api),
    host=["localhost", "127.0.0.1", "::1"],  # the main host, by each name uvicorn may be reached at
    public_status=True,
)


class Announcement(BaseModel):
    text: str


def host_of(request: Request) -> str | None:
    """The request's virtual host as the middleware sees it (``None``: the main host).

    ``default=""`` makes a Host that is no host name come back as ``""`` rather
    than raise (which would be a 500): answer it with a 400 instead."""
    host = app.resolve_host(request.scope, default="")
    if host == "":
        raise HTTPException(status_code=400, detail="Bad Host header")
    return host


def live_room(request: Request, room: str) -> DynamicNamespace:
    name = f"/room/{room}"
    host = host_of(request)
    nsp = app.namespaces.get(f"//{host}{name}" if host else name)
    if nsp is None:
        raise HTTPException(status_code=404, detail=f"nobody is in {name}")
    return nsp


@api.get("/api/hello")
async def hello(request: Request) -> dict[str, Any]:
    return {"host": host_of(request), "socketio_path": app.socketio_path}


@api.get("/api/rooms")
async def rooms(request: Request) -> list[dict[str, Any]]:
    """This host's live rooms and how many sockets each has."""
    host = host_of(request)
    return [
        {"name": nsp.name, "sockets": len(nsp.sockets)}
        for nsp in app.namespaces.values()
        if nsp.host == host and ROOM.search(nsp.fullname)
    ]


@api.post("/api/rooms/{room}/announce")
async def announce(room: str, announcement: Announcement, request: Request) -> dict[str, Any]:
    nsp = live_room(request, room)
    await nsp.emit("announcement", announcement.text)
    return {"room": nsp.name, "delivered_to": len(nsp.sockets)}


@app.setup_namespace(ROOM)
def setup_room(nsp: DynamicNamespace, match: re.Match[str]) -> None:
    """A chat room per name and host; it retires 10 s after its last client leaves."""

    @nsp.on("chat")
    async def chat(sid: str, text: str) -> str:
        await nsp.emit("chat", {"room": match["room"], "text": text})
        return "delivered"
