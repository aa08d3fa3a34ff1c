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

__all__ = ["BATCH", "RetirementScheduler"]

#: How many namespaces one step of the task checks or retires before it lets the
#: event loop serve everyone else: retiring 20,000 namespaces at once must not
#: stall the server.
BATCH = 128


class RetirementScheduler:
    """Finds the namespaces due to retire and hands each to ``retire``.

    :param occupied: whether the server holds sockets of a full name, or a
                     CONNECT to it is on its way.
    :param moving: whether something of a full name is in motion (a socket
                   leaving, a CONNECT waiting): an occupied namespace with nothing
                   in motion needs no check until a socket leaves.
    :param retire: called (synchronously, no await since the plan) with each
                   namespace that is due.
    :param clock: the monotonic time (injected by tests).
    """

    def __init__(
        self,
        occupied: Callable[[str], bool],
        moving: Callable[[str], bool],
        retire: Callable[[DynamicNamespace], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._occupied = occupied
        self._moving = moving
        self._retire = retire
        self._clock = clock
        self.task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        #: How long the task sleeps now (``None``: until woken).
        self.delay: float | None = None
        self._active: dict[str, DynamicNamespace] = {}
        #: ``(deadline, order, namespace)``: the namespaces whose idle clock runs.
        self.deadlines: list[tuple[float, int, DynamicNamespace]] = []
        self._order = itertools.count()
        self._tick: float | None = None
        #: ``(when, order, namespace)``: namespaces to make active again then.
        self._rechecks: list[tuple[float, int, DynamicNamespace]] = []

    def watch(self, nsp: DynamicNamespace, within: float | None = None) -> None:
        """Have the task look at ``nsp`` at its next check (starting the task if needed),
        at the latest ``within`` seconds from now (default: half its window)."""
        if nsp.retirement == math.inf or nsp._closed:
            return
        nsp.clock.touched = self._clock()
        self._active[nsp.fullname] = nsp
        self._wake_for(_retirement.window(nsp.retirement) / 2 if within is None else within)

    def _wake_for(self, within: float) -> None:
        """Start the task, or wake it if it would not look again ``within`` seconds."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if self.task is None or self.task.done():
            self._wake = asyncio.Event()
            self.task = loop.create_task(self._run(), name="dynamic_io_asgi retirement")
        elif self._wake is not None and (self.delay is None or within < self.delay):
            # Only when it would otherwise look too late: not for every CONNECT.
            self._wake.set()

    def recheck(self, nsp: DynamicNamespace, after: float) -> None:
        """Look at ``nsp`` again in ``after`` seconds, whatever happens meanwhile (a
        namespace that may hold a socket no disconnect will remove)."""
        if nsp.retirement == math.inf or nsp._closed:
            return
        heapq.heappush(self._rechecks, (self._clock() + after, next(self._order), nsp))
        self._wake_for(after)  # its idle clock is left as it is: nothing changed

    def stop(self) -> asyncio.Task[None] | None:
        """Forget the task (the caller cancels and awaits it); returns it."""
        task, self.task = self.task, None
        return task

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            # Cleared first: a namespace watched while the checks yield wakes the
            # task at once instead of waiting for the next deadline.
            self._wake.clear()
            # Let what woke the task finish first: a CONNECT's answer is queued for
            # its writer after the wake, and would otherwise wait for the check.
            await asyncio.sleep(0)
            await self._check()
            delay = self.delay = self.next_check(self._clock())
            if delay is None:
                await self._wake.wait()
            elif delay > 0:
                try:
                    await asyncio.wait_for(self._wake.wait(), delay)
                except asyncio.TimeoutError:
                    pass

    async def _check(self) -> None:
        """One check of the active namespaces and of the deadlines that came, in
        batches of :data:`BATCH` with the event loop served in between."""
        rechecks, now = self._rechecks, self._clock()
        while rechecks and rechecks[0][0] <= now:
            nsp = heapq.heappop(rechecks)[2]
            if not nsp._closed:
                self._active[nsp.fullname] = nsp
        active = list(self._active.values())
        tick: float | None = None
        for start in range(0, len(active), BATCH):
            if start:
                await asyncio.sleep(0)
            batch = [nsp for nsp in active[start : start + BATCH] if _still(self._active, nsp)]
            for nsp in self.check_active(self._clock(), batch):
                self._retire(nsp)
            if self._tick is not None:
                tick = self._tick if tick is None else min(tick, self._tick)
        self._tick = tick
        while True:
            for nsp in self.check_deadlines(self._clock(), BATCH):
                self._retire(nsp)
            deadlines = self.deadlines
            if not deadlines or deadlines[0][0] > self._clock():
                return
            await asyncio.sleep(0)

    def check_active(
        self, now: float, active: list[DynamicNamespace] | None = None
    ) -> list[DynamicNamespace]:
        """Plan the namespaces that just changed (or those of them in ``active``); move
        those whose idle clock runs to the deadline queue, forget those that have
        sockets; the ones due."""
        if active is None:
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
            elif (
                not clock.inflight or now - clock.last_connect >= _retirement.STALE_CONNECT
            ) and not self._moving(nsp.fullname):
                # Not connecting, so plan() asked and found it occupied: it has sockets,
                # and a leaving one brings it back.
                del self._active[nsp.fullname]
        return [nsp for nsp in active if id(nsp) in due_ids and nsp._retiring is None]

    def _queue(self, nsp: DynamicNamespace, deadline: float) -> None:
        nsp.clock.deadline = deadline
        heapq.heappush(self.deadlines, (deadline, next(self._order), nsp))

    def check_deadlines(self, now: float, most: int | None = None) -> list[DynamicNamespace]:
        """Plan the namespaces whose deadline came (at most ``most`` queue entries); the
        ones due."""
        due: list[DynamicNamespace] = []
        deadlines = self.deadlines
        left = len(deadlines) if most is None else most
        while deadlines and deadlines[0][0] <= now and left > 0:
            left -= 1
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
        if self._rechecks:
            delays.append(max(0.0, self._rechecks[0][0] - now))
        return min(delays) if delays else None


def _still(active: dict[str, DynamicNamespace], nsp: DynamicNamespace) -> bool:
    """Whether ``nsp`` is still active (it may have left while the task yielded)."""
    return active.get(nsp.fullname) is nsp


def _can_retire(nsp: DynamicNamespace) -> bool:
    return not nsp._closed and nsp._retiring is None and nsp.retirement != math.inf
