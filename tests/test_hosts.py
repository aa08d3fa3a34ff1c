"""Host normalisation, full names and trusted proxies (``dynamic_io_asgi._hosts``)."""

from __future__ import annotations

import ipaddress
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dynamic_io_asgi._hosts import (
    BadHost,
    fullname,
    normalize_host,
    parse_networks,
    peer_in_networks,
    resolve,
    split_fullname,
)

#: Every normalised host is made of these: nothing python-socketio's decoder
#: treats specially (``,`` ends a namespace, ``?`` starts a query, ``/`` splits).
CANONICAL = re.compile(r"[a-z0-9.:-]+\Z")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # case, port, trailing dot
        ("a.test", "a.test"),
        ("A.Test", "a.test"),
        ("MYHOST.COM", "myhost.com"),
        ("a.test:8000", "a.test"),
        ("A.Test:443", "a.test"),
        ("a.test:0", "a.test"),
        ("a.test.", "a.test"),
        ("a.test.:80", "a.test"),
        ("localhost", "localhost"),
        ("localhost:5000", "localhost"),
        ("xn--bcher-kva.de", "xn--bcher-kva.de"),
        ("a-b.c-d.test", "a-b.c-d.test"),
        ("0.test", "0.test"),
        ("123.test", "123.test"),
        ("a" * 63 + ".test", "a" * 63 + ".test"),
        (".".join(["a" * 63] * 3) + "." + "a" * 61, ".".join(["a" * 63] * 3) + "." + "a" * 61),
        # IDNA names to punycode
        ("bücher.de", "xn--bcher-kva.de"),
        ("BÜCHER.de", "xn--bcher-kva.de"),
        ("bücher.de:8080", "xn--bcher-kva.de"),
        ("bücher.de.", "xn--bcher-kva.de"),
        ("münchen.test", "xn--mnchen-3ya.test"),
        ("☃.net", "xn--n3h.net"),
        ("例え.テスト", "xn--r8jz45g.xn--zckzah"),
        # IPv4
        ("127.0.0.1", "127.0.0.1"),
        ("127.0.0.1:8000", "127.0.0.1"),
        ("10.1.2.3.", "10.1.2.3"),
        ("255.255.255.255:1", "255.255.255.255"),
        # IPv6 literals: bracketed, with or without port, and as this function returns them
        ("[::1]", "::1"),
        ("[::1]:8000", "::1"),
        ("[0:0:0:0:0:0:0:1]", "::1"),
        ("[2001:DB8::1]", "2001:db8::1"),
        ("[2001:db8:0:0:0:0:0:1]:443", "2001:db8::1"),
        ("[::]", "::"),
        ("::1", "::1"),
        ("2001:db8::1", "2001:db8::1"),
        ("2001:DB8:0::1", "2001:db8::1"),
    ],
)
def test_normalize_host(value: str, expected: str) -> None:
    assert normalize_host(value) == expected
    assert normalize_host(expected) == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        ".",
        ":80",
        # characters the packet decoder reads as syntax, and other junk
        "a,b",
        "a.test,b.test",
        "a?b",
        "a.test?x=1",
        "evil/x",
        "a.test/chat",
        "a test",
        " a.test",
        "a.test ",
        "a\tb",
        "a\x00b",
        "a\nb",
        "a\x7fb",
        "a_b.test",
        "a@b.test",
        "a#b",
        "a%2cb",
        "*.test",
        # non-ASCII that is not a valid IDNA name (or maps to bad ASCII)
        "bücher\x00.de",
        "bü cher.de",
        "bücher\u3000.de",
        "a\ufffd.test",
        "a\ud800.test",
        "a，b",
        "bücher.de／x",
        "ü" * 64 + ".test",
        # lengths
        "a" * 300,
        "a." * 127 + "ab",
        "a" * 64 + ".test",
        "a" * 64,
        # ports
        "a.test:",
        "a.test:http",
        "a.test:65536",
        "a.test:8o",
        "a.test:-1",
        "a.test:123456",
        "a.test:８０",
        "a.test:80:80",
        # labels
        "a..test",
        "..",
        "-a.test",
        "a-.test",
        "a.-test",
        "a.test-",
        "a.test..",
        # IP-ish
        "1.2.3",
        "1.2.3.4.5",
        "256.1.1.1",
        "01.2.3.4",
        "[",
        "[::1",
        "[::1:80",
        "[::1]:",
        "[::1]x",
        "[::1]:http",
        "[::1]]",
        "[]",
        "[1.2.3.4]",
        "[a.test]",
        "[fe80::1%eth0]",
        "[fe80::1%,?x]",
        "fe80::1%eth0",
        "::1]",
        ":::",
        "1::2::3",
    ],
)
def test_bad_host(value: str) -> None:
    with pytest.raises(BadHost):
        normalize_host(value)


def test_bad_host_is_a_value_error_with_a_short_reason() -> None:
    with pytest.raises(ValueError) as info:
        normalize_host("a,b")
    assert isinstance(info.value, BadHost)
    assert 0 < len(str(info.value)) < 60


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80) | st.from_regex(r"\A[A-Za-z0-9.:\[\]-]{0,40}\Z"))
def test_normalize_host_output_is_canonical_and_stable(value: str) -> None:
    try:
        host = normalize_host(value)
    except BadHost:
        return
    assert CANONICAL.match(host), host
    assert len(host) <= 253
    assert normalize_host(host) == host


@pytest.mark.parametrize(
    ("name", "host", "full"),
    [
        ("/", None, "/"),
        ("/chat", None, "/chat"),
        ("/", "a.test", "//a.test/"),
        ("/chat", "a.test", "//a.test/chat"),
        ("/chat/room/1", "a.test", "//a.test/chat/room/1"),
        ("/x", "::1", "//::1/x"),
        ("/", "127.0.0.1", "//127.0.0.1/"),
        ("/x", "xn--bcher-kva.de", "//xn--bcher-kva.de/x"),
    ],
)
def test_fullname_round_trip(name: str, host: str | None, full: str) -> None:
    assert fullname(name, host) == full
    assert split_fullname(full) == (name, host)


def test_split_fullname_without_a_name() -> None:
    assert split_fullname("//a.test") == ("/", "a.test")


@settings(max_examples=300, deadline=None)
@given(
    st.from_regex(r"\A[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?(\.[a-z0-9]{1,8}){0,3}\Z"),
    st.text(max_size=20).map(lambda s: "/" + s),
)
def test_split_fullname_inverts_fullname(host: str, name: str) -> None:
    assert split_fullname(fullname(name, host)) == (name, host)
    if not name.startswith("//"):
        assert split_fullname(fullname(name, None)) == (name, None)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ((), ()),
        ("127.0.0.1", (ipaddress.ip_network("127.0.0.1/32"),)),
        (["10.0.0.0/8", "::1"], (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::1"))),
        (("192.168.1.7/24",), (ipaddress.ip_network("192.168.1.0/24"),)),
        (["fd00::/8"], (ipaddress.ip_network("fd00::/8"),)),
    ],
)
def test_parse_networks(values: object, expected: tuple[object, ...]) -> None:
    assert parse_networks(values) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "values",
    [["proxy.local"], ["10.0.0.0/8", "10.0.0.300"], "not an address", ["10.0.0.0/33"], [""]],
)
def test_parse_networks_names_the_option(values: object) -> None:
    with pytest.raises(ValueError, match="trusted_proxies"):
        parse_networks(values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("peer", "networks", "expected"),
    [
        ("127.0.0.1", ["127.0.0.1"], True),
        ("127.0.0.2", ["127.0.0.1"], False),
        ("10.9.8.7", ["10.0.0.0/8"], True),
        ("11.0.0.1", ["10.0.0.0/8"], False),
        ("10.9.8.7", ["192.168.0.0/16", "10.0.0.0/8"], True),
        ("::1", ["::1"], True),
        ("::1", ["127.0.0.1"], False),
        ("::ffff:127.0.0.1", ["127.0.0.1"], False),
        ("::7f00:1", ["127.0.0.0/8"], False),
        ("127.0.0.1", ["::1"], False),
        ("fd00::5", ["fd00::/8"], True),
        ("127.0.0.1", [], False),
        (None, ["127.0.0.1"], False),
        ("", ["127.0.0.1"], False),
        ("testclient", ["127.0.0.1"], False),
        ("/tmp/app.sock", ["127.0.0.1"], False),
    ],
)
def test_peer_in_networks(peer: str | None, networks: list[str], expected: bool) -> None:
    assert peer_in_networks(peer, parse_networks(networks)) is expected


@pytest.mark.parametrize(
    ("raw", "required", "expected"),
    [
        ("Alpha.TEST:80", False, "alpha.test"),
        ("main.test", False, None),  # the main host
        (None, False, None),
        ("", False, None),
    ],
)
def test_resolve(raw: str | None, required: bool, expected: str | None) -> None:
    assert resolve(raw, lambda host: host == "main.test", required=required) == expected


@pytest.mark.parametrize("raw", [None, "", "bad host"])
def test_resolve_refuses_no_host_when_one_is_required(raw: str | None) -> None:
    with pytest.raises(BadHost):
        resolve(raw, lambda host: False, required=True)
