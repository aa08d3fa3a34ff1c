"""Packet header parsing and rewriting (``dynamic_io_asgi._packets``).

Tables of real packets, then properties checked against python-socketio's own
codec (``socketio.packet.Packet`` and ``socketio.msgpack_packet.MsgPackPacket``):
the middleware must read every packet exactly as the server does, and the
rewriting must be invisible to the client.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import msgpack
import pytest
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st
from socketio.msgpack_packet import MsgPackPacket
from socketio.packet import Packet

from dynamic_io_asgi._packets import (
    client_namespace,
    msgpack_to_client,
    msgpack_to_server,
    parse_header,
    to_client,
    to_server,
)

PREFIX = "//a.test"
PLACEHOLDER = '{"_placeholder":true,"num":0}'
EXAMPLES = settings(max_examples=300, deadline=None)

CONNECT, DISCONNECT, EVENT, ACK, CONNECT_ERROR, BINARY_EVENT, BINARY_ACK = range(7)


# -- tables -------------------------------------------------------------------------

#: (packet, type, attachment count, namespace as python-socketio reads it)
REAL_PACKETS = [
    ("0", CONNECT, 0, "/"),
    ('0{"token":1}', CONNECT, 0, "/"),
    ("0/chat,", CONNECT, 0, "/chat"),
    ('0/chat,{"token":"abc"}', CONNECT, 0, "/chat"),
    ("0/chat?x=1&y=2,", CONNECT, 0, "/chat"),
    ('0/chat?x=1,{"token":1}', CONNECT, 0, "/chat"),
    ("0/chat?x=1", CONNECT, 0, "/chat"),
    ("0/chat", CONNECT, 0, "/chat"),
    ("0/?x=1,", CONNECT, 0, "/"),
    ('4/a,"b,c"', CONNECT_ERROR, 0, "/a"),  # the namespace ends at the first comma
    ('0/chat,{"sid":"AbC-12"}', CONNECT, 0, "/chat"),
    ("1/chat,", DISCONNECT, 0, "/chat"),
    ("1", DISCONNECT, 0, "/"),
    ('2["x"]', EVENT, 0, "/"),
    ('2/,["x"]', EVENT, 0, "/"),
    ('2/chat,["msg",{"a":1}]', EVENT, 0, "/chat"),
    ('2/chat,12["msg",1]', EVENT, 0, "/chat"),
    ('212["msg"]', EVENT, 0, "/"),
    ('2/a-b,["x"]', EVENT, 0, "/a-b"),
    ('2["a-b"]', EVENT, 0, "/"),
    ('2/x/y/z,["e"]', EVENT, 0, "/x/y/z"),
    ('2//a.test/x,["e"]', EVENT, 0, "//a.test/x"),
    ("3/chat,12[1,2]", ACK, 0, "/chat"),
    ("312[]", ACK, 0, "/"),
    ('4/chat,"Unable to connect"', CONNECT_ERROR, 0, "/chat"),
    ('4/chat,{"message":"Invalid namespace"}', CONNECT_ERROR, 0, "/chat"),
    ('4{"message":"nope","data":{"x":1}}', CONNECT_ERROR, 0, "/"),
    (f'51-/chat,12["ev",{PLACEHOLDER}]', BINARY_EVENT, 1, "/chat"),
    (f'51-["ev",{PLACEHOLDER}]', BINARY_EVENT, 1, "/"),
    (f'52-/chat,["ev",{PLACEHOLDER},{PLACEHOLDER}]', BINARY_EVENT, 2, "/chat"),
    (f"61-/chat,3[{PLACEHOLDER}]", BINARY_ACK, 1, "/chat"),
    (f"61-7[{PLACEHOLDER}]", BINARY_ACK, 1, "/"),
    # docs/design.md §11: the attachment count is read for every type
    ('21-/x,["e"]', EVENT, 1, "/x"),
    ("312-3", ACK, 12, "/"),
    ("212-3", EVENT, 12, "/"),
    ("010-/x,", CONNECT, 10, "/x"),
    ("2" + "1" * 10 + "-", EVENT, 1111111111, "/"),
    ("2-3", EVENT, 0, "/"),  # a dash right after the type is no count
    ('\u0662["x"]', EVENT, 0, "/"),  # int() reads any Unicode decimal digit
    ("9/x,", 9, 0, "/x"),  # an unknown type still decodes
]


@pytest.mark.parametrize(("packet", "packet_type", "attachments", "namespace"), REAL_PACKETS)
def test_parse_header(packet: str, packet_type: int, attachments: int, namespace: str) -> None:
    kind, count, start, end = parse_header(packet)
    assert (kind, count, client_namespace(packet, start, end)) == (
        packet_type,
        attachments,
        namespace,
    )
    # the table itself agrees with python-socketio
    assert server_reading(packet)[:3] == (packet_type, attachments, namespace)


@pytest.mark.parametrize(
    "packet",
    [
        "x",
        "a0/chat,",
        " 0",
        "-1",
        "\u00bd/x,",  # numeric, but no decimal digit
        "2" + "1" * 11 + "-/x,",  # more than 10 digits of attachments
        "2\u00b2-/x,",  # str.isdigit() but not int()
    ],
)
def test_parse_header_raises_where_python_socketio_does(packet: str) -> None:
    with pytest.raises(ValueError):
        parse_header(packet)
    with pytest.raises(ValueError):
        Packet(encoded_packet=packet)


def test_parse_header_of_an_empty_packet() -> None:
    # Packet("") skips decoding (and the server then fails on the empty event);
    # the middleware drops it.
    with pytest.raises(ValueError):
        parse_header("")


@pytest.mark.parametrize(
    ("packet", "expected"),
    [
        ("0", "0//a.test/,"),
        ('0{"token":1}', '0//a.test/,{"token":1}'),
        ("0/chat,", "0//a.test/chat,"),
        ("0/chat", "0//a.test/chat"),
        ('0/chat?x=1,{"t":1}', '0//a.test/chat?x=1,{"t":1}'),
        ('2/,["x"]', '2//a.test/,["x"]'),
        ('2["x"]', '2//a.test/,["x"]'),
        ('212["x"]', '2//a.test/,12["x"]'),
        ("1/chat,", "1//a.test/chat,"),
        (f'51-/chat,12["ev",{PLACEHOLDER}]', f'51-//a.test/chat,12["ev",{PLACEHOLDER}]'),
        (f'51-["ev",{PLACEHOLDER}]', f'51-//a.test/,["ev",{PLACEHOLDER}]'),
        ('21-/x,["e"]', '21-//a.test/x,["e"]'),
        ("312-3", "312-//a.test/,3"),
    ],
)
def test_to_server(packet: str, expected: str) -> None:
    _, _, start, end = parse_header(packet)
    rewritten = to_server(packet, start, end, PREFIX)
    assert rewritten == expected
    before, after = server_reading(packet), server_reading(rewritten)
    assert after == before._replace(namespace=PREFIX + before.namespace)


@pytest.mark.parametrize(
    ("packet", "prefix", "expected", "attachments"),
    [
        ('0//a.test/chat,{"sid":"s"}', PREFIX, '0/chat,{"sid":"s"}', 0),
        ('0//a.test/,{"sid":"s"}', PREFIX, '0{"sid":"s"}', 0),
        ('2//a.test/,12["x"]', PREFIX, '212["x"]', 0),
        ('2//a.test/chat/x,["x"]', PREFIX, '2/chat/x,["x"]', 0),
        ('3//a.test/chat,5["ok"]', PREFIX, '3/chat,5["ok"]', 0),
        ("1//a.test/chat,", PREFIX, "1/chat,", 0),
        ("1//a.test/,", PREFIX, "1", 0),
        ("1//a.test/", PREFIX, "1", 0),
        ('4//a.test/chat,{"message":"x"}', PREFIX, '4/chat,{"message":"x"}', 0),
        (f'51-//a.test/chat,["e",{PLACEHOLDER}]', PREFIX, f'51-/chat,["e",{PLACEHOLDER}]', 0),
        (f"61-//a.test/,3[{PLACEHOLDER}]", PREFIX, f"61-3[{PLACEHOLDER}]", 0),
        ("2//::1/x,[]", "//::1", "2/x,[]", 0),
        # another host's packets, and the main host's
        ('2//a.test.evil/x,["e"]', PREFIX, None, 0),
        ('2//a.testx/x,["e"]', PREFIX, None, 0),
        ('2//a.test-x/,["e"]', PREFIX, None, 0),
        ('2//a.tes/t/x,["e"]', PREFIX, None, 0),
        ('2//b.a.test/x,["e"]', PREFIX, None, 0),
        ('2//A.TEST/x,["e"]', PREFIX, None, 0),
        ('2//a.test,["e"]', PREFIX, None, 0),
        ('2//a.test?/x,["e"]', PREFIX, None, 0),
        ('2/chat,["e"]', PREFIX, None, 0),
        ('2/a.test/x,["e"]', PREFIX, None, 0),
        ('2["e"]', PREFIX, None, 0),
        ('0{"sid":"s"}', PREFIX, None, 0),
        (f'51-//a.test.evil/x,["e",{PLACEHOLDER}]', PREFIX, None, 1),
        (f'52-/chat,["e",{PLACEHOLDER},{PLACEHOLDER}]', PREFIX, None, 2),
        (f"63-//b.test/,1[{PLACEHOLDER}]", PREFIX, None, 3),
        ("21-//b.test/x,[]", PREFIX, None, 0),  # not binary: no attachments follow
        # the main host's sessions (prefix None)
        ('2/chat,["e"]', None, '2/chat,["e"]', 0),
        ('2["e"]', None, '2["e"]', 0),
        (f'51-/x,["e",{PLACEHOLDER}]', None, f'51-/x,["e",{PLACEHOLDER}]', 0),
        ('2//a.test/chat,["e"]', None, None, 0),
        ('0//a.test/,{"sid":"s"}', None, None, 0),
        (f'52-//a.test/,["e",{PLACEHOLDER},{PLACEHOLDER}]', None, None, 2),
        # not a packet at all
        ("", PREFIX, None, 0),
        ("x", None, None, 0),
    ],
)
def test_to_client(packet: str, prefix: str | None, expected: str | None, attachments: int) -> None:
    assert to_client(packet, prefix) == (expected, attachments)


# -- python-socketio's reading ------------------------------------------------------


class Reading(NamedTuple):
    packet_type: int
    attachments: int
    namespace: str
    id: int | None
    data: Any


def server_reading(packet: str) -> Reading:
    """What python-socketio reads from a text packet (``None`` namespace as ``/``)."""
    pkt = Packet(encoded_packet=packet)
    return Reading(pkt.packet_type, pkt.attachment_count, pkt.namespace or "/", pkt.id, pkt.data)


def reading_or_none(packet: str) -> Reading | None:
    try:
        return server_reading(packet)
    except ValueError:
        return None


def header_or_none(packet: str) -> tuple[int, int, int, int] | None:
    try:
        return parse_header(packet)
    except ValueError:
        return None


# -- strategies ---------------------------------------------------------------------

NAME_CHARS = st.characters(blacklist_characters=",?", blacklist_categories=("Cs",))
#: Client namespace names: python-socketio's decoder can't carry "," or "?" in one.
short_names = st.one_of(
    st.sampled_from([None, "/", "/chat", "/a-b", "/1", "/x/y"]),
    st.text(NAME_CHARS, min_size=1, max_size=10).map(lambda s: "/" + s),
)
hosts = st.one_of(
    st.from_regex(r"\A[a-z0-9]([a-z0-9-]{0,6}[a-z0-9])?(\.[a-z0-9]{1,5}){0,2}\Z"),
    st.sampled_from(["a.test", "::1", "127.0.0.1", "2001:db8::1", "xn--bcher-kva.de"]),
)

json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)


def values(leaves: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.recursive(
        leaves,
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
        ),
        max_leaves=8,
    )


json_values = values(json_leaves)
binary_values = values(json_leaves | st.binary(max_size=8))


class Spec(NamedTuple):
    """A packet as python-socketio builds one (EVENT/ACK turn binary by themselves)."""

    packet_type: int
    id: int | None
    data: Any


ack_ids = st.integers(0, 10**12)


@st.composite
def specs(draw: st.DrawFn, binary: bool = True) -> Spec:
    """Packets in the shapes python-socketio's server and clients send."""
    args = st.lists(binary_values if binary else json_values, max_size=3)
    kind = draw(st.sampled_from([CONNECT, DISCONNECT, EVENT, ACK, CONNECT_ERROR]))
    if kind == CONNECT:
        return Spec(CONNECT, None, draw(st.none() | st.dictionaries(st.text(), json_values)))
    if kind == DISCONNECT:
        return Spec(DISCONNECT, None, None)
    if kind == EVENT:
        name = draw(st.text(max_size=8))
        return Spec(EVENT, draw(st.none() | ack_ids), [name, *draw(args)])
    if kind == ACK:
        return Spec(ACK, draw(ack_ids), draw(args))
    message = st.text(max_size=12)
    data = st.one_of(
        message,
        st.builds(lambda m: {"message": m}, message),
        st.builds(lambda m, d: {"message": m, "data": d}, message, json_values),
    )
    return Spec(CONNECT_ERROR, None, draw(data))


def encode(spec: Spec, namespace: str | None) -> tuple[str, list[bytes]]:
    """python-socketio's encoding: the text header and the binary attachments."""
    encoded = Packet(spec.packet_type, data=spec.data, namespace=namespace, id=spec.id).encode()
    if isinstance(encoded, list):
        return encoded[0], encoded[1:]
    return encoded, []


def decode(header: str, attachments: list[bytes]) -> Reading:
    """python-socketio's decoding, attachments put back into the data."""
    pkt = Packet(encoded_packet=header)
    assert pkt.attachment_count == len(attachments)
    for attachment in attachments:
        pkt.add_attachment(attachment)
    return Reading(pkt.packet_type, len(attachments), pkt.namespace or "/", pkt.id, pkt.data)


def base_type(packet_type: int) -> int:
    """The type to build a packet with: Packet() itself turns EVENT/ACK binary."""
    return {BINARY_EVENT: EVENT, BINARY_ACK: ACK}.get(packet_type, packet_type)


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """A well-formed packet with one character inserted, replaced or deleted."""
    header, _ = encode(draw(specs()), draw(short_names))
    pos = draw(st.integers(0, len(header)))
    char = draw(st.sampled_from(list('0123456789-/,?[]{}"\u00b2\u0663 ')) | st.characters())
    op = draw(st.sampled_from(["insert", "replace", "delete"]))
    if op == "insert":
        return header[:pos] + char + header[pos:]
    if op == "replace":
        return header[:pos] + char + header[pos + 1 :]
    return header[:pos] + header[pos + 1 :]


syntax_text = st.text(st.sampled_from(list('0123456-/,?[]{}"a.1\u00b2\u0663 ')), max_size=24)
arbitrary_text = st.one_of(syntax_text, st.text(max_size=24), mutated()).filter(bool)


# -- (a) the middleware reads packets as python-socketio does ----------------------


@EXAMPLES
@given(specs(), short_names)
def test_parse_header_matches_python_socketio_on_real_packets(
    spec: Spec, namespace: str | None
) -> None:
    header, attachments = encode(spec, namespace)
    packet_type, count, start, end = parse_header(header)
    reading = server_reading(header)
    assert (packet_type, count) == (reading.packet_type, reading.attachments)
    assert client_namespace(header, start, end) == reading.namespace == (namespace or "/")
    assert count == len(attachments)


@EXAMPLES
@given(arbitrary_text)
def test_parse_header_matches_python_socketio_on_any_text(packet: str) -> None:
    """Where python-socketio decodes, the middleware reads the same type, count and
    namespace. Where python-socketio raises, parse_header raises too, or it fails
    only on what follows the namespace (ack id, JSON), which the rewrite keeps byte
    for byte: the server fails on the rewritten packet as well, so the packet is
    lost either way and no namespace is ever reached.
    """
    reading = reading_or_none(packet)
    header = header_or_none(packet)
    event(f"decodes: {reading is not None}, header: {header is not None}")
    if reading is not None:
        assert header is not None
        packet_type, count, start, end = header
        assert (packet_type, count, client_namespace(packet, start, end)) == reading[:3]
        rewritten = server_reading(to_server(packet, start, end, PREFIX))
        assert rewritten == reading._replace(namespace=PREFIX + reading.namespace)
    elif header is not None:
        _, _, start, end = header
        assert reading_or_none(to_server(packet, start, end, PREFIX)) is None


# -- (b) inbound rewriting ----------------------------------------------------------


@EXAMPLES
@given(specs(), short_names, hosts)
def test_to_server_prefixes_the_namespace_and_keeps_the_rest(
    spec: Spec, namespace: str | None, host: str
) -> None:
    prefix = "//" + host
    header, attachments = encode(spec, namespace)
    _, _, start, end = parse_header(header)
    seen = client_namespace(header, start, end)
    server = decode(to_server(header, start, end, prefix), attachments)
    client = decode(header, attachments)
    assert server.namespace == prefix + seen == prefix + (namespace or "/")
    assert server == client._replace(namespace=prefix + seen)
    # and the client's packet says what it was built from
    assert (base_type(client.packet_type), client.id, client.data) == spec


# -- (c) a round trip through the server is invisible to the client ----------------


@EXAMPLES
@given(specs(), short_names, hosts)
def test_round_trip_through_the_server_is_the_identity(
    spec: Spec, namespace: str | None, host: str
) -> None:
    prefix = "//" + host
    header, attachments = encode(spec, namespace)
    _, _, start, end = parse_header(header)
    server = decode(to_server(header, start, end, prefix), attachments)
    # the server sends the same packet back, in its own encoding
    echo = Spec(base_type(server.packet_type), server.id, server.data)
    server_header, server_attachments = encode(echo, server.namespace)
    client_header, dropped = to_client(server_header, prefix)
    assert client_header is not None and dropped == 0
    # byte for byte what python-socketio sends for the short name without the middleware
    assert (client_header, server_attachments) == encode(echo, namespace)
    assert decode(client_header, server_attachments) == decode(header, attachments)


# -- (d) other hosts' packets never reach the client -------------------------------


@st.composite
def other_hosts(draw: st.DrawFn, host: str) -> str:
    lookalikes = [host + ".evil", host + "x", host + "-1", "evil." + host, host[:-1] or "x"]
    return draw(st.sampled_from(lookalikes) | hosts)


@EXAMPLES
@given(st.data(), hosts, specs(), short_names)
def test_to_client_drops_other_hosts_packets(
    data: st.DataObject, host: str, spec: Spec, namespace: str | None
) -> None:
    other = data.draw(other_hosts(host))
    assume(other != host)
    full = "//" + other + (namespace or "/")
    header, attachments = encode(spec, full)
    assert to_client(header, "//" + host) == (None, len(attachments))
    assert to_client(header, None) == (None, len(attachments))
    # the main host's namespaces are another host's too, for a session of `host`
    assume(not (namespace or "/").startswith("//"))
    main_header, main_attachments = encode(spec, namespace)
    assert to_client(main_header, "//" + host) == (None, len(main_attachments))
    assert to_client(main_header, None) == (main_header, 0)


# -- (e) msgpack --------------------------------------------------------------------

msgpack_values = values(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**63), 2**64 - 1),
        st.floats(allow_nan=False),
        st.text(max_size=8),
        st.binary(max_size=8),
    )
)


@st.composite
def msgpack_specs(draw: st.DrawFn) -> Spec:
    packet_type = draw(st.integers(CONNECT, BINARY_ACK))
    return Spec(packet_type, draw(st.none() | ack_ids), draw(msgpack_values))


def msgpack_encode(spec: Spec, namespace: str) -> bytes:
    encoded: bytes = MsgPackPacket(
        spec.packet_type, data=spec.data, namespace=namespace, id=spec.id
    ).encode()
    return encoded


def msgpack_decode(packet: bytes) -> tuple[int, str, int | None, Any]:
    pkt = MsgPackPacket(encoded_packet=packet)
    return pkt.packet_type, pkt.namespace, pkt.id, pkt.data


msgpack_names = short_names.map(lambda name: name or "/")


@EXAMPLES
@given(msgpack_specs(), msgpack_names, hosts)
def test_msgpack_round_trip(spec: Spec, namespace: str, host: str) -> None:
    prefix = "//" + host
    packet = msgpack_encode(spec, namespace)
    packet_type, seen, rewritten = msgpack_to_server(packet, prefix)
    assert (packet_type, seen) == (spec.packet_type, namespace)
    server = msgpack_decode(rewritten)
    assert server == (spec.packet_type, prefix + namespace, spec.id, spec.data)
    # the server's own encoding of the same packet, back to the client
    back = msgpack_to_client(msgpack_encode(spec, prefix + namespace), prefix)
    assert back is not None
    assert msgpack_decode(back) == msgpack_decode(packet)
    # the main host's sessions: nothing to rewrite (and no name starting with "//")
    assert msgpack_to_server(packet, None) == (spec.packet_type, namespace, packet)
    main_host_name = not namespace.startswith("//")
    assert msgpack_to_client(packet, None) is (packet if main_host_name else None)


@EXAMPLES
@given(st.data(), hosts, msgpack_specs(), msgpack_names)
def test_msgpack_to_client_drops_other_hosts_packets(
    data: st.DataObject, host: str, spec: Spec, namespace: str
) -> None:
    other = data.draw(other_hosts(host))
    assume(other != host)
    foreign = msgpack_encode(spec, "//" + other + namespace)
    assert msgpack_to_client(foreign, "//" + host) is None
    assert msgpack_to_client(foreign, None) is None
    assert msgpack_to_client(msgpack_encode(spec, namespace), "//" + host) is None


@pytest.mark.parametrize(
    "packet",
    [
        msgpack.dumps({"type": 0, "data": None, "nsp": None}),
        msgpack.dumps({"type": 0, "data": None, "nsp": 5}),
        msgpack.dumps({"type": 0, "data": None, "nsp": b"/chat"}),
        msgpack.dumps({"type": 0, "data": None, "nsp": ""}),
        msgpack.dumps({"type": 0, "data": None, "nsp": "chat"}),
        # "//a.test" + ".evil/chat" would be a namespace of the host a.test.evil
        msgpack.dumps({"type": 0, "data": None, "nsp": ".evil/chat"}),
        msgpack.dumps({"type": "0", "data": None, "nsp": "/chat"}),
        msgpack.dumps({"type": 0, "data": None}),
        msgpack.dumps({"data": None, "nsp": "/chat"}),
        msgpack.dumps([0, None, "/chat"]),
        msgpack.dumps("/chat"),
        msgpack.dumps({"type": 0, "nsp": "/chat"}) + b"\x00",
        b"",
        b"\xc1",
        b"\x81",
    ],
)
@pytest.mark.parametrize("prefix", [PREFIX, None])
def test_msgpack_to_server_refuses(packet: bytes, prefix: str | None) -> None:
    with pytest.raises(ValueError):
        msgpack_to_server(packet, prefix)


@pytest.mark.parametrize(
    "packet",
    [
        msgpack.dumps({"type": 2, "data": ["e"], "nsp": None}),
        msgpack.dumps({"type": 2, "data": ["e"], "nsp": 5}),
        msgpack.dumps({"type": 2, "data": ["e"]}),
        msgpack.dumps({"type": 2, "data": ["e"], "nsp": "//a.test"}),
        msgpack.dumps({"type": 2, "data": ["e"], "nsp": "//a.testx/"}),
        b"\xc1",
    ],
)
def test_msgpack_to_client_drops(packet: bytes) -> None:
    assert msgpack_to_client(packet, PREFIX) is None


msgpack_fields = st.one_of(
    st.integers(-1, 7),
    st.sampled_from(["/", "/chat", "", "chat", "//b.test/x", ".evil/x", "/x?y,z"]),
    st.none(),
    st.binary(max_size=3),
    msgpack_values,
)
msgpack_maps = st.one_of(
    st.fixed_dictionaries(
        {"type": st.integers(-1, 7), "nsp": msgpack_names},
        optional={"data": msgpack_values, "id": ack_ids | msgpack_fields, "x": msgpack_fields},
    ),
    st.dictionaries(st.sampled_from(["type", "nsp", "data", "id", "x"]), msgpack_fields),
).map(msgpack.dumps)


@EXAMPLES
@given(msgpack_maps | st.binary(max_size=24))
def test_msgpack_to_server_reads_as_python_socketio_does(packet: bytes) -> None:
    """What the middleware lets through, the server reads with the prefixed name."""
    try:
        packet_type, namespace, rewritten = msgpack_to_server(packet, PREFIX)
    except ValueError:
        event("dropped")
        return
    event("let through")
    original = msgpack_decode(packet)
    assert original[:2] == (packet_type, namespace)
    assert namespace.startswith("/")
    assert msgpack_decode(rewritten) == (packet_type, PREFIX + namespace, *original[2:])


def test_msgpack_rewriting_keeps_every_other_byte() -> None:
    """The nsp value is spliced in: float32s stay float32s (re-encoding would write
    them as float64s and let a packet outgrow the body limit)."""
    import msgpack

    from dynamic_io_asgi._packets import msgpack_to_client, msgpack_to_server

    packet = msgpack.dumps(
        {"type": 2, "nsp": "/chat", "data": ["ev", *[0.5] * 100], "id": 7}, use_single_float=True
    )
    _, namespace, rewritten = msgpack_to_server(packet, "//alpha.test")
    assert namespace == "/chat"
    assert len(rewritten) == len(packet) + len("//alpha.test")
    assert msgpack.loads(rewritten) == {**msgpack.loads(packet), "nsp": "//alpha.test/chat"}
    assert msgpack_to_client(rewritten, "//alpha.test") == packet
    doubled = packet[:1].replace(b"\x84", b"\x85") + packet[1:] + msgpack.dumps("nsp") + b"\xa1/"
    with pytest.raises(ValueError):
        msgpack_to_server(doubled, "//alpha.test")  # two nsp keys: refused, not guessed
