"""The retirement task's bookkeeping (``_scheduler.RetirementScheduler``) on an
injected clock: the deadline queue, what each check looks at, and when it wakes.
No sleeping: the checks are called with the time (and the last test runs the task)."""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field
from typing import Any

import pytest

from dynamic_io_asgi._retirement import STALE_CONNECT, IdleClock, window
from dynamic_io_asgi._scheduler import BATCH, RetirementScheduler


@dataclass(eq=False)
class FakeNamespace:
    """What the scheduler reads of a namespace."""

    fullname: str
    retirement: float = 10.0
    clock: IdleClock = field(default_factory=IdleClock)
    _closed: bool = False
    _retiring: Any = None


class Server:
    """The server's side: which names have sockets, and which were asked about."""

    def __init__(self) -> None:
        self.sockets: set[str] = set()
        self.asked: list[str] = []

    def occupied(self, full: str) -> bool:
        self.asked.append(full)
        return full in self.sockets

    def moving(self, full: str) -> bool:
        return False


def scheduler(server: Server) -> tuple[RetirementScheduler, list[Any]]:
    retired: list[Any] = []
    return RetirementScheduler(server.occupied, server.moving, retired.append), retired


def watched(sched: RetirementScheduler, *namespaces: FakeNamespace) -> None:
    for nsp in namespaces:
        sched.watch(nsp)  # type: ignore[arg-type]  # no loop: the task is not started


def test_an_idle_namespace_waits_in_the_queue_until_its_deadline() -> None:
    server = Server()
    sched, _ = scheduler(server)
    nsp = FakeNamespace("//a.test/x", 10.0)
    watched(sched, nsp)
    assert sched.check_active(100.0) == []
    assert nsp.clock.idle_since == 100.0 and nsp.clock.deadline == 110.0
    assert sched.next_check(100.0) == 10.0
    assert sched.check_deadlines(109.99) == []
    assert sched.check_deadlines(110.0) == [nsp]
    assert sched.deadlines == [] and sched.next_check(110.0) is None


def test_a_namespace_with_sockets_is_forgotten_until_one_leaves() -> None:
    server = Server()
    sched, _ = scheduler(server)
    nsp = FakeNamespace("//a.test/x")
    server.sockets.add(nsp.fullname)
    watched(sched, nsp)
    assert sched.check_active(0.0) == []
    assert sched.deadlines == [] and sched.next_check(0.0) is None
    server.sockets.clear()  # the last socket leaves: the namespace's disconnect watches it
    watched(sched, nsp)
    sched.check_active(5.0)
    assert nsp.clock.deadline == 15.0


def test_a_connect_before_the_deadline_starts_the_clock_again() -> None:
    server = Server()
    sched, _ = scheduler(server)
    nsp = FakeNamespace("//a.test/x", 10.0)
    watched(sched, nsp)
    sched.check_active(0.0)
    nsp.clock.connecting(4.0)  # a CONNECT came and went, unseen by any check
    nsp.clock.arrived()
    assert sched.check_deadlines(10.0) == []
    assert nsp.clock.deadline == 20.0  # idle again from the deadline's check on
    assert sched.check_deadlines(20.0) == [nsp]


def test_a_connect_in_flight_keeps_the_namespace_active_until_it_is_stale() -> None:
    server = Server()
    sched, _ = scheduler(server)
    nsp = FakeNamespace("//a.test/x", 1.0)
    nsp.clock.connecting(0.0)  # let through, never seen by the server
    watched(sched, nsp)
    assert sched.check_active(0.5) == [] and sched.deadlines == []
    assert sched.next_check(0.5) == window(1.0) / 2  # checked every half window
    sched.check_active(STALE_CONNECT)  # taken as lost: the clock starts
    assert nsp.clock.deadline == STALE_CONNECT + 1.0


def test_a_check_costs_what_is_due_not_what_is_live() -> None:
    server = Server()
    sched, _ = scheduler(server)
    namespaces = [FakeNamespace(f"//h{i}.test/x", 60.0) for i in range(10_000)]
    watched(sched, *namespaces)
    sched.check_active(0.0)
    server.asked.clear()
    for now in (1.0, 30.0, 59.9):  # nothing due: the heap's top is enough
        assert sched.check_active(now) == [] and sched.check_deadlines(now) == []
    assert server.asked == []
    early = FakeNamespace("//early.test/x", 0.05)
    watched(sched, early)
    sched.check_active(59.9)
    assert sched.check_deadlines(59.95) == [early]
    assert server.asked == ["//early.test/x", "//early.test/x"]


def test_a_stale_queue_entry_is_skipped() -> None:
    server = Server()
    sched, _ = scheduler(server)
    nsp = FakeNamespace("//a.test/x", 10.0)
    watched(sched, nsp)
    sched.check_active(0.0)  # queued for 10.0
    server.sockets.add(nsp.fullname)
    watched(sched, nsp)
    sched.check_active(2.0)  # occupied: forgotten
    server.sockets.clear()
    watched(sched, nsp)
    sched.check_active(3.0)  # queued again, for 13.0
    assert sched.check_deadlines(10.0) == []  # the old entry
    assert sched.check_deadlines(13.0) == [nsp]


def test_closed_retiring_and_immortal_namespaces_are_dropped() -> None:
    server = Server()
    sched, _ = scheduler(server)
    closed = FakeNamespace("/closed", _closed=True)
    forever = FakeNamespace("/forever", math.inf)
    retiring = FakeNamespace("/retiring", 0.0, _retiring=object())
    watched(sched, closed, forever, retiring)
    assert sched.check_active(100.0) == []
    assert sched.deadlines == [] and sched.next_check(100.0) is None


@pytest.mark.parametrize("retirement", [0.0, 0.05])
async def test_the_task_serves_the_event_loop_between_batches(retirement: float) -> None:
    # 0: all due at the first check of the active ones; 0.05: all due at once
    # in the deadline queue. Either way others run before the last one retires.
    server = Server()
    sched, retired = scheduler(server)
    namespaces = [FakeNamespace(f"//h{i}.test/x", retirement) for i in range(4 * BATCH)]
    watched(sched, *namespaces)  # the loop runs: this starts the task
    seen: list[int] = []

    async def probe() -> None:
        while len(retired) < len(namespaces):
            seen.append(len(retired))
            await asyncio.sleep(0)

    await asyncio.wait_for(probe(), 10)
    assert sorted(map(id, retired)) == sorted(map(id, namespaces))
    assert any(0 < count < len(namespaces) for count in seen), seen[-5:]
    task = sched.stop()
    assert task is not None
    task.cancel()


def test_the_idle_clock_starts_when_the_namespace_was_watched() -> None:
    # A socket left at 95 (watch() then); the task's check comes at 100, late.
    server, now = Server(), [95.0]
    retired: list[Any] = []
    sched = RetirementScheduler(server.occupied, server.moving, retired.append, lambda: now[0])
    nsp = FakeNamespace("//a.test/x", 10.0)
    watched(sched, nsp)
    assert sched.check_active(100.0) == []
    assert nsp.clock.idle_since == 95.0 and nsp.clock.deadline == 105.0
    assert sched.check_deadlines(105.0) == [nsp]


def test_a_recheck_makes_a_forgotten_namespace_active_again_later() -> None:
    server, now = Server(), [100.0]
    sched = RetirementScheduler(server.occupied, server.moving, [].append, lambda: now[0])
    nsp = FakeNamespace("//a.test/x", 10.0)
    server.sockets.add(nsp.fullname)
    watched(sched, nsp)
    assert sched.check_active(100.0) == []  # it has sockets: forgotten
    touched = nsp.clock.touched
    now[0] = 101.0
    sched.recheck(nsp, 10.0)  # type: ignore[arg-type]
    assert nsp.clock.touched == touched  # nothing changed: the idle clock is left alone
    assert sched.next_check(100.0) is not None
    now[0] = 111.0
    server.sockets.clear()  # what it had was a socket of a closed session
    sched._active.clear()
    asyncio.run(sched._check())
    assert nsp.clock.idle_since is not None  # planned again: its clock runs


async def test_a_connecting_namespace_wakes_the_task_only_if_it_would_look_too_late() -> None:
    # A connecting namespace can't retire: the task need only look at it by the time
    # a lost CONNECT goes stale, not within half a window as for one a socket left.
    server = Server()
    sched, retired = scheduler(server)
    watched(sched, FakeNamespace("//a.test/idle", 5.0))  # starts the task; due in 5 s
    while sched.delay is None or sched.delay < 4:
        await asyncio.sleep(0)
    wake = sched._wake
    assert wake is not None and not wake.is_set()
    connecting = FakeNamespace("//a.test/new", 10.0)
    connecting.clock.connecting(0.0)
    sched.watch(connecting, within=STALE_CONNECT)  # type: ignore[arg-type]
    assert not wake.is_set()  # it looks within 5 s anyway
    watched(sched, FakeNamespace("//a.test/left", 10.0))  # a socket left: look within 0.5 s
    assert wake.is_set()
    task = sched.stop()
    assert task is not None
    task.cancel()
