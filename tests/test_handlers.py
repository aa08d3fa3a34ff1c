"""The handler tables of the namespaces a setup made (``_handlers``), on a real server."""

from __future__ import annotations

import gc
import re
from typing import Any

import socketio

from dynamic_io_asgi import DynamicNamespace
from dynamic_io_asgi._handlers import _SHARED, NO_EVENTS, HandlerTable, with_handler


async def echo(sid: str, data: Any) -> Any:
    return data


async def other(sid: str, data: Any) -> Any:
    return None


class _Registry:
    """What a namespace needs of its registry: the server, and a watch that does nothing."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncServer(async_mode="asgi")

    def watch(self, nsp: DynamicNamespace) -> None:
        pass

    async def retire(self, nsp: DynamicNamespace, *, disconnect: bool = False) -> None:
        pass


def test_namespaces_with_the_same_handlers_share_one_table() -> None:
    first = with_handler(NO_EVENTS, "message", echo)
    second = with_handler(NO_EVENTS, "message", echo)
    assert first is second and first == {"message": echo}
    assert with_handler(NO_EVENTS, "message", other) is not first
    both = with_handler(first, "ping", other)
    assert both == {"message": echo, "ping": other}
    assert first == {"message": echo}  # a shared table is never changed
    assert NO_EVENTS == {}


def test_an_unhashable_handler_gets_a_table_of_its_own() -> None:
    class Handler:
        __hash__ = None  # type: ignore[assignment]

        def __call__(self, sid: str) -> None:
            pass

    handler = Handler()
    first = with_handler(NO_EVENTS, "message", handler)
    assert first == {"message": handler}
    assert with_handler(NO_EVENTS, "message", handler) is not first


def test_a_table_no_namespace_has_is_forgotten() -> None:
    async def gone(sid: str) -> None:
        pass

    with_handler(NO_EVENTS, "message", gone)
    gc.collect()
    assert not any(value is gone for key in _SHARED.keys() for _, value in key)


def test_python_socketio_finds_the_namespaces_handlers() -> None:
    registry = _Registry()
    nsp = DynamicNamespace(registry, "h.test", "//h.test/x", None, "*")
    nsp.on("message", echo)
    nsp._install()
    table = registry.sio.handlers["//h.test/x"]
    assert isinstance(table, HandlerTable)
    assert "connect" in table and "disconnect" in table and "message" in table
    assert "other" not in table
    assert table["message"] is echo
    assert table["connect"] == nsp._on_connect  # the namespace's own, whatever setup gave
    # sio.on(..., namespace=fullname) on a live namespace registers with it.
    registry.sio.on("late", other, namespace="//h.test/x")
    assert table["late"] is other
    nsp._uninstall()
    assert "//h.test/x" not in registry.sio.handlers


def test_match_is_found_again() -> None:
    registry = _Registry()
    regex = re.compile(r"^//h\.test/room(\d+)$")
    nsp = DynamicNamespace(registry, "h.test", "//h.test/room7", regex, regex.pattern)
    assert nsp.match.groups() == ("7",)
    exact = DynamicNamespace(registry, None, "/exact", None, "/exact")
    assert exact.match.group(0) == "/exact"
