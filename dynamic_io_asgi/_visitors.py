"""The Engine.IO sessions that connected to one namespace, kept as cheaply as can be.

python-socketio keeps ``get_session()``/``save_session()`` data in the Engine.IO
socket until the whole connection closes, so deleting a namespace must clear it
there; only the sessions that ever connected to the namespace can hold some.
Most namespaces are visited by one session, so the value is ``""`` for none, the
sid of the only one, a set of them, or ``None`` for unknown (a session not of the
middleware's: then every session is visited at the end).
"""

from __future__ import annotations

from typing import Any

__all__ = ["Visitors", "add", "holding"]

Visitors = str | set[str] | None


def add(visitors: Visitors, eio_sid: str, sockets: dict[str, Any]) -> Visitors:
    """``visitors`` with ``eio_sid``; ``sockets`` are the server's open sessions."""
    if visitors is None or visitors == eio_sid:
        return visitors
    if visitors == "":
        return eio_sid
    if isinstance(visitors, str):
        visitors = {visitors}
    visitors.add(eio_sid)
    if len(visitors) > 2 * len(sockets) + 64:  # forget closed sessions, amortised
        visitors = {known for known in visitors if known in sockets}
    return visitors


def holding(visitors: Visitors, sockets: dict[str, Any]) -> list[Any]:
    """The Engine.IO sockets of ``sockets`` that may hold data of the namespace."""
    if visitors is None:
        return list(sockets.values())
    known = (visitors,) if isinstance(visitors, str) else visitors
    return [sockets[eio_sid] for eio_sid in known if eio_sid in sockets]
