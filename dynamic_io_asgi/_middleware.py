"""``DynamicIO``: the ASGI middleware. It resolves each Engine.IO session's host and
hands its requests to the transports (``_websocket``, ``_polling``, ``_longpoll``); its
parts keep the namespaces (``app.registry``) and serve the status page (``app.status_page``)."""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, Iterable
from functools import partial
from typing import Any

import socketio

from . import _options
from ._admin import live_server_stats
from ._asgi import Receive, Scope, Send, lifespan_receive, read_query, reject
from ._cluster import cluster_for, start_pubsub
from ._compression import take_compression
from ._hooks import Hook
from ._hosts import BadHost, parse_networks, raw_host, resolve
from ._limits import Limits
from ._longpoll import get
from ._metrics import MetricsCollector, MetricsEndpoint
from ._namespace import DynamicNamespace
from ._options import HostOption
from ._polling import post, take_body_limit
from ._registry import NamespaceRegistry
from ._session import SESSION_KEY, Session
from ._setup import NamespaceRejected, SetupCallback
from ._status import StatusPage
from ._websocket import ws_receive, ws_send
from ._wire import Wire, on_session_closed

__all__ = ["DynamicIO", "NamespaceRejected"]

#: ``resolve_host``'s default ``default``: raise.
_RAISE: Any = object()


class DynamicIO:
    """Virtual hosts and on-demand namespaces for a python-socketio ASGI app.

    :param app: the ASGI app to wrap: a ``socketio.ASGIApp`` (its server is
                found for you) or a ``socketio.AsyncServer`` (wrapped in a
                ``socketio.ASGIApp``).
    :param sio: the ``socketio.AsyncServer`` behind ``app``, when ``app`` is
                some other ASGI app that routes to it.
    :param host: the main host, whose namespaces keep their plain names.
                ``None`` or ``"*"``: every host; a string: that host; a
                collection of strings: each of those hosts; a compiled
                regex: hosts it matches (``search``); ``True``: none (and a
                request without a ``Host`` is refused with a 400).
    :param retirement: seconds an auto-created namespace stays once empty;
                       ``None`` or ``math.inf``: for ever.
    :param public_status: serve the status page: ``False``, ``True`` or a
                          callable ``(scope) -> bool`` (may be async) that
                          authorises each request.
    :param get_host: a callable ``(scope) -> str | None`` giving the raw host
                     of a new session (default: :meth:`get_host`).
    :param trusted_proxies: addresses or networks whose ``X-Forwarded-Host``
                            is believed.
    :param setup_timeout: seconds a setup callback may take before the
                          namespace is refused (more than 0); ``None``: no limit.
    :param max_name_length: the longest namespace name (characters) a client
                            may ask for; ``None``: no limit.
    :param max_namespaces_per_session: how many namespaces one Engine.IO
                                       session may have connected or
                                       connecting at once; ``None``: no limit.
    :param max_namespaces_per_host: how many namespace objects one host may
                                    have; ``None`` (default): no limit.
    :param max_namespaces: the same for the process; ``None`` (default): no limit.
    :param max_connects_per_second: how many CONNECTs one Engine.IO session may send
                                    a second, on average, after a burst of twice as
                                    many; faster ones wait their turn. ``None``: no limit.
    :param max_creations_per_second: the same for the namespaces one host creates;
                                     ``None`` (default): no limit.
    :param metrics: serve Prometheus metrics at ``<socketio_path>metrics``:
                    ``False``, ``True`` or a callable ``(scope) -> bool`` (may be
                    async) that authorises each request; needs ``prometheus_client``.
    :param templates: a folder of jinja2 templates that replace the status
                      page's own.
    :param socketio_path: the Engine.IO path, when ``app`` does not tell it.
    """

    def __init__(
        self,
        app: Any,
        sio: socketio.AsyncServer | None = None,
        *,
        host: HostOption = None,
        retirement: float | None = 10.0,
        public_status: bool | Callable[[Scope], bool | Awaitable[bool]] = False,
        get_host: Callable[[Scope], str | None] | None = None,
        trusted_proxies: Iterable[str] = (),
        setup_timeout: float | None = 10.0,
        templates: str | None = None,
        socketio_path: str | None = None,
        max_name_length: int | None = 1024,
        max_namespaces_per_session: int | None = 128,
        max_namespaces_per_host: int | None = None,
        max_namespaces: int | None = None,
        max_connects_per_second: float | None = 64,
        max_creations_per_second: float | None = None,
        metrics: bool | Callable[[Scope], bool | Awaitable[bool]] = False,
    ) -> None:
        self.app, self.sio = app, sio = _options.app_and_server(app, sio)
        self.socketio_path = socketio_path = _options.socketio_path(socketio_path, app)
        self._socketio_root = socketio_path[:-1]  # "/socket.io"
        self.status_path = socketio_path + "status"
        self._status_paths = (self.status_path, self.status_path + ".json")
        self.metrics_path = socketio_path + "metrics"
        self._is_main = _options.main_host_matcher(host)
        #: Whether no host is the main host (``host=True``): then a request must name one.
        self._no_main_host = host is True
        self.host = host
        limits = Limits(
            sio.manager,
            **_options.limits(
                max_name_length=max_name_length,
                max_namespaces_per_session=max_namespaces_per_session,
                max_namespaces_per_host=max_namespaces_per_host,
                max_namespaces=max_namespaces,
                max_connects_per_second=max_connects_per_second,
                max_creations_per_second=max_creations_per_second,
            ),
        )
        #: The namespace objects, their setup, limits and retirement.
        self.registry = NamespaceRegistry(
            sio,
            retirement=_options.seconds("retirement", retirement),
            setup_timeout=_options.setup_timeout(setup_timeout),
            is_main=self._is_main,
            limits=limits,
        )
        self.public_status = _options.switch("public_status", public_status)
        self.metrics = _options.metrics(metrics)
        if get_host is not None and not callable(get_host):
            raise TypeError("get_host: pass a callable (scope) -> str | None")
        self._get_host = get_host or self.get_host
        self.trusted_proxies = parse_networks(trusted_proxies)
        self.templates = _options.templates_folder(templates)
        self.started_at = time.time()
        #: The cluster view of the status page, with python-socketio's Redis manager.
        self.cluster = cluster_for(self)
        self._start_pubsub = partial(start_pubsub, sio, self.cluster)
        #: The status page (served while ``public_status`` says so).
        self.status_page = StatusPage(self, self.templates)
        self.metrics_endpoint = MetricsEndpoint(self)
        # Last, so that a bad option leaves the server as it was: python-engineio
        # would compress polling responses before they could be rewritten, so
        # the middleware takes compression over (docs/deployment/middleware.md)
        # and compresses after the rewrite, with the server's settings.
        self._compression = take_compression(sio.eio)
        #: The most bytes a client may send in one polling body or websocket
        #: message: the server's ``max_http_buffer_size``, taken over.
        self.max_payload = take_body_limit(sio.eio)
        on_session_closed(sio, self.registry.session_closed)
        self._wire = Wire.of_server(
            sio,
            admit=self.registry.admit,
            msgpack=_options.serializer_is_msgpack(sio.packet_class),
            max_payload=self.max_payload,
        )

    setup_timeout = _options.KeptBy("registry")
    max_name_length = _options.KeptBy("registry", "limits")
    max_namespaces_per_session = _options.KeptBy("registry", "limits")
    max_namespaces_per_host = _options.KeptBy("registry", "limits")
    max_namespaces = _options.KeptBy("registry", "limits")
    max_connects_per_second = _options.KeptBy("registry", "limits")
    max_creations_per_second = _options.KeptBy("registry", "limits")

    # -- namespaces (the registry's) ------------------------------------------------

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
        return self.registry.setup_namespace(pattern, callback)

    @property
    def namespaces(self) -> dict[str, DynamicNamespace]:
        """The live namespace objects by full name (a copy)."""
        return self.registry.namespaces

    async def of(self, name: str, host: str | None = None) -> DynamicNamespace:
        """The namespace ``name`` of ``host`` (``None``: the main host), created and set up
        if needed. ``name`` may also be a full name (``"//host/chat"``).

        A namespace created here never retires unless its ``retirement`` is set.
        Raises :class:`NamespaceRejected` when its setup refuses it.
        """
        return await self.registry.of(name, host)

    async def aclose(self) -> None:
        """Stop the retirement task and any setup still running (lifespan shutdown
        does this for you)."""
        await self.registry.aclose()
        if self.cluster is not None:
            await self.cluster.aclose()

    def on_create(self, callback: Hook) -> Hook:
        """Call ``callback(nsp)`` (sync or async; a decorator) for every namespace created,
        once its setup succeeded and before the CONNECT that asked for it goes on."""
        return self.registry.hooks.add("create", callback)

    def on_retire(self, callback: Hook) -> Hook:
        """Call ``callback(nsp)`` (sync or async; a decorator) for every namespace
        deleted, after its own ``on_retire`` callbacks."""
        return self.registry.hooks.add("retire", callback)

    def on_refuse(self, callback: Hook) -> Hook:
        """Call ``callback(fullname, host, reason)`` (sync or async; a decorator) for
        every CONNECT refused: ``reason`` is ``"invalid"``, ``"rejected"``, ``"error"``,
        ``"limit"`` or ``"timeout"``. A hook that raises is logged and changes nothing;
        an async one runs in a task of its own."""
        return self.registry.hooks.add("refuse", callback)

    @property
    def created(self) -> int:
        """Namespaces created since start."""
        return self.registry.created

    @property
    def retired(self) -> int:
        """Namespaces retired since start."""
        return self.registry.retired

    @property
    def refused(self) -> dict[str, int]:
        """CONNECTs refused since start, by reason (a copy)."""
        return dict(self.registry.refused)

    # -- hosts ----------------------------------------------------------------------

    def get_host(self, scope: Scope) -> str | None:
        """The raw host of a new Engine.IO session (override in a subclass to change it).

        The ``Host`` header, or ``X-Forwarded-Host`` when the peer is one of
        ``trusted_proxies``. The result is normalised and then matched against
        ``host``; ``None`` means the main host.
        """
        return raw_host(scope, self.trusted_proxies)

    def resolve_host(self, scope: Scope, default: Any = _RAISE) -> str | None:
        """The normalised host of a request, ``None`` for the main host.

        Raises :class:`~dynamic_io_asgi.BadHost` for a value that is no host
        name (and, with ``host=True``, for a request that names no host),
        unless ``default`` is given: then that is returned instead. Web routes
        should pass one (``app.resolve_host(request.scope, default=None)``),
        so that a bad ``Host`` can't turn into a 500.
        """
        try:
            return resolve(self._get_host(scope), self._is_main, required=self._no_main_host)
        except BadHost:
            if default is _RAISE:
                raise
            result: str | None = default
            return result

    # -- ASGI -----------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The hot path: every polling request of a session comes through here,
        # so the common case is a few dict lookups and one call into a transport.
        kind = scope["type"]
        if kind == "lifespan":
            await self.app(scope, lifespan_receive(receive, self._start_pubsub, self.aclose), send)
            return
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        socketio_path = self.socketio_path
        if not (
            path == socketio_path  # the common case, checked first
            or path.startswith(socketio_path)
            or path == self._socketio_root
        ):
            await self.app(scope, receive, send)
            return
        if self.public_status and kind == "http" and path in self._status_paths:
            await self.status_page.serve(scope, receive, send)
            return
        if self.metrics and kind == "http" and path == self.metrics_path:
            await self.metrics_endpoint.serve(scope, send)
            return
        sid, jsonp = read_query(scope.get("query_string", b""))
        if jsonp:
            await reject(scope, receive, send, "JSONP is not supported")
            return
        if sid is None:  # a handshake: a new session, whose host is chosen now
            opened = await self._open_session(scope, receive, send)
            if opened is None:
                return
            session, scope = opened
        else:
            try:
                session = self.sio.environ[sid]["asgi.scope"][SESSION_KEY]
            except KeyError:
                session = Session.unknown(sid, self._wire)
        if kind == "websocket":
            await self.app(scope, ws_receive(session, receive), ws_send(session, send))
            return
        method = scope["method"]
        if method == "POST":
            message = await receive()
            await post(self.app, self.sio, session, scope, receive, send, message)
        elif method == "GET":
            await get(self.app, self.sio, session, scope, receive, send, self._compression)
        else:
            await self.app(scope, receive, send)

    def instrument(self, **options: Any) -> Any:
        """``sio.instrument(**options)`` for the Socket.IO Admin UI, with a dashboard that
        lists every live namespace (python-socketio lists those of the first
        connection only). Call it before serving, as ``sio.instrument()``; returns
        what that returns. Its namespace (``/admin``) is the main host's: a tenant
        asking for ``/admin`` gets its own ``//host/admin``."""
        return live_server_stats(self.sio.instrument(**options))

    def metrics_collector(self) -> MetricsCollector:
        """A ``prometheus_client`` collector of this middleware, for the application's
        own registry: ``prometheus_client.REGISTRY.register(app.metrics_collector())``."""
        return MetricsCollector(self)

    async def _open_session(
        self, scope: Scope, receive: Receive, send: Send
    ) -> tuple[Session, Scope] | None:
        """The session of a handshake and the scope that carries it; ``None`` once
        the request is refused for a bad host."""
        try:
            host = self.resolve_host(scope)
        except BadHost as exc:
            await reject(scope, receive, send, f"Bad host: {exc}")
            return None
        session = Session(host, self._wire)
        # Servers that send no lifespan events (daphne) start it here instead.
        self._start_pubsub()
        return session, {**scope, SESSION_KEY: session}
