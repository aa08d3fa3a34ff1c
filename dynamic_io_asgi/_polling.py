"""The polling transport's POST side: a session's POST bodies, rewritten.

A POST body is read (within the client's limit), its packets rewritten and
replayed to the server with a fixed ``Content-Length``. The common POST takes a
bytes fast path and costs no coroutine of its own. (The GET side is
:mod:`._longpoll`.)
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any

from engineio import packet as eio_packet
from engineio import payload as eio_payload

from ._asgi import ASGIApp, Message, Receive, Scope, Send, read_body, reject, without
from ._session import Session
from ._wire import Connect

__all__ = ["max_packets", "post", "take_body_limit"]

logger = logging.getLogger("dynamic_io_asgi")

#: Engine.IO packets no client sends in a polling POST: OPEN, PING, NOOP. python-engineio
#: answers each by closing the session and then waiting, inside that POST, for a GET to
#: drain the session's queue; without one the request and the session hang for ever
#: (a closing session has no ping timeout). So they are dropped here.
_NOT_FROM_POLLING_CLIENTS = ("0", "2", "6")


#: Repeated max_packets() times: one packet more (all empty) than python-engineio reads.
_DROPPED_BODY = b"\x1e"

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
    text, refusal = _read_text(body)
    if body is None or text is None:
        await reject(scope, receive, send, refusal, status=413 if body is None else 400)
        return
    if text.count("\x1e") >= max_packets():
        # More packets than python-engineio reads: it drops the payload unread
        # (after splitting all of it), so nothing of it is worth a setup (a POST of
        # 90,000 CONNECTs would run 90,000), nor a split anywhere. It gets the
        # smallest body it drops the same way, and answers as it would have.
        dropped = _DROPPED_BODY * max_packets()
        scope = _with_new_content_length(scope, len(dropped))
        await app(scope, _Replay(_body_message(dropped), receive).receive, send)
        return
    packets = text.split("\x1e") if text else []
    kept, closing, waited = await _rewritten(session, packets)
    if kept != packets:
        body = "\x1e".join(kept).encode("utf-8")
        if len(body) > sio.eio.max_http_buffer_size:
            # Only a limit changed since the middleware took it over can do
            # this; python-engineio would close the session and hold the POST.
            await reject(scope, receive, send, "Payload too large", status=413)
            return
        scope = _with_new_content_length(scope, len(body))
    if waited and session.eio_sid is not None and not session.is_open():
        # The session closed while a CONNECT waited for its setup (the
        # client's CLOSE, say): python-engineio would raise on this POST.
        await reject(scope, receive, send, "Session is closed")
        return
    eio_socket = sio.eio.sockets.get(session.eio_sid) if closing and session.eio_sid else None
    await app(scope, _Replay(_body_message(body), receive).receive, send)
    if eio_socket is not None and eio_socket.closed and not eio_socket.upgraded:
        # A client that sent CLOSE still has a long-poll GET pending, which
        # python-engineio leaves waiting for ping_interval + ping_timeout
        # (it holds the client's disconnect and the server's shutdown):
        # answer it now with a NOOP, as the JS engine.io server does.
        eio_socket.queue.put_nowait(_NOOP)


def _read_text(body: bytes | None) -> tuple[str | None, str]:
    """The text of a POST body, or ``None`` and why it is refused."""
    if body is None:
        return None, "Payload too large"
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None, "Body is not UTF-8"
    if text[:2] == "d=":
        return None, "JSONP is not supported"
    return text, ""


async def _rewritten(session: Session, packets: list[str]) -> tuple[list[str], bool, bool]:
    """The packets of a payload that go on to the server, rewritten; whether one is
    CLOSE; whether a CONNECT was decided (which may have waited for a setup)."""
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
    return kept, closing, waited


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
