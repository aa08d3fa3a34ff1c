"""Namespaces on demand and their retirement: the component of ``DynamicIO``
(``app.registry``) that keeps the namespace objects (docs/design.md §5, §6, §9)."""

from __future__ import annotations

import asyncio
import heapq
import inspect
import itertools
import logging
import math
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import socketio

from . import _retirement
from ._hosts import BadHost, fullname, normalize_host, split_fullname
from ._metrics import Histogram
from ._namespace import DynamicNamespace
from ._packets import CONNECT_ERROR
from ._session import INVALID_NAMESPACE, MARK_BINARY, MARK_TEXT, Session

__all__ = ["NamespaceRegistry", "NamespaceRejected"]

logger = logging.getLogger("dynamic_io_asgi")

#: A lifecycle hook: ``(nsp)`` for create and retire, ``(fullname, host, reason)`` for refuse.
Hook = Callable[..., Any]
SetupCallback = Callable[[DynamicNamespace, "re.Match[str]"], Any]
_ANY = re.compile(r".*", re.S)


#: Why a CONNECT was refused: no setup matched (or setup returned ``False``),
#: setup raised ``ConnectionRefusedError``, setup raised anything else, a limit,
#: setup outlasted ``setup_timeout``.
REASONS = ("invalid", "rejected", "error", "limit", "timeout")
TOO_MANY_NAMESPACES = {"message": "Too many namespaces"}
NAME_TOO_LONG = {"message": "Namespace name too long"}
#: How long an async ``on_retire`` callback may run before retirement goes on without it.
ON_RETIRE_TIMEOUT = 10.0


class NamespaceRejected(Exception):
    """``of()`` could not create a namespace: no setup matched, or setup refused it.

    :attr:`error_args` is what a client would have received in its CONNECT_ERROR;
    :attr:`reason` one of ``"invalid"``, ``"rejected"``, ``"error"``, ``"limit"``,
    ``"timeout"``.
    """

    def __init__(self, fullname: str, error_args: dict[str, Any], reason: str = "invalid") -> None:
        super().__init__(f"namespace {fullname!r} rejected: {error_args.get('message')}")
        self.fullname = fullname
        self.error_args = error_args
        self.reason = reason


class NamespaceRegistry:
    """The namespace objects of one middleware, their setup, limits and retirement.

    :param sio: the wrapped server, whose handler tables the namespaces enter.
    :param retirement: seconds a namespace created for a client stays once empty.
    :param setup_timeout: seconds an async setup may take (``None``: no limit).
    :param is_main: whether a normalised host name is the main host.
    :param max_name_length: the other limits, ``None`` for none (see ``DynamicIO``).

    Options are taken as given: ``DynamicIO`` checks them.
    """

    def __init__(
        self,
        sio: socketio.AsyncServer,
        *,
        retirement: float,
        setup_timeout: float | None,
        is_main: Callable[[str], bool],
        max_name_length: int | None = None,
        max_namespaces_per_session: int | None = None,
        max_namespaces_per_host: int | None = None,
        max_namespaces: int | None = None,
    ) -> None:
        self.sio = sio
        self.retirement = retirement
        self.setup_timeout = setup_timeout
        self._is_main = is_main
        self.max_name_length = max_name_length
        self.max_namespaces_per_session = max_namespaces_per_session
        self.max_namespaces_per_host = max_namespaces_per_host
        self.max_namespaces = max_namespaces
        self._exact: dict[str, tuple[SetupCallback, str]] = {}
        self._patterns: list[tuple[re.Pattern[str], SetupCallback, str]] = []
        self._namespaces: dict[str, DynamicNamespace] = {}
        self._creating: dict[str, asyncio.Future[DynamicNamespace]] = {}
        # CONNECTs waiting for a namespace to be created, by full name.
        self._admitting: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._delay: float | None = None  # how long the retirement task sleeps
        # Namespaces the retirement task checks every tick (they just changed),
        # the deadline queue of those whose idle clock runs, and the tick.
        self._active: dict[str, DynamicNamespace] = {}
        self._deadlines: list[tuple[float, int, DynamicNamespace]] = []
        self._order = itertools.count()
        self._tick: float | None = None
        #: Counters for the status page: namespaces created and retired since start.
        self.created = 0
        self.retired = 0
        #: CONNECTs refused since start, by reason (see ``REASONS``).
        self.refused: dict[str, int] = dict.fromkeys(REASONS, 0)
        # Live (and being created) namespace objects of each host, not static ones.
        self._per_host: dict[str | None, int] = {}
        self._live = 0
        self._retiring_tasks: set[asyncio.Task[None]] = set()
        self._hooks: dict[str, list[Hook]] = {"create": [], "retire": [], "refuse": []}
        self._hook_tasks: set[asyncio.Future[None]] = set()
        #: How long setup callbacks took, and how late after its deadline each
        #: namespace was deleted (for the metrics).
        self.setup_seconds = Histogram()
        self.retirement_delay = Histogram()

    def setup_namespace(
        self, pattern: str | re.Pattern[str], callback: SetupCallback | None = None
    ) -> Any:
        """Register ``callback(nsp, match)`` to set up namespaces matching ``pattern``.

        ``pattern`` is an exact full name (``"/chat"`` on the main host,
        ``"//host/chat"`` on another), ``"*"`` for any name, or a compiled
        regex searched in the full name. An exact name wins, otherwise the
        most recently registered matching pattern. The callback may be a
        coroutine function; returning ``False`` rejects the namespace. Without
        ``callback``, returns a decorator.
        """
        if callable(pattern):
            raise TypeError(
                "setup_namespace: pass the pattern first: use it as"
                " @app.setup_namespace('*') (with parentheses), or call"
                " app.setup_namespace('*', callback)"
            )
        exact: str | None = None
        regex = _ANY
        if isinstance(pattern, re.Pattern):
            regex = pattern
        elif isinstance(pattern, str) and pattern.startswith("/"):
            name, host = split_fullname(pattern)
            if host is not None:
                try:
                    host = normalize_host(host)
                except BadHost as exc:
                    raise ValueError(f"setup_namespace: bad host in {pattern!r}: {exc}") from None
            exact = fullname(name, host)
        elif pattern != "*":
            raise ValueError(
                "setup_namespace: pattern must be '*', a full name starting with '/'"
                f" or a compiled regex, not {pattern!r}"
            )
        label = pattern.pattern if isinstance(pattern, re.Pattern) else pattern

        def register(callback: SetupCallback) -> SetupCallback:
            if not callable(callback):
                raise TypeError("setup_namespace: callback must be callable")
            if exact is not None:
                self._exact[exact] = (callback, label)
            else:
                self._patterns.append((regex, callback, label))
            return callback

        return register if callback is None else register(callback)

    # -- namespaces ---------------------------------------------------------------

    @property
    def namespaces(self) -> dict[str, DynamicNamespace]:
        """The live namespace objects by full name (a copy)."""
        return dict(self._namespaces)

    async def of(self, name: str, host: str | None = None) -> DynamicNamespace:
        """The namespace ``name`` of ``host`` (``None``: the main host), created and set up
        if needed. ``name`` may also be a full name (``"//host/chat"``).

        A namespace created here never retires unless its ``retirement`` is set.
        Raises :class:`NamespaceRejected` when its setup refuses it.
        """
        if not name.startswith("/"):
            name = "/" + name
        if host is None and name.startswith("//"):
            name, host = split_fullname(name)
        if host is not None:
            host = normalize_host(host)
            if self._is_main(host):
                host = None
        return await self._ensure(name, host, auto=False)

    def _is_static(self, full: str) -> bool:
        """Whether the application registered ``full`` on the server itself.

        A name in the server's ``namespaces`` list counts too, except ``/``:
        python-socketio lists it by default, and setup applies to it."""
        sio = self.sio
        return (
            full in sio.handlers
            or full in sio.namespace_handlers
            or (full != "/" and sio.namespaces != "*" and full in sio.namespaces)
        )

    def _passes_through(self, full: str) -> bool:
        """Whether a CONNECT to ``full`` goes to the server as without the middleware:
        a static name, or the main host's ``/`` when no setup matches it."""
        return self._is_static(full) or (
            full == "/" and self._admits_empty("/") and self._find_setup(full) is None
        )

    def _admits_empty(self, name: str) -> bool:
        """Whether a client's ``name`` with no setup is admitted as an empty namespace,
        as python-socketio admits it: any name with ``namespaces="*"``, and ``/``
        while the server's ``namespaces`` list it (the default)."""
        namespaces = self.sio.namespaces
        return namespaces == "*" or (name == "/" and "/" in namespaces)

    def _find_setup(self, full: str) -> tuple[SetupCallback, re.Match[str], str] | None:
        exact = self._exact.get(full)
        if exact is not None:
            return exact[0], _full_match(full), exact[1]
        for regex, callback, label in reversed(self._patterns):
            found = regex.search(full)
            if found is not None:
                return callback, found, label
        return None

    async def admit(self, session: Session, name: str) -> dict[str, Any] | None:
        """Decide a client's CONNECT to ``name``; error args to refuse it."""
        try:
            self._check_session_limits(session, name)
            await self._admit_to(session, name)
        except NamespaceRejected as exc:
            self._count_refusal(exc.fullname, session.host, exc.reason)
            return exc.error_args
        return None

    def _count_refusal(self, full: str, host: str | None, reason: str) -> None:
        self.refused[reason] += 1
        self._fire("refuse", full, host, reason)

    # -- hooks ----------------------------------------------------------------------

    def on_create(self, callback: Hook) -> Hook:
        """Call ``callback(nsp)`` (sync or async) for every namespace created, once its
        setup succeeded and before the CONNECT that asked for it goes on."""
        return self._hook("create", callback)

    def on_retire(self, callback: Hook) -> Hook:
        """Call ``callback(nsp)`` for every namespace deleted, after its own
        ``on_retire`` callbacks."""
        return self._hook("retire", callback)

    def on_refuse(self, callback: Hook) -> Hook:
        """Call ``callback(fullname, host, reason)`` for every CONNECT refused; ``reason``
        is ``"invalid"``, ``"rejected"``, ``"error"``, ``"limit"`` or ``"timeout"``."""
        return self._hook("refuse", callback)

    def _hook(self, kind: str, callback: Hook) -> Hook:
        if not callable(callback):
            raise TypeError(f"on_{kind}: pass a callable (usable as a decorator)")
        self._hooks[kind].append(callback)
        return callback

    def _fire(self, kind: str, *args: Any) -> None:
        """Run the ``kind`` hooks: a sync one now, an async one in a task of its own
        (it delays nothing but itself); one that raises is logged."""
        for hook in self._hooks[kind]:
            try:
                result = hook(*args)
                if inspect.isawaitable(result):
                    task = asyncio.ensure_future(_logged(result, kind))
                    self._hook_tasks.add(task)
                    task.add_done_callback(self._hook_tasks.discard)
            except Exception:
                logger.exception("on_%s hook %r raised", kind, hook)

    async def _admit_to(self, session: Session, name: str) -> None:
        full = fullname(name, session.host)
        nsp = self._namespaces.get(full)
        if nsp is None or nsp._retiring is not None:
            if full not in self._namespaces and self._passes_through(full):
                self._count_in_session(session, name)
                return
            # Until this CONNECT counts as in flight, it keeps the name occupied:
            # the new namespace must not retire before this task resumes.
            self._admitting[full] = self._admitting.get(full, 0) + 1
            try:
                nsp = await self._ensure(name, session.host, auto=True)
            except asyncio.CancelledError:
                if _cancelling():
                    raise
                # The setup was cancelled (shutdown), not this CONNECT: refuse it.
                raise NamespaceRejected(full, INVALID_NAMESPACE, "error") from None
            finally:
                self._admitting[full] -= 1
                if not self._admitting[full]:
                    del self._admitting[full]
        if not nsp.static:
            nsp._inflight += 1
            nsp._last_connect = time.monotonic()
            self.watch(nsp)
        self._count_in_session(session, name)

    def _count_in_session(self, session: Session, name: str) -> None:
        # Kept only under a limit, which also bounds it (see _check_session_limits).
        if self.max_namespaces_per_session is not None:
            session.admitted[name] = time.monotonic()

    def _check_session_limits(self, session: Session, name: str) -> None:
        """Refuse a CONNECT over ``max_name_length`` or ``max_namespaces_per_session``."""
        full = fullname(name, session.host)
        if self.max_name_length is not None and len(name) > self.max_name_length:
            raise NamespaceRejected(full, NAME_TOO_LONG, "limit")
        limit = self.max_namespaces_per_session
        admitted = session.admitted
        if limit is None or name in admitted or len(admitted) < limit:
            return
        # Forget the namespaces this session left (or was refused) before counting.
        manager, eio_sid, now = self.sio.manager, session.eio_sid, time.monotonic()
        for known, since in list(admitted.items()):
            if since is not None and now - since < _retirement.STALE_CONNECT:
                continue  # on its way to the server
            if manager.sid_from_eio_sid(eio_sid, fullname(known, session.host)) is None:
                del admitted[known]  # left, refused, or lost on its way
        if len(admitted) >= limit:
            raise NamespaceRejected(full, TOO_MANY_NAMESPACES, "limit")

    def _check_namespace_limits(self, host: str | None, full: str) -> None:
        """Refuse a new namespace over ``max_namespaces_per_host`` or ``max_namespaces``."""
        per_host = self.max_namespaces_per_host
        if per_host is not None and self._per_host.get(host, 0) >= per_host:
            raise NamespaceRejected(full, TOO_MANY_NAMESPACES, "limit")
        if self.max_namespaces is not None and self._live >= self.max_namespaces:
            raise NamespaceRejected(full, TOO_MANY_NAMESPACES, "limit")

    def host_count(self, host: str | None) -> int:
        """How many namespace objects ``host`` has (being set up included, static ones not)."""
        return self._per_host.get(host, 0)

    def _count(self, host: str | None, change: int) -> None:
        count = self._per_host.get(host, 0) + change
        if count:
            self._per_host[host] = count
        else:
            self._per_host.pop(host, None)
        self._live += change

    async def _ensure(self, name: str, host: str | None, *, auto: bool) -> DynamicNamespace:
        full = fullname(name, host)
        while True:
            nsp = self._namespaces.get(full)
            if nsp is None:
                break
            if nsp._retiring is None:
                return nsp
            await asyncio.shield(nsp._retiring)
        creating = self._creating.get(full)
        if creating is None:
            counted = not self._passes_through(full)  # static ones are not counted
            if counted:
                if auto:  # a client's CONNECT, not server code's of()
                    # Checked and counted with no await in between: concurrent first
                    # CONNECTs to different names can't all slip under a limit.
                    self._check_namespace_limits(host, full)
                self._count(host, 1)
            creating = asyncio.ensure_future(self._create(name, host, full, auto=auto))
            self._creating[full] = creating
            creating.add_done_callback(lambda done: self._created(full, host, counted, done))
        return await asyncio.shield(creating)

    def _created(
        self, full: str, host: str | None, counted: bool, done: asyncio.Future[DynamicNamespace]
    ) -> None:
        """A creation ended: forget it, and give its place back unless it made a
        (non-static) namespace object."""
        self._creating.pop(full, None)
        if counted and (done.cancelled() or done.exception() is not None or done.result().static):
            self._count(host, -1)

    async def _create(
        self, name: str, host: str | None, full: str, *, auto: bool
    ) -> DynamicNamespace:
        if self._passes_through(full):
            nsp = DynamicNamespace(self, name, host, full, _full_match(full), None, static=True)
            self._namespaces[full] = nsp
            return nsp
        found = self._find_setup(full)
        if found is None and auto and not self._admits_empty(name):
            raise NamespaceRejected(full, INVALID_NAMESPACE)
        callback, match, label = found if found else (None, _full_match(full), None)
        nsp = DynamicNamespace(self, name, host, full, match, label)
        # The main host's "/" is there from the start in python-socketio: it
        # stays unless its setup gives it a retirement.
        nsp._retirement = self.retirement if auto and full != "/" else math.inf
        if callback is not None:
            nsp._setting_up = True
            try:
                await self._run_setup(nsp, callback, match)
            finally:
                nsp._setting_up = False
        if nsp._closed:  # setup called close(): the namespace never comes to be
            raise NamespaceRejected(full, INVALID_NAMESPACE)
        nsp._install()
        self._namespaces[full] = nsp
        self.created += 1
        self.watch(nsp)
        self._fire("create", nsp)
        return nsp

    async def _run_setup(
        self, nsp: DynamicNamespace, callback: SetupCallback, match: re.Match[str]
    ) -> None:
        started = time.monotonic()
        try:
            result = callback(nsp, match)
            if inspect.isawaitable(result):
                result = await _within(result, self.setup_timeout)
        except socketio.exceptions.ConnectionRefusedError as exc:
            raise NamespaceRejected(nsp.fullname, exc.error_args, "rejected") from None
        except asyncio.TimeoutError:
            logger.error(
                "setup of %s took longer than %ss: refused", nsp.fullname, self.setup_timeout
            )
            raise NamespaceRejected(nsp.fullname, INVALID_NAMESPACE, "timeout") from None
        except asyncio.CancelledError:
            if _cancelling():  # shutdown (aclose), not the setup's own doing
                raise
            logger.error("setup of %s raised CancelledError: refused", nsp.fullname)
            raise NamespaceRejected(nsp.fullname, INVALID_NAMESPACE, "error") from None
        except (Exception, SystemExit):
            # SystemExit too: one tenant's setup must not stop the server.
            logger.exception("setup of %s raised: refused", nsp.fullname)
            raise NamespaceRejected(nsp.fullname, INVALID_NAMESPACE, "error") from None
        finally:
            self.setup_seconds.observe(time.monotonic() - started)
        if result is False:
            raise NamespaceRejected(nsp.fullname, INVALID_NAMESPACE)

    async def refuse(self, session: Session, name: str, error_args: dict[str, Any]) -> None:
        """Answer a refused CONNECT with CONNECT_ERROR, in the client's own names."""
        if name.startswith("//"):  # refused by the session itself: another host's name
            self._count_refusal(name, session.host, "invalid")
        if session.eio_sid is None:
            return
        encoded = self.sio.packet_class(CONNECT_ERROR, data=error_args, namespace=name).encode()
        marked = MARK_BINARY + encoded if isinstance(encoded, bytes) else MARK_TEXT + encoded
        try:
            await self.sio.eio.send(session.eio_sid, marked)
        except Exception:  # the session went away meanwhile
            logger.debug("could not refuse %s on %s", name, session.eio_sid, exc_info=True)

    # -- retirement ---------------------------------------------------------------

    def watch(self, nsp: DynamicNamespace) -> None:
        """Have the retirement task look at ``nsp`` at its next check: it was created,
        a CONNECT to it came in, a socket left it, or its retirement changed.

        The task checks only such namespaces every tick; one whose idle clock
        runs waits in a deadline queue until it is due, and one with sockets
        is forgotten until a socket leaves it. So a tick costs what is due or
        just happened, not what is live."""
        if nsp.retirement == math.inf or nsp._closed:
            return
        self._active[nsp.fullname] = nsp
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if self._task is None or self._task.done():
            self._wake = asyncio.Event()
            self._task = loop.create_task(self._retire_loop(), name="dynamic_io_asgi retirement")
        elif self._wake is not None and (
            self._delay is None or _retirement.window(nsp.retirement) / 2 < self._delay
        ):
            # Only when it would otherwise look too late: not for every CONNECT.
            self._wake.set()

    def _occupied(self, full: str) -> bool:
        manager = self.sio.manager
        return (
            full in manager.rooms or full in manager.pending_disconnect or full in self._admitting
        )

    async def _retire_loop(self) -> None:
        assert self._wake is not None
        while True:
            now = time.monotonic()
            due = self._check_active(now) + self._check_deadlines(now)
            for nsp in due:
                # Each in a task of its own, so that a slow on_retire callback
                # delays no other retirement. Marked retiring now (no await
                # since the plan), so that no CONNECT slips in before the task runs.
                task = asyncio.get_running_loop().create_task(
                    self._finish_retiring(nsp, self._mark_retiring(nsp))
                )
                self._retiring_tasks.add(task)
                task.add_done_callback(self._retiring_tasks.discard)
            self._wake.clear()
            delay = self._delay = self._next_check(time.monotonic())
            if delay is None:
                await self._wake.wait()
            else:
                try:
                    await asyncio.wait_for(self._wake.wait(), delay)
                except asyncio.TimeoutError:
                    pass

    def _check_active(self, now: float) -> list[DynamicNamespace]:
        """Plan the namespaces that just changed; move those whose idle clock runs to
        the deadline queue, forget those that have sockets; the ones due."""
        active = list(self._active.values())
        due, self._tick = _retirement.plan(active, now, self._occupied)
        due_ids = set(map(id, due))
        due_ones = [nsp for nsp in active if id(nsp) in due_ids and nsp._retiring is None]
        rooms, pending = self.sio.manager.rooms, self.sio.manager.pending_disconnect
        for nsp in active:
            full = nsp.fullname
            if (
                id(nsp) in due_ids
                or nsp._closed
                or nsp._retiring is not None
                or nsp.retirement == math.inf
            ):
                del self._active[full]
            elif nsp._idle_since is not None:  # its clock runs: wait for its deadline
                del self._active[full]
                self._queue(nsp, nsp._idle_since + nsp.retirement)
            elif full in rooms and full not in pending and full not in self._admitting:
                if not nsp._inflight or now - nsp._last_connect >= _retirement.STALE_CONNECT:
                    del self._active[full]  # it has sockets: a leaving one brings it back
        return due_ones

    def _queue(self, nsp: DynamicNamespace, deadline: float) -> None:
        nsp._deadline = deadline
        heapq.heappush(self._deadlines, (deadline, next(self._order), nsp))

    def _check_deadlines(self, now: float) -> list[DynamicNamespace]:
        """Plan the namespaces whose deadline came; the ones due."""
        due: list[DynamicNamespace] = []
        deadlines = self._deadlines
        while deadlines and deadlines[0][0] <= now:
            deadline, _, nsp = heapq.heappop(deadlines)
            if deadline != nsp._deadline or nsp.fullname in self._active:
                continue  # a stale entry, or one the active checks have again
            nsp._deadline = None
            if nsp._closed or nsp._retiring is not None:
                continue
            if _retirement.plan([nsp], now, self._occupied)[0]:
                due.append(nsp)
            elif nsp._idle_since is not None:
                self._queue(nsp, nsp._idle_since + nsp.retirement)
            else:  # occupied or connecting after all
                self._active[nsp.fullname] = nsp
        return due

    def _next_check(self, now: float) -> float | None:
        """Seconds until the retirement task must look again; ``None``: not before
        something changes."""
        delays = []
        if self._active and self._tick is not None:
            delays.append(self._tick)
        if self._deadlines:
            delays.append(max(0.0, self._deadlines[0][0] - now))
        return min(delays) if delays else None

    async def retire(self, nsp: DynamicNamespace, *, disconnect: bool = False) -> None:
        if nsp._closed:
            return
        if nsp._setting_up:
            # close() inside the namespace's own setup: it refuses the namespace
            # (_create sees this), which has nothing installed to remove yet.
            nsp._closed = True
            return
        if nsp._retiring is not None:
            await asyncio.shield(nsp._retiring)
            return
        await self._finish_retiring(nsp, self._mark_retiring(nsp), disconnect=disconnect)

    def _mark_retiring(self, nsp: DynamicNamespace) -> asyncio.Future[None]:
        """Mark ``nsp`` as retiring: new CONNECTs to its name wait for the end of
        the retirement, then create a new namespace object."""
        retiring = nsp._retiring = asyncio.get_running_loop().create_future()
        return retiring

    async def _finish_retiring(
        self, nsp: DynamicNamespace, retiring: asyncio.Future[None], *, disconnect: bool = False
    ) -> None:
        try:
            if disconnect:
                for sid in nsp.sockets:
                    await self.sio.disconnect(sid, namespace=nsp.fullname)
            for callback in nsp._retire_callbacks:
                await _run_retire_callback(nsp, callback)
            nsp._uninstall()
            nsp._closed = True
            if self._namespaces.get(nsp.fullname) is nsp:
                del self._namespaces[nsp.fullname]
            self._count(nsp.host, -1)
            self.retired += 1
            if not disconnect and nsp._idle_since is not None:  # retired by the clock
                late = time.monotonic() - nsp._idle_since - nsp.retirement
                self.retirement_delay.observe(max(0.0, late))
            logger.debug("retired %s", nsp.fullname)
            self._fire("retire", nsp)
        except BaseException:
            # Interrupted (the caller of close() was cancelled, or shutdown):
            # the namespace was not deleted, so it stays live. A done
            # _retiring on a live namespace would make _ensure() spin.
            nsp._retiring = None
            self.watch(nsp)
            raise
        finally:
            retiring.set_result(None)

    async def aclose(self) -> None:
        """Stop the retirement task and any setup still running (lifespan shutdown
        does this for you)."""
        tasks = [
            task
            for task in (
                self._task,
                *self._creating.values(),
                *self._retiring_tasks,
                *self._hook_tasks,
            )
            if task is not None
        ]
        self._task = None
        for task in tasks:
            task.cancel()
        for task in tasks:
            try:
                await task
            except (asyncio.CancelledError, NamespaceRejected):
                pass


def _full_match(full: str) -> re.Match[str]:
    match = re.match(re.escape(full), full)
    assert match is not None
    return match


async def _awaitable(value: Awaitable[Any]) -> Any:
    return await value


async def _within(awaitable: Awaitable[Any], timeout: float | None) -> Any:
    """``await awaitable`` for at most ``timeout`` seconds (``asyncio.TimeoutError``).

    In the current task, not another (as ``wait_for`` runs it before Python
    3.12): a task lets ``SystemExit`` out to the event loop, which stops."""
    if hasattr(asyncio, "timeout"):  # Python 3.11+
        async with asyncio.timeout(timeout):
            return await awaitable
    return await asyncio.wait_for(_awaitable(awaitable), timeout)  # pragma: no cover


async def _run_retire_callback(nsp: DynamicNamespace, callback: Any) -> None:
    """Run one ``on_retire`` callback: one that raises is logged, one that outlasts
    ``ON_RETIRE_TIMEOUT`` is logged and left behind."""
    try:
        result = callback(nsp)
        if inspect.isawaitable(result):
            await _within(result, ON_RETIRE_TIMEOUT)
    except asyncio.TimeoutError:
        logger.error(
            "on_retire callback of %s took longer than %ss: retired without it",
            nsp.fullname,
            ON_RETIRE_TIMEOUT,
        )
    except (Exception, SystemExit):
        logger.exception("on_retire callback of %s raised", nsp.fullname)


async def _logged(awaitable: Awaitable[Any], kind: str) -> None:
    try:
        await awaitable
    except Exception:
        logger.exception("on_%s hook raised", kind)


def _cancelling() -> bool:
    """Whether the current task is being cancelled (rather than handed a
    ``CancelledError`` that some callback raised)."""
    task = asyncio.current_task()
    cancelling = getattr(task, "cancelling", None)  # Python 3.11+
    if cancelling is None:
        return True  # can't tell: take it as a cancellation
    return bool(cancelling())
