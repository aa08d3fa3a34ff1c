"""One process of a multi-process chat: virtual hosts and namespaces on demand, shared over Redis.

Run one process per port behind a sticky load balancer (``run.sh`` does it with nginx),
from this folder (or from the repository's top with ``--app-dir examples/multiprocess``)::

    REDIS_URL=redis://127.0.0.1:6379/0 uvicorn app:app --host 127.0.0.1 --port 8001

Every process serves every host. A namespace object exists in a process while that
process has clients in it (each process sets up and retires its own); an emit to a full
name (``//alpha.localhost/chat``) from any process reaches the namespace's clients on every
process, through Redis.

Environment:

- ``REDIS_URL`` (``redis://127.0.0.1:6379/0``) and ``REDIS_CHANNEL`` (``dynamic-io``):
  the same for every process;
- ``DYNAMIC_IO_HOST`` (``localhost,127.0.0.1``): the main host's names, comma-separated;
- ``DYNAMIC_IO_RETIREMENT`` (``10``): seconds an empty namespace stays;
- ``DYNAMIC_IO_NAME`` (``pid <n>``): this process's name in answers and on the page;
- ``DYNAMIC_IO_STATUS=1``: serve this process's status page at ``/socket.io/status``;
- ``DYNAMIC_IO_CONTROL=1``: serve ``/control/...``, which lets anyone emit, move and
  disconnect sockets (the tests drive the cluster with it). Never in production;
- ``SOCKETIO_CLIENT_JS``: where the page's Socket.IO client comes from, as in the demo
  (``examples/client_script.py``): unset, the copy ``scripts/bootstrap.sh`` installs in
  ``tests/js/node_modules`` (served at ``/vendor/socket.io.min.js``), else the CDN; a path,
  that file; ``cdn``, the CDN.

``python app.py`` listens on 127.0.0.1 with a port from the OS, prints ``PORT <n>`` and
serves until SIGTERM or Ctrl-C.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sys
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import socketio

from dynamic_io_asgi import DynamicIO, DynamicNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # examples/: client_script.py
import client_script  # noqa: E402

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

NAME = os.environ.get("DYNAMIC_IO_NAME") or f"pid {os.getpid()}"
CONTROL = os.environ.get("DYNAMIC_IO_CONTROL") == "1"
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
CHANNEL = os.environ.get("REDIS_CHANNEL", "dynamic-io")

#: Setups and retirements in this process, by full name.
setups: Counter[str] = Counter()
retirements: Counter[str] = Counter()


async def web(scope: Scope, receive: Receive, send: Send) -> None:
    """Everything that is not Socket.IO: the chat page, its client script and, if enabled,
    /control/."""
    if scope["type"] == "lifespan":
        # socketio.ASGIApp hands lifespan to this app: answer it, so that the
        # middleware sees lifespan.startup (and starts listening on Redis at once).
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    if scope["type"] != "http":
        return
    path = scope["path"]
    if CONTROL and path.startswith("/control/"):
        body = await _read_body(receive)
        try:
            status, answer = 200, await control(path[len("/control/") :], body)
        except (KeyError, TypeError, ValueError) as exc:
            status, answer = 400, {"error": repr(exc)}
        await _respond(send, status, "application/json", json.dumps(answer).encode())
    elif path == "/":
        page = PAGE.replace("<!-- socket.io client -->", client_script.script_tag())
        await _respond(send, 200, "text/html; charset=utf-8", page.encode())
    elif path == client_script.VENDOR_PATH and (local := client_script.local_client()):
        await _respond(send, 200, "text/javascript", local.read_bytes())
    else:
        await _respond(send, 404, "text/plain", b"Not Found")


sio = socketio.AsyncServer(
    async_mode="asgi",
    client_manager=socketio.AsyncRedisManager(REDIS_URL, channel=CHANNEL),
)
app = DynamicIO(
    socketio.ASGIApp(sio, other_asgi_app=web),
    host=os.environ.get("DYNAMIC_IO_HOST", "localhost,127.0.0.1").split(","),
    retirement=float(os.environ.get("DYNAMIC_IO_RETIREMENT", "10")),
    public_status=os.environ.get("DYNAMIC_IO_STATUS") == "1",
)


@app.setup_namespace("*")
def setup(nsp: DynamicNamespace, match: re.Match[str]) -> None:
    """Every name of every host is a chat room; runs in each process that gets a client."""
    setups[nsp.fullname] += 1

    @nsp.on("chat")
    async def chat(sid: str, data: Any) -> None:
        # A broadcast to the full name: this namespace's clients on every process.
        await nsp.emit("chat", data)

    @nsp.on("join")
    async def join(sid: str, room: str) -> str:
        await nsp.enter_room(sid, room)
        return room

    @nsp.on("whoami")
    def whoami(sid: str, data: Any = None) -> dict[str, Any]:
        return {"process": NAME, "namespace": nsp.fullname, "sid": sid}

    @nsp.on_retire
    def retired(nsp: DynamicNamespace) -> None:
        retirements[nsp.fullname] += 1


async def control(action: str, body: dict[str, Any]) -> Any:
    """Server-side API calls made in this process, on full names (``//host/ns``)."""
    namespace = body.get("namespace", "/")
    if action == "emit":
        await sio.emit(body["event"], body.get("data"), namespace=namespace, to=body.get("to"))
        return {"process": NAME}
    if action == "emit_of":  # the same through this process's namespace object
        nsp = await app.of(namespace)
        await nsp.emit(body["event"], body.get("data"), to=body.get("to"))
        return {"process": NAME}
    if action == "call":
        return await sio.call(
            body["event"], body.get("data"), to=body["to"], namespace=namespace, timeout=10
        )
    if action in ("enter_room", "leave_room"):
        await getattr(sio, action)(body["sid"], body["room"], namespace=namespace)
        return {"process": NAME}
    if action == "disconnect":
        await sio.disconnect(body["sid"], namespace=namespace)
        return {"process": NAME}
    if action == "close":  # the whole Engine.IO connection of a socket of this process
        eio_sid = sio.manager.eio_sid_from_sid(body["sid"], namespace)
        # Not sio.eio.disconnect(): it waits until a long-poll has taken the CLOSE
        # packet, for ever if the client's next poll comes after the close.
        await sio.eio.sockets[eio_sid].close(wait=False)
        return {"process": NAME}
    if action == "state":
        return {
            "process": NAME,
            "namespaces": {full: len(nsp.sockets) for full, nsp in app.namespaces.items()},
            "setups": setups,
            "retirements": retirements,
        }
    raise KeyError(action)


async def _read_body(receive: Receive) -> dict[str, Any]:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    data = b"".join(chunks)
    return json.loads(data) if data else {}


async def _respond(send: Send, status: int, content_type: str, body: bytes) -> None:
    headers = [(b"content-type", content_type.encode()), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


PAGE = """<!doctype html>
<meta charset="utf-8">
<title>dynamic-io-asgi: multi-process chat</title>
<style>body{font:16px system-ui,sans-serif;margin:2em auto;max-width:40em}
#log{white-space:pre-wrap;border:1px solid #ccc;padding:.5em;min-height:10em}</style>
<h1>Chat of <span id="host"></span></h1>
<p>Served by <b id="process">?</b>. Open this page from several browsers (or as
<code>alpha.localhost</code>, <code>beta.localhost</code>): each host has its own room.</p>
<form id="form"><input id="text" autocomplete="off" autofocus> <button>Send</button></form>
<div id="log"></div>
<!-- socket.io client -->
<script>
  const $ = (id) => document.getElementById(id);
  $("host").textContent = location.host;
  const log = (line) => { $("log").textContent += line + "\\n"; };
  if (typeof io === "undefined") {
    $("process").textContent = "? (the Socket.IO client did not load)";
  } else {
    const socket = io("/chat");
    socket.on("connect", () => socket.emit("whoami", null, (me) => {
      $("process").textContent = me.process;
    }));
    socket.on("connect_error", (err) => { $("process").textContent = `? (${err.message})`; });
    socket.on("chat", (data) => log(data));
    $("form").onsubmit = (event) => {
      event.preventDefault();
      socket.emit("chat", $("text").value);
      $("text").value = "";
    };
  }
</script>
"""


def main() -> None:
    """Serve on 127.0.0.1:<port from the OS>, announced as ``PORT <n>`` on stdout."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", int(os.environ.get("PORT", "0"))))
    sock.listen(128)  # connections wait in the backlog until uvicorn accepts them
    config = uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=2)
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
