"""The status document (docs/concepts/status-page.md): live namespaces, sockets and
totals as seen from one host, one page at a time.

Everything is read from live state at request time: the middleware's registry
of namespace objects, python-socketio's own tables (``manager.rooms`` for
sockets and rooms, ``eio.sockets`` for transports, ``environ`` for peers) and,
in a cluster, the other processes' summaries (:mod:`._cluster`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qs

from ._asgi import Scope
from ._hosts import split_fullname
from ._namespace import DynamicNamespace
from ._registry import NamespaceRegistry
from ._session import session_of

__all__ = ["REMOTE", "SCHEMA_VERSION", "StatusSource", "View", "snapshot"]

#: Bumped when a field of the JSON document changes meaning or goes away.
SCHEMA_VERSION = 2
#: Marks a namespace that only other processes have.
REMOTE: Any = object()
#: Namespaces described on one page of the status page (``?per_page=``, at most
#: ``MAX_PER_PAGE``): its cost stays that of one page, however many are live.
PER_PAGE = 100
MAX_PER_PAGE = 1000


class StatusSource(Protocol):
    """What the status page reads of the middleware."""

    sio: Any
    registry: NamespaceRegistry
    started_at: float
    public_status: bool | Callable[[Scope], bool | Awaitable[bool]]
    cluster: Any  #: a ``_cluster.Cluster``, or ``None`` without a Redis manager

    def resolve_host(self, scope: Scope) -> str | None:
        """The normalised host of a request (``None``: the main host); raises BadHost."""


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
    a sort of the names in view plus the rows of one page. ``servers``: the
    cluster's summaries (:mod:`._cluster`), for the cluster view.
    """
    registry = middleware.registry
    now = time.time()
    on_servers = _on_servers(servers)
    shown, matching, number, pages, in_view = _select(
        middleware, host, view, None if servers is None else on_servers
    )
    sockets = _socket_count(middleware, host)
    rows = _rows(middleware, shown, host, on_servers if servers is not None else None, now)
    per_host = registry.limits.max_namespaces_per_host
    hosts = sorted({row["host"] for row in rows}, key=lambda name: (name is not None, name or ""))
    status = {
        "version": SCHEMA_VERSION,
        "host": host,
        "generated_at": round(now, 3),
        "totals": {
            "engineio_sessions": _sessions(middleware, host),
            "namespaces": in_view,
            "sockets": sockets,
            "created": registry.created,
            "retired": registry.retired,
            "uptime": round(now - middleware.started_at, 3),
            "refused": dict(registry.refused),
        },
        "limits": registry.limits.as_dict(),
        "hosts": [
            {"host": name, "namespaces": registry.limits.host_count(name), "limit": per_host}
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
    }
    if servers is not None:
        status["servers"] = [_server(summary) for summary in servers]
    return status


def _socket_count(middleware: StatusSource, host: str | None) -> int:
    """The sockets in view of ``host``: all of them for the main host."""
    rooms, registry = middleware.sio.manager.rooms, middleware.registry
    if host is None:
        return sum(len(table.get(None, ())) for table in list(rooms.values()))
    statics = [full for full in registry.statics if split_fullname(full)[1] == host]
    return sum(
        len(rooms.get(full, {}).get(None, ())) for full in [*registry.of_host(host), *statics]
    )


def _on_servers(servers: list[dict[str, Any]] | None) -> dict[str, dict[str, int]]:
    """The cluster view: per namespace, each server's socket count."""
    on_servers: dict[str, dict[str, int]] = {}
    for server in servers or ():
        for full, count in server["namespaces"].items():
            on_servers.setdefault(full, {})[server["id"]] = count
    return on_servers


def _rows(
    middleware: StatusSource,
    shown: list[Entry],
    host: str | None,
    on_servers: dict[str, dict[str, int]] | None,
    now: float,
) -> list[dict[str, Any]]:
    """The rows of the namespaces shown (with where each lives, in the cluster view)."""
    clock = time.monotonic()
    rows = []
    for (_, nsp_host, name), full, namespace in shown:
        if namespace is REMOTE:
            assert on_servers is not None
            row = _remote_namespace(full, name, nsp_host or None, on_servers[full])
        elif namespace is None:
            row = _static_namespace(middleware, full, name, nsp_host or None, host)
        else:
            row = _namespace(middleware, namespace, host, now, clock)
        if on_servers is not None:
            row["servers"] = on_servers.get(full, {})
        rows.append(row)
    return rows


def _server(summary: dict[str, Any]) -> dict[str, Any]:
    """A server of the cluster view: its summary, with its namespace count (and whether
    its summary names every one of them) in place of the names."""
    count = summary.get("namespace_count", len(summary["namespaces"]))
    server = {
        key: value for key, value in summary.items() if key not in ("namespaces", "namespace_count")
    }
    server["namespaces"] = count
    server["namespace_details"] = len(summary["namespaces"]) == count
    return server


#: A namespace in view: ``((not the main host, host, name shown), full name, what)``, where
#: ``what`` is its ``DynamicNamespace``, ``None`` for a static one, or ``REMOTE``.
Entry = tuple[tuple[bool, str, str], str, Any]


def _select(
    middleware: StatusSource,
    host: str | None,
    view: View,
    on_servers: dict[str, dict[str, int]] | None,
) -> tuple[list[Entry], int, int, int, int]:
    """The page of namespaces ``view`` asks for in the view of ``host``, sorted; and how
    many are in view, how many matched the filters, the page's number and the number
    of pages.

    In view: the namespace objects, the static namespaces that clients reached
    (handlers registered on the server directly) while they have sockets, and with
    ``on_servers`` those that only other processes have. The cost is that of the
    hosts and of the namespaces of the hosts on the page (or, with ``?q=``, a scan
    of the names), not a sort of everything."""
    registry = middleware.registry
    extra = _others(middleware, on_servers)
    if host is not None:  # a tenant sees its own host (and ?host= can only narrow that)
        wanted: list[str | None] = [host] if view.host in (None, host) else []
    elif view.host is not None:
        wanted = [view.host or None]  # "" is the main host
    else:
        wanted = sorted({*registry.hosts(), *extra}, key=_host_key)
    if host is None:
        in_view = len(registry.namespaces) + sum(map(len, extra.values()))
    else:
        in_view = len(registry.of_host(host)) + len(extra.get(host, ()))
    if view.search:
        entries = [
            entry
            for one in wanted
            for entry in _host_entries(registry, one, host, extra, view.search)
        ]
        entries.sort(key=_entry_key)
        return (*_slice(len(entries), view, lambda start, end: entries[start:end]), in_view)
    sizes = [len(registry.of_host(one)) + len(extra.get(one, ())) for one in wanted]

    def cut(start: int, end: int) -> list[Entry]:
        page: list[Entry] = []
        offset = 0
        for one, size in zip(wanted, sizes, strict=True):
            if offset < end and offset + size > start:
                entries = sorted(_host_entries(registry, one, host, extra), key=_entry_key)
                page += entries[max(0, start - offset) : end - offset]
            offset += size
        return page

    return (*_slice(sum(sizes), view, cut), in_view)


def _slice(
    matching: int, view: View, cut: Callable[[int, int], list[Entry]]
) -> tuple[list[Entry], int, int, int]:
    """``cut(start, end)`` of the page ``view`` asks for among ``matching`` entries; and
    how many matched, the page's number and the number of pages."""
    pages = max(1, -(-matching // view.per_page))
    number = min(view.page, pages)
    start = (number - 1) * view.per_page
    return cut(start, start + view.per_page), matching, number, pages


def _host_key(host: str | None) -> tuple[bool, str]:
    return host is not None, host or ""


def _entry_key(entry: Entry) -> tuple[bool, str, str]:
    return entry[0]


def _host_entries(
    registry: NamespaceRegistry,
    one: str | None,
    view_host: str | None,
    extra: dict[str | None, list[tuple[str, Any]]],
    search: str = "",
) -> list[Entry]:
    """The entries of host ``one``, unsorted, as seen from ``view_host`` (only those
    whose shown name contains ``search``)."""
    key_host = (one is not None, one or "")
    entries: list[Entry] = []
    for full, what in [*registry.of_host(one).items(), *extra.get(one, ())]:
        shown = full if view_host is None else split_fullname(full)[0]
        if search in shown:
            entries.append(((*key_host, shown), full, what))
    return entries


def _others(
    middleware: StatusSource, on_servers: dict[str, dict[str, int]] | None
) -> dict[str | None, list[tuple[str, Any]]]:
    """By host: the static namespaces with sockets, and those only other processes have."""
    registry, rooms = middleware.registry, middleware.sio.manager.rooms
    found: dict[str | None, list[tuple[str, Any]]] = {}
    seen: set[str] = set()
    candidates: list[tuple[str, Any]] = [
        (full, None) for full in list(registry.statics) if rooms.get(full, {}).get(None)
    ]
    candidates += [(full, REMOTE) for full in on_servers or ()]
    for full, what in candidates:
        if full in seen or registry.of_host(split_fullname(full)[1]).get(full) is not None:
            continue
        seen.add(full)
        found.setdefault(split_fullname(full)[1], []).append((full, what))
    return found


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
    left = nsp.clock.retires_in(nsp.retirement, clock)
    return None if left is None else round(left, 3)


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
