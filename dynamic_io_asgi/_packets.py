"""Socket.IO packet headers: read and rewrite the namespace, nothing else.

Pure functions, no I/O. The text encoding (``socketio/packet.py``) is::

    <type>[<attachments>-][<namespace>,][<ack id>][<json>]

where ``type`` is one character (``int()`` of it, so any Unicode decimal digit
counts), ``<attachments>-`` is recognised for *every* type when the text
before the first ``-`` passes ``str.isdigit``, and a namespace is present only
when the next character is ``/``; it runs to the first ``,`` (or the end) and
everything from ``?`` on is dropped by the server. :func:`parse_header` mirrors
that decoder step by step, so the middleware and python-socketio can never read
one packet two ways. The rewrite is header surgery: type, attachment count,
ack id and JSON are kept byte for byte, and binary attachments never change.

With ``serializer="msgpack"`` every packet is one binary message holding the
map ``{"type", "data", "nsp"[, "id"]}``; there the ``nsp`` value is rewritten.
"""

from __future__ import annotations

import base64

from socketio.packet import Packet

__all__ = [
    "CONNECT",
    "CONNECT_ERROR",
    "BINARY_EVENT",
    "BINARY_ACK",
    "parse_header",
    "client_namespace",
    "to_server",
    "text_to_server",
    "to_client",
    "msgpack_to_server",
    "msgpack_to_client",
    "b64",
    "decodes",
    "has_data",
    "is_utf8",
]

CONNECT, DISCONNECT, EVENT, ACK, CONNECT_ERROR, BINARY_EVENT, BINARY_ACK = range(7)


def parse_header(packet: str) -> tuple[int, int, int, int]:
    """Return ``(type, attachments, ns_start, ns_end)`` of a text packet.

    ``packet[ns_start:ns_end]`` is the namespace as written (``?query``
    included); it is empty when the packet has none (the main ``/``). Raises
    ``ValueError`` exactly where python-socketio's header decoding would.
    """
    packet_type = int(packet[0:1])
    attachments = 0
    pos = 1
    dash = packet.find("-", 1)
    if dash > 1 and packet[1:dash].isdigit():
        if dash > 11:
            raise ValueError("too many attachments")
        attachments = int(packet[1:dash])
        pos = dash + 1
    if packet[pos : pos + 1] != "/":
        return packet_type, attachments, pos, pos
    comma = packet.find(",", pos)
    return packet_type, attachments, pos, len(packet) if comma == -1 else comma


def client_namespace(packet: str, start: int, end: int) -> str:
    """The namespace python-socketio reads from ``packet[start:end]``."""
    if start == end:
        return "/"
    namespace = packet[start:end]
    query = namespace.find("?")
    return namespace if query == -1 else namespace[:query]


def to_server(packet: str, start: int, end: int, prefix: str) -> str:
    """Prefix the namespace of a client packet with ``prefix`` (``"//host"``)."""
    if start == end:
        return packet[:start] + prefix + "/," + packet[start:]
    return packet[:start] + prefix + packet[start:]


def text_to_server(packet: str, prefix: str | None) -> tuple[int, str, str]:
    """Read a text client packet: ``(type, client namespace, server packet)``.

    Raises ``ValueError`` where :func:`parse_header` does. On the main host
    (``prefix`` ``None``) the packet is kept as it is."""
    packet_type, _, start, end = parse_header(packet)
    namespace = client_namespace(packet, start, end)
    if prefix is None:
        return packet_type, namespace, packet
    return packet_type, namespace, to_server(packet, start, end, prefix)


def to_client(packet: str, prefix: str | None) -> tuple[str | None, int]:
    """Rewrite a server packet for a session whose namespaces carry ``prefix``.

    Returns ``(packet, 0)``, or ``(None, n)`` when the packet belongs to another
    host: it must not reach the client, nor must the ``n`` binary attachments
    that follow it. ``prefix`` is ``None`` for the main host, whose sessions
    may receive every name that does not start with ``//``.
    """
    try:
        packet_type, attachments, start, end = parse_header(packet)
    except ValueError:
        return None, 0
    if prefix is None:
        if packet[start : start + 2] != "//":
            return packet, 0
    elif end > start and packet.startswith(prefix, start):
        cut = start + len(prefix)
        if cut == end - 1 and packet[cut] == "/":
            # the host's root: the client's "/" is written with no namespace
            return packet[:start] + packet[end + 1 :], 0
        if packet[cut : cut + 1] == "/":
            return packet[:start] + packet[cut:], 0
    binary = packet_type in (BINARY_EVENT, BINARY_ACK)
    return None, attachments if binary else 0


def msgpack_to_server(packet: bytes, prefix: str | None) -> tuple[int, str, bytes]:
    """Decode a msgpack client packet: ``(type, client namespace, server packet)``.

    Raises ``ValueError`` for anything python-socketio could not decode, and
    for an ``nsp`` that is not a namespace name (a string starting with ``/``).
    """
    import msgpack

    try:
        decoded = msgpack.loads(packet)
        packet_type = decoded["type"]
        namespace = decoded["nsp"]
    except Exception as exc:
        raise ValueError(f"bad msgpack packet: {exc}") from None
    if not isinstance(namespace, str) or not isinstance(packet_type, int):
        raise ValueError("bad msgpack packet: nsp must be a string")
    if not namespace.startswith("/"):
        # Unlike the text decoder, msgpack takes any string: "//a.test" + ".evil/x"
        # would be a namespace of the host a.test.evil.
        raise ValueError("bad msgpack packet: nsp must start with /")
    if prefix is None:
        return packet_type, namespace, packet
    return packet_type, namespace, _with_nsp(packet, prefix + namespace)


def msgpack_to_client(packet: bytes, prefix: str | None) -> bytes | None:
    """The msgpack counterpart of :func:`to_client` (msgpack has no attachments)."""
    import msgpack

    try:
        decoded = msgpack.loads(packet)
        namespace = decoded["nsp"]
    except Exception:
        return None
    if not isinstance(namespace, str):
        return None
    if prefix is None:
        return None if namespace.startswith("//") else packet
    if not namespace.startswith(prefix) or namespace[len(prefix) : len(prefix) + 1] != "/":
        return None
    try:
        return _with_nsp(packet, namespace[len(prefix) :])
    except ValueError:
        return None


def _with_nsp(packet: bytes, nsp: str) -> bytes:
    """``packet`` (a msgpack map that ``msgpack.loads`` reads) with its ``nsp`` value
    replaced, every other byte as it was.

    Not decoded and encoded again: msgpack would write each float32 back as a
    float64, and a packet could grow without bound past the body limit."""
    import msgpack

    unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
    unpacker.feed(packet)
    try:
        count = unpacker.read_map_header()
        parts = [packet[: unpacker.tell()]]
        replaced = 0
        for _ in range(count):
            start = unpacker.tell()
            key = unpacker.unpack()
            middle = unpacker.tell()
            unpacker.skip()
            end = unpacker.tell()
            if key == "nsp":
                parts.append(packet[start:middle] + msgpack.dumps(nsp))
                replaced += 1
            else:
                parts.append(packet[start:end])
    except Exception as exc:
        raise ValueError(f"bad msgpack packet: {exc}") from None
    if replaced != 1 or unpacker.tell() != len(packet):
        # Several "nsp" keys (the decoder keeps the last), or bytes after the map.
        raise ValueError("bad msgpack packet: not one map with one nsp")
    return b"".join(parts)


def decodes(packet: str) -> bool:
    """Whether python-socketio's text decoder reads ``packet`` without an error."""
    try:
        Packet(encoded_packet=packet)
    except Exception:
        return False
    return True


def has_data(connect: str) -> bool:
    """Whether anything (an ack id, auth data) follows a CONNECT's namespace: only
    then can python-socketio's decoder fail on it."""
    if connect == "0":
        return False
    if not connect.startswith("0/"):
        return True
    comma = connect.find(",")  # the end of the namespace
    return comma != -1 and comma != len(connect) - 1


def is_utf8(data: bytes) -> bool:
    """Whether ``data`` is UTF-8."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def b64(data: bytes) -> str:
    """A binary message as a polling payload packet: ``b`` + base64."""
    return "b" + base64.b64encode(data).decode()
