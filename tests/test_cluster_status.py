"""The status page's cluster view over Redis: two processes of
``examples/multiprocess/app.py`` with ``AsyncRedisManager``, a real redis-server,
real clients. Each process publishes a summary of itself; either one's
``status.json`` lists both servers and which namespace lives where."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _helpers import client
from _redis import TIMEOUT, AppProcess, RedisServer, start_cluster


@pytest.fixture
def processes(redis_server: RedisServer, tmp_path: Path) -> Iterator[list[AppProcess]]:
    started = start_cluster(
        tmp_path, redis_server.url, 2, DYNAMIC_IO_STATUS="1", REDIS_CHANNEL="cluster-status"
    )
    yield started
    for process in started:
        process.stop()


async def status(process: AppProcess, host: str = "main.test", query: str = "") -> Any:
    async with httpx.AsyncClient(timeout=TIMEOUT) as http:
        response = await http.get(
            f"{process.url}/socket.io/status.json{query}", headers={"Host": host}
        )
    assert response.status_code == 200, response.text
    return response.json()


async def test_every_process_sees_the_cluster(
    processes: list[AppProcess], redis_server: RedisServer
) -> None:
    first, second = processes
    async with client(second.url, "alpha.test", namespaces=["/room"]):
        seen: dict[str, Any] = {}

        async def both_servers_and_the_room() -> bool:
            seen.update(await status(first))
            names = {row["name"]: row for row in seen["namespaces"]}
            return len(seen.get("servers", [])) == 2 and "//alpha.test/room" in names

        await eventually_async(both_servers_and_the_room, "p1 to see p2's namespace")
        assert seen["cluster"]["scope"] == "cluster" and seen["cluster"]["error"] is None
        ours = seen["cluster"]["server_id"]
        (theirs,) = [server["id"] for server in seen["servers"] if server["id"] != ours]
        room = next(row for row in seen["namespaces"] if row["name"] == "//alpha.test/room")
        assert room["servers"] == {theirs: 1} and room["socket_count"] == 1
        for server in seen["servers"]:
            assert server["healthy"] and server["pid"] > 0 and "namespaces" in server
        # This process alone does not have it.
        local = await status(first, query="?scope=local")
        assert local["cluster"]["scope"] == "local"
        assert "//alpha.test/room" not in {row["name"] for row in local["namespaces"]}
        assert "servers" not in local
        # A tenant sees its own, across the cluster, by short name; another tenant nothing.
        tenant = await status(first, host="alpha.test")
        assert "/room" in {row["name"] for row in tenant["namespaces"]}
        other = await status(first, host="beta.test")
        assert other["namespaces"] == []
        # Redis down: the local view, the error said.
        redis_server.stop()
        degraded = await status(first)
        assert degraded["cluster"]["scope"] == "local" and degraded["cluster"]["error"]
        assert "servers" not in degraded


async def eventually_async(check: Any, what: str) -> None:
    """Call the async ``check`` until it holds, for at most TIMEOUT seconds."""
    import asyncio

    async with asyncio.timeout(TIMEOUT):
        while not await check():
            await asyncio.sleep(0.1)  # the summaries are published every 2 s


async def test_the_html_page_lists_the_servers(processes: list[AppProcess]) -> None:
    first, _ = processes
    async with httpx.AsyncClient(timeout=TIMEOUT) as http:

        async def two_servers() -> bool:
            response = await http.get(
                f"{first.url}/socket.io/status", headers={"Host": "main.test"}
            )
            return response.text.count("healthy</td>") == 2

        await eventually_async(two_servers, "the HTML page to list both servers")


async def test_a_large_process_publishes_counts_not_names() -> None:
    import socketio

    from dynamic_io_asgi import DynamicIO
    from dynamic_io_asgi._cluster import MAX_PUBLISHED

    manager = socketio.AsyncRedisManager("redis://127.0.0.1:1")  # never connected here
    sio = socketio.AsyncServer(async_mode="asgi", client_manager=manager)
    app = DynamicIO(socketio.ASGIApp(sio))
    app.setup_namespace("*", lambda nsp, match: None)
    assert app.cluster is not None
    for index in range(MAX_PUBLISHED):
        await app.of(f"/n{index}")
    assert len(app.cluster.summary()["namespaces"]) == MAX_PUBLISHED
    await app.of("/one-more")
    summary = app.cluster.summary()
    assert summary["namespace_count"] == MAX_PUBLISHED + 1 and summary["namespaces"] == {}
    await app.aclose()
