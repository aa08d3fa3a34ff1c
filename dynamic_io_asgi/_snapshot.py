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
from typing import Any, Protocol

from ._asgi import Scope
from ._hosts import split_fullname
from ._namespace import DynamicNamespace
from ._paging import REMOTE, Entry, View, select
from ._registry import NamespaceRegistry
from ._session import session_of

__all__ = ["SCHEMA_VERSION", "StatusSource", "snapshot"]

#: Bumped when a field of the JSON document changes meaning or goes away.
SCHEMA_VERSION = 2


class StatusSource(Protocol):
    """What the status page reads of the middleware."""

    sio: Any
    registry: NamespaceRegistry
    started_at: float
    public_status: bool | Callable[[Scope], bool | Awaitable[bool]]
    cluster: Any  #: a ``_cluster.Cluster``, or ``None`` without a Redis manager

    def resolve_host(self, scope: Scope) -> str | None:
        """The normalised host of a request (``None``: the main host); raises BadHost."""


def snapshot(
    middleware: StatusSource,
    host: str | None,
    view: View | None = None,
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
    view = view or View()
    now = time.time()
    on_servers = _on_servers(servers)
    shown, matching, number, pages, in_view = select(
        registry, middleware.sio.manager.rooms, host, view, None if servers is None else on_servers
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
        len(rooms.get(full, {}).get(None, ())) for full in [*registry.index.of_host(host), *statics]
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
