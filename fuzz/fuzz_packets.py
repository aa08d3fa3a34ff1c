"""Fuzz target: host parsing, packet headers and the per-session packet streams.

Run it with atheris (``pip install -e '.[fuzz]'``)::

    .venv/bin/python fuzz/fuzz_packets.py fuzz/corpus -max_total_time=600

:func:`check` is the whole target and needs no atheris: the regression tests
replay the corpus and fuzz it with hypothesis through the same function.

Input format, chosen so that seed files are readable and so that every byte
string means something: the first line is the raw Host value (UTF-8), the
second a set of option letters, and each further line one record whose first
character says what the rest of the line is::

    m  msgpack serializer        M  the session is on the main host
    r  every CONNECT is refused   H  the session's host is one of 253 characters,
                                     the longest there is (options)

    w  a websocket text frame from the client     p  a polling POST body from the client
    W  a websocket binary frame from the client   s  a text packet from the server
    S  a binary packet from the server            g  a polling payload from the server
    k  a Socket.IO packet for the pure functions  K  msgpack bytes for the pure functions

Binary records are Python escapes (``\\x0a``) so that they can hold newlines.
The session is on the host of line 1 (``a.test`` if it is refused), unless
``M`` or ``H`` says otherwise.

Properties checked for every input:

- only the documented exceptions escape: ``BadHost`` from ``normalize_host``,
  ``ValueError`` from ``parse_header`` and ``msgpack_to_server``; the session's
  ``Session.connect`` awaits nothing but the admit/send stubs;
- a normalised host is a fixed point, holds no character that python-socketio's
  decoder treats specially, and round-trips through ``fullname``/``split_fullname``;
- ``parse_header`` reads every packet as ``socketio.packet.Packet`` does;
- every client packet the session lets through is read by python-engineio as a
  string and by python-socketio (``Packet``/``MsgPackPacket``) in a namespace
  that starts with the session's ``prefix + "/"`` (on the main host: not with
  ``//``), with type, ack id, attachments and data unchanged, and every
  CONNECT the server reads was admitted under the name the client meant;
- every server packet that reaches the client is of the session's host, in
  the client's short name, and the attachments of a dropped packet never
  reach the client;
- with the default serializer, every binary attachment, the client's or the
  server's, in a websocket binary frame or a polling ``b<base64>`` packet,
  passes byte for byte whatever its first byte (0xC1, the middleware's mark
  on msgpack sessions, included), unless it belongs to a dropped packet: the
  server's packet of another host loses exactly the attachments it announced,
  and the session's own attachment that comes next is not dropped in their
  place (a client's dropped packet may lose its attachments or not: the
  server refuses a stray one, which a client can send anyway); and the first
  attachments of each input are tried with each of the 256 first bytes, both
  ways, on a session that expects none (the middleware marks its own packets
  by their first byte);
- rewriting adds at most ``GROWTH_PER_PACKET`` (512) bytes to any client
  packet (the middleware's ``_GROWTH_PER_PACKET``: ``//``, a host of 253
  characters, ``/,``, base64's third more on msgpack), on any host and with
  either serializer: a websocket frame of at most the client's limit is at
  most that limit + 512 characters (bytes, binary frames) once rewritten, and
  a polling body of at most the limit and at most ``PACKETS_READ`` (16, what
  python-engineio reads of one payload) packets, rewritten packet by packet
  (as ``_post`` does) or by ``Session.inbound_body`` (which must agree), is
  at most the limit + 16 * 512 bytes: what the server's limit grows by.
"""

from __future__ import annotations

import dataclasses
import sys

if __name__ == "__main__":
    # Instrument the package for coverage before anything below imports it.
    import atheris

    with atheris.instrument_imports(include=["dynamic_io_asgi"]):
        import dynamic_io_asgi._session  # noqa: F401

import base64
import codecs
import warnings
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from engineio import packet as eio_packet
from engineio.payload import Payload
from socketio.msgpack_packet import MsgPackPacket
from socketio.packet import Packet

from dynamic_io_asgi._hosts import BadHost, fullname, normalize_host, split_fullname
from dynamic_io_asgi._packets import (
    client_namespace,
    msgpack_to_client,
    msgpack_to_server,
    parse_header,
    to_client,
    to_server,
)
from dynamic_io_asgi._session import Session
from dynamic_io_asgi._wire import MARK_TEXT, Connect, Wire

FALLBACK_HOST = "a.test"
#: Option ``H``: the longest host name there is (253 characters, labels of 63 at most).
LONG_HOST = ".".join(["h" * 63, "o" * 63, "s" * 63, "t" * 61])
#: What rewriting may add to one client packet (the middleware's ``_GROWTH_PER_PACKET``).
GROWTH_PER_PACKET = 512
#: How many packets python-engineio reads of one polling payload (it drops a longer one).
PACKETS_READ: int = Payload.max_decode_packets
#: Every value the first byte of an attachment may have: the middleware marks its own
#: packets by their first byte, and must take no attachment for one of them.
FIRST_BYTES = tuple(bytes([value]) for value in range(256))
#: How many attachments of an input are tried with every first byte (512 calls each).
FIRST_BYTE_PROBES = 4
OPEN = '0{"sid":"fuzz","upgrades":["websocket"],"pingTimeout":20000,"pingInterval":25000}'
REFUSED = {"message": "refused by the fuzz target"}
HOST_SPECIALS = frozenset(",?/#@ \\\"'")
CONNECT, BINARY_EVENT, BINARY_ACK = 0, 5, 6


class PropertyError(AssertionError):
    """A property of the middleware does not hold for this input."""


def expect(condition: bool, message: str, *details: object) -> None:
    if not condition:
        raise PropertyError(message + "".join(f"\n  {d!r}" for d in details))


@dataclass
class Stubs:
    """The admit/send coroutines of a Session, recording what they were asked."""

    refuse_all: bool
    admitted: list[str] = field(default_factory=list)
    sent: list[Any] = field(default_factory=list)

    async def admit(self, session: Session, name: str) -> dict[str, Any] | None:
        self.admitted.append(name)
        return REFUSED if self.refuse_all else None

    async def send(self, eio_sid: str, packet: Any) -> None:
        self.sent.append(packet)

    def wire(self, *, msgpack: bool = False) -> Wire:
        """The :class:`Wire` of a session whose CONNECTs these stubs decide."""
        return Wire(admit=self.admit, send=self.send, msgpack=msgpack)


def drive(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine that awaits nothing but the stubs, without an event loop."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    coro.close()
    raise PropertyError("a session coroutine suspended: it awaits more than admit/send")


def decided(session: Session, result: Any) -> Any:
    """What the middleware forwards: a held-back CONNECT goes through ``session.connect``."""
    if isinstance(result, Connect):
        return drive(session.connect(result))
    return result


# -- input ------------------------------------------------------------------------


def _binary(record: bytes) -> bytes:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "invalid escape sequence"
        try:
            return codecs.escape_decode(record)[0]  # type: ignore[no-any-return]
        except ValueError:
            return record


def check(data: bytes) -> None:
    """The fuzz target: run one input through everything, check every property."""
    head, _, rest = data.partition(b"\n")
    options, _, body = rest.partition(b"\n")
    host = check_host(head)
    if b"M" in options:
        host = None
    elif b"H" in options:
        host = LONG_HOST
    elif host is None:
        host = FALLBACK_HOST
    use_msgpack = b"m" in options
    stubs = Stubs(refuse_all=b"r" in options)
    session = Session(host, stubs.wire(msgpack=use_msgpack))
    stream = OutboundStream(session)
    inbound = Attachments()
    for line in body.split(b"\n") if body else ():
        kind, record = line[:1], line[1:]
        if kind in (b"w", b"p", b"s", b"g", b"k"):
            try:
                text = record.decode("utf-8")
            except UnicodeDecodeError:
                continue  # the middleware refuses such bodies; engineio skips such frames
        if kind == b"w":
            forwarded = check_inbound_text(session, stubs, text, inbound)
            check_growth("websocket text frame", text, forwarded)
        elif kind == b"p":
            check_polling_body(session, stubs, record, inbound)
        elif kind == b"W":
            frame = _binary(record)
            forwarded_binary = check_inbound_binary(session, stubs, frame, inbound)
            check_growth("websocket binary frame", frame, forwarded_binary)
            stream.any_first_byte(frame)
        elif kind == b"s":
            stream.text(text)
        elif kind == b"g":
            for packet in text.split("\x1e"):
                stream.text(packet)
        elif kind == b"S":
            stream.binary(_binary(record))
        elif kind == b"k":
            check_packet_functions(text, session.prefix)
        elif kind == b"K":
            check_msgpack_functions(_binary(record), session.prefix)


# -- hosts ------------------------------------------------------------------------


def check_host(raw: bytes) -> str | None:
    """``normalize_host`` of the raw Host value; ``None`` when it is refused."""
    try:
        value = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None  # get_host() refuses a Host that is not UTF-8
    try:
        host = normalize_host(value)
    except BadHost:
        return None
    expect(bool(host) and host.isascii(), "normalised host is empty or not ASCII", value, host)
    expect(not HOST_SPECIALS & set(host), "normalised host holds a special character", host)
    expect(host == host.lower() and not host.endswith("."), "host not canonical", host)
    expect(normalize_host(host) == host, "normalize_host is not idempotent", value, host)
    for name in ("/", "/x", "/x/y"):
        expect(split_fullname(fullname(name, host)) == (name, host), "fullname ambiguous", host)
    return host


# -- pure packet functions ---------------------------------------------------------


def server_packet(text: str | bytes, packet_class: type[Packet] = Packet) -> Packet | None:
    """The packet as python-socketio decodes it, ``None`` where it raises."""
    try:
        return packet_class(encoded_packet=text)
    except Exception:
        return None


def written(decoded: Packet, namespace: str | None) -> str | None:
    """The text python-socketio's encoder writes for ``decoded`` in ``namespace``."""
    try:
        packet = Packet(decoded.packet_type, decoded.data, namespace, decoded.id, binary=False)
        text = packet.encode()
    except Exception:
        return None
    if isinstance(text, list) and len(text) == 1:
        # a binary type: [header] + attachments, and data holds no bytes now
        text = text[0]
    if not isinstance(text, str):
        return None
    if decoded.packet_type in (BINARY_EVENT, BINARY_ACK):
        # encode() counts the attachments in data, which holds placeholders now
        head = f"{decoded.packet_type}0-"
        if not text.startswith(head):
            return None
        text = f"{decoded.packet_type}{decoded.attachment_count}-{text[len(head) :]}"
    return text


def check_packet_functions(text: str, prefix: str | None) -> None:
    try:
        packet_type, attachments, start, end = parse_header(text)
    except ValueError:
        # Packet("") is not decoded at all (an EVENT to "/"): the session drops it.
        expect(
            not text or server_packet(text) is None,
            "parse_header raised, python-socketio did not",
            text,
        )
        return
    namespace = client_namespace(text, start, end)
    decoded = server_packet(text)
    if decoded is not None:
        seen = (decoded.packet_type, decoded.attachment_count, decoded.namespace or "/")
        expect(
            seen == (packet_type, attachments, namespace),
            "parse_header reads a packet unlike python-socketio",
            text,
            seen,
            (packet_type, attachments, namespace),
        )
    if prefix is not None and not namespace.startswith("//"):
        check_rewrite(text, to_server(text, start, end, prefix), prefix, namespace)
        back, _ = to_client(to_server(text, start, end, prefix), prefix)
        if decoded is not None and namespace == (decoded.namespace or "/"):
            expect(back is not None, "to_client drops the session's own packet", text)
    to_client(text, prefix)


def check_msgpack_functions(data: bytes, prefix: str | None) -> None:
    try:
        packet_type, namespace, rewritten = msgpack_to_server(data, prefix)
    except ValueError:
        return
    expect(namespace.startswith("/"), "msgpack namespace does not start with /", data)
    check_msgpack_rewrite(data, rewritten, prefix, namespace)
    back = msgpack_to_client(rewritten, prefix)
    if not namespace.startswith("//") or prefix is not None:
        expect(back is not None, "msgpack_to_client drops the session's own packet", data)
    msgpack_to_client(data, prefix)


# -- client to server --------------------------------------------------------------


@dataclass
class Attachments:
    """The binary attachments a client's last binary packet announced, still to come."""

    pending: int = 0
    dropped: bool = False  # the session dropped that packet


def check_inbound_text(
    session: Session, stubs: Stubs, packet: str, attachments: Attachments | None = None
) -> str | None:
    """Check one text packet from the client; what the server gets of it."""
    admitted = len(stubs.admitted)
    result: str | None = decided(session, session.inbound_text(packet))
    if packet[:1] == "b" and not session.msgpack:
        check_inbound_attachment(attachments, packet, result)
        return result
    if attachments is not None and packet[:1] == "4":
        # A new packet: python-socketio reads the attachments it announces next.
        header = server_packet(packet[1:]) if packet[1:] else None
        attachments.pending = 0
        if header is not None and header.packet_type in (BINARY_EVENT, BINARY_ACK):
            attachments.pending = header.attachment_count
        attachments.dropped = result is None
    if result is None:
        return None
    expect(isinstance(result, str) and result[:1] == packet[:1], "kind changed", packet, result)
    try:
        eio = eio_packet.Packet(encoded_packet=result)
    except Exception:
        return result  # the server drops what it can't decode
    if eio.packet_type != eio_packet.MESSAGE:
        expect(result == packet, "a non-message Engine.IO packet was changed", packet, result)
        return result
    if eio.binary:
        expect(session.msgpack, "a text packet became binary", packet, result)
        check_server_msgpack(session, stubs, packet, eio.data, admitted)
        return result
    expect(not session.msgpack, "a text message passed to a msgpack server", packet)
    expect(isinstance(eio.data, str), "python-engineio JSON-decodes a message", packet, eio.data)
    decoded = server_packet(eio.data)
    if decoded is None:
        return result
    full = decoded.namespace or "/"
    expect_own(session, full, packet, result)
    check_rewrite(packet[1:], result[1:], session.prefix, None)
    if decoded.packet_type == CONNECT:
        expect(
            stubs.admitted[admitted:] == [short_name(session, full)],
            "the server reads a CONNECT that was not admitted under its name",
            packet,
            stubs.admitted[admitted:],
        )
    return result


def check_inbound_binary(
    session: Session, stubs: Stubs, data: bytes, attachments: Attachments | None = None
) -> bytes | None:
    """Check one binary message from the client; what the server gets of it."""
    admitted = len(stubs.admitted)
    result: bytes | None = decided(session, session.inbound_binary(data))
    if not session.msgpack:
        check_inbound_attachment(attachments, data, result)
        return result
    if result is None:
        return None
    expect(isinstance(result, bytes), "a binary message became text", data, result)
    check_server_msgpack(session, stubs, data, result, admitted)
    return result


def check_inbound_attachment(
    attachments: Attachments | None, packet: str | bytes, result: object
) -> None:
    """A client's attachment (default serializer) passes byte for byte, whatever
    its first byte, unless its packet was dropped: then it may be dropped too."""
    if attachments is not None and attachments.pending:
        attachments.pending -= 1
        if attachments.dropped and result is None:
            return
    expect(result == packet, "a client's attachment was changed or dropped", packet, result)


def check_polling_body(
    session: Session, stubs: Stubs, body: bytes, attachments: Attachments | None = None
) -> None:
    """Check a polling POST body: each packet, and what rewriting adds to the body.

    The middleware holds the client to the server's limit and gives the server
    ``PACKETS_READ * GROWTH_PER_PACKET`` bytes more; a payload of more packets
    than python-engineio reads goes to the server as it is (it drops it)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return  # the middleware refuses such a body
    packets = text.split("\x1e")
    kept = []
    for packet in packets:
        result = check_inbound_text(session, stubs, packet, attachments)
        if result is not None:
            check_growth("polling packet", packet.encode(), result.encode())
            kept.append(result)
    if len(packets) <= PACKETS_READ:
        # _post leaves some packets out (OPEN, PING, NOOP), which only shortens it.
        rewritten = "\x1e".join(kept).encode()
        most = len(body) + PACKETS_READ * GROWTH_PER_PACKET
        expect(
            len(rewritten) <= most,
            "a polling body grew past the server's limit",
            body,
            len(body),
            len(rewritten),
        )
    fast = session.inbound_body(body)
    if fast is not None:
        expect(
            [fast.decode("utf-8")] == kept,
            "Session.inbound_body disagrees with Session.inbound_text",
            body,
            fast,
            kept,
        )


def check_growth(what: str, before: str | bytes, after: str | bytes | None) -> None:
    """Rewriting added at most ``GROWTH_PER_PACKET`` characters (bytes) to a packet."""
    if after is None:
        return
    expect(
        len(after) - len(before) <= GROWTH_PER_PACKET,
        f"a {what} grew by more than {GROWTH_PER_PACKET}",
        before,
        after,
        len(after) - len(before),
    )


def check_server_msgpack(
    session: Session, stubs: Stubs, original: object, data: bytes, admitted: int
) -> None:
    decoded = server_packet(data, MsgPackPacket)
    if decoded is None:
        return
    full = decoded.namespace
    expect(isinstance(full, str), "msgpack nsp is not a string", original, full)
    expect_own(session, full, original, data)
    if decoded.packet_type == CONNECT:
        expect(
            stubs.admitted[admitted:] == [short_name(session, full)],
            "the server reads a msgpack CONNECT that was not admitted under its name",
            original,
            stubs.admitted[admitted:],
        )


def expect_own(session: Session, full: str, original: object, result: object) -> None:
    if session.prefix is None:
        expect(not full.startswith("//"), "a main-host client reached //", original, result)
    else:
        expect(
            full.startswith(session.prefix + "/"),
            "a client reached a namespace outside its host",
            original,
            result,
            full,
        )


def short_name(session: Session, full: str) -> str:
    return full if session.prefix is None else full[len(session.prefix) :]


def check_rewrite(original: str, rewritten: str, prefix: str | None, namespace: str | None) -> None:
    """python-socketio reads ``rewritten`` as ``original`` with the prefix added."""
    before, after = server_packet(original), server_packet(rewritten)
    expect(
        (before is None) == (after is None),
        "the rewrite changes whether python-socketio can decode the packet",
        original,
        rewritten,
    )
    if before is None or after is None:
        return
    want = (before.namespace or "/") if prefix is None else prefix + (before.namespace or "/")
    expect(
        (after.packet_type, after.attachment_count, after.id, after.data, after.namespace or "/")
        == (before.packet_type, before.attachment_count, before.id, before.data, want),
        "the rewrite changes more than the namespace",
        original,
        rewritten,
    )
    if namespace is not None:
        expect(namespace == (before.namespace or "/"), "client_namespace disagrees", original)


def check_msgpack_rewrite(original: bytes, rewritten: bytes, prefix: str | None, name: str) -> None:
    before = server_packet(original, MsgPackPacket)
    after = server_packet(rewritten, MsgPackPacket)
    expect(before is not None and after is not None, "msgpack packet undecodable", original)
    assert before is not None and after is not None
    expect(before.namespace == name, "msgpack_to_server reads another nsp", original, name)
    want = name if prefix is None else prefix + name
    expect(
        (after.packet_type, after.id, after.namespace) == (before.packet_type, before.id, want),
        "the msgpack rewrite changes more than nsp",
        original,
        rewritten,
    )


# -- server to client --------------------------------------------------------------


class OutboundStream:
    """Feeds server packets to a session and checks what reaches the client.

    Models python-socketio's client side: after a binary packet's header, its
    ``n`` attachments follow as binary messages; those of a dropped header must
    be dropped too, and the others must pass byte for byte, whatever their
    first byte.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self.pending = 0  # attachments of the last header still to come
        self.pending_dropped = False
        self.scratch = Session(session.host, session._wire)
        for each in (session, self.scratch):
            each.outbound_text(OPEN)  # the first packet of every session
            expect(each.eio_sid == "fuzz", "the OPEN packet was not read")
        # A session like it that expects no attachment, for any_first_byte.
        self.probe = type(session)(session.host, dataclasses.replace(session._wire, msgpack=False))
        self.probes = FIRST_BYTE_PROBES

    def text(self, packet: str) -> None:
        session = self.session
        if packet[:1] == "b":
            self._attachment(packet, session.outbound_text(packet))
            if not session.msgpack:
                try:
                    self.any_first_byte(base64.b64decode(packet[1:]))
                except ValueError:  # binascii.Error, or not ASCII
                    pass
            return
        if packet[:2] == "4" + MARK_TEXT:
            return  # the middleware's own packets; the server never writes \x00
        decoded = server_packet(packet[1:]) if packet[:1] == "4" and packet[1:] else None
        if (
            packet[:1] == "4"
            and not session.msgpack
            and (
                decoded is None or self.pending or written(decoded, decoded.namespace) != packet[1:]
            )
        ):
            # python-socketio only writes what its encoder makes of a packet,
            # and nothing between a packet and its attachments: check that
            # there is no exception, away from the stream being followed.
            self.scratch.outbound_text(packet)
            return
        result = session.outbound_text(packet)
        if packet[:1] != "4" or session.msgpack:
            if packet[:1] == "4":
                expect(result is None, "a text message reached a msgpack client", packet)
            else:
                expect(result == packet, "a non-message packet was changed", packet, result)
            return
        assert decoded is not None
        full = decoded.namespace or "/"
        own = full.startswith(session.prefix + "/") if session.prefix else not full.startswith("//")
        binary = decoded.packet_type in (BINARY_EVENT, BINARY_ACK)
        if not own:
            expect(result is None, "another host's packet reached the client", packet, result)
        else:
            expect(result is not None, "the session's own packet was dropped", packet)
            # What python-socketio would have written for the client's own name.
            expect(
                result == "4" + str(written(decoded, short_name(session, full))),
                "the client gets another packet than the server wrote",
                packet,
                result,
            )
        if binary and decoded.attachment_count:
            self.pending = decoded.attachment_count
            self.pending_dropped = not own

    def binary(self, data: bytes) -> None:
        session = self.session
        if session.msgpack and data[:1] == b"\xc1":
            return  # the middleware's own packets: msgpack never writes 0xc1
        # (An attachment of the default serializer is the application's bytes:
        # it may start with 0xc1, or with anything.)
        result = session.outbound_binary(data)
        if session.msgpack:
            self._msgpack(data, result)
        else:
            self._attachment(data, result)
            self.any_first_byte(data)

    def any_first_byte(self, data: bytes) -> None:
        """With the default serializer, an attachment that belongs to no packet
        passes both ways as it is whatever its first byte: ``data`` with each
        first byte there is, on a session that expects no attachment."""
        if self.session.msgpack or not self.probes:
            return
        self.probes -= 1
        probe, rest = self.probe, data[1:]
        for first in FIRST_BYTES:
            attachment = first + rest
            server = probe.outbound_binary(attachment)
            expect(server == attachment, "a server's attachment was changed", attachment, server)
            client = probe.inbound_binary(attachment)
            expect(client == attachment, "a client's attachment was changed", attachment, client)

    def _attachment(self, packet: str | bytes, result: str | bytes | None) -> None:
        session = self.session
        if session.msgpack:
            if isinstance(packet, str):
                try:
                    data = base64.b64decode(packet[1:])
                except ValueError:  # binascii.Error, or not ASCII
                    return
                if data[:1] == b"\xc1":
                    return
                self._msgpack(data, None if result is None else base64.b64decode(result[1:]))
            return
        if self.pending:
            self.pending -= 1
            if self.pending_dropped:
                expect(result is None, "an attachment of a dropped packet passed", packet)
                return
        expect(result == packet, "an attachment was changed or dropped", packet, result)

    def _msgpack(self, data: bytes, result: bytes | str | None) -> None:
        decoded = server_packet(data, MsgPackPacket)
        if decoded is None:
            return  # the server never writes what it can't read
        if not isinstance(decoded.namespace, str):
            expect(result is None, "a msgpack packet without a name reached the client", data)
            return
        full = decoded.namespace
        prefix = self.session.prefix
        own = full.startswith(prefix + "/") if prefix else not full.startswith("//")
        if not own:
            expect(result is None, "another host's msgpack packet reached the client", data)
            return
        expect(isinstance(result, bytes), "the session's own msgpack packet was dropped", data)
        assert isinstance(result, bytes)
        seen = server_packet(result, MsgPackPacket)
        expect(
            seen is not None and seen.namespace == short_name(self.session, full),
            "the msgpack client reads another namespace",
            data,
            result,
        )


def main() -> None:
    import atheris

    atheris.Setup(sys.argv, check)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
