"""Namespaces on demand (docs/design.md §5) and the namespace object (§2), end to end.

A real uvicorn server and python-socketio ``AsyncClient``s, over websocket
unless a test says otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import socketio
from _helpers import TIMEOUT, client, serve

from dynamic_io_asgi import DynamicIO, DynamicNamespace, NamespaceRejected

MAIN = "main.test"
WS = ["websocket"]
INVALID = {"message": "Invalid namespace"}
Pattern = str | re.Pattern[str]


def make_app(**options: Any) -> tuple[DynamicIO, socketio.AsyncServer]:
    sio = socketio.AsyncServer(async_mode="asgi")
    options.setdefault("retirement", 10.0)
    return DynamicIO(socketio.ASGIApp(sio), host=MAIN, **options), sio


def labelled(label: str, calls: list[tuple[str, DynamicNamespace]]) -> Callable[..., Any]:
    """A setup callback that records its calls and answers ``which`` with its label."""

    async def setup(nsp: DynamicNamespace, match: re.Match[str]) -> None:
        calls.append((label, nsp))
        nsp.on("which", lambda sid: label)

    return setup


async def which(url: str, name: str, host: str = MAIN) -> str:
    async with client(url, host, namespaces=[name]) as c:
        label: str = await c.call("which", namespace=name, timeout=TIMEOUT)
    return label


async def refusal(
    url: str, name: str, host: str = MAIN, transports: list[str] | None = None
) -> Any:
    """Connect to ``name`` alone, expecting a refusal; return the CONNECT_ERROR data."""
    c = socketio.AsyncClient(reconnection=False)
    errors: list[Any] = []
    c.on("connect_error", errors.append, namespace=name)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await c.connect(
            url,
            headers={"Host": host},
            namespaces=[name],
            transports=transports or WS,
            wait_timeout=TIMEOUT,
        )
    assert len(errors) == 1
    return errors[0]


@contextlib.asynccontextmanager
async def beside(
    url: str, good: str, bad: str, transports: list[str]
) -> AsyncIterator[tuple[socketio.AsyncClient, Any]]:
    """One connection that asks for ``good`` and ``bad`` at once; yields the client
    (connected to ``good``) and ``bad``'s CONNECT_ERROR data."""
    c = socketio.AsyncClient(reconnection=False)
    connected = asyncio.Event()
    refused: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    c.on("connect", connected.set, namespace=good)
    c.on("connect_error", refused.set_result, namespace=bad)
    # wait=False: the client would otherwise drop the whole connection when
    # one namespace fails.
    await c.connect(
        url, headers={"Host": MAIN}, namespaces=[good, bad], transports=transports, wait=False
    )
    try:
        async with asyncio.timeout(TIMEOUT):
            await connected.wait()
            error = await refused
        yield c, error
    finally:
        await c.disconnect()


def leftovers(app: DynamicIO, sio: socketio.AsyncServer, full: str) -> list[str]:
    """Where the wrapped server or the middleware still knows ``full``."""
    places = {
        "sio.handlers": sio.handlers,
        "sio.namespace_handlers": sio.namespace_handlers,
        "manager.rooms": sio.manager.rooms,
        "app.namespaces": app.namespaces,
        "app._creating": app.registry._creating,
        "app._waiters": app.registry._waiters,
    }
    return [where for where, table in places.items() if full in table]


# -- precedence -------------------------------------------------------------------

SPECIAL = re.compile(r"^/special.*$")
DEBUG = re.compile(r"^/.*debug$")


@pytest.mark.parametrize(
    ("registrations", "name", "host", "expected"),
    [
        # An exact name beats every pattern, earlier or later.
        (
            [("*", "star"), ("/exact", "exact"), (re.compile("^/ex"), "regex")],
            "/exact",
            MAIN,
            "exact",
        ),
        ([("/exact", "exact"), ("*", "star")], "/exact", MAIN, "exact"),
        ([("*", "star"), ("/exact", "exact")], "/exactly", MAIN, "star"),
        # Of two matching patterns the later wins (the original's wc1/wc2 test).
        ([(SPECIAL, "wc1"), (DEBUG, "wc2")], "/special-other-debug", MAIN, "wc2"),
        ([(DEBUG, "wc2"), (SPECIAL, "wc1")], "/special-other-debug", MAIN, "wc1"),
        ([(SPECIAL, "wc1"), (DEBUG, "wc2")], "/special-other", MAIN, "wc1"),
        ([(SPECIAL, "wc1"), (DEBUG, "wc2")], "/other-debug", MAIN, "wc2"),
        ([("*", "star"), (re.compile("^/p"), "p")], "/pq", MAIN, "p"),
        ([(re.compile("^/p"), "p"), ("*", "star")], "/pq", MAIN, "star"),
        # Re-registering an exact name replaces it (the original's ex1/ex2 test).
        ([("/ex", "ex1"), ("/ex", "ex2")], "/ex", MAIN, "ex2"),
        # Exact names and patterns see the full name.
        ([("*", "star"), ("//alpha.test/chat", "alpha")], "/chat", "alpha.test", "alpha"),
        ([("*", "star"), ("//alpha.test/chat", "alpha")], "/chat", "beta.test", "star"),
        ([("*", "star"), ("/chat", "main")], "/chat", "alpha.test", "star"),
        ([("*", "star"), ("//ALPHA.test./chat", "alpha")], "/chat", "alpha.test", "alpha"),
        ([("*", "star"), (re.compile("^/dyn/"), "dyn")], "/dyn/x", "alpha.test", "star"),
        (
            [("*", "star"), (re.compile(r"^//alpha\.test/"), "alpha")],
            "/dyn/x",
            "alpha.test",
            "alpha",
        ),
    ],
)
async def test_precedence(
    registrations: list[tuple[Pattern, str]], name: str, host: str, expected: str
) -> None:
    app, _ = make_app()
    calls: list[tuple[str, DynamicNamespace]] = []
    for pattern, label in registrations:
        app.setup_namespace(pattern, labelled(label, calls))
    async with serve(app) as url:
        assert await which(url, name, host) == expected
        # A second client finds the same namespace object: setup does not run again.
        assert await which(url, name, host) == expected
    assert [label for label, _ in calls] == [expected]


async def test_one_setup_per_namespace_object() -> None:
    app, _ = make_app()
    calls: list[tuple[str, DynamicNamespace]] = []
    app.setup_namespace("*", labelled("star", calls))
    async with serve(app) as url:
        async with client(url, MAIN, namespaces=["/a", "/b"]) as first:
            async with client(url, MAIN, namespaces=["/a"]) as second:
                for c in (first, second):
                    assert await c.call("which", namespace="/a", timeout=TIMEOUT) == "star"
    assert [nsp.fullname for _, nsp in calls] == ["/a", "/b"]


# -- setup callbacks ------------------------------------------------------------------


def sync_setup(result: Any, seen: list[Any]) -> Callable[..., Any]:
    def setup(nsp: DynamicNamespace, match: re.Match[str]) -> Any:
        seen.append(match)
        nsp.on("echo", lambda sid, data: data)
        return result

    return setup


def async_setup(result: Any, seen: list[Any]) -> Callable[..., Any]:
    async def setup(nsp: DynamicNamespace, match: re.Match[str]) -> Any:
        await asyncio.sleep(0)
        seen.append(match)
        nsp.on("echo", lambda sid, data: data)
        return result

    return setup


@pytest.mark.parametrize("kind", [sync_setup, async_setup])
@pytest.mark.parametrize("result", [True, None, 0, "yes"])
async def test_setup_accepts(
    kind: Callable[[Any, list[Any]], Callable[..., Any]], result: Any
) -> None:
    app, _ = make_app()
    seen: list[Any] = []
    app.setup_namespace("*", kind(result, seen))
    async with serve(app) as url:
        async with client(url, MAIN, namespaces=["/room"]) as c:
            assert await c.call("echo", {"x": 1}, namespace="/room", timeout=TIMEOUT) == {"x": 1}
    assert len(seen) == 1


@pytest.mark.parametrize(
    ("pattern", "name", "host", "group0", "groups"),
    [
        ("/exact", "/exact", MAIN, "/exact", ()),
        ("//alpha.test/exact", "/exact", "alpha.test", "//alpha.test/exact", ()),
        ("*", "/any/thing", MAIN, "/any/thing", ()),
        (re.compile(r"^/room/(\d+)$"), "/room/42", MAIN, "/room/42", ("42",)),
        (
            re.compile(r"^//([^/]+)/room/(\d+)$"),
            "/room/7",
            "beta.test",
            "//beta.test/room/7",
            ("beta.test", "7"),
        ),
        (re.compile(r"room/(?P<id>\d+)"), "/room/9/x", MAIN, "room/9", ("9",)),
    ],
)
async def test_match_is_an_re_match(
    pattern: Pattern, name: str, host: str, group0: str, groups: tuple[str, ...]
) -> None:
    app, _ = make_app()
    seen: list[Any] = []
    app.setup_namespace(pattern, sync_setup(True, seen))
    async with serve(app) as url:
        async with client(url, host, namespaces=[name]) as c:
            assert await c.call("echo", 1, namespace=name, timeout=TIMEOUT) == 1
    [match] = seen
    assert isinstance(match, re.Match)
    assert match.group(0) == group0
    assert match.groups() == groups
    [nsp] = app.namespaces.values()
    # Found again when asked for (not kept): the same match, another object.
    assert (nsp.match.re, nsp.match.span(), nsp.match.groups()) == (
        match.re,
        match.span(),
        match.groups(),
    )


async def test_named_groups_reach_setup() -> None:
    app, _ = make_app()

    @app.setup_namespace(re.compile(r"^/user/(?P<user>\w+)$"))
    def setup(nsp: DynamicNamespace, match: re.Match[str]) -> None:
        user = match["user"]
        nsp.on("whoami", lambda sid: user)

    async with serve(app) as url:
        for user in ("ann", "bob"):
            async with client(url, MAIN, namespaces=[f"/user/{user}"]) as c:
                assert await c.call("whoami", namespace=f"/user/{user}", timeout=TIMEOUT) == user


# -- rejection ------------------------------------------------------------------------


def refuse_false(nsp: DynamicNamespace, match: re.Match[str]) -> bool:
    nsp.on("echo", lambda sid, data: data)
    return False


async def refuse_false_async(nsp: DynamicNamespace, match: re.Match[str]) -> bool:
    nsp.on("echo", lambda sid, data: data)
    return False


async def refuse_nope(nsp: DynamicNamespace, match: re.Match[str]) -> None:
    nsp.on("echo", lambda sid, data: data)
    raise socketio.exceptions.ConnectionRefusedError("nope", {"code": 7})


def refuse_nope_sync(nsp: DynamicNamespace, match: re.Match[str]) -> None:
    raise socketio.exceptions.ConnectionRefusedError("nope")


async def crash(nsp: DynamicNamespace, match: re.Match[str]) -> None:
    nsp.on("echo", lambda sid, data: data)
    raise RuntimeError("setup exploded")


def crash_sync(nsp: DynamicNamespace, match: re.Match[str]) -> None:
    raise KeyError("setup exploded")


REJECTIONS = [
    (refuse_false, INVALID),
    (refuse_false_async, INVALID),
    (None, INVALID),  # no pattern matches
    (refuse_nope, {"message": "nope", "data": {"code": 7}}),
    (refuse_nope_sync, {"message": "nope"}),
    (crash, INVALID),
    (crash_sync, INVALID),
]


def setup_ok(nsp: DynamicNamespace, match: re.Match[str]) -> None:
    nsp.on("echo", lambda sid, data: data)


def rejecting_app(setup: Callable[..., Any] | None) -> tuple[DynamicIO, socketio.AsyncServer]:
    app, sio = make_app()
    app.setup_namespace("/ok", setup_ok)
    if setup is not None:
        app.setup_namespace("/bad", setup)
    return app, sio


@pytest.mark.parametrize(("setup", "error"), REJECTIONS)
async def test_rejection(
    setup: Callable[..., Any] | None, error: Any, caplog: pytest.LogCaptureFixture
) -> None:
    app, sio = rejecting_app(setup)
    handlers_before = dict(sio.handlers)
    async with serve(app) as url:
        assert await refusal(url, "/bad") == error
        assert leftovers(app, sio, "/bad") == []
        # Asked again, the name is decided again (nothing was cached).
        assert await refusal(url, "/bad") == error
        # The server keeps serving.
        async with client(url, MAIN, namespaces=["/ok"]) as c:
            assert await c.call("echo", 3, namespace="/ok", timeout=TIMEOUT) == 3
    assert leftovers(app, sio, "/bad") == []
    assert {k: v for k, v in sio.handlers.items() if k != "/ok"} == handlers_before
    ours = [r for r in caplog.records if r.name == "dynamic_io_asgi" and "/bad" in r.getMessage()]
    tracebacks = [r for r in ours if r.exc_info]
    if setup in (crash, crash_sync):
        # Both refusals logged; the traceback once (at most every 10 s per callback).
        assert [bool(r.exc_info) for r in ours] == [True, False]
        assert all(r.levelno == logging.ERROR for r in ours)
        assert "setup exploded" in caplog.text
        again = ours[1].getMessage()
        assert "Error: 'setup exploded'" in again or "Error: setup exploded;" in again
        assert "its traceback was logged less than 10 s ago" in again
    else:
        assert tracebacks == []


@pytest.mark.parametrize(("setup", "error"), [REJECTIONS[0], REJECTIONS[3], REJECTIONS[5]])
@pytest.mark.parametrize("transports", [["websocket"], ["polling"]])
async def test_rejection_leaves_other_namespaces_connected(
    setup: Callable[..., Any], error: Any, transports: list[str]
) -> None:
    app, sio = rejecting_app(setup)
    async with serve(app) as url:
        async with beside(url, "/ok", "/bad", transports) as (c, got):
            assert got == error
            assert c.connected and list(c.namespaces) == ["/ok"]
            assert await c.call("echo", "still", namespace="/ok", timeout=TIMEOUT) == "still"
            assert leftovers(app, sio, "/bad") == []
            assert "/ok" in sio.manager.rooms


async def test_rejection_over_polling() -> None:
    app, sio = rejecting_app(refuse_nope)
    async with serve(app) as url:
        got = await refusal(url, "/bad", transports=["polling"])
    assert got == {"message": "nope", "data": {"code": 7}}
    assert leftovers(app, sio, "/bad") == []


async def test_of_raises_namespace_rejected() -> None:
    app, sio = rejecting_app(refuse_nope)
    with pytest.raises(NamespaceRejected) as caught:
        await app.of("/bad")
    assert caught.value.fullname == "/bad"
    assert caught.value.error_args == {"message": "nope", "data": {"code": 7}}
    assert leftovers(app, sio, "/bad") == []


async def test_setup_timeout_refuses_and_frees_the_name(caplog: pytest.LogCaptureFixture) -> None:
    app, sio = make_app(setup_timeout=0.2)
    hang = asyncio.Event()
    cancelled = asyncio.Event()
    calls = 0

    @app.setup_namespace("/slow")
    async def setup(nsp: DynamicNamespace, match: re.Match[str]) -> None:
        nonlocal calls
        calls += 1
        nsp.on("echo", lambda sid, data: data)
        if calls == 1:
            try:
                await hang.wait()  # never set
            except asyncio.CancelledError:
                cancelled.set()
                raise

    async with serve(app) as url:
        assert await refusal(url, "/slow") == INVALID
        assert cancelled.is_set()
        assert leftovers(app, sio, "/slow") == []
        async with client(url, MAIN, namespaces=["/slow"]) as c:
            assert await c.call("echo", 1, namespace="/slow", timeout=TIMEOUT) == 1
    assert calls == 2
    assert any("/slow" in r.getMessage() for r in caplog.records if r.name == "dynamic_io_asgi")


# -- concurrency ----------------------------------------------------------------------


async def test_concurrent_first_connects_run_setup_once() -> None:
    app, sio = make_app()
    count = 50
    calls = 0

    @app.setup_namespace("/crowd")
    async def setup(nsp: DynamicNamespace, match: re.Match[str]) -> None:
        nonlocal calls
        calls += 1
        nsp.on("echo", lambda sid, data: data)
        # Hold setup until every client has its Engine.IO session, so their
        # CONNECTs arrive while it runs.
        async with asyncio.timeout(TIMEOUT):
            while len(sio.eio.sockets) < count:
                await asyncio.sleep(0.01)

    async with serve(app) as url, contextlib.AsyncExitStack() as stack:
        clients = await asyncio.gather(
            *(
                stack.enter_async_context(client(url, MAIN, namespaces=["/crowd"]))
                for _ in range(count)
            )
        )
        answers = await asyncio.gather(
            *(c.call("echo", i, namespace="/crowd", timeout=TIMEOUT) for i, c in enumerate(clients))
        )
        assert answers == list(range(count))
        assert calls == 1
        nsp = app.namespaces["/crowd"]
        assert len(nsp.sockets) == count


# -- class-based handlers, of(), static namespaces ----------------------------------------


class Chat(socketio.AsyncNamespace):
    events: list[tuple[str, str]] = []

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any) -> None:
        self.events.append(("connect", self.namespace))

    async def on_disconnect(self, sid: str, reason: str) -> None:
        self.events.append(("disconnect", self.namespace))

    async def on_echo(self, sid: str, data: Any) -> Any:
        await self.emit("echoed", data, to=sid)
        return data


async def test_class_based_namespace() -> None:
    app, sio = make_app()
    Chat.events = []
    instances: list[socketio.AsyncNamespace] = []

    @app.setup_namespace("*")
    def setup(nsp: DynamicNamespace, match: re.Match[str]) -> None:
        instances.append(nsp.register(Chat))

    async with serve(app) as url:
        async with client(url, "alpha.test", namespaces=["/chat"]) as c:
            echoed: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            c.on("echoed", echoed.set_result, namespace="/chat")
            assert await c.call("echo", "hi", namespace="/chat", timeout=TIMEOUT) == "hi"
            assert await asyncio.wait_for(echoed, TIMEOUT) == "hi"
        [instance] = instances
        assert instance.namespace == "//alpha.test/chat"
        assert sio.namespace_handlers["//alpha.test/chat"] is instance
        async with asyncio.timeout(TIMEOUT):
            while len(Chat.events) < 2:
                await asyncio.sleep(0.01)
    assert Chat.events == [("connect", "//alpha.test/chat"), ("disconnect", "//alpha.test/chat")]


async def test_of_before_any_client_then_emit() -> None:
    app, sio = make_app()
    calls: list[tuple[str, DynamicNamespace]] = []
    app.setup_namespace("*", labelled("star", calls))
    async with serve(app) as url:
        news = await app.of("/news", host="alpha.test")
        assert await app.of("news", host="ALPHA.test:80") is news
        assert await app.of("//alpha.test/news") is news
        assert (news.name, news.host, news.fullname) == ("/news", "alpha.test", "//alpha.test/news")
        assert news.retirement == math.inf
        async with client(url, "alpha.test", namespaces=["/news"]) as c:
            headline: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            c.on("headline", headline.set_result, namespace="/news")
            assert await c.call("which", namespace="/news", timeout=TIMEOUT) == "star"
            assert app.namespaces["//alpha.test/news"] is news
            assert len(news.sockets) == 1
            await news.emit("headline", {"title": "up"})
            assert await asyncio.wait_for(headline, TIMEOUT) == {"title": "up"}
    assert calls == [("star", news)]


async def test_of_without_a_pattern_creates_a_plain_namespace() -> None:
    app, sio = make_app()
    nsp = await app.of("/plain")
    nsp.on("echo", lambda sid, data: data)
    assert nsp.pattern is None and nsp.retirement == math.inf
    assert "/plain" in sio.handlers
    async with serve(app) as url, client(url, MAIN, namespaces=["/plain"]) as c:
        assert await c.call("echo", 2, namespace="/plain", timeout=TIMEOUT) == 2


async def test_static_namespace_beside_dynamic_ones() -> None:
    app, sio = make_app()
    calls: list[tuple[str, DynamicNamespace]] = []
    app.setup_namespace("*", labelled("star", calls))
    static_events: list[str] = []

    @sio.on("connect", namespace="/static")
    async def static_connect(sid: str, environ: dict[str, Any]) -> None:
        static_events.append("connect")

    @sio.on("which", namespace="/static")
    async def static_which(sid: str) -> str:
        return "static"

    static_handlers = sio.handlers["/static"]
    snapshot = dict(static_handlers)
    async with serve(app) as url:
        async with client(url, MAIN, namespaces=["/static", "/dyn"]) as c:
            assert await c.call("which", namespace="/static", timeout=TIMEOUT) == "static"
            assert await c.call("which", namespace="/dyn", timeout=TIMEOUT) == "star"
        async with client(url, MAIN, namespaces=["/static"]) as c:
            assert await c.call("which", namespace="/static", timeout=TIMEOUT) == "static"
    assert [nsp.fullname for _, nsp in calls] == ["/dyn"]
    assert static_events == ["connect", "connect"]
    assert sio.handlers["/static"] is static_handlers and static_handlers == snapshot
    assert "/static" not in app.namespaces
    static = await app.of("/static")
    assert static.static and static.retirement == math.inf
    with pytest.raises(ValueError, match="static"):
        static.retirement = 1.0


# -- hosts ----------------------------------------------------------------------------


async def test_each_host_gets_its_own_namespace_object() -> None:
    app, sio = make_app()
    made: dict[str, DynamicNamespace] = {}

    @app.setup_namespace("*")
    def setup(nsp: DynamicNamespace, match: re.Match[str]) -> None:
        made[nsp.fullname] = nsp
        nsp.on("where", lambda sid: [nsp.host, nsp.name, nsp.fullname])

    async with serve(app) as url:
        async with (
            client(url, "alpha.test", namespaces=["/chat"]) as alpha,
            client(url, "Beta.Test:8080", namespaces=["/chat"]) as beta,
            client(url, MAIN, namespaces=["/chat"]) as main,
        ):
            expected = {
                alpha: ["alpha.test", "/chat", "//alpha.test/chat"],
                beta: ["beta.test", "/chat", "//beta.test/chat"],
                main: [None, "/chat", "/chat"],
            }
            for c, where in expected.items():
                assert await c.call("where", namespace="/chat", timeout=TIMEOUT) == where
            received: list[Any] = []
            done = asyncio.Event()

            def got(data: Any) -> None:
                received.append(data)
                done.set()

            for c in expected:
                c.on("news", got, namespace="/chat")
            await made["//alpha.test/chat"].emit("news", "alpha only")
            await asyncio.wait_for(done.wait(), TIMEOUT)
            # The other clients' namespaces answer after the emit was written.
            for c in (beta, main):
                await c.call("where", namespace="/chat", timeout=TIMEOUT)
            assert received == ["alpha only"]
    assert sorted(made) == ["//alpha.test/chat", "//beta.test/chat", "/chat"]
    assert len({id(nsp) for nsp in made.values()}) == 3


# -- configuration ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "error", "words"),
    [
        ("chat", ValueError, "setup_namespace"),
        ("", ValueError, "setup_namespace"),
        (b"/chat", ValueError, "setup_namespace"),
        (42, ValueError, "setup_namespace"),
        ("//bad host/chat", ValueError, "setup_namespace: bad host"),
        ("//a,b/chat", ValueError, "setup_namespace: bad host"),
    ],
)
def test_bad_patterns(pattern: Any, error: type[Exception], words: str) -> None:
    app, _ = make_app()
    with pytest.raises(error, match=words):
        app.setup_namespace(pattern, setup_ok)
    with pytest.raises(error, match=words):
        app.setup_namespace(pattern)(setup_ok)
    assert app.registry.setups.exact == {} and app.registry.setups.patterns == []


def test_callback_must_be_callable() -> None:
    app, _ = make_app()
    with pytest.raises(TypeError, match="setup_namespace"):
        app.setup_namespace("*", "not a function")  # type: ignore[arg-type]


def test_setup_namespace_returns_the_callback() -> None:
    app, _ = make_app()
    assert app.setup_namespace("*", setup_ok) is setup_ok
    assert app.setup_namespace(re.compile("x"))(setup_ok) is setup_ok


@pytest.mark.parametrize("value", [-1, math.nan, "1"])
def test_bad_setup_timeout(value: Any) -> None:
    sio = socketio.AsyncServer(async_mode="asgi")
    with pytest.raises((ValueError, TypeError), match="setup_timeout"):
        DynamicIO(socketio.ASGIApp(sio), setup_timeout=value)


@pytest.mark.parametrize("host", [None, "alpha.test"])
async def test_a_name_is_kept_once(host: str | None) -> None:
    # One string for the name: the namespace's full name is the key of
    # python-socketio's table of its sockets (not a second copy read from the
    # CONNECT), and the short name is cut from it.
    app, sio = make_app()
    app.setup_namespace("*", sync_setup(True, []))
    name = "/" + "n" * 1000
    async with serve(app) as url:
        async with client(url, host, namespaces=[name]) as c:
            assert await c.call("echo", 1, namespace=name, timeout=TIMEOUT) == 1
            [nsp] = app.namespaces.values()
            assert nsp.name == name
            [key] = [key for key in sio.manager.rooms if key == nsp.fullname]
            assert key is nsp.fullname
