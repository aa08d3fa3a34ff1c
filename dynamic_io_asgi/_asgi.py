"""The ASGI side shared by both transports: the types, one plain-text response,
the query and body readers and header edits. No Socket.IO in here."""

from __future__ import annotations

import inspect
import logging
import operator
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

__all__ = [
    "ASGIApp",
    "authorised",
    "Message",
    "Receive",
    "Scope",
    "Send",
    "header_name",
    "lifespan_receive",
    "read_body",
    "read_query",
    "reject",
    "respond",
    "without",
]

Scope = MutableMapping[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

logger = logging.getLogger("dynamic_io_asgi")

#: The name of a ``(name, value)`` header pair.
header_name = operator.itemgetter(0)


async def respond(
    send: Send,
    status: int,
    body: bytes,
    content_type: str = "text/plain",
    *,
    head: bool = False,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    """A whole HTTP response: ``body`` (none for ``head``), with its length, not cached."""
    headers = [
        (b"content-type", f"{content_type}; charset=utf-8".encode()),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        (b"x-content-type-options", b"nosniff"),
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})


async def authorised(option: Any, scope: Scope, name: str) -> bool:
    """Whether ``option`` (``True`` or a callable ``(scope) -> bool``, maybe async)
    lets this request through; a callable that raises is logged and says no."""
    if option is True:
        return True
    try:
        result = option(scope)
        if inspect.isawaitable(result):
            result = await result
        return bool(result)
    except Exception:
        logger.exception("%s raised: the request is answered 404", name)
        return False


async def reject(
    scope: Scope, receive: Receive, send: Send, reason: str, *, status: int = 400
) -> None:
    """Refuse a request before python-socketio sees it: a plain-text HTTP error,
    or a websocket closed before it was accepted."""
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.close", "code": 1008, "reason": reason[:120]})
        return
    await respond(send, status, reason.encode("utf-8"))


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


def without(headers: Iterable[Any], name: bytes) -> tuple[list[Any], list[bytes]]:
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
    names = list(map(header_name, headers))
    joined = b"\n".join(names)
    if joined.islower():
        return names
    lowered = joined.lower().split(b"\n")
    return lowered if len(lowered) == len(names) else [name.lower() for name in names]


def lifespan_receive(
    receive: Receive, startup: Callable[[], None], shutdown: Callable[[], Awaitable[None]]
) -> Receive:
    """``receive`` for an app's lifespan, calling ``startup()`` when the server says
    ``lifespan.startup`` and awaiting ``shutdown()`` at ``lifespan.shutdown`` (before
    the app hears of each)."""

    async def wrapped() -> Message:
        message = await receive()
        if message["type"] == "lifespan.startup":
            startup()
        elif message["type"] == "lifespan.shutdown":
            await shutdown()
        return message

    return wrapped
