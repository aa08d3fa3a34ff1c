"""How one host's namespaces are spelt on the wire, worked out once per host.

A session of ``alpha.test`` reads client packets such as ``42/chat,...`` and
writes them for the server as ``42//alpha.test/chat,...``, and the other way
round. The prefixes and packet starts its fast paths compare against, in text
and in bytes, are kept in one frozen :class:`Spellings` per host, shared by
all of that host's sessions (a bounded cache: :func:`spellings`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

__all__ = ["InboundFast", "OutboundFast", "Spellings", "spellings"]

#: How a packet without attachments starts on a named namespace: from a client (a
#: CONNECT waits for its namespace: never a fast one) and from the server (whose
#: CONNECT is the answer to one).
NAMED = ("42/", "43/", "41/", "44/")  # EVENT and ACK first: the common ones
SERVER_NAMED = (*NAMED, "40/")
#: What may follow "//host/" when the server's name is just that (the client's "/").
_END_OF_NAME = frozenset(["", ","])
#: What must not follow "4x/" in a main-host session's packet: another host's "//".
_ANOTHER_HOST = frozenset(["/"])


class InboundFast(NamedTuple):
    """The fast path of ``Session.inbound_text``, for a caller that inlines it
    (unpacked once per connection): a packet that starts with one of ``starts``
    and has no ``/`` at index 3 is ``packet.replace("/", server_prefix, 1)``
    (itself if ``server_prefix`` is empty)."""

    starts: tuple[str, ...]
    server_prefix: str


class OutboundFast(NamedTuple):
    """The fast path of ``Session.outbound_text``: a packet that starts with one
    of ``starts`` and whose ``packet[at:after]`` is not in ``not_next`` is
    ``packet.replace(prefix, "", 1)`` (itself if ``prefix`` is empty)."""

    starts: tuple[str, ...]
    at: int
    after: int
    not_next: frozenset[str]
    prefix: str


@dataclass(frozen=True, slots=True)
class Spellings:
    """One host's spellings. ``fast`` says whether the fast paths apply (text packets
    of a known session): without them, no packet start matches."""

    #: ``"//host"``, or ``None`` for the main host.
    prefix: str | None
    #: ``"//host"`` or ``""``: what the server's names of this host start with.
    short_prefix: str
    #: ``"//host/"`` or ``""``: where the server's names of this host end.
    server_prefix: str
    inbound: InboundFast
    outbound: OutboundFast
    # The same in bytes, for polling bodies.
    prefix_bytes: bytes
    server_prefix_bytes: bytes
    inbound_starts_bytes: tuple[bytes, ...]
    outbound_starts_bytes: tuple[bytes, ...]
    outbound_not_bytes: frozenset[bytes]


@lru_cache(maxsize=4096)
def spellings(host: str | None, fast: bool) -> Spellings:
    """The :class:`Spellings` of ``host`` (``None``: the main host)."""
    prefix = None if host is None else "//" + host
    short_prefix = prefix or ""
    server_prefix = short_prefix + "/" if prefix else ""
    # How a packet on a named namespace starts: "42/" from the client and
    # "42//host/" from the server; and what must not come next, at ``at``:
    # another host's "//" on the main host, the end of the name on another host.
    inbound_starts: tuple[str, ...] = NAMED if fast else ()
    outbound_starts: tuple[str, ...] = SERVER_NAMED if fast else ()
    if prefix is None:
        at, not_next = 3, _ANOTHER_HOST
    else:
        outbound_starts = tuple(start[:2] + server_prefix for start in outbound_starts)
        at, not_next = len(server_prefix) + 2, _END_OF_NAME
    return Spellings(
        prefix=prefix,
        short_prefix=short_prefix,
        server_prefix=server_prefix,
        inbound=InboundFast(inbound_starts, server_prefix),
        outbound=OutboundFast(outbound_starts, at, at + 1, not_next, short_prefix),
        prefix_bytes=short_prefix.encode(),
        server_prefix_bytes=server_prefix.encode(),
        inbound_starts_bytes=_encoded(inbound_starts),
        outbound_starts_bytes=_encoded(outbound_starts),
        outbound_not_bytes=frozenset(_encoded(not_next)),
    )


def _encoded(texts: tuple[str, ...] | frozenset[str]) -> tuple[bytes, ...]:
    return tuple(text.encode() for text in texts)
