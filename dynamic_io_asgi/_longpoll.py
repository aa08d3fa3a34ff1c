"""The polling transport's GET side: a long-poll response, held back until its
payload is rewritten, and compressed here if the server would have compressed it.
The common response, one packet in one message, takes a bytes fast path."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any

from ._asgi import ASGIApp, Message, Receive, Scope, Send, header_name, reject, without
from ._compression import COMPRESS, DECOMPRESS, compress, content_encoding
from ._session import Session

__all__ = ["get", "rewrite_payload"]

logger = logging.getLogger("dynamic_io_asgi")


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
