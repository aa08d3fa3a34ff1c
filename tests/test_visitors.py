"""The Engine.IO sessions that connected to a namespace (``_visitors``)."""

from __future__ import annotations

from dynamic_io_asgi._visitors import add, holding


def test_one_visitor_is_kept_without_a_set() -> None:
    sockets = {"a": "socket a", "b": "socket b"}
    assert add("", "a", sockets) == "a"
    assert add("a", "a", sockets) == "a"
    assert add("a", "b", sockets) == {"a", "b"}
    assert holding("", sockets) == []
    assert holding("a", sockets) == ["socket a"]
    assert sorted(holding({"a", "b", "gone"}, sockets)) == ["socket a", "socket b"]


def test_unknown_visitors_mean_every_session() -> None:
    sockets = {"a": 1, "b": 2}
    assert add(None, "a", sockets) is None
    assert sorted(holding(None, sockets)) == [1, 2]


def test_closed_sessions_are_forgotten_as_the_set_grows() -> None:
    sockets = {"open": object()}
    visitors: str | set[str] | None = "open"
    for n in range(200):
        visitors = add(visitors, f"closed{n}", sockets)
    assert isinstance(visitors, set) and "open" in visitors
    assert len(visitors) <= 2 * len(sockets) + 64 + 1
