"""The status page's page selection (``_paging``): the indexed selection gives
exactly the page that sorting every namespace in view would give."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
import socketio
from bidict import bidict

from dynamic_io_asgi import DynamicIO
from dynamic_io_asgi._hosts import split_fullname
from dynamic_io_asgi._paging import REMOTE, View, select

HOSTS = [None, "a.test", "b.test", "zz.test"]


@pytest.fixture
async def app() -> Any:
    sio = socketio.AsyncServer(async_mode="asgi")
    middleware = DynamicIO(socketio.ASGIApp(sio), host="main.test")
    middleware.setup_namespace("*", lambda nsp, match: None)
    for index, host in itertools.product(range(23), HOSTS):
        if host != "zz.test" or index < 3:
            await middleware.of(f"/room-{index:02d}", host)
    # A static namespace with a socket, and one without (not shown).
    for full, sids in (("//b.test/static", {"s1": "e1"}), ("/lonely", {})):
        middleware.registry.statics.add(full)
        sio.manager.rooms[full] = {None: bidict(sids)}
    yield middleware
    await middleware.aclose()


REMOTES = {"//a.test/far": {"p2": 1}, "//c.test/only-there": {"p2": 2}, "/room-01": {"p2": 1}}


def reference(app: DynamicIO, host: str | None, view: View, on_servers: Any) -> Any:
    """Every namespace in view of ``host``, filtered, sorted and sliced."""
    rooms = app.sio.manager.rooms
    entries = []
    names = {
        **{full: nsp for full, nsp in app.namespaces.items()},
        **{full: None for full in app.registry.statics if rooms[full][None]},
        **{full: REMOTE for full in on_servers or () if full not in app.namespaces},
    }
    for full, what in names.items():
        name, nsp_host = split_fullname(full)
        if host is None or nsp_host == host:
            entries.append(
                ((nsp_host is not None, nsp_host or "", full if host is None else name), full, what)
            )
    in_view = len(entries)
    if view.host is not None:
        entries = [entry for entry in entries if (entry[0][1] or None) == (view.host or None)]
    entries = sorted(entry for entry in entries if view.search in entry[0][2])
    pages = max(1, -(-len(entries) // view.per_page))
    number = min(view.page, pages)
    start = (number - 1) * view.per_page
    return entries[start : start + view.per_page], len(entries), number, pages, in_view


@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize("remote", [False, True])
async def test_every_page_as_a_full_sort_gives_it(
    app: DynamicIO, host: str | None, remote: bool
) -> None:
    on_servers = REMOTES if remote else None
    for page, per_page, view_host, search in itertools.product(
        [1, 2, 3, 7, 99],
        [1, 5, 10, 100],
        [None, "", "a.test", "c.test"],
        ["", "room-1", "a.test/", "x"],
    ):
        view = View(page=page, per_page=per_page, host=view_host, search=search)
        got = select(app.registry, app.sio.manager.rooms, host, view, on_servers)
        assert got == reference(app, host, view, on_servers), view
