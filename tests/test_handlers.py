"""The handler tables of the namespaces a setup made (``_handlers``), on a real server."""

from __future__ import annotations

import gc
import re
from typing import Any

import socketio

from dynamic_io_asgi import DynamicNamespace
from dynamic_io_asgi._handlers import NO_EVENTS, share, with_handler
from dynamic_io_asgi._namespace import Setup


async def echo(sid: str, data: Any) -> Any:
    return data


async def other(sid: str, data: Any) -> Any:
    return None


def setup(nsp: DynamicNamespace, match: re.Match[str]) -> None:
    nsp.on("message", echo)


ANY = Setup("*", re.compile(".*"), setup)


class _Registry:
    """What a namespace needs of its registry: the server, and a watch that does nothing."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncServer(async_mode="asgi")

    def watch(self, nsp: DynamicNamespace) -> None:
        pass

    async def retire(self, nsp: DynamicNamespace, *, disconnect: bool = False) -> None:
        pass


def test_a_table_is_never_changed_in_place() -> None:
    first = with_handler(NO_EVENTS, "message", echo)
    both = with_handler(first, "ping", other)
    assert both == {"message": echo, "ping": other}
    assert first == {"message": echo} and NO_EVENTS == {}


def test_namespaces_of_one_setup_with_the_same_handlers_share_one_table() -> None:
    last: dict[Any, dict[str, Any]] = {}
    first = share(last, "*", with_handler(NO_EVENTS, "message", echo))
    second = share(last, "*", with_handler(NO_EVENTS, "message", echo))
    assert second is first
    changed = share(last, "*", with_handler(NO_EVENTS, "message", other))
    assert changed is not first and last["*"] is changed  # the next one shares this one
    assert share(last, "/other", with_handler(NO_EVENTS, "message", echo)) is not first


def test_python_socketio_finds_the_namespaces_handlers() -> None:
    registry = _Registry()
    nsp = DynamicNamespace(registry, "//h.test/x", ANY)
    nsp.on("message", echo)
    shared: dict[Any, dict[str, Any]] = {}
    nsp._install(shared)
    table = registry.sio.handlers["//h.test/x"]
    assert table is nsp  # the namespace is its own entry: one object per namespace
    assert "connect" in table and "disconnect" in table and "message" in table
    assert "other" not in table
    assert table["message"] is echo
    assert table["connect"] == nsp._on_connect  # the namespace's own, whatever setup gave
    # sio.on(..., namespace=fullname) on a live namespace registers with it.
    registry.sio.on("late", other, namespace="//h.test/x")
    assert table["late"] is other
    nsp._uninstall()
    assert "//h.test/x" not in registry.sio.handlers
    # Namespaces of one setup that registered the same handlers share their table.
    made = []
    for name in ("//h.test/y", "//h.test/z"):
        made.append(DynamicNamespace(registry, name, ANY))
        made[-1].on("message", echo)
        made[-1]._install(shared)
    assert made[0]._events is made[1]._events == {"message": echo}


def test_match_is_found_again() -> None:
    registry = _Registry()
    regex = re.compile(r"^//h\.test/room(\d+)$")
    nsp = DynamicNamespace(registry, "//h.test/room7", Setup(regex.pattern, regex, setup))
    assert nsp.match.groups() == ("7",)
    exact = DynamicNamespace(registry, "/exact", Setup("/exact", None, setup))
    assert exact.match.group(0) == "/exact"


def test_an_application_keeps_its_own_attributes_on_a_namespace() -> None:
    # Slotted, with a __dict__ for what setups set on it (and for on_retire's list).
    registry = _Registry()
    nsp = DynamicNamespace(registry, "/room", ANY)
    nsp.players = {"ada"}  # type: ignore[attr-defined]
    nsp.on_retire(lambda nsp: None)
    assert nsp.players == {"ada"}  # type: ignore[attr-defined]
    assert len(nsp._retire_callbacks) == 1
    assert DynamicNamespace._retire_callbacks == ()  # the class default is left alone


def test_a_namespace_is_one_object() -> None:
    # Its own idle clock and its own entry in python-socketio's handler table: a server
    # may hold 100,000, and each object beside it costs memory and the collector's time.
    registry = _Registry()
    shared: dict[Any, dict[str, Any]] = {}
    gc.collect()
    before = len(gc.get_objects())
    made = [DynamicNamespace(registry, f"//h.test/n{i}", ANY) for i in range(200)]
    for nsp in made:
        nsp._setting_up = True
        nsp.on("message", echo)
        nsp._setting_up = False
        nsp._install(shared)
    gc.collect()
    assert len(gc.get_objects()) - before < 200 + 10  # the namespaces, the list, a table
    assert registry.sio.handlers["//h.test/n0"] is made[0] and made[0].clock is made[0]
    assert made[0].host == "h.test" and made[0].name == "/n0"
