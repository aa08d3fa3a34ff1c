"""Namespaces on demand and their retirement: the component of ``DynamicIO``
(``app.registry``) that keeps the namespace objects (docs/design.md §5, §6, §9).

It decides; it does not speak the wire: a refused CONNECT comes back to the
session as error args, which the session sends as CONNECT_ERROR.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import Callable
from typing import Any

import socketio
from bidict import bidict

from . import _retirement
from ._deletion import Deletion
from ._hooks import Hook, Hooks
from ._hosts import fullname, normalize_host, split_fullname
from ._index import NamespaceIndex
from ._limits import Limits
from ._metrics import Histogram
from ._namespace import DynamicNamespace
from ._occupancy import Occupancy
from ._scheduler import RetirementScheduler
from ._session import Session, session_of
from ._setup import REASONS, NamespaceRejected, SetupCallback, SetupTable, run_setup
from ._tasks import cancelling
from ._wire import INVALID_NAMESPACE

__all__ = ["Hook", "NamespaceRegistry", "NamespaceRejected", "SetupCallback"]

#: Static names remembered for the status page (the application's own: a few).
_MAX_STATICS = 10_000


class NamespaceRegistry:
    """The namespace objects of one middleware, their setup, limits and retirement.

    :param sio: the wrapped server, whose handler tables the namespaces enter.
    :param retirement: seconds a namespace created for a client stays once empty.
    :param setup_timeout: seconds an async setup may take (``None``: no limit).
    :param is_main: whether a normalised host name is the main host.
    :param limits: the limits on what clients may create (default: none).

    Options are taken as given: ``DynamicIO`` checks them.
    """

    def __init__(
        self,
        sio: socketio.AsyncServer,
        *,
        retirement: float,
        setup_timeout: float | None,
        is_main: Callable[[str], bool],
        limits: Limits | None = None,
    ) -> None:
        self.sio = sio
        self.retirement = retirement
        self.setup_timeout = setup_timeout
        self._is_main = is_main
        #: The limits, and the per-host counts they are checked against.
        self.limits = limits or Limits(sio.manager)
        #: The setup callbacks by pattern.
        self.setups = SetupTable()
        #: The lifecycle hooks.
        self.hooks = Hooks()
        #: The live namespace objects, by host.
        self.index = NamespaceIndex()
        #: Takes namespaces off the server.
        self.deletion = Deletion(sio, self.index, self.limits, self.hooks, self.watch)
        #: Whether the server holds a namespace occupied.
        self.occupancy = Occupancy(sio)
        #: The retirement task and its deadline queue.
        self.scheduler = RetirementScheduler(
            self.occupancy.occupied, self.occupancy.moving, self.deletion.due
        )
        #: Full names of static namespaces that clients reached.
        self.statics: set[str] = set()
        # Namespaces being created: the task creating each, and the result that other
        # CONNECTs to it wait for (made by the first of them).
        self._creating: dict[str, asyncio.Task[Any] | None] = {}
        self._waiters: dict[str, asyncio.Future[DynamicNamespace]] = {}
        # CONNECTs waiting for a namespace to be created, by full name.
        self._admitting = self.occupancy.admitting
        #: Namespaces created since start (for the status page).
        self.created = 0
        #: CONNECTs refused since start, by reason (see ``REASONS``).
        self.refused: dict[str, int] = dict.fromkeys(REASONS, 0)
        #: How long setup callbacks took (for the metrics).
        self.setup_seconds = Histogram()

    def setup_namespace(
        self, pattern: str | re.Pattern[str], callback: SetupCallback | None = None
    ) -> Any:
        """Register ``callback(nsp, match)`` for ``pattern``; see ``DynamicIO.setup_namespace``."""
        return self.setups.add(pattern, callback)

    @property
    def namespaces(self) -> dict[str, DynamicNamespace]:
        """The live namespace objects by full name (a copy)."""
        return self.index.all()

    async def of(self, name: str, host: str | None = None) -> DynamicNamespace:
        """The namespace ``name`` of ``host``; see ``DynamicIO.of``."""
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
            full == "/" and self._admits_empty("/") and self.setups.find(full) is None
        )

    def _admits_empty(self, name: str) -> bool:
        """Whether a client's ``name`` with no setup is admitted as an empty namespace,
        as python-socketio admits it: any name with ``namespaces="*"``, and ``/``
        while the server's ``namespaces`` list it (the default)."""
        namespaces = self.sio.namespaces
        return namespaces == "*" or (name == "/" and "/" in namespaces)

    # -- CONNECTs -------------------------------------------------------------------

    async def admit(self, session: Session, name: str) -> dict[str, Any] | None:
        """Decide a client's CONNECT to ``name`` (as the client wrote it): ``None`` to
        let it through, or the error args of its CONNECT_ERROR."""
        delay = self.limits.wait(session, time.monotonic())
        if delay:
            await asyncio.sleep(delay)  # its turn (max_connects_per_second)
            if not session.is_open():
                return None  # gone meanwhile: nothing to decide (the session drops it)
        try:
            if name.startswith("//"):
                # Another host's name (or ours, spelt in full): never from a client.
                raise NamespaceRejected(name, INVALID_NAMESPACE)
            self.limits.check_session(session, name)
            await self._admit_to(session, name)
        except NamespaceRejected as exc:
            self.refused[exc.reason] += 1
            self.hooks.fire("refuse", exc.fullname, session.host, exc.reason)
            return exc.error_args
        return None

    async def _admit_to(self, session: Session, name: str) -> None:
        full = fullname(name, session.host)
        nsp = self.index.get(full, session.host)
        if nsp is None or nsp._retiring is not None:
            if nsp is None and self._passes_through(full):
                self.limits.admitted(session, full)
                if full not in self.statics and len(self.statics) < _MAX_STATICS:
                    self.statics.add(full)
                return
            if full not in self._creating and nsp is None:
                delay = self.limits.wait_to_create(session.host, time.monotonic())
                if delay:
                    await asyncio.sleep(delay)  # its turn (max_creations_per_second)
                    if not session.is_open():
                        return  # gone meanwhile (the session drops the CONNECT)
            # Until this CONNECT counts as in flight, it keeps the name occupied:
            # the new namespace must not retire before this task resumes.
            self._admitting[full] = self._admitting.get(full, 0) + 1
            try:
                nsp = await self._ensure(name, session.host, auto=True, passes=False)
            except asyncio.CancelledError:
                if cancelling():
                    raise
                # The setup was cancelled (shutdown), not this CONNECT: refuse it.
                raise NamespaceRejected(full, INVALID_NAMESPACE, "error") from None
            finally:
                self._admitting[full] -= 1
                if not self._admitting[full]:
                    del self._admitting[full]
        if not nsp.static:
            nsp.connecting(time.monotonic())
            # Connecting: it can't retire, so no wake per CONNECT (6 % of a creating
            # CONNECT's latency), only a look by the time a lost CONNECT goes stale.
            self.scheduler.watch(nsp, within=_retirement.STALE_CONNECT)
            rooms = self.sio.manager.rooms
            if full not in rooms:
                # python-socketio keys its socket table by the name it reads from the CONNECT
                # unless the table is there: a second copy of a name of up to 1,000 characters.
                rooms[nsp.fullname] = {None: bidict()}
        self.limits.admitted(session, nsp.fullname)

    async def _ensure(
        self, name: str, host: str | None, *, auto: bool, passes: bool | None = None
    ) -> DynamicNamespace:
        """The namespace object of ``name`` of ``host``, created if needed (``passes``:
        whether ``_passes_through`` its full name, if the caller just found out)."""
        full = fullname(name, host)
        while True:
            nsp = self.index.get(full, host)
            if nsp is None:
                break
            if nsp._retiring is None:
                return nsp
            await asyncio.shield(nsp._retiring)
        if full in self._creating:  # another CONNECT is creating it: wait for that one
            waiter = self._waiters.get(full)
            if waiter is None:
                waiter = self._waiters[full] = asyncio.get_running_loop().create_future()
            return await asyncio.shield(waiter)
        if passes is None:
            passes = self._passes_through(full)
        counted = not passes  # static ones are not counted
        if counted:
            if auto:  # a client's CONNECT, not server code's of()
                # Checked and counted with no await in between: concurrent first
                # CONNECTs to different names can't all slip under a limit.
                self.limits.check_new(host, full)
            self.limits.count(host, 1)
        # Created in the caller's task (a task of its own would cost a third of a
        # creation); CONNECTs to the name meanwhile wait for a future of their own.
        self._creating[full] = asyncio.current_task()
        made = False
        try:
            nsp = await self._create(name, host, full, auto, passes)
            made = not nsp.static
        except BaseException as exc:
            waiter = self._waiters.pop(full, None)
            if waiter is not None:
                if not isinstance(exc, NamespaceRejected):  # cancelled (shutdown), say
                    exc = NamespaceRejected(full, INVALID_NAMESPACE, "error")
                waiter.set_exception(exc)
                waiter.exception()  # retrieved, even if its waiters are gone
            raise
        else:
            waiter = self._waiters.pop(full, None)
            if waiter is not None:
                waiter.set_result(nsp)
            return nsp
        finally:
            del self._creating[full]
            if counted and not made:
                self.limits.count(host, -1)  # its place back

    async def _create(
        self, name: str, host: str | None, full: str, auto: bool, passes: bool
    ) -> DynamicNamespace:
        if passes:
            nsp = DynamicNamespace(self, full, None, static=True)
            self.index.add(nsp)
            return nsp
        found = self.setups.find(full)
        if found is None and auto and not self._admits_empty(name):
            raise NamespaceRejected(full, INVALID_NAMESPACE)
        setup, match = found if found else (None, None)
        nsp = DynamicNamespace(self, full, setup)
        # The main host's "/" is there from the start in python-socketio: it
        # stays unless its setup gives it a retirement.
        nsp._retirement = self.retirement if auto and full != "/" else math.inf
        if setup is not None and match is not None:
            nsp._setting_up = True
            try:
                await run_setup(nsp, setup.callback, match, self.setup_timeout, self.setup_seconds)
            finally:
                nsp._setting_up = False
        if nsp._closed:  # setup called close(): the namespace never comes to be
            raise NamespaceRejected(full, INVALID_NAMESPACE)
        nsp._install(self.setups.events)
        self.index.add(nsp)
        self.created += 1
        # (No watch: the CONNECT that asked for it does; of()'s retire only once set, which does.)
        self.hooks.fire("create", nsp)
        return nsp

    # -- retirement ---------------------------------------------------------------

    def watch(self, nsp: DynamicNamespace) -> None:
        """Have the retirement task look at ``nsp`` (created, CONNECTed, left, changed)."""
        self.scheduler.watch(nsp)

    def session_closed(self, environ: dict[str, Any]) -> None:
        """An Engine.IO session ended: look again, later, at the namespaces it was admitted
        to. A CONNECT that python-socketio handles as the session closes leaves a socket
        behind that no disconnect removes; nothing else would bring its namespace back
        to the retirement task."""
        session = session_of(environ)
        if session is None:
            return
        for full in session.admitted:
            nsp = self.index.get(full, session.host)
            if nsp is not None and not nsp.static:
                self.scheduler.recheck(nsp, _retirement.STALE_CONNECT)

    @property
    def retired(self) -> int:
        """Namespaces retired since start."""
        return self.deletion.retired

    @property
    def retirement_delay(self) -> Histogram:
        """How late after its deadline each namespace was deleted."""
        return self.deletion.retirement_delay

    async def retire(self, nsp: DynamicNamespace, *, disconnect: bool = False) -> None:
        """Delete ``nsp`` now (its ``close()``), disconnecting its sockets if asked."""
        await self.deletion.retire(nsp, disconnect=disconnect)

    async def aclose(self) -> None:
        """Stop the retirement task and any setup still running; see ``DynamicIO.aclose``."""
        tasks = [
            task
            for task in (self.scheduler.stop(), *self.deletion.tasks, *self.hooks.tasks)
            if task is not None
        ]
        loop = asyncio.get_running_loop()
        creations = [self._waiters.setdefault(f, loop.create_future()) for f in self._creating]
        for task in [*tasks, *self._creating.values()]:
            if task is not None and task is not asyncio.current_task():
                task.cancel()
        for task in tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
        if creations:  # each ends as its task takes the cancellation
            await asyncio.wait(creations, timeout=10)
