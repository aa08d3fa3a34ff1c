"""How a namespace reads its handlers' signatures (``_signatures``): the fast paths on
code objects agree with ``inspect.signature`` for every kind of callable."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import pytest

from dynamic_io_asgi._signatures import accepts_auth, takes

SIGNATURES = [
    "",
    "a",
    "a, b",
    "a, b=1",
    "a=1, b=2",
    "a, b, c",
    "*args",
    "a, *args",
    "a, b, *, k",
    "a, b, *, k=1",
    "a, b, c=1, *args, **kw",
    "**kw",
    "a, /, b",
]


def _handlers() -> list[Callable[..., Any]]:
    handlers: list[Callable[..., Any]] = []
    for signature in SIGNATURES:
        scope: dict[str, Any] = {}
        exec(f"def f({signature}): pass\nasync def g({signature}): pass", scope)
        handlers += [scope["f"], scope["g"]]

    class Handlers:
        def method(self, sid: Any, reason: Any) -> None: ...
        def more(self, sid: Any, reason: Any = None, *rest: Any) -> None: ...
        @staticmethod
        def static(sid: Any, reason: Any) -> None: ...

    return [
        *handlers,
        Handlers().method,
        Handlers().more,
        Handlers.static,
        functools.partial(handlers[10], 1),
        print,
        len,
    ]


def _binds(handler: Callable[..., Any], count: int) -> bool:
    try:
        inspect.signature(handler).bind(*([None] * count))
    except TypeError:
        return False
    except ValueError:
        return True
    return True


@pytest.mark.parametrize("count", range(5))
def test_takes_agrees_with_inspect(count: int) -> None:
    for handler in _handlers():
        assert takes(handler, count) == _binds(handler, count), handler


def test_accepts_auth_agrees_with_inspect() -> None:
    for handler in _handlers():
        if _binds(handler, 2) or _binds(handler, 3):  # a possible connect handler
            assert accepts_auth(handler) == _binds(handler, 3), handler
