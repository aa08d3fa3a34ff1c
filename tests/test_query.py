"""The middleware reads ``sid`` and ``j`` of a query string as python-engineio does."""

from __future__ import annotations

from urllib.parse import parse_qs

from hypothesis import given, settings
from hypothesis import strategies as st

from dynamic_io_asgi._asgi import read_query as _read_query

_pieces = st.sampled_from(
    ["sid", "j", "EIO", "=", "&", "4", "abc", "", "%73id", "+", "t", "=x", "é", ";", "xsid"]
)


@settings(max_examples=2000, deadline=None)
@given(st.lists(_pieces, max_size=10).map("".join))
def test_read_query_agrees_with_parse_qs(text: str) -> None:
    query = parse_qs(text)
    assert _read_query(text.encode()) == (query.get("sid", [None])[0], "j" in query)


def test_a_query_that_is_not_utf8_is_ignored() -> None:
    assert _read_query(b"sid=\xff&j=1") == (None, False)
