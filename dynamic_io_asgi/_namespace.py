"""The namespace object handed to setup callbacks and returned by ``of()``."""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, NamedTuple, Protocol

import socketio

from . import _visitors
from ._handlers import NO_EVENTS, Events, HandlerTable, share
from ._hosts import split_fullname
from ._retirement import IdleClock
from ._scoped import ScopedAPI
from ._session import session_of
from ._signatures import accepts_auth, call
from ._tasks import log_raised

__all__ = ["DynamicNamespace", "NamespaceClosed", "Setup", "full_match"]

logger = logging.getLogger("dynamic_io_asgi")

RetireCallback = Callable[["DynamicNamespace"], "Awaitable[None] | None"]


class Owner(Protocol):
    """What a namespace needs of the registry that keeps it."""

    sio: socketio.AsyncServer

    def watch(self, nsp: DynamicNamespace) -> None:
        """Have the retirement task look at ``nsp`` (it changed)."""

    async def retire(self, nsp: DynamicNamespace, *, disconnect: bool = False) -> None:
        """Delete ``nsp`` now (disconnecting its sockets first with ``disconnect``)."""


_NONE = (None, True)  # no connect (disconnect) handler


def full_match(full: str) -> re.Match[str]:
    """The match an exact name gives its setup: all of ``full``."""
    match = re.match(re.escape(full), full)
    assert match is not None
    return match


class Setup(NamedTuple):
    """One ``setup_namespace()`` registration, kept by each namespace it set up."""

    #: The pattern as the status page shows it: ``"*"``, the exact name, or the regex source.
    label: str
    #: The regex searched in the full name; ``None`` for an exact name (matched whole).
    regex: re.Pattern[str] | None
    #: ``callback(nsp, match)``.
    callback: Callable[..., Any]


#: What a connect handler raises to refuse a CONNECT with a message of its own.
_REFUSALS = (socketio.exceptions.ConnectionRefusedError, ConnectionRefusedError)


class NamespaceClosed(RuntimeError):
    """A :class:`DynamicNamespace` was used after it retired or was closed.

    A later CONNECT to its name makes a new object: look it up again with
    ``app.namespaces`` or ``await app.of(name, host)``."""


class DynamicNamespace(IdleClock, HandlerTable, ScopedAPI):
    """One namespace of one host, as python-socketio knows it by :attr:`fullname`.

    Every method that takes a namespace in python-socketio is here without
    it, scoped to this namespace. Handlers registered with :meth:`on` live in
    the wrapped server's handler table under :attr:`fullname` while the
    namespace exists, and leave with it when it retires: the namespace is that
    entry itself (``event in nsp``, ``nsp[event]``, as python-socketio asks).
    """

    # Slots: a server may hold 100,000 of these, so it is one object: its own idle
    # clock (the IdleClock slots) and its own entry in python-socketio's handler
    # table. (``__dict__`` for what the application sets on one, and for the rarely
    # set below.)
    __slots__ = (
        *("fullname", "created_at", "_setup", "_server", "_retirement", "_events"),
        *("_setting_up", "_eio_sids", "_closed", "__dict__"),
    )
    #: Whether the application registered this name on the server directly.
    static = False
    # Rarely set, so not slots: an instance attribute once set.
    _class_handler: socketio.AsyncNamespace | None = None
    _retire_callbacks: tuple[RetireCallback, ...] | list[RetireCallback] = ()
    _retiring: asyncio.Future[None] | None = None  # being deleted

    def __init__(
        self,
        server: Owner,
        fullname: str,
        setup: Setup | None,
        *,
        static: bool = False,
    ) -> None:
        #: The name inside python-socketio: ``"//host" + name``, or ``name`` on the main host.
        #: (The only copy of the name: :attr:`name` and :attr:`host` are cut from it.)
        self.fullname = fullname
        if static:
            self.static = True  # (a few: the application's own)
        #: Wall-clock creation time (``time.time()``).
        self.created_at = time.time()
        IdleClock.__init__(self)
        self._setup = setup  # what set it up (None: nothing)
        self._server = server
        self._retirement = math.inf
        self._setting_up = False  # its setup callback is running
        # The Engine.IO sessions that ever connected here (see _visitors).
        self._eio_sids: _visitors.Visitors = ""
        self._closed = False  # retired or closed: no longer on the server
        # Its handlers (see _handlers); a static namespace's are python-socketio's own.
        self._events: Events = server.sio.handlers.setdefault(fullname, {}) if static else NO_EVENTS

    def __repr__(self) -> str:
        return f"<DynamicNamespace {self.fullname!r}>"

    @property
    def name(self) -> str:
        """The name the client uses (``"/chat"``)."""
        return split_fullname(self.fullname)[0]

    @property
    def host(self) -> str | None:
        """The host this namespace belongs to; ``None`` on the main host."""
        return split_fullname(self.fullname)[1]

    @property
    def pattern(self) -> str | None:
        """The pattern that set this namespace up (``None``: none did): ``"*"``, the exact
        name, or the regex source."""
        return None if self._setup is None else self._setup.label

    @property
    def match(self) -> re.Match[str]:
        """The ``re.Match`` of the setup pattern (of the whole name for exact names), as
        the setup got it: found again each time, not kept (a server may hold 100,000)."""
        regex = None if self._setup is None else self._setup.regex
        found = None if regex is None else regex.search(self.fullname)
        return full_match(self.fullname) if found is None else found

    @property
    def _installed(self) -> bool:
        """Whether it is on the server: python-socketio's handler table holds it."""
        return self.sio.handlers.get(self.fullname) is self

    @property
    def clock(self) -> IdleClock:
        """Its idle clock, read by the retirement task: the namespace itself (one
        object, not two, per namespace)."""
        return self

    @property
    def sio(self) -> socketio.AsyncServer:
        """The wrapped python-socketio server."""
        return self._server.sio

    @property
    def retirement(self) -> float:
        """Seconds this namespace stays once empty; ``math.inf``: for ever."""
        return self._retirement

    @retirement.setter
    def retirement(self, value: float | None) -> None:
        value = math.inf if value is None else float(value)
        if math.isnan(value) or value < 0:
            raise ValueError(f"retirement must be >= 0 seconds or None, not {value!r}")
        if self.static and value != math.inf:
            raise ValueError(
                f"{self.fullname!r} is static (registered on the server): it can't retire"
            )
        self._retirement = value
        self._server.watch(self)

    @property
    def sockets(self) -> list[str]:
        """The sids of the sockets connected to this namespace (in this process)."""
        return list(self.sio.manager.rooms.get(self.fullname, {}).get(None, {}))

    # -- handlers -----------------------------------------------------------------

    def register(
        self, namespace_class: type[socketio.AsyncNamespace] | socketio.AsyncNamespace
    ) -> socketio.AsyncNamespace:
        """Attach class-based handlers: an ``AsyncNamespace`` subclass, instantiated for
        :attr:`fullname`, or an instance created with that name."""
        if isinstance(namespace_class, type):
            if not issubclass(namespace_class, socketio.AsyncNamespace):
                raise TypeError("register() takes a socketio.AsyncNamespace subclass")
            instance = namespace_class(self.fullname)
        elif isinstance(namespace_class, socketio.AsyncNamespace):
            instance = namespace_class
            if instance.namespace != self.fullname:
                raise ValueError(
                    f"the AsyncNamespace instance is for {instance.namespace!r}, "
                    f"not {self.fullname!r}: pass the class instead"
                )
        else:
            raise TypeError("register() takes a socketio.AsyncNamespace subclass")
        self._class_handler = instance
        if self._installed or self.static:
            self.sio.register_namespace(instance)
        return instance

    def on_retire(self, callback: RetireCallback) -> RetireCallback:
        """Run ``callback(nsp)`` (sync or async) once, when this namespace is deleted."""
        if isinstance(self._retire_callbacks, tuple):
            self._retire_callbacks = []
        self._retire_callbacks.append(callback)
        return callback

    async def _on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> Any:
        # Installed as the server's connect handler for fullname: the server
        # calls it after pre_connect, so from here on the socket is visible in
        # manager.rooms and the namespace counts as occupied.
        self.arrived()
        session = session_of(environ)
        if session is None:
            self._eio_sids = None  # not a session of ours: walk them all at the end
        else:
            admitted = session.admitted
            if self.fullname in admitted:
                admitted[self.fullname] = None  # it reached the server
            eio_sid = session.eio_sid
            if eio_sid is not None:
                self._eio_sids = _visitors.add(self._eio_sids, eio_sid, self.sio.eio.sockets)
        result = None
        connect, with_auth = self._events.get("connect", _NONE)
        try:
            if connect is not None:
                args = (sid, environ, auth) if with_auth else (sid, environ)
                result = await call(connect, *args)
            elif self._class_handler is not None:
                handler = getattr(self._class_handler, "on_connect", None)
                with_auth = handler is None or accepts_auth(handler)
                args = (sid, environ, auth) if with_auth else (sid, environ)
                result = await self._class_handler.trigger_event("connect", *args)
        except BaseException as exc:
            self._server.watch(self)  # refused: python-socketio removes the socket now
            if not isinstance(exc, Exception) or isinstance(exc, _REFUSALS):
                raise  # python-socketio answers a refusal with its message
            # python-socketio would let it through, leaving the socket half
            # connected (the client hears nothing, the namespace never empties).
            handler = connect or self._class_handler
            log_raised(handler, "connect handler of %s raised: connection refused", self.fullname)
            raise socketio.exceptions.ConnectionRefusedError() from None
        if result is False:
            self._server.watch(self)
        return result

    async def _on_disconnect(self, sid: str, reason: Any = None) -> None:
        # Installed as the server's disconnect handler for fullname: one that
        # raised would stop python-socketio before it removes the socket,
        # pinning the namespace for ever.
        disconnect, with_reason = self._events.get("disconnect", _NONE)
        try:
            if disconnect is not None:
                args = (sid, reason) if with_reason else (sid,)
                await call(disconnect, *args)
            elif self._class_handler is not None:
                await self._class_handler.trigger_event("disconnect", sid, reason)
        except Exception:
            handler = disconnect or self._class_handler
            log_raised(handler, "disconnect handler of %s raised", self.fullname)
        finally:
            # It may be empty once this socket is gone: python-socketio removes the
            # socket as this returns, with no await in between.
            self._server.watch(self)

    def _install(self, shared: dict[Hashable, Events]) -> None:
        # The handlers its setup registered: the same table as the last namespace
        # of that setup's, when equal (see _handlers).
        self._events = share(shared, self._setup, self._events)
        self.sio.handlers[self.fullname] = self  # see __getitem__
        if self._class_handler is not None:
            self.sio.register_namespace(self._class_handler)

    def _uninstall(self) -> None:
        sio = self.sio
        if sio.handlers.get(self.fullname) is self:
            del sio.handlers[self.fullname]
        if self._class_handler is not None:
            if sio.namespace_handlers.get(self.fullname) is self._class_handler:
                del sio.namespace_handlers[self.fullname]
        # The Engine.IO sessions that connected here may hold session data of it.
        sockets = sio.eio.sockets
        table = sio.manager.rooms.get(self.fullname)
        members = table.get(None, {}) if table is not None else {}
        if table is not None and not any(eio_sid in sockets for _, eio_sid in members.items()):
            # No socket of an open session: the registry's table for a CONNECT, or
            # what python-socketio left of a session closed during its CONNECT.
            del sio.manager.rooms[self.fullname]
        for eio_socket in _visitors.holding(self._eio_sids, sockets):
            eio_socket.session.pop(self.fullname, None)
        self._eio_sids = ""

    @property
    def closed(self) -> bool:
        """Whether this namespace retired or was closed (then its methods raise
        :class:`NamespaceClosed`)."""
        return self._closed

    def _live(self) -> str:
        """:attr:`fullname`, or :class:`NamespaceClosed` once this namespace is gone."""
        if self._closed:
            raise NamespaceClosed(
                f"namespace {self.fullname!r} has retired or was closed; a new CONNECT"
                " makes a new namespace object (see app.namespaces)"
            )
        return self.fullname

    async def close(self) -> None:
        """Disconnect every socket of this namespace (their disconnect handlers run)
        and delete it now, running its ``on_retire`` callbacks."""
        if self.static:
            raise ValueError(
                f"{self.fullname!r} is static (registered on the server): it can't close"
            )
        await self._server.retire(self, disconnect=True)
