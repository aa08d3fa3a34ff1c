"""The asyncio helpers for application callbacks (``_tasks``), on a real event loop."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from dynamic_io_asgi import _tasks
from dynamic_io_asgi._tasks import log_raised, within


def _timers() -> int:
    loop: Any = asyncio.get_running_loop()
    return len(loop._scheduled)  # what asyncio.timeout() would add to


async def test_a_coroutine_that_does_not_suspend_costs_no_timer() -> None:
    async def quick() -> str:
        return "done"

    before = _timers()
    assert await within(quick(), 10.0) == "done"
    assert _timers() == before


async def test_what_it_raises_comes_out_as_it_is() -> None:
    async def fails() -> None:
        raise KeyError("x")

    with pytest.raises(KeyError):
        await within(fails(), 10.0)


@pytest.mark.parametrize("timeout", [None, 10.0])
async def test_a_coroutine_that_suspends_goes_on_to_its_result(timeout: float | None) -> None:
    future: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def waits() -> int:
        await asyncio.sleep(0)  # a bare yield to the loop
        await asyncio.sleep(0.001)
        return await future + 1

    asyncio.get_running_loop().call_soon(future.set_result, 41)
    assert await within(waits(), timeout) == 42


async def test_one_that_outlasts_its_timeout_is_cancelled() -> None:
    cleaned = asyncio.Event()

    async def slow() -> None:
        try:
            await asyncio.sleep(0)
            await asyncio.sleep(30)
        finally:
            cleaned.set()

    with pytest.raises(asyncio.TimeoutError):
        await within(slow(), 0.05)
    assert cleaned.is_set()


async def test_cancelling_the_caller_reaches_the_coroutine() -> None:
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def slow() -> None:
        await asyncio.sleep(0)
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    task = asyncio.ensure_future(within(slow(), 10.0))
    await asyncio.wait_for(started.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cancelled.is_set()


async def test_a_coroutine_may_catch_what_is_thrown_in_and_go_on() -> None:
    started = asyncio.Event()

    async def stubborn() -> str:
        await asyncio.sleep(0)
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            return "caught"
        return "slept"

    task = asyncio.ensure_future(within(stubborn(), 10.0))
    await asyncio.wait_for(started.wait(), 5)
    task.cancel()
    assert await task == "caught"


def _raise_from(callback: Any) -> None:
    try:
        callback()
    except Exception:
        log_raised(callback, "handler of %s raised", "/x")


def test_a_callback_that_keeps_raising_has_its_traceback_logged_once_in_a_while(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> None:
        raise ValueError("no")

    for _ in range(3):
        _raise_from(broken)
    _raise_from(lambda: {}["key"])  # another callback: its own first traceback
    records = [r for r in caplog.records if r.name == "dynamic_io_asgi"]
    assert [bool(r.exc_info) for r in records] == [True, False, False, True]
    assert records[0].getMessage() == "handler of /x raised"
    assert records[1].getMessage() == (
        "handler of /x raised (ValueError: no; its traceback was logged less than 10 s ago)"
    )
    monkeypatch.setattr(_tasks, "TRACEBACK_EVERY", 0.0)
    _raise_from(broken)
    assert caplog.records[-1].exc_info  # its time came again


def test_the_closures_of_one_function_share_their_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def make(n: int) -> Any:
        return lambda: 1 / n

    for n in (0, 0):
        _raise_from(make(n))
    ours = [r for r in caplog.records if r.name == "dynamic_io_asgi"]
    assert [bool(r.exc_info) for r in ours] == [True, False]
