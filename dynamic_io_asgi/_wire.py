"""What the sessions of one middleware share (:class:`Wire`), and the values
that pass between a session and the registry: a held-back CONNECT and the
marks of packets the middleware itself queues."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, NamedTuple

from socketio.packet import Packet

__all__ = [
    "Admit",
    "Connect",
    "Wire",
    "MARK_TEXT",
    "MARK_BINARY",
    "INVALID_NAMESPACE",
    "is_open",
    "on_session_closed",
]

#: Prefixes of packets the middleware itself queues for a client (already in
#: the client's form). Socket.IO text packets start with a digit and msgpack
#: never uses the byte 0xc1, so neither can come from the server. (Binary
#: attachments of the default serializer can start with anything: the binary
#: mark is only read on msgpack sessions, the only ones the middleware sends
#: binary packets to.)
MARK_TEXT = "\x00"
MARK_BINARY = b"\xc1"

INVALID_NAMESPACE = {"message": "Invalid namespace"}


class Connect(NamedTuple):
    """A client's CONNECT, held back until :meth:`Session.connect` decides it."""

    namespace: str  # as the client wrote it
    packet: Any  # the Engine.IO packet to forward if admitted (server form)
    error: dict[str, Any] | None  # already refused by the session, with these error args


#: ``admit(session, client_namespace) -> error args or None``: decides a CONNECT.
Admit = Callable[[Any, str], Awaitable["dict[str, Any] | None"]]


@dataclass(frozen=True, slots=True)
class Wire:
    """What every session of one middleware shares: who decides its CONNECTs, how
    a refusal reaches the client, and the limits on what a client sends."""

    #: Decides a CONNECT (the middleware's registry).
    admit: Admit
    #: ``send(eio_sid, packet)``: queues an Engine.IO message (``sio.eio.send``).
    send: Callable[[str, Any], Awaitable[None]] | None = None
    #: The server's Socket.IO packet class, which encodes a CONNECT_ERROR.
    packet_class: type = Packet
    #: Whether the server's serializer is msgpack.
    msgpack: bool = False
    #: The most characters (websocket) or bytes (polling) a client may send in
    #: one message or body, before rewriting; ``None``: the server's own limit.
    max_payload: int | None = None
    #: ``is_open(eio_sid)``: whether the Engine.IO session is still open.
    is_open: Callable[[str | None], bool] = lambda eio_sid: True
    #: ``(server's, client's)``: the OPEN packet's "maxPayload" as the server
    #: writes it and as the client must read it (the middleware took the
    #: server's limit over, see _polling.take_body_limit).
    open_fix: tuple[str, str] | None = None

    @classmethod
    def of_server(
        cls,
        sio: Any,
        *,
        admit: Admit,
        msgpack: bool,
        max_payload: int,
    ) -> Wire:
        """The wire of the sessions of the server ``sio``, whose Engine.IO body limit
        the middleware took over as ``max_payload``."""
        eio = sio.eio
        return cls(
            admit=admit,
            send=eio.send,
            packet_class=sio.packet_class,
            msgpack=msgpack,
            max_payload=max_payload,
            is_open=partial(is_open, eio),
            open_fix=(f'"maxPayload":{eio.max_http_buffer_size}', f'"maxPayload":{max_payload}'),
        )


def is_open(eio: Any, eio_sid: str | None) -> bool:
    """Whether the Engine.IO session ``eio_sid`` of the server ``eio`` is open (not
    closed, nor closing: python-socketio is then disconnecting its namespaces)."""
    eio_socket = eio.sockets.get(eio_sid)  # looked up each time: disconnect() replaces it
    return eio_socket is not None and not eio_socket.closed and not eio_socket.closing


#: Marks an Engine.IO server whose disconnect handler a middleware wrapped.
_WRAPPED = "dynamic_io_asgi_on_close"


def on_session_closed(sio: Any, callback: Callable[[Any], None]) -> None:
    """Call ``callback(environ)`` once python-socketio has handled the end of an Engine.IO
    session (its handshake environ: see ``session_of``)."""
    eio = sio.eio
    handle = eio.handlers["disconnect"]
    handle = getattr(handle, _WRAPPED, handle)  # a middleware made again: the server's own

    async def disconnected(eio_sid: str, *args: Any) -> Any:
        environ = sio.environ.get(eio_sid)  # python-socketio forgets it as it returns
        try:
            return await handle(eio_sid, *args)
        finally:
            if environ is not None:
                callback(environ)

    setattr(disconnected, _WRAPPED, handle)
    eio.handlers["disconnect"] = disconnected
