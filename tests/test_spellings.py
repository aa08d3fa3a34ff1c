"""One host's spellings (``_spellings``): built once per host, consistent in text and bytes."""

from __future__ import annotations

import pytest

from dynamic_io_asgi._spellings import NAMED, SERVER_NAMED, spellings


def test_built_once_per_host() -> None:
    assert spellings("a.test", True) is spellings("a.test", True)
    assert spellings("a.test", True) is not spellings("b.test", True)


def test_another_host() -> None:
    names = spellings("a.test", True)
    assert (names.prefix, names.short_prefix, names.server_prefix) == (
        "//a.test",
        "//a.test",
        "//a.test/",
    )
    assert names.inbound.starts == NAMED and names.inbound.server_prefix == "//a.test/"
    assert names.outbound.starts == (
        "42//a.test/",
        "43//a.test/",
        "41//a.test/",
        "44//a.test/",
        "40//a.test/",
    )
    assert names.outbound.at == len("42//a.test/") and names.outbound.after == names.outbound.at + 1
    assert names.outbound.not_next == frozenset(["", ","]) and names.outbound.prefix == "//a.test"


def test_the_main_host() -> None:
    names = spellings(None, True)
    assert names.prefix is None and names.short_prefix == names.server_prefix == ""
    assert names.outbound.starts == SERVER_NAMED and names.outbound.at == 3
    assert names.outbound.not_next == frozenset(["/"])


@pytest.mark.parametrize("host", [None, "a.test"])
def test_no_fast_path_without_fast(host: str | None) -> None:
    names = spellings(host, False)
    assert names.inbound.starts == names.outbound.starts == ()
    assert names.inbound_starts_bytes == names.outbound_starts_bytes == ()


@pytest.mark.parametrize("host", [None, "a.test", "xn--bcher-kva.test"])
def test_bytes_spell_the_same(host: str | None) -> None:
    names = spellings(host, True)
    assert names.prefix_bytes == names.short_prefix.encode()
    assert names.server_prefix_bytes == names.server_prefix.encode()
    assert names.inbound_starts_bytes == tuple(s.encode() for s in names.inbound.starts)
    assert names.outbound_starts_bytes == tuple(s.encode() for s in names.outbound.starts)
    assert names.outbound_not_bytes == frozenset(s.encode() for s in names.outbound.not_next)
