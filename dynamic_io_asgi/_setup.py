"""Setup: which callback sets a namespace up, and running it (docs/design.md §5).

A setup pattern is an exact full name, ``"*"`` or a compiled regex searched in
the full name. An exact name wins, otherwise the most recently registered
matching pattern.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

import socketio

from ._handlers import Events
from ._hosts import BadHost, fullname, normalize_host, split_fullname
from ._metrics import Histogram
from ._namespace import DynamicNamespace, Setup, full_match
from ._tasks import cancelling, log_raised, within
from ._wire import INVALID_NAMESPACE

__all__ = [
    *("REASONS", "NamespaceRejected", "Setup", "SetupCallback", "SetupTable", "full_match"),
    "run_setup",
]

logger = logging.getLogger("dynamic_io_asgi")

SetupCallback = Callable[[DynamicNamespace, "re.Match[str]"], Any]

#: Why a CONNECT was refused: no setup matched (or setup returned ``False``),
#: setup raised ``ConnectionRefusedError``, setup raised anything else, a limit,
#: setup outlasted ``setup_timeout``.
REASONS = ("invalid", "rejected", "error", "limit", "timeout")

_ANY = re.compile(r".*", re.S)


class NamespaceRejected(Exception):
    """``of()`` could not create a namespace: no setup matched, or setup refused it.

    :attr:`error_args` is what a client would have received in its CONNECT_ERROR;
    :attr:`reason` one of ``"invalid"``, ``"rejected"``, ``"error"``, ``"limit"``,
    ``"timeout"``.
    """

    def __init__(self, fullname: str, error_args: dict[str, Any], reason: str = "invalid") -> None:
        super().__init__(f"namespace {fullname!r} rejected: {error_args.get('message')}")
        self.fullname = fullname
        self.error_args = error_args
        self.reason = reason


class SetupTable:
    """The setup callbacks of one middleware, by pattern."""

    def __init__(self) -> None:
        self.exact: dict[str, Setup] = {}
        self.patterns: list[Setup] = []
        #: By pattern, the event table of the last namespace set up: the next one shares
        #: it when its setup registered the same handlers.
        self.events: dict[Hashable, Events] = {}

    def add(self, pattern: str | re.Pattern[str], callback: SetupCallback | None = None) -> Any:
        """Register ``callback`` for ``pattern`` (see ``DynamicIO.setup_namespace``);
        without ``callback``, return a decorator."""
        if callable(pattern):
            raise TypeError(
                "setup_namespace: pass the pattern first: use it as"
                " @app.setup_namespace('*') (with parentheses), or call"
                " app.setup_namespace('*', callback)"
            )
        exact = _exact_name(pattern)
        regex = pattern if isinstance(pattern, re.Pattern) else _ANY
        label = pattern.pattern if isinstance(pattern, re.Pattern) else pattern

        def register(callback: SetupCallback) -> SetupCallback:
            if not callable(callback):
                raise TypeError("setup_namespace: callback must be callable")
            if exact is not None:
                self.exact[exact] = Setup(label, None, callback)
            else:
                self.patterns.append(Setup(label, regex, callback))
            return callback

        return register if callback is None else register(callback)

    def find(self, full: str) -> tuple[Setup, re.Match[str]] | None:
        """The setup of ``full`` and its match."""
        exact = self.exact.get(full)
        if exact is not None:
            return exact, full_match(full)
        for setup in reversed(self.patterns):
            assert setup.regex is not None
            found = setup.regex.search(full)
            if found is not None:
                return setup, found
        return None


def _exact_name(pattern: str | re.Pattern[str]) -> str | None:
    """The normalised full name of an exact pattern; ``None`` for ``"*"`` or a regex."""
    if isinstance(pattern, re.Pattern) or pattern == "*":
        return None
    if not (isinstance(pattern, str) and pattern.startswith("/")):
        raise ValueError(
            "setup_namespace: pattern must be '*', a full name starting with '/'"
            f" or a compiled regex, not {pattern!r}"
        )
    name, host = split_fullname(pattern)
    if host is not None:
        try:
            host = normalize_host(host)
        except BadHost as exc:
            raise ValueError(f"setup_namespace: bad host in {pattern!r}: {exc}") from None
    return fullname(name, host)


def run_setup(
    nsp: DynamicNamespace,
    callback: SetupCallback,
    match: re.Match[str],
    timeout: float | None,
    took: Histogram,
) -> Awaitable[None] | None:
    """Run ``callback(nsp, match)``, observing how long it took in ``took``: ``None`` once
    done, or what to await when it is async (for at most ``timeout`` seconds; a sync
    setup costs no coroutine). Raise :class:`NamespaceRejected` when it refuses the
    namespace, raises (even ``SystemExit``: one tenant's setup must not stop the
    server) or outlasts ``timeout``."""
    started = time.monotonic()
    try:
        result = callback(nsp, match)
    except BaseException as exc:
        took.observe(time.monotonic() - started)
        refusal = _refusal(nsp.fullname, callback, timeout, exc)
        if refusal is exc:
            raise
        raise refusal from None
    if inspect.isawaitable(result):
        return _finish(nsp.fullname, callback, result, timeout, took, started)
    took.observe(time.monotonic() - started)
    if result is False:
        raise NamespaceRejected(nsp.fullname, INVALID_NAMESPACE)
    return None


async def _finish(
    full: str,
    callback: SetupCallback,
    result: Awaitable[Any],
    timeout: float | None,
    took: Histogram,
    started: float,
) -> None:
    """The rest of an async setup: :func:`run_setup`'s, awaited."""
    try:
        done = await within(result, timeout)
    except BaseException as exc:
        refusal = _refusal(full, callback, timeout, exc)
        if refusal is exc:
            raise
        raise refusal from None
    finally:
        took.observe(time.monotonic() - started)
    if done is False:
        raise NamespaceRejected(full, INVALID_NAMESPACE)


def _refusal(
    full: str, callback: SetupCallback, timeout: float | None, exc: BaseException
) -> BaseException:
    """What a setup that raised ``exc`` becomes: a :class:`NamespaceRejected`, or ``exc``
    itself (a shutdown's cancellation, ``KeyboardInterrupt``)."""
    if isinstance(exc, socketio.exceptions.ConnectionRefusedError):
        return NamespaceRejected(full, exc.error_args, "rejected")
    if isinstance(exc, asyncio.TimeoutError):
        logger.error("setup of %s took longer than %ss: refused", full, timeout)
        return NamespaceRejected(full, INVALID_NAMESPACE, "timeout")
    if isinstance(exc, asyncio.CancelledError):
        if cancelling():  # shutdown (aclose), not the setup's own doing
            return exc
        logger.error("setup of %s raised CancelledError: refused", full)
        return NamespaceRejected(full, INVALID_NAMESPACE, "error")
    if isinstance(exc, (Exception, SystemExit)):
        log_raised(callback, "setup of %s raised: refused", full)
        return NamespaceRejected(full, INVALID_NAMESPACE, "error")
    return exc
