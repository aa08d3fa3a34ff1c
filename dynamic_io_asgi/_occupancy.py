"""Whether the server holds a namespace occupied: what the retirement task asks of it.

A namespace is occupied while python-socketio holds a socket of it for an open
Engine.IO session, while a socket is leaving it (``pending_disconnect``), or while
a CONNECT to it waits for the namespace to be created. Sockets of closed (or
closing) sessions do not count: python-socketio leaves one behind when a session
closes while its CONNECT is handled (and a table may be the registry's seed).
"""

from __future__ import annotations

from typing import Any

from ._wire import is_open

__all__ = ["Occupancy"]


class Occupancy:
    """The occupancy of the namespaces of the server ``sio``, by full name."""

    def __init__(self, sio: Any) -> None:
        self.sio = sio
        #: CONNECTs waiting for a namespace to be created, by full name (the registry's).
        self.admitting: dict[str, int] = {}

    def occupied(self, full: str) -> bool:
        return self.moving(full) or self.has_sockets(full)

    def moving(self, full: str) -> bool:
        """Whether a socket is leaving ``full``, or a CONNECT to it is waiting."""
        return full in self.sio.manager.pending_disconnect or full in self.admitting

    def has_sockets(self, full: str) -> bool:
        """Whether python-socketio holds a socket of ``full`` for an open session."""
        table = self.sio.manager.rooms.get(full)
        members = table.get(None) if table else None
        if not members:
            return False
        eio = self.sio.eio
        # items(), not values(): a bidict's values() builds (and keeps) its inverse,
        # some 650 bytes of RSS for every namespace the retirement task looks at.
        return any(is_open(eio, eio_sid) for _, eio_sid in members.items())
