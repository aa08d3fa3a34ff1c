"""Scale-out over Redis (docs/design.md §8): several processes, one redis-server, real clients

Three processes ``p1``..``p3`` run ``examples/multiprocess/app.py`` with
``socketio.AsyncRedisManager``; the tests drive them through the app's ``/control/``
endpoints (server-side emits, room changes, disconnects and calls on full names) and
watch what clients connected to *other* processes receive. ``p1`` never gets a client
in this module: it is the process "with no clients yet" that must still emit and get
acks. Absence is shown with positive controls: a marker sent after a message, by the
same process, reaches every client; whoever got the marker without the message never
gets it (Redis and each Engine.IO socket keep a publisher's order).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import socketio
from _helpers import client
from _redis import (
    TIMEOUT,
    AppProcess,
    Recorder,
    RedisServer,
    control,
    eventually,
    start_cluster,
    wait_until,
)

RETIREMENT = 0.5
WS = ["websocket"]
UPGRADE = ["polling", "websocket"]


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def cluster(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[AppProcess]]:
    """p1, p2, p3 on one channel, each subscribed before the first test runs."""
    folder = tmp_path_factory.mktemp("cluster")
    processes = start_cluster(folder, redis_server.url, 3, DYNAMIC_IO_RETIREMENT=str(RETIREMENT))
    with subscribed(processes, redis_server):
        yield processes


@contextlib.contextmanager
def subscribed(processes: list[AppProcess], redis: RedisServer) -> Iterator[None]:
    """Wait until every process listens on Redis; stop them (and show their logs) after."""
    try:
        # No client has connected yet: the middleware subscribed at lifespan startup.
        wait_until(lambda: redis.subscribers() == len(processes), "every process to subscribe")
        yield
    finally:
        for process in processes:
            process.stop()
            print(f"--- {process.name} log ---\n{process.log()}")


@contextlib.asynccontextmanager
async def connected(
    url: str, host: str, namespaces: list[str], transports: list[str] = WS
) -> AsyncIterator[tuple[socketio.AsyncClient, Recorder]]:
    """A client of ``host`` on the process at ``url``, with a recorder of what it receives."""
    async with client(url, host, namespaces=namespaces, transports=transports) as sio:
        yield sio, Recorder(sio)


async def state(process: AppProcess) -> dict[str, Any]:
    result: dict[str, Any] = await control(process.url, "state")
    return result


async def wait_state(process: AppProcess, what: str, check: Any) -> dict[str, Any]:
    """Poll a process's state until ``check(state)`` holds; fail with ``what`` after a while."""
    try:
        async with asyncio.timeout(TIMEOUT):
            while not check(current := await state(process)):
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None
    return current


# -- emits to full names ------------------------------------------------------------


@pytest.mark.parametrize("emitter", [0, 1, 2], ids=["from-p1", "from-p2", "from-p3"])
async def test_broadcast_reaches_exactly_its_namespace_on_every_process(
    cluster: list[AppProcess], emitter: int
) -> None:
    p1, p2, p3 = cluster
    async with contextlib.AsyncExitStack() as stack:
        enter = stack.enter_async_context
        _, alpha2 = await enter(connected(p2.url, "alpha.test", ["/chat"]))
        _, alpha3 = await enter(connected(p3.url, "alpha.test", ["/chat", "/other"], UPGRADE))
        _, beta2 = await enter(connected(p2.url, "beta.test", ["/chat"]))
        _, beta3 = await enter(connected(p3.url, "beta.test", ["/chat"], UPGRADE))
        _, main3 = await enter(connected(p3.url, "main.test", ["/chat"]))
        source = cluster[emitter].url
        news = f"news from p{emitter + 1}"

        await control(source, "emit", namespace="//alpha.test/chat", event="news", data=news)
        markers = ["//alpha.test/chat", "//alpha.test/other", "//beta.test/chat", "/chat"]
        for full in markers:
            await control(source, "emit", namespace=full, event="marker", data=full)

        expected = [
            (alpha2, ["//alpha.test/chat"], [news]),
            (alpha3, ["//alpha.test/chat", "//alpha.test/other"], [news]),
            (beta2, ["//beta.test/chat"], []),
            (beta3, ["//beta.test/chat"], []),
            (main3, ["/chat"], []),
        ]
        for recorder, own_markers, own_news in expected:
            for full in own_markers:
                await recorder.wait_for("marker", full)
            assert recorder.received("news") == own_news
            assert recorder.received("news", "/chat") == own_news
            assert sorted(recorder.received("marker")) == sorted(own_markers)


async def test_client_event_broadcasts_to_other_processes(cluster: list[AppProcess]) -> None:
    """The app's handler calls ``nsp.emit``: a chat message crosses processes."""
    _, p2, p3 = cluster
    async with (
        connected(p2.url, "alpha.test", ["/chat"]) as (sender, alpha2),
        connected(p3.url, "alpha.test", ["/chat"], UPGRADE) as (_, alpha3),
        connected(p3.url, "beta.test", ["/chat"]) as (_, beta3),
    ):
        await sender.emit("chat", "hello", namespace="/chat")
        await alpha3.wait_for("chat", "hello", "/chat")
        await alpha2.wait_for("chat", "hello", "/chat")
        await control(p2.url, "emit", namespace="//beta.test/chat", event="marker", data=1)
        await beta3.wait_for("marker", 1)
        assert beta3.received("chat") == []


async def test_each_process_sets_up_its_own_namespaces(cluster: list[AppProcess]) -> None:
    p1, p2, p3 = cluster
    async with (
        connected(p2.url, "alpha.test", ["/own"]),
        connected(p3.url, "alpha.test", ["/own", "/mine"]),
        connected(p3.url, "beta.test", ["/own"]),
    ):
        await control(p1.url, "emit", namespace="//alpha.test/own", event="news", data=1)
        states = [await state(p) for p in cluster]
    own = {"//alpha.test/own", "//alpha.test/mine", "//beta.test/own"}
    live = [own & set(s["namespaces"]) for s in states]
    assert live == [set(), {"//alpha.test/own"}, own]
    assert [s["setups"].get("//alpha.test/own", 0) for s in states] == [0, 1, 1]


async def test_emit_through_a_namespace_object_of_another_process(
    cluster: list[AppProcess],
) -> None:
    """``of()`` in a process without clients: a local object (set up there, never retired)
    whose ``emit`` reaches the clients of every process."""
    p1, p2, p3 = cluster
    async with (
        connected(p2.url, "alpha.test", ["/of"]) as (_, on2),
        connected(p3.url, "alpha.test", ["/of"], UPGRADE) as (_, on3),
    ):
        await control(p1.url, "emit_of", namespace="//alpha.test/of", event="news", data="of")
        for recorder in (on2, on3):
            await recorder.wait_for("news", "of", "/of")
    p1_state = await state(p1)
    assert p1_state["namespaces"]["//alpha.test/of"] == 0
    assert p1_state["setups"]["//alpha.test/of"] == 1


# -- rooms, disconnects and calls addressed to sockets of other processes --------------


async def test_rooms_across_processes(cluster: list[AppProcess]) -> None:
    p1, p2, p3 = cluster
    chat = "//alpha.test/chat"
    async with (
        connected(p2.url, "alpha.test", ["/chat"]) as (x, on2),
        connected(p3.url, "alpha.test", ["/chat"]) as (y, on3),
    ):
        x_sid, y_sid = x.get_sid("/chat"), y.get_sid("/chat")

        async def step(source: AppProcess, room_news: str, receivers: list[Recorder]) -> None:
            await control(
                source.url, "emit", namespace=chat, event="room", data=room_news, to="red"
            )
            await control(source.url, "emit", namespace=chat, event="marker", data=room_news)
            for recorder in (on2, on3):
                await recorder.wait_for("marker", room_news)
            for recorder in (on2, on3):
                got = room_news in recorder.received("room")
                assert got == (recorder in receivers), (room_news, recorder.events)

        # p1 has none of these sockets: its room changes travel through Redis.
        await control(p1.url, "enter_room", namespace=chat, sid=x_sid, room="red")
        await step(p1, "x only", [on2])
        await control(p3.url, "leave_room", namespace=chat, sid=x_sid, room="red")
        await control(p3.url, "enter_room", namespace=chat, sid=y_sid, room="red")
        await step(p3, "y only", [on3])
        await control(p1.url, "enter_room", namespace=chat, sid=x_sid, room="red")
        await step(p1, "both", [on2, on3])
        # A sid is a room too: a direct emit from a process that does not hold it.
        await control(p1.url, "emit", namespace=chat, event="direct", data="to y", to=y_sid)
        await on3.wait_for("direct", "to y")
        await control(p1.url, "emit", namespace=chat, event="marker", data="after direct")
        await on2.wait_for("marker", "after direct")
        assert on2.received("direct") == []


async def test_disconnect_from_another_process(cluster: list[AppProcess]) -> None:
    p1, _, p3 = cluster
    async with connected(p3.url, "alpha.test", ["/leave", "/stay"]) as (sio, recorder):
        await control(
            p1.url, "disconnect", namespace="//alpha.test/leave", sid=sio.get_sid("/leave")
        )
        await recorder.wait_for("disconnect", "server disconnect", "/leave")
        # Only that namespace: the connection and its other namespace stay.
        await control(p1.url, "emit", namespace="//alpha.test/stay", event="marker", data="still")
        await recorder.wait_for("marker", "still", "/stay")
        assert sio.connected and list(sio.namespaces) == ["/stay"]
        # The process that held the socket retires its now empty namespace.
        after = await wait_state(
            p3,
            "//alpha.test/leave to retire",
            lambda s: "//alpha.test/leave" not in s["namespaces"],
        )
        assert after["retirements"]["//alpha.test/leave"] == 1
        assert after["namespaces"]["//alpha.test/stay"] == 1


async def test_call_from_a_process_without_clients(cluster: list[AppProcess]) -> None:
    """The ack comes back through Redis: p1 listens although no client ever connected to it."""
    p1, p2, p3 = cluster
    async with (
        connected(p2.url, "alpha.test", ["/chat"]) as (a, _),
        connected(p3.url, "beta.test", ["/chat"], UPGRADE) as (b, _),
    ):
        answers = [
            await control(
                p1.url, "call", namespace=full, event="ask", data=data, to=sio.get_sid("/chat")
            )
            for sio, full, data in [(a, "//alpha.test/chat", 1), (b, "//beta.test/chat", [2, "x"])]
        ]
    assert answers == [{"echo": 1}, {"echo": [2, "x"]}]
    assert {"//alpha.test/chat", "//beta.test/chat"}.isdisjoint((await state(p1))["namespaces"])


# -- retirement is per process --------------------------------------------------------


async def test_retirement_on_one_process_does_not_disturb_the_others(
    cluster: list[AppProcess],
) -> None:
    _, p2, p3 = cluster
    lobby = "//alpha.test/lobby"
    async with connected(p3.url, "alpha.test", ["/lobby"]) as (_, stays):
        async with connected(p2.url, "alpha.test", ["/lobby"]) as (_, leaves):
            await control(p3.url, "emit", namespace=lobby, event="news", data="both")
            await leaves.wait_for("news", "both")
        await wait_state(p2, "the lobby to retire on p2", lambda s: lobby not in s["namespaces"])
        assert (await state(p3))["namespaces"][lobby] == 1
        # p2 no longer has the namespace, yet its emits still reach p3's client.
        await control(p2.url, "emit", namespace=lobby, event="news", data="from p2")
        await stays.wait_for("news", "from p2")
        # A new client on p2 gets a new namespace object: setup runs there again.
        async with connected(p2.url, "alpha.test", ["/lobby"]) as (_, back):
            await control(p3.url, "emit", namespace=lobby, event="news", data="again")
            await back.wait_for("news", "again")
            await stays.wait_for("news", "again")
            p2_state, p3_state = await state(p2), await state(p3)
    assert p2_state["setups"][lobby] == 2 and p2_state["retirements"][lobby] == 1
    assert p3_state["setups"][lobby] == 1 and lobby not in p3_state["retirements"]
    assert stays.received("news") == ["both", "from p2", "again"]


# -- Redis goes away and comes back -------------------------------------------------------


@pytest.fixture
def small_cluster(tmp_path: Path) -> Iterator[tuple[RedisServer, list[AppProcess]]]:
    redis = RedisServer(tmp_path)
    redis.start()
    try:
        processes = start_cluster(tmp_path, redis.url, 2)
        with subscribed(processes, redis):
            yield redis, processes
    finally:
        redis.stop()


async def until_delivered(source: AppProcess, recorder: Recorder, label: str) -> int:
    """Emit ``label-<n>`` from ``source`` until the recorder gets one; how many were sent."""
    async with asyncio.timeout(30):
        for attempt in range(1, 1000):
            data = f"{label}-{attempt}"
            await control(
                source.url, "emit", namespace="//alpha.test/chat", event="news", data=data
            )
            try:
                await recorder.wait_for("news", data, timeout=0.5)
                return attempt
            except TimeoutError:
                continue
    raise AssertionError(f"{label} never delivered")  # pragma: no cover


async def test_a_redis_restart_is_survived(
    small_cluster: tuple[RedisServer, list[AppProcess]],
) -> None:
    redis, (p1, p2) = small_cluster
    chat = "//alpha.test/chat"
    async with (
        connected(p1.url, "alpha.test", ["/chat"]) as (_, on1),
        connected(p2.url, "alpha.test", ["/chat"], UPGRADE) as (_, on2),
    ):
        assert await until_delivered(p1, on2, "before") == 1
        redis.stop()
        # Without Redis, a process still reaches its own clients.
        await control(p1.url, "emit", namespace=chat, event="news", data="local")
        await on1.wait_for("news", "local")
        redis.start(redis.port)
        # The managers reconnect with backoff: re-send until something gets through.
        await until_delivered(p1, on2, "p1 to p2")
        await until_delivered(p2, on1, "p2 to p1")
        await eventually(lambda: redis.subscribers() == 2, "both processes to subscribe again")
        # Once, not twice: each process has exactly one subscription again.
        for source in (p1, p2):
            for event in ("news", "marker"):
                await control(source.url, "emit", namespace=chat, event=event, data=source.name)
        for recorder in (on1, on2):
            await recorder.wait_for("marker", p2.name)
            assert recorder.received("news")[-2:] == [p1.name, p2.name]
            assert recorder.received("marker") == [p1.name, p2.name]
    assert "local" not in on2.received("news")
