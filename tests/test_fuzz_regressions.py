"""The fuzz target (``fuzz/fuzz_packets.py``) without atheris: the seed corpus,
the inputs it found, and a short hypothesis run through the same ``check``.

``check`` runs one input through host normalisation, the packet-header
functions and a Session's inbound and outbound streams, and raises on any
exception but the documented ones and on any broken property (see its module).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import load_script
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
    session = Leaky(host, msgpack=False, admit=stubs.admit, refuse=stubs.refuse)
    with pytest.raises(target.PropertyError):
        if inbound is not None:
            target.check_inbound_text(session, stubs, inbound)
        else:
            target.OutboundStream(session).text(outbound)


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
)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([b"a.test", b"A.Test:80", b"[::1]", b"a,b", b"", b"xn--bcher-kva.de."]),
    st.sampled_from([b"", b"m", b"M", b"r", b"mM"]),
    st.lists(record, max_size=12),
)
def test_hypothesis_through_the_target(host: bytes, options: bytes, records: list[bytes]) -> None:
    target.check(b"\n".join([host, options, *records]))
