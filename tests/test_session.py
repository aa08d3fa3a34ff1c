"""The per-session packet paths: the fast paths agree with the general ones."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dynamic_io_asgi._packets import decodes, has_data, parse_header
from dynamic_io_asgi._session import Session
from dynamic_io_asgi._websocket import ws_receive, ws_send
from dynamic_io_asgi._wire import Connect, Wire


async def _never(*args: Any) -> None:
    raise AssertionError("not awaited in these tests")


def session(host: str | None) -> Session:
    return Session(host, Wire(admit=_never, send=_never))


HOSTS = [None, "alpha.test"]

# Socket.IO text made of the characters its header grammar cares about, with
# whole host names mixed in so prefixes match (or nearly match) often.
_pieces = st.sampled_from(
    [
        *'0123456789/,-?[]"{}:x ',
        "٣",
        "²",
        "//alpha.test",
        "//alpha.test/",
        "//alpha.tes",
        "//beta.test/",
        "/chat",
        '["ev",1]',
        "12",
    ]
)
socketio_text = st.lists(_pieces, max_size=8).map("".join)


@pytest.mark.parametrize("host", HOSTS)
@settings(max_examples=2000, deadline=None)
@given(text=socketio_text)
def test_inbound_fast_path_agrees_with_the_general_path(host: str | None, text: str) -> None:
    message = "4" + text
    fast = session(host).inbound_text(message)
    general = session(host)._inbound_socketio(message)
    assert fast == general
    assert isinstance(fast, (str, Connect, type(None)))


@pytest.mark.parametrize("host", HOSTS)
@settings(max_examples=2000, deadline=None)
@given(text=socketio_text)
def test_outbound_fast_path_agrees_with_the_general_path(host: str | None, text: str) -> None:
    message = "4" + text
    fast_session, general_session = session(host), session(host)
    assert fast_session.outbound_text(message) == general_session._outbound_socketio(message)
    assert fast_session._skip == general_session._skip


@pytest.mark.parametrize(
    ("host", "inbound", "expected"),
    [
        (None, '42["ev"]', '42["ev"]'),
        (None, '42/chat,["ev"]', '42/chat,["ev"]'),
        (None, '42//beta.test/chat,["ev"]', None),
        ("alpha.test", '42["ev"]', '42//alpha.test/,["ev"]'),
        ("alpha.test", '42/chat,7["ev"]', '42//alpha.test/chat,7["ev"]'),
        (
            "alpha.test",
            '451-/chat,["ev",{"_placeholder":true,"num":0}]',
            '451-//alpha.test/chat,["ev",{"_placeholder":true,"num":0}]',
        ),
        ("alpha.test", '42//beta.test/chat,["ev"]', None),
        ("alpha.test", '4"0/chat,"', None),  # the server would JSON-decode it
        ("alpha.test", "3", "3"),
        ("alpha.test", "", None),
    ],
)
def test_inbound_table(host: str | None, inbound: str, expected: str | None) -> None:
    assert session(host).inbound_text(inbound) == expected


@pytest.mark.parametrize(
    ("host", "outbound", "expected"),
    [
        (None, '42["ev"]', '42["ev"]'),
        (None, '42//alpha.test/chat,["ev"]', None),
        ("alpha.test", '42//alpha.test/chat,["ev"]', '42/chat,["ev"]'),
        ("alpha.test", '42//alpha.test/,["ev"]', '42["ev"]'),
        ("alpha.test", '43//alpha.test/,12["ok"]', '4312["ok"]'),
        ("alpha.test", '42//alpha.test.evil/chat,["ev"]', None),
        ("alpha.test", '42["ev"]', None),
        (
            "alpha.test",
            "4\x00" + '4/x,{"message":"Invalid namespace"}',
            '44/x,{"message":"Invalid namespace"}',
        ),
        ("alpha.test", "6", "6"),
    ],
)
def test_outbound_table(host: str | None, outbound: str, expected: str | None) -> None:
    assert session(host).outbound_text(outbound) == expected


def test_attachments_of_a_dropped_packet_are_dropped() -> None:
    alpha = session("alpha.test")
    header = '451-//beta.test/chat,["ev",{"_placeholder":true,"num":0}]'
    assert alpha.outbound_text(header) is None
    assert alpha.outbound_binary(b"secret") is None
    assert alpha.outbound_binary(b"next") == b"next"


@pytest.mark.parametrize("first", [0xC1, 0x00, 0xFF, 0x34])
def test_attachments_are_bytes_whatever_their_first_byte(first: int) -> None:
    """Binary attachments of the default serializer pass untouched, whatever they start
    with (0xc1 marks the middleware's own packets on msgpack sessions only)."""
    alpha = session("alpha.test")
    data = bytes([first, 2, 3])
    assert alpha.outbound_binary(data) == data
    assert alpha.inbound_binary(data) == data
    # Another host's packet and its attachment are dropped, the next one kept.
    assert alpha.outbound_text('451-//beta.test/chat,["e",{"_placeholder":true,"num":0}]') is None
    assert alpha.outbound_binary(data) is None
    assert alpha.outbound_binary(data + b"own") == data + b"own"


@pytest.mark.parametrize("host", HOSTS)
@settings(max_examples=2000, deadline=None)
@given(text=socketio_text, more=st.sampled_from([b"", b"\x1e3", b"\x1e42/chat,1", b"\xff"]))
def test_polling_body_fast_paths_agree_with_the_text_paths(
    host: str | None, text: str, more: bytes
) -> None:
    # A polling body is packets joined by \x1e; the bytes fast paths take one
    # packet of UTF-8 or none, and then rewrite it exactly as the text paths would.
    body = ("4" + text).encode() + more
    inbound = session(host).inbound_body(body)
    if inbound is not None:
        assert inbound.decode() == session(host).inbound_text(body.decode())
    if more:
        assert inbound is None
    if b"\xff" not in more:  # the server's bodies are UTF-8
        outbound = session(host).outbound_body(body)
        if outbound is not None:
            assert outbound.decode() == session(host).outbound_text(body.decode())
        if more:
            assert outbound is None


@pytest.mark.parametrize(
    ("host", "body", "inbound", "outbound"),
    [
        (None, b'42/chat,["ev"]', b'42/chat,["ev"]', b'42/chat,["ev"]'),
        (None, b'42//alpha.test/chat,["ev"]', None, None),
        ("alpha.test", b'42/chat,7["ev"]', b'42//alpha.test/chat,7["ev"]', None),
        ("alpha.test", b'43//alpha.test/chat,7["ok"]', None, b'43/chat,7["ok"]'),
        ("alpha.test", b'42//alpha.test/,["ev"]', None, None),  # "/": the text path's
        ("alpha.test", b'42/chat,["\xc3\xa9"]', b'42//alpha.test/chat,["\xc3\xa9"]', None),
        ("alpha.test", b'42/chat,["\xff"]', None, None),  # not UTF-8
        ("alpha.test", b'42/chat,["ev"]\x1e42/chat,["ev"]', None, None),
    ],
)
def test_polling_body_table(
    host: str | None, body: bytes, inbound: bytes | None, outbound: bytes | None
) -> None:
    assert session(host).inbound_body(body) == inbound
    assert session(host).outbound_body(body) == outbound


def _finish(awaitable: Any) -> Any:
    """The result of an awaitable that never suspends (no event loop needed)."""
    coroutine = awaitable.__await__()
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    raise AssertionError("suspended")


_NEXT = {"type": "websocket.disconnect", "code": 1000}


@pytest.mark.parametrize("host", HOSTS)
@settings(max_examples=2000, deadline=None)
@given(text=socketio_text)
def test_websocket_wrappers_agree_with_the_text_paths(host: str | None, text: str) -> None:
    # ws_receive and ws_send inline the text fast paths; whatever path a
    # message takes, the app and the client see what inbound_text and
    # outbound_text make of it.
    message = "4" + text

    async def admit(session: Session, namespace: str) -> None:
        return None

    refused: list[str] = []

    async def queue_error(eio_sid: str, packet: Any) -> None:
        refused.append(packet)

    def fresh() -> Session:
        return Session(host, Wire(admit=admit, send=queue_error))

    inbound: Any = fresh().inbound_text(message)
    if type(inbound) is Connect:
        inbound = None if inbound.error else inbound.packet
    queue = [{"type": "websocket.receive", "text": message}, _NEXT]

    async def receive() -> dict[str, Any]:
        return queue.pop(0)

    expected = _NEXT if inbound is None else {"type": "websocket.receive", "text": inbound}
    assert _finish(ws_receive(fresh(), receive)()) == expected

    outbound = fresh().outbound_text(message)
    sent: list[dict[str, Any]] = []

    async def send(reply: dict[str, Any]) -> None:
        sent.append(reply)

    _finish(ws_send(fresh(), send)({"type": "websocket.send", "bytes": None, "text": message}))
    assert [reply["text"] for reply in sent] == ([] if outbound is None else [outbound])


@given(socketio_text.map(lambda rest: "0" + rest))
@settings(max_examples=2000, deadline=None)
def test_a_connect_without_data_always_decodes(packet: str) -> None:
    # The middleware skips python-socketio's decoder for these: it can't fail on them.
    try:
        parse_header(packet)
    except ValueError:
        return
    if not has_data(packet):
        assert decodes(packet), packet
