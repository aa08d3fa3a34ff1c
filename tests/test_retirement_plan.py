"""The retirement decision (``dynamic_io_asgi._retirement.plan``) on an injected clock."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import InitVar, dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dynamic_io_asgi._retirement import (
    MAX_TICK,
    MIN_WINDOW,
    STALE_CONNECT,
    IdleClock,
    plan,
    window,
)

#: Slack for sums of float delays.
EPSILON = 1e-9


@dataclass
class FakeNamespace:
    """The attributes plan() reads and writes, as DynamicNamespace has them."""

    fullname: str
    retirement: float = 10.0
    inflight: InitVar[int] = 0
    last_connect: InitVar[float] = -math.inf
    clock: IdleClock = field(init=False)

    def __post_init__(self, inflight: int, last_connect: float) -> None:
        self.clock = IdleClock()
        self.clock.inflight = inflight
        self.clock.last_connect = last_connect


def nobody(fullname: str) -> bool:
    return False


def everybody(fullname: str) -> bool:
    return True


@dataclass
class Connect:
    """A CONNECT at ``at``; the socket stays until ``leaves`` (``None``: the CONNECT is lost)."""

    at: float
    leaves: float | None


def simulate(
    nsp: FakeNamespace,
    connects: Sequence[Connect] = (),
    *,
    others: Sequence[FakeNamespace] = (),
    horizon: float = 300.0,
    touches: bool = False,
) -> float | None:
    """Call plan() at t = 0 and then after every delay it returns, as the middleware's
    task does; CONNECTs happen between the checks. Returns when ``nsp`` retired.

    With ``touches``, each CONNECT and each leaving socket touches the clock at its
    instant, as the middleware's ``watch()`` does."""
    live = [nsp, *others]
    pending = sorted(connects, key=lambda c: c.at)
    now = last = 0.0
    if touches:
        nsp.clock.touched = 0.0  # created
    while now <= horizon:
        if touches:
            instants = [t for c in connects for t in (c.at, c.leaves) if t is not None]
            since = [t for t in instants if last < t <= now]
            if since:
                nsp.clock.touched = max(since)
        last = now
        while pending and pending[0].at <= now:
            connect = pending.pop(0)
            nsp.clock.last_connect = connect.at
            if connect.leaves is None:
                nsp.clock.inflight += 1  # never reaches the server's connect handler

        def occupied(fullname: str, now: float = now) -> bool:
            return fullname == nsp.fullname and any(
                c.leaves is not None and c.at <= now < c.leaves for c in connects
            )

        due, delay = plan(live, now, occupied)
        finite = [n.retirement for n in live if n.retirement != math.inf]
        expected = min([window(r) / 2 for r in finite] + [MAX_TICK]) if finite else None
        assert delay == expected
        if nsp in due:
            return now
        for retired in due:
            live.remove(retired)
        if delay is None:
            return None
        now += delay
    return None


# -- tables -------------------------------------------------------------------------


def test_nothing_to_plan() -> None:
    assert plan([], 0.0, nobody) == ([], None)


@pytest.mark.parametrize("occupied", [nobody, everybody])
def test_never_retire(occupied: Callable[[str], bool]) -> None:
    nsp = FakeNamespace("//a.test/x", math.inf)
    for now in (0.0, 10.0, 1e9):
        assert plan([nsp], now, occupied) == ([], None)
    assert nsp.clock.idle_since is None


@pytest.mark.parametrize(
    ("retirements", "delay"),
    [
        ([10.0], 0.5),
        ([0.0], MIN_WINDOW / 2),
        ([0.5], MIN_WINDOW / 2),
        ([1.0], MIN_WINDOW / 2),
        ([2.0], 0.1),
        ([30.0], 1.5),
        ([100.0], 5.0),
        ([1000.0], MAX_TICK),
        ([1e9], MAX_TICK),
        ([10.0, 30.0], 0.5),
        ([30.0, 4.0, 100.0], 0.2),
        ([math.inf, 10.0], 0.5),
        ([math.inf], None),
        ([math.inf, math.inf], None),
    ],
)
def test_delay_is_half_the_smallest_window(retirements: list[float], delay: float | None) -> None:
    namespaces = [FakeNamespace(f"/n{i}", r) for i, r in enumerate(retirements)]
    for occupied in (nobody, everybody):
        assert plan(namespaces, 0.0, occupied)[1] == delay


def test_the_delay_counts_occupied_and_connecting_namespaces() -> None:
    busy = FakeNamespace("/busy", 2.0)
    connecting = FakeNamespace("/connecting", 4.0, inflight=1, last_connect=0.0)
    idle = FakeNamespace("/idle", 100.0)
    due, delay = plan([busy, connecting, idle], 0.0, lambda full: full == "/busy")
    assert (due, delay) == ([], 0.1)


def test_the_clock_starts_when_first_seen_empty() -> None:
    nsp = FakeNamespace("//a.test/x", 10.0)
    assert plan([nsp], 3.0, nobody) == ([], 0.5)
    assert nsp.clock.idle_since == 3.0
    assert plan([nsp], 12.9, nobody) == ([], 0.5)
    assert plan([nsp], 13.0, nobody) == ([nsp], 0.5)


def test_the_clock_starts_at_the_last_touch_when_no_check_saw_it_occupied() -> None:
    nsp = FakeNamespace("//a.test/x", 10.0)
    nsp.clock.touched = 2.0  # its socket left at 2.0; the first check comes at 3.0
    assert plan([nsp], 3.0, nobody) == ([], 0.5)
    assert nsp.clock.idle_since == 2.0
    assert plan([nsp], 12.0, nobody) == ([nsp], 0.5)


def test_a_check_that_sees_it_occupied_forgets_the_touch() -> None:
    nsp = FakeNamespace("//a.test/x", 10.0)
    nsp.clock.touched = 2.0
    plan([nsp], 2.5, everybody)
    assert nsp.clock.touched is None  # it left later, unseen (a session closed, say)
    plan([nsp], 3.0, nobody)
    assert nsp.clock.idle_since == 3.0


def test_a_touch_is_not_taken_while_a_connect_is_in_flight() -> None:
    # A lost CONNECT at 1.0 (touched then) goes stale at 11.0: idle from then.
    nsp = FakeNamespace("//a.test/x", 10.0, inflight=1, last_connect=1.0)
    nsp.clock.touched = 1.0
    plan([nsp], 11.0, nobody)
    assert nsp.clock.idle_since == 11.0


def test_retirement_zero_retires_at_the_first_empty_check() -> None:
    nsp = FakeNamespace("//a.test/x", 0.0)
    assert plan([nsp], 1.0, everybody) == ([], 0.05)
    assert plan([nsp], 1.05, nobody) == ([nsp], 0.05)


def test_occupied_resets_the_clock() -> None:
    nsp = FakeNamespace("//a.test/x", 10.0)
    plan([nsp], 0.0, nobody)
    assert nsp.clock.idle_since == 0.0
    assert plan([nsp], 9.0, everybody) == ([], 0.5)
    assert nsp.clock.idle_since is None
    assert plan([nsp], 10.0, nobody) == ([], 0.5)
    assert nsp.clock.idle_since == 10.0
    assert plan([nsp], 19.9, nobody)[0] == []
    assert plan([nsp], 20.0, nobody)[0] == [nsp]


def test_a_connect_in_flight_blocks_until_it_is_stale() -> None:
    nsp = FakeNamespace("//a.test/x", 1.0, inflight=1, last_connect=5.0)
    for now in (5.0, 6.0, 14.99):
        assert plan([nsp], now, nobody)[0] == []
        assert nsp.clock.idle_since is None
    # taken as lost from here on: the clock starts
    assert plan([nsp], 5.0 + STALE_CONNECT, nobody)[0] == []
    assert nsp.clock.idle_since == 5.0 + STALE_CONNECT
    assert plan([nsp], 6.0 + STALE_CONNECT, nobody)[0] == [nsp]


def test_a_connect_in_flight_stops_a_running_clock() -> None:
    nsp = FakeNamespace("//a.test/x", 1.0)
    plan([nsp], 0.0, nobody)
    nsp.clock.inflight, nsp.clock.last_connect = 1, 0.9
    assert plan([nsp], 1.0, nobody)[0] == []
    assert nsp.clock.idle_since is None


def test_a_connect_after_the_clock_started_restarts_it() -> None:
    # The CONNECT came and its socket left between two checks: never seen occupied.
    nsp = FakeNamespace("//a.test/x", 10.0)
    plan([nsp], 0.0, nobody)
    nsp.clock.last_connect = 4.2
    assert plan([nsp], 4.5, nobody)[0] == []
    assert nsp.clock.idle_since == 4.5
    assert plan([nsp], 10.0, nobody)[0] == []
    assert plan([nsp], 14.5, nobody)[0] == [nsp]


def test_a_connect_at_the_instant_the_clock_started_restarts_it() -> None:
    nsp = FakeNamespace("//a.test/x", 10.0)
    plan([nsp], 5.0, nobody)
    nsp.clock.last_connect = 5.0
    plan([nsp], 5.5, nobody)
    assert nsp.clock.idle_since == 5.5


def test_a_connect_before_the_clock_started_does_not_restart_it() -> None:
    nsp = FakeNamespace("//a.test/x", 10.0, last_connect=1.0)
    plan([nsp], 2.0, nobody)
    assert plan([nsp], 12.0, nobody)[0] == [nsp]


def test_only_due_namespaces_are_returned() -> None:
    soon = FakeNamespace("/soon", 1.0)
    late = FakeNamespace("/late", 5.0)
    busy = FakeNamespace("/busy", 0.0)
    forever = FakeNamespace("/forever", math.inf)
    namespaces = [soon, late, busy, forever]
    occupied = {"/busy"}.__contains__
    plan(namespaces, 0.0, occupied)
    assert plan(namespaces, 1.0, occupied) == ([soon], 0.05)
    assert plan(namespaces, 5.0, occupied) == ([soon, late], 0.05)
    assert forever.clock.idle_since is None and busy.clock.idle_since is None


# -- simulations --------------------------------------------------------------------


@pytest.mark.parametrize("retirement", [0.0, 0.3, 1.0, 2.5, 10.0, 45.0, 60.0, 120.0])
def test_retires_within_its_window_after_it_empties(retirement: float) -> None:
    nsp = FakeNamespace("//a.test/x", retirement)
    connects = [Connect(0.0, 7.3)]
    retired = simulate(nsp, connects)
    assert retired is not None
    assert 7.3 + retirement <= retired <= 7.3 + retirement + window(retirement) + EPSILON


@pytest.mark.parametrize("retirement", [0.3, 1.0, 10.0, 60.0])
def test_touched_retires_within_a_tick_of_the_deadline(retirement: float) -> None:
    nsp = FakeNamespace("//a.test/x", retirement)
    retired = simulate(nsp, [Connect(0.0, 7.3)], touches=True)
    assert retired is not None
    assert 7.3 + retirement <= retired <= 7.3 + retirement + window(retirement) / 2 + EPSILON


def test_a_lost_connect_delays_retirement_by_stale_connect() -> None:
    nsp = FakeNamespace("//a.test/x", 2.0)
    retired = simulate(nsp, [Connect(1.0, None)])
    assert retired is not None
    earliest = 1.0 + STALE_CONNECT + 2.0
    assert earliest <= retired <= earliest + window(2.0) + EPSILON


def test_a_connect_restarts_a_running_clock() -> None:
    nsp = FakeNamespace("//a.test/x", 10.0)
    # empty from t = 0; a socket comes and goes within one check interval at t = 8
    retired = simulate(nsp, [Connect(8.01, 8.02)])
    assert retired is not None
    assert 8.02 + 10.0 <= retired <= 8.02 + 10.0 + window(10.0) + EPSILON


@st.composite
def connect_histories(draw: st.DrawFn) -> list[Connect]:
    """Sockets coming and going (possibly faster than the checks), and maybe a lost CONNECT."""
    connects = []
    now = draw(st.floats(0.0, 5.0))
    for _ in range(draw(st.integers(0, 6))):
        stay = draw(st.floats(0.001, 5.0))
        connects.append(Connect(now, now + stay))
        now += stay + draw(st.floats(0.0, 5.0))
    if draw(st.booleans()):
        connects.append(Connect(draw(st.floats(0.0, now + 5.0)), None))
    return connects


retirements = st.floats(0.0, 40.0) | st.sampled_from([0.0, 1.0, 10.0, 30.0])


@settings(max_examples=300, deadline=None)
@given(
    retirements,
    connect_histories(),
    st.lists(retirements | st.just(math.inf), max_size=2),
    st.booleans(),
)
def test_retires_between_retirement_and_retirement_plus_window(
    retirement: float, connects: list[Connect], others: list[float], touches: bool
) -> None:
    """docs/design.md §6: deleted between ``retirement`` and ``retirement + window`` after the
    namespace became empty, never while a CONNECT to it is in flight (until that
    CONNECT is stale), whatever else is checked alongside.

    CONNECTs after the deletion don't count: they would create a new namespace.
    """
    nsp = FakeNamespace("//a.test/x", retirement)
    other_namespaces = [FakeNamespace(f"/other{i}", r) for i, r in enumerate(others)]
    retired = simulate(nsp, connects, others=other_namespaces, touches=touches)
    assert retired is not None
    before = [c for c in connects if c.at <= retired]
    empty_from = max((c.leaves or 0.0 for c in before), default=0.0)
    if any(c.leaves is None for c in before):
        empty_from = max(empty_from, max(c.at for c in before) + STALE_CONNECT)
    assert empty_from + retirement <= retired + EPSILON
    assert retired <= empty_from + retirement + window(retirement) + EPSILON
