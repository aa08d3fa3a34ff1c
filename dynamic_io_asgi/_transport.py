"""The Engine.IO requests of a session: polling bodies and websocket messages, rewritten.

The middleware hands each request here with the session's :class:`Session`,
which rewrites the packets; these functions do the ASGI side: read and replay
request bodies, hold a polling response back until its payload is rewritten,
fix ``Content-Length``, and compress what python-engineio would have.
"""

from __future__ import annotations

import gzip
import logging
import operator
import sys
import zlib
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

from engineio import packet as eio_packet
from engineio import payload as eio_payload

from ._session import Connect, Session

logger = logging.getLogger("dynamic_io_asgi")

__all__ = ["get", "post", "read_query", "reject", "ws_receive", "ws_send"]

Scope = MutableMapping[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Engine.IO packets no client sends in a polling POST: OPEN, PING, NOOP. python-engineio
#: answers each by closing the session and then waiting, inside that POST, for a GET to
#: drain the session's queue; without one the request and the session hang for ever
#: (a closing session has no ping timeout). So they are dropped here.
_NOT_FROM_POLLING_CLIENTS = ("0", "2", "6")


#: What answers a long-poll GET still pending when the client CLOSEs its session.
_NOOP = eio_packet.Packet(eio_packet.NOOP)


def read_query(query_string: bytes) -> tuple[str | None, bool]:
    """``(sid, jsonp)`` of an Engine.IO request, read as python-engineio reads them
    (``parse_qs`` of the UTF-8 query: blank values dropped, the first ``sid`` wins)."""
    try:
        text = query_string.decode("ascii")
    except UnicodeDecodeError:
        try:
            text = query_string.decode("utf-8")
        except UnicodeDecodeError:
            return None, False  # python-engineio ignores such a query string too
    else:
        # The fast path, for a query with nothing to unquote and no ``j``:
        # the value of the first ``sid`` if it has one (``str`` methods only;
        # ``bytes in bytes`` raises and swallows a TypeError in CPython).
        if "%" not in text and "+" not in text and "j=" not in text:
            sid = ("&" + text).partition("&sid=")[2].partition("&")[0]
            if sid:
                return sid, False
            if "sid=" not in text:
                return None, False
    query = parse_qs(text)
    return query.get("sid", [None])[0], "j" in query


def ws_receive(session: Session, receive: Receive) -> Receive:
    """``receive`` for the app: the client's websocket messages, rewritten."""
    # The common message, an EVENT/ACK/DISCONNECT on a named namespace, takes
    # Session.inbound_text's fast path inlined here (tests/test_session.py
    # checks that they agree): at every message a Python call and a dict
    # count. The dict is rewritten in place: the server made it for the app.
    starts, server_prefix = session.inbound_fast
    limit = session.max_payload or sys.maxsize

    async def wrapped() -> Message:
        message = await receive()
        text = message.get("text")
        if text is not None and text.startswith(starts) and text[3:4] != "/" and len(text) <= limit:
            if server_prefix:
                message["text"] = text.replace("/", server_prefix, 1)
            return message
        return await _ws_received(session, receive, message)

    return wrapped


async def _ws_received(session: Session, receive: Receive, message: Message) -> Message:
    """The general way of :func:`ws_receive`: ``message`` rewritten, or, if it
    is dropped, the next one that is not."""
    limit = session.max_payload or sys.maxsize
    while True:
        # Only a websocket.receive carries "text" or "bytes".
        text = message.get("text")
        data = message.get("bytes") if text is None else None
        if len(text if text is not None else data or b"") > limit:
            # Over the client's limit: python-engineio closes the connection for
            # that ("packet is too large"), but it reads a larger limit now (the
            # middleware's rewriting needs room), so the connection ends here.
            return {"type": "websocket.disconnect", "code": 1009}
        if text is not None:
            rewritten: Any = session.inbound_text(text)
            if rewritten is text:
                return message
            key = "text"
        else:
            if data is None:
                return message
            rewritten = session.inbound_binary(data)
            if rewritten is data:
                return message
            key = "bytes"
        if type(rewritten) is Connect:
            rewritten = await session.connect(rewritten)
        if rewritten is not None:
            return {"type": "websocket.receive", key: rewritten}
        if text and text[0] in _UNREADABLE_TYPES:
            # Not an Engine.IO packet at all: the connection ends, as the
            # reference server ends it (python-engineio's websocket handler
            # would die of the ValueError, an unhandled exception).
            return {"type": "websocket.disconnect", "code": 1002}
        message = await receive()


#: First characters of a websocket text frame that python-engineio can't read as a packet
#: type (``int()`` raises). (Not ``b``, nor any digit, ASCII or not.)
_UNREADABLE_TYPES = frozenset(
    chr(c) for c in range(32, 127) if not chr(c).isdigit() and chr(c) != "b"
)


def ws_send(session: Session, send: Send) -> Send:
    """``send`` for the app: the server's websocket messages, rewritten.

    A plain function returning ``send``'s awaitable: no coroutine of its own
    per message. The common message takes Session.outbound_text's fast path,
    inlined, and is rewritten in place: python-engineio makes a new dict per
    message (and Starlette's middleware edit messages in place too)."""
    starts, at, after, not_next, prefix = session.outbound_fast

    def wrapped(message: Message) -> Awaitable[None]:
        text = message.get("text")
        if text is not None and text.startswith(starts) and text[at:after] not in not_next:
            if prefix:
                message["text"] = text.replace(prefix, "", 1)
            return send(message)
        # Only a websocket.send carries "text" or "bytes".
        if text is not None:
            rewritten: Any = session.outbound_text(text)
            if rewritten is text:
                return send(message)
            key = "text"
        else:
            data = message.get("bytes")
            if data is None:
                return send(message)
            rewritten = session.outbound_binary(data)
            if rewritten is data:
                return send(message)
            key = "bytes"
        if rewritten is None:
            return _nothing()  # another host's packet, or one of its attachments
        return send({"type": "websocket.send", key: rewritten})

    return wrapped


async def _nothing() -> None:
    """What ``send`` returns for a message it drops."""


def post(
    app: ASGIApp,
    sio: Any,
    session: Session,
    scope: Scope,
    receive: Receive,
    send: Send,
    message: Message,
) -> Awaitable[None]:
    """A polling POST whose first message is ``message``: the client's packets,
    rewritten, with a fixed Content-Length.

    The common POST, one ordinary packet in one message, costs no coroutine of
    its own: this returns the app's awaitable. Anything else goes the general way."""
    # (Only an http.request carries a body: any other message goes the general way.)
    if not message.get("more_body"):
        body = message.get("body", b"")
        rewritten = session.inbound_body(body)
        if rewritten is None:
            rewritten = _one_packet(session, body)
        if (
            rewritten is not None
            and len(body) <= (session.max_payload or sio.eio.max_http_buffer_size)
            and len(rewritten) <= sio.eio.max_http_buffer_size
        ):
            if rewritten is body:
                return app(scope, _Replay(message, receive).receive, send)
            fixed = _with_content_length(scope, len(body), len(rewritten))
            if fixed is not None:
                message["body"] = rewritten  # the server made the message for us
                return app(fixed, _Replay(message, receive).receive, send)
    return _post(app, sio, session, scope, receive, send, message)


def _one_packet(session: Session, body: bytes) -> bytes | None:
    """A POST body of one packet that needs no decision (no CONNECT, nothing to
    drop), rewritten; ``None`` for any other body. The fast path for the packets
    that :meth:`Session.inbound_body` leaves alone (on the namespace ``/``, say)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if text and "\x1e" not in text and text[:1] not in _NOT_FAST:
        rewritten = session.inbound_text(text)
        if rewritten is text:
            return body
        if type(rewritten) is str:
            return rewritten.encode("utf-8")
    return None


#: First characters of a POST body that the fast path leaves to the general one: the
#: packets no polling client sends, CLOSE, and JSONP's ``d=``.
_NOT_FAST = frozenset(["0", "1", "2", "6", "d"])


class _Replay:
    """The app's ``receive`` (the bound :meth:`receive`, which is cheaper to call
    than an instance): the (rewritten) request body once, then the client's messages."""

    __slots__ = ("message", "client")

    def __init__(self, message: Message, client: Receive) -> None:
        self.message: Message | None = message
        self.client = client

    async def receive(self) -> Message:
        message = self.message
        if message is None:
            return await self.client()
        self.message = None
        return message


async def _post(
    app: ASGIApp,
    sio: Any,
    session: Session,
    scope: Scope,
    receive: Receive,
    send: Send,
    message: Message,
) -> None:
    """The general POST: a body in several messages or too large, JSONP, several
    packets, a CONNECT to decide, packets to drop, or the client's CLOSE."""
    limit = session.max_payload or sio.eio.max_http_buffer_size
    body = await read_body(message, receive, limit)
    if body is None:
        await reject(scope, receive, send, "Payload too large", status=413)
        return
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        await reject(scope, receive, send, "Body is not UTF-8")
        return
    if text[:2] == "d=":
        await reject(scope, receive, send, "JSONP is not supported")
        return
    packets = text.split("\x1e") if text else []
    if len(packets) > max_packets():
        # python-engineio counts the packets before it reads any, and drops a
        # payload of more than it reads: so nothing of it is worth a setup (a
        # POST of 90,000 CONNECTs would run 90,000). It gets the body as the
        # client sent it, and answers as it would without the middleware.
        await app(scope, _Replay(_body_message(body), receive).receive, send)
        return
    kept: list[str] = []
    closing = waited = False
    for packet in packets:
        if packet[:1] in _NOT_FROM_POLLING_CLIENTS:
            continue
        rewritten: Any = session.inbound_text(packet)
        if type(rewritten) is Connect:
            rewritten = await session.connect(rewritten)
            waited = True
        if rewritten is not None:
            kept.append(rewritten)
            closing = closing or rewritten[:1] == "1"
    if kept != packets:
        body = "\x1e".join(kept).encode("utf-8")
        if len(body) > sio.eio.max_http_buffer_size:
            # Only a limit changed since the middleware took it over can do
            # this; python-engineio would close the session and hold the POST.
            await reject(scope, receive, send, "Payload too large", status=413)
            return
        scope = _with_new_content_length(scope, len(body))
    if waited and session.eio_sid is not None:
        current = sio.eio.sockets.get(session.eio_sid)
        if current is None or current.closed:
            # The session closed while a CONNECT waited for its setup (the
            # client's CLOSE, say): python-engineio would raise on this POST.
            await reject(scope, receive, send, "Session is closed")
            return
    replay = _Replay(_body_message(body), receive).receive
    eio_socket = sio.eio.sockets.get(session.eio_sid) if closing and session.eio_sid else None
    await app(scope, replay, send)
    if eio_socket is not None and eio_socket.closed and not eio_socket.upgraded:
        # A client that sent CLOSE still has a long-poll GET pending, which
        # python-engineio leaves waiting for ping_interval + ping_timeout
        # (it holds the client's disconnect and the server's shutdown):
        # answer it now with a NOOP, as the JS engine.io server does.
        eio_socket.queue.put_nowait(_NOOP)


def _body_message(body: bytes) -> Message:
    return {"type": "http.request", "body": body, "more_body": False}


def max_packets() -> int:
    """How many packets python-engineio reads from one polling payload (16)."""
    limit: int = eio_payload.Payload.max_decode_packets
    return limit


def _with_content_length(scope: Scope, old: int, new: int) -> Scope | None:
    """A copy of ``scope`` whose Content-Length ``old`` reads ``new``: the
    common case, one Content-Length as ASGI servers give it (lower case, the
    body's length; they refuse a request with two), found in one C call;
    ``None`` for any other headers."""
    headers = scope["headers"]
    try:
        index = headers.index((b"content-length", b"%d" % old))
    except (AttributeError, ValueError):  # not a list or tuple, or no such header
        return None
    headers = list(headers)
    headers[index] = (b"content-length", b"%d" % new)
    scope = dict(scope)
    scope["headers"] = headers
    return scope


def _with_new_content_length(scope: Scope, length: int) -> Scope:
    """A copy of ``scope`` with one Content-Length, ``length``, whatever it had."""
    headers, _ = _without(scope["headers"], b"content-length")
    headers.append((b"content-length", b"%d" % length))
    return {**scope, "headers": headers}


def _without(headers: Iterable[Any], name: bytes) -> tuple[list[Any], list[bytes]]:
    """A copy of ``headers`` without those called ``name`` (in any case), and their values."""
    headers = list(headers)
    names = _names(headers)
    count = names.count(name)
    if count == 0:
        return headers, []
    if count == 1:
        return headers, [headers.pop(names.index(name))[1]]
    pairs = list(zip(headers, names, strict=True))
    values = [header[1] for header, lowered in pairs if lowered == name]
    return [header for header, lowered in pairs if lowered != name], values


def _names(headers: list[Any]) -> list[bytes]:
    """The names of ``headers``, in lower case.

    This runs for polling requests, so the common case loops in C only: ASGI
    servers give names in lower case, and a check of them all at once is cheaper
    than lowering each."""
    names = list(map(_first, headers))
    joined = b"\n".join(names)
    if joined.islower():
        return names
    lowered = joined.lower().split(b"\n")
    return lowered if len(lowered) == len(names) else [name.lower() for name in names]


def get(
    app: ASGIApp,
    sio: Any,
    session: Session,
    scope: Scope,
    receive: Receive,
    send: Send,
    compression: bool,
) -> Awaitable[None]:
    """A polling GET: the server's packets, rewritten, and compressed here if
    ``compression`` (the server's ``http_compression``, which the middleware
    takes over: python-engineio would compress before the packets could be read).

    A plain function returning the app's awaitable, and an object rather than
    a closure for ``send``: this runs for every long-poll."""
    held = _HeldResponse(sio.eio, session, scope, receive, send, compression)
    return app(scope, receive, held.send)


class _HeldResponse:
    """The app's ``send`` for a polling GET (the bound :meth:`send`): holds a 200
    response back until its payload is rewritten."""

    __slots__ = ("eio", "session", "scope", "receive", "respond", "compression", "start", "chunks")

    def __init__(
        self,
        eio: Any,
        session: Session,
        scope: Scope,
        receive: Receive,
        send: Send,
        compression: bool,
    ) -> None:
        self.eio = eio
        self.session = session
        self.scope = scope
        self.receive = receive
        self.respond = send  # the server's send
        self.compression = compression
        self.start: Message | None = None
        self.chunks: list[bytes] | None = None

    async def send(self, message: Message) -> None:
        start = self.start
        if start is None:  # nothing held back (yet)
            if message["type"] == "http.response.start" and message["status"] == 200:
                self.start = message
                return
            await self.respond(message)
            return
        if (
            message["type"] == "http.response.body"
            and self.chunks is None
            and not message.get("more_body")
        ):
            # The common response, one packet in one message, sent as it is
            # or rewritten by the bytes fast path.
            original = message.get("body", b"")
            body = self.session.outbound_body(original)
            if body is not None and not (
                self.compression and len(body) >= self.eio.compression_threshold
            ):
                send = self.respond
                if body is original:
                    await send(start)
                    await send(message)
                    return
                # python-engineio sets no Content-Length (the server then sends
                # the body chunked), but a middleware inside this one may have.
                # (A loop with a length test is the cheapest check of a few headers.)
                for name, _ in start["headers"]:
                    if len(name) == 14 and name.lower() == b"content-length":
                        break
                else:
                    await send(start)
                    message["body"] = body  # python-engineio made it for this response
                    await send(message)
                    return
        await self._respond(start, message)

    async def _respond(self, start: Message, message: Message) -> None:
        """The general response: any payload, in any number of messages, compressed or not."""
        if message["type"] != "http.response.body":
            await self.respond(message)
            return
        chunks = self.chunks
        if message.get("more_body"):
            if chunks is None:
                chunks = self.chunks = []
            chunks.append(message.get("body", b""))
            return
        if chunks is None:
            original = message.get("body", b"")
        else:
            chunks.append(message.get("body", b""))
            original = b"".join(chunks)
        # A payload starts with a packet type; anything else may be compressed
        # (by a compressing middleware inside this one, say).
        encoding = None if original[:1] in _PAYLOAD_STARTS else _content_encoding(start)
        if encoding is None:
            body = rewrite_payload(self.session, original)
            if self.compression and len(body) >= self.eio.compression_threshold:
                body, encoding = compress(self.eio, body, self.scope)
        else:
            if encoding not in _DECOMPRESS:
                logger.error("cannot rewrite a polling response with Content-Encoding %s", encoding)
                await reject(
                    self.scope, self.receive, self.respond, "Internal Server Error", status=500
                )
                return
            plain = _DECOMPRESS[encoding](original)
            body = rewrite_payload(self.session, plain)
            body = original if body is plain else _COMPRESS[encoding](body)
        send = self.respond
        if body is original and chunks is None:
            await send(start)
            await send(message)
            return
        if encoding or b"content-length" in map(bytes.lower, map(_first, start["headers"])):
            # python-engineio sets no Content-Length (the server then sends the
            # body chunked), but a middleware inside this one may have.
            headers, _ = _without(start["headers"], b"content-length")
            if encoding:
                headers, _ = _without(headers, b"content-encoding")
                headers.append((b"content-encoding", encoding.encode()))
            headers.append((b"content-length", b"%d" % len(body)))
            start = {**start, "headers": headers}
        await send(start)
        await send({"type": "http.response.body", "body": body})


_first = operator.itemgetter(0)
#: How an Engine.IO polling payload starts: a packet type, or ``b`` (base64 binary).
_PAYLOAD_STARTS = frozenset([b"0", b"1", b"2", b"3", b"4", b"5", b"6", b"b"])
_DECOMPRESS: dict[str | None, Callable[[bytes], bytes]] = {
    "gzip": gzip.decompress,
    "deflate": zlib.decompress,
}
_COMPRESS: dict[str | None, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress,
    "deflate": zlib.compress,
}


def _content_encoding(start: Message) -> str | None:
    """The response's Content-Encoding, ``None`` for none or ``identity``."""
    _, values = _without(start.get("headers", ()), b"content-encoding")
    encoding = b",".join(values).decode("latin-1").strip().lower()
    return None if encoding in ("", "identity") else encoding


def rewrite_payload(session: Session, body: bytes) -> bytes:
    """The polling payload ``body`` for the client: ``body`` itself if unchanged."""
    text = body.decode("utf-8")
    if "\x1e" not in text:  # one packet, the common case
        rewritten = session.outbound_text(text)
        if rewritten is text:
            return body
        # An empty payload would be a parse error for the client: send a NOOP.
        return b"6" if rewritten is None else rewritten.encode("utf-8")
    packets = text.split("\x1e")
    kept = []
    for packet in packets:
        rewritten = session.outbound_text(packet)
        if rewritten is not None:
            kept.append(rewritten)
    if kept == packets:
        return body
    return "\x1e".join(kept).encode("utf-8") if kept else b"6"


def compress(eio: Any, body: bytes, scope: Scope) -> tuple[bytes, str | None]:
    """``body`` compressed as python-engineio would: with its methods, in the
    order of the request's ``Accept-Encoding``."""
    _, accepted = _without(scope["headers"], b"accept-encoding")
    for encoding in b",".join(accepted).decode("latin-1").split(","):
        encoding = encoding.split(";")[0].strip()
        if encoding in eio.compression_methods and encoding in _COMPRESS:
            return _COMPRESS[encoding](body), encoding
    return body, None


async def read_body(message: Message, receive: Receive, limit: int) -> bytes | None:
    """The whole request body, from its first message ``message`` on, or ``None``
    once it passes ``limit`` bytes."""
    chunks = []
    size = 0
    while message["type"] == "http.request":
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            break
        message = await receive()
    return b"".join(chunks)


async def reject(
    scope: Scope, receive: Receive, send: Send, reason: str, *, status: int = 400
) -> None:
    """Refuse a request before python-socketio sees it: a plain-text HTTP error,
    or a websocket closed before it was accepted."""
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.close", "code": 1008, "reason": reason[:120]})
        return
    body = reason.encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
