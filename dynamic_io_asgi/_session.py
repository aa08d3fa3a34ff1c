"""One Engine.IO session seen through the middleware: its host and its packets.

Engine.IO framing (``engineio/packet.py``, ``payload.py``), as the wrapped
server reads it: a packet is a type digit and its data; ``4`` (MESSAGE)
carries one Socket.IO packet. Binary messages are raw websocket frames, or
``b`` + base64 inside a polling payload (and, if a client sends it, inside a
websocket text frame: the server decodes those too). Polling payloads join
packets with ``\\x1e``. The server JSON-decodes a MESSAGE whose data does not
start with a numeric character, so such messages are dropped rather than
guessed at.
"""

from __future__ import annotations

import base64
import json
import logging
from typing import Any, TypeVar

from . import _packets
from ._packets import (
    CONNECT,
    CONNECT_ERROR,
    b64,
    decodes,
    has_data,
    is_utf8,
    text_to_server,
    to_client,
)
from ._spellings import InboundFast, OutboundFast, spellings
from ._wire import INVALID_NAMESPACE, MARK_BINARY, MARK_TEXT, Connect, Wire

__all__ = ["InboundFast", "OutboundFast", "Session", "SESSION_KEY", "session_of"]

logger = logging.getLogger("dynamic_io_asgi")

#: The key of a session's :class:`Session` in the ASGI scope of its handshake.
SESSION_KEY = "dynamic_io_asgi.session"


def session_of(environ: dict[str, Any]) -> Session | None:
    """The :class:`Session` of an Engine.IO session, from its handshake environ.

    python-engineio keeps the ASGI scope of each session's handshake request in
    its environ (``environ["asgi.scope"]``), which python-socketio keeps as
    ``sio.environ[eio_sid]`` and hands to connect handlers; the middleware put
    the session there."""
    session: Session | None = environ.get("asgi.scope", {}).get(SESSION_KEY)
    return session


T = TypeVar("T", str, bytes)


# Socket.IO types that never carry binary attachments, except CONNECT, which
# has to wait for its namespace: the fast paths handle only these.
_PLAIN_TYPES = frozenset("1234")


class Session:
    """The host of one Engine.IO session and the state of its packet streams."""

    __slots__ = (
        "host",
        "prefix",
        "eio_sid",
        "msgpack",
        "known",
        "names",
        "inbound_fast",
        "outbound_fast",
        "max_payload",
        "admitted",
        "connect_tokens",
        "_fast",
        "_skip",
        "_wire",
    )

    def __init__(self, host: str | None, wire: Wire, *, known: bool = True) -> None:
        #: The session's host; ``None`` for the main host.
        self.host = host
        self.eio_sid: str | None = None
        self.msgpack = wire.msgpack
        #: False for a ``sid`` the middleware has no record of: no message passes.
        self.known = known
        # The fast paths take text packets of a known session.
        self._fast = known and not wire.msgpack
        #: How this host's names are spelt (shared by the host's sessions).
        self.names = names = spellings(host, self._fast)
        #: ``"//host"``: what the server's names of this session start with.
        self.prefix = names.prefix
        #: The fast paths of :meth:`inbound_text` and :meth:`outbound_text`, for a
        #: caller that inlines them (see :class:`InboundFast`, :class:`OutboundFast`).
        self.inbound_fast: InboundFast = names.inbound
        self.outbound_fast: OutboundFast = names.outbound
        self.max_payload = wire.max_payload
        self._skip = 0  # binary attachments still to drop (their header was dropped)
        self._wire = wire
        #: The full names of this session's admitted CONNECTs, for
        #: ``max_namespaces_per_session``: the (monotonic) time of each while it
        #: is on its way to the server, ``None`` once the server has it.
        self.admitted: dict[str, float | None] = {}
        #: ``(tokens, when)`` of the session's bucket for ``max_connects_per_second``.
        self.connect_tokens: tuple[float, float | None] = (0.0, None)

    @classmethod
    def unknown(cls, eio_sid: str, wire: Wire) -> Session:
        """A session for a ``sid`` the middleware has no record of (not one of its
        sessions, or one that is closing): Engine.IO answers for itself, and no
        Socket.IO message passes either way."""
        session = cls(None, wire, known=False)
        session.eio_sid = eio_sid
        return session

    # -- client to server ----------------------------------------------------------
    #
    # Synchronous, so that the common packet costs no coroutine: only a CONNECT
    # has to wait (for its namespace to be set up), and comes back as a
    # ``Connect`` for the caller to ``await session.connect(...)``.

    def inbound_text(self, packet: str) -> str | Connect | None:
        """Rewrite one Engine.IO text packet from the client; ``None`` drops it."""
        # The fastest path: an EVENT/ACK/DISCONNECT on a named namespace, with
        # no attachment count and no ack id before the name, the common packet
        # (C calls only). The general path reads it the same way
        # (tests/test_session.py checks).
        starts, server_prefix = self.inbound_fast
        if packet.startswith(starts) and packet[3:4] != "/":
            # not "//": no other host's name. "42/chat,..." -> "42//host/chat,...":
            # the first "/" is the name's.
            return packet.replace("/", server_prefix, 1) if server_prefix else packet
        kind = packet[:1]
        if kind == "4":
            if not self._fast:
                return None
            # Fast path: as above, on the client's "/".
            if packet[1:2] in _PLAIN_TYPES:
                third = packet[2:3]
                if third and third != "/" and not third.isdigit():  # no namespace: "/"
                    if self.prefix is None:
                        return packet
                    return packet[:2] + self.prefix + "/," + packet[2:]
            return self._inbound_socketio(packet)
        if kind == "b":
            if not self.msgpack:
                return packet if self.known else None  # an attachment: no namespace in it
            try:
                data = base64.b64decode(packet[1:], validate=True)
            except ValueError:  # binascii.Error, or a character that is not ASCII
                return None
            rewritten = self.inbound_binary(data)
            if rewritten is None or rewritten is data:
                return None if rewritten is None else packet
            if isinstance(rewritten, Connect):
                return Connect(rewritten.namespace, b64(rewritten.packet), rewritten.error)
            return b64(rewritten)
        if kind and kind in "012356":
            return packet
        return None  # empty, or a type only int() would read (say, a non-ASCII digit)

    def inbound_body(self, body: bytes) -> bytes | None:
        """The fast path of a polling POST: ``body`` rewritten if it is one
        EVENT/ACK/DISCONNECT on a named namespace (the common body), as
        :meth:`inbound_text` would rewrite it; ``None`` for any other body.

        Bytes in, bytes out: no decoding, and C calls only for an ASCII body."""
        names = self.names
        if (
            body.startswith(names.inbound_starts_bytes)
            and body[3:4] != b"/"
            and body.find(b"\x1e") < 0
            and (body.isascii() or is_utf8(body))
        ):
            prefix = names.server_prefix_bytes
            return body.replace(b"/", prefix, 1) if prefix else body
        return None

    def inbound_binary(self, data: bytes) -> bytes | Connect | None:
        """Rewrite one binary message from the client; ``None`` drops it."""
        if not self.msgpack:
            return data if self.known else None
        if not self.known:
            return None
        try:
            packet_type, namespace, rewritten = _packets.msgpack_to_server(data, self.prefix)
        except ValueError:
            return None
        return self._check(packet_type, namespace, rewritten)

    def _inbound_socketio(self, message: str) -> str | Connect | None:
        # ``message`` is "4" + a Socket.IO packet. The server JSON-decodes the
        # data of a MESSAGE that does not start with a numeric character; a
        # client has no business sending that.
        packet = message[1:]
        if not packet[:1].isnumeric():
            return None
        try:
            packet_type, namespace, rewritten = text_to_server(packet, self.prefix)
        except ValueError:
            return None  # the server would not decode it either
        if packet_type == CONNECT and has_data(packet) and not decodes(packet):
            # A CONNECT the server could not read (say, broken auth JSON) would
            # hold its namespace as "connecting" for a while: drop it here.
            return None
        if self.prefix is None and packet_type != CONNECT and not namespace.startswith("//"):
            return message  # the main host's packet, as it came
        return self._check(packet_type, namespace, "4" + rewritten)

    def _check(self, packet_type: int, namespace: str, rewritten: T) -> T | Connect | None:
        if namespace.startswith("//"):
            # Another host's name (or ours, spelt in full): never from a client.
            if packet_type == CONNECT:
                return Connect(namespace, rewritten, INVALID_NAMESPACE)
            return None
        if packet_type == CONNECT:
            return Connect(namespace, rewritten, None)
        return rewritten

    async def connect(self, request: Connect) -> Any:
        """Decide a CONNECT: its packet to forward, or ``None`` once refused (the
        client is sent a CONNECT_ERROR, in its own name of the namespace)."""
        error = await self._wire.admit(self, request.namespace)
        # The session's own refusal stands whatever the registry says: a
        # client never names another host's namespace.
        error = error or request.error
        if error is None:
            # Not for a session that closed while the CONNECT waited: python-socketio
            # would half connect it and leave its socket behind.
            return request.packet if self.is_open() else None
        await self._send_connect_error(request.namespace, error)
        return None

    def is_open(self) -> bool:
        """Whether the Engine.IO session is still open."""
        return self._wire.is_open(self.eio_sid)

    async def _send_connect_error(self, name: str, error_args: dict[str, Any]) -> None:
        wire = self._wire
        if self.eio_sid is None or wire.send is None:
            return
        encoded = wire.packet_class(CONNECT_ERROR, data=error_args, namespace=name).encode()
        marked = MARK_BINARY + encoded if isinstance(encoded, bytes) else MARK_TEXT + encoded
        try:
            await wire.send(self.eio_sid, marked)
        except Exception:  # the session went away meanwhile
            logger.debug("could not refuse %s on %s", name, self.eio_sid, exc_info=True)

    # -- server to client ----------------------------------------------------------

    def outbound_text(self, packet: str) -> str | None:
        """Rewrite one Engine.IO text packet for the client; ``None`` drops it."""
        # Fast paths, as in inbound_text: no attachment count, and the namespace
        # (if any) right after the type: on the main host any name but another
        # host's; on another, "//host/" and at least one character of the name,
        # the client's name being what follows the prefix.
        starts, at, after, not_next, prefix = self.outbound_fast
        if packet.startswith(starts) and packet[at:after] not in not_next:
            return packet.replace(prefix, "", 1) if prefix else packet
        kind = packet[:1]
        if kind == "4":
            if self._fast and not prefix and packet[1:2] in _PLAIN_TYPES:
                third = packet[2:3]
                if third and third != "/" and not third.isdigit():  # the main host's "/"
                    return packet
            return self._outbound_socketio(packet)
        if kind == "b":
            if not self.msgpack and self.known:
                if self._skip:  # an attachment of a dropped packet
                    self._skip -= 1
                    return None
                return packet
            try:
                binary = base64.b64decode(packet[1:])
            except ValueError:  # binascii.Error, or a character that is not ASCII
                return None
            rewritten_binary = self.outbound_binary(binary)
            if rewritten_binary is None:
                return None
            if rewritten_binary is binary:
                return packet
            return "b" + base64.b64encode(rewritten_binary).decode()
        if kind == "0" and self.eio_sid is None:
            self.eio_sid = json.loads(packet[1:])["sid"]
            if self._wire.open_fix is not None:
                return packet.replace(*self._wire.open_fix, 1)
        return packet

    def outbound_body(self, body: bytes) -> bytes | None:
        """The fast path of a polling response: ``body`` rewritten if it is one
        EVENT/ACK/DISCONNECT on one of this session's named namespaces, as
        :meth:`outbound_text` would rewrite it; ``None`` for any other body."""
        names = self.names
        if body.startswith(names.outbound_starts_bytes) and body.find(b"\x1e") < 0:
            at = names.outbound.at
            if body[at : at + 1] not in names.outbound_not_bytes:
                prefix = names.prefix_bytes
                return body.replace(prefix, b"", 1) if prefix else body
        return None

    def _outbound_socketio(self, packet: str) -> str | None:
        # The general path: ``packet`` is "4" + a Socket.IO packet from the server.
        data = packet[1:]
        if data[:1] == MARK_TEXT:
            return "4" + data[1:]
        if not self.known or self.msgpack:
            return None
        rewritten, attachments = to_client(data, self.prefix)
        if rewritten is None:
            self._skip += attachments
            return None
        return packet if rewritten is data else "4" + rewritten

    def outbound_binary(self, data: bytes) -> bytes | None:
        """Rewrite one binary message for the client; ``None`` drops it."""
        # Only msgpack packets can carry the mark: a binary attachment of the
        # default serializer is the application's bytes, and may start with 0xc1.
        if self.msgpack and data[:1] == MARK_BINARY:
            return data[1:]
        if not self.known:
            return None
        if not self.msgpack:
            if self._skip:
                self._skip -= 1
                return None
            return data
        return _packets.msgpack_to_client(data, self.prefix)
