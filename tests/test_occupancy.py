"""Whether the server holds a namespace occupied (``_occupancy``), on a real server's tables."""

from __future__ import annotations

import tracemalloc

import socketio

from dynamic_io_asgi._occupancy import Occupancy


class _Socket:
    closed = closing = False


def _server_with(count: int) -> socketio.AsyncServer:
    """A server whose manager holds one socket in each of ``count`` namespaces."""
    sio = socketio.AsyncServer(async_mode="asgi")
    sio.eio.sockets["eio"] = _Socket()
    for index in range(count):
        sio.manager.basic_enter_room(f"sid{index}", f"/n{index}", None, "eio")
    return sio


def test_a_namespace_is_occupied_by_a_socket_of_an_open_session() -> None:
    sio = _server_with(1)
    occupancy = Occupancy(sio)
    assert occupancy.has_sockets("/n0") and occupancy.occupied("/n0")
    assert not occupancy.has_sockets("/elsewhere")
    sio.eio.sockets["eio"].closing = True
    assert not occupancy.has_sockets("/n0")
    occupancy.admitting["/n0"] = 1
    assert occupancy.occupied("/n0") and occupancy.moving("/n0")


def test_asking_keeps_nothing() -> None:
    # The retirement task asks this of every namespace it looks at: an answer that
    # left something behind (a bidict's values() keeps its inverse) would cost
    # memory in proportion to the namespaces held.
    sio = _server_with(2_000)
    occupancy = Occupancy(sio)
    names = [f"/n{index}" for index in range(2_000)]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        assert all(occupancy.has_sockets(name) for name in names)
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert kept < 2_000 * 16, f"{kept / 2_000:.0f} bytes kept per namespace"
