"""The status page (docs/design.md §7) against a real uvicorn server and python-socketio clients."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import socketio
from _helpers import TIMEOUT, client, serve
from _raw import exchange

from dynamic_io_asgi import DynamicIO

MAIN = "main.test"
XSS_NAMESPACE = "/<script>alert(1)</script>\"'"
XSS_ROOM = "<img src=x onerror=\"alert('r')\">"


def make_app(**options: Any) -> DynamicIO:
    """A middleware whose namespaces have ``join``/``leave`` events that enter and leave rooms.

    The server pings every second so that a polling client disconnects in a
    second or two rather than half a minute.
    """
    sio = socketio.AsyncServer(async_mode="asgi", ping_interval=1, ping_timeout=2)

    @sio.on("connect", namespace="/static")
    async def static_connect(sid: str, environ: dict[str, Any]) -> None:
        pass

    @sio.on("connect", namespace="//a.test/static")
    async def static_connect_a(sid: str, environ: dict[str, Any]) -> None:
        pass

    options.setdefault("host", MAIN)
    options.setdefault("public_status", True)
    app = DynamicIO(sio, **options)

    @app.setup_namespace("*")
    async def setup(nsp: Any, match: re.Match[str]) -> None:
        @nsp.on("join")
        async def join(sid: str, room: str) -> bool:
            await nsp.enter_room(sid, room)
            return True

        @nsp.on("leave")
        async def leave(sid: str, room: str) -> bool:
            await nsp.leave_room(sid, room)
            return True

    @app.setup_namespace("//a.test/forever")
    def forever(nsp: Any, match: re.Match[str]) -> None:
        nsp.retirement = None

    @app.setup_namespace("//a.test/brief")
    def brief(nsp: Any, match: re.Match[str]) -> None:
        nsp.retirement = 0.2

    return app


async def fetch(
    url: str,
    host: str | None = MAIN,
    path: str = "/socket.io/status.json",
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    all_headers = {"Host": host} if host else {}
    all_headers.update(headers or {})
    async with httpx.AsyncClient(timeout=TIMEOUT) as http:
        return await http.request(method, url + path, headers=all_headers)


async def status(url: str, host: str | None = MAIN) -> dict[str, Any]:
    response = await fetch(url, host)
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    return document


async def wait_for(
    url: str, host: str | None, check: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """Poll the JSON document until ``check`` holds (bounded)."""
    async with asyncio.timeout(TIMEOUT):
        while True:
            document = await status(url, host)
            if check(document):
                return document
            await asyncio.sleep(0.05)


def namespace(document: dict[str, Any], name: str) -> dict[str, Any]:
    found = [row for row in document["namespaces"] if row["name"] == name]
    assert found, f"{name} not in {[row['name'] for row in document['namespaces']]}"
    return found[0]


def sockets(document: dict[str, Any], name: str, field: str) -> dict[str, Any]:
    """``{sid: socket[field]}`` for the sockets of namespace ``name``."""
    return {socket["sid"]: socket[field] for socket in namespace(document, name)["sockets"]}


def counts(document: dict[str, Any], name: str) -> tuple[int, int]:
    """(sockets of namespace ``name``, Engine.IO sessions in view)"""
    return namespace(document, name)["socket_count"], document["totals"]["engineio_sessions"]


def names(document: dict[str, Any]) -> list[str]:
    return [row["name"] for row in document["namespaces"]]


# -- switching it on and off ------------------------------------------------------------


def routed(sio: socketio.AsyncServer) -> Any:
    """A wrapped app that answers every path with ``status`` in it itself."""
    engineio = socketio.ASGIApp(sio)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or "status" not in scope["path"]:
            await engineio(scope, receive, send)
            return
        body = b"wrapped " + scope["path"].encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    return app


@pytest.mark.parametrize(
    ("public_status", "path", "served"),
    [
        (False, "/socket.io/status", False),
        (False, "/socket.io/status.json", False),
        (True, "/socket.io/status", True),
        (True, "/socket.io/status.json", True),
        (True, "/socket.io/status/", False),
        (True, "/socket.io/statusx", False),
        (True, "/status", False),
    ],
)
async def test_only_the_exact_paths_are_served_and_only_when_on(
    public_status: bool, path: str, served: bool
) -> None:
    sio = socketio.AsyncServer(async_mode="asgi")
    async with serve(DynamicIO(routed(sio), sio, public_status=public_status)) as url:
        response = await fetch(url, None, path)
    assert response.status_code == 200
    assert response.text.startswith("wrapped ") is not served


async def test_off_by_default_engineio_answers_as_without_the_middleware() -> None:
    plain_sio = socketio.AsyncServer(async_mode="asgi")
    async with serve(socketio.ASGIApp(plain_sio)) as url:
        plain = await fetch(url, None, "/socket.io/status")
    async with serve(DynamicIO(socketio.AsyncServer(async_mode="asgi"))) as url:
        wrapped = await fetch(url, None, "/socket.io/status")
    assert (wrapped.status_code, wrapped.text) == (plain.status_code, plain.text)
    assert wrapped.status_code == 400


def allow(scope: dict[str, Any]) -> bool:
    return True


def deny(scope: dict[str, Any]) -> bool:
    return False


async def allow_async(scope: dict[str, Any]) -> bool:
    await asyncio.sleep(0)
    return True


async def deny_async(scope: dict[str, Any]) -> bool:
    await asyncio.sleep(0)
    return False


def token(scope: dict[str, Any]) -> bool:
    return (b"x-status-token", b"s3cret") in scope["headers"]


async def token_async(scope: dict[str, Any]) -> bool:
    return token(scope)


Authoriser = bool | Callable[[dict[str, Any]], bool | Awaitable[bool]]


@pytest.mark.parametrize(
    ("public_status", "method", "headers", "code"),
    [
        (True, "GET", {}, 200),
        (allow, "GET", {}, 200),
        (allow_async, "GET", {}, 200),
        (deny, "GET", {}, 404),
        (deny_async, "GET", {}, 404),
        (token, "GET", {"X-Status-Token": "s3cret"}, 200),
        (token, "GET", {"X-Status-Token": "wrong"}, 404),
        (token_async, "GET", {"X-Status-Token": "s3cret"}, 200),
        (token_async, "GET", {}, 404),
        (True, "HEAD", {}, 200),
        (deny, "HEAD", {}, 404),
        (True, "POST", {}, 405),
        (allow_async, "DELETE", {}, 405),
        (deny, "POST", {}, 404),  # an unauthorised client learns nothing, not even 405
    ],
)
@pytest.mark.parametrize("path", ["/socket.io/status", "/socket.io/status.json"])
async def test_authorisation_and_methods(
    public_status: Authoriser, method: str, headers: dict[str, str], code: int, path: str
) -> None:
    async with serve(make_app(public_status=public_status)) as url:
        response = await fetch(url, MAIN, path, method=method, headers=headers)
    assert response.status_code == code
    assert response.headers["cache-control"] == "no-store"
    if code == 404:
        assert response.headers["content-type"] == "text/plain; charset=utf-8"
        assert response.text == ("" if method == "HEAD" else "Not Found")
    if code == 405:
        assert response.headers["allow"] == "GET, HEAD"
    if method == "HEAD":
        assert response.content == b""
        assert int(response.headers["content-length"]) > 0


@pytest.mark.parametrize(
    ("path", "accept", "kind"),
    [
        ("/socket.io/status", None, "text/html"),
        ("/socket.io/status", "*/*", "text/html"),
        ("/socket.io/status", "text/html,application/xhtml+xml,*/*;q=0.8", "text/html"),
        ("/socket.io/status", "application/json", "application/json"),
        ("/socket.io/status", "application/json, text/plain, */*", "application/json"),
        ("/socket.io/status", "text/html;q=0.5, application/json", "application/json"),
        ("/socket.io/status", "text/html, application/json;q=0.5", "text/html"),
        ("/socket.io/status", "application/json;q=0", "text/html"),
        ("/socket.io/status.json", None, "application/json"),
        ("/socket.io/status.json", "text/html", "application/json"),
    ],
)
async def test_html_or_json(path: str, accept: str | None, kind: str) -> None:
    headers = {"Accept": accept} if accept else {}
    async with serve(make_app()) as url:
        response = await fetch(url, MAIN, path, headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == f"{kind}; charset=utf-8"
    assert response.headers["cache-control"] == "no-store"
    if kind == "text/html":
        assert response.text.startswith("<!DOCTYPE html>")
        assert "default-src 'none'" in response.headers["content-security-policy"]
    else:
        assert response.json()["version"] == 2


@pytest.mark.parametrize("host", ["bad,host", "a/b", "-x.test", "a..test"])
async def test_a_bad_host_gets_400(host: str) -> None:
    async with serve(make_app()) as url:
        response = await fetch(url, host, "/socket.io/status")
    assert response.status_code == 400
    assert response.text.startswith("Bad host")


@pytest.mark.parametrize(
    ("request_bytes", "code", "host"),
    [
        (b"GET /socket.io/status.json HTTP/1.0\r\n\r\n", 200, None),  # no Host: main host
        (b"GET /socket.io/status.json HTTP/1.1\r\nHost: a.test\r\n\r\n", 200, "a.test"),
        (b"GET /socket.io/status.json HTTP/1.1\r\nHost: \xff.test\r\n\r\n", 400, None),
    ],
)
async def test_raw_requests(request_bytes: bytes, code: int, host: str | None) -> None:
    async with serve(make_app()) as url, client(url, "a.test", namespaces=["/chat"]):
        response = await exchange(url, request_bytes)
    assert response.status == code
    if code == 200:
        document = json.loads(response.body)
        assert document["host"] == host
        assert names(document) == (["/chat"] if host else ["//a.test/chat"])
    else:
        assert response.text.startswith("Bad host")


@pytest.mark.parametrize(
    ("query", "meta"),
    [
        ("", None),
        ("?refresh=5", '<meta http-equiv="refresh" content="5">'),
        ("?refresh=3600", '<meta http-equiv="refresh" content="3600">'),
        ("?refresh=0", None),
        ("?refresh=-2", None),
        ("?refresh=3601", None),
        ("?refresh=%3Cb%3E", None),
    ],
)
async def test_auto_refresh(query: str, meta: str | None) -> None:
    async with serve(make_app()) as url:
        response = await fetch(url, MAIN, "/socket.io/status" + query)
    html = response.text
    assert 'href="status.json"' in html
    if meta is None:
        assert 'http-equiv="refresh"' not in html
    else:
        assert meta in html


# -- what each host sees -----------------------------------------------------------------


async def test_the_main_host_sees_every_host_and_another_host_only_its_own() -> None:
    app = make_app()
    async with (
        serve(app) as url,
        client(url, MAIN, namespaces=["/chat", "/static"]),
        client(url, "a.test", namespaces=["/chat", "/x", "/static"]),
        client(url, "A.Test:8000", namespaces=["/x"]),  # the same host, spelled otherwise
        client(url, "b.test", namespaces=["/y"]),
    ):
        main = await status(url, MAIN)
        assert names(main) == [
            "/chat",
            "/static",
            "//a.test/chat",
            "//a.test/static",
            "//a.test/x",
            "//b.test/y",
        ]
        assert [row["host"] for row in main["namespaces"]] == [None, None] + ["a.test"] * 3 + [
            "b.test"
        ]
        assert main["host"] is None
        assert main["totals"]["engineio_sessions"] == 4
        assert main["totals"]["namespaces"] == 6
        assert main["totals"]["sockets"] == 7
        assert main["totals"]["created"] == 4
        assert main["totals"]["retired"] == 0
        assert namespace(main, "//a.test/x")["socket_count"] == 2

        a = await status(url, "a.test")
        assert a["host"] == "a.test"
        assert names(a) == ["/chat", "/static", "/x"]
        assert {row["host"] for row in a["namespaces"]} == {"a.test"}
        assert a["totals"]["engineio_sessions"] == 2
        assert a["totals"]["sockets"] == 4
        assert names(await status(url, "A.TEST.:1234")) == names(a)  # normalised as sessions

        b = await status(url, "b.test")
        assert names(b) == ["/y"]
        nobody = await status(url, "c.test")
        assert nobody["namespaces"] == [] and nobody["totals"]["engineio_sessions"] == 0

        html = (await fetch(url, "a.test", "/socket.io/status")).text
        assert "a.test" in html and "/chat" in html
        assert "b.test" not in html and "//a.test" not in html and "/y<" not in html

        main_html = (await fetch(url, MAIN, "/socket.io/status")).text
        for name in names(main):
            assert f">{name}<" in main_html


@pytest.mark.parametrize("host", [True, None])
async def test_main_host_option(host: bool | None) -> None:
    """``host=True``: no host is main, so nobody sees all; ``None``: everybody does."""
    app = make_app(host=host)
    async with (
        serve(app) as url,
        client(url, "a.test", namespaces=["/chat"]),
        client(url, "b.test", namespaces=["/chat"]),
    ):
        seen = await status(url, "a.test")
    assert names(seen) == ["/chat"]  # with host=None, both clients share the main /chat
    assert seen["host"] == ("a.test" if host is True else None)
    assert seen["totals"]["engineio_sessions"] == (1 if host is True else 2)
    assert seen["namespaces"][0]["socket_count"] == (1 if host is True else 2)


# -- live state ----------------------------------------------------------------------------


async def test_json_follows_clients_rooms_transports_and_departures() -> None:
    app = make_app(retirement=30)
    async with serve(app) as url:
        async with client(url, "a.test", namespaces=["/chat"], transports=["polling"]) as poller:
            upgrader = socketio.AsyncClient(reconnection=False)
            await upgrader.connect(
                url,
                headers={"Host": "a.test"},
                namespaces=["/chat"],
                transports=["polling", "websocket"],
                wait_timeout=TIMEOUT,
            )
            try:
                up, poll = upgrader.get_sid("/chat"), poller.get_sid("/chat")
                document = await wait_for(
                    url, "a.test", lambda d: sockets(d, "/chat", "transport").get(up) == "websocket"
                )
                assert sockets(document, "/chat", "transport") == {up: "websocket", poll: "polling"}
                chat = namespace(document, "/chat")
                assert chat["socket_count"] == 2 and chat["host"] == "a.test"
                assert chat["retires_in"] is None and chat["retirement"] == 30
                assert chat["pattern"] == "*" and chat["static"] is False
                assert 0 <= chat["age"] < 60
                for address in sockets(document, "/chat", "remote_address").values():
                    assert re.fullmatch(r"127\.0\.0\.1:\d+", address)  # the peer, with its port
                assert sockets(document, "/chat", "rooms") == {up: [], poll: []}

                assert await upgrader.call("join", "red", namespace="/chat", timeout=TIMEOUT)
                assert await upgrader.call("join", "blue", namespace="/chat", timeout=TIMEOUT)
                assert await poller.call("join", "red", namespace="/chat", timeout=TIMEOUT)
                document = await status(url, "a.test")
                assert sockets(document, "/chat", "rooms") == {up: ["blue", "red"], poll: ["red"]}

                assert await upgrader.call("leave", "red", namespace="/chat", timeout=TIMEOUT)
                document = await status(url, "a.test")
                assert sockets(document, "/chat", "rooms") == {up: ["blue"], poll: ["red"]}
            finally:
                await upgrader.disconnect()
            document = await wait_for(url, "a.test", lambda d: counts(d, "/chat") == (1, 1))
            assert sockets(document, "/chat", "transport") == {poll: "polling"}
        document = await wait_for(url, "a.test", lambda d: counts(d, "/chat") == (0, 0))
        assert namespace(document, "/chat")["sockets"] == []


async def test_totals_count_created_and_retired_namespaces() -> None:
    async with serve(make_app()) as url:
        before = await status(url)
        assert before["totals"]["created"] == 0 and before["totals"]["retired"] == 0
        async with client(url, "a.test", namespaces=["/brief"]):
            during = await status(url)
            assert names(during) == ["//a.test/brief"]
            assert during["totals"]["created"] == 1
        after = await wait_for(url, MAIN, lambda d: d["totals"]["retired"] == 1)
        assert after["namespaces"] == [] and after["totals"]["created"] == 1
        assert after["totals"]["uptime"] >= before["totals"]["uptime"]


async def test_an_empty_namespace_shows_the_time_left_before_it_retires() -> None:
    async with serve(make_app(retirement=30)) as url:
        async with client(url, "a.test", namespaces=["/soon", "/forever"]):
            document = await status(url, "a.test")
            assert namespace(document, "/soon")["retires_in"] is None
        # The retirement task starts the idle clock on its next look (every 1.5 s here).
        document = await wait_for(
            url, "a.test", lambda d: namespace(d, "/soon")["retires_in"] is not None
        )
        soon = namespace(document, "/soon")
        assert soon["socket_count"] == 0 and soon["retirement"] == 30
        assert 25 < soon["retires_in"] <= 30
        forever = namespace(document, "/forever")
        assert forever["retirement"] is None and forever["retires_in"] is None

        html = (await fetch(url, "a.test", "/socket.io/status")).text
        assert re.search(r"retires in <b>(2\d|30) s</b>", html)
        assert "never retires" in html
        later = await status(url, "a.test")
        assert namespace(later, "/soon")["retires_in"] <= soon["retires_in"]


async def test_names_that_clients_choose_are_escaped() -> None:
    app = make_app()
    async with serve(app) as url, client(url, "a.test", namespaces=[XSS_NAMESPACE]) as evil:
        assert await evil.call("join", XSS_ROOM, namespace=XSS_NAMESPACE, timeout=TIMEOUT)
        document = await status(url, "a.test")
        row = namespace(document, XSS_NAMESPACE)
        assert row["sockets"][0]["rooms"] == [XSS_ROOM]
        assert namespace(await status(url, MAIN), "//a.test" + XSS_NAMESPACE)

        for host in ("a.test", MAIN):
            html = (await fetch(url, host, "/socket.io/status")).text
            assert "<script>" not in html and "<img" not in html
            assert "/&lt;script&gt;alert(1)&lt;/script&gt;&#34;&#39;" in html
            assert "&lt;img src=x onerror=&#34;alert(&#39;r&#39;)&#34;&gt;" in html


async def test_user_templates_take_precedence(tmp_path: Path) -> None:
    (tmp_path / "status.html").write_text(
        '{% extends "dynamic_io_asgi/status.html" %}'
        "{% block title %}Our sockets: {{ status.totals.sockets }}{% endblock %}"
    )
    app = make_app(templates=str(tmp_path))
    async with serve(app) as url, client(url, MAIN, namespaces=["/chat"]):
        first = (await fetch(url, MAIN, "/socket.io/status")).text
        environment = app.status_page.environment
        second = (await fetch(url, MAIN, "/socket.io/status")).text
    assert "<title>Our sockets: 1</title>" in first
    assert ">/chat<" in first and "Engine.IO sessions" in first
    assert "<title>Our sockets: 1</title>" in second
    assert app.status_page.environment is environment  # built once per middleware


async def test_the_status_page_leaves_socketio_traffic_alone() -> None:
    """Serving the page next to live sessions: Socket.IO keeps working through it."""
    app = make_app()
    async with serve(app) as url, client(url, "a.test", namespaces=["/chat"]) as sio:
        pages = await asyncio.gather(
            *(fetch(url, "a.test", "/socket.io/status") for _ in range(5)),
            sio.call("join", "r", namespace="/chat", timeout=TIMEOUT),
        )
        assert all(page.status_code == 200 for page in pages[:-1])
        assert pages[-1] is True


async def test_pages_and_filters_keep_the_page_small() -> None:
    """However many namespaces are live, a request describes one page of them
    (``?page``, ``?per_page``, ``?host``, ``?q``); the totals count them all."""
    app = make_app()
    async with serve(app) as url:
        for index in range(230):
            await app.of(f"/room{index:03d}", "alpha.test")
        for index in range(20):
            await app.of(f"/lobby{index}", "beta.test")
        first = (await fetch(url)).json()
        assert first["version"] == 2
        assert first["totals"]["namespaces"] == 250
        assert len(first["namespaces"]) == 100
        assert first["page"] == {
            "number": 1,
            "per_page": 100,
            "pages": 3,
            "namespaces": 250,
            "host": None,
            "q": "",
        }
        last = (await fetch(url, path="/socket.io/status.json?page=3")).json()
        assert len(last["namespaces"]) == 50
        assert [row["name"] for row in last["namespaces"]][-1] == "//beta.test/lobby9"
        beta = (await fetch(url, path="/socket.io/status.json?host=beta.test&per_page=5")).json()
        assert beta["page"]["namespaces"] == 20 and len(beta["namespaces"]) == 5
        assert {row["host"] for row in beta["namespaces"]} == {"beta.test"}
        found = (await fetch(url, path="/socket.io/status.json?q=room22")).json()
        assert [row["name"] for row in found["namespaces"]] == [
            f"//alpha.test/room22{digit}" for digit in range(10)
        ]
        # A tenant pages through its own namespaces, by short name.
        tenant = (await fetch(url, "alpha.test", "/socket.io/status.json?per_page=1000")).json()
        assert tenant["totals"]["namespaces"] == 230 and len(tenant["namespaces"]) == 230
        assert tenant["namespaces"][0]["name"] == "/room000"
        # Out-of-range values fall back; the HTML page links to the next page.
        odd = (await fetch(url, path="/socket.io/status.json?page=x&per_page=100000")).json()
        assert odd["page"]["number"] == 1 and odd["page"]["per_page"] == 100
        html = (await fetch(url, path="/socket.io/status?page=2")).text
        assert "page 2 of 3" in html and 'href="?per_page=100&amp;page=3"' in html
