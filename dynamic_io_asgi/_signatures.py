"""How a namespace calls the application's handlers: which arguments a handler takes,
read once from its code object (not ``inspect.signature()`` per namespace), and
calling one that may be sync or async."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

__all__ = ["accepts_auth", "call", "takes"]


def accepts_auth(handler: Callable[..., Any]) -> bool:
    """Whether a connect handler takes ``(sid, environ, auth)`` rather than ``(sid, environ)``.

    Decided once from the signature, so a ``TypeError`` raised *inside* a
    handler is never mistaken for the wrong arity (python-socketio retries).
    """
    function, bound = handler, 0
    if inspect.ismethod(function):
        function, bound = function.__func__, 1
    code = getattr(function, "__code__", None)
    if code is not None and inspect.isfunction(function):
        # The fast path for plain functions and methods: inspect.signature()
        # costs ~10 µs, and setup callbacks register handlers for every namespace.
        if code.co_flags & inspect.CO_VARARGS:
            return True
        return bool(code.co_argcount - bound >= 3)
    try:
        inspect.signature(handler).bind(None, None, None)
    except TypeError:
        return False
    except ValueError:  # no signature available (some builtins)
        return True
    return True


def takes(handler: Callable[..., Any], count: int) -> bool:
    """Whether ``handler`` can be called with ``count`` positional arguments."""
    function, bound = handler, 0
    if inspect.ismethod(function):
        function, bound = function.__func__, 1
    code = getattr(function, "__code__", None)
    if code is not None and inspect.isfunction(function):
        # The fast path, as in accepts_auth: no inspect.signature() per namespace.
        required_keywords = code.co_kwonlyargcount - len(function.__kwdefaults__ or {})
        positional = code.co_argcount - bound
        required = positional - len(function.__defaults__ or ())
        takes_more = positional >= count or bool(code.co_flags & inspect.CO_VARARGS)
        return required_keywords == 0 and required <= count and takes_more
    try:
        inspect.signature(handler).bind(*([None] * count))
    except TypeError:
        return False
    except ValueError:  # no signature available (some builtins)
        return True
    return True


async def call(handler: Callable[..., Any], *args: Any) -> Any:
    """``handler(*args)``, awaited if it returns an awaitable."""
    result = handler(*args)
    if inspect.isawaitable(result):
        result = await result
    return result
