"""Retirement of idle namespaces (docs/design.md §6), end to end and in real time.

A real uvicorn server, python-socketio ``AsyncClient``s over websocket, and
short retirements (tenths of a second).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
import socketio
from _helpers import TIMEOUT, client, serve

from dynamic_io_asgi import DynamicIO, DynamicNamespace

MAIN = "main.test"
#: Scheduling slack allowed past the upper bound of docs/design.md §6, on a busy 2-core machine.
SLACK = 0.4


def window(retirement: float) -> float:
    """How late after ``retirement`` a namespace may be deleted (docs/design.md §6)."""
    return max(0.1, 0.1 * retirement)


def make_app(retirement: float | None = 10.0) -> tuple[DynamicIO, socketio.AsyncServer]:
    sio = socketio.AsyncServer(async_mode="asgi")
    return DynamicIO(socketio.ASGIApp(sio), host=MAIN, retirement=retirement), sio


async def until(predicate: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    """Wait until ``predicate()`` holds (it is state of this process, so poll it)."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.002)


class Recorder:
    """A ``"*"`` setup that records namespaces, their disconnects and retirements.

    :param retirement: what setup sets ``nsp.retirement`` to, by full name.
    :param connect: a connect handler for every namespace.
    """

    def __init__(
        self,
        app: DynamicIO,
        retirement: dict[str, float | None] | None = None,
        connect: Callable[..., Any] | None = None,
    ) -> None:
        self.created: list[DynamicNamespace] = []
        self.disconnected: dict[str, float] = {}
        self.retired: dict[str, asyncio.Future[float]] = {}
        self.retirement = retirement or {}
        self.connect = connect
        app.setup_namespace("*", self.setup)

    def setup(self, nsp: DynamicNamespace, match: re.Match[str]) -> None:
        self.created.append(nsp)
        full = nsp.fullname
        self.retired[full] = asyncio.get_running_loop().create_future()
        if full in self.retirement:
            nsp.retirement = self.retirement[full]
        if self.connect is not None:
            nsp.on("connect", self.connect)
        nsp.on("echo", lambda sid, data: data)

        @nsp.on("disconnect")
        def disconnect(sid: str, reason: str) -> None:
            # Runs before python-socketio removes the socket, so no later than
            # the moment the namespace becomes empty.
            self.disconnected[full] = time.monotonic()

        @nsp.on_retire
        def retire(nsp: DynamicNamespace) -> None:
            self.retired[full].set_result(time.monotonic())

    async def retirement_of(self, full: str, timeout: float = TIMEOUT) -> float:
        """The monotonic time ``full`` retired at (waits for it)."""
        return await asyncio.wait_for(asyncio.shield(self.retired[full]), timeout)


def traces(app: DynamicIO, sio: socketio.AsyncServer, full: str) -> list[str]:
    """Where the wrapped server or the middleware still knows ``full``."""
    places: dict[str, Any] = {
        "sio.handlers": sio.handlers,
        "sio.namespace_handlers": sio.namespace_handlers,
        "manager.rooms": sio.manager.rooms,
        "manager.pending_connect": sio.manager.pending_connect,
        "manager.pending_disconnect": sio.manager.pending_disconnect,
        "app.namespaces": app.namespaces,
    }
    found = [where for where, table in places.items() if full in table]
    found += [f"session of {eio}" for eio, s in sio.eio.sockets.items() if full in s.session]
    return found


# -- when ----------------------------------------------------------------------------


@pytest.mark.parametrize("retirement", [0.3, 0.6, 1.0])
async def test_deleted_inside_the_window(retirement: float) -> None:
    app, sio = make_app(retirement)
    recorder = Recorder(app)
    async with serve(app) as url:
        async with client(url, MAIN, namespaces=["/r"]) as c:
            assert await c.call("echo", 1, namespace="/r", timeout=TIMEOUT) == 1
        returned = time.monotonic()
        await until(lambda: "/r" in recorder.disconnected)
        retired = await recorder.retirement_of("/r")
        assert traces(app, sio, "/r") == []
    # The clock starts when the namespace becomes empty, which is after its
    # disconnect handler started: the lower bound is strict.
    assert retired - recorder.disconnected["/r"] >= retirement
    empty = max(returned, recorder.disconnected["/r"])
    assert retired - empty <= retirement + window(retirement) + SLACK
    assert (app.created, app.retired) == (1, 1)


async def test_reconnect_before_the_deadline_keeps_the_object() -> None:
    retirement = 0.6
    app, sio = make_app(retirement)
    recorder = Recorder(app)
    async with serve(app) as url:
        async with client(url, MAIN, namespaces=["/k"]) as c:
            await c.call("echo", 1, namespace="/k", timeout=TIMEOUT)
        await until(lambda: "/k" in recorder.disconnected)
        await asyncio.sleep(retirement / 2)
        async with client(url, MAIN, namespaces=["/k"]) as c:
            assert await c.call("echo", 2, namespace="/k", timeout=TIMEOUT) == 2
            # Occupied past its deadline: still there.
            await asyncio.sleep(retirement + window(retirement) + 0.1)
            assert await c.call("echo", 3, namespace="/k", timeout=TIMEOUT) == 3
            assert not recorder.retired["/k"].done()
        first_disconnect = recorder.disconnected.pop("/k")
        await until(lambda: "/k" in recorder.disconnected)
        retired = await recorder.retirement_of("/k")
    # The clock started again at the second disconnect.
    assert recorder.disconnected["/k"] > first_disconnect
    assert retired - recorder.disconnected["/k"] >= retirement
    assert [nsp.fullname for nsp in recorder.created] == ["/k"]
    assert (app.created, app.retired) == (1, 1)


async def test_recreated_after_retirement() -> None:
    app, sio = make_app(0.3)
    recorder = Recorder(app)
    async with serve(app) as url:
        for round_ in range(2):
            async with client(url, "alpha.test", namespaces=["/re"]) as c:
                assert app.namespaces["//alpha.test/re"] is recorder.created[round_]
                assert await c.call("echo", round_, namespace="/re", timeout=TIMEOUT) == round_
            await recorder.retirement_of("//alpha.test/re")
            assert traces(app, sio, "//alpha.test/re") == []
            recorder.retired["//alpha.test/re"] = asyncio.get_running_loop().create_future()
    first, second = recorder.created
    assert first is not second
    assert (app.created, app.retired) == (2, 2)


def refuse_false(sid: str, environ: dict[str, Any]) -> bool:
    return False


def refuse_raising(sid: str, environ: dict[str, Any]) -> None:
    raise socketio.exceptions.ConnectionRefusedError("go away")


@pytest.mark.parametrize("connect", [refuse_false, refuse_raising])
async def test_refused_first_connect_still_retires(connect: Callable[..., Any]) -> None:
    retirement = 0.3
    app, sio = make_app(retirement)
    recorder = Recorder(app, connect=connect)
    async with serve(app) as url:
        refused = time.monotonic()
        with pytest.raises(socketio.exceptions.ConnectionError):
            async with client(url, MAIN, namespaces=["/no"]):
                pass
        retired = await recorder.retirement_of("/no")
        assert traces(app, sio, "/no") == []
    assert retired - refused >= retirement
    assert "/no" not in recorder.disconnected  # no disconnect event for a refused connect


async def test_setup_sets_the_retirement() -> None:
    app, sio = make_app(30.0)
    recorder = Recorder(app, retirement={"/fast": 0.2, "/forever": None, "/inf": math.inf})
    async with serve(app) as url:
        async with client(url, MAIN, namespaces=["/fast", "/forever", "/inf", "/default"]):
            pass
        await until(lambda: "/fast" in recorder.disconnected)
        retired = await recorder.retirement_of("/fast")
        assert retired - recorder.disconnected["/fast"] >= 0.2
        await asyncio.sleep(window(0.2))
        assert sorted(app.namespaces) == ["/default", "/forever", "/inf"]
        assert app.namespaces["/forever"].retirement == math.inf
        assert app.namespaces["/default"].retirement == 30.0


async def test_main_root_and_static_namespaces_never_retire() -> None:
    app, sio = make_app(0.2)
    recorder = Recorder(app)
    sio.on("echo", lambda sid, data: data, namespace="/static")
    async with serve(app) as url:
        async with (
            client(url, MAIN, namespaces=["/", "/static", "/auto"]),
            client(url, "alpha.test", namespaces=["/"]),
        ):
            pass
        # The auto-created ones retire; use them as the clock.
        await recorder.retirement_of("/auto")
        await recorder.retirement_of("//alpha.test/")
        await asyncio.sleep(window(0.2))
        assert "/static" in sio.handlers
        # The main host's "/" is set up like the others, but stays.
        assert [nsp.fullname for nsp in recorder.created] == ["/", "/auto", "//alpha.test/"]
        assert "/" in app.namespaces and app.namespaces["/"].retirement == math.inf
        assert not (await app.of("/")).static
        assert (await app.of("/static")).static


# -- on_retire -------------------------------------------------------------------------


async def test_on_retire_callbacks(caplog: pytest.LogCaptureFixture) -> None:
    app, sio = make_app(0.2)
    ran: list[tuple[str, DynamicNamespace]] = []
    done = asyncio.Event()

    @app.setup_namespace("*")
    def setup(nsp: DynamicNamespace, match: re.Match[str]) -> None:
        @nsp.on_retire
        def first(nsp: DynamicNamespace) -> None:
            ran.append(("sync", nsp))

        @nsp.on_retire
        async def second(nsp: DynamicNamespace) -> None:
            await asyncio.sleep(0.01)
            ran.append(("async", nsp))

        @nsp.on_retire
        def broken(nsp: DynamicNamespace) -> None:
            ran.append(("sync raising", nsp))
            raise RuntimeError("sync callback broke")

        @nsp.on_retire
        async def broken_async(nsp: DynamicNamespace) -> None:
            ran.append(("async raising", nsp))
            raise RuntimeError("async callback broke")

        @nsp.on_retire
        def last(nsp: DynamicNamespace) -> None:
            # Callbacks run before the namespace is removed.
            assert sio.handlers.get(nsp.fullname) is not None
            ran.append(("last", nsp))
            done.set()

    async with serve(app) as url:
        async with client(url, MAIN, namespaces=["/cb"]):
            nsp = app.namespaces["/cb"]
        await asyncio.wait_for(done.wait(), TIMEOUT)
        await until(lambda: "/cb" not in app.namespaces)
        assert traces(app, sio, "/cb") == []
    assert ran == [
        ("sync", nsp),
        ("async", nsp),
        ("sync raising", nsp),
        ("async raising", nsp),
        ("last", nsp),
    ]
    logged = [r for r in caplog.records if r.name == "dynamic_io_asgi" and r.exc_info]
    assert [r.levelno for r in logged] == [logging.ERROR, logging.ERROR]
    assert "sync callback broke" in caplog.text and "async callback broke" in caplog.text
    assert all("/cb" in r.getMessage() for r in logged)


# -- close() ------------------------------------------------------------------------------


async def test_close_disconnects_and_deletes_now() -> None:
    app, sio = make_app(None)  # never retires by itself
    server_side: list[tuple[str, str]] = []
    retired: list[str] = []

    @app.setup_namespace("*")
    def setup(nsp: DynamicNamespace, match: re.Match[str]) -> None:
        nsp.on("echo", lambda sid, data: data)

        @nsp.on("disconnect")
        async def disconnect(sid: str, reason: str) -> None:
            await asyncio.sleep(0)
            server_side.append((nsp.fullname, reason))

        nsp.on_retire(lambda nsp: retired.append(nsp.fullname))

    async with serve(app) as url:
        async with client(url, "alpha.test", namespaces=["/room", "/other"]) as c:
            seen: asyncio.Future[str] = asyncio.get_running_loop().create_future()
            c.on("disconnect", lambda reason: seen.set_result(reason), namespace="/room")
            nsp = app.namespaces["//alpha.test/room"]
            assert nsp.retirement == math.inf and len(nsp.sockets) == 1
            await nsp.close()
            # Done by the time close() returns.
            assert server_side == [("//alpha.test/room", sio.reason.SERVER_DISCONNECT)]
            assert retired == ["//alpha.test/room"]
            assert traces(app, sio, "//alpha.test/room") == []
            assert await asyncio.wait_for(seen, TIMEOUT) == c.reason.SERVER_DISCONNECT
            assert list(c.namespaces) == ["/other"]
            assert await c.call("echo", 1, namespace="/other", timeout=TIMEOUT) == 1
            await nsp.close()  # twice: nothing more happens
            assert retired == ["//alpha.test/room"]
        # The name is free: a new client gets a new object.
        async with client(url, "alpha.test", namespaces=["/room"]) as c:
            assert await c.call("echo", 2, namespace="/room", timeout=TIMEOUT) == 2
            assert app.namespaces["//alpha.test/room"] is not nsp
    assert (app.created, app.retired) == (3, 1)


@pytest.mark.timeout(60)
async def test_close_interrupted_leaves_a_live_namespace() -> None:
    app, sio = make_app(None)
    gate = asyncio.Event()

    @app.setup_namespace("*")
    def setup(nsp: DynamicNamespace, match: re.Match[str]) -> None:
        nsp.on("echo", lambda sid, data: data)

        @nsp.on_retire
        async def slow(nsp: DynamicNamespace) -> None:
            await gate.wait()

    async with serve(app) as url:
        nsp = await app.of("/slow")
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.1):
                await nsp.close()
        # The namespace was not deleted, so it must still serve.
        async with client(url, MAIN, namespaces=["/slow"]) as c:
            assert await c.call("echo", 1, namespace="/slow", timeout=TIMEOUT) == 1
            assert app.namespaces["/slow"] is nsp
        gate.set()
        await nsp.close()
        assert traces(app, sio, "/slow") == []


# -- of() and shutdown ----------------------------------------------------------------------


async def test_of_namespaces_retire_only_when_told() -> None:
    retirement = 0.2
    app, sio = make_app(retirement)
    recorder = Recorder(app)
    async with serve(app) as url:
        kept = await app.of("/kept")
        assert kept.retirement == math.inf
        async with client(url, MAIN, namespaces=["/kept", "/auto"]) as c:
            assert await c.call("echo", 1, namespace="/kept", timeout=TIMEOUT) == 1
        await recorder.retirement_of("/auto")  # the clock
        await asyncio.sleep(window(retirement))
        assert app.namespaces["/kept"] is kept
        told = time.monotonic()
        kept.retirement = retirement
        retired = await recorder.retirement_of("/kept")
        assert traces(app, sio, "/kept") == []
    assert retirement <= retired - told <= retirement + window(retirement) + SLACK


def middleware_tasks() -> list[asyncio.Task[Any]]:
    return [t for t in asyncio.all_tasks() if t.get_name() == "dynamic_io_asgi retirement"]


async def test_lifespan_shutdown_stops_the_timer() -> None:
    app, sio = make_app(30.0)
    Recorder(app)
    async with serve(app) as url:
        async with client(url, MAIN, namespaces=["/a", "/b"]) as c:
            assert await c.call("echo", 1, namespace="/a", timeout=TIMEOUT) == 1
        assert app.registry.scheduler.task is not None and not app.registry.scheduler.task.done()
        assert len(middleware_tasks()) == 1
    assert app.registry.scheduler.task is None or app.registry.scheduler.task.done()
    assert middleware_tasks() == []
    assert sorted(app.namespaces) == ["/a", "/b"]  # not retired, just no timer any more


# -- races and leaks ------------------------------------------------------------------------


@pytest.mark.timeout(60)
@pytest.mark.parametrize("retirement", [0.0, 0.1])
async def test_connects_racing_the_deadline(retirement: float) -> None:
    """Clients connect around the moment their namespace retires: every connect
    succeeds and every message after it is answered."""
    app, sio = make_app(retirement)
    answered = 0

    @app.setup_namespace("*")
    def setup(nsp: DynamicNamespace, match: re.Match[str]) -> None:
        nsp.on("echo", lambda sid, data: data)

        @nsp.on_retire
        async def retire(nsp: DynamicNamespace) -> None:
            # Widen the window in which CONNECTs meet a retiring namespace.
            await asyncio.sleep(random.uniform(0, 0.02))

    async def worker(index: int, name: str, rounds: int) -> None:
        nonlocal answered
        rng = random.Random(index)
        for i in range(rounds):
            async with client(url, MAIN, namespaces=[name]) as c:
                assert await c.call("echo", i, namespace=name, timeout=5) == i
                answered += 1
            # Around the deadline: from well before it to past its window.
            await asyncio.sleep(rng.uniform(0.3, 1.5) * (retirement + window(retirement) / 2))

    async with serve(app) as url:
        names = ["/r0", "/r1", "/r2", "/r3", "/shared", "/shared"]
        rounds = 55
        await asyncio.gather(*(worker(i, name, rounds) for i, name in enumerate(names)))
        await until(lambda: app.namespaces == {})
        for name in set(names):
            assert traces(app, sio, name) == []
    assert answered == len(names) * rounds
    # The test raced: some connects found the namespace still there, some found
    # it retired (or retiring) and made a new one.
    assert 0 < app.retired == app.created < answered


async def test_zero_retirement_keeps_the_connect_that_created_it() -> None:
    """With ``retirement=0`` the namespace is due the moment it exists; the
    CONNECT that created it must still get through (and each one after)."""
    app, sio = make_app(0.0)
    Recorder(app)
    async with serve(app) as url:
        for i in range(10):
            async with client(url, MAIN, namespaces=["/zero"]) as c:
                assert await c.call("echo", i, namespace="/zero", timeout=5) == i
            await until(lambda: "/zero" not in app.namespaces)
    assert app.created == app.retired == 10


@pytest.mark.timeout(60)
async def test_a_slow_on_retire_callback_delays_no_other_retirement() -> None:
    """Two namespaces fall due together, and the first one's on_retire callback
    blocks: the second retires anyway, and a CONNECT to the first while it
    retires waits for it and then gets a new namespace object."""
    app, sio = make_app(10.0)
    gate = asyncio.Event()
    blocked = asyncio.Event()

    @app.setup_namespace("*")
    def setup(nsp: DynamicNamespace, match: re.Match[str]) -> None:
        nsp.on("echo", lambda sid, data: data)
        if nsp.name == "/first" and not blocked.is_set():

            @nsp.on_retire
            async def slow(nsp: DynamicNamespace) -> None:
                blocked.set()
                await gate.wait()

    async with serve(app) as url:
        first, second = await app.of("/first"), await app.of("/second")
        first.retirement = second.retirement = 0.2  # due at the same check
        await asyncio.wait_for(blocked.wait(), TIMEOUT)
        await until(lambda: "/second" not in app.namespaces)
        assert second.closed and not first.closed
        joining = client(url, MAIN, namespaces=["/first"])  # (kept: its exit disconnects)
        connecting = asyncio.ensure_future(joining.__aenter__())
        await until(lambda: "/first" in app.registry._admitting)  # waiting for the retirement
        gate.set()
        c = await asyncio.wait_for(connecting, TIMEOUT)
        try:
            assert await c.call("echo", 1, namespace="/first", timeout=5) == 1
            assert app.namespaces["/first"] is not first and first.closed
        finally:
            await joining.__aexit__(None, None, None)
        await until(lambda: "/first" not in app.namespaces)
        assert traces(app, sio, "/first") == traces(app, sio, "/second") == []


class Joiner:
    """Many namespaces over one python-socketio connection.

    python-socketio's client connects its namespaces only when it connects and
    has no per-namespace disconnect, so this sends the CONNECT and DISCONNECT
    packets itself (what the JS client's ``io(url + ns)`` and
    ``socket.disconnect()`` do).
    """

    def __init__(self, c: socketio.AsyncClient) -> None:
        self.client = c
        self.connected: set[str] = set()
        self.changed = asyncio.Event()
        c.on("connect", self._connected, namespace="*")

    def _connected(self, namespace: str) -> None:
        self.connected.add(namespace)
        self.changed.set()

    async def join(self, names: list[str]) -> None:
        c = self.client
        for name in names:
            await c._send_packet(c.packet_class(socketio.packet.CONNECT, {}, namespace=name))
        async with asyncio.timeout(TIMEOUT):
            while not self.connected.issuperset(names):
                self.changed.clear()
                await self.changed.wait()

    async def leave(self, names: list[str]) -> None:
        c = self.client
        for name in names:
            await c._send_packet(c.packet_class(socketio.packet.DISCONNECT, namespace=name))
            del c.namespaces[name]
            self.connected.discard(name)


def server_state(app: DynamicIO, sio: socketio.AsyncServer) -> dict[str, Any]:
    manager = sio.manager
    return {
        "sio.handlers": sorted(sio.handlers),
        "sio.namespace_handlers": sorted(sio.namespace_handlers),
        "sio.environ": sorted(sio.environ),
        "sio._binary_packet": sorted(sio._binary_packet),
        "manager.rooms": {ns: sorted(rooms, key=str) for ns, rooms in manager.rooms.items()},
        "manager.callbacks": sorted(manager.callbacks),
        "manager.pending_connect": sorted(manager.pending_connect),
        "manager.pending_disconnect": sorted(manager.pending_disconnect),
        "eio.sockets": sorted(sio.eio.sockets),
        "eio sessions": {eio: sorted(s.session) for eio, s in sio.eio.sockets.items()},
        "app.namespaces": sorted(app.namespaces),
        "app._creating": sorted(app.registry._creating),
        "app._waiters": sorted(app.registry._waiters),
    }


@pytest.mark.timeout(90)
async def test_no_leak_after_thousands_of_namespaces() -> None:
    retirement = 0.2
    app, sio = make_app(retirement)
    hosts = ["h0.test", "h1.test", "h2.test", "h3.test"]
    per_host, batch = 500, 125

    @app.setup_namespace("*")
    def setup(nsp: DynamicNamespace, match: re.Match[str]) -> None:
        @nsp.on("connect")
        async def connect(sid: str, environ: dict[str, Any]) -> None:
            # Leave state behind in every table python-socketio keeps.
            await nsp.save_session(sid, {"name": nsp.name})
            await nsp.enter_room(sid, "room")

        @nsp.on("echo")
        async def echo(sid: str, data: Any) -> Any:
            session = await nsp.get_session(sid)
            return [session["name"], data]

    before = server_state(app, sio)
    async with serve(app) as url:
        async with contextlib.AsyncExitStack() as stack:
            joiners = [Joiner(await stack.enter_async_context(client(url, h))) for h in hosts]

            async def churn(joiner: Joiner) -> None:
                for start in range(0, per_host, batch):
                    names = [f"/n{i}" for i in range(start, start + batch)]
                    await joiner.join(names)
                    c = joiner.client
                    answers = await asyncio.gather(
                        *(c.call("echo", 1, namespace=name, timeout=TIMEOUT) for name in names)
                    )
                    assert answers == [[name, 1] for name in names]
                    await joiner.leave(names)

            await asyncio.gather(*(churn(joiner) for joiner in joiners))
            roots = sorted(f"//{host}/" for host in hosts)
            # Everything but the roots the live connections hold retires, and
            # the live Engine.IO sessions forget the retired namespaces' sessions.
            await until(lambda: sorted(app.namespaces) == roots, timeout=30)
            assert app.created == len(hosts) * (per_host + 1)
            assert app.retired == len(hosts) * per_host
            sessions = server_state(app, sio)["eio sessions"]
            assert len(sessions) == len(hosts)
            assert all(set(names) <= set(roots) for names in sessions.values())
        await until(lambda: app.namespaces == {} and not sio.eio.sockets, timeout=30)
        assert server_state(app, sio) == before
    assert app.retired == app.created


class _Untouchable:
    """An Engine.IO socket stand-in that fails a test if its session is read."""

    closed = False
    closing = True  # python-engineio's sweep leaves it alone

    @property
    def session(self) -> dict[str, Any]:
        raise AssertionError("a retirement visited a session that never joined")


async def test_retirement_visits_only_the_sessions_that_joined() -> None:
    """Deleting a namespace costs the same whatever the number of open sessions: it
    pops the per-namespace data of the sessions that connected to it, no others."""
    app, sio = make_app(0.2)

    @app.setup_namespace("*")
    def setup(nsp: DynamicNamespace, match: re.Match[str]) -> None:
        @nsp.on("connect")
        async def connect(sid: str, environ: dict[str, Any]) -> None:
            await nsp.save_session(sid, {"here": True})

    async with serve(app) as url, client(url, MAIN, namespaces=["/"]) as keeper:
        # Ten thousand other sessions (stand-ins: their session may not be read).
        for index in range(10_000):
            sio.eio.sockets[f"idle{index}"] = _Untouchable()
        try:
            async with client(url, MAIN, namespaces=["/room"]):
                pass
            await until(lambda: "/room" not in app.namespaces)
            eio_sid = keeper.eio.sid
            assert "/room" not in sio.eio.sockets[eio_sid].session
        finally:
            for index in range(10_000):
                del sio.eio.sockets[f"idle{index}"]


async def test_a_tick_costs_what_changed_not_what_is_live(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Idle namespaces wait in a deadline queue: the retirement task's checks see
    only the namespaces that just changed, however many are live, and it sleeps
    while nothing is due."""
    from dynamic_io_asgi import _retirement

    sizes: list[int] = []
    real_plan = _retirement.plan

    def plan(namespaces: Any, now: float, occupied: Any) -> Any:
        namespaces = list(namespaces)
        sizes.append(len(namespaces))
        return real_plan(namespaces, now, occupied)

    monkeypatch.setattr(_retirement, "plan", plan)
    app, sio = make_app(3600.0)
    app.setup_namespace("*", lambda nsp, match: nsp.on("echo", lambda sid, data: data))
    async with serve(app) as url:
        for index in range(2000):
            nsp = await app.of(f"/idle{index}")
            nsp.retirement = 3600.0  # their clocks start at the next check, then they wait
        await until(lambda: len(app.registry.scheduler.deadlines) == 2000)
        sizes.clear()
        async with client(url, MAIN, namespaces=["/busy"]) as c:
            for round_trip in range(20):
                assert await c.call("echo", round_trip, namespace="/busy", timeout=TIMEOUT) == (
                    round_trip
                )
        await until(lambda: "/busy" in {n.fullname for _, _, n in app.registry.scheduler.deadlines})
        assert sizes and max(sizes) <= 2, sizes  # "/busy" (and a deadline's one), never 2000
        # Nothing else happens: the task sleeps until the first deadline, an hour away.
        scheduler = app.registry.scheduler
        await until(lambda: scheduler.delay is not None and scheduler.delay > 3000)
        assert len(app.namespaces) == 2001
