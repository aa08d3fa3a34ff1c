"""The multi-process example behind nginx (docs/design.md §8): sticky sessions, both transports.

Three ``examples/multiprocess/app.py`` processes share a redis-server; nginx runs
``examples/multiprocess/nginx.conf`` (the template ``run.sh`` uses) on a free port
of 127.0.0.1. Its balancing line is swapped per test: ``ip_hash`` (the template's),
a hash of an ``affinity`` cookie, and plain round robin as the negative control
that shows why polling needs stickiness. Skipped when nginx or redis-server is
missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
import socketio
from _redis import (
    ROOT,
    TIMEOUT,
    AppProcess,
    RedisServer,
    control,
    eventually,
    free_port,
    free_ports,
    hang_up,
    recorded_client,
    start_cluster,
    stop_process,
    wait_until,
)

pytestmark = pytest.mark.skipif(
    not (shutil.which("nginx") and shutil.which("redis-server")),
    reason="needs nginx and redis-server",
)

EXAMPLE = ROOT / "examples" / "multiprocess"
IP_HASH = "ip_hash;"
COOKIE = "hash $cookie_affinity consistent;"
ROUND_ROBIN = ""  # nginx's default: no stickiness at all
CHAT = "//alpha.test/chat"


class Nginx:
    """nginx with the example's configuration template, on a free port of 127.0.0.1."""

    def __init__(self, folder: Path, app_ports: list[int], balance: str) -> None:
        self.folder = folder
        self.folder.chmod(0o755)  # started by root, nginx workers run as another user
        self.template = (EXAMPLE / "nginx.conf").read_text()
        assert IP_HASH in self.template
        self.servers = " ".join(f"server 127.0.0.1:{port};" for port in app_ports)
        self.balance = balance
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Nginx:
        for _attempt in range(5):  # the free port may be taken before nginx binds it
            self.port = free_port()
            config = (
                self.template.replace("__LISTEN__", f"127.0.0.1:{self.port}")
                .replace("__SERVERS__", self.servers)
                .replace(IP_HASH, self.balance)
            )
            (self.folder / "nginx.conf").write_text(config)
            with open(self.folder / "nginx.log", "ab") as log:
                self.process = subprocess.Popen(
                    ["nginx", "-p", str(self.folder), "-c", str(self.folder / "nginx.conf"),
                     "-e", "stderr",
                     "-g", f"daemon off; pid {self.folder}/nginx.pid; error_log stderr;"],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                )  # fmt: skip
            if self._listening():
                return self
            stop_process(self.process)
        raise RuntimeError(f"nginx did not start: {self.log()}")

    def _listening(self) -> bool:
        assert self.process is not None

        def connects() -> bool:
            if self.process is None or self.process.poll() is not None:
                return True  # exited: stop waiting
            with socket.socket() as sock:
                return sock.connect_ex(("127.0.0.1", self.port)) == 0

        wait_until(connects, "nginx to listen")
        return self.process.poll() is None

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None

    def log(self) -> str:
        return (self.folder / "nginx.log").read_text(errors="replace")[-3000:]


@pytest.fixture(scope="module")
def backends(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[AppProcess]]:
    folder = tmp_path_factory.mktemp("backends")
    redis = RedisServer(folder)
    redis.start()
    processes: list[AppProcess] = []
    try:
        processes = start_cluster(folder, redis.url, 3)
        wait_until(lambda: redis.subscribers() == 3, "every process to subscribe")
        yield processes
    finally:
        for process in processes:
            process.stop()
            print(f"--- {process.name} log ---\n{process.log()}")
        redis.stop()


@contextlib.contextmanager
def nginx(folder: Path, backends: list[AppProcess], balance: str) -> Iterator[Nginx]:
    server = Nginx(folder, [p.port for p in backends], balance).start()
    try:
        yield server
    finally:
        server.stop()
        print(f"--- nginx log ---\n{server.log()}")


async def whoami(sio: socketio.AsyncClient, namespace: str = "/chat") -> str:
    answer = await sio.call("whoami", namespace=namespace, timeout=TIMEOUT)
    name: str = answer["process"]
    return name


# -- the stickiness itself, at the Engine.IO level -------------------------------------------


@pytest.mark.parametrize(
    ("balance", "cookie", "sticky"),
    [(IP_HASH, None, True), (COOKIE, "affinity=k1", True), (ROUND_ROBIN, None, False)],
    ids=["ip_hash", "cookie", "round-robin"],
)
async def test_polling_requests_of_a_session_reach_its_process(
    backends: list[AppProcess], tmp_path: Path, balance: str, cookie: str | None, sticky: bool
) -> None:
    """A polling session sends many requests; without stickiness they land elsewhere (400)."""
    headers = {"Host": "alpha.test", **({"Cookie": cookie} if cookie else {})}
    with nginx(tmp_path, backends, balance) as proxy:
        async with aiohttp.ClientSession() as http:
            base = proxy.url + "/socket.io/?EIO=4&transport=polling"
            async with http.get(base, headers=headers) as response:
                assert response.status == 200
                sid = (await response.text()).split('"sid":"')[1].split('"')[0]
            statuses = []
            for _ in range(4):  # PONG packets: harmless, answered "ok" by the right process
                async with http.post(f"{base}&sid={sid}", data=b"3", headers=headers) as response:
                    statuses.append(response.status)
            async with http.post(f"{base}&sid={sid}", data=b"1", headers=headers):
                pass  # close the session, wherever it went
    if sticky:
        assert statuses == [200] * 4
    else:
        assert 400 in statuses and 200 in statuses


# -- real clients through nginx --------------------------------------------------------------


@pytest.mark.parametrize(
    "transports", [["polling"], ["websocket"], ["polling", "websocket"]], ids=lambda t: "+".join(t)
)
async def test_clients_through_nginx_get_broadcasts_from_every_process(
    backends: list[AppProcess], tmp_path: Path, transports: list[str]
) -> None:
    by_name = {p.name: p for p in backends}
    with nginx(tmp_path, backends, IP_HASH) as proxy:
        async with (
            recorded_client(proxy.url, "alpha.test", ["/chat"], transports) as (sio, recorder),
            recorded_client(proxy.url, "beta.test", ["/chat"], ["websocket"]) as (_, beta),
        ):
            home = await whoami(sio)
            assert [await whoami(sio) for _ in range(3)] == [home] * 3
            for process in backends:  # the client's own process and the two others
                await control(process.url, "emit", namespace=CHAT, event="news", data=process.name)
                await control(
                    process.url, "emit", namespace="//beta.test/chat", event="marker", data=1
                )
            await beta.wait_for("marker", 1)
            for process in backends:
                await recorder.wait_for("news", process.name)
            assert beta.received("news") == []
            # A chat message from a client of another process, not behind nginx.
            other = next(p for p in backends if p.name != home)
            async with recorded_client(other.url, "alpha.test", ["/chat"], ["websocket"]) as (
                direct,
                _,
            ):
                await direct.emit("chat", "through redis", namespace="/chat")
                await recorder.wait_for("chat", "through redis", "/chat")
            if sio.eio.current_transport == "polling":
                await hang_up(sio, by_name[home].url, CHAT, "/chat")


async def test_cookie_affinity_spreads_polling_clients_over_processes(
    backends: list[AppProcess], tmp_path: Path
) -> None:
    by_name = {p.name: p for p in backends}
    with nginx(tmp_path, backends, COOKIE) as proxy:
        async with contextlib.AsyncExitStack() as stack:
            clients = [
                await stack.enter_async_context(
                    recorded_client(
                        proxy.url,
                        "alpha.test",
                        ["/chat"],
                        ["polling"],
                        cookies={"affinity": f"client-{i}"},
                    )
                )
                for i in range(8)
            ]
            homes = [await whoami(sio) for sio, _ in clients]
            assert homes == [await whoami(sio) for sio, _ in clients]  # stable
            assert len(set(homes)) >= 2, homes  # and spread
            sender, _ = clients[0]
            await sender.emit("chat", "hello all", namespace="/chat")
            for _, recorder in clients:
                await recorder.wait_for("chat", "hello all", "/chat")
            await asyncio.gather(
                *(
                    hang_up(sio, by_name[home].url, CHAT, "/chat")
                    for (sio, _), home in zip(clients, homes, strict=True)
                )
            )


# -- run.sh as a user would run it -------------------------------------------------------------


@contextlib.asynccontextmanager
async def run_sh(tmp_path: Path) -> AsyncIterator[tuple[str, list[str], int, int]]:
    """``examples/multiprocess/run.sh`` on free ports; yields nginx's URL, the apps' URLs,
    the Redis port and the script's process group."""
    port, redis_port, *app_ports = free_ports(5)
    env = {
        **os.environ,
        "PYTHON": sys.executable,
        "PORT": str(port),
        "REDIS_PORT": str(redis_port),
        "APP_PORTS": " ".join(map(str, app_ports)),
        "DYNAMIC_IO_CONTROL": "1",
    }
    with open(tmp_path / "run.log", "ab") as log:
        process = subprocess.Popen(
            ["bash", str(EXAMPLE / "run.sh")],
            env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
        )  # fmt: skip
    urls = [f"http://127.0.0.1:{p}" for p in app_ports]
    try:
        async with aiohttp.ClientSession() as http, asyncio.timeout(TIMEOUT):
            for url in [*urls, f"http://127.0.0.1:{port}"]:
                while True:
                    assert process.poll() is None, (tmp_path / "run.log").read_text()
                    try:
                        async with http.get(url + "/") as response:
                            if response.status == 200:
                                break
                    except aiohttp.ClientError:
                        pass
                    await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{port}", urls, redis_port, process.pid
    finally:
        process.send_signal(signal.SIGTERM)  # run.sh stops its children
        try:
            process.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        print((tmp_path / "run.log").read_text(errors="replace")[-3000:])


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)  # signal 0: only asks whether the group still exists
    except ProcessLookupError:
        return False
    return True


async def test_run_sh_serves_a_chat_across_processes(tmp_path: Path) -> None:
    async with run_sh(tmp_path) as (url, app_urls, redis_port, process_group):
        redis = RedisServer(tmp_path)
        redis.port = redis_port
        await eventually(lambda: redis.subscribers("dynamic-io") == 3, "3 subscribers")
        async with (
            recorded_client(url, "alpha.localhost", ["/chat"], ["polling"]) as (polling, on_poll),
            recorded_client(app_urls[2], "alpha.localhost", ["/chat"], ["websocket"]) as (
                ws,
                on_ws,
            ),
        ):
            await ws.emit("chat", "hi", namespace="/chat")
            await on_poll.wait_for("chat", "hi", "/chat")
            await polling.emit("chat", "hello", namespace="/chat")
            await on_ws.wait_for("chat", "hello", "/chat")
            home = await whoami(polling)
            holder = app_urls[int(home.split()[-1]) - 1]  # run.sh names them "node <n>"
            await hang_up(polling, holder, "//alpha.localhost/chat", "/chat")
    # run.sh stopped everything it started (and reaped it).
    await eventually(lambda: not _group_alive(process_group), "run.sh's processes to end")
