"""``DynamicIO``: the ASGI middleware."""

from __future__ import annotations

import asyncio
import gzip
import inspect
import logging
import math
import re
import time
import zlib
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

import socketio
from socketio.async_pubsub_manager import AsyncPubSubManager
from socketio.packet import Packet

from . import _retirement
from ._hosts import (
    BadHost,
    fullname,
    normalize_host,
    parse_networks,
    peer_in_networks,
    split_fullname,
)
from ._namespace import DynamicNamespace
from ._packets import CONNECT_ERROR
from ._session import INVALID_NAMESPACE, MARK_BINARY, MARK_TEXT, Connect, Session

__all__ = ["DynamicIO", "NamespaceRejected"]

logger = logging.getLogger("dynamic_io_asgi")

Scope = MutableMapping[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
SetupCallback = Callable[[DynamicNamespace, "re.Match[str]"], Any]
HostOption = str | re.Pattern[str] | bool | None

SESSION_KEY = "dynamic_io_asgi.session"
#: Engine.IO packets no client sends in a polling POST: OPEN, PING, NOOP. python-engineio
#: answers each by closing the session and then waiting, inside that POST, for a GET to
#: drain the session's queue; without one the request and the session hang for ever
#: (a closing session has no ping timeout). So they are dropped here.
_NOT_FROM_POLLING_CLIENTS = ("0", "2", "6")
_ANY = re.compile(r".*", re.S)


class NamespaceRejected(Exception):
    """``of()`` could not create a namespace: no setup matched, or setup refused it.

    :attr:`error_args` is what a client would have received in its CONNECT_ERROR.
    """

    def __init__(self, fullname: str, error_args: dict[str, Any]) -> None:
        super().__init__(f"namespace {fullname!r} rejected: {error_args.get('message')}")
        self.fullname = fullname
        self.error_args = error_args


class DynamicIO:
    """Virtual hosts and on-demand namespaces for a python-socketio ASGI app.

    :param app: the ASGI app to wrap: a ``socketio.ASGIApp`` (its server is
                found for you) or a ``socketio.AsyncServer`` (wrapped in a
                ``socketio.ASGIApp``).
    :param sio: the ``socketio.AsyncServer`` behind ``app``, when ``app`` is
                some other ASGI app that routes to it.
    :param host: the main host, whose namespaces keep their plain names.
                ``None`` or ``"*"``: every host; a string: that host; a
                compiled regex: hosts it matches (``search``); ``True``: none.
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
                          namespace is refused; ``None``: no limit.
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
        setup_timeout: float | None = None,
        templates: str | None = None,
        socketio_path: str | None = None,
    ) -> None:
        if isinstance(app, socketio.AsyncServer):
            app = socketio.ASGIApp(app)
        if not callable(app):
            raise TypeError("app: pass an ASGI app (a socketio.ASGIApp) or a socketio.AsyncServer")
        if sio is None:
            sio = getattr(app, "engineio_server", None)
            if not isinstance(sio, socketio.AsyncServer):
                raise TypeError(
                    "sio: app is not a socketio.ASGIApp; pass its socketio.AsyncServer as sio"
                )
        if not isinstance(sio, socketio.AsyncServer):
            raise TypeError("sio: must be a socketio.AsyncServer")
        if sio.async_mode != "asgi":
            raise ValueError(f"sio: async_mode must be 'asgi', not {sio.async_mode!r}")
        self.app = app
        self.sio = sio
        self._msgpack = _serializer_is_msgpack(sio.packet_class)

        path = socketio_path or getattr(app, "engineio_path", None) or "/socket.io/"
        self.socketio_path = "/" + path.strip("/") + "/"
        self.status_path = self.socketio_path + "status"

        self._is_main = _main_host_matcher(host)
        self.host = host
        self._retirement = _seconds("retirement", retirement)
        self.setup_timeout = (
            None if setup_timeout is None else _seconds("setup_timeout", setup_timeout)
        )
        if not (isinstance(public_status, bool) or callable(public_status)):
            raise TypeError("public_status: pass True, False or a callable (scope) -> bool")
        self.public_status = public_status
        if get_host is not None and not callable(get_host):
            raise TypeError("get_host: pass a callable (scope) -> str | None")
        self._get_host = get_host or self.get_host
        self.trusted_proxies = parse_networks(trusted_proxies)
        self.templates = templates

        self._exact: dict[str, tuple[SetupCallback, str]] = {}
        self._patterns: list[tuple[re.Pattern[str], SetupCallback, str]] = []
        self._namespaces: dict[str, DynamicNamespace] = {}
        self._creating: dict[str, asyncio.Future[DynamicNamespace]] = {}
        # CONNECTs waiting for a namespace to be created, by full name.
        self._admitting: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._delay: float | None = None  # how long the retirement task sleeps
        self._status: Any = None
        #: Counters for the status page: namespaces created and retired since start.
        self.created = 0
        self.retired = 0
        self.started_at = time.time()

    # -- configuration -----------------------------------------------------------

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

        def register(callback: SetupCallback) -> SetupCallback:
            if not callable(callback):
                raise TypeError("setup_namespace: callback must be callable")
            if isinstance(pattern, re.Pattern):
                self._patterns.append((pattern, callback, pattern.pattern))
            elif pattern == "*":
                self._patterns.append((_ANY, callback, "*"))
            elif isinstance(pattern, str) and pattern.startswith("/"):
                name, host = split_fullname(pattern)
                if host is not None:
                    try:
                        host = normalize_host(host)
                    except BadHost as exc:
                        raise ValueError(
                            f"setup_namespace: bad host in {pattern!r}: {exc}"
                        ) from None
                self._exact[fullname(name, host)] = (callback, pattern)
            else:
                raise ValueError(
                    "setup_namespace: pattern must be '*', a full name starting with '/'"
                    f" or a compiled regex, not {pattern!r}"
                )
            return callback

        return register if callback is None else register(callback)

    def get_host(self, scope: Scope) -> str | None:
        """The raw host of a new Engine.IO session (override in a subclass to change it).

        The ``Host`` header, or ``X-Forwarded-Host`` when the peer is one of
        ``trusted_proxies``. The result is normalised and then matched against
        ``host``; ``None`` means the main host.
        """
        hosts = [value for key, value in scope.get("headers", ()) if key.lower() == b"host"]
        if len(hosts) > 1:
            raise BadHost("several Host headers")
        if self.trusted_proxies:
            client = scope.get("client")
            if client and peer_in_networks(client[0], self.trusted_proxies):
                forwarded = [
                    v for k, v in scope.get("headers", ()) if k.lower() == b"x-forwarded-host"
                ]
                if forwarded:
                    hosts = [forwarded[0].split(b",")[0].strip()]
        if not hosts:
            return None
        try:
            return str(hosts[0].decode("utf-8"))
        except UnicodeDecodeError:
            raise BadHost("host is not UTF-8") from None

    def resolve_host(self, scope: Scope) -> str | None:
        """The normalised host of a new session, ``None`` for the main host.

        Raises :class:`~dynamic_io_asgi.BadHost` for a value that is no host name.
        """
        raw = self._get_host(scope)
        if not raw:
            return None
        host = normalize_host(raw)
        return None if self._is_main(host) else host

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
        sio = self.sio
        return (
            full in sio.handlers
            or full in sio.namespace_handlers
            or (sio.namespaces != "*" and full in sio.namespaces)
        )

    def _find_setup(self, full: str) -> tuple[SetupCallback, re.Match[str], str] | None:
        exact = self._exact.get(full)
        if exact is not None:
            match = re.match(re.escape(full), full)
            assert match is not None
            return exact[0], match, exact[1]
        for regex, callback, label in reversed(self._patterns):
            found = regex.search(full)
            if found is not None:
                return callback, found, label
        return None

    async def _admit(self, session: Session, name: str) -> dict[str, Any] | None:
        """Decide a client's CONNECT to ``name``; error args to refuse it."""
        full = fullname(name, session.host)
        nsp = self._namespaces.get(full)
        if nsp is None or nsp._retiring is not None:
            if full not in self._namespaces and self._is_static(full):
                return None
            # Until this CONNECT counts as in flight, it keeps the name occupied:
            # the new namespace must not retire before this task resumes.
            self._admitting[full] = self._admitting.get(full, 0) + 1
            try:
                nsp = await self._ensure(name, session.host, auto=True)
            except NamespaceRejected as exc:
                return exc.error_args
            finally:
                self._admitting[full] -= 1
                if not self._admitting[full]:
                    del self._admitting[full]
        if not nsp.static:
            nsp._inflight += 1
            nsp._last_connect = time.monotonic()
        return None

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
            creating = asyncio.ensure_future(self._create(name, host, full, auto=auto))
            self._creating[full] = creating
            creating.add_done_callback(lambda _: self._creating.pop(full, None))
        return await asyncio.shield(creating)

    async def _create(
        self, name: str, host: str | None, full: str, *, auto: bool
    ) -> DynamicNamespace:
        if self._is_static(full):
            nsp = DynamicNamespace(self, name, host, full, _full_match(full), None, static=True)
            self._namespaces[full] = nsp
            return nsp
        found = self._find_setup(full)
        if found is None and (auto and self.sio.namespaces != "*"):
            raise NamespaceRejected(full, INVALID_NAMESPACE)
        callback, match, label = found if found else (None, _full_match(full), None)
        nsp = DynamicNamespace(self, name, host, full, match, label)
        nsp._retirement = self._retirement if auto else math.inf
        if callback is not None:
            await self._run_setup(nsp, callback, match)
        nsp._install()
        self._namespaces[full] = nsp
        self.created += 1
        self._watch(nsp.retirement)
        return nsp

    async def _run_setup(
        self, nsp: DynamicNamespace, callback: SetupCallback, match: re.Match[str]
    ) -> None:
        try:
            result = callback(nsp, match)
            if inspect.isawaitable(result):
                result = await asyncio.wait_for(_awaitable(result), self.setup_timeout)
        except socketio.exceptions.ConnectionRefusedError as exc:
            raise NamespaceRejected(nsp.fullname, exc.error_args) from None
        except asyncio.TimeoutError:
            logger.error(
                "setup of %s took longer than %ss: refused", nsp.fullname, self.setup_timeout
            )
            raise NamespaceRejected(nsp.fullname, INVALID_NAMESPACE) from None
        except Exception:
            logger.exception("setup of %s raised: refused", nsp.fullname)
            raise NamespaceRejected(nsp.fullname, INVALID_NAMESPACE) from None
        if result is False:
            raise NamespaceRejected(nsp.fullname, INVALID_NAMESPACE)

    async def _refuse(self, session: Session, name: str, error_args: dict[str, Any]) -> None:
        """Answer a refused CONNECT with CONNECT_ERROR, in the client's own names."""
        if session.eio_sid is None:
            return
        encoded = self.sio.packet_class(CONNECT_ERROR, data=error_args, namespace=name).encode()
        marked = MARK_BINARY + encoded if isinstance(encoded, bytes) else MARK_TEXT + encoded
        try:
            await self.sio.eio.send(session.eio_sid, marked)
        except Exception:  # the session went away meanwhile
            logger.debug("could not refuse %s on %s", name, session.eio_sid, exc_info=True)

    # -- retirement ---------------------------------------------------------------

    def _watch(self, retirement: float) -> None:
        """Make sure the retirement task watches a namespace with this retirement."""
        if retirement == math.inf:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if self._task is None or self._task.done():
            self._wake = asyncio.Event()
            self._task = loop.create_task(self._retire_loop(), name="dynamic_io_asgi retirement")
        elif self._wake is not None and (
            self._delay is None or _retirement.window(retirement) / 2 < self._delay
        ):
            # Only when it would otherwise look too late: waking it for every
            # new namespace would scan them all once per creation.
            self._wake.set()

    def _occupied(self, full: str) -> bool:
        manager = self.sio.manager
        return (
            full in manager.rooms or full in manager.pending_disconnect or full in self._admitting
        )

    async def _retire_loop(self) -> None:
        assert self._wake is not None
        while True:
            due, delay = _retirement.plan(
                list(self._namespaces.values()), time.monotonic(), self._occupied
            )
            for nsp in due:
                # The retirements before it may have awaited (on_retire
                # callbacks), and a CONNECT may have come in meanwhile: look again.
                if nsp in _retirement.plan([nsp], time.monotonic(), self._occupied)[0]:
                    await self._retire(nsp)  # type: ignore[arg-type]
            self._wake.clear()
            self._delay = delay
            if delay is None:
                await self._wake.wait()
            else:
                try:
                    await asyncio.wait_for(self._wake.wait(), delay)
                except asyncio.TimeoutError:
                    pass

    async def _retire(self, nsp: DynamicNamespace, *, disconnect: bool = False) -> None:
        if nsp._retiring is not None:
            await asyncio.shield(nsp._retiring)
            return
        # New CONNECTs to this name wait for the end of the retirement, then
        # create a new namespace object.
        retiring = nsp._retiring = asyncio.get_running_loop().create_future()
        try:
            if disconnect:
                for sid in nsp.sockets:
                    await self.sio.disconnect(sid, namespace=nsp.fullname)
            for callback in nsp._retire_callbacks:
                try:
                    result = callback(nsp)
                    if inspect.isawaitable(result):
                        await result
                except Exception:
                    logger.exception("on_retire callback of %s raised", nsp.fullname)
            nsp._uninstall()
            if self._namespaces.get(nsp.fullname) is nsp:
                del self._namespaces[nsp.fullname]
            self.retired += 1
            logger.debug("retired %s", nsp.fullname)
        except BaseException:
            # Interrupted (the caller of close() was cancelled, or shutdown):
            # the namespace was not deleted, so it stays live. A done
            # _retiring on a live namespace would make _ensure() spin.
            nsp._retiring = None
            raise
        finally:
            retiring.set_result(None)

    async def aclose(self) -> None:
        """Stop the retirement task and any setup still running (lifespan shutdown
        does this for you)."""
        tasks = [task for task in (self._task, *self._creating.values()) if task is not None]
        self._task = None
        for task in tasks:
            task.cancel()
        for task in tasks:
            try:
                await task
            except (asyncio.CancelledError, NamespaceRejected):
                pass

    # -- ASGI -----------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self.app(scope, self._lifespan_receive(receive), send)
            return
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if (
            kind == "http"
            and self.public_status
            and path in (self.status_path, self.status_path + ".json")
        ):
            from ._status import serve_status

            if await serve_status(self, scope, receive, send):
                return
        if not (path if path.endswith("/") else path + "/").startswith(self.socketio_path):
            await self.app(scope, receive, send)
            return
        await self._engineio(scope, receive, send)

    def _lifespan_receive(self, receive: Receive) -> Receive:
        async def wrapped() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._start_pubsub()
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
            return message

        return wrapped

    def _start_pubsub(self) -> None:
        # A pub/sub manager subscribes on the first Engine.IO connection; until
        # then this process misses the acks of its own call()s and emits with
        # callbacks (SPEC §8). Start it now, as python-socketio would later.
        sio = self.sio
        if not sio.manager_initialized and isinstance(sio.manager, AsyncPubSubManager):
            sio.manager_initialized = True
            sio.manager.initialize()

    async def _engineio(self, scope: Scope, receive: Receive, send: Send) -> None:
        sid, jsonp = _read_query(scope.get("query_string", b""))
        if jsonp:
            await _reject(scope, receive, send, "JSONP is not supported")
            return
        if sid is None:
            try:
                host = self.resolve_host(scope)
            except BadHost as exc:
                await _reject(scope, receive, send, f"Bad host: {exc}")
                return
            session = self._new_session(host)
            scope = {**scope, SESSION_KEY: session}
        else:
            session = self._session_of(sid)
        if scope["type"] == "websocket":
            await self.app(scope, self._ws_receive(session, receive), self._ws_send(session, send))
        elif scope.get("method") == "POST":
            await self._post(session, scope, receive, send)
        elif scope.get("method") == "GET":
            await self._get(session, scope, receive, send)
        else:
            await self.app(scope, receive, send)

    def _new_session(self, host: str | None, *, known: bool = True) -> Session:
        return Session(
            host, msgpack=self._msgpack, admit=self._admit, refuse=self._refuse, known=known
        )

    def _session_of(self, sid: str) -> Session:
        environ = self.sio.environ.get(sid)
        session = environ.get("asgi.scope", {}).get(SESSION_KEY) if environ else None
        if not isinstance(session, Session):
            # Not a session of ours (or one that is closing): Engine.IO answers
            # for itself, and no Socket.IO message passes either way.
            session = self._new_session(None, known=False)
        session.eio_sid = sid
        return session

    def _ws_receive(self, session: Session, receive: Receive) -> Receive:
        async def wrapped() -> Message:
            while True:
                message = await receive()
                if message["type"] != "websocket.receive":
                    return message
                text = message.get("text")
                if text is not None:
                    key, original = "text", text
                    rewritten: Any = session.inbound_text(text)
                else:
                    key, original = "bytes", message.get("bytes")
                    if original is None:
                        return message
                    rewritten = session.inbound_binary(original)
                if type(rewritten) is Connect:
                    rewritten = await session.connect(rewritten)
                if rewritten is None:
                    continue
                if rewritten is not original:
                    message = {"type": "websocket.receive", key: rewritten}
                return message

        return wrapped

    def _ws_send(self, session: Session, send: Send) -> Send:
        async def wrapped(message: Message) -> None:
            if message["type"] == "websocket.send":
                text = message.get("text")
                if text is not None:
                    rewritten = session.outbound_text(text)
                    if rewritten is None:
                        return
                    if rewritten is not text:
                        message = {"type": "websocket.send", "text": rewritten}
                else:
                    data = message.get("bytes")
                    if data is not None:
                        rewritten_data = session.outbound_binary(data)
                        if rewritten_data is None:
                            return
                        if rewritten_data is not data:
                            message = {"type": "websocket.send", "bytes": rewritten_data}
            await send(message)

        return wrapped

    async def _post(self, session: Session, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.sio.eio.max_http_buffer_size
        body = await _read_body(receive, limit)
        if body is None:
            await _reject(scope, receive, send, "Payload too large", status=413)
            return
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            await _reject(scope, receive, send, "Body is not UTF-8")
            return
        if text.startswith("d="):
            await _reject(scope, receive, send, "JSONP is not supported")
            return
        if text:
            packets = text.split("\x1e")
            kept: list[str] = []
            for packet in packets:
                if packet[:1] in _NOT_FROM_POLLING_CLIENTS:
                    continue
                rewritten: Any = session.inbound_text(packet)
                if type(rewritten) is Connect:
                    rewritten = await session.connect(rewritten)
                if rewritten is not None:
                    kept.append(rewritten)
            if kept != packets:
                body = "\x1e".join(kept).encode("utf-8")
                headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-length"]
                headers.append((b"content-length", str(len(body)).encode()))
                scope = {**scope, "headers": headers}
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        eio_socket = self.sio.eio.sockets.get(session.eio_sid) if session.eio_sid else None
        await self.app(scope, replay, send)
        if eio_socket is not None and eio_socket.closed and not eio_socket.upgraded:
            # A client that sent CLOSE still has a long-poll GET pending, which
            # python-engineio leaves waiting for ping_interval + ping_timeout
            # (it holds the client's disconnect and the server's shutdown):
            # answer it now, as the JS engine.io server does.
            eio_socket.queue.put_nowait(None)

    async def _get(self, session: Session, scope: Scope, receive: Receive, send: Send) -> None:
        # Engine.IO would compress before we could read the packets: take the
        # client's Accept-Encoding away from it and compress the result here.
        accepted: list[str] = []
        headers = []
        for key, value in scope["headers"]:
            if key.lower() == b"accept-encoding":
                accepted += [e.split(";")[0].strip() for e in value.decode("latin-1").split(",")]
            else:
                headers.append((key, value))
        start: Message | None = None
        chunks: list[bytes] = []

        async def wrapped(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start" and message["status"] == 200:
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            original = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            body = self._rewrite_payload(session, original)
            body, encoding = self._compress(body, accepted)
            if body is original:  # python-engineio sets no Content-Length
                await send(start)
                await send(message)
                return
            response_headers = [
                (k, v)
                for k, v in start["headers"]
                if k.lower() not in (b"content-length", b"content-encoding")
            ]
            if encoding:
                response_headers.append((b"content-encoding", encoding.encode()))
            response_headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": response_headers})
            await send({"type": "http.response.body", "body": body})

        await self.app({**scope, "headers": headers}, receive, wrapped)

    @staticmethod
    def _rewrite_payload(session: Session, body: bytes) -> bytes:
        """The polling payload ``body`` for the client: ``body`` itself if unchanged."""
        packets = body.decode("utf-8").split("\x1e")
        kept = []
        for packet in packets:
            rewritten = session.outbound_text(packet)
            if rewritten is not None:
                kept.append(rewritten)
        if kept == packets:
            return body
        # An empty payload would be a parse error for the client: send a NOOP.
        return "\x1e".join(kept).encode("utf-8") if kept else b"6"

    def _compress(self, body: bytes, accepted: list[str]) -> tuple[bytes, str | None]:
        eio = self.sio.eio
        if not eio.http_compression or len(body) < eio.compression_threshold:
            return body, None
        for encoding in accepted:
            if encoding in eio.compression_methods:
                if encoding == "gzip":
                    return gzip.compress(body), encoding
                if encoding == "deflate":
                    return zlib.compress(body), encoding
        return body, None


def _read_query(query_string: bytes) -> tuple[str | None, bool]:
    """``(sid, jsonp)`` of an Engine.IO request, read as python-engineio reads them
    (``parse_qs`` of the UTF-8 query: blank values dropped, the first ``sid`` wins)."""
    try:
        text = query_string.decode("utf-8")
    except UnicodeDecodeError:
        return None, False  # python-engineio ignores such a query string too
    if "%" in text or "+" in text:
        query = parse_qs(text)
        return query.get("sid", [None])[0], "j" in query
    sid = None
    jsonp = False
    for pair in text.split("&"):
        key, _, value = pair.partition("=")
        if not value:
            continue
        if key == "sid":
            if sid is None:
                sid = value
        elif key == "j":
            jsonp = True
    return sid, jsonp


def _serializer_is_msgpack(packet_class: type) -> bool:
    if packet_class is Packet:
        return False
    try:
        from socketio.msgpack_packet import MsgPackPacket
    except ImportError:  # msgpack is not installed, so the class can't be it
        MsgPackPacket = None  # noqa: N806
    if MsgPackPacket is not None and issubclass(packet_class, MsgPackPacket):
        return True
    raise ValueError(
        f"sio: serializer {packet_class.__name__} is not supported; use the default or 'msgpack'"
    )


def _main_host_matcher(host: HostOption) -> Callable[[str], bool]:
    if host is None or host == "*":
        return lambda name: True
    if host is True:
        return lambda name: False
    if isinstance(host, re.Pattern):
        return lambda name: host.search(name) is not None
    if isinstance(host, str):
        try:
            main = normalize_host(host)
        except BadHost as exc:
            raise ValueError(f"host: {host!r} is not a host name ({exc})") from None
        return lambda name: name == main
    raise TypeError(f"host: pass None, '*', a host name, a compiled regex or True, not {host!r}")


def _seconds(option: str, value: float | None) -> float:
    if value is None:
        return math.inf
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{option}: pass a number of seconds or None, not {value!r}")
    if math.isnan(value) or value < 0:
        raise ValueError(f"{option}: must be >= 0 seconds, not {value!r}")
    return float(value)


def _full_match(full: str) -> re.Match[str]:
    match = re.match(re.escape(full), full)
    assert match is not None
    return match


async def _awaitable(value: Awaitable[Any]) -> Any:
    return await value


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or ``None`` once it passes ``limit`` bytes."""
    chunks = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(chunks)


async def _reject(
    scope: Scope, receive: Receive, send: Send, reason: str, *, status: int = 400
) -> None:
    """Refuse a request before python-socketio sees it: a plain-text HTTP error,
    or a websocket closed before it was accepted."""
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.close", "code": 1008, "reason": reason[:120]})
        return
    body = reason.encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
