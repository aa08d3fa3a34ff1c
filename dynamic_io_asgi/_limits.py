"""Limits on what clients may create (docs/concepts/limits.md): the length of a
namespace name, the namespaces of one session, of one host and of the process, and
how fast one session may send CONNECTs."""

from __future__ import annotations

import time
from typing import Any

from ._hosts import fullname
from ._retirement import STALE_CONNECT
from ._session import Session
from ._setup import NamespaceRejected

__all__ = ["NAME_TOO_LONG", "TOO_MANY_NAMESPACES", "Limits"]

TOO_MANY_NAMESPACES = {"message": "Too many namespaces"}
NAME_TOO_LONG = {"message": "Namespace name too long"}


class Limits:
    """The limits of one middleware (``None``: no limit), and the counts they are
    checked against.

    :param manager: the server's client manager, which knows the namespaces a
                    session is connected to.
    """

    def __init__(
        self,
        manager: Any,
        *,
        max_name_length: int | None = None,
        max_namespaces_per_session: int | None = None,
        max_namespaces_per_host: int | None = None,
        max_namespaces: int | None = None,
        max_connects_per_second: float | None = None,
        max_creations_per_second: float | None = None,
    ) -> None:
        self.manager = manager
        #: CONNECTs one Engine.IO session may send a second, on average (a burst of
        #: twice as many first); faster ones wait their turn.
        self.max_connects_per_second = max_connects_per_second
        #: Namespaces one host may create a second, on average (a burst of twice as
        #: many first); CONNECTs that would create more wait their turn.
        self.max_creations_per_second = max_creations_per_second
        # The hosts' buckets for max_creations_per_second: (tokens, when); and how
        # many there may be before the full ones are forgotten.
        self._creations: dict[str | None, tuple[float, float]] = {}
        self._sweep_at = 1024
        self.max_name_length = max_name_length
        self.max_namespaces_per_session = max_namespaces_per_session
        self.max_namespaces_per_host = max_namespaces_per_host
        self.max_namespaces = max_namespaces
        # Live (and being created) namespace objects of each host, not static ones.
        self._per_host: dict[str | None, int] = {}
        self._live = 0

    def wait(self, session: Session, now: float) -> float:
        """Seconds a CONNECT of ``session`` must wait for its turn under
        ``max_connects_per_second`` (``0.0``: none), counting it.

        A token bucket per session: it holds ``2 * rate`` CONNECTs and refills at
        ``rate`` a second. A CONNECT that finds it empty takes the next token to
        come, so a flood is slowed to the rate (its later packets are not read
        meanwhile) instead of being answered as fast as the server can."""
        rate = self.max_connects_per_second
        if rate is None:
            return 0.0
        session.connect_tokens, delay = _take(session.connect_tokens, rate, now)
        return delay

    def wait_to_create(self, host: str | None, now: float) -> float:
        """Seconds a CONNECT that creates a namespace of ``host`` must wait for its turn
        under ``max_creations_per_second`` (``0.0``: none), counting it: a token
        bucket per host, as :meth:`wait`'s per session."""
        rate = self.max_creations_per_second
        if rate is None:
            return 0.0
        buckets = self._creations
        buckets[host], delay = _take(buckets.get(host, (0.0, None)), rate, now)
        if len(buckets) > self._sweep_at:
            # Forget the hosts whose bucket is full again: they start afresh. Amortised:
            # the next sweep waits for twice as many buckets as this one leaves.
            for known, (tokens, since) in list(buckets.items()):
                if tokens + (now - since) * rate >= 2 * rate:
                    del buckets[known]
            self._sweep_at = max(1024, 2 * len(buckets))
        return delay

    def check_session(self, session: Session, name: str) -> None:
        """Refuse a CONNECT over ``max_name_length`` or ``max_namespaces_per_session``."""
        if self.max_name_length is not None and len(name) > self.max_name_length:
            raise NamespaceRejected(fullname(name, session.host), NAME_TOO_LONG, "limit")
        limit = self.max_namespaces_per_session
        admitted = session.admitted
        if limit is None or len(admitted) < limit:
            return
        full = fullname(name, session.host)
        if full in admitted:
            return
        # Forget the namespaces this session left (or was refused) before counting.
        now, connected = time.monotonic(), self.manager.sid_from_eio_sid
        for known, since in list(admitted.items()):
            if since is not None and now - since < STALE_CONNECT:
                continue  # on its way to the server
            if connected(session.eio_sid, known) is None:
                del admitted[known]  # left, refused, or lost on its way
        if len(admitted) >= limit:
            raise NamespaceRejected(full, TOO_MANY_NAMESPACES, "limit")

    def admitted(self, session: Session, full: str) -> None:
        """Count a CONNECT of ``session`` to the namespace ``full`` (the namespace's own
        string: no copy of the name is kept) that goes on to the server."""
        # Kept only under a limit, which also bounds it (see check_session).
        if self.max_namespaces_per_session is not None:
            session.admitted[full] = time.monotonic()

    def check_new(self, host: str | None, full: str) -> None:
        """Refuse a new namespace over ``max_namespaces_per_host`` or ``max_namespaces``."""
        per_host = self.max_namespaces_per_host
        if per_host is not None and self._per_host.get(host, 0) >= per_host:
            raise NamespaceRejected(full, TOO_MANY_NAMESPACES, "limit")
        if self.max_namespaces is not None and self._live >= self.max_namespaces:
            raise NamespaceRejected(full, TOO_MANY_NAMESPACES, "limit")

    def host_count(self, host: str | None) -> int:
        """How many namespace objects ``host`` has (being set up included, static ones not)."""
        return self._per_host.get(host, 0)

    def count(self, host: str | None, change: int) -> None:
        """A namespace object of ``host`` came (``1``) or went (``-1``)."""
        count = self._per_host.get(host, 0) + change
        if count:
            self._per_host[host] = count
        else:
            self._per_host.pop(host, None)
        self._live += change

    def as_dict(self) -> dict[str, float | None]:
        """The limits by option name (for the status page)."""
        return {
            "max_name_length": self.max_name_length,
            "max_namespaces_per_session": self.max_namespaces_per_session,
            "max_namespaces_per_host": self.max_namespaces_per_host,
            "max_namespaces": self.max_namespaces,
            "max_connects_per_second": self.max_connects_per_second,
            "max_creations_per_second": self.max_creations_per_second,
        }


def _take(
    bucket: tuple[float, float | None], rate: float, now: float
) -> tuple[tuple[float, float], float]:
    """One token from a bucket ``(tokens, when)`` that holds ``2 * rate`` and refills at
    ``rate`` a second (``when`` ``None``: full): the bucket after, and how long to wait
    for the token (it may be one still to come)."""
    tokens, since = bucket
    if since is None:
        tokens, since = 2 * rate, now
    tokens = min(2 * rate, tokens + (now - since) * rate) - 1
    return (tokens, now), (0.0 if tokens >= 0 else -tokens / rate)
