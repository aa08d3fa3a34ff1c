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
from collections.abc import Callable, Hashable
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


async def run_setup(
    nsp: DynamicNamespace,
    callback: SetupCallback,
    match: re.Match[str],
    timeout: float | None,
    took: Histogram,
) -> None:
    """Run ``callback(nsp, match)`` (awaited for at most ``timeout`` seconds), observing
    how long it took in ``took``; raise :class:`NamespaceRejected` when it refuses
    the namespace, raises (even ``SystemExit``: one tenant's setup must not stop
    the server) or outlasts ``timeout``."""
    started = time.monotonic()
    full = nsp.fullname
    try:
        result = callback(nsp, match)
        if inspect.isawaitable(result):
            result = await within(result, timeout)
    except socketio.exceptions.ConnectionRefusedError as exc:
        raise NamespaceRejected(full, exc.error_args, "rejected") from None
    except asyncio.TimeoutError:
        logger.error("setup of %s took longer than %ss: refused", full, timeout)
        raise NamespaceRejected(full, INVALID_NAMESPACE, "timeout") from None
    except asyncio.CancelledError:
        if cancelling():  # shutdown (aclose), not the setup's own doing
            raise
        logger.error("setup of %s raised CancelledError: refused", full)
        raise NamespaceRejected(full, INVALID_NAMESPACE, "error") from None
    except (Exception, SystemExit):
        log_raised(callback, "setup of %s raised: refused", full)
        raise NamespaceRejected(full, INVALID_NAMESPACE, "error") from None
    finally:
        took.observe(time.monotonic() - started)
    if result is False:
        raise NamespaceRejected(full, INVALID_NAMESPACE)
