"""The status page (docs/design.md §7): live namespaces, sockets and totals, as HTML or JSON.

Everything is read from live state at request time: the middleware's registry
of namespace objects, and python-socketio's own tables (``manager.rooms`` for
sockets and rooms, ``eio.sockets`` for transports, ``environ`` for peers). The
view is per process: nothing is aggregated across a pub/sub cluster.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs

import jinja2

from ._asgi import Receive, Scope, Send, authorised, respond
from ._hosts import BadHost, split_fullname
from ._namespace import DynamicNamespace
from ._registry import NamespaceRegistry
from ._session import session_of

logger = logging.getLogger("dynamic_io_asgi")

__all__ = ["StatusPage", "StatusSource", "View", "snapshot"]


class StatusSource(Protocol):
    """What the status page reads of the middleware."""

    sio: Any
    registry: NamespaceRegistry
    started_at: float
    public_status: bool | Callable[[Scope], bool | Awaitable[bool]]
    cluster: Any  #: a ``_cluster.Cluster``, or ``None`` without a Redis manager

    def resolve_host(self, scope: Scope) -> str | None:
        """The normalised host of a request (``None``: the main host); raises BadHost."""


#: Bumped when a field of the JSON document changes meaning or goes away.
SCHEMA_VERSION = 2
TEMPLATE = "status.html"
MAX_REFRESH = 3600
#: How long a status request waits for the other processes' summaries.
CLUSTER_TIMEOUT = 1.0
#: Marks a namespace that only other processes have.
REMOTE: Any = object()
#: Namespaces described on one page of the status page (``?per_page=``, at most
#: ``MAX_PER_PAGE``): its cost stays that of one page, however many are live.
PER_PAGE = 100
MAX_PER_PAGE = 1000

_PACKAGE_TEMPLATES = Path(__file__).parent / "templates"  # inside an installed wheel
_CHECKOUT_TEMPLATES = Path(__file__).parent.parent / "templates"  # in a source checkout
_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)


class StatusPage:
    """The status page of one middleware, with its jinja2 environment (built once).

    :param source: the middleware whose namespaces it shows.
    :param templates: a folder of templates that replace the page's own.
    """

    def __init__(self, source: StatusSource, templates: str | os.PathLike[str] | None) -> None:
        self.source = source
        self.environment = _environment(templates)

    async def serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a request for the status page (``public_status`` is on).

        Unauthorised: 404. Not GET/HEAD: 405. A bad Host: 400. JSON for
        ``status.json`` or ``Accept: application/json``, HTML otherwise.
        """
        await _serve(self, scope, send)

    def snapshot(self, host: str | None, view: View | None = None) -> dict[str, Any]:
        """The status document as seen from ``host``; see :func:`snapshot`."""
        return snapshot(self.source, host, view or View())


async def _serve(page: StatusPage, scope: Scope, send: Send) -> None:
    middleware = page.source
    head = scope.get("method") == "HEAD"
    if not await authorised(middleware.public_status, scope, "public_status"):
        await respond(send, 404, b"Not Found", head=head)
        return
    if scope.get("method") not in ("GET", "HEAD"):
        await respond(send, 405, b"Method Not Allowed", head=head, extra=[(b"allow", b"GET, HEAD")])
        return
    try:
        host = middleware.resolve_host(scope)
    except BadHost as exc:
        await respond(send, 400, f"Bad host: {exc}".encode(), head=head)
        return
    view = View.of(scope)
    servers, cluster_error = None, None
    cluster = middleware.cluster
    if cluster is not None and view.scope != "local":
        try:
            servers = await asyncio.wait_for(cluster.servers(), CLUSTER_TIMEOUT)
        except Exception as exc:  # Redis down or slow: this process's view
            cluster_error = f"{type(exc).__name__}: {exc}"[:200]
            logger.warning("status page: no cluster view (%s)", cluster_error)
    status = snapshot(middleware, host, view, servers)
    if cluster is not None:
        status["cluster"] = {
            "scope": "local" if servers is None else "cluster",
            "server_id": cluster.server_id,
            "error": cluster_error,
            "totals": None
            if servers is None
            else {
                "servers": len(servers),
                "healthy": sum(server["healthy"] for server in servers),
                "engineio_sessions": sum(server["engineio_sessions"] for server in servers),
                "sockets": sum(server["sockets"] for server in servers),
                "namespaces": sum(server["namespace_count"] for server in servers),
            },
        }
    fixed = scope["path"].endswith(".json")  # else the Accept header decides
    vary = [] if fixed else [(b"vary", b"accept")]
    if fixed or _wants_json(scope):
        body = json.dumps(status, indent=2).encode("utf-8")
        await respond(send, 200, body, "application/json", head=head, extra=vary)
        return
    refresh = _refresh(scope)
    html = page.environment.get_template(TEMPLATE).render(status=status, refresh=refresh)
    extra = [*vary, (b"content-security-policy", _CSP.encode())]
    await respond(send, 200, html.encode("utf-8"), "text/html", head=head, extra=extra)


@dataclass(frozen=True)
class View:
    """Which namespaces a status request asks for: a page of them, maybe filtered."""

    page: int = 1
    per_page: int = PER_PAGE
    host: str | None = None  #: only this host's (``""``: the main host's)
    search: str = ""  #: only names containing this
    scope: str = "cluster"  #: ``"local"``: this process only

    @classmethod
    def of(cls, scope: Scope) -> View:
        """``?page=N&per_page=N&host=H&q=TEXT``; values out of range fall back."""
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))

        def number(key: str, default: int, top: int) -> int:
            try:
                value = int(query.get(key, [""])[-1])
            except ValueError:
                return default
            return value if 1 <= value <= top else default

        return cls(
            page=number("page", 1, 10**9),
            per_page=number("per_page", PER_PAGE, MAX_PER_PAGE),
            host=query.get("host", [None])[-1],
            search=query.get("q", [""])[-1][:200],
            scope="local" if query.get("scope", [""])[-1] == "local" else "cluster",
        )


def snapshot(
    middleware: StatusSource,
    host: str | None,
    view: View = View(),
    servers: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The status document as seen from ``host`` (``None``: the main host, which sees all).

    The main host sees every host's namespaces by full name; another host sees
    only its own, by the short names its clients use. Only one page of
    namespaces is described (``view``); the totals count them all. The cost is
    a sort of the names in view plus the rows of one page.
    """
    registry = middleware.registry
    now, clock = time.time(), time.monotonic()
    rooms = middleware.sio.manager.rooms
    # The cluster view: per namespace, each server's socket count.
    on_servers: dict[str, dict[str, int]] = {}
    for server in servers or ():
        for full, count in server["namespaces"].items():
            on_servers.setdefault(full, {})[server["id"]] = count
    entries = _entries(middleware, host, None if servers is None else on_servers)
    sockets = sum(len(rooms.get(full, {}).get(None, ())) for _, full, _ in entries)
    total = len(entries)
    shown_entries, matching, number, pages = _page(entries, view)
    rows = []
    for (_, nsp_host, name), full, namespace in shown_entries:
        if namespace is REMOTE:
            row = _remote_namespace(full, name, nsp_host or None, on_servers[full])
        elif namespace is None:
            row = _static_namespace(middleware, full, name, nsp_host or None, host)
        else:
            row = _namespace(middleware, namespace, host, now, clock)
        if servers is not None:
            row["servers"] = on_servers.get(full, {})
        rows.append(row)
    per_host = registry.max_namespaces_per_host
    hosts = sorted({row["host"] for row in rows}, key=lambda name: (name is not None, name or ""))
    return {
        "version": SCHEMA_VERSION,
        "host": host,
        "generated_at": round(now, 3),
        "totals": {
            "engineio_sessions": _sessions(middleware, host),
            "namespaces": total,
            "sockets": sockets,
            "created": registry.created,
            "retired": registry.retired,
            "uptime": round(now - middleware.started_at, 3),
            "refused": dict(registry.refused),
        },
        "limits": {
            "max_name_length": registry.max_name_length,
            "max_namespaces_per_session": registry.max_namespaces_per_session,
            "max_namespaces_per_host": per_host,
            "max_namespaces": registry.max_namespaces,
        },
        "hosts": [
            {"host": name, "namespaces": registry.host_count(name), "limit": per_host}
            for name in hosts
        ],
        "page": {
            "number": number,
            "per_page": view.per_page,
            "pages": pages,
            "namespaces": matching,
            "host": view.host,
            "q": view.search,
        },
        "namespaces": rows,
        **(
            {}
            if servers is None
            else {
                "servers": [
                    {
                        key: value
                        for key, value in server.items()
                        if key not in ("namespaces", "namespace_count")
                    }
                    | {
                        "namespaces": server.get("namespace_count", len(server["namespaces"])),
                        "namespace_details": len(server["namespaces"])
                        == server.get("namespace_count", len(server["namespaces"])),
                    }
                    for server in servers
                ]
            }
        ),
    }


#: A namespace in view: ``((not the main host, host, name shown), full name, what)``, where
#: ``what`` is its ``DynamicNamespace``, ``None`` for a static one, or ``REMOTE``.
Entry = tuple[tuple[bool, str, str], str, Any]


def _entries(
    middleware: StatusSource, host: str | None, on_servers: dict[str, dict[str, int]] | None
) -> list[Entry]:
    """Every namespace in the view of ``host``, unsorted: the namespace objects, the
    static namespaces that clients reached (handlers registered on the server
    directly), and with ``on_servers`` those that only other processes have."""
    namespaces = middleware.registry.namespaces
    entries: list[Entry] = []
    for full, nsp in namespaces.items():
        if host is None or nsp.host == host:
            name = full if host is None else nsp.name
            entries.append(((nsp.host is not None, nsp.host or "", name), full, nsp))
    seen = set(namespaces)
    others: list[tuple[str, Any]] = [(full, None) for full in list(middleware.sio.manager.rooms)]
    others += [(full, REMOTE) for full in on_servers or ()]
    for full, what in others:
        if full in seen or not isinstance(full, str):
            continue
        seen.add(full)
        name, nsp_host = split_fullname(full)
        if host is None or nsp_host == host:
            shown = full if host is None else name
            entries.append(((nsp_host is not None, nsp_host or "", shown), full, what))
    return entries


def _page(entries: list[Entry], view: View) -> tuple[list[Entry], int, int, int]:
    """The entries of the page ``view`` asks for, sorted, after its filters; and how many
    matched, the page's number and the number of pages."""
    if view.host is not None:
        wanted = view.host or None  # "" is the main host
        entries = [entry for entry in entries if (entry[0][1] or None) == wanted]
    if view.search:
        entries = [entry for entry in entries if view.search in entry[0][2]]
    pages = max(1, -(-len(entries) // view.per_page))
    number = min(view.page, pages)
    start = (number - 1) * view.per_page
    page = sorted(entries, key=lambda entry: entry[0])[start : start + view.per_page]
    return page, len(entries), number, pages


def _remote_namespace(
    full: str, name: str, host: str | None, counts: dict[str, int]
) -> dict[str, Any]:
    """A namespace only other processes have: what their summaries say of it."""
    return {
        "name": name,
        "host": host,
        "pattern": None,
        "static": False,
        "age": None,
        "retirement": None,
        "retires_in": None,
        "socket_count": sum(counts.values()),
        "sockets": [],
    }


def _namespace(
    middleware: StatusSource, nsp: DynamicNamespace, view: str | None, now: float, clock: float
) -> dict[str, Any]:
    sockets = _sockets(middleware, nsp.fullname)
    retirement = None if nsp.static or nsp.retirement == math.inf else nsp.retirement
    return {
        "name": nsp.fullname if view is None else nsp.name,
        "host": nsp.host,
        "pattern": nsp.pattern,
        "static": nsp.static,
        "age": round(max(0.0, now - nsp.created_at), 3),
        "retirement": retirement,
        "retires_in": None if sockets or retirement is None else _retires_in(nsp, clock),
        "socket_count": len(sockets),
        "sockets": sockets,
    }


def _static_namespace(
    middleware: StatusSource, full: str, name: str, host: str | None, view: str | None
) -> dict[str, Any]:
    sockets = _sockets(middleware, full)
    return {
        "name": full if view is None else name,
        "host": host,
        "pattern": None,
        "static": True,
        "age": None,
        "retirement": None,
        "retires_in": None,
        "socket_count": len(sockets),
        "sockets": sockets,
    }


def _retires_in(nsp: DynamicNamespace, clock: float) -> float | None:
    """Seconds left on an empty namespace's idle clock, as the retirement task sees it.

    ``None`` until that task has looked at it since it became empty (it looks
    every ``max(0.05 s, 5 % of retirement)``, at most every 5 s), or while a
    CONNECT to it is in flight.
    """
    idle_since = nsp._idle_since
    if idle_since is None or nsp._inflight or nsp._last_connect >= idle_since:
        return None
    return round(max(0.0, idle_since + nsp.retirement - clock), 3)


def _sockets(middleware: StatusSource, full: str) -> list[dict[str, Any]]:
    sio = middleware.sio
    rooms: dict[Any, Any] = dict(sio.manager.rooms.get(full, {}))
    connected = dict(rooms.get(None, {}))  # sid -> eio_sid
    joined: dict[str, list[str]] = {sid: [] for sid in connected}
    for room, members in rooms.items():
        if room is None:
            continue
        for sid in list(members):
            if sid != room and sid in joined:
                joined[sid].append(str(room))
    result = []
    for sid, eio_sid in connected.items():
        environ = sio.environ.get(eio_sid) or {}
        eio_socket = sio.eio.sockets.get(eio_sid)
        transport = None
        if eio_socket is not None:
            transport = "websocket" if eio_socket.upgraded else "polling"
        result.append(
            {
                "sid": sid,
                "remote_address": _address(environ.get("asgi.scope", {}).get("client")),
                "transport": transport,
                "rooms": sorted(joined[sid]),
            }
        )
    return result


def _sessions(middleware: StatusSource, host: str | None) -> int:
    """Engine.IO sessions in view: all of them for the main host, else the host's own."""
    sio = middleware.sio
    if host is None:
        return len(sio.eio.sockets)
    count = 0
    for eio_sid in list(sio.eio.sockets):
        session = session_of(sio.environ.get(eio_sid) or {})
        if getattr(session, "host", None) == host:
            count += 1
    return count


def _address(client: Any) -> str | None:
    """``host:port`` of an ASGI ``client`` pair (``[v6]:port`` for IPv6)."""
    if not client:
        return None
    address, port = client[0], client[1]
    if ":" in str(address):
        address = f"[{address}]"
    return f"{address}:{port}"


def _wants_json(scope: Scope) -> bool:
    """Whether ``Accept`` names ``application/json`` at least as strongly as ``text/html``."""
    quality = {"application/json": 0.0, "text/html": 0.0}
    for key, value in scope.get("headers", ()):
        if key.lower() != b"accept":
            continue
        for item in value.decode("latin-1").split(","):
            media, *params = (part.strip() for part in item.split(";"))
            if media.lower() not in quality:
                continue
            q = 1.0
            for param in params:
                name, _, number = param.partition("=")
                if name.strip().lower() == "q":
                    try:
                        q = float(number)
                    except ValueError:
                        q = 0.0
            quality[media.lower()] = max(quality[media.lower()], q)
    return quality["application/json"] > 0 and quality["application/json"] >= quality["text/html"]


def _refresh(scope: Scope) -> int | None:
    """``?refresh=N``: reload the page every N seconds (1 to 3600)."""
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    try:
        seconds = int(query.get("refresh", [""])[-1])
    except ValueError:
        return None
    return seconds if 1 <= seconds <= MAX_REFRESH else None


def _environment(templates: str | os.PathLike[str] | None) -> jinja2.Environment:
    """The jinja2 environment of a status page: ``templates`` first, then the page's own."""
    ours = _PACKAGE_TEMPLATES if _PACKAGE_TEMPLATES.is_dir() else _CHECKOUT_TEMPLATES
    loaders: list[jinja2.BaseLoader] = []
    if templates is not None:
        loaders.append(jinja2.FileSystemLoader(os.fspath(templates)))
    loaders.append(jinja2.FileSystemLoader(str(ours)))
    # A user's status.html can {% extends "dynamic_io_asgi/status.html" %}.
    loaders.append(jinja2.PrefixLoader({"dynamic_io_asgi": jinja2.FileSystemLoader(str(ours))}))
    environment = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    environment.filters["duration"] = duration
    environment.filters["utc"] = utc
    return environment


def duration(seconds: float | None) -> str:
    """A short human duration: ``"4.2 s"``, ``"42 s"``, ``"3 min 05 s"``, ``"2 min"``,
    ``"2 h 07 min"``, ``"3 d 04 h"``; ``"–"`` for ``None``."""
    if seconds is None:
        return "–"
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = int(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return _units(whole // 60, "min", whole % 60, "s")
    if whole < 86400:
        return _units(whole // 3600, "h", whole % 3600 // 60, "min")
    return _units(whole // 86400, "d", whole % 86400 // 3600, "h")


def _units(big: int, big_unit: str, small: int, small_unit: str) -> str:
    return f"{big} {big_unit}" + (f" {small:02d} {small_unit}" if small else "")


def utc(epoch: float) -> str:
    """``"2025-01-31 12:00:00 UTC"`` for a ``time.time()`` value."""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))
