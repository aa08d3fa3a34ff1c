"""The handlers of the namespaces a setup made, kept as cheaply as can be.

python-socketio looks up ``sio.handlers[namespace][event]`` for every packet. A
namespace's entry there is a :class:`HandlerTable`: its ``connect`` and
``disconnect`` are the namespace's own (they keep the retirement informed), every
other event goes to the handlers its setup registered. Those are kept in an
event table that the namespaces one setup made share while it registers the same
handlers (setups that pass the same functions to ``on()``): the handlers of
100,000 namespaces cost one table, not 100,000. A table is never changed in
place, shared or not: :func:`with_handler` returns another.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, Protocol

__all__ = ["Events", "HandlerTable", "NO_EVENTS", "share", "with_handler"]

#: Event name -> handler (for ``connect`` and ``disconnect``: ``(handler, flag)``).
Events = dict[str, Any]

NO_EVENTS: Events = {}


def with_handler(events: Events, event: str, handler: Any) -> Events:
    """A copy of ``events`` with ``handler`` for ``event``."""
    table = dict(events)
    table[event] = handler
    return table


def share(last: dict[Hashable, Events], key: Hashable, events: Events) -> Events:
    """``events``, or the equal table that ``last[key]`` holds (the last one the same
    setup made, say), which then becomes ``events``'s."""
    shared = last.get(key)
    if shared is not None and (shared is events or shared == events):
        return shared
    last[key] = events
    return events


class Owner(Protocol):
    """What a table needs of its namespace."""

    _events: Events

    async def _on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> Any: ...

    async def _on_disconnect(self, sid: str, reason: Any = None) -> None: ...

    def on(self, event: str, handler: Any = None) -> Any: ...


class HandlerTable:
    """``sio.handlers[fullname]`` of a namespace a setup made: python-socketio asks it
    whether it has a handler for an event (``in``) and for the handler (``[]``)."""

    __slots__ = ("nsp",)

    def __init__(self, nsp: Owner) -> None:
        self.nsp = nsp

    def __contains__(self, event: object) -> bool:
        return event == "connect" or event == "disconnect" or event in self.nsp._events

    def __getitem__(self, event: str) -> Any:
        if event == "connect":
            return self.nsp._on_connect
        if event == "disconnect":
            return self.nsp._on_disconnect
        return self.nsp._events[event]

    def __setitem__(self, event: str, handler: Any) -> None:
        # sio.on(event, handler, namespace=fullname) on a live namespace.
        self.nsp.on(event, handler)

    def __repr__(self) -> str:
        return f"<HandlerTable of {self.nsp!r}>"
