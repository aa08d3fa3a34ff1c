"""The polling transport: a session's POST bodies and long-poll responses, rewritten.

A POST body is read (within the client's limit), its packets rewritten and
replayed to the server with a fixed ``Content-Length``; a GET's 200 response is
held back until its payload is rewritten, and compressed here if the server
would have compressed it. The common POST and GET take bytes fast paths and
cost no coroutine of their own.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any

from engineio import packet as eio_packet
from engineio import payload as eio_payload

from ._asgi import ASGIApp, Message, Receive, Scope, Send, header_name, read_body, reject, without
from ._compression import COMPRESS, DECOMPRESS, compress, content_encoding
from ._session import Connect, Session

__all__ = ["get", "max_packets", "post", "rewrite_payload", "take_body_limit"]

logger = logging.getLogger("dynamic_io_asgi")

#: Engine.IO packets no client sends in a polling POST: OPEN, PING, NOOP. python-engineio
#: answers each by closing the session and then waiting, inside that POST, for a GET to
#: drain the session's queue; without one the request and the session hang for ever
#: (a closing session has no ping timeout). So they are dropped here.
_NOT_FROM_POLLING_CLIENTS = ("0", "2", "6")


#: What answers a long-poll GET still pending when the client CLOSEs its session.
_NOOP = eio_packet.Packet(eio_packet.NOOP)


#: Where the server's own ``max_http_buffer_size`` is kept once a middleware took it over.
_MAX_HTTP_BUFFER_SIZE = "dynamic_io_asgi_max_http_buffer_size"
#: How much rewriting may add to one packet: ``//`` and a host of 253 characters, ``/,``,
#: and base64's third more for a msgpack packet, rounded up.
_GROWTH_PER_PACKET = 512


def take_body_limit(eio: Any) -> int:
    """Take the server's ``max_http_buffer_size`` over; the limit for clients.

    Rewriting adds a host's prefix to each packet, and python-engineio checks
    its limit against what it is given: a body that fits before rewriting
    would not fit after, and python-engineio would close the session (and
    hold the POST). So the middleware checks the client's bytes against the
    server's limit, and the server's limit grows by what rewriting can add to
    the packets it reads (16 a payload)."""
    limit = int(getattr(eio, _MAX_HTTP_BUFFER_SIZE, eio.max_http_buffer_size))
    setattr(eio, _MAX_HTTP_BUFFER_SIZE, limit)
    eio.max_http_buffer_size = limit + max_packets() * _GROWTH_PER_PACKET
    return limit


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
    if text.count("\x1e") >= max_packets():
        # More packets than python-engineio reads: it counts them before it
        # reads any, and drops the payload, so nothing of it is worth a setup
        # (a POST of 90,000 CONNECTs would run 90,000), nor a split here. It
        # gets the body as the client sent it, and answers as without the middleware.
        await app(scope, _Replay(_body_message(body), receive).receive, send)
        return
    packets = text.split("\x1e") if text else []
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
    headers, _ = without(scope["headers"], b"content-length")
    headers.append((b"content-length", b"%d" % length))
    return {**scope, "headers": headers}


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
        encoding = None if original[:1] in _PAYLOAD_STARTS else content_encoding(start)
        if encoding is None:
            body = rewrite_payload(self.session, original)
            if self.compression and len(body) >= self.eio.compression_threshold:
                body, encoding = compress(self.eio, body, self.scope)
        else:
            if encoding not in DECOMPRESS:
                logger.error("cannot rewrite a polling response with Content-Encoding %s", encoding)
                await reject(
                    self.scope, self.receive, self.respond, "Internal Server Error", status=500
                )
                return
            plain = DECOMPRESS[encoding](original)
            body = rewrite_payload(self.session, plain)
            body = original if body is plain else COMPRESS[encoding](body)
        send = self.respond
        if body is original and chunks is None:
            await send(start)
            await send(message)
            return
        if encoding or b"content-length" in map(bytes.lower, map(header_name, start["headers"])):
            # python-engineio sets no Content-Length (the server then sends the
            # body chunked), but a middleware inside this one may have.
            headers, _ = without(start["headers"], b"content-length")
            if encoding:
                headers, _ = without(headers, b"content-encoding")
                headers.append((b"content-encoding", encoding.encode()))
            headers.append((b"content-length", b"%d" % len(body)))
            start = {**start, "headers": headers}
        await send(start)
        await send({"type": "http.response.body", "body": body})


#: How an Engine.IO polling payload starts: a packet type, or ``b`` (base64 binary).
_PAYLOAD_STARTS = frozenset([b"0", b"1", b"2", b"3", b"4", b"5", b"6", b"b"])


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
