"""Each example started by the command its docs give, then talked to over the network.

tests/test_frameworks.py loads the examples in this process and tests/test_nginx.py runs
``examples/multiprocess/run.sh``; here each documented command line runs as a
subprocess (on a free port of 127.0.0.1, put where the docs write ``8000``) and real
python-socketio clients (websocket) talk to it on the main host and on a tenant host.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import socketio
from _examples import (
    LOCAL_CLIENT,
    MULTIPROCESS,
    ROOT,
    Running,
    connected,
    demo_command,
    example_env,
    multiprocess_command,
    redis_server,
    running,
    uvicorn_command,
)
from _redis import TIMEOUT, RedisServer, eventually, free_ports, recorded_client

WEBSOCKET = ["websocket"]
CDN = "https://cdn.socket.io/"
VENDOR = "/vendor/socket.io.min.js"
CHANNEL = "dynamic-io-examples"


async def status_names(example: Running, host: str) -> list[str]:
    """The namespaces the status page (JSON) shows to ``host``."""
    async with httpx.AsyncClient(timeout=TIMEOUT) as http:
        response = await http.get(f"{example.url}/socket.io/status.json", headers={"Host": host})
    response.raise_for_status()
    return [nsp["name"] for nsp in response.json()["namespaces"]]


async def round_trip(sio: socketio.AsyncClient, namespace: str, event: str, data: Any) -> Any:
    """``call()`` an event: the server's answer."""
    return await sio.call(event, data, namespace=namespace, timeout=TIMEOUT)


# -- examples/basic.py: uvicorn examples.basic:app --port 8000 ------------------------------


async def test_basic(tmp_path: Path) -> None:
    argv = [*uvicorn_command(), "examples.basic:app", "--port", "{port}"]
    async with running(argv, tmp_path / "basic.log") as example:
        main_host, alpha_host = example.host("127.0.0.1"), example.host("alpha.localhost")
        async with (
            recorded_client(example.url, main_host, ["/", "/chat"], WEBSOCKET) as (main, heard),
            recorded_client(example.url, alpha_host, ["/chat"], WEBSOCKET) as (alpha, alpha_heard),
        ):
            assert await round_trip(main, "/", "ping", "?") == "pong"  # the static handler
            for sio, text in ((main, "main says hi"), (alpha, "alpha says hi"), (main, "end")):
                assert await round_trip(sio, "/chat", "chat", text) == "delivered"
            await round_trip(alpha, "/chat", "chat", "end")
            await heard.wait_for("chat", "end", "/chat")
            await alpha_heard.wait_for("chat", "end", "/chat")
            assert heard.received("chat") == ["main says hi", "end"]
            assert alpha_heard.received("chat") == ["alpha says hi", "end"]  # alpha's own /chat

            names = await status_names(example, main_host)
            assert {"/chat", "//alpha.localhost/chat"} <= set(names)
            assert await status_names(example, alpha_host) == ["/chat"]  # its own, by short name

            for namespace, auth in (("/private", None), ("/admin", {"token": "guess"})):
                with pytest.raises(socketio.exceptions.ConnectionError):  # refused by a setup
                    async with connected(example, "alpha.localhost", namespace, auth):
                        pass
            secret = {"token": "secret"}
            async with connected(example, "alpha.localhost", "/admin", secret) as admin:
                assert admin.get_sid("/admin") is not None
    example.assert_stopped_cleanly()
    log = example.log()
    assert "joined //alpha.localhost/chat" in log
    assert "refused //alpha.localhost/private (invalid)" in log


# -- examples/fastapi_app.py: uvicorn examples.fastapi_app:app --port 8000 -----------------


async def test_fastapi_app(tmp_path: Path) -> None:
    argv = [*uvicorn_command(), "examples.fastapi_app:app", "--port", "{port}"]
    async with (
        running(argv, tmp_path / "fastapi.log") as example,
        httpx.AsyncClient(base_url=example.url, timeout=TIMEOUT) as http,
    ):
        alpha_host = {"Host": example.host("alpha.localhost")}
        main_hello = (await http.get("/api/hello")).json()  # to 127.0.0.1: the main host
        alpha_hello = (await http.get("/api/hello", headers=alpha_host)).json()
        assert (main_hello["host"], alpha_hello["host"]) == (None, "alpha.localhost")
        assert (await http.get("/docs")).status_code == 200

        async with (
            recorded_client(example.url, example.host("127.0.0.1"), ["/room/blue"], WEBSOCKET) as (
                main,
                heard,
            ),
            recorded_client(example.url, alpha_host["Host"], ["/room/blue"], WEBSOCKET) as (
                alpha,
                alpha_heard,
            ),
        ):
            assert await round_trip(alpha, "/room/blue", "chat", "hi") == "delivered"
            rooms = await http.get("/api/rooms", headers=alpha_host)
            assert rooms.json() == [{"name": "/room/blue", "sockets": 1}]

            for headers, text in ((alpha_host, "for alpha"), ({}, "for main")):
                answer = await http.post(
                    "/api/rooms/blue/announce", json={"text": text}, headers=headers
                )
                assert answer.json() == {"room": "/room/blue", "delivered_to": 1}
            await heard.wait_for("announcement", "for main")
            await alpha_heard.wait_for("announcement", "for alpha")
            assert heard.received("announcement") == ["for main"]
            assert alpha_heard.received("announcement") == ["for alpha"]
            assert alpha_heard.received("chat") == [{"room": "blue", "text": "hi"}]

            beta = {"Host": example.host("beta.localhost")}
            nobody = await http.post("/api/rooms/blue/announce", json={"text": "?"}, headers=beta)
            assert nobody.status_code == 404
    example.assert_stopped_cleanly()


# -- examples/demo: uvicorn app:app --app-dir examples/demo --port 8000 (and scripts/demo.sh) --


async def check_page(example: Running, host: str, *more: str) -> str:
    """The page at ``/`` of ``host`` (its text), which loads the Socket.IO client from the
    example when tests/js/node_modules has it, else from the CDN; ``more`` paths serve too."""
    async with httpx.AsyncClient(base_url=example.url, timeout=TIMEOUT) as http:
        page = await http.get("/", headers={"Host": host})
        vendor = await http.get(VENDOR, headers={"Host": host})
        for path in more:
            assert (await http.get(path, headers={"Host": host})).status_code == 200, path
    assert page.status_code == 200
    if LOCAL_CLIENT.is_file():
        assert f'<script src="{VENDOR}">' in page.text and CDN not in page.text
        assert vendor.status_code == 200 and vendor.content == LOCAL_CLIENT.read_bytes()
        assert vendor.headers["content-type"].startswith("text/javascript")
    else:
        assert f'<script src="{CDN}' in page.text
    return page.text


async def check_demo(example: Running) -> None:
    """The demo's page and its scripts, and a room on the main host and on alpha."""
    alpha_host = example.host("alpha.localhost")
    await check_page(example, alpha_host, "/static/demo.js", "/static/demo.css")

    seen = {}
    for host, nick in (("localhost", "ada"), ("alpha.localhost", "bob")):
        async with (
            connected(example, host, "/lobby") as lobby,
            connected(example, host, "/room/general", {"nick": nick}) as room,
        ):
            view = await round_trip(room, "/room/general", "join", None)
            assert view["members"] == [nick]
            assert await round_trip(room, "/room/general", "message", "hello") is True
            rooms = await round_trip(lobby, "/lobby", "rooms", None)
            assert rooms == [{"room": "general", "members": 1}]
        seen[nick] = view["fullname"]
    assert seen == {"ada": "/room/general", "bob": "//alpha.localhost/room/general"}


async def test_demo(tmp_path: Path) -> None:
    async with running(demo_command(), tmp_path / "demo.log") as example:
        await check_demo(example)
    example.assert_stopped_cleanly()


def bootstrapped() -> bool:
    """Whether scripts/bootstrap.sh has nothing left to install (demo.sh runs it first)."""
    stamp = ROOT / ".venv" / ".installed"
    node = ROOT / "tests" / "js" / "node_modules"
    return (  # the conditions under which bootstrap.sh installs nothing
        stamp.is_file()
        and stamp.stat().st_mtime >= (ROOT / "pyproject.toml").stat().st_mtime
        and node.is_dir()
        and node.stat().st_mtime >= (ROOT / "tests" / "js" / "package.json").stat().st_mtime
        and all(shutil.which(tool) for tool in ("redis-server", "nginx", "chromium"))
    )


@pytest.mark.skipif(not bootstrapped(), reason="scripts/bootstrap.sh has not run here")
async def test_demo_sh(tmp_path: Path) -> None:
    env = example_env(PORT="{port}")
    async with running(["scripts/demo.sh"], tmp_path / "demo-sh.log", env=env) as example:
        await check_demo(example)
    example.assert_stopped_cleanly()


# -- examples/multiprocess: REDIS_URL=... uvicorn app:app --host 127.0.0.1 --port 8001 -----
# (python app.py is tests/_redis.py's AppProcess; tests/test_nginx.py runs ./run.sh too)


async def whoami(sio: socketio.AsyncClient) -> dict[str, Any]:
    """Which process and namespace the client's ``/chat`` is in."""
    answer: dict[str, Any] = await round_trip(sio, "/chat", "whoami", None)
    return answer


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    with redis_server(tmp_path) as server:
        yield server


async def test_multiprocess_two_processes(tmp_path: Path, redis: RedisServer) -> None:
    argv, cwd = multiprocess_command(), MULTIPROCESS

    def env(name: str) -> dict[str, str]:
        return example_env(REDIS_URL=redis.url, REDIS_CHANNEL=CHANNEL, DYNAMIC_IO_NAME=name)

    async with (
        running(argv, tmp_path / "one.log", cwd=cwd, env=env("one")) as one,
        running(argv, tmp_path / "two.log", cwd=cwd, env=env("two")) as two,
    ):
        await eventually(lambda: redis.subscribers(CHANNEL) == 2, "both to listen")
        assert "Served by" in await check_page(one, one.host("alpha.localhost"))
        async with (
            recorded_client(one.url, one.host("alpha.localhost"), ["/chat"], WEBSOCKET) as (
                alpha_one,
                heard_one,
            ),
            recorded_client(two.url, two.host("alpha.localhost"), ["/chat"], WEBSOCKET) as (
                alpha_two,
                heard_two,
            ),
            recorded_client(two.url, two.host("127.0.0.1"), ["/chat"], WEBSOCKET) as (
                main_two,
                heard_main,
            ),
        ):
            assert (await whoami(alpha_one))["process"] == "one"
            assert await whoami(alpha_two) == {
                "process": "two",
                "namespace": "//alpha.localhost/chat",
                "sid": alpha_two.get_sid("/chat"),
            }
            assert (await whoami(main_two))["namespace"] == "/chat"

            await alpha_one.emit("chat", "from one", namespace="/chat")  # to alpha on both
            await main_two.emit("chat", "main only", namespace="/chat")
            await heard_two.wait_for("chat", "from one", "/chat")
            await heard_one.wait_for("chat", "from one", "/chat")
            await heard_main.wait_for("chat", "main only", "/chat")
            await alpha_two.emit("chat", "end", namespace="/chat")
            await heard_one.wait_for("chat", "end", "/chat")
            assert heard_one.received("chat") == ["from one", "end"]
            assert heard_main.received("chat") == ["main only"]
    one.assert_stopped_cleanly()
    two.assert_stopped_cleanly()


@pytest.mark.skipif(
    not (shutil.which("nginx") and shutil.which("redis-server")), reason="needs nginx and redis"
)
async def test_run_sh_serves_as_soon_as_nginx_listens(tmp_path: Path) -> None:
    """./run.sh: nginx's first answer is the page, not a 502 from processes not yet up."""
    redis_port, *app_ports = free_ports(4)
    env = example_env(
        PYTHON=sys.executable,
        PORT="{port}",
        REDIS_PORT=str(redis_port),
        APP_PORTS=" ".join(map(str, app_ports)),
    )
    argv = ["bash", str(MULTIPROCESS / "run.sh")]
    async with running(argv, tmp_path / "run-sh.log", env=env) as nginx:
        async with httpx.AsyncClient(timeout=TIMEOUT) as http:
            page = await http.get(nginx.url + "/", headers={"Host": nginx.host("alpha.localhost")})
        assert page.status_code == 200 and "Served by" in page.text
        for host, namespace in (
            ("localhost", "/chat"),
            ("alpha.localhost", "//alpha.localhost/chat"),
        ):
            async with connected(nginx, host, "/chat") as sio:
                me = await whoami(sio)
                assert me["namespace"] == namespace and me["process"].startswith("node ")
    nginx.assert_stopped_cleanly()
