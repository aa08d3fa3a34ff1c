"""Raw HTTP/1.1 and Engine.IO helpers for tests that must control every byte.

Client libraries validate or rewrite what they send (Host headers, JSONP, body
sizes); these helpers write the request bytes as given over
``asyncio.open_connection`` and parse the response by hand.
"""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

TIMEOUT = 20.0
EIO_PATH = "/socket.io/?EIO=4&transport="
RECORD_SEPARATOR = "\x1e"


@dataclass
class RawResponse:
    """A parsed HTTP response: header names lower-cased, body de-chunked."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


def build_request(
    method: str,
    target: str,
    headers: list[tuple[bytes, bytes]],
    body: bytes = b"",
) -> bytes:
    """The bytes of an HTTP/1.1 request; header values are sent exactly as given."""
    head = f"{method} {target} HTTP/1.1\r\n".encode("ascii")
    head += b"".join(name + b": " + value + b"\r\n" for name, value in headers)
    return head + b"\r\n" + body


async def exchange(url: str, request: bytes, *, timeout: float = TIMEOUT) -> RawResponse:
    """Send ``request`` to the server at ``url`` on a new connection; read one response.

    The body is read by ``Content-Length``, by chunks, or to the end of the
    connection, so a server that answers before reading a long request body
    is observed without sending the rest of it.
    """
    parts = urlsplit(url)
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        try:
            writer.write(request)
            await writer.drain()
            return await read_response(reader)
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except ConnectionError:
                pass


async def read_response(reader: asyncio.StreamReader) -> RawResponse:
    """Parse one HTTP/1.1 response from ``reader``."""
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("the server closed the connection without a response")
    status = int(status_line.split()[1])
    headers: dict[str, str] = {}
    while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    if 100 <= status < 200 or status in (204, 304):
        return RawResponse(status, headers)
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        body = await _read_chunked(reader)
    else:
        body = await reader.read()
    return RawResponse(status, headers, body)


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    while True:
        size = int((await reader.readline()).split(b";")[0], 16)
        if size == 0:
            while await reader.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(chunks)
        chunks.append(await reader.readexactly(size))
        await reader.readline()


def open_packet(payload: str) -> dict[str, Any]:
    """The data of the Engine.IO OPEN packet ``0{...}`` (the handshake answer)."""
    assert payload.startswith("0{"), payload
    data: dict[str, Any] = json.loads(payload[1:])
    return data


def split_payload(payload: str) -> list[str]:
    """The Engine.IO packets of a polling payload."""
    return payload.split(RECORD_SEPARATOR)


def socketio_packet(packet: str) -> tuple[str, str, Any]:
    """Split an Engine.IO MESSAGE holding a text Socket.IO packet without attachments:
    ``(type and ack id, namespace, data)``; ``'42/chat,1["e"]'`` gives
    ``("21", "/chat", ["e"])`` (the ack id, if any, follows the type digit)."""
    assert packet.startswith("4"), packet
    body = packet[1:]
    kind, rest = body[0], body[1:]
    namespace = "/"
    if rest.startswith("/"):
        namespace, _, rest = rest.partition(",")
    digits = len(rest) - len(rest.lstrip("0123456789"))
    data = json.loads(rest[digits:]) if rest[digits:] else None
    return kind + rest[:digits], namespace, data


# -- a Socket.IO session over raw Engine.IO polling ---------------------------------------

Message = str | bytes  # the data of one Engine.IO MESSAGE: text, or binary


def engineio_headers(host: bytes | None, *extra: tuple[bytes, bytes]) -> list[tuple[bytes, bytes]]:
    headers = [(b"Host", host)] if host is not None else []
    return [*headers, *extra, (b"Connection", b"close")]


async def polling_handshake(url: str, host: bytes) -> str:
    """Open an Engine.IO session over polling; its sid."""
    request = build_request("GET", EIO_PATH + "polling", engineio_headers(host))
    response = await exchange(url, request)
    assert response.status == 200, response.body
    sid: str = open_packet(response.text)["sid"]
    return sid


async def polling_send(url: str, sid: str, host: bytes, messages: list[Message]) -> RawResponse:
    """POST Engine.IO MESSAGEs (binary ones as ``b`` + base64) to a polling session."""
    body = RECORD_SEPARATOR.join(
        "b" + base64.b64encode(message).decode() if isinstance(message, bytes) else "4" + message
        for message in messages
    ).encode()
    headers = engineio_headers(
        host,
        (b"Content-Type", b"text/plain;charset=UTF-8"),
        (b"Content-Length", str(len(body)).encode()),
    )
    return await exchange(url, build_request("POST", f"{EIO_PATH}polling&sid={sid}", headers, body))


async def polling_receive(url: str, sid: str, host: bytes) -> list[Message]:
    """One polling GET: the MESSAGEs it carried (pings answered, NOOPs skipped)."""
    request = build_request("GET", f"{EIO_PATH}polling&sid={sid}", engineio_headers(host))
    response = await exchange(url, request)
    assert response.status == 200, response.body
    messages: list[Message] = []
    for packet in split_payload(response.text):
        if packet.startswith("b"):
            messages.append(base64.b64decode(packet[1:]))
        elif packet.startswith("4"):
            messages.append(packet[1:])
        elif packet == "2":
            await polling_send_raw(url, sid, host, "3")
    return messages


async def polling_send_raw(url: str, sid: str, host: bytes, payload: str) -> RawResponse:
    body = payload.encode()
    headers = engineio_headers(host, (b"Content-Length", str(len(body)).encode()))
    return await exchange(url, build_request("POST", f"{EIO_PATH}polling&sid={sid}", headers, body))
