"""What the sessions of one middleware share (``_wire``): built from a real server."""

from __future__ import annotations

from typing import Any

import socketio

from dynamic_io_asgi._wire import Wire, is_open, on_session_closed


async def _admit(session: object, name: str) -> None:
    return None


def test_the_wire_of_a_server() -> None:
    sio = socketio.AsyncServer(async_mode="asgi", max_http_buffer_size=2_000)
    wire = Wire.of_server(sio, admit=_admit, msgpack=False, max_payload=1_000)
    assert wire.send == sio.eio.send and wire.packet_class is sio.packet_class
    assert wire.max_payload == 1_000
    # The handshake's "maxPayload" as the server writes it, and as the client must read it.
    assert wire.open_fix == ('"maxPayload":2000', '"maxPayload":1000')


def test_is_open_reads_the_servers_sockets_each_time() -> None:
    sio = socketio.AsyncServer(async_mode="asgi")
    wire = Wire.of_server(sio, admit=_admit, msgpack=False, max_payload=1_000)

    class Socket:
        closed = closing = False

    assert not wire.is_open("a") and not wire.is_open(None)
    sio.eio.sockets["a"] = socket = Socket()
    assert wire.is_open("a")
    socket.closed = True
    assert not wire.is_open("a")
    sio.eio.sockets = {"a": Socket()}  # python-engineio's disconnect() replaces the table
    assert wire.is_open("a")


def test_a_closing_session_is_not_open() -> None:
    sio = socketio.AsyncServer(async_mode="asgi")

    class Socket:
        closed = False
        closing = True  # python-socketio is disconnecting its namespaces

    sio.eio.sockets["a"] = Socket()
    assert not is_open(sio.eio, "a")


async def test_the_end_of_a_session_is_told_after_python_socketio_handled_it() -> None:
    sio = socketio.AsyncServer(async_mode="asgi")
    told: list[Any] = []
    on_session_closed(sio, told.append)
    on_session_closed(sio, told.append)  # a second middleware: still one wrapper
    sio.environ["a"] = environ = {"asgi.scope": {}}
    await sio.eio.handlers["disconnect"]("a", "transport close")
    assert told == [environ]  # once, though wrapped twice
    assert "a" not in sio.environ  # python-socketio's own handler ran
