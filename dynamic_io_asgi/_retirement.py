"""When does an idle namespace retire? A pure function of the time it is given.

The middleware's one background task calls :func:`plan` every ``tick``
seconds. A namespace is *idle* when python-socketio holds no socket of it
(connected, connecting or disconnecting) and no CONNECT that the middleware let
through is still waiting for the server. The first check that sees it idle
starts its clock: from the last change the middleware saw (``touched``: a socket
left, say) when no check saw it occupied since, else from the check itself. It
retires on the first check at least ``retirement`` seconds later. Checks run
every half window, so a namespace retires between ``retirement`` and
``retirement + window`` after it became idle, with
``window = max(0.1 s, 10 % of retirement)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Protocol

__all__ = ["IdleClock", "plan", "window", "STALE_CONNECT"]

#: A CONNECT the server has not picked up after this many seconds is taken as
#: lost (for example one whose auth JSON did not decode), so it can't pin a
#: namespace for ever.
STALE_CONNECT = 10.0
MIN_WINDOW = 0.1
MAX_TICK = 5.0


class IdleClock:
    """The idle clock of one namespace, in monotonic seconds: what :func:`plan` reads
    and updates, and the namespace's place in the retirement task's deadline queue."""

    __slots__ = ("inflight", "last_connect", "idle_since", "deadline", "touched")

    def __init__(self) -> None:
        #: CONNECTs let through to the server that its connect handler has not seen yet.
        self.inflight = 0
        #: When the last of them was let through.
        self.last_connect = -math.inf
        #: Since when the namespace is idle, as :func:`plan` last saw it.
        self.idle_since: float | None = None
        #: Its entry in the deadline queue (``None``: not queued).
        self.deadline: float | None = None
        #: When the middleware last saw it change (a socket left, a CONNECT came, its
        #: retirement was set), unless a check saw it occupied since.
        self.touched: float | None = None

    def connecting(self, now: float) -> None:
        """A CONNECT to the namespace was let through to the server."""
        self.inflight += 1
        self.last_connect = now

    def arrived(self) -> None:
        """The server's connect handler saw one of those CONNECTs."""
        if self.inflight:
            self.inflight -= 1

    def retires_in(self, retirement: float, now: float) -> float | None:
        """Seconds left before an idle namespace retires; ``None`` while its clock
        does not run (not idle as last seen, or a CONNECT in flight)."""
        idle_since = self.idle_since
        if idle_since is None or self.inflight or self.last_connect >= idle_since:
            return None
        return max(0.0, idle_since + retirement - now)


class Retirable(Protocol):
    fullname: str
    retirement: float

    @property
    def clock(self) -> IdleClock: ...


def window(retirement: float) -> float:
    """How late after its deadline a namespace may retire."""
    return max(MIN_WINDOW, 0.1 * retirement)


def plan(
    namespaces: Iterable[Retirable], now: float, occupied: Callable[[str], bool]
) -> tuple[list[Retirable], float | None]:
    """Return the namespaces that retire at ``now`` and the seconds until the next check.

    ``occupied(fullname)`` tells whether the server holds sockets of a namespace.
    Updates each namespace's idle clock. The delay is ``None`` when no namespace
    can ever retire (nothing to check until one is created or changed).
    """
    due: list[Retirable] = []
    tick = math.inf
    for nsp in namespaces:
        retirement = nsp.retirement
        if retirement == math.inf:
            continue
        tick = min(tick, window(retirement) / 2)
        clock = nsp.clock
        connecting = clock.inflight and now - clock.last_connect < STALE_CONNECT
        if connecting or occupied(nsp.fullname):
            clock.idle_since = clock.touched = None
            continue
        # A CONNECT since the clock started means the namespace may have been
        # occupied in between, unseen: start again.
        if clock.idle_since is None or clock.last_connect >= clock.idle_since:
            # Idle since its last change (the socket that left, say) rather than since
            # this check, which may come up to a tick later, or later still when many
            # changed at once. Not while a CONNECT is in flight: one that went stale
            # makes the namespace idle with no change seen.
            touched = clock.touched
            if touched is not None and not clock.inflight and clock.last_connect < touched <= now:
                clock.idle_since = touched
            else:
                clock.idle_since = now
        if now - clock.idle_since >= retirement:
            due.append(nsp)
    return due, (None if tick == math.inf else min(tick, MAX_TICK))
