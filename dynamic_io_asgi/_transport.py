"""The Engine.IO requests of a session: polling bodies and websocket messages, rewritten.

The middleware hands each request here with the session's :class:`Session`,
which rewrites the packets; these functions do the ASGI side: read and replay
request bodies, hold a polling response back until its payload is rewritten,
fix ``Content-Length``, and compress what python-engineio would have.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

from ._session import Connect, Session

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


def read_query(query_string: bytes) -> tuple[str | None, bool]:
    """``(sid, jsonp)`` of an Engine.IO request, read as python-engineio reads them
    (``parse_qs`` of the UTF-8 query: blank values dropped, the first ``sid`` wins)."""
    try:
        text = query_string.decode("utf-8")
    except UnicodeDecodeError:
        return None, False  # python-engineio ignores such a query string too
    if "%" in text or "+" in text:
        query = parse_qs(text)
        return query.get("sid", [None])[0], "j" in query
    sid = None
    jsonp = False
    for pair in text.split("&"):
        key, _, value = pair.partition("=")
        if not value:
            continue
        if key == "sid":
            if sid is None:
                sid = value
        elif key == "j":
            jsonp = True
    return sid, jsonp


def ws_receive(session: Session, receive: Receive) -> Receive:
    """``receive`` for the app: the client's websocket messages, rewritten."""

    async def wrapped() -> Message:
        while True:
            message = await receive()
            if message["type"] != "websocket.receive":
                return message
            text = message.get("text")
            if text is not None:
                key, original = "text", text
                rewritten: Any = session.inbound_text(text)
            else:
                key, original = "bytes", message.get("bytes")
                if original is None:
                    return message
                rewritten = session.inbound_binary(original)
            if type(rewritten) is Connect:
                rewritten = await session.connect(rewritten)
            if rewritten is None:
                continue
            if rewritten is not original:
                message = {"type": "websocket.receive", key: rewritten}
            return message

    return wrapped


def ws_send(session: Session, send: Send) -> Send:
    """``send`` for the app: the server's websocket messages, rewritten."""

    async def wrapped(message: Message) -> None:
        if message["type"] == "websocket.send":
            text = message.get("text")
            if text is not None:
                key, original = "text", text
                rewritten: Any = session.outbound_text(text)
            else:
                key, original = "bytes", message.get("bytes")
                rewritten = None if original is None else session.outbound_binary(original)
            if rewritten is None:
                if original is not None:
                    return  # another host's packet, or one of its attachments
            elif rewritten is not original:
                message = {"type": "websocket.send", key: rewritten}
        await send(message)

    return wrapped


async def post(
    app: ASGIApp, sio: Any, session: Session, scope: Scope, receive: Receive, send: Send
) -> None:
    """A polling POST: the client's packets, rewritten, with a fixed Content-Length."""
    limit = sio.eio.max_http_buffer_size
    body = await read_body(receive, limit)
    if body is None:
        await reject(scope, receive, send, "Payload too large", status=413)
        return
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        await reject(scope, receive, send, "Body is not UTF-8")
        return
    if text.startswith("d="):
        await reject(scope, receive, send, "JSONP is not supported")
        return
    if text:
        packets = text.split("\x1e")
        kept: list[str] = []
        for packet in packets:
            if packet[:1] in _NOT_FROM_POLLING_CLIENTS:
                continue
            rewritten: Any = session.inbound_text(packet)
            if type(rewritten) is Connect:
                rewritten = await session.connect(rewritten)
            if rewritten is not None:
                kept.append(rewritten)
        if kept != packets:
            body = "\x1e".join(kept).encode("utf-8")
            headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            scope = {**scope, "headers": headers}
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    eio_socket = sio.eio.sockets.get(session.eio_sid) if session.eio_sid else None
    await app(scope, replay, send)
    if eio_socket is not None and eio_socket.closed and not eio_socket.upgraded:
        # A client that sent CLOSE still has a long-poll GET pending, which
        # python-engineio leaves waiting for ping_interval + ping_timeout
        # (it holds the client's disconnect and the server's shutdown):
        # answer it now, as the JS engine.io server does.
        eio_socket.queue.put_nowait(None)


async def get(
    app: ASGIApp, sio: Any, session: Session, scope: Scope, receive: Receive, send: Send
) -> None:
    """A polling GET: the server's packets, rewritten, compressed here if at all."""
    # Engine.IO would compress before we could read the packets: take the
    # client's Accept-Encoding away from it and compress the result here.
    accepted: list[str] = []
    headers = []
    for key, value in scope["headers"]:
        if key.lower() == b"accept-encoding":
            accepted += [e.split(";")[0].strip() for e in value.decode("latin-1").split(",")]
        else:
            headers.append((key, value))
    start: Message | None = None
    chunks: list[bytes] = []

    async def wrapped(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start" and message["status"] == 200:
            start = message
            return
        if message["type"] != "http.response.body" or start is None:
            await send(message)
            return
        chunks.append(message.get("body", b""))
        if message.get("more_body"):
            return
        original = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        body = rewrite_payload(session, original)
        body, encoding = compress(sio.eio, body, accepted)
        if body is original:  # python-engineio sets no Content-Length
            await send(start)
            await send(message)
            return
        response_headers = [
            (k, v)
            for k, v in start["headers"]
            if k.lower() not in (b"content-length", b"content-encoding")
        ]
        if encoding:
            response_headers.append((b"content-encoding", encoding.encode()))
        response_headers.append((b"content-length", str(len(body)).encode()))
        await send({**start, "headers": response_headers})
        await send({"type": "http.response.body", "body": body})

    await app({**scope, "headers": headers}, receive, wrapped)


def rewrite_payload(session: Session, body: bytes) -> bytes:
    """The polling payload ``body`` for the client: ``body`` itself if unchanged."""
    packets = body.decode("utf-8").split("\x1e")
    kept = []
    for packet in packets:
        rewritten = session.outbound_text(packet)
        if rewritten is not None:
            kept.append(rewritten)
    if kept == packets:
        return body
    # An empty payload would be a parse error for the client: send a NOOP.
    return "\x1e".join(kept).encode("utf-8") if kept else b"6"


def compress(eio: Any, body: bytes, accepted: list[str]) -> tuple[bytes, str | None]:
    """``body`` compressed as python-engineio would (its settings, the client's choice)."""
    if not eio.http_compression or len(body) < eio.compression_threshold:
        return body, None
    for encoding in accepted:
        if encoding in eio.compression_methods:
            if encoding == "gzip":
                return gzip.compress(body), encoding
            if encoding == "deflate":
                return zlib.compress(body), encoding
    return body, None


async def read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or ``None`` once it passes ``limit`` bytes."""
    chunks = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            break
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
