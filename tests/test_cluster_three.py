"""The status page's cluster view with three processes over a real Redis, and its failures.

Three processes of ``examples/multiprocess/app.py`` (uvicorn, ``AsyncRedisManager``)
share a redis-server on 127.0.0.1. The tests check that:

- each process's ``status.json`` lists the namespaces held by the other two within
  3 s of their clients' connects (the summaries are published every 2 s);
- a process killed with SIGKILL (no goodbye: its summary stays in Redis until it
  expires) is first shown ``healthy: false``, then dropped from ``servers``;
- a Redis restart is survived: while Redis is down the page is the local view with
  its note, then the cluster view comes back with every process, and
  python-socketio's cross-process emits work again.

Every wait polls a condition with a deadline; none sleeps to synchronise.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _helpers import client
from _redis import TIMEOUT, AppProcess, Recorder, RedisServer, control, start_cluster, wait_until

from dynamic_io_asgi._cluster import INTERVAL

CHANNEL = "cluster-three"
#: How soon a namespace of one process must be on every other process's page.
SPREAD = 3.0
#: Poll pace of the status pages (the summaries change every INTERVAL).
POLL = 0.05
CHAT = "//alpha.test/chat"


@pytest.fixture
def three(redis_server: RedisServer, tmp_path: Path) -> Iterator[list[AppProcess]]:
    """p1, p2, p3 with their status pages, each subscribed to the channel."""
    started = start_cluster(
        tmp_path, redis_server.url, 3, DYNAMIC_IO_STATUS="1", REDIS_CHANNEL=CHANNEL
    )
    try:
        wait_until(lambda: redis_server.subscribers(CHANNEL) == 3, "every process to subscribe")
        yield started
    finally:
        for process in started:
            process.stop()
            print(f"--- {process.name} log ---\n{process.log()}")


async def status(
    http: httpx.AsyncClient, process: AppProcess, path: str = "/socket.io/status.json"
) -> httpx.Response:
    """A status request to ``process`` for the main host; must answer 200."""
    response = await http.get(process.url + path, headers={"Host": "main.test"})
    assert response.status_code == 200, response.text
    return response


async def document(http: httpx.AsyncClient, process: AppProcess) -> dict[str, Any]:
    """``process``'s ``status.json`` (the cluster view unless Redis fails)."""
    result: dict[str, Any] = (await status(http, process)).json()
    return result


async def poll_until(
    check: Callable[[], Awaitable[bool]], what: str, timeout: float = TIMEOUT
) -> float:
    """Call ``check`` every POLL seconds until it holds; the seconds it took.

    Fails with ``what`` after ``timeout`` seconds.
    """
    start = time.monotonic()
    try:
        async with asyncio.timeout(timeout):
            while not await check():
                await asyncio.sleep(POLL)
    except TimeoutError:
        raise AssertionError(f"timed out after {timeout} s waiting for {what}") from None
    return time.monotonic() - start


def namespace_servers(doc: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Each namespace of a cluster document: server id -> sockets there."""
    return {row["name"]: row["servers"] for row in doc["namespaces"] if "servers" in row}


@contextlib.asynccontextmanager
async def recorded(url: str, host: str, namespace: str) -> AsyncIterator[Recorder]:
    """A websocket client of ``host`` in ``namespace`` on the process at ``url``."""
    async with client(url, host, namespaces=[namespace]) as sio:
        yield Recorder(sio)


async def test_every_process_lists_the_others_namespaces_within_3_s(
    three: list[AppProcess],
) -> None:
    shorts = [f"/on-{process.name}" for process in three]
    names = [f"//alpha.test{short}" for short in shorts]
    async with httpx.AsyncClient(timeout=TIMEOUT) as http:
        ids = [(await document(http, process))["cluster"]["server_id"] for process in three]
        connected_at: dict[str, float] = {}

        async def connect(process: AppProcess, short: str, stack: Any) -> None:
            await stack.enter_async_context(recorded(process.url, "alpha.test", short))
            connected_at[f"//alpha.test{short}"] = time.monotonic()

        async with contextlib.AsyncExitStack() as stack:
            await asyncio.gather(
                *(connect(p, s, stack) for p, s in zip(three, shorts, strict=True))
            )
            # When each process first listed each other process's namespace, with the
            # right server and socket count.
            seen: dict[tuple[int, str], float] = {}

            async def everyone_sees_everything() -> bool:
                docs = await asyncio.gather(*(document(http, process) for process in three))
                now = time.monotonic()
                for viewer, doc in enumerate(docs):
                    listed = namespace_servers(doc)  # empty if Redis was slow to answer
                    for holder, name in enumerate(names):
                        if listed.get(name) == {ids[holder]: 1}:
                            seen.setdefault((viewer, name), now)
                return len(seen) == len(three) * len(names)

            await poll_until(everyone_sees_everything, "every namespace on every page")
            delays = {
                (three[viewer].name, name): round(at - connected_at[name], 3)
                for (viewer, name), at in seen.items()
                if names.index(name) != viewer
            }
            print("seconds from a client's connect to the other pages:", delays)
            assert max(delays.values()) < SPREAD, delays


async def test_a_killed_process_turns_unhealthy_then_leaves(three: list[AppProcess]) -> None:
    p1, p2, p3 = three
    async with (
        httpx.AsyncClient(timeout=TIMEOUT) as http,
        recorded(p3.url, "alpha.test", "/doomed"),
    ):
        killed = (await document(http, p3))["cluster"]["server_id"]

        async def both_list_it() -> bool:
            for process in (p1, p2):
                doc = await document(http, process)
                if namespace_servers(doc).get("//alpha.test/doomed") != {killed: 1}:
                    return False
            return True

        await poll_until(both_list_it, "p1 and p2 to list p3's namespace")
        assert p3.process is not None
        p3.process.kill()  # SIGKILL: its summary stays in Redis until it expires
        killed_at = time.monotonic()
        # What p1 and p2 said of p3 since, in order: "healthy", "unhealthy", "gone".
        states: dict[str, list[str]] = {p1.name: [], p2.name: []}
        first_seen: dict[tuple[str, str], float] = {}

        async def gone_from_both() -> bool:
            for process in (p1, p2):
                doc = await document(http, process)
                if doc["cluster"]["scope"] != "cluster":  # Redis slow to answer: ask again
                    return False
                mine = [server for server in doc["servers"] if server["id"] == killed]
                if not mine:
                    state = "gone"
                    assert "//alpha.test/doomed" not in namespace_servers(doc)
                else:
                    state = "healthy" if mine[0]["healthy"] else "unhealthy"
                    assert namespace_servers(doc)["//alpha.test/doomed"] == {killed: 1}
                    assert doc["cluster"]["totals"]["healthy"] == 3 - (state == "unhealthy")
                if not states[process.name] or states[process.name][-1] != state:
                    states[process.name].append(state)
                    first_seen.setdefault((process.name, state), time.monotonic() - killed_at)
            return all(seen[-1:] == ["gone"] for seen in states.values())

        # Its key expires 3 intervals after its last publish, at most 3 intervals from now.
        await poll_until(gone_from_both, "p3 to leave both pages", timeout=3 * INTERVAL + 5)
        print("states of p3 since the kill:", states, "first seen (s):", first_seen)
        for seen in states.values():
            assert seen in (["healthy", "unhealthy", "gone"], ["unhealthy", "gone"]), states


async def test_a_redis_restart_is_survived(
    three: list[AppProcess], redis_server: RedisServer
) -> None:
    chat = CHAT
    async with contextlib.AsyncExitStack() as stack:
        http = await stack.enter_async_context(httpx.AsyncClient(timeout=TIMEOUT))
        recorders = [
            await stack.enter_async_context(recorded(process.url, "alpha.test", "/chat"))
            for process in three
        ]

        async def whole_cluster() -> bool:
            for process in three:
                doc = await document(http, process)
                if doc["cluster"]["scope"] != "cluster" or doc["cluster"]["error"] is not None:
                    return False
                servers = doc["servers"]
                if len(servers) != 3 or not all(server["healthy"] for server in servers):
                    return False
                if sum(namespace_servers(doc).get(chat, {}).values()) != 3:
                    return False
            return True

        await poll_until(whole_cluster, "the cluster view of three processes")
        await reach_everyone(three, recorders, "before")

        failed_before = [publish_failures(process) for process in three]
        redis_server.stop()
        stopped_at = time.monotonic()
        await degraded_pages(http, three)
        # Down long enough for every publisher to have failed once (and the managers'
        # listeners to back off), then the same checks again.
        wait_until(
            lambda: all(publish_failures(p) > n for p, n in zip(three, failed_before, strict=True)),
            "every process to fail to publish its summary",
            timeout=3 * INTERVAL + TIMEOUT,
        )
        await degraded_pages(http, three)

        outage = time.monotonic() - stopped_at
        redis_server.start(redis_server.port)
        back = await poll_until(whole_cluster, "the cluster view to come back")
        started = time.monotonic()
        tries = await reach_everyone(three, recorders, "after")
        print(
            f"Redis down {outage:.2f} s; the cluster view back {back:.2f} s after its restart;"
            f" emits through it {time.monotonic() - started:.2f} s later (tries: {tries})"
        )
        wait_until(lambda: redis_server.subscribers(CHANNEL) == 3, "every process to resubscribe")


def publish_failures(process: AppProcess) -> int:
    """How many times ``process`` logged that it could not publish its summary."""
    return process.log_path.read_text(errors="replace").count(
        "cluster status: could not publish to Redis"
    )


async def degraded_pages(http: httpx.AsyncClient, three: list[AppProcess]) -> None:
    """Each process's page is its local view, with the reason said, and answers 200."""
    for process in three:
        doc = await document(http, process)
        assert doc["cluster"]["scope"] == "local" and doc["cluster"]["error"], doc["cluster"]
        assert "servers" not in doc and doc["cluster"]["totals"] is None
        assert namespace_servers(doc) == {}
        assert CHAT in {row["name"] for row in doc["namespaces"]}
        html = (await status(http, process, "/socket.io/status")).text
        assert "Cluster view unavailable (" in html and "this process only" in html
        assert '<table class="servers">' not in html


async def reach_everyone(three: list[AppProcess], recorders: list[Recorder], label: str) -> str:
    """From each process, emit to ``//alpha.test/chat`` until the clients of all three
    processes got it (the managers reconnect to Redis with backoff); how many tries."""
    tries = []
    async with asyncio.timeout(2 * TIMEOUT):
        for process in three:
            attempt = 0
            while True:
                attempt += 1
                data = f"{label} from {process.name} #{attempt}"
                await control(process.url, "emit", namespace=CHAT, event="news", data=data)
                try:
                    for recorder in recorders:
                        await recorder.wait_for("news", data, timeout=0.5)
                    break
                except TimeoutError:
                    continue
            tries.append(f"{process.name}: {attempt}")
    return ", ".join(tries)
