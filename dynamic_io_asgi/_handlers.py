"""The handlers of a namespace, kept as cheaply as can be.

python-socketio looks up ``sio.handlers[namespace][event]`` for every packet. A
namespace's entry there is the namespace itself, through :class:`HandlerTable`:
its ``connect`` and ``disconnect`` are its own (they keep the retirement
informed), every other event goes to the handlers its setup registered with
``on()``. Those are kept in an event table that the namespaces one setup made
share while it registers the same handlers (setups that pass the same functions
to ``on()``): the handlers of 100,000 namespaces cost one table, not 100,000. A
table that may be shared is never changed in place: :func:`with_handler` returns
another.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from functools import partial
from typing import Any, TypeVar

from ._signatures import accepts_auth, takes

__all__ = ["Events", "HandlerTable", "NO_EVENTS", "share", "with_handler"]

F = TypeVar("F", bound=Callable[..., Any])

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


class HandlerTable:
    """The namespace as ``sio.handlers[fullname]``: python-socketio asks it whether it
    has a handler for an event (``in``) and for the handler (``[]``); :meth:`on`
    registers one. (A mixin of ``DynamicNamespace``, which has the attributes.)"""

    __slots__ = ()

    static: bool
    _events: Events
    _setting_up: bool

    async def _on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> Any:
        raise NotImplementedError

    async def _on_disconnect(self, sid: str, reason: Any = None) -> None:
        raise NotImplementedError

    def on(self, event: str, handler: F | None = None) -> Any:
        """Register an event handler, as ``sio.on(event, handler, namespace=fullname)``.

        Usable as a decorator. ``connect`` handlers may take ``(sid, environ, auth)``
        or ``(sid, environ)``; returning ``False`` refuses the connection.
        """
        if handler is None:
            return partial(self.on, event)
        # No closure made at each call: setups call on() for every namespace.
        events = self._events
        if self.static:
            events[event] = handler  # python-socketio's own table
            return handler
        value: Any = handler
        if event == "connect":
            value = (handler, accepts_auth(handler))
        elif event == "disconnect":
            value = (handler, takes(handler, 2))
        if self._setting_up and events is not NO_EVENTS:
            events[event] = value  # its own while its setup runs (then see share)
        else:
            # It may be shared. (A slot of the class this is mixed into.)
            self._events = with_handler(events, event, value)  # type: ignore[misc]
        return handler

    def event(self, handler: F) -> F:
        """Decorator: register ``handler`` for the event named after the function."""
        result: F = self.on(handler.__name__, handler)
        return result

    def __contains__(self, event: object) -> bool:
        """Whether it has a handler for ``event`` (python-socketio asks first)."""
        return event == "connect" or event == "disconnect" or event in self._events

    def __getitem__(self, event: str) -> Any:
        """The handler python-socketio calls for ``event``."""
        if event == "connect":
            return self._on_connect
        if event == "disconnect":
            return self._on_disconnect
        return self._events[event]

    def __setitem__(self, event: str, handler: Any) -> None:
        # sio.on(event, handler, namespace=fullname) on a live namespace.
        self.on(event, handler)
