"""Deleting namespaces: at once, or in a task of their own while their
``on_retire`` callbacks run (docs/design.md §6). The registry's part that
takes a namespace off the server; the retirement task decides when."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import socketio

from ._hooks import Hooks
from ._index import NamespaceIndex
from ._limits import Limits
from ._metrics import Histogram
from ._namespace import DynamicNamespace, RetireCallback
from ._tasks import call_logged, finish_logged, run_logged

__all__ = ["ON_RETIRE_TIMEOUT", "Deletion"]

logger = logging.getLogger("dynamic_io_asgi")

#: How long an async ``on_retire`` callback may run before retirement goes on without it.
ON_RETIRE_TIMEOUT = 10.0


class Deletion:
    """Takes the namespaces of one registry off the server.

    :param sio: the wrapped server, whose handler tables the namespaces leave.
    :param index: the registry's namespaces, which they leave too.
    :param limits: whose counts they give their places back to.
    :param hooks: whose ``retire`` hooks hear of each.
    :param watch: hands a namespace back to the retirement task (a retirement
                  that was interrupted leaves it live).
    """

    def __init__(
        self,
        sio: socketio.AsyncServer,
        index: NamespaceIndex,
        limits: Limits,
        hooks: Hooks,
        watch: Callable[[DynamicNamespace], None],
    ) -> None:
        self.sio = sio
        self.index = index
        self.limits = limits
        self.hooks = hooks
        self.watch = watch
        #: Namespaces retired since start.
        self.retired = 0
        #: How late after its deadline each namespace was deleted (for the metrics).
        self.retirement_delay = Histogram()
        #: Retirements running their ``on_retire`` callbacks.
        self.tasks: set[asyncio.Task[None]] = set()

    def due(self, nsp: DynamicNamespace) -> None:
        """Retire a due namespace now, running its sync ``on_retire`` callbacks here; from
        the first that returns an awaitable on, the retirement goes on in a task of its
        own (marked retiring now, so that no CONNECT slips in meanwhile)."""
        callbacks = nsp._retire_callbacks
        for index, callback in enumerate(callbacks):
            result = call_logged(callback, nsp, _what(nsp))
            if inspect.isawaitable(result):
                rest = (callback, result, callbacks[index + 1 :])
                retiring = self._mark_retiring(nsp)
                task = asyncio.get_running_loop().create_task(
                    self._finish_retiring(nsp, retiring, rest=rest)
                )
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
                return
        self.delete(nsp, disconnect=False)

    async def retire(self, nsp: DynamicNamespace, *, disconnect: bool = False) -> None:
        """Delete ``nsp`` now (its ``close()``), disconnecting its sockets if asked."""
        if nsp._closed:
            return
        if nsp._setting_up:
            # close() inside the namespace's own setup: it refuses the namespace
            # (_create sees this), which has nothing installed to remove yet.
            nsp._closed = True
            return
        if nsp._retiring is not None:
            await asyncio.shield(nsp._retiring)
            return
        await self._finish_retiring(nsp, self._mark_retiring(nsp), disconnect=disconnect)

    def _mark_retiring(self, nsp: DynamicNamespace) -> asyncio.Future[None]:
        """Mark ``nsp`` as retiring: new CONNECTs to its name wait for the end of
        the retirement, then create a new namespace object."""
        retiring = nsp._retiring = asyncio.get_running_loop().create_future()
        return retiring

    async def _finish_retiring(
        self,
        nsp: DynamicNamespace,
        retiring: asyncio.Future[None],
        *,
        disconnect: bool = False,
        rest: tuple[RetireCallback, Any, Sequence[RetireCallback]] | None = None,
    ) -> None:
        """Run the retirement of ``nsp``: its ``on_retire`` callbacks, or (``rest``) what
        :meth:`due` left of them: the one whose awaitable it got, that, and the others."""
        what = _what(nsp)
        try:
            if disconnect:
                for sid in nsp.sockets:
                    await self.sio.disconnect(sid, namespace=nsp.fullname)
            callbacks: Sequence[RetireCallback] = nsp._retire_callbacks
            if rest is not None:
                callback, result, callbacks = rest
                await finish_logged(callback, result, ON_RETIRE_TIMEOUT, what)
            for callback in callbacks:
                await run_logged(callback, nsp, ON_RETIRE_TIMEOUT, what)
            self.delete(nsp, disconnect=disconnect)
        except BaseException:
            # Interrupted (the caller of close() was cancelled, or shutdown):
            # the namespace was not deleted, so it stays live. A done
            # _retiring on a live namespace would make _ensure() spin.
            nsp._retiring = None
            self.watch(nsp)
            raise
        finally:
            retiring.set_result(None)

    def delete(self, nsp: DynamicNamespace, *, disconnect: bool) -> None:
        """Take ``nsp`` off the server and out of the registry (no await)."""
        nsp._uninstall()
        nsp._closed = True
        self.index.remove(nsp)
        self.limits.count(nsp.host, -1)
        self.retired += 1
        idle_since = nsp.clock.idle_since
        if not disconnect and idle_since is not None:  # retired by the clock
            late = time.monotonic() - idle_since - nsp.retirement
            self.retirement_delay.observe(max(0.0, late))
        logger.debug("retired %s", nsp.fullname)
        self.hooks.fire("retire", nsp)


def _what(nsp: DynamicNamespace) -> str:
    return f"on_retire callback of {nsp.fullname}"
