"""The handlers of the namespaces a setup made, kept as cheaply as can be.

python-socketio looks up ``sio.handlers[namespace][event]`` for every packet. A
namespace's entry there is the namespace itself (``DynamicNamespace.__getitem__``):
its ``connect`` and ``disconnect`` are its own (they keep the retirement informed),
every other event goes to the handlers its setup registered. Those are kept in an
event table that the namespaces one setup made share while it registers the same
handlers (setups that pass the same functions to ``on()``): the handlers of
100,000 namespaces cost one table, not 100,000. A table is never changed in
place, shared or not: :func:`with_handler` returns another.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

__all__ = ["Events", "NO_EVENTS", "share", "with_handler"]

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
