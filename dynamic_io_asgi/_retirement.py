"""When does an idle namespace retire? A pure function of the time it is given.

The middleware's one background task calls :func:`plan` every ``tick``
seconds. A namespace is *idle* when python-socketio holds no socket of it
(connected, connecting or disconnecting) and no CONNECT that the middleware let
through is still waiting for the server. The first check that sees it idle
starts its clock; it retires on the first check at least ``retirement``
seconds later. Checks run every half window, so a namespace retires between
``retirement`` and ``retirement + window`` after it became idle, with
``window = max(0.1 s, 10 % of retirement)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Protocol

__all__ = ["plan", "window", "STALE_CONNECT"]

#: A CONNECT the server has not picked up after this many seconds is taken as
#: lost (for example one whose auth JSON did not decode), so it can't pin a
#: namespace for ever.
STALE_CONNECT = 10.0
MIN_WINDOW = 0.1
MAX_TICK = 5.0


class Retirable(Protocol):
    fullname: str
    retirement: float
    _inflight: int
    _last_connect: float
    _idle_since: float | None


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
        connecting = nsp._inflight and now - nsp._last_connect < STALE_CONNECT
        if connecting or occupied(nsp.fullname):
            nsp._idle_since = None
            continue
        # A CONNECT since the clock started means the namespace may have been
        # occupied in between, unseen: start again.
        if nsp._idle_since is None or nsp._last_connect >= nsp._idle_since:
            nsp._idle_since = now
        if now - nsp._idle_since >= retirement:
            due.append(nsp)
    return due, (None if tick == math.inf else min(tick, MAX_TICK))
