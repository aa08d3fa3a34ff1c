"""The limits (``_limits.Limits``) against the counts they are checked against.
Pure: the client manager is a stand-in that knows which namespaces a session is in."""

from __future__ import annotations

from typing import Any

import pytest

from dynamic_io_asgi._limits import NAME_TOO_LONG, TOO_MANY_NAMESPACES, Limits
from dynamic_io_asgi._session import Session
from dynamic_io_asgi._setup import NamespaceRejected
from dynamic_io_asgi._wire import Wire


class Manager:
    """``sid_from_eio_sid`` of python-socketio's client manager, over a set."""

    def __init__(self) -> None:
        self.connected: set[tuple[str, str]] = set()

    def sid_from_eio_sid(self, eio_sid: str, namespace: str) -> str | None:
        return "sid" if (eio_sid, namespace) in self.connected else None


async def _never(*args: Any) -> None:
    raise AssertionError("not called")


def session(host: str | None = "a.test") -> Session:
    result = Session(host, Wire(admit=_never))
    result.eio_sid = "eio"
    return result


def refused(check: Any, *args: Any) -> dict[str, Any] | None:
    try:
        check(*args)
    except NamespaceRejected as exc:
        assert exc.reason == "limit"
        return exc.error_args
    return None


def test_a_name_over_the_length_limit() -> None:
    limits = Limits(Manager(), max_name_length=5)
    assert refused(limits.check_session, session(), "/abcd") is None
    assert refused(limits.check_session, session(), "/abcde") == NAME_TOO_LONG


def test_namespaces_per_session_counts_those_still_connected(monkeypatch: Any) -> None:
    manager = Manager()
    limits = Limits(manager, max_namespaces_per_session=2)
    one = session()
    for name in ("/a", "/b"):
        limits.check_session(one, name)
        limits.admitted(one, f"//a.test{name}")
        one.admitted[f"//a.test{name}"] = None  # the server's connect handler saw it
        manager.connected.add(("eio", f"//a.test{name}"))
    assert refused(limits.check_session, one, "/c") == TOO_MANY_NAMESPACES
    assert refused(limits.check_session, one, "/a") is None  # already one of its two
    assert refused(limits.check_session, session(), "/c") is None  # another session
    manager.connected.discard(("eio", "//a.test/b"))  # it left /b
    assert refused(limits.check_session, one, "/c") is None
    assert "//a.test/b" not in one.admitted


def test_a_connect_on_its_way_counts() -> None:
    limits = Limits(Manager(), max_namespaces_per_session=1)
    one = session()
    limits.admitted(one, "//a.test/a")  # let through a moment ago, not connected yet
    assert refused(limits.check_session, one, "/b") == TOO_MANY_NAMESPACES


def test_without_the_session_limit_nothing_is_kept() -> None:
    limits = Limits(Manager())
    one = session()
    limits.admitted(one, "//a.test/a")
    assert one.admitted == {}


@pytest.mark.parametrize(("per_host", "total"), [(2, None), (None, 2)])
def test_namespaces_per_host_and_in_all(per_host: int | None, total: int | None) -> None:
    limits = Limits(Manager(), max_namespaces_per_host=per_host, max_namespaces=total)
    for _ in range(2):
        limits.check_new("a.test", "//a.test/x")
        limits.count("a.test", 1)
    assert refused(limits.check_new, "a.test", "//a.test/y") == TOO_MANY_NAMESPACES
    other = refused(limits.check_new, "b.test", "//b.test/y")
    assert other == (TOO_MANY_NAMESPACES if total else None)
    limits.count("a.test", -1)  # one retired: its place is free
    assert refused(limits.check_new, "a.test", "//a.test/y") is None
    assert limits.host_count("a.test") == 1 and limits.host_count("b.test") == 0


def test_as_dict_names_the_options() -> None:
    assert Limits(Manager(), max_name_length=9, max_namespaces=3).as_dict() == {
        "max_name_length": 9,
        "max_namespaces_per_session": None,
        "max_namespaces_per_host": None,
        "max_namespaces": 3,
        "max_connects_per_second": None,
        "max_creations_per_second": None,
    }


def test_connects_beyond_the_rate_wait_their_turn() -> None:
    limits = Limits(Manager(), max_connects_per_second=10)
    one = session()
    waits = [limits.wait(one, 0.0) for _ in range(25)]
    assert waits[:20] == [0.0] * 20  # a burst of twice the rate
    assert waits[20:] == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5])
    assert limits.wait(one, 100.0) == 0.0  # refilled, up to the burst
    assert limits.wait(session(), 0.0) == 0.0  # another session has its own bucket
    assert Limits(Manager()).wait(one, 0.0) == 0.0  # no limit


def test_creations_beyond_a_hosts_rate_wait_their_turn() -> None:
    limits = Limits(Manager(), max_creations_per_second=4)
    waits = [limits.wait_to_create("a.test", 0.0) for _ in range(10)]
    assert waits[:8] == [0.0] * 8  # a burst of twice the rate
    assert waits[8:] == pytest.approx([0.25, 0.5])
    assert limits.wait_to_create("b.test", 0.0) == 0.0  # another host has its own bucket
    assert limits.wait_to_create("a.test", 100.0) == 0.0  # refilled
    assert Limits(Manager()).wait_to_create("a.test", 0.0) == 0.0  # no limit


def test_the_buckets_of_hosts_are_forgotten_once_full_again() -> None:
    limits = Limits(Manager(), max_creations_per_second=1)
    for n in range(2000):
        limits.wait_to_create(f"h{n}.test", float(n))
    # Each host's bucket refills in 2 s: the hosts of long ago were forgotten.
    assert len(limits._creations) <= 1025
    assert "h1999.test" in limits._creations
