"""Lifecycle hooks: ``on_create``, ``on_retire`` and ``on_refuse`` (docs/operating/hooks.md)."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from typing import Any

from ._tasks import log_raised, logged

__all__ = ["Hook", "Hooks"]

logger = logging.getLogger("dynamic_io_asgi")

#: A lifecycle hook: ``(nsp)`` for create and retire, ``(fullname, host, reason)`` for refuse.
Hook = Callable[..., Any]

KINDS = ("create", "retire", "refuse")


class Hooks:
    """The lifecycle hooks of one middleware, and their running async ones."""

    def __init__(self) -> None:
        self._hooks: dict[str, list[Hook]] = {kind: [] for kind in KINDS}
        #: The async hooks still running.
        self.tasks: set[asyncio.Future[None]] = set()

    def add(self, kind: str, callback: Hook) -> Hook:
        """Call ``callback`` at every ``kind`` event; returns it (for decorators)."""
        if not callable(callback):
            raise TypeError(f"on_{kind}: pass a callable (usable as a decorator)")
        self._hooks[kind].append(callback)
        return callback

    def fire(self, kind: str, *args: Any) -> None:
        """Run the ``kind`` hooks: a sync one now, an async one in a task of its own
        (it delays nothing but itself); one that raises is logged."""
        for hook in self._hooks[kind]:
            try:
                result = hook(*args)
                if inspect.isawaitable(result):
                    task = asyncio.ensure_future(logged(result, f"on_{kind} hook"))
                    self.tasks.add(task)
                    task.add_done_callback(self.tasks.discard)
            except Exception:
                log_raised(hook, "on_%s hook %r raised", kind, hook)
