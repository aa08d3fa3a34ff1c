"""Small asyncio helpers for running application callbacks safely."""

from __future__ import annotations

import asyncio
import inspect
import logging
import sys
import time
import types
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import Any

__all__ = [
    "TRACEBACK_EVERY",
    "call_logged",
    "cancelling",
    "finish_logged",
    "log_raised",
    "logged",
    "run_logged",
    "within",
]

logger = logging.getLogger("dynamic_io_asgi")

#: Seconds between two tracebacks of one callback's code. A handler that raises for
#: every client (a tenant's bug, or its attack) is logged every time, in one line,
#: with its traceback once in a while: formatting one costs ten times the line.
TRACEBACK_EVERY = 10.0
_MAX_KEPT = 4096
#: When each callback's code last had its traceback logged.
_last_traceback: dict[Any, float] = {}


def log_raised(callback: Any, message: str, *args: Any) -> None:
    """``logger.exception(message, *args)`` for what ``callback`` raised (call it in
    the ``except``): the traceback at most once per :data:`TRACEBACK_EVERY` seconds
    for the callback's code (shared by the closures a setup makes for each
    namespace), else one line that names the exception."""
    key = getattr(callback, "__code__", None) or type(callback)
    now = time.monotonic()
    last = _last_traceback.get(key)
    if last is None or now - last >= TRACEBACK_EVERY:
        if len(_last_traceback) >= _MAX_KEPT:
            _last_traceback.clear()
        _last_traceback[key] = now
        logger.exception(message, *args)
        return
    exc = sys.exc_info()[1]
    logger.error(
        message + " (%s: %s; its traceback was logged less than %g s ago)",
        *args,
        type(exc).__name__,
        exc,
        TRACEBACK_EVERY,
    )


async def within(awaitable: Awaitable[Any], timeout: float | None) -> Any:
    """``await awaitable`` for at most ``timeout`` seconds (``asyncio.TimeoutError``).

    In the current task, not another (as ``wait_for`` runs it before Python
    3.12): a task lets ``SystemExit`` out to the event loop, which stops. A
    coroutine is started first: one that returns without suspending (a setup that
    only registers handlers, the common case) costs no timer."""
    if timeout is not None and inspect.iscoroutine(awaitable):
        try:
            suspended_on = awaitable.send(None)
        except StopIteration as done:
            return done.value
        awaitable = _resume(awaitable, suspended_on)
    if hasattr(asyncio, "timeout"):  # Python 3.11+
        async with asyncio.timeout(timeout):
            return await awaitable
    return await asyncio.wait_for(_awaitable(awaitable), timeout)  # pragma: no cover


@types.coroutine
def _resume(coro: Coroutine[Any, Any, Any], suspended_on: Any) -> Generator[Any, Any, Any]:
    """Go on with a coroutine that suspended on ``suspended_on``, as ``await`` would
    have: what it waits for goes up to the task, what the task sends or throws in
    (a cancellation) goes down to it."""
    while True:
        try:
            sent = yield suspended_on
        except GeneratorExit:
            coro.close()
            raise
        except BaseException as exc:
            try:
                suspended_on = coro.throw(exc)
            except StopIteration as done:
                return done.value
        else:
            try:
                suspended_on = coro.send(sent)
            except StopIteration as done:
                return done.value


async def _awaitable(value: Awaitable[Any]) -> Any:
    return await value


async def logged(awaitable: Awaitable[Any], what: str) -> None:
    """``await awaitable``, logging (not raising) what it raises."""
    try:
        await awaitable
    except Exception:
        logger.exception("%s raised", what)


def cancelling() -> bool:
    """Whether the current task is being cancelled (rather than handed a
    ``CancelledError`` that some callback raised)."""
    task = asyncio.current_task()
    state = getattr(task, "cancelling", None)  # Python 3.11+
    if state is None:
        return True  # can't tell: take it as a cancellation
    return bool(state())


async def run_logged(callback: Callable[[Any], Any], arg: Any, timeout: float, what: str) -> None:
    """Run ``callback(arg)`` (sync or async): one that raises (even ``SystemExit``) is
    logged, one that outlasts ``timeout`` seconds is logged and left behind."""
    await finish_logged(callback, call_logged(callback, arg, what), timeout, what)


def call_logged(callback: Callable[[Any], Any], arg: Any, what: str) -> Any:
    """``callback(arg)``; what it raises (even ``SystemExit``) is logged, and ``None``
    returned instead."""
    try:
        return callback(arg)
    except (Exception, SystemExit):
        log_raised(callback, "%s raised", what)
        return None


async def finish_logged(callback: Any, result: Any, timeout: float, what: str) -> None:
    """Await what ``callback`` returned, if it is awaitable, as :func:`run_logged` does."""
    if not inspect.isawaitable(result):
        return
    try:
        await within(result, timeout)
    except asyncio.TimeoutError:
        logger.error("%s took longer than %ss: went on without it", what, timeout)
    except (Exception, SystemExit):
        log_raised(callback, "%s raised", what)
