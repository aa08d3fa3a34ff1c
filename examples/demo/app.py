"""The demo: a multi-tenant chat, one tenant per host name.

    scripts/demo.sh                     # or, from the repository's top:
    uvicorn app:app --app-dir examples/demo --port 8000

http://localhost:8000 is the main host; http://alpha.localhost:8000 and
http://beta.localhost:8000 (any ``*.localhost``: browsers resolve them to
loopback themselves) are tenants with rooms of their own. Every room is a
Socket.IO namespace created on demand (``/room/<name>``, which is
``//alpha.localhost/room/<name>`` inside the server) and retired 15 seconds
after its last member leaves, history and all. A ``/lobby`` namespace per host
lists that host's live rooms. The status page is at ``/socket.io/status``.

The page loads the Socket.IO client from a local copy when there is one, else
from the CDN (``examples/client_script.py``, shared with the multi-process example):

- ``SOCKETIO_CLIENT_JS=/path/to/socket.io.min.js``: serve that file;
- ``SOCKETIO_CLIENT_JS=cdn``: always the CDN;
- unset: ``tests/js/node_modules/socket.io-client/dist/socket.io.min.js`` if
  ``scripts/bootstrap.sh`` installed it, else the CDN.
"""

from __future__ import annotations

import re
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import socketio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from dynamic_io_asgi import DynamicIO, DynamicNamespace

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # examples/, for client_script.py
import client_script  # noqa: E402

STATIC = HERE / "static"
LOCAL_CLIENT = client_script.LOCAL_CLIENT  # the local copy served when SOCKETIO_CLIENT_JS is unset

MAIN_HOST = ["localhost", "127.0.0.1", "::1"]
ROOM = re.compile(r"^(//[^/]+)?/room/(?P<room>[a-z0-9-]{1,32})$")
LOBBY = re.compile(r"^(//[^/]+)?/lobby$")
HISTORY = 50
MAX_TEXT = 500
RETIREMENT = 15.0


sio = socketio.AsyncServer(async_mode="asgi")


async def index(request: Request) -> HTMLResponse:
    page = (STATIC / "index.html").read_text(encoding="utf-8")
    return HTMLResponse(page.replace("<!-- socket.io client -->", client_script.script_tag()))


async def vendor_client(request: Request) -> Response:
    path = client_script.local_client()
    if path is None:
        return Response("no local Socket.IO client", status_code=404)
    return FileResponse(path, media_type="text/javascript")


web = Starlette(
    routes=[
        Route("/", index),
        Route(client_script.VENDOR_PATH, vendor_client),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
)
app = DynamicIO(
    socketio.ASGIApp(sio, other_asgi_app=web),
    host=MAIN_HOST,
    public_status=True,
    retirement=RETIREMENT,
)


@dataclass
class Room:
    """What the demo keeps of a live room; it goes when the namespace retires."""

    host: str | None
    name: str
    created: float = field(default_factory=time.time)
    nicks: dict[str, str] = field(default_factory=dict)  # sid -> nick, once joined
    history: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=HISTORY))


#: The live rooms by full name (``//alpha.localhost/room/general``).
rooms: dict[str, Room] = {}


def live_rooms(host: str | None) -> list[dict[str, Any]]:
    """The host's rooms, busiest first."""
    found = [
        {"room": room.name, "members": len(room.nicks)}
        for room in rooms.values()
        if room.host == host
    ]
    return sorted(found, key=lambda room: (-room["members"], room["room"]))


async def announce_rooms(host: str | None) -> None:
    """Tell the host's lobby (if anyone is in it) which rooms are live."""
    lobby = app.namespaces.get(f"//{host}/lobby" if host else "/lobby")
    if lobby is not None:
        await lobby.emit("rooms", live_rooms(host))


@app.setup_namespace(LOBBY)
def setup_lobby(nsp: DynamicNamespace, match: re.Match[str]) -> None:
    @nsp.on("rooms")
    def list_rooms(sid: str) -> list[dict[str, Any]]:
        return live_rooms(nsp.host)


@app.setup_namespace(ROOM)
def setup_room(nsp: DynamicNamespace, match: re.Match[str]) -> None:
    """One chat room of one host: its members, its last messages, its retirement."""
    room = rooms[nsp.fullname] = Room(nsp.host, match["room"])
    pending: dict[str, str] = {}  # sid -> nick, connected but not joined yet

    async def say(nick: str, text: str, kind: str = "message") -> None:
        message = {"nick": nick, "text": text, "kind": kind, "at": time.time()}
        room.history.append(message)
        await nsp.emit("message", message)

    async def members_changed() -> None:
        await nsp.emit("members", sorted(room.nicks.values()))
        await announce_rooms(room.host)

    @nsp.on("connect")
    def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        nick = auth.get("nick") if isinstance(auth, dict) else None
        pending[sid] = str(nick or "guest").strip()[:24] or "guest"

    @nsp.on("join")
    async def join(sid: str) -> dict[str, Any]:
        """The newcomer's view of the room; then everyone hears of the arrival."""
        history = list(room.history)
        if sid in pending:
            room.nicks[sid] = pending.pop(sid)
            await say(room.nicks[sid], "joined", kind="presence")
            await members_changed()
        return {
            "room": room.name,
            "host": room.host,
            "fullname": nsp.fullname,
            "history": history,
            "members": sorted(room.nicks.values()),
            "retirement": nsp.retirement,
        }

    @nsp.on("message")
    async def message(sid: str, text: Any) -> bool:
        text = str(text).strip()[:MAX_TEXT]
        if sid not in room.nicks or not text:
            return False
        await say(room.nicks[sid], text)
        return True

    @nsp.on("disconnect")
    async def disconnect(sid: str, reason: Any = None) -> None:
        pending.pop(sid, None)
        nick = room.nicks.pop(sid, None)
        if nick is not None:
            await say(nick, "left", kind="presence")
            await members_changed()

    @nsp.on_retire
    async def retired(nsp: DynamicNamespace) -> None:
        rooms.pop(nsp.fullname, None)
        await announce_rooms(nsp.host)
