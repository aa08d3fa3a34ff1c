"""The fuzz target (``fuzz/fuzz_packets.py``) without atheris: the seed corpus,
the inputs it found, and a short hypothesis run through the same ``check``.

``check`` runs one input through host normalisation, the packet-header
functions and a Session's inbound and outbound streams, and raises on any
exception but the documented ones and on any broken property (see its module).
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from _helpers import load_script
from hypothesis import given, settings
from hypothesis import strategies as st

FUZZ = Path(__file__).resolve().parent.parent / "fuzz"
CORPUS = sorted((FUZZ / "corpus").iterdir())


target = load_script(FUZZ / "fuzz_packets.py")

#: Inputs the fuzzer found, reduced by hand: (what it found, input).
FOUND = [
    # A package bug, fixed in Session.inbound_text: on a msgpack session, a polling
    # "b" packet that is not ASCII made base64 raise ValueError (not binascii.Error):
    # a 500 over polling, a dropped websocket.
    ("msgpack polling base64 not ASCII", b"a.test\nm\npb\xc3\xa9\n"),
    ("msgpack websocket base64 not ASCII", b"a.test\nm\nwb\xd9\xa0\xd9\xa0\n"),
    ("msgpack main host base64 not ASCII", b"\nmM\npb\xc3\xa9\x1ebAAAA\n"),
    ("msgpack server base64 not ASCII", b"a.test\nm\ngb\xc3\xa9\n"),
    # The rest refined the target's model of python-socketio, not the package:
    # the root of another host with an ack id and data starting with "-": the
    # client gets "02-3", exactly what python-socketio writes for its own "/".
    ("root namespace, ack id, negative data", b"a.test\n\ng40//a.test/,2-3\n"),
    # A header whose JSON the server could not have written, then its attachment.
    ("undecodable binary header", b"a.test\n\ns451-//xn\x00\x00rue,\nS\\xff\n"),
    # A new header before the attachments of a dropped one.
    (
        "header before the attachments of another",
        b"a.test\n\ns461-//a.testchat,[1]\ns451-//a.test/chat,[2]\ngbAAr/\n",
    ),
    ("msgpack packet without a type", b"a.test\nm\nS\\x82\\xa4#ype\\x00\\xa3nsp\\xa2/x\n"),
    ("empty Socket.IO packet from the server", b"a.test\n\ns4\n"),
    ("empty packet for the pure functions", b"a.test\n\nk\n"),
]


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_seed_corpus(path: Path) -> None:
    target.check(path.read_bytes())


@pytest.mark.parametrize(("what", "data"), FOUND, ids=[what for what, _ in FOUND])
def test_found_inputs(what: str, data: bytes) -> None:
    target.check(data)


class Leaky(target.Session):  # type: ignore[misc, name-defined]
    """A broken session that forwards every packet as it is."""

    def inbound_text(self, packet: str) -> str:
        return packet

    def outbound_text(self, packet: str) -> str:
        return packet


@pytest.mark.parametrize(
    ("host", "inbound", "outbound"),
    [
        ("a.test", "40/x,", None),  # reaches the main host's /x
        (None, "40//a.test/x,", None),  # a main-host client reaches another host
        ("a.test", None, '42//b.test/x,["e"]'),  # another host's packet reaches the client
    ],
)
def test_the_target_catches_a_leaky_session(
    host: str | None, inbound: str | None, outbound: str | None
) -> None:
    stubs = target.Stubs(refuse_all=False)
    session = Leaky(host, stubs.wire(msgpack=False))
    with pytest.raises(target.PropertyError):
        if inbound is not None:
            target.check_inbound_text(session, stubs, inbound)
        else:
            target.OutboundStream(session).text(outbound)


class MarkEverywhere(target.Session):  # type: ignore[misc, name-defined]
    """The 0xc1 bug, back: the mark of the middleware's own binary packets read
    on every session, so an attachment of the default serializer that starts
    with 0xc1 loses that byte (and one of another host is not dropped)."""

    def outbound_binary(self, data: bytes) -> bytes | None:
        if data[:1] == b"\xc1":
            return data[1:]
        result: bytes | None = super().outbound_binary(data)
        return result


PLACEHOLDER = '{"_placeholder":true,"num":0}'


@pytest.mark.parametrize("host", ["a.test", None])
def test_the_target_catches_a_lost_0xc1_byte(host: str | None) -> None:
    stubs = target.Stubs(refuse_all=False)
    session = MarkEverywhere(host, stubs.wire(msgpack=False))
    stream = target.OutboundStream(session)
    own = "/x" if host is None else f"//{host}/x"
    stream.text(f'451-{own},["e",{PLACEHOLDER}]')
    with pytest.raises(target.PropertyError, match="changed or dropped"):
        stream.binary(b"\xc1\x01")
    # Another host's attachment passes (shortened) ...
    stream.text(f'451-//b.test/x,["e",{PLACEHOLDER}]')
    with pytest.raises(target.PropertyError, match="of a dropped packet passed"):
        stream.binary(b"\xc1\x02")
    # ... and the session's own next one is dropped in its place.
    stream.text(f'451-{own},["e",{PLACEHOLDER}]')
    with pytest.raises(target.PropertyError, match="changed or dropped"):
        stream.binary(b"\x03")


@pytest.mark.parametrize(
    "name",
    ["hand_attachment_c1_websocket", "hand_attachment_c1_dropped", "hand_attachment_c1_main"],
)
def test_the_seeds_catch_a_lost_0xc1_byte(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setattr(target, "Session", MarkEverywhere)
    with pytest.raises(target.PropertyError):
        target.check((FUZZ / "corpus" / name).read_bytes())


def _escaped(data: bytes) -> bytes:
    return b"".join(b"\\x%02x" % byte for byte in data)


@pytest.mark.parametrize("options", [b"", b"M", b"H"])
def test_every_first_byte_of_an_attachment(options: bytes) -> None:
    """Attachments of the default serializer, both ways, websocket and polling,
    after the session's own packet and after another host's (dropped)."""
    own = {b"": "//a.test/x", b"M": "/x", b"H": f"//{target.LONG_HOST}/x"}[options]
    for first in range(256):
        data = bytes([first, 0xC1, 0x0A])
        polling = "b" + base64.b64encode(data).decode()
        records = [
            f's451-{own},["e",{PLACEHOLDER}]'.encode(),
            b"S" + _escaped(data),
            f'g451-{own},["e",{PLACEHOLDER}]\x1e{polling}'.encode(),
            f's451-//b.test/x,["e",{PLACEHOLDER}]'.encode(),
            b"S" + _escaped(data),  # dropped
            f's451-{own},["e",{PLACEHOLDER}]'.encode(),
            b"S" + _escaped(data),  # not dropped in its place
            f'g451-//b.test/x,["e",{PLACEHOLDER}]\x1e{polling}'.encode(),
            b"g" + polling.encode(),  # a stray one passes
            b"S" + _escaped(data),
            f'w451-/x,["e",{PLACEHOLDER}]'.encode(),
            b"W" + _escaped(data),
            f'p451-/x,["e",{PLACEHOLDER}]\x1e{polling}'.encode(),
            b"w" + polling.encode(),
        ]
        target.check(b"\n".join([b"a.test", options, *records]))


def test_the_target_catches_a_body_that_outgrows_the_limit() -> None:
    # No valid host is this long: its prefix is more than a packet may grow by.
    stubs = target.Stubs(refuse_all=False)
    session = target.Session("h" * 600, stubs.wire(msgpack=False))
    with pytest.raises(target.PropertyError, match="grew by more than 512"):
        target.check_polling_body(session, stubs, b'42["e"]\x1e42["e"]')
    with pytest.raises(target.PropertyError, match="grew by more than 512"):
        target.check_growth("websocket text frame", '42["e"]', session.inbound_text('42["e"]'))


record = st.one_of(
    st.sampled_from([b"w", b"p", b"s", b"g", b"k"]).flatmap(
        lambda kind: st.text(
            st.characters(codec="utf-8", exclude_characters="\n"), max_size=40
        ).map(lambda text: kind + text.encode())
    ),
    st.sampled_from([b"W", b"S", b"K"]).flatmap(
        lambda kind: st.binary(max_size=40).map(lambda data: kind + data.replace(b"\n", b""))
    ),
    st.sampled_from(
        [b"w40/x,", b"w40//b.test/x,", b's42//a.test/x,1["e"]', b"s451-//b.test/x,[1]", b"S\\x01"]
    ),
    # attachments that start with 0xc1 (the msgpack sessions' mark), and their headers
    st.sampled_from([b"S\\xc1", b"S\\xc1\\x00", b"W\\xc1", b"gbwQ==", b"pbwQ==", b"wbwQ=="]),
    st.sampled_from([b"s", b"w", b"g", b"p"]).flatmap(
        lambda kind: st.sampled_from(["//a.test/x", "//b.test/x", "/x", ""]).map(
            lambda name: kind + f'451-{name},["e",{PLACEHOLDER}]'.encode()
        )
    ),
)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([b"a.test", b"A.Test:80", b"[::1]", b"a,b", b"", b"xn--bcher-kva.de."]),
    st.sampled_from([b"", b"m", b"M", b"r", b"mM", b"H", b"mH"]),
    st.lists(record, max_size=12),
)
def test_hypothesis_through_the_target(host: bytes, options: bytes, records: list[bytes]) -> None:
    target.check(b"\n".join([host, options, *records]))
