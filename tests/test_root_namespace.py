"""The root namespace and the main host, end to end: setup applies to every host's
``/``, the main host's included; a host's ``/`` with no setup is admitted as
python-socketio admits ``/``; several main host names; ``host=True`` and requests
without a Host; and the public API's sharp edges.

A real uvicorn server and python-socketio ``AsyncClient``s (websocket unless a
test says otherwise), raw HTTP where the exact answer matters.
"""

from __future__ import annotations

import asyncio
import math
import re
from pathlib import Path
from typing import Any

import pytest
import socketio
from _helpers import TIMEOUT, client, load_script, serve
from _raw import EIO_PATH, build_request, engineio_headers, exchange

from dynamic_io_asgi import BadHost, DynamicIO, DynamicNamespace, NamespaceClosed

MAIN = "main.test"
INVALID = {"message": "Invalid namespace"}
EXAMPLES = Path(__file__).parent.parent / "examples"


def echoing(calls: list[str]) -> Any:
    """A setup callback that records the full names it sets up; ``whoami`` answers."""

    def setup(nsp: DynamicNamespace, match: re.Match[str]) -> None:
        calls.append(nsp.fullname)
        nsp.on("whoami", lambda sid: {"fullname": nsp.fullname, "host": nsp.host})

    return setup


async def refusal(url: str, name: str, host: str | None) -> Any:
    """Connect to ``name`` alone, expecting a refusal; the CONNECT_ERROR data."""
    c = socketio.AsyncClient(reconnection=False)
    errors: list[Any] = []
    c.on("connect_error", errors.append, namespace=name)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await c.connect(
            url,
            headers={"Host": host} if host else {},
            namespaces=[name],
            transports=["websocket"],
            wait_timeout=TIMEOUT,
        )
    assert len(errors) == 1
    return errors[0]


# -- setup applies to the main host's "/" -------------------------------------------------


@pytest.mark.parametrize("pattern", ["*", "/", re.compile(r"^(//[^/]+)?/$")])
async def test_setup_sets_up_the_main_hosts_root(pattern: str | re.Pattern[str]) -> None:
    sio = socketio.AsyncServer(async_mode="asgi")
    app = DynamicIO(socketio.ASGIApp(sio), host=MAIN)
    calls: list[str] = []
    app.setup_namespace(pattern, echoing(calls))
    async with serve(app) as url:
        async with client(url, MAIN) as c:  # namespaces ["/"], as io() connects
            assert await c.call("whoami", timeout=TIMEOUT) == {"fullname": "/", "host": None}
        async with client(url, MAIN) as c:  # the same object: set up once
            assert await c.call("whoami", timeout=TIMEOUT) == {"fullname": "/", "host": None}
        assert calls == ["/"]
        nsp = app.namespaces["/"]
        assert nsp.retirement == math.inf and not nsp.static and nsp.pattern is not None


async def test_the_main_hosts_root_is_set_up_over_polling_too() -> None:
    sio = socketio.AsyncServer(async_mode="asgi")
    app = DynamicIO(socketio.ASGIApp(sio), host=None)  # every host is the main host
    calls: list[str] = []
    app.setup_namespace("*", echoing(calls))
    async with serve(app) as url, client(url, transports=["polling"]) as c:
        assert await c.call("whoami", timeout=TIMEOUT) == {"fullname": "/", "host": None}
    assert calls == ["/"]


async def test_of_sets_up_the_main_hosts_root() -> None:
    sio = socketio.AsyncServer(async_mode="asgi")
    app = DynamicIO(socketio.ASGIApp(sio), host=MAIN)
    calls: list[str] = []
    app.setup_namespace("/", echoing(calls))
    async with serve(app) as url:
        nsp = await app.of("/")
        assert calls == ["/"] and not nsp.static
        async with client(url, MAIN) as c:
            assert await c.call("whoami", timeout=TIMEOUT) == {"fullname": "/", "host": None}
        assert calls == ["/"]


async def test_the_main_hosts_root_retires_only_when_its_setup_says_so() -> None:
    sio = socketio.AsyncServer(async_mode="asgi")
    app = DynamicIO(socketio.ASGIApp(sio), host=MAIN, retirement=0.1)
    retired = asyncio.Event()

    @app.setup_namespace("/")
    def setup(nsp: DynamicNamespace, match: re.Match[str]) -> None:
        nsp.retirement = 0.2
        nsp.on_retire(lambda nsp: retired.set())

    async with serve(app) as url:
        async with client(url, MAIN):
            pass
        async with asyncio.timeout(TIMEOUT):
            await retired.wait()
        assert "/" not in app.namespaces


async def test_a_static_root_beside_a_catch_all_setup() -> None:
    sio = socketio.AsyncServer(async_mode="asgi")
    app = DynamicIO(socketio.ASGIApp(sio), host=MAIN)
    calls: list[str] = []
    app.setup_namespace("*", echoing(calls))
    sio.on("whoami", lambda sid: "static", namespace="/")
    async with serve(app) as url:
        async with client(url, MAIN) as c:
            assert await c.call("whoami", timeout=TIMEOUT) == "static"
        async with client(url, "alpha.test") as c:  # another host's "/" is set up
            assert await c.call("whoami", timeout=TIMEOUT) == {
                "fullname": "//alpha.test/",
                "host": "alpha.test",
            }
    assert calls == ["//alpha.test/"]
    assert "/" not in app.namespaces


async def test_a_class_based_root_is_static() -> None:
    class Root(socketio.AsyncNamespace):
        def on_whoami(self, sid: str) -> str:
            return "class"

    sio = socketio.AsyncServer(async_mode="asgi")
    sio.register_namespace(Root("/"))
    app = DynamicIO(socketio.ASGIApp(sio), host=MAIN)
    calls: list[str] = []
    app.setup_namespace("*", echoing(calls))
    async with serve(app) as url, client(url, MAIN) as c:
        assert await c.call("whoami", timeout=TIMEOUT) == "class"
    assert calls == []


async def test_a_setup_may_refuse_the_main_hosts_root() -> None:
    sio = socketio.AsyncServer(async_mode="asgi")
    app = DynamicIO(socketio.ASGIApp(sio), host=MAIN)
    app.setup_namespace("/", lambda nsp, match: False)
    async with serve(app) as url:
        assert await refusal(url, "/", MAIN) == INVALID
        assert "/" not in app.namespaces


# -- every host's "/" is admitted as python-socketio admits "/" ----------------------------


@pytest.mark.parametrize("transports", [["websocket"], ["polling"]])
async def test_every_hosts_root_is_admitted_without_a_setup(transports: list[str]) -> None:
    sio = socketio.AsyncServer(async_mode="asgi")
    app = DynamicIO(socketio.ASGIApp(sio), host=MAIN, retirement=0.1)
    retired = asyncio.Event()
    async with serve(app) as url:
        async with client(url, "alpha.test", transports=transports) as c:
            assert c.connected
            nsp = app.namespaces["//alpha.test/"]
            assert nsp.pattern is None and nsp.retirement == 0.1
            nsp.on_retire(lambda nsp: retired.set())
        async with client(url, MAIN, transports=transports) as c:
            assert c.connected
        async with asyncio.timeout(TIMEOUT):
            await retired.wait()  # an empty host root retires like any other
        assert "//alpha.test/" not in app.namespaces
        assert "/" not in app.namespaces  # the main host's stays python-socketio's own


async def test_a_namespaces_option_without_the_root_refuses_it_on_every_host() -> None:
    sio = socketio.AsyncServer(async_mode="asgi", namespaces=["/chat"])
    app = DynamicIO(socketio.ASGIApp(sio), host=MAIN)
    async with serve(app) as url:
        assert await refusal(url, "/", "alpha.test") == INVALID
        assert await refusal(url, "/", MAIN) == INVALID
        assert app.namespaces == {}


async def test_namespaces_star_admits_any_name_empty() -> None:
    sio = socketio.AsyncServer(async_mode="asgi", namespaces="*")
    app = DynamicIO(socketio.ASGIApp(sio), host=MAIN)
    async with serve(app) as url, client(url, "alpha.test", namespaces=["/", "/x"]) as c:
        assert set(c.namespaces) == {"/", "/x"}
        assert {"//alpha.test/", "//alpha.test/x"} <= set(app.namespaces)


# -- several main host names -------------------------------------------------------------


async def test_a_collection_of_main_host_names() -> None:
    sio = socketio.AsyncServer(async_mode="asgi")
    app = DynamicIO(socketio.ASGIApp(sio), host=["Example.TEST", "www.example.test."])
    calls: list[str] = []
    app.setup_namespace("*", echoing(calls))
    async with serve(app) as url:
        for host in ("example.test", "WWW.example.test:8000"):
            async with client(url, host, namespaces=["/chat"]) as c:
                assert await c.call("whoami", namespace="/chat", timeout=TIMEOUT) == {
                    "fullname": "/chat",
                    "host": None,
                }
        async with client(url, "other.test", namespaces=["/chat"]) as c:
            who = await c.call("whoami", namespace="/chat", timeout=TIMEOUT)
            assert who["fullname"] == "//other.test/chat"
    assert calls == ["/chat", "//other.test/chat"]


def test_host_options_are_checked() -> None:
    sio = socketio.AsyncServer(async_mode="asgi")
    app = DynamicIO(sio, host=("a.test", "B.test:80"))
    scope: dict[str, Any] = {"type": "http", "headers": [(b"host", b"b.test")]}
    assert app.resolve_host(scope) is None
    with pytest.raises(ValueError, match="not a URL"):
        DynamicIO(sio, host="http://example.com")
    with pytest.raises(ValueError, match="not a URL"):
        DynamicIO(sio, host=["example.com", "https://www.example.com/"])
    with pytest.raises(ValueError, match="not a host name"):
        DynamicIO(sio, host=["example.com", "bad host"])
    with pytest.raises(TypeError, match="host"):
        DynamicIO(sio, host=[re.compile("x")])  # type: ignore[list-item]


@pytest.mark.parametrize("example", ["basic.py", "fastapi_app.py", "demo/app.py"])
def test_examples_are_on_the_main_host_at_the_address_uvicorn_prints(example: str) -> None:
    module = load_script(EXAMPLES / example, "root_" + example.replace("/", "_")[:-3])
    for host in (b"127.0.0.1:8000", b"localhost:8000", b"[::1]:8000"):
        assert module.app.resolve_host({"type": "http", "headers": [(b"host", host)]}) is None


# -- host=True: no main host, also without a Host -----------------------------------------


async def test_no_main_host_refuses_requests_without_a_host() -> None:
    import websockets

    sio = socketio.AsyncServer(async_mode="asgi")
    app = DynamicIO(socketio.ASGIApp(sio), host=True, public_status=True)
    async with serve(app) as url:
        for headers in ([], [(b"Host", b"")]):
            request = build_request(
                "GET", EIO_PATH + "polling", [*headers, (b"Connection", b"close")]
            )
            response = await exchange(url, request)
            assert response.status == 400, response.body
            assert b"Host" in response.body
            status = build_request(
                "GET", "/socket.io/status", [*headers, (b"Connection", b"close")]
            )
            assert (await exchange(url, status)).status == 400
        ws_url = url.replace("http://", "ws://") + EIO_PATH + "websocket"
        with pytest.raises(websockets.exceptions.InvalidStatus):
            # No Host at all: websockets always sends one, so name none that is valid.
            async with websockets.connect(ws_url, additional_headers={"Host": ""}):
                pass
        # A named host still works.
        response = await exchange(
            url, build_request("GET", EIO_PATH + "polling", engineio_headers(b"alpha.test"))
        )
        assert response.status == 200 and response.text.startswith("0{")
    with pytest.raises(BadHost):
        app.resolve_host({"type": "http", "headers": []})
    assert app.resolve_host({"type": "http", "headers": []}, default="none") == "none"


# -- the public API's sharp edges ---------------------------------------------------------


def test_setup_namespace_without_parentheses_says_how_to_use_it() -> None:
    app = DynamicIO(socketio.AsyncServer(async_mode="asgi"))
    with pytest.raises(TypeError, match=r"@app.setup_namespace\('\*'\)"):

        @app.setup_namespace  # type: ignore[arg-type]
        def setup(nsp: DynamicNamespace, match: re.Match[str]) -> None:
            pass

    with pytest.raises(ValueError, match="pattern"):
        app.setup_namespace("chat")  # checked at once, not when decorating


def test_constructor_options_are_checked(tmp_path: Path) -> None:
    sio = socketio.AsyncServer(async_mode="asgi")
    with pytest.raises(ValueError, match="templates"):
        DynamicIO(sio, templates=str(tmp_path / "missing"))
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="templates"):
        DynamicIO(sio, templates=str(tmp_path / "file"))
    DynamicIO(sio, templates=str(tmp_path))
    with pytest.raises(TypeError, match="socketio_path"):
        DynamicIO(sio, socketio_path=b"/socket.io/")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="setup_timeout"):
        DynamicIO(sio, setup_timeout=0)
    assert DynamicIO(sio, setup_timeout=0.5).setup_timeout == 0.5


async def test_web_routes_answer_a_bad_host_with_400_not_500() -> None:
    fastapi_app = load_script(EXAMPLES / "fastapi_app.py", "root_fastapi_bad_host")
    async with serve(fastapi_app.app) as url:
        for host, status in ((b"bad,host", 400), (b"alpha.localhost", 200)):
            request = build_request(
                "GET", "/api/rooms", [(b"Host", host), (b"Connection", b"close")]
            )
            response = await exchange(url, request)
            assert response.status == status, response.body


async def test_a_retired_or_closed_namespace_says_so() -> None:
    sio = socketio.AsyncServer(async_mode="asgi")
    app = DynamicIO(socketio.ASGIApp(sio), host=MAIN, retirement=0.1)
    app.setup_namespace("*", lambda nsp, match: None)
    async with serve(app) as url:
        async with client(url, "alpha.test", namespaces=["/chat"]):
            nsp = app.namespaces["//alpha.test/chat"]
        retired = asyncio.Event()
        nsp.on_retire(lambda nsp: retired.set())
        async with asyncio.timeout(TIMEOUT):
            await retired.wait()
        closed = await app.of("/other", "alpha.test")
        await closed.close()
        await closed.close()  # closing twice is harmless
        for gone in (nsp, closed):
            assert gone.closed
            with pytest.raises(NamespaceClosed, match="retired or was closed"):
                await gone.emit("x")
            with pytest.raises(NamespaceClosed):
                await gone.call("x", to="sid")
            with pytest.raises(NamespaceClosed):
                await gone.enter_room("sid", "room")
            with pytest.raises(NamespaceClosed):
                gone.rooms("sid")
            with pytest.raises(NamespaceClosed):
                await gone.get_session("sid")
            with pytest.raises(NamespaceClosed):
                gone.session("sid")


async def test_close_inside_its_own_setup_refuses_and_the_name_still_works() -> None:
    sio = socketio.AsyncServer(async_mode="asgi")
    app = DynamicIO(socketio.ASGIApp(sio), host=MAIN)
    setups: list[DynamicNamespace] = []

    @app.setup_namespace("*")
    async def setup(nsp: DynamicNamespace, match: re.Match[str]) -> None:
        setups.append(nsp)
        if len(setups) == 1:
            await nsp.close()
        nsp.on("whoami", lambda sid: nsp.fullname)

    async with serve(app) as url:
        assert await refusal(url, "/chat", "alpha.test") == INVALID
        assert "//alpha.test/chat" not in app.namespaces
        async with client(url, "alpha.test", namespaces=["/chat"]) as c:
            assert await c.call("whoami", namespace="/chat", timeout=TIMEOUT) == "//alpha.test/chat"
        assert len(setups) == 2 and setups[0].closed and not setups[1].closed
