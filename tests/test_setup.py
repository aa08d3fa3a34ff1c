"""Setup patterns and running a setup (``_setup``): which callback wins, and what
each way a setup can end becomes. Pure, with no server."""

from __future__ import annotations

import asyncio
import re
from types import SimpleNamespace
from typing import Any

import pytest
import socketio

from dynamic_io_asgi._metrics import Histogram
from dynamic_io_asgi._setup import NamespaceRejected, SetupTable, full_match, run_setup


def first(nsp: Any, match: Any) -> None: ...
def second(nsp: Any, match: Any) -> None: ...
def third(nsp: Any, match: Any) -> None: ...


def test_an_exact_name_wins_then_the_latest_pattern() -> None:
    table = SetupTable()
    table.add("*", first)
    table.add(re.compile(r"^//[^/]+/chat"), second)
    table.add("//A.Test/chat", third)  # normalised: //a.test/chat
    assert table.find("//a.test/chat")[0].callback is third  # type: ignore[index]
    assert table.find("//b.test/chat-room")[0].callback is second  # type: ignore[index]
    assert table.find("/other")[0].callback is first  # type: ignore[index]
    found = table.find("//b.test/chat")
    assert found is not None and found[1].group(0) == "//b.test/chat"
    assert found[0].label == r"^//[^/]+/chat"


def test_no_pattern_no_setup() -> None:
    assert SetupTable().find("/x") is None


@pytest.mark.parametrize("pattern", ["chat", "", b"/chat", 42, "//bad host/x", "//a,b/x"])
def test_bad_patterns_name_the_method(pattern: Any) -> None:
    with pytest.raises(ValueError, match="setup_namespace"):
        SetupTable().add(pattern, first)


def test_a_decorator_without_parentheses_says_how_to_use_it() -> None:
    with pytest.raises(TypeError, match=r"@app.setup_namespace\('\*'\)"):
        SetupTable().add(first)  # type: ignore[arg-type]


def test_full_match_is_all_of_the_name() -> None:
    assert full_match("//a.test/x.y").group(0) == "//a.test/x.y"


async def outcome(callback: Any, timeout: float | None = 1.0) -> tuple[str, Any, int]:
    took = Histogram()
    nsp = SimpleNamespace(fullname="//a.test/x")
    try:
        await run_setup(nsp, callback, full_match(nsp.fullname), timeout, took)  # type: ignore[arg-type]
    except NamespaceRejected as exc:
        return exc.reason, exc.error_args, took.count
    return "ok", None, took.count


def refuse(nsp: Any, match: Any) -> None:
    raise socketio.exceptions.ConnectionRefusedError("not you", {"code": 7})


def crash(nsp: Any, match: Any) -> None:
    raise KeyError("token")


def exit_(nsp: Any, match: Any) -> None:
    raise SystemExit(3)


async def slow(nsp: Any, match: Any) -> None:
    await asyncio.Event().wait()


async def cancelled(nsp: Any, match: Any) -> None:
    raise asyncio.CancelledError


async def refuse_later(nsp: Any, match: Any) -> bool:
    await asyncio.sleep(0)
    refuse(nsp, match)
    return True


async def false_later(nsp: Any, match: Any) -> bool:
    await asyncio.sleep(0)
    return False


@pytest.mark.parametrize(
    ("callback", "reason", "error_args"),
    [
        (lambda nsp, match: None, "ok", None),
        (lambda nsp, match: False, "invalid", {"message": "Invalid namespace"}),
        (refuse, "rejected", {"message": "not you", "data": {"code": 7}}),
        (crash, "error", {"message": "Invalid namespace"}),
        (exit_, "error", {"message": "Invalid namespace"}),
        (slow, "timeout", {"message": "Invalid namespace"}),
        (cancelled, "error", {"message": "Invalid namespace"}),
        (refuse_later, "rejected", {"message": "not you", "data": {"code": 7}}),
        (false_later, "invalid", {"message": "Invalid namespace"}),
    ],
)
async def test_how_a_setup_ends(callback: Any, reason: str, error_args: Any) -> None:
    assert await outcome(callback, timeout=0.05) == (reason, error_args, 1)
