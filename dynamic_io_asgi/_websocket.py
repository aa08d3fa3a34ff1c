"""The websocket transport: each message of a session, rewritten as it passes.

The server's ``receive`` and ``send`` are wrapped once per connection; the
common message (an EVENT or ACK on a named namespace) takes the session's text
fast path, inlined here (tests/test_session.py checks that they agree), and is
rewritten in place.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable
from typing import Any

from ._asgi import Message, Receive, Send
from ._session import Session
from ._wire import Connect

__all__ = ["ws_receive", "ws_send"]


def ws_receive(session: Session, receive: Receive) -> Receive:
    """``receive`` for the app: the client's websocket messages, rewritten."""
    # The common message, an EVENT/ACK/DISCONNECT on a named namespace, takes
    # Session.inbound_text's fast path inlined here (tests/test_session.py
    # checks that they agree): at every message a Python call and a dict
    # count. The dict is rewritten in place: the server made it for the app.
    starts, server_prefix = session.inbound_fast
    limit = session.max_payload or sys.maxsize

    closed = False  # the client sent CLOSE: the connection ends after it

    async def wrapped() -> Message:
        nonlocal closed
        if closed:
            # python-engineio ends the session on a CLOSE but keeps reading the
            # websocket; the reference server closes it, and so does this.
            return _CLIENT_CLOSED
        message = await receive()
        text = message.get("text")
        if text is not None and text.startswith(starts) and text[3:4] != "/" and len(text) <= limit:
            if server_prefix:
                message["text"] = text.replace("/", server_prefix, 1)
            return message
        message = await _ws_received(session, receive, message)
        closed = message.get("text") == "1"
        return message

    return wrapped


_CLIENT_CLOSED: Message = {"type": "websocket.disconnect", "code": 1000}


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
