"""The retirement task: one per middleware, woken by deadlines (docs/concepts/retirement.md).

A namespace that just changed (created, a CONNECT came in, a socket left, its
retirement changed) is *active*: the task checks it at its next tick. One whose
idle clock runs waits in a deadline queue (a heap) until it is due; one with
sockets is forgotten until a socket leaves it. So a tick costs what is due or
just happened, not what is live. The decision itself is
:func:`._retirement.plan`, a pure function of the time.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import time
from collections.abc import Callable

from . import _retirement
from ._namespace import DynamicNamespace

__all__ = ["RetirementScheduler"]


class RetirementScheduler:
    """Finds the namespaces due to retire and hands each to ``retire``.

    :param occupied: whether the server holds sockets of a full name, or a
                     CONNECT to it is on its way.
    :param settled: whether a full name has sockets and nothing in motion (no
                    socket leaving, no CONNECT waiting): nothing to check until a
                    socket leaves.
    :param retire: called (synchronously, no await since the plan) with each
                   namespace that is due.
    """

    def __init__(
        self,
        occupied: Callable[[str], bool],
        settled: Callable[[str], bool],
        retire: Callable[[DynamicNamespace], None],
    ) -> None:
        self._occupied = occupied
        self._settled = settled
        self._retire = retire
        self.task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        #: How long the task sleeps now (``None``: until woken).
        self.delay: float | None = None
        self._active: dict[str, DynamicNamespace] = {}
        #: ``(deadline, order, namespace)``: the namespaces whose idle clock runs.
        self.deadlines: list[tuple[float, int, DynamicNamespace]] = []
        self._order = itertools.count()
        self._tick: float | None = None

    def watch(self, nsp: DynamicNamespace) -> None:
        """Have the task look at ``nsp`` at its next check (starting the task if needed)."""
        if nsp.retirement == math.inf or nsp._closed:
            return
        self._active[nsp.fullname] = nsp
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if self.task is None or self.task.done():
            self._wake = asyncio.Event()
            self.task = loop.create_task(self._run(), name="dynamic_io_asgi retirement")
        elif self._wake is not None and (
            self.delay is None or _retirement.window(nsp.retirement) / 2 < self.delay
        ):
            # Only when it would otherwise look too late: not for every CONNECT.
            self._wake.set()

    def stop(self) -> asyncio.Task[None] | None:
        """Forget the task (the caller cancels and awaits it); returns it."""
        task, self.task = self.task, None
        return task

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            now = time.monotonic()
            for nsp in self.check_active(now) + self.check_deadlines(now):
                self._retire(nsp)
            self._wake.clear()
            delay = self.delay = self.next_check(time.monotonic())
            if delay is None:
                await self._wake.wait()
            else:
                try:
                    await asyncio.wait_for(self._wake.wait(), delay)
                except asyncio.TimeoutError:
                    pass

    def check_active(self, now: float) -> list[DynamicNamespace]:
        """Plan the namespaces that just changed; move those whose idle clock runs to
        the deadline queue, forget those that have sockets; the ones due."""
        active = list(self._active.values())
        due, self._tick = _retirement.plan(active, now, self._occupied)
        due_ids = set(map(id, due))
        for nsp in active:
            clock = nsp.clock
            if id(nsp) in due_ids or not _can_retire(nsp):
                del self._active[nsp.fullname]
            elif clock.idle_since is not None:  # its clock runs: wait for its deadline
                del self._active[nsp.fullname]
                self._queue(nsp, clock.idle_since + nsp.retirement)
            elif self._settled(nsp.fullname) and (
                not clock.inflight or now - clock.last_connect >= _retirement.STALE_CONNECT
            ):
                del self._active[nsp.fullname]  # it has sockets: a leaving one brings it back
        return [nsp for nsp in active if id(nsp) in due_ids and nsp._retiring is None]

    def _queue(self, nsp: DynamicNamespace, deadline: float) -> None:
        nsp.clock.deadline = deadline
        heapq.heappush(self.deadlines, (deadline, next(self._order), nsp))

    def check_deadlines(self, now: float) -> list[DynamicNamespace]:
        """Plan the namespaces whose deadline came; the ones due."""
        due: list[DynamicNamespace] = []
        deadlines = self.deadlines
        while deadlines and deadlines[0][0] <= now:
            deadline, _, nsp = heapq.heappop(deadlines)
            clock = nsp.clock
            if deadline != clock.deadline or nsp.fullname in self._active:
                continue  # a stale entry, or one the active checks have again
            clock.deadline = None
            if nsp._closed or nsp._retiring is not None:
                continue
            if _retirement.plan([nsp], now, self._occupied)[0]:
                due.append(nsp)
            elif clock.idle_since is not None:
                self._queue(nsp, clock.idle_since + nsp.retirement)
            else:  # occupied or connecting after all
                self._active[nsp.fullname] = nsp
        return due

    def next_check(self, now: float) -> float | None:
        """Seconds until the task must look again; ``None``: not before something changes."""
        delays = []
        if self._active and self._tick is not None:
            delays.append(self._tick)
        if self.deadlines:
            delays.append(max(0.0, self.deadlines[0][0] - now))
        return min(delays) if delays else None


def _can_retire(nsp: DynamicNamespace) -> bool:
    return not nsp._closed and nsp._retiring is None and nsp.retirement != math.inf
