"""The handlers of the namespaces a setup made, kept as cheaply as can be.

python-socketio looks up ``sio.handlers[namespace][event]`` for every packet. A
namespace's entry there is a :class:`HandlerTable`: its ``connect`` and
``disconnect`` are the namespace's own (they keep the retirement informed), every
other event goes to the handlers its setup registered. Those are kept in an
:class:`Events` table shared by every namespace that registered the same handlers
(setups that pass the same functions to ``on()``), so the handlers of 100,000
namespaces cost one table, not 100,000. A table is never changed once shared:
:func:`with_handler` returns another.
"""

from __future__ import annotations

import weakref
from typing import Any, Protocol

__all__ = ["Events", "HandlerTable", "NO_EVENTS", "with_handler"]


class Events(dict[str, Any]):
    """Event name -> handler (for ``connect`` and ``disconnect``: ``(handler, flag)``);
    shared, so never changed in place."""

    __slots__ = ("__weakref__",)


#: The tables in use, by their items (a table goes when no namespace has it).
_SHARED: weakref.WeakValueDictionary[tuple[tuple[str, Any], ...], Events] = (
    weakref.WeakValueDictionary()
)

NO_EVENTS = Events()


def with_handler(events: Events, event: str, handler: Any) -> Events:
    """The table of ``events`` with ``handler`` for ``event``: shared with every other
    namespace that has the same handlers, when they can be compared."""
    table = Events(events)
    table[event] = handler
    key = tuple(table.items())
    try:
        shared = _SHARED.get(key)
    except TypeError:  # an unhashable handler: a table of its own
        return table
    if shared is None:
        _SHARED[key] = shared = table
    return shared


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
